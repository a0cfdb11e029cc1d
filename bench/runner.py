"""A benchmark run end to end: plan it from the stack file, run it (a Job in the stack's cluster,
or the tool on this machine against a URL), and write the run folder."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import hops, tool
from bench.cluster import Kubectl
from bench.job import DRIVER, BenchJob, deadline_seconds, owned_by, render_objects
from bench.results import BenchError, parse_driver_output, run_dir_name, write_run
from bench.spec import BenchSpec, Target
from bench.workloads import Workload, for_model

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = ROOT / ".venv-bench"
DEFAULT_OUT = ROOT / "out" / "bench"


def stack_config(stack: str) -> tuple[str, Any]:
    """The stack's name and validated StackConfig, read from its stack file offline."""
    from components.config.loader import NAMESPACE, parse_stack_config
    from tooling.program import read_stack_config, stack_file, stack_name

    path = stack_file(stack)
    config, secret_keys = read_stack_config(path)
    prefix = f"{NAMESPACE}:"
    values = {k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)}
    secrets = {k[len(prefix):] for k in secret_keys if k.startswith(prefix)}
    return stack_name(path), parse_stack_config(values, secrets)


def default_tokenizer(source: str) -> str:
    """The served model's own tokenizer for hf:// sources; elsewhere the tool's built-in one
    (token counts are then approximate: name the model's tokenizer with --tokenizer)."""
    return source.removeprefix("hf://") if source.startswith("hf://") else "builtin"


def job_name(model: str, hop: str, started: datetime) -> str:
    """bench-<model>-<hop>-<time>, the model's name cut so the whole fits a label value (63):
    the name is the pods' `app.kubernetes.io/instance` and the Job controller's job-name label."""
    suffix = f"-{hop}-{started.strftime('%Y%m%d%H%M%S')}"
    return f"bench-{model[: 63 - len('bench-') - len(suffix)].rstrip('-')}{suffix}"


def plan(stack: str, model_name: str | None, spec: BenchSpec, started: datetime) -> BenchJob:
    """The Job for `model_name` (the stack's only model when None) on `stack`; ValueErrors say why not."""
    from components.serving.vllm import settings

    name, cfg = stack_config(stack)
    models = {m.name: m for m in cfg.models}
    if model_name is None:
        if len(models) != 1:
            raise ValueError(
                f"stack {name!r} serves {len(models)} models; choose one with --model: {', '.join(models)}"
            )
        model_name = next(iter(models))
    if model_name not in models:
        raise ValueError(f"stack {name!r} has no model {model_name!r}; its models: {', '.join(models) or 'none'}")
    model = models[model_name]
    route = hops.route(cfg, model, spec.hop, spec.tenant)
    workload = for_model(spec.workload, model.task, model.max_model_len)
    spec.step_values()  # refuses fractional concurrency before anything runs
    hf_token_secret = model.hf_token_secret
    if hf_token_secret and route.namespace != settings()["namespace"]:
        # A pod mounts Secrets of its own namespace only; the model's token is in the serving one.
        if spec.tokenizer is None:
            raise ValueError(
                f"model {model.name!r} reads its tokenizer with hfTokenSecret {hf_token_secret!r}, which a Job in "
                f"{route.namespace!r} (hop {spec.hop!r}) cannot mount: name an ungated tokenizer with --tokenizer"
            )
        hf_token_secret = None
    return BenchJob(
        name=job_name(model.name, spec.hop, started),
        namespace=route.namespace,
        stack=name,
        model=model.name,
        target=route.target,
        workload=workload,
        spec=spec,
        tokenizer=spec.tokenizer or default_tokenizer(model.source),
        hf_token_secret=hf_token_secret,
        ca=route.ca,
        api_key=route.key,
        tenant=route.tenant,
        admissions=route.admissions,
    )


def record(
    stack: str, target: Target, workload: Workload, spec: BenchSpec, started: datetime,
    steps: list[dict[str, Any]], exit_code: int, tenant: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The run's results.json (the tenant whose key was sent, by name: never the key)."""
    return {
        "stack": stack,
        "model": target.model,
        "hop": target.hop,
        "target": target.url,
        "tenant": tenant,
        "workload": workload.name,
        "shape": asdict(workload),
        "mode": spec.mode,
        "spec": spec.model_dump(mode="json"),
        "tool": {"name": tool.NAME, "version": tool.VERSION},
        "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "exit_code": exit_code,
        "steps": steps,
    }


def run_in_cluster(job: BenchJob, kubectl: Kubectl, out_root: Path, started: datetime, keep: bool = False) -> Path:
    """Create the Job (suspended) and the NetworkPolicies it owns, resume it, wait for it, read
    the results from its log, delete it all, write the run folder."""
    *policies, suspended = render_objects(job)
    (created,) = kubectl.create([suspended])
    try:
        kubectl.create(owned_by(policies, created))
        kubectl.resume(job.name, job.namespace)
        state = kubectl.wait(job.name, job.namespace, deadline_seconds(job.spec) + 60)
        log = kubectl.logs(job.name, job.namespace)
    finally:
        if not keep:
            kubectl.delete(job.name, job.namespace, [p["metadata"]["name"] for p in policies])
    try:
        steps, exit_code = parse_driver_output(log, job.spec.step_values())
    except BenchError as err:
        tail = "\n".join(log.splitlines()[-20:])
        raise BenchError(
            f"Job {job.namespace}/{job.name} {state}: {err}\n--- last lines of its log ---\n{tail}"
        ) from None
    folder = out_root / run_dir_name(job.stack, job.model, job.target.hop, started)
    run = record(job.stack, job.target, job.workload, job.spec, started, steps, exit_code, job.tenant)
    return write_run(folder, run)


def run_local(
    target: Target, workload: Workload, spec: BenchSpec, tokenizer: str, work_dir: Path,
    venv: Path = BENCH_VENV, timeout_s: float | None = None,
) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
    """The same driver and command line as the Job, run on this machine with the benchmark venv's tool."""
    aiperf = venv / "bin" / tool.NAME
    if not aiperf.exists():
        raise BenchError(f"{aiperf} is missing: `make bench` creates {venv.name} from requirements-bench.txt")
    results = work_dir / "tool"
    args = tool.profile_args(target, workload, spec, tokenizer, str(results))
    done = subprocess.run(
        [str(venv / "bin" / "python"), str(DRIVER), str(results), "--", str(aiperf), *args],
        capture_output=True, text=True, timeout=timeout_s or deadline_seconds(spec), check=False,
    )  # fmt: skip
    (work_dir / "tool.log").write_text(done.stderr)
    try:
        return parse_driver_output(done.stdout, spec.step_values())
    except BenchError as err:
        tail = "\n".join(done.stderr.splitlines()[-20:])
        raise BenchError(f"{err}\n--- last lines of the tool's output ---\n{tail}") from None


def plot_python(venv: Path = BENCH_VENV) -> str | None:
    """An interpreter with matplotlib: the benchmark venv's, else this one if it has it."""
    candidate = venv / "bin" / "python"
    if candidate.exists():
        return str(candidate)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return None
    return sys.executable


def draw_plots(runs: list[Path], out: Path) -> list[str]:
    python = plot_python()
    if python is None:
        raise BenchError("no matplotlib to draw plots with: `make bench` creates .venv-bench, which has it")
    done = subprocess.run(
        [python, "-m", "bench.plots", *map(str, runs), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"plots failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout.split()


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
