"""End to end on kind: `local` comes up, Argo CD reports every Application Synced and
Healthy, the model answers a chat completion, short benchmark Jobs measure it (its pods, and
through the tenant edge), a second
preview shows no change, and destroy removes the cluster. Opt-in (E2E=1); needs Docker,
kind, kubectl and the Pulumi CLI.

Pulumi runs from a scratch copy of the project (the tracked stack file is never written) and
everything it prints is redacted (tests/e2e/local_stack.py).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.local_stack import Redactor, bring_up, open_stack, redacted_errors, tear_down, why_not_runnable

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SYNC_TIMEOUT_S = int(os.environ.get("E2E_SYNC_TIMEOUT", "2400"))


@pytest.fixture(scope="module")
def log() -> Redactor:
    return Redactor()


@pytest.fixture(scope="module")
def local_stack(log: Redactor) -> Iterator[tuple[object, Path, dict]]:
    reason = why_not_runnable()
    if reason:
        pytest.skip(reason)
    scratch = Path(tempfile.mkdtemp(prefix="inference-platform-e2e-"))
    try:
        stack = open_stack(ROOT, scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    kubeconfig = scratch / "kubeconfig"
    try:
        outputs = bring_up(stack, kubeconfig, log)
        yield stack, kubeconfig, outputs
    finally:
        tear_down(stack, scratch, log)


def kubectl(kubeconfig: Path, *args: str) -> str:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args], check=True, capture_output=True, text=True
    ).stdout


def unhealthy_applications(kubeconfig: Path) -> dict[str, str]:
    apps = json.loads(kubectl(kubeconfig, "-n", "argocd", "get", "applications", "-o", "json"))["items"]
    state = {
        a["metadata"]["name"]: f"{a.get('status', {}).get('sync', {}).get('status')}/"
        f"{a.get('status', {}).get('health', {}).get('status')}"
        for a in apps
    }
    return {name: s for name, s in state.items() if s != "Synced/Healthy"} if state else {"<none>": "no Applications"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_application_synced_and_healthy(local_stack):
    _, kubeconfig, _ = local_stack
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    pending = unhealthy_applications(kubeconfig)
    while pending and time.monotonic() < deadline:
        time.sleep(15)
        pending = unhealthy_applications(kubeconfig)
    assert pending == {}, f"not Synced/Healthy after {SYNC_TIMEOUT_S}s: {pending}"


def layer_ca(kubeconfig: Path, directory: Path) -> Path:
    """The llm-gateway layer's CA certificate (the ca.crt of Secret llm-gateway-ca), as a file."""
    secret = json.loads(kubectl(kubeconfig, "-n", "llm-gateway", "get", "secret", "llm-gateway-ca", "-o", "json"))
    path = directory / "llm-gateway-ca.crt"
    path.write_bytes(base64.b64decode(secret["data"]["ca.crt"]))
    return path


def post_tls(port: int, host: str, ca: Path, path: str, body: bytes, headers: dict[str, str]) -> dict:
    """POST over TLS to a port-forward on localhost, verifying the certificate for `host` (the
    Service's name it was issued for) against `ca`; errors as urllib's HTTPError."""
    context = ssl.create_default_context(cafile=str(ca))
    connection = http.client.HTTPSConnection(host, port, context=context, timeout=120)
    raw = socket.create_connection(("127.0.0.1", port), timeout=120)
    try:
        connection.sock = context.wrap_socket(raw, server_hostname=host)
    except OSError:
        raw.close()
        raise
    try:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        data = response.read()
        if response.status >= 400:
            raise urllib.error.HTTPError(f"https://{host}{path}", response.status, response.reason, response.msg, None)
        return json.loads(data)
    finally:
        connection.close()


