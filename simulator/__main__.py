"""`make simulate STACK=<stack> MODEL=<name> [TRACE=...] [SLO_MS=...]`: the autoscaling report for one model."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from simulator import policy as policies
from simulator.coldstart import defaults
from simulator.engine import Scenario, simulate
from simulator.recommend import recommend
from simulator.report import markdown, summary, svg
from simulator.stack import load
from simulator.traces import Trace, bursty, from_spec


def default_trace(rate_one: float, max_replicas: int, prompt: int, output: int) -> Trace:
    """One hour: a base load a third of one replica's, two five-minute bursts that need `max` replicas."""
    peak = 1.5 * rate_one * max(max_replicas, 1)
    return bursty(base=0.3 * rate_one, peak=peak, every=1800, length=300, duration=3600, seed=1,
                  prompt=prompt, output=output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack name (Pulumi.<name>.yaml at the root or in examples/) or a path")
    parser.add_argument("model", nargs="?", help="model name (default: the stack's only model)")
    parser.add_argument("--trace", help="poisson:rate=R | diurnal:peak=P,trough=T | bursty:base=B,peak=P | file.csv")
    parser.add_argument("--slo-ms", type=float, default=1000.0, help="TTFT SLO in ms (default 1000)")
    parser.add_argument("--slo-percentile", type=float, default=95.0, help="percentile held to the SLO (default 95)")
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--output-tokens", type=int, default=256)
    parser.add_argument("--params-b", type=float, help="model size in billions when its name does not say")
    parser.add_argument("--gpu-util-target", type=float, default=80.0, help="the GPU-utilisation policy's target %%")
    for knob in ("node-provisioning", "image-pull", "weights-load", "engine-start"):
        parser.add_argument(f"--{knob}", type=float, help=f"cold start: {knob.replace('-', ' ')} seconds")
    parser.add_argument("--no-recommend", action="store_true", help="skip the search for the cheapest settings")
    parser.add_argument("--out", type=Path, help="report folder (default out/simulate/<stack>-<model>)")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, FileNotFoundError) as exc:  # a CLI: one clear line and a non-zero exit
        print(f"simulate {args.stack}: {exc}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    model = args.model
    if not model:
        from simulator.stack import rendered

        names = [m["name"] for m in rendered(args.stack)[1].get("models", [])]
        if len(names) != 1:
            raise ValueError(f"name a model (MODEL=...): the stack has {', '.join(names) or 'none'}")
        model = names[0]
    sm = load(args.stack, model, args.prompt_tokens, args.output_tokens, args.params_b)
    service = sm.service
    cold = defaults(sm.substrate, sm.cache, service.weight_bytes, service.params_b).with_overrides(
        node_provisioning=args.node_provisioning, image_pull=args.image_pull, weights_load=args.weights_load,
        engine_start=args.engine_start)
    if sm.gpus_per_node == 0:
        cold = replace(cold, node_provisioning=None)  # CPU replicas land on the nodes there are
    rate_one = service.requests_per_second(min(32, service.max_concurrency))
    trace = (from_spec(args.trace, args.prompt_tokens, args.output_tokens) if args.trace
             else default_trace(rate_one, sm.policy.max_replicas, args.prompt_tokens, args.output_tokens))
    base = Scenario(sm.policy, service, cold, pool_min=sm.pool_min, pool_max=sm.pool_max, per_node=sm.per_node,
                    gpus_per_node=sm.gpus_per_node, scrape_seconds=sm.scrape_seconds)
    candidates = [sm.policy, policies.gpu_utilisation(sm.policy, args.gpu_util_target)]
    candidates += [policies.fixed(n) for n in sorted({max(sm.policy.min_replicas, 1), sm.policy.max_replicas})]
    results = [simulate(replace(base, policy=p), trace) for p in candidates]
    rows = []
    for result in results:
        row = summary(result, args.slo_ms, trace.duration)
        row["meetsSlo"] = (row["ttftMs"][f"p{int(args.slo_percentile)}"] or float("inf")) <= args.slo_ms \
            if int(args.slo_percentile) in (50, 95, 99) else row["sloAttainment"] >= args.slo_percentile / 100
        rows.append(row)
    report = {
        "stack": sm.stack,
        "model": sm.model,
        "substrate": sm.substrate,
        "trace": {"name": trace.name, "requests": len(trace.requests), "durationS": trace.duration,
                  "params": trace.params},
        "slo": {"ttftMs": args.slo_ms, "percentile": args.slo_percentile},
        "service": service.describe(),
        "coldStart": cold.describe(),
        "pool": {"name": sm.pool.get("name"), "minNodes": sm.pool_min, "maxNodes": sm.pool_max,
                 "replicasPerNode": sm.per_node, "gpusPerNode": sm.gpus_per_node},
        "renderedPolicy": {"minReplicas": sm.policy.min_replicas, "maxReplicas": sm.policy.max_replicas,
                           "pollingInterval": sm.policy.polling_seconds,
                           "triggers": [{"name": t.name, "metricType": t.metric_type, "threshold": t.threshold}
                                        for t in sm.policy.triggers],
                           "scaleUp": sm.policy.scale_up.__dict__ | {"policies": [
                               r.__dict__ for r in sm.policy.scale_up.policies]},
                           "scaleDown": sm.policy.scale_down.__dict__ | {"policies": [
                               r.__dict__ for r in sm.policy.scale_down.policies]}},
        "policies": rows,
    }
    if not args.no_recommend:
        report["recommendation"] = recommend(base, trace, args.slo_ms, args.slo_percentile)
    out = args.out or Path("out") / "simulate" / f"{Path(args.stack).stem.removeprefix('Pulumi.')}-{sm.model}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (out / "report.md").write_text(text)
    (out / "timeline.svg").write_text(svg(results, trace.duration))
    print(text)
    print(f"wrote {out}/report.json, report.md, timeline.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
