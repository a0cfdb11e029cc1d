"""The pinned load generator, run for real through the Job's own driver and command line against
an in-process OpenAI-compatible streaming server with injected delays: the report must
recover those delays.

What is asserted is the measurement of delays this test injects, never the speed of the
project's code. The bounds are wide on purpose: the machine may be small and busy. The tool
lives in .venv-bench (`make venv-bench`); without it these tests skip, unless
BENCH_REQUIRED is set (the CI job that builds .venv-bench sets it), when they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench import driver, tool
from bench.results import BenchError, write_run
from bench.runner import BENCH_VENV, draw_plots, now, record, run_local
from bench.spec import BenchSpec, Target
from bench.workloads import WORKLOADS, Workload

pytestmark = pytest.mark.skipif(
    not (BENCH_VENV / "bin" / tool.NAME).exists() and not os.environ.get("BENCH_REQUIRED"),
    reason=f"the pinned load generator ({tool.NAME}=={tool.VERSION}) lives in .venv-bench, which is missing: "
    "`make venv-bench` creates it (about 2 minutes; kept out of `make test`'s install budget)",
)

TTFT_S = 0.200  # injected time to first token
ITL_S = 0.020  # injected gap between tokens
OUTPUT_TOKENS = 16
CONCURRENCY = (1, 4)
# Tolerances on what the tool reports, in ms. Below: a measured delay cannot be shorter than
# the one injected (less timer granularity). Above: room for a loaded 2-core machine.
TTFT_MS = (TTFT_S * 1000 - 5, TTFT_S * 1000 + 150)
ITL_MS = (ITL_S * 1000 - 1, ITL_S * 1000 + 15)
E2E_MS = ((TTFT_S + (OUTPUT_TOKENS - 1) * ITL_S) * 1000 - 10, (TTFT_S + (OUTPUT_TOKENS - 1) * ITL_S) * 1000 + 400)
WORDS = ["tok", "the", "a", "of", "and", "to", "in", "is", "it", "that", "for", "on", "with", "as", "at", "by"]


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeOpenAI)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[dict] = []
        self.authorizations: list[str | None] = []
        # When set, requests without `Authorization: Bearer <key>` are refused, as LiteLLM and Tyk do.
        self.key: str | None = None

    def handle_error(self, request: object, client_address: object) -> None:
        # The tool closes kept-alive connections when a step ends; that is not a failure.
        pass

    def enter(self, body: dict) -> None:
        with self.lock:
            self.requests.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1


class FakeOpenAI(BaseHTTPRequestHandler):
    """/v1/chat/completions, streamed as vLLM does: role+content chunks, then a usage chunk."""

    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, *_: object) -> None:
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

    def _event(self, payload: dict | str) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        data = f"data: {text}\n\n".encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.server.authorizations.append(self.headers.get("Authorization"))
        if self.server.key and self.headers.get("Authorization") != f"Bearer {self.server.key}":
            self._json(401, {"error": "invalid key"})
            return
        if self.path != "/v1/chat/completions" or not body.get("stream"):
            self._json(404, {"error": f"the fake serves streamed chat completions only, not {self.path}"})
            return
        self.server.enter(body)
        try:
            tokens = int(body.get("max_completion_tokens") or body.get("max_tokens") or OUTPUT_TOKENS)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
            time.sleep(TTFT_S)
            for i in range(tokens):
                if i:
                    time.sleep(ITL_S)
                delta = {"content": f" {WORDS[i % len(WORDS)]}"} | ({"role": "assistant"} if i == 0 else {})
                self._event(chunk | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            usage = {"prompt_tokens": 8, "completion_tokens": tokens, "total_tokens": 8 + tokens}
            self._event(chunk | {"choices": [], "usage": usage})
            self._event("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        finally:
            self.server.leave()


def write_tokenizer(folder: Path) -> str:
    """A tiny word-level tokenizer the tool loads from disk: no hub, no network."""
    folder.mkdir()
    vocab = {"[UNK]": 0} | {w: i + 1 for i, w in enumerate(WORDS)}
    special = {"id": 0, "content": "[UNK]", "single_word": False, "lstrip": False, "rstrip": False}
    spec = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [special | {"normalized": False, "special": True}],
        "normalizer": None, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"},
    }  # fmt: skip
    (folder / "tokenizer.json").write_text(json.dumps(spec))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]", "model_max_length": 100000}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return str(folder)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    thread = threading.Thread(target=fake.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.shutdown()
    fake.server_close()


@pytest.fixture(scope="module")
def run(server: FakeServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One sweep, two steps of a few seconds each, through the same driver and flags as the Job."""
    work = tmp_path_factory.mktemp("bench")
    target = Target("direct", f"http://127.0.0.1:{server.server_address[1]}", "fake")
    workload = Workload("chat", "chat", "text", input_tokens=32, output_tokens=OUTPUT_TOKENS)
    spec = BenchSpec(steps=CONCURRENCY, step_seconds=3, grace_seconds=5, warmup_requests=2)
    started = now()
    steps, code = run_local(target, workload, spec, write_tokenizer(work / "tokenizer"), work, timeout_s=300)
    folder = write_run(work / "run", record("test", target, workload, spec, started, steps, code))
    return folder, json.loads((folder / "results.json").read_text())


