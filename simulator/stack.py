"""What a stack renders for one model, read offline: its ScaledObject, Deployment, pool and cache."""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass
from typing import Any

from simulator.coldstart import CacheType
from simulator.policy import Policy, from_scaled_object
from simulator.service import LLMService, size_from_name, weight_bits_from_name
from tooling.program import Run, run_program, stack_file
from tooling.render import expand, pulumi_objects

PROJECT = "inference-platform"


@dataclass(frozen=True)
class StackModel:
    stack: str
    model: str
    substrate: str
    policy: Policy
    service: LLMService
    cache: CacheType
    pool: dict[str, Any]
    per_node: int
    gpus_per_node: int
    pool_min: int
    pool_max: int
    scrape_seconds: float


def config_of(run: Run) -> dict[str, Any]:
    """The project's config as the program saw it, values decoded."""
    config: dict[str, Any] = {}
    for key, value in run.config.items():
        if key.startswith(f"{PROJECT}:"):
            try:
                config[key.split(":", 1)[1]] = json.loads(value)
            except json.JSONDecodeError:
                config[key.split(":", 1)[1]] = value
    return config


def rendered(stack: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every object the stack would apply, and its config, from an offline run of the program."""
    run = run_program(stack_file(stack))
    return list(expand(pulumi_objects(run))), config_of(run)


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any] | None:
    found = [o for o in objects if o.get("kind") == kind and o.get("metadata", {}).get("name") == name]
    return found[0] if found else None


def policy_of(stack: str, model_name: str, objects: list[dict[str, Any]]) -> Policy:
    """The scaling policy of the ScaledObject the stack renders for the model."""
    scaled = _find(objects, "ScaledObject", model_name)
    if scaled is None:
        raise ValueError(f"stack {stack!r} renders no ScaledObject named {model_name!r}")
    return from_scaled_object(scaled)


def _cache_type(model: dict[str, Any], deployment: dict[str, Any], objects: list[dict[str, Any]]) -> CacheType:
    source = model["source"]
    if source.startswith("oci://"):
        return "modelcar"
    if source.startswith("pvc://"):
        return "pvc-source"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"].get("volumes", [])}
    cache = volumes.get("cache", {})
    if "persistentVolumeClaim" in cache:
        claim = _find(objects, "PersistentVolumeClaim", cache["persistentVolumeClaim"]["claimName"])
        modes = (claim or {}).get("spec", {}).get("accessModes", [])
        return "shared" if "ReadWriteMany" in modes else "single"
    return "per-pod"


def _server(objects: list[dict[str, Any]], model_name: str) -> dict[str, Any] | None:
    """The model's Deployment; for engine kserve, the pod template of its LLMInferenceService,
    from which KServe makes the Deployment (its weights land in a per-pod volume)."""
    deployment = _find(objects, "Deployment", model_name)
    if deployment is not None:
        return deployment
    service = _find(objects, "LLMInferenceService", model_name)
    if service is None:
        return None
    return {"spec": {"template": {"spec": service["spec"].get("template", {})}}}


def _flag(args: list[str], flag: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _cores(quantity: str) -> float:
    quantity = str(quantity)
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def _seconds(interval: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return float(interval[:-1]) * units[interval[-1]] if interval[-1] in units else float(interval)


def load(stack: str, model_name: str, prompt_tokens: int = 512, output_tokens: int = 256,
         params_b: float | None = None) -> StackModel:
    objects, config = rendered(stack)
    return from_rendered(stack, model_name, objects, config, prompt_tokens, output_tokens, params_b)


def from_rendered(stack: str, model_name: str, objects: list[dict[str, Any]], config: dict[str, Any],
                  prompt_tokens: int = 512, output_tokens: int = 256, params_b: float | None = None) -> StackModel:
    models = {m["name"]: m for m in config.get("models", [])}
    if model_name not in models:
        raise ValueError(f"stack {stack!r} has no model {model_name!r}; models: {', '.join(models) or 'none'}")
    model = models[model_name]
    engine = model.get("engine", "vllm")
    if engine != "vllm":
        # The simulation replays the KEDA policy rendered for raw vLLM; other engines scale their own way.
        raise ValueError(
            f"stack {stack!r}: model {model_name!r} has engine {engine!r}; only raw vLLM's autoscaling is simulated"
        )
    policy = policy_of(stack, model_name, objects)
    deployment = _server(objects, model_name)
    if deployment is None:
        raise ValueError(f"stack {stack!r} renders no Deployment named {model_name!r}")
    substrate = config["substrate"]
    gpu_type = model.get("gpuType")
    gpus = int(model.get("gpus", 1)) if gpu_type else 0
    if gpu_type:
        pool = next((p for p in substrate.get("gpuPools", []) if p.get("accelerator") == gpu_type), None)
        if pool is None:
            raise ValueError(f"stack {stack!r} has no GPU pool with accelerator {gpu_type!r}")
        gpus_per_node = int(pool.get("count", gpus))
        per_node = max(gpus_per_node // gpus, 1)
    else:
        # A CPU model runs on the CPU nodes there are: no GPU pool, nothing provisioned for it.
        pool = {"name": "cpu"}
        gpus_per_node, per_node = 0, max(policy.max_replicas, 1)
    # Pools that do not autoscale hold as many nodes as the model's max replicas needs.
    pool_max = int(pool.get("maxNodes", math.ceil(policy.max_replicas / per_node)))
    pool_min = int(pool.get("minNodes", pool_max))
    size = params_b or size_from_name(model["source"]) or size_from_name(model_name)
    if size is None:
        raise ValueError(f"model {model_name!r}: no size (e.g. 7B) in its source or name; pass --params-b")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    args = [*container.get("command", []), *container.get("args", [])]
    args += shlex.split(env.get("VLLM_ADDITIONAL_ARGS") or "")  # KServe's preset expands it
    seqs = _flag(args, "--max-num-seqs")
    if model.get("task", "text") == "embedding":
        output_tokens = 1  # an embedding is one forward pass over the input: prefill only
    cores = _cores(container.get("resources", {}).get("limits", {}).get("cpu", "1"))
    service = LLMService(gpu_type or "cpu", max(gpus, 1), size, prompt_tokens, output_tokens,
                         int(seqs) if seqs else None, weight_bits_from_name(model["source"]), cpu_cores=cores,
                         cpu_kv_gib=float(env.get("VLLM_CPU_KVCACHE_SPACE") or 4))
    monitor = _find(objects, "PodMonitor", model_name)
    endpoints = (monitor or {}).get("spec", {}).get("podMetricsEndpoints", [{}])
    scrape = _seconds(endpoints[0].get("interval", "30s"))
    return StackModel(
        stack=stack,
        model=model_name,
        substrate=substrate["kind"],
        policy=policy,
        service=service,
        cache=_cache_type(model, deployment, objects),
        pool=pool,
        per_node=per_node,
        gpus_per_node=gpus_per_node,
        pool_min=pool_min,
        pool_max=pool_max,
        scrape_seconds=scrape,
    )
