"""PNG plots of a run (latency and throughput against load), or of two runs overlaid.

Needs matplotlib, which the benchmark's own virtualenv carries (requirements-bench.txt);
the runner calls this module with that interpreter.

usage: python -m bench.plots RUN_DIR [RUN_DIR_B --out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

LATENCY_PNG = "latency.png"
THROUGHPUT_PNG = "throughput.png"


def _series(record: dict[str, Any], key: str, pct: str | None = None) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for step in record["steps"]:
        value = step.get(key)
        if pct is not None:
            value = value.get(pct) if isinstance(value, dict) else None
        if value is not None:
            xs.append(step["load"])
            ys.append(value)
    return xs, ys


def _axes(ax: Any, title: str, xlabel: str, loads: list[float]) -> None:
    """Load on a log-2 axis labelled with the steps themselves; values from zero."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set(title=title, xlabel=xlabel)
    ax.set_xscale("log", base=2)
    ax.set_xticks(loads)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)


def _label(record: dict[str, Any]) -> str:
    return f"{record['hop']} {record['started']}"


def draw(records: list[dict[str, Any]], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    xlabel = "concurrency" if records[0]["mode"] == "concurrency" else "offered requests/s"
    title = f"{records[0]['model']}: {records[0]['workload']}"
    loads = sorted({step["load"] for record in records for step in record["steps"]})
    paths = []

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, (key, name) in zip(axes, (("ttft_ms", "TTFT"), ("itl_ms", "ITL"), ("e2e_ms", "end-to-end")), strict=True):
        for i, record in enumerate(records):
            for pct, style in (("p50", "-o"), ("p99", "--x")):
                xs, ys = _series(record, key, pct)
                if xs:
                    tag = f"{_label(record)} " if len(records) > 1 else ""
                    ax.plot(xs, ys, style, color=f"C{i}", label=f"{tag}{pct}")
        _axes(ax, f"{name} (ms)", xlabel, loads)
        if ax.has_data():
            ax.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    paths.append(out / LATENCY_PNG)
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, (key, name) in zip(axes, (("output_tokens_per_s", "output tokens/s"), ("requests_per_s", "requests/s")),
                               strict=True):
        for i, record in enumerate(records):
            xs, ys = _series(record, key)
            if xs:
                ax.plot(xs, ys, "-o", color=f"C{i}", label=_label(record))
        _axes(ax, name, xlabel, loads)
        if len(records) > 1 and ax.has_data():
            ax.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    paths.append(out / THROUGHPUT_PNG)
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plots", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (results.json inside)")
    parser.add_argument("--out", type=Path, help="where the PNGs go (default: the first run's folder)")
    args = parser.parse_args(argv)
    records = [json.loads((run / "results.json").read_text()) for run in args.runs]
    for path in draw(records, args.out or args.runs[0]):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
