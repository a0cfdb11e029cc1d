"""python -m bench: run a benchmark on a stack's cluster, on a URL, or compare two runs.

  run STACK [--model M] [--hop pods] [--tenant T] [--workload chat] ...      Job in the cluster
  render STACK ...                                                           print the Job and its NetworkPolicies
  local URL --model NAME ...                                                 the tool on this machine
  compare RUN_A RUN_B [--out DIR]                                            side by side
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from pydantic import ValidationError

from bench import runner
from bench.cluster import ClusterError, Kubectl
from bench.job import render_objects
from bench.results import BenchError, compare, load_run, run_dir_name, write_run
from bench.spec import HOPS, BenchSpec, Target
from bench.workloads import WORKLOADS, for_model
from components.config.loader import ConfigError


def _spec_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workload", default="chat", choices=list(WORKLOADS))
    parser.add_argument("--mode", default="concurrency", choices=["concurrency", "rate"])
    parser.add_argument("--steps", help="comma-separated concurrency levels or request rates (default 1,2,4,8,16,32)")
    parser.add_argument("--step-seconds", type=int, help="seconds of load per step (default 60)")
    parser.add_argument("--tokenizer", help="tokenizer for synthetic prompts (default: the model's, for hf:// sources)")


def _spec(args: argparse.Namespace, hop: str = "pods") -> BenchSpec:
    given = {
        "hop": hop,
        "tenant": getattr(args, "tenant", None),
        "workload": args.workload,
        "mode": args.mode,
        "tokenizer": args.tokenizer,
    }
    if args.steps:
        given["steps"] = tuple(float(v) for v in args.steps.split(","))
    if args.step_seconds:
        given["step_seconds"] = args.step_seconds
    return BenchSpec(**{k: v for k, v in given.items() if v is not None})


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    for name in ("run", "render"):
        p = sub.add_parser(name)
        p.add_argument("stack", help="stack name (Pulumi.<name>.yaml) or stack file")
        p.add_argument("--model", help="the model to benchmark (default: the stack's only model)")
        p.add_argument("--hop", default="pods", choices=list(HOPS), help="where requests enter (default pods)")
        p.add_argument(
            "--tenant", help="hops litellm and edge: the tenant whose key is sent (default: first allowed the model)"
        )
        _spec_args(p)
        if name == "run":
            p.add_argument("--kubeconfig", help="kubeconfig of the stack's cluster (default: kubectl's own)")
            p.add_argument("--context", help="kubectl context")
            p.add_argument("--out", type=Path, default=runner.DEFAULT_OUT)
            p.add_argument("--keep", action="store_true", help="leave the Job in the cluster (deleted 1 h after)")
            p.add_argument("--no-plots", action="store_true")
    p = sub.add_parser("local")
    p.add_argument("url", help="an OpenAI-compatible base URL, e.g. a port-forward to the model's Service")
    p.add_argument("--model", required=True, help="the served model name")
    p.add_argument("--task", default="text", choices=["text", "embedding"])
    p.add_argument("--max-model-len", type=int)
    p.add_argument("--stack", default="local", help="names the run folder")
    p.add_argument("--out", type=Path, default=runner.DEFAULT_OUT)
    p.add_argument("--no-plots", action="store_true")
    _spec_args(p)
    p = sub.add_parser("compare")
    p.add_argument("runs", nargs=2, type=Path, help="two run folders")
    p.add_argument("--out", type=Path, help="folder for compare.md and overlaid plots (default: print only)")
    p.add_argument("--no-plots", action="store_true")
    return top


def _finish(folder: Path, plots: bool) -> None:
    print((folder / "summary.md").read_text())
    if plots:
        for path in runner.draw_plots([folder], folder):
            print(path)
    print(f"results: {folder}")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command in ("run", "render"):
            started = runner.now()
            job = runner.plan(args.stack, args.model, _spec(args, args.hop), started)
            if args.command == "render":
                print(yaml.safe_dump_all(render_objects(job), sort_keys=False), end="")
                return 0
            kubectl = Kubectl(args.kubeconfig, args.context)
            who = f" as tenant {job.tenant}" if job.tenant else ""
            print(f"running Job {job.namespace}/{job.name} against {job.target.url}{who} ...", flush=True)
            _finish(runner.run_in_cluster(job, kubectl, args.out, started, args.keep), not args.no_plots)
        elif args.command == "local":
            started = runner.now()
            spec = _spec(args)
            workload = for_model(spec.workload, args.task, args.max_model_len)
            target = Target("direct", args.url.rstrip("/"), args.model)
            folder = args.out / run_dir_name(args.stack, args.model, target.hop, started)
            folder.mkdir(parents=True, exist_ok=True)
            tokenizer = spec.tokenizer or "builtin"
            steps, code = runner.run_local(target, workload, spec, tokenizer, folder)
            write_run(folder, runner.record(args.stack, target, workload, spec, started, steps, code))
            _finish(folder, not args.no_plots)
        else:
            a, b = (load_run(run) for run in args.runs)
            text = compare(a, b)
            print(text)
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                (args.out / "compare.md").write_text(text)
                if not args.no_plots:
                    for path in runner.draw_plots(list(args.runs), args.out):
                        print(path)
    except (ValueError, ValidationError, ConfigError, BenchError, ClusterError, FileNotFoundError) as err:
        print(f"bench: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
