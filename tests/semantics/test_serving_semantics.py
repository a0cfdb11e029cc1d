"""What schemas cannot check, over every stack file: the rendered model servers can run as
the user they are given, their triggers can reach `replicas.max`, their flags do what the
config says, and a CPU model's KV space fits its memory."""

from __future__ import annotations

import math
import shlex
from typing import Any

import pytest
import yaml

from components.config.modelspec import CPU_RUNTIME_BYTES, GIB, ModelSpec, pinned_vllm_version, quantity_bytes
from components.serving.engine_flags import load_flags, resolve, sets_value, split_items
from components.serving.scaling import hpa_desired
from tests.conftest import STACKS, rendered

FLAGS = load_flags(pinned_vllm_version())
# UIDs with an /etc/passwd entry in the vLLM images (docker/Dockerfile and Dockerfile.cpu at
# the pinned tag): the base images' system accounts (below 1000, and nobody), and the GPU
# image's `vllm` user. Any other UID leaves getpass.getuser() to the environment.
PASSWD_UIDS = set(range(1000)) | {2000, 65534}
USER_VARIABLES = ("LOGNAME", "USER", "LNAME", "USERNAME")


def models(stack: str, engine: str = "vllm") -> dict[str, ModelSpec]:
    """The stack's models of one engine, by name (each engine renders its own kinds)."""
    doc = yaml.safe_load(STACKS[stack].read_text())
    raw = (doc.get("config") or {}).get("inference-platform:models") or []
    return {m["name"]: ModelSpec.model_validate(m) for m in raw if m.get("engine", "vllm") == engine}


def servers(stack: str) -> list[tuple[ModelSpec, dict[str, Any]]]:
    """Raw vLLM models and their Deployments (llm-d's roles and groups: tests/unit/test_llmd.py)."""
    specs = {name: spec for name, spec in models(stack).items() if spec.engine == "vllm"}
    out = []
    for obj in rendered(stack):
        labels = obj["metadata"].get("labels") or {}
        if obj["kind"] == "Deployment" and labels.get("app.kubernetes.io/instance") in specs:
            out.append((specs[labels["app.kubernetes.io/instance"]], obj))
    raw = [s for s in specs.values() if s.engine == "vllm"]
    assert len(out) == len(raw), "every raw vLLM model renders one vLLM Deployment"
    return out


def kserve_servers(stack: str) -> list[tuple[ModelSpec, dict[str, Any]]]:
    """(spec, container `main` of its LLMInferenceService template) per KServe model."""
    specs = models(stack, "kserve")
    out = []
    for obj in rendered(stack):
        if obj["kind"] == "LLMInferenceService":
            (container,) = [c for c in obj["spec"]["template"]["containers"] if c["name"] == "main"]
            out.append((specs[obj["metadata"]["name"]], container))
    assert len(out) == len([s for s in specs.values() if s.engine == "kserve"])
    return out


def test_kserve_flags_exist_and_do_what_the_config_says(stack):
    for spec, container in kserve_servers(stack):
        args = shlex.split(env(container).get("VLLM_ADDITIONAL_ARGS", ""))
        for token in args:
            if token.startswith("--"):
                flag, why = resolve(token.split("=", 1)[0], FLAGS)
                assert flag is not None, why
        lengths = [v for _, v in sets_value(args, "max_model_len", FLAGS)]
        assert lengths == ([str(spec.max_model_len)] if spec.max_model_len else [])
        # The preset names the model and sets tensor parallelism; said twice, vLLM would refuse.
        assert not sets_value(args, "served_model_name", FLAGS)
        assert not sets_value(args, "tensor_parallel_size", FLAGS)
        assert env(container).get("USER") and env(container).get("LOGNAME"), f"{spec.name}: no user name"
        if not spec.gpus:
            kv = int(env(container)["VLLM_CPU_KVCACHE_SPACE"])
            limit = quantity_bytes(container["resources"]["limits"]["memory"])
            assert (spec.weights_bytes() or 0) + CPU_RUNTIME_BYTES + kv * GIB <= limit


