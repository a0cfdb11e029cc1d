"""Reading a run back from the driver's output, its summary, and the comparison of two runs."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bench import tool
from bench.driver import DONE_MARK, STEP_MARK
from bench.job import DRIVER
from bench.results import BenchError, compare, load_run, parse_driver_output, run_dir_name, summary, write_run
from bench.runner import record
from bench.spec import BenchSpec, pods_target
from bench.workloads import WORKLOADS


def dist(p50: float) -> dict[str, float]:
    return {"unit": "ms", "avg": p50, "p50": p50, "p90": p50 * 1.5, "p99": p50 * 2}


def export(concurrency: int | None, ttft: float = 100, streaming: bool = True, errors: float = 0.0) -> dict:
    """The fields of an AIPerf 0.13 profile export that the report reads."""
    data = {
        "request_latency": dist(ttft * 5),
        "request_throughput": {"unit": "requests/sec", "avg": 2.0 * (concurrency or 1)},
        "output_token_throughput": {"unit": "tokens/sec", "avg": 256.0 * (concurrency or 1)},
        "request_error_rate": {"unit": "%", "avg": errors},
        "request_count": {"unit": "requests", "avg": 40.0},
        "benchmark_duration": {"unit": "sec", "avg": 20.0},
        "error_summary": [{"error_details": {"code": 500, "type": "x", "message": "m"}, "count": 3}] if errors else [],
    }
    if streaming:
        data |= {"time_to_first_token": dist(ttft), "inter_token_latency": dist(ttft / 10)}
    if concurrency is not None:
        data["run_info"] = {"variation_values": {"phases.profiling.concurrency": concurrency}}
    return data


def driver_output(*exports: dict, exit_code: int = 0) -> str:
    lines = ["tool console line", "INFO something"]
    lines += [STEP_MARK + json.dumps({"step": f"s{i}", "export": e}) for i, e in enumerate(exports)]
    return "\n".join([*lines, DONE_MARK + json.dumps({"exit_code": exit_code}), "trailing noise"])


def test_steps_are_read_in_load_order_with_percentiles():
    steps, code = parse_driver_output(driver_output(export(8, ttft=300), export(1, ttft=100)), [1, 8])
    assert code == 0
    assert [s["load"] for s in steps] == [1, 8]
    assert steps[0]["ttft_ms"] == {"p50": 100, "p90": 150, "p99": 200}
    assert steps[1]["e2e_ms"]["p50"] == 1500 and steps[1]["itl_ms"]["p99"] == 60
    assert steps[1]["output_tokens_per_s"] == 2048 and steps[1]["requests_per_s"] == 16
    assert steps[0]["error_rate"] == 0


def test_a_single_step_takes_the_load_that_was_asked_for():
    (step,), _ = parse_driver_output(driver_output(export(None)), [4])
    assert step["load"] == 4


def test_errors_and_missing_streaming_metrics():
    (step,), _ = parse_driver_output(driver_output(export(2, streaming=False, errors=7.5)), [2])
    assert step["ttft_ms"] is None and step["itl_ms"] is None and step["e2e_ms"]["p50"] == 500
    assert step["error_rate"] == pytest.approx(0.075)
    assert step["errors"] == [{"code": 500, "count": 3}]


def test_output_without_completion_or_results_is_an_error():
    with pytest.raises(BenchError, match="no completion line"):
        parse_driver_output("the pod was evicted\n", [1])
    with pytest.raises(BenchError, match="exited with 1 and wrote no results"):
        parse_driver_output(driver_output(exit_code=1), [1])
    with pytest.raises(BenchError, match="carry no concurrency"):
        parse_driver_output(driver_output(export(None), export(None)), [1, 2])


def make_record(hop: str, ttft: float, tokens: float) -> dict:
    steps, code = parse_driver_output(driver_output(export(1, ttft), export(4, ttft * 2)), [1, 4])
    for step in steps:
        step["output_tokens_per_s"] = tokens * step["load"]
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    target = replace(pods_target("qwen", "inference", 8000), hop=hop)
    return record("local", target, WORKLOADS["chat"], BenchSpec(steps=(1, 4)), started, steps, code)


def test_run_folder_holds_json_and_markdown(tmp_path):
    rec = make_record("pods", 100, 50)
    folder = write_run(tmp_path / run_dir_name("local", "qwen", "pods", datetime(2026, 1, 2, 3, 4, 5)), rec)
    assert folder.name == "local-qwen-pods-20260102T030405Z"
    assert load_run(folder) == rec
    text = (folder / "summary.md").read_text()
    assert "| 1 | 100.0 / 150.0 / 200.0 | 10.0 / 15.0 / 20.0 | 500.0 / 750.0 / 1,000.0 | 50.0 | 2.00 | 0.0% |" in text
    assert f"{tool.NAME} {tool.VERSION}" in text
    with pytest.raises(BenchError, match="no benchmark results"):
        load_run(tmp_path)


def test_compare_puts_two_runs_side_by_side_with_the_change():
    text = compare(make_record("pods", 100, 50), make_record("pool", 150, 40))
    assert text.startswith("# pods vs pool: qwen")
    row = next(line for line in text.splitlines() if line.startswith("| 1 |"))
    # TTFT p50: 100 -> 150 (+50%); output tok/s: 50 -> 40 (-20%).
    assert "| 100.0 | 150.0 | +50% |" in row and "| 50.0 | 40.0 | -20% |" in row
    assert "Warning" not in text
    other = make_record("pool", 150, 40) | {"workload": "long-context"}
    assert "Warning: the runs differ" in compare(make_record("pods", 100, 50), other)


def test_summary_says_when_the_tool_failed_part_way():
    rec = make_record("pods", 100, 50) | {"exit_code": 1}
    assert "exited with 1" in summary(rec)


def test_driver_prints_marked_exports_and_passes_the_exit_code(tmp_path):
    """The driver the Job runs, run here with a stand-in tool that writes two steps' exports and
    their warm-up phase copies, which are not steps."""
    fake_tool = (
        "import json, pathlib, sys\n"
        f"root = pathlib.Path({str(tmp_path / 'r')!r})\n"
        "for c in (1, 2):\n"
        "    d = root / f'concurrency_{c}'; d.mkdir(parents=True)\n"
        f"    (d / {tool.EXPORT_FILE!r}).write_text(json.dumps({{'run_info': {{'variation_values': {{'c': c}}}}}}))\n"
        "    w = d / 'phases' / 'warmup'; w.mkdir(parents=True)\n"
        f"    (w / {tool.EXPORT_FILE!r}).write_text(json.dumps({{'run_info': {{'variation_values': {{'c': c}}}}}}))\n"
        "print('console'); sys.exit(3)\n"
    )
    done = subprocess.run(
        [sys.executable, str(DRIVER), str(tmp_path / "r"), "--", sys.executable, "-c", fake_tool],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 3
    assert "console" in done.stderr and "console" not in done.stdout
    steps, code = parse_driver_output(done.stdout, [1, 2])
    assert code == 3 and [s["load"] for s in steps] == [1, 2]


def test_cli_compares_two_run_folders(tmp_path, capsys):
    from bench.__main__ import main

    a = write_run(tmp_path / "a", make_record("pods", 100, 50))
    b = write_run(tmp_path / "b", make_record("pool", 120, 50))
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "cmp"), "--no-plots"]) == 0
    assert "| 100.0 | 120.0 | +20% |" in capsys.readouterr().out
    assert (tmp_path / "cmp" / "compare.md").read_text().startswith("# pods vs pool")
    assert main(["compare", str(a), str(tmp_path / "nothing")]) == 2