def test_report_recovers_the_injected_delays(run):
    _, rec = run
    assert rec["exit_code"] == 0
    assert [s["load"] for s in rec["steps"]] == list(CONCURRENCY)
    for step in rec["steps"]:
        for key, (low, high) in (("ttft_ms", TTFT_MS), ("itl_ms", ITL_MS), ("e2e_ms", E2E_MS)):
            assert low <= step[key]["p50"] <= high, f"concurrency {step['load']}: {key} p50 {step[key]['p50']:.1f}"
            assert step[key]["p50"] <= step[key]["p90"] <= step[key]["p99"]
        assert step["error_rate"] == 0 and step["requests"] > 0


def test_throughput_follows_concurrency_and_tokens(run, server):
    _, rec = run
    one, four = rec["steps"]
    # The fake's latency does not depend on load, so four streams serve about four times one's.
    assert 2.5 <= four["requests_per_s"] / one["requests_per_s"] <= 4.5
    for step in rec["steps"]:
        assert step["output_tokens_per_s"] == pytest.approx(step["requests_per_s"] * OUTPUT_TOKENS, rel=0.15)
    assert server.max_in_flight == max(CONCURRENCY)
    # The flags reached the server: streamed, with usage, exactly OUTPUT_TOKENS long.
    sent = server.requests[-1]
    assert sent["stream"] is True and sent["stream_options"]["include_usage"] is True
    assert sent["ignore_eos"] is True and sent["min_tokens"] == OUTPUT_TOKENS


def test_plots_are_drawn(run, tmp_path):
    folder, _ = run
    paths = [Path(p) for p in draw_plots([folder, folder], tmp_path)]
    assert sorted(p.name for p in paths) == ["latency.png", "throughput.png"]
    for path in paths:
        header = path.read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", header[16:24])
        assert width > 500 and height > 300


TENANT_KEY = "sk-tenant-key-9f2c1a-never-in-logs"


def make_tls(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1, as the layer's CA issues them
    (ECDSA P-256, the extensions Python's strict verification asks for)."""
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
            "-out", "ca.crt", "-days", "2", "-subj", "/CN=bench test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "tls.key",
            "-out", "tls.csr", "-subj", "/CN=127.0.0.1")
    (folder / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "tls.crt", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip
    return folder / "ca.crt", folder / "tls.crt", folder / "tls.key"


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[FakeServer, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl makes the test CA")
    ca, cert, key = make_tls(tmp_path)
    fake = FakeServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    fake.socket = context.wrap_socket(fake.socket, server_side=True)
    fake.key = TENANT_KEY
    thread = threading.Thread(target=fake.serve_forever, daemon=True)
    thread.start()
    yield fake, ca
    fake.shutdown()
    fake.server_close()


def _tls_run(server: FakeServer, work: Path) -> tuple[list[dict], int]:
    target = Target("edge", f"https://127.0.0.1:{server.server_address[1]}", "fake")
    workload = Workload("chat", "chat", "text", input_tokens=32, output_tokens=OUTPUT_TOKENS)
    spec = BenchSpec(steps=(2,), step_seconds=2, grace_seconds=5, warmup_requests=1)
    return run_local(target, workload, spec, write_tokenizer(work / "tokenizer"), work, timeout_s=300)


def test_a_tenant_hop_over_tls_sends_the_key_and_trusts_the_ca_without_leaking_the_key(
    tls_server, tmp_path, monkeypatch
):
    """What the Job does for hops litellm and edge: the key from a file, the layer's CA added."""
    server, ca = tls_server
    key_file = tmp_path / "api-key"
    key_file.write_text(TENANT_KEY)
    monkeypatch.setenv(driver.API_KEY_FILE_ENV, str(key_file))
    monkeypatch.setenv(driver.CA_FILE_ENV, str(ca))
    work = tmp_path / "work"
    work.mkdir()
    steps, code = _tls_run(server, work)
    assert code == 0 and steps[0]["requests"] > 0 and steps[0]["error_rate"] == 0
    assert set(server.authorizations) == {f"Bearer {TENANT_KEY}"}
    # Nothing the runner keeps holds the key: the tool's console (the pod log) and the run folder.
    log = (work / "tool.log").read_text()
    assert "--api-key" in log and TENANT_KEY not in log  # the tool echoes its command line, redacted
    folder = write_run(work / "run", record("test", Target("edge", "u", "fake"), WORKLOADS["chat"],
                                           BenchSpec(), now(), steps, code, "t"))  # fmt: skip
    # Nor does the tool write it into any artifact of its own (in the Job, the pod's emptyDir).
    for path in [*folder.rglob("*"), *(work / "tool").rglob("*")]:
        if path.is_file():
            assert TENANT_KEY.encode() not in path.read_bytes(), path


def test_without_the_ca_the_tool_refuses_the_certificate(tls_server, tmp_path, monkeypatch):
    """Verification is on: a certificate from a CA the tool was not given fails every request."""
    server, _ = tls_server
    key_file = tmp_path / "api-key"
    key_file.write_text(TENANT_KEY)
    monkeypatch.setenv(driver.API_KEY_FILE_ENV, str(key_file))
    monkeypatch.delenv(driver.CA_FILE_ENV, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    try:
        steps, code = _tls_run(server, work)
    except BenchError:
        steps, code = [], 1  # no step exported at all
    assert server.authorizations == []  # no request got through the handshake
    assert code != 0 or all(s["error_rate"] == 1 for s in steps)