def chat_through(
    kubeconfig: Path, namespace: str, service: str, target: int, model: str, key: str = "", ca: Path | None = None
) -> dict:
    """One chat completion through a port-forward to `service`, retried while it comes up; over
    TLS verified against `ca` when given."""
    port = free_port()
    forward = subprocess.Popen(
        ["kubectl", "--kubeconfig", str(kubeconfig), "-n", namespace, "port-forward", f"svc/{service}",
         f"{port}:{target}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16})
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    request = urllib.request.Request(url, data=body.encode(), headers=headers)
    try:
        for _ in range(30):
            try:
                if ca is not None:
                    host = f"{service}.{namespace}.svc"
                    return post_tls(port, host, ca, "/v1/chat/completions", body.encode(), headers)
                with urllib.request.urlopen(request, timeout=120) as response:
                    return json.load(response)
            except urllib.error.HTTPError as err:
                if err.code < 500:
                    raise  # an answer (a refusal), not a hop still coming up
                time.sleep(2)
            except ssl.SSLCertVerificationError:
                # Also an answer: the hop serves a certificate the CA does not vouch for (an
                # OSError too, which would otherwise be retried as a hop still coming up).
                raise
            except OSError:
                time.sleep(2)
        pytest.fail(f"no answer through svc/{service} in {namespace}")
    finally:
        forward.terminate()


def test_model_answers_a_chat_completion(local_stack):
    _, kubeconfig, outputs = local_stack
    model = outputs["models"].value[0]
    answer = chat_through(kubeconfig, "inference", model, 8000, model)
    assert answer["choices"][0]["message"]["content"].strip()


def test_tenant_calls_through_the_whole_request_path(local_stack, tmp_path):
    """Tyk (tenant key) -> LiteLLM (budget) -> Gateway + endpoint picker -> vLLM, over TLS
    verified against the layer's CA; a call without a key is refused at the edge."""
    _, kubeconfig, outputs = local_stack
    ca = layer_ca(kubeconfig, tmp_path)
    model, tenant = outputs["models"].value[0], outputs["tenants"].value[0]
    secret = json.loads(kubectl(kubeconfig, "-n", "llm-gateway", "get", "secret", f"tenant-{tenant}-key", "-o", "json"))
    key = base64.b64decode(secret["data"]["key"]).decode()
    answer = chat_through(kubeconfig, "llm-gateway", "tyk-gateway", 8080, model, key, ca)
    assert answer["choices"][0]["message"]["content"].strip()
    with pytest.raises(urllib.error.HTTPError) as refused:
        chat_through(kubeconfig, "llm-gateway", "tyk-gateway", 8080, model, "not-a-key", ca)
    assert refused.value.code in (401, 403)


def test_short_bench_against_the_local_model(local_stack, tmp_path):
    """One short benchmark Job against the model's pods: results come back for every step."""
    from bench.cluster import Kubectl
    from bench.results import load_run
    from bench.runner import now, plan, run_in_cluster
    from bench.spec import BenchSpec

    _, kubeconfig, outputs = local_stack
    started = now()
    spec = BenchSpec(steps=(1, 2), step_seconds=15, warmup_requests=1)
    job = plan("local", outputs["models"].value[0], spec, started)
    folder = run_in_cluster(job, Kubectl(kubeconfig=str(kubeconfig)), tmp_path, started)
    steps = load_run(folder)["steps"]
    assert [s["load"] for s in steps] == [1, 2]
    for step in steps:
        assert step["requests"] > 0 and step["error_rate"] == 0
        assert step["ttft_ms"]["p50"] > 0 and step["output_tokens_per_s"] > 0


def test_short_bench_through_the_tenant_edge(local_stack, tmp_path):
    """One short benchmark Job through the whole path (Tyk over TLS with the tenant's key, LiteLLM,
    the Gateway): results come back, nothing the runner keeps holds the key, nothing is left."""
    from bench.cluster import Kubectl
    from bench.results import load_run
    from bench.runner import now, plan, run_in_cluster
    from bench.spec import BenchSpec

    _, kubeconfig, outputs = local_stack
    model, tenant = outputs["models"].value[0], outputs["tenants"].value[0]
    started = now()
    # Concurrency 1: the local tenant's limits (5 requests/s at Tyk, 60 a minute at LiteLLM) hold.
    spec = BenchSpec(hop="edge", tenant=tenant, steps=(1,), step_seconds=15, warmup_requests=1)
    job = plan("local", model, spec, started)
    folder = run_in_cluster(job, Kubectl(kubeconfig=str(kubeconfig)), tmp_path, started)
    run = load_run(folder)
    assert run["hop"] == "edge" and run["tenant"] == tenant and run["target"].startswith("https://")
    (step,) = run["steps"]
    assert step["requests"] > 0 and step["error_rate"] == 0 and step["ttft_ms"]["p50"] > 0
    secret = json.loads(kubectl(kubeconfig, "-n", "llm-gateway", "get", "secret", f"tenant-{tenant}-key", "-o", "json"))
    key = base64.b64decode(secret["data"]["key"])
    assert all(key not in f.read_bytes() for f in folder.rglob("*") if f.is_file())
    left = kubectl(kubeconfig, "-n", "llm-gateway", "get", "jobs,networkpolicies", "-o", "name",
                   "-l", f"app.kubernetes.io/instance={job.name}")  # fmt: skip
    assert left.strip() == ""


def test_second_preview_has_no_changes(local_stack, log):
    stack, _, _ = local_stack
    with redacted_errors(log):
        preview = stack.preview(color="never", on_output=log, on_error=log)
    changes = {op: n for op, n in preview.change_summary.items() if op != "same" and n}
    assert changes == {}, f"a second preview wants changes: {changes}"
