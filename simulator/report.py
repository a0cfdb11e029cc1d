"""Summaries of runs: percentiles, SLO attainment, GPU-hours; JSON, Markdown and an SVG timeline."""

from __future__ import annotations

import html
import math
from typing import Any

from simulator.engine import Result


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; inf when there is nothing (every request unserved)."""
    if not values:
        return math.inf
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def summary(result: Result, slo_ms: float, duration: float) -> dict[str, Any]:
    total = len(result.ttft) + result.unfinished
    within = sum(1 for t in result.ttft if t * 1000 <= slo_ms)
    ms = [t * 1000 for t in result.ttft]
    ready = [row[2] for row in result.timeline if row[0] <= duration]
    return {
        "policy": result.policy,
        "requests": total,
        "unfinished": result.unfinished,
        "ttftMs": {f"p{q}": _num(percentile(ms, q)) for q in (50, 95, 99)},
        "meanWaitMs": _num(1000 * sum(result.waits) / len(result.waits)) if result.waits else None,
        "sloAttainment": round(within / total, 4) if total else 1.0,
        "gpuHours": round(result.gpu_node_seconds / 3600, 3),
        "replicaGpuHours": round(result.gpu_replica_seconds / 3600, 3),
        "replicaHours": round(result.replica_seconds / 3600, 3),
        "scaleEvents": len(result.scale_events),
        "readyReplicas": {"mean": round(sum(ready) / len(ready), 2) if ready else 0, "max": max(ready, default=0)},
    }


def _num(value: float) -> float | None:
    return None if math.isinf(value) or math.isnan(value) else round(value, 1)


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Autoscaling simulation: {report['stack']} / {report['model']}",
        "",
        f"Trace: {report['trace']['name']} ({report['trace']['requests']} requests over "
        f"{report['trace']['durationS']:.0f} s, {report['trace']['params']}). "
        f"SLO: TTFT p{report['slo']['percentile']:g} <= {report['slo']['ttftMs']:g} ms.",
        "",
        "| policy | TTFT p50 ms | p95 ms | p99 ms | SLO attainment | meets SLO | GPU-hours | scale events |"
        " mean / max ready |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["policies"]:
        t = row["ttftMs"]
        lines.append(
            f"| {row['policy']} | {t['p50']} | {t['p95']} | {t['p99']} | {row['sloAttainment']:.1%} | "
            f"{'yes' if row['meetsSlo'] else 'no'} | {row['gpuHours']} | {row['scaleEvents']} | "
            f"{row['readyReplicas']['mean']} / {row['readyReplicas']['max']} |"
        )
    lines += ["", "## Inputs", ""]
    lines += [f"- service model: {report['service']}", f"- cold start: {report['coldStart']}",
              f"- pool: {report['pool']}", f"- rendered policy: {report['renderedPolicy']}"]
    rec = report.get("recommendation")
    if rec:
        lines += ["", "## Recommendation", ""]
        if rec.get("found"):
            lines.append(
                f"`scaling.waitingRequestsTarget: {rec['waitingRequestsTarget']}`, "
                f"`replicas.max: {rec['maxReplicas']}`, "
                f"`replicas.min: {rec['minReplicas']}`, "
                + (f"on the pool's {rec['poolMinNodes']} static node(s): " if rec.get("staticPool")
                   else f"GPU pool `minNodes: {rec['poolMinNodes']}`: ")
                + f"TTFT p{report['slo']['percentile']:g} {rec['ttftMs']} ms, {rec['gpuHours']} GPU-hours "
                f"({rec['evaluated']} configurations tried)."
            )
            if rec.get("minRaised"):
                lines += ["", "No setting of the three knobs meets the SLO with the rendered replicas.min: "
                          "replicas had to be kept warm, because the bursts outrun a cold start."]
        else:
            lines.append(f"No configuration tried meets the SLO ({rec['evaluated']} tried): {rec['reason']}")
    lines += ["", "Timeline: timeline.svg (ready replicas and waiting requests per policy).", ""]
    return "\n".join(lines)


COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def svg(results: list[Result], duration: float, width: int = 900, panel: int = 180) -> str:
    """Two panels over time: ready replicas, then waiting requests; one line per policy."""
    pad, gap = 50, 40
    height = pad + 2 * panel + gap + 40 + 18 * len(results)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="12"><rect width="100%" height="100%" fill="white"/>']
    for index, (label, column) in enumerate((("ready replicas", 2), ("waiting requests", 3))):
        top = pad + index * (panel + gap)
        peak = max((row[column] for r in results for row in r.timeline if row[0] <= duration), default=1) or 1
        out.append(f'<text x="{pad}" y="{top - 8}">{label} (max {peak})</text>')
        out.append(f'<rect x="{pad}" y="{top}" width="{width - 2 * pad}" height="{panel}" fill="none" stroke="#999"/>')
        for i, r in enumerate(results):
            points = " ".join(
                f"{pad + (width - 2 * pad) * row[0] / duration:.1f},{top + panel - panel * row[column] / peak:.1f}"
                for row in r.timeline if row[0] <= duration
            )
            out.append(f'<polyline fill="none" stroke="{COLOURS[i % len(COLOURS)]}" stroke-width="1.5" '
                       f'points="{points}"/>')
    axis = pad + 2 * panel + gap + 5
    out.append(f'<text x="{pad}" y="{axis}">0 s</text>')
    out.append(f'<text x="{width - pad}" y="{axis}" text-anchor="end">{duration:.0f} s</text>')
    for i, r in enumerate(results):
        y = axis + 20 + 18 * i
        out.append(f'<rect x="{pad}" y="{y - 10}" width="12" height="12" fill="{COLOURS[i % len(COLOURS)]}"/>')
        out.append(f'<text x="{pad + 18}" y="{y}">{html.escape(r.policy)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
