"""The load generator: AIPerf, pinned. Its command line is built here and its per-step export
read here, so the Job and a local run (tests, port-forward) go through the same code.

Flags and export fields are those of AIPerf 0.13.0 (`aiperf profile --help`, and
`profile_export_aiperf.json` with schema_version 1.4).
"""

from __future__ import annotations

from typing import Any

from bench import driver
from bench.spec import BenchSpec, Target
from bench.workloads import Workload

NAME = "aiperf"
VERSION = "0.13.0"
# The tool's own release image: the tag AIPerf itself pins for `aiperf kube`.
IMAGE = f"nvcr.io/nvidia/aiperf:{VERSION}"
# Worker processes: AIPerf sizes them from the host's CPU count, not the container's limit;
# two async workers hold hundreds of streams, and the Job's CPU limit is sized for them.
WORKERS = 2
EXPORT_FILE = driver.EXPORT_FILE  # the per-step export the driver prints
PERCENTILES = ("p50", "p90", "p99")
# Our metric name -> the export's.
LATENCIES = {"ttft_ms": "time_to_first_token", "itl_ms": "inter_token_latency", "e2e_ms": "request_latency"}


def _number(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def profile_args(
    target: Target, workload: Workload, spec: BenchSpec, tokenizer: str, artifact_dir: str
) -> list[str]:
    """`aiperf profile ...` for one run: every step of the sweep in one invocation."""
    steps = ",".join(_number(v) for v in spec.step_values())
    args = [
        "profile",
        "--model", target.model,
        "--url", target.url,
        "--endpoint-type", workload.endpoint,
        "--tokenizer", tokenizer,
        "--synthetic-input-tokens-mean", str(workload.input_tokens),
        "--synthetic-input-tokens-stddev", "0",
        "--concurrency" if spec.mode == "concurrency" else "--request-rate", steps,
        "--benchmark-duration", str(spec.step_seconds),
        "--benchmark-grace-period", str(spec.grace_seconds),
        "--random-seed", str(spec.seed),
        "--workers-max", str(WORKERS),
        "--artifact-dir", artifact_dir,
        "--ui-type", "none",
    ]  # fmt: skip
    if spec.warmup_requests:  # the tool refuses a count of 0: no flag is no warm-up
        args += ["--warmup-request-count", str(spec.warmup_requests)]
    if workload.streaming:
        args += [
            "--streaming",
            "--output-tokens-mean", str(workload.output_tokens),
            "--output-tokens-stddev", "0",
            # Count tokens as the server does (stream usage), not by re-tokenising the answer.
            "--use-server-token-count",
            # vLLM sampling params: every answer is exactly output_tokens long, so steps compare.
            "--extra-inputs", "ignore_eos:true",
            "--extra-inputs", f"min_tokens:{workload.output_tokens}",
        ]  # fmt: skip
    if workload.prefix_pool:
        args += [
            "--prompt-prefix-pool-size", str(workload.prefix_pool),
            "--prompt-prefix-length", str(workload.prefix_tokens),
        ]  # fmt: skip
    return args


def _load_value(export: dict[str, Any], fallback: float | None) -> float | None:
    """The step's concurrency or rate: the sweep variation's value, else the only one asked for."""
    values = (export.get("run_info") or {}).get("variation_values") or {}
    for value in values.values():
        if isinstance(value, int | float):
            return value
    return fallback


def _avg(export: dict[str, Any], key: str) -> float | None:
    metric = export.get(key)
    return metric.get("avg") if isinstance(metric, dict) else None


def step_metrics(export: dict[str, Any], fallback_load: float | None = None) -> dict[str, Any]:
    """One step of our report from one AIPerf export: latencies in ms, rates per second.

    Metrics a workload does not have (TTFT and ITL for embeddings) are None.
    """
    step: dict[str, Any] = {"load": _load_value(export, fallback_load)}
    for ours, theirs in LATENCIES.items():
        metric = export.get(theirs)
        step[ours] = {p: metric.get(p) for p in PERCENTILES} if isinstance(metric, dict) else None
    error_pct = _avg(export, "request_error_rate")
    step["output_tokens_per_s"] = _avg(export, "output_token_throughput")
    step["requests_per_s"] = _avg(export, "request_throughput")
    step["error_rate"] = None if error_pct is None else error_pct / 100
    step["requests"] = _avg(export, "request_count")
    step["errors"] = [
        {"code": e.get("error_details", {}).get("code"), "count": e.get("count")}
        for e in export.get("error_summary") or []
    ]
    step["duration_s"] = _avg(export, "benchmark_duration")
    return step
