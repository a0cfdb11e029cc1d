"""A run's results: read back from the driver's output, written as JSON and Markdown, compared.

Plain data only; plots are drawn by bench/plots.py in the benchmark's own virtualenv.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import tool
from bench.driver import DONE_MARK, STEP_MARK

RESULTS_FILE = "results.json"
SUMMARY_FILE = "summary.md"


class BenchError(Exception):
    """A benchmark that did not produce results; the message says what to look at."""


def parse_driver_output(text: str, steps: list[int | float]) -> tuple[list[dict[str, Any]], int]:
    """The steps (ordered by load) and exit code from the driver's marked lines.

    Other lines (the tool's console, kubelet noise) are ignored. With a single step the tool
    writes no per-step folder, so that step's load is the one that was asked for.
    """
    found: list[dict[str, Any]] = []
    exit_code: int | None = None
    for line in text.splitlines():
        if line.startswith(STEP_MARK):
            record = json.loads(line[len(STEP_MARK):])
            found.append(tool.step_metrics(record["export"], steps[0] if len(steps) == 1 else None))
        elif line.startswith(DONE_MARK):
            exit_code = json.loads(line[len(DONE_MARK):])["exit_code"]
    if exit_code is None:
        raise BenchError("the benchmark's output ends before it finished (no completion line): see its log")
    if exit_code != 0 and not found:
        raise BenchError(f"the load generator exited with {exit_code} and wrote no results: see its log")
    missing = [s for s in found if s["load"] is None]
    if missing:
        raise BenchError(f"{len(missing)} step(s) carry no concurrency or rate")
    return sorted(found, key=lambda s: s["load"]), exit_code


def run_dir_name(stack: str, model: str, hop: str, started: datetime) -> str:
    return f"{stack}-{model}-{hop}-{started.strftime('%Y%m%dT%H%M%SZ')}"


def write_run(folder: Path, record: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RESULTS_FILE).write_text(json.dumps(record, indent=2) + "\n")
    (folder / SUMMARY_FILE).write_text(summary(record))
    return folder


def load_run(folder: Path) -> dict[str, Any]:
    path = folder / RESULTS_FILE if folder.is_dir() else folder
    if not path.is_file():
        raise BenchError(f"{path}: no benchmark results here")
    return json.loads(path.read_text())


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _pcts(metric: dict[str, float | None] | None) -> str:
    if metric is None:
        return "-"
    return " / ".join(_fmt(metric[p]) for p in tool.PERCENTILES)


def _load_name(record: dict[str, Any]) -> str:
    return "concurrency" if record["mode"] == "concurrency" else "req/s offered"


def summary(record: dict[str, Any]) -> str:
    lines = [
        f"# {record['model']} via {record['hop']}: {record['workload']}",
        "",
        f"- stack `{record['stack']}`, target `{record['target']}`"
        + (f", tenant `{record['tenant']}`" if record.get("tenant") else ""),
        f"- {record['tool']['name']} {record['tool']['version']}, started {record['started']}",
        f"- workload: {record['shape']['input_tokens']} input tokens"
        + (f" after a {record['shape']['prefix_tokens']}-token prefix (pool of {record['shape']['prefix_pool']})"
           if record["shape"]["prefix_pool"] else "")
        + (f", {record['shape']['output_tokens']} output tokens" if record["shape"]["output_tokens"] else ""),
        f"- {record['spec']['step_seconds']} s per step; latencies in ms as p50 / p90 / p99",
        "",
        f"| {_load_name(record)} | TTFT | ITL | end-to-end | output tok/s | req/s | errors |",
        "|---:|---|---|---|---:|---:|---:|",
    ]
    for step in record["steps"]:
        error = "-" if step["error_rate"] is None else f"{step['error_rate']:.1%}"
        lines.append(
            f"| {step['load']:g} | {_pcts(step['ttft_ms'])} | {_pcts(step['itl_ms'])} | {_pcts(step['e2e_ms'])} "
            f"| {_fmt(step['output_tokens_per_s'])} | {_fmt(step['requests_per_s'], 2)} | {error} |"
        )
    if record.get("exit_code"):
        lines += ["", f"The load generator exited with {record['exit_code']}: some steps may be missing."]
    return "\n".join(lines) + "\n"


def _p50(step: dict[str, Any] | None, key: str) -> float | None:
    metric = step.get(key) if step else None
    return metric.get("p50") if isinstance(metric, dict) else None


def _change(a: float | None, b: float | None) -> str:
    if a is None or b is None or a == 0:
        return "-"
    return f"{(b - a) / a:+.0%}"


COMPARED = (
    ("TTFT p50 ms", lambda s: _p50(s, "ttft_ms")),
    ("ITL p50 ms", lambda s: _p50(s, "itl_ms")),
    ("e2e p50 ms", lambda s: _p50(s, "e2e_ms")),
    ("output tok/s", lambda s: s.get("output_tokens_per_s") if s else None),
    ("req/s", lambda s: s.get("requests_per_s") if s else None),
)


def compare(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Two runs side by side, step by step: A's value, B's, and B's change against A."""
    def label(r: dict[str, Any]) -> str:
        return f"{r['stack']}/{r['model']} via {r['hop']} ({r['workload']}, {r['started']})"

    lines = [f"# {a['hop']} vs {b['hop']}: {a['model']}", "", f"- A: {label(a)}", f"- B: {label(b)}", ""]
    if a["workload"] != b["workload"] or a["mode"] != b["mode"]:
        lines += ["Warning: the runs differ in workload or sweep mode; the change column compares unlike loads.", ""]
    for tag, run in (("A", a), ("B", b)):
        failing = [f"{s['load']:g}" for s in run["steps"] if s.get("error_rate")]
        if failing:
            # A tenant's rate limit or quota answers 429 at the edge and at LiteLLM: those requests
            # are errors, and latencies and rates cover the answered ones only.
            lines += [f"Warning: run {tag} has errors at {', '.join(failing)}; see its summary.", ""]
    header = " | ".join(f"{name} A | B | change" for name, _ in COMPARED)
    lines += [f"| {_load_name(a)} | {header} |", "|---:|" + "---:|" * (3 * len(COMPARED))]
    by_load_a = {s["load"]: s for s in a["steps"]}
    by_load_b = {s["load"]: s for s in b["steps"]}
    for load in sorted(set(by_load_a) | set(by_load_b)):
        sa, sb = by_load_a.get(load), by_load_b.get(load)
        cells = []
        for _, get in COMPARED:
            va, vb = get(sa), get(sb)
            cells += [_fmt(va), _fmt(vb), _change(va, vb)]
        lines.append(f"| {load:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
