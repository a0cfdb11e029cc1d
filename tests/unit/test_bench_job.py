"""The benchmark Job: planned from each stack's models, strictly valid, locked down, aimed at
the Service the stack renders; hops and workloads that cannot run are refused up front."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bench import tool
from bench.job import DRIVER, RESULTS_DIR, BenchJob, deadline_seconds, render_job, render_objects
from bench.runner import default_tokenizer, plan, stack_config
from bench.spec import BenchSpec, pods_target
from bench.workloads import WORKLOADS, for_model
from tests.conftest import rendered
from tooling.conformance import Conformance
from tooling.program import stack_files, stack_name

STARTED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CONFORMANCE = Conformance(k8s_version="1.33.0")


def stack_models() -> list[tuple[str, str, str]]:
    """(stack, model, hop) for every text model of every stack file: its pods where engine vllm
    renders their Service, else the first gateway hop the stack has for it."""
    cases = []
    for path in stack_files():
        _, cfg = stack_config(str(path))
        for model in (m for m in cfg.models if m.task == "text"):
            if model.engine == "vllm":
                cases.append((str(path), model.name, "pods"))
                continue
            for hop in ("pool", "litellm"):
                try:
                    plan(str(path), model.name, BenchSpec(hop=hop, tokenizer="builtin"), STARTED)
                except ValueError:
                    continue
                cases.append((str(path), model.name, hop))
                break
    return cases


@pytest.mark.parametrize(
    ("stack", "model", "hop"), stack_models(), ids=lambda v: stack_name(Path(v)) if "/" in v else v
)
def test_job_for_every_stack_model_is_strictly_valid(stack, model, hop):
    tokenizer = None if hop == "pods" else "builtin"  # a gated tokenizer's Secret stays in the serving namespace
    for workload in ("chat", "shared-prefix", "long-context"):
        spec = BenchSpec(workload=workload, steps=(1, 2, 4), hop=hop, tokenizer=tokenizer)
        for obj in render_objects(plan(stack, model, spec, STARTED)):
            assert CONFORMANCE.validate(obj) == [], f"{stack} {model} {hop} {workload} {obj['kind']}"


def test_job_targets_the_service_the_stack_renders():
    job = plan("local", None, BenchSpec(), STARTED)
    _, cfg = stack_config("local")
    objects = rendered("local")
    service = next(o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == cfg.models[0].name)
    port = service["spec"]["ports"][0]["port"]
    name, namespace = service["metadata"]["name"], service["metadata"]["namespace"]
    # local's Gateway reaches its model servers over TLS: so does the benchmark.
    assert service["spec"]["ports"][0]["name"] == "https"
    assert job.target.url == f"https://{name}.{namespace}.svc.cluster.local:{port}"
    assert job.namespace == namespace  # the model's NetworkPolicy admits its own namespace
    assert job.target.model == cfg.models[0].name  # vLLM's --served-model-name


def test_nothing_may_reach_the_benchmark_pod():
    policy, *_, job = render_objects(plan("local", None, BenchSpec(), STARTED))
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= pod_labels.items() and selector["app.kubernetes.io/instance"] == job["metadata"]["name"]
    assert policy["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in policy["spec"]
    assert policy["metadata"]["namespace"] == job["metadata"]["namespace"]


def test_job_is_locked_down_and_runs_once():
    job = render_job(plan("local", None, BenchSpec(), STARTED))
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"} == pod["securityContext"]["seccompProfile"]
    assert sc["runAsUser"] >= 10000 and pod["securityContext"]["runAsNonRoot"]
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never"
    assert set(container["resources"]["requests"]) == set(container["resources"]["limits"]) == {"cpu", "memory"}
    assert job["spec"]["backoffLimit"] == 0
    # Everything the tool writes has a writable mount: the root filesystem is read-only.
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    env = {e["name"]: e["value"] for e in container["env"]}
    for path in (env["HOME"], env["HF_HOME"], env["TIKTOKEN_CACHE_DIR"], env["MPLCONFIGDIR"], RESULTS_DIR):
        assert any(path == m or path.startswith(m + "/") for m in mounted), path
    assert container["image"] == tool.IMAGE and tool.VERSION in tool.IMAGE


def test_job_runs_the_driver_and_the_tool_command_line():
    planned = plan("local", None, BenchSpec(steps=(1, 4, 16), step_seconds=30), STARTED)
    container = render_job(planned)["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-c", DRIVER.read_text()]
    assert container["args"][:4] == [RESULTS_DIR, "--", "aiperf", "profile"]
    args = container["args"][3:]
    assert args[args.index("--concurrency") + 1] == "1,4,16"
    assert args[args.index("--benchmark-duration") + 1] == "30"
    assert args[args.index("--tokenizer") + 1] == "Qwen/Qwen2.5-0.5B-Instruct"
    assert args[args.index("--artifact-dir") + 1] == RESULTS_DIR
    assert "--streaming" in args
    # The Job outlives every step with room to spare, but not forever.
    assert 3 * 30 < deadline_seconds(planned.spec) < 3 * 30 + 3600


def test_gated_tokenizer_reads_the_model_token_as_a_file():
    planned = plan("local", None, BenchSpec(), STARTED)
    pod = render_job(replace(planned, hf_token_secret="hf-token"))["spec"]["template"]["spec"]
    assert {"name": "hf-token", "secret": {"secretName": "hf-token", "defaultMode": 0o400}} in pod["volumes"]
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["HF_TOKEN_PATH"].startswith("/var/run/secrets/huggingface/")
    assert "HF_TOKEN" not in env
    assert CONFORMANCE.validate(render_job(replace(planned, hf_token_secret="hf-token"))) == []


def test_job_is_created_suspended_and_its_policies_are_owned_by_it():
    from bench.job import owned_by

    *policies, job = render_objects(plan("local", None, BenchSpec(hop="litellm"), STARTED))
    assert job["spec"]["suspend"] is True  # the runner resumes it once its policies exist
    created = {**job, "metadata": {**job["metadata"], "uid": "0b7e-uid"}}
    for policy in owned_by(policies, created):
        (owner,) = policy["metadata"]["ownerReferences"]
        assert owner == {"apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"], "uid": "0b7e-uid"}
        assert CONFORMANCE.validate(policy) == []
    assert all("ownerReferences" not in p["metadata"] for p in policies)  # owned_by copies


def test_job_names_fit_a_label_value():
    from bench.runner import job_name

    assert job_name("qwen25-05b", "pods", STARTED) == "bench-qwen25-05b-pods-20260102030405"
    longest = job_name("m" * 62 + "x", "litellm", STARTED)
    assert len(longest) == 63 and longest.endswith("-litellm-20260102030405")
    assert "--" not in job_name("a" * 33 + "-b" * 15, "litellm", STARTED)


def test_unknown_model_and_bad_steps_are_refused():
    with pytest.raises(ValueError, match="has no model 'nope'; its models: qwen25-05b"):
        plan("local", "nope", BenchSpec(), STARTED)
    with pytest.raises(ValueError, match="whole numbers"):
        plan("local", None, BenchSpec(steps=(1.5,)), STARTED)
    with pytest.raises(ValueError, match="strictly increasing"):
        BenchSpec(steps=(4, 2))
    with pytest.raises(ValueError, match="Extra inputs"):
        BenchSpec(hops="pods")


def test_workloads_fit_the_model_or_are_refused():
    with pytest.raises(ValueError, match="needs a model with task 'embedding'"):
        for_model("embeddings", "text", 4096)
    with pytest.raises(ValueError, match="needs a model with task 'text'"):
        for_model("chat", "embedding", 512)
    with pytest.raises(ValueError, match="needs 1280 tokens of context; the model allows 1024"):
        for_model("shared-prefix", "text", 1024)
    long = for_model("long-context", "text", 4096)
    assert long.context_tokens <= 4096 and long.input_tokens > 2 * WORKLOADS["chat"].input_tokens


def test_embeddings_and_request_rate_command_lines():
    target = pods_target("emb", "inference", 8000)
    embeddings = tool.profile_args(
        target, for_model("embeddings", "embedding", 512), BenchSpec(mode="rate", steps=(0.5, 2)), "builtin", "/r"
    )
    assert embeddings[embeddings.index("--endpoint-type") + 1] == "embeddings"
    assert embeddings[embeddings.index("--request-rate") + 1] == "0.5,2"
    assert "--streaming" not in embeddings and "--concurrency" not in embeddings
    cold = tool.profile_args(target, WORKLOADS["chat"], BenchSpec(warmup_requests=0), "t", "/r")
    assert "--warmup-request-count" not in cold  # the tool refuses 0
    prefix = tool.profile_args(target, WORKLOADS["shared-prefix"], BenchSpec(), "t", "/r")
    assert prefix[prefix.index("--warmup-request-count") + 1] == "4"
    assert prefix[prefix.index("--prompt-prefix-pool-size") + 1] == "8"
    assert prefix[prefix.index("--prompt-prefix-length") + 1] == "1024"


def test_tokenizer_defaults_to_the_served_model():
    assert default_tokenizer("hf://Qwen/Qwen2.5-7B-Instruct") == "Qwen/Qwen2.5-7B-Instruct"
    assert default_tokenizer("s3://bucket/qwen") == "builtin"
    job = BenchJob("n", "ns", "s", "m", pods_target("m", "ns", 1), WORKLOADS["chat"], BenchSpec(), "t")
    assert job.image == tool.IMAGE


def test_cli_renders_the_job_and_refuses_with_the_reason(capsys):
    from bench.__main__ import main

    assert main(["render", "local", "--steps", "1,2", "--workload", "long-context"]) == 0
    objects = list(yaml.safe_load_all(capsys.readouterr().out))
    # The bench pod's own policy, and the model's pods admitting it (a pooled model admits the
    # Gateway, its EPP and Prometheus only).
    assert [o["kind"] for o in objects] == ["NetworkPolicy", "NetworkPolicy", "Job"]
    assert all(CONFORMANCE.validate(o) == [] for o in objects)
    assert main(["render", "local", "--hop", "edge", "--tenant", "local", "--steps", "1"]) == 0
    objects = list(yaml.safe_load_all(capsys.readouterr().out))
    assert objects[-1]["metadata"]["annotations"]["inference-platform/tenant"] == "local"
    assert main(["render", "dev", "--hop", "edge"]) == 2
    assert "hop 'edge' cannot benchmark model 'qwen25-7b': it needs the llm-gateway layer" in capsys.readouterr().err
    assert main(["render", "local", "--workload", "embeddings"]) == 2
    assert "needs a model with task 'embedding'" in capsys.readouterr().err