def vllm_container(deployment: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    pod = deployment["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == "vllm"]
    return pod, container


def env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def test_every_model_server_can_run_as_its_user(stack):
    for _spec, deployment in servers(stack):
        pod, container = vllm_container(deployment)
        uid = (container.get("securityContext") or {}).get("runAsUser", pod["securityContext"].get("runAsUser"))
        values = env(container)
        if uid not in PASSWD_UIDS:
            assert any(values.get(v) for v in USER_VARIABLES), (
                f"{deployment['metadata']['name']}: UID {uid} has no passwd entry and no LOGNAME/USER"
            )
        # HOME must be writable: on a mounted volume that is not read-only, since the root
        # file system is read-only.
        home = values.get("HOME", "/root")
        writable = [m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")]
        assert any(home == p or home.startswith(p.rstrip("/") + "/") for p in writable), (
            f"{deployment['metadata']['name']}: HOME {home} is not on a writable volume"
        )


def llmd_pods(stack: str) -> list[tuple[str, dict[str, Any]]]:
    """(label, pod template) of every llm-d role and group member the stack renders."""
    specs = models(stack, "llm-d")
    out = []
    for obj in rendered(stack):
        labels = obj["metadata"].get("labels") or {}
        if labels.get("llm-d.ai/model") not in specs:
            continue
        name = obj["metadata"]["name"]
        if obj["kind"] == "Deployment":
            out.append((name, obj["spec"]["template"]))
        elif obj["kind"] == "LeaderWorkerSet":
            group = obj["spec"]["leaderWorkerTemplate"]
            out += [(f"{name} leader", group["leaderTemplate"]), (f"{name} worker", group["workerTemplate"])]
    assert {label.split("-decode")[0].split("-prefill")[0] for label, _ in out} >= set(specs), (
        "every llm-d model renders its pods"
    )
    return out


def test_every_llm_d_pod_can_run_as_its_user_and_its_flags_exist(stack):
    for label, template in llmd_pods(stack):
        pod = template["spec"]
        (container,) = [c for c in pod["containers"] if c["name"] == "vllm"]
        values = env(container)
        uid = (container.get("securityContext") or {}).get("runAsUser", pod["securityContext"].get("runAsUser"))
        assert uid in PASSWD_UIDS or any(values.get(v) for v in USER_VARIABLES), f"{label}: UID {uid} has no user name"
        home = values.get("HOME", "/root")
        writable = [m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")]
        assert any(home == p or home.startswith(p.rstrip("/") + "/") for p in writable), f"{label}: HOME not writable"
        for token in container["args"]:
            if token.startswith("--"):
                flag, why = resolve(token.split("=", 1)[0], FLAGS)
                assert flag is not None, f"{label}: {why}"


def _metric(query: str, saturated: bool, replicas: int) -> float:
    """The value a trigger's query reads under full load or none, with this many replicas."""
    if not saturated:
        return 0.0
    if "kv_cache_usage_perc" in query:  # a 0-1 ratio per engine
        return replicas * 1.0 if query.startswith("sum(") else 1.0
    return 1e6  # a count (waiting requests) can grow without bound


def _settle(trigger: dict[str, Any], saturated: bool, low: int, high: int) -> int:
    replicas = low
    threshold = float(trigger["metadata"]["threshold"])
    metric_type = trigger.get("metricType", "AverageValue")
    for _ in range(200):
        metric = _metric(trigger["metadata"]["query"], saturated, replicas)
        nxt = hpa_desired(metric_type, metric, threshold, replicas, low, high)
        if nxt == replicas:
            return replicas
        replicas = nxt
    return replicas


def test_every_trigger_reaches_max_under_load_and_min_when_idle(stack):
    scaled = [o for o in rendered(stack) if o["kind"] == "ScaledObject"]
    assert len(scaled) == len(models(stack)) + len(models(stack, "kserve")), "one ScaledObject per KEDA-scaled model"
    for obj in scaled:
        spec = obj["spec"]
        low, high = spec["minReplicaCount"], spec["maxReplicaCount"]
        for trigger in spec["triggers"]:
            name = f"{obj['metadata']['name']}/{trigger['name']}"
            if trigger["name"] == "activity":
                # Scale from zero: wakes one replica under load, leaves sizing to queue depth.
                assert low == 0 and _settle(trigger, True, low, high) >= 1, f"{name} does not wake"
                assert _settle(trigger, False, low, high) == low, f"{name} does not fall back to {low}"
                continue
            assert _settle(trigger, True, low, high) == high, f"{name} cannot reach maxReplicaCount {high}"
            assert _settle(trigger, False, low, high) == low, f"{name} does not fall back to {low} when idle"


def test_flags_do_what_the_config_says(stack):
    for spec, deployment in servers(stack):
        _, container = vllm_container(deployment)
        args = split_items(container["args"])
        assert container["command"] == ["vllm", "serve"]
        # vllm serve refuses --served-model-name unless the model comes first, positionally.
        assert args and not args[0].startswith("-"), f"{spec.name}: the model location must come first"
        # Every flag exists in the pinned release (the model location is the positional).
        for token in args[1:]:
            if token.startswith("--"):
                flag, why = resolve(token.split("=", 1)[0], FLAGS)
                assert flag is not None, why
        prefix = sets_value(args, "enable_prefix_caching", FLAGS)
        negatives = {s for f in FLAGS.by_spelling.values() for s in f["negatives"]}
        if not spec.prefix_caching:
            assert prefix and all(s in negatives for s, _ in prefix), f"{spec.name}: prefix caching stays on"
        elif spec.task == "text":
            assert prefix and not any(s in negatives for s, _ in prefix), f"{spec.name}: prefix caching off"
        lengths = [v for _, v in sets_value(args, "max_model_len", FLAGS)]
        assert lengths == ([str(spec.max_model_len)] if spec.max_model_len else [])
        tp = [v for _, v in sets_value(args, "tensor_parallel_size", FLAGS)]
        assert tp == ([str(spec.gpus)] if spec.gpus > 1 else [])
        assert [v for _, v in sets_value(args, "served_model_name", FLAGS)] == [spec.name]


def test_cpu_kv_space_fits_memory(stack):
    for spec, deployment in servers(stack):
        if spec.gpus:
            continue
        _, container = vllm_container(deployment)
        kv = int(env(container)["VLLM_CPU_KVCACHE_SPACE"])
        limit = quantity_bytes(container["resources"]["limits"]["memory"])
        weights = spec.weights_bytes()
        assert weights is not None and kv >= 1
        assert weights + CPU_RUNTIME_BYTES + kv * GIB <= limit, f"{spec.name}: KV {kv} GiB does not fit"
        if spec.max_model_len:
            assert spec.max_model_len * 4096 <= kv * GIB


@pytest.mark.parametrize("query", ['avg(vllm:kv_cache_usage_perc{model_name="m"})'])
def test_the_check_catches_an_average_under_averagevalue(query):
    # The old kv-cache trigger: stuck at ceil(1 / 0.8) = 2 replicas.
    trigger = {"name": "kv-cache", "metadata": {"query": query, "threshold": "0.8"}}
    assert _settle(trigger, True, 1, 6) == math.ceil(1 / 0.8) < 6
