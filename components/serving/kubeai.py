"""KubeAI: a ModelSpec becomes one KubeAI `Model` (kubeai.org/v1) in KubeAI's namespace.

KubeAI's operator runs the server pods (vLLM, Ollama, Infinity or FasterWhisper), loads LoRA
adapters, scales replicas from its own proxy's in-flight requests (from zero: the proxy holds
requests while the first replica starts) and balances load (prefix hash for text). No
Deployment, Service or ScaledObject is rendered: KubeAI owns them.

Clients reach every KubeAI model through KubeAI's OpenAI proxy, the Service `kubeai` in the
namespace `kubeai`, at /openai/v1; the request body's `model` names the Model (or
`<model>_<adapter>` for an adapter).
"""

from __future__ import annotations

import math
from typing import Any

from components.catalog import load_catalog
from components.config.modelspec import GIB, ModelSpec, quantity_bytes
from components.security import SECCOMP, restricted_pod
from components.serving import vllm

# Model.spec.engine per backend (the CRD's enum spelling).
ENGINES = {"vllm": "VLLM", "ollama": "OLlama", "infinity": "Infinity", "faster-whisper": "FasterWhisper"}
FEATURES = {"text": "TextGeneration", "embedding": "TextEmbedding", "speech": "SpeechToText"}
# The chart's `service.port` default and the path KubeAI's OpenAI server answers under.
PROXY_SERVICE = "kubeai"
PROXY_PORT = 80
PROXY_PATH = "/openai/v1"
# The proxy pods (the chart's selector labels, release `kubeai`) and the port they listen on
# behind the Service: what a NetworkPolicy admitting traffic to the proxy names.
PROXY_POD = {"app.kubernetes.io/name": "kubeai", "app.kubernetes.io/instance": "kubeai"}
PROXY_POD_PORT = 8000
# The port of every backend's server container (vLLM, Ollama, Infinity, FasterWhisper: 8000).
SERVER_PORT = 8000
# KubeAI's request name for an adapter: `<model>_<adapter>` (internal/apiutils/model.go).
ADAPTER_SEPARATOR = "_"
# The CPU resource profile's unit; a CPU model asks for as many units as its cpu or memory needs.
CPU_PROFILE = "cpu"
CPU_UNIT = {"cpu": 1, "memory_gib": 4}
LABELS = {"app.kubernetes.io/part-of": "inference-platform", "app.kubernetes.io/component": "model"}


def namespace() -> str:
    """KubeAI reconciles Models in its own namespace only."""
    return load_catalog()["kubeai"].namespace


def proxy_url() -> str:
    """The OpenAI base URL of KubeAI's proxy, for in-cluster clients such as LiteLLM."""
    return f"http://{PROXY_SERVICE}.{namespace()}.svc.cluster.local:{PROXY_PORT}{PROXY_PATH}"


def resource_profiles(facts: dict[str, Any]) -> dict[str, Any]:
    """KubeAI `resourceProfiles` values: one per GPU pool (named after its accelerator; one GPU
    per unit, the pool's node labels and taints), and `cpu`. A Model asks for `<profile>:<n>`
    and KubeAI multiplies the unit's requests and limits by n."""
    profiles: dict[str, Any] = {
        CPU_PROFILE: {
            "imageName": "cpu",
            "requests": {"cpu": str(CPU_UNIT["cpu"]), "memory": f"{CPU_UNIT['memory_gib']}Gi"},
            "limits": {"memory": f"{CPU_UNIT['memory_gib']}Gi"},
        }
    }
    for pool in facts["gpuPools"]:
        profiles[pool["accelerator"]] = {
            "imageName": "nvidia-gpu",
            "requests": {"nvidia.com/gpu": "1"},
            "limits": {"nvidia.com/gpu": "1"},
            "nodeSelector": dict(pool["labels"]),
            "tolerations": [
                {"key": t["key"], "operator": "Equal", "value": t["value"], "effect": t["effect"]}
                for t in pool["taints"]
            ],
        }
    return profiles


def resource_profile(model: ModelSpec, facts: dict[str, Any]) -> str:
    if model.gpus:
        if not any(p["accelerator"] == model.gpu_type for p in facts["gpuPools"]):
            raise ValueError(f"model {model.name}: no GPU pool with accelerator {model.gpu_type!r}")
        return f"{model.gpu_type}:{model.gpus}"
    cpu = float(model.resources.cpu.removesuffix("m")) / (1000 if model.resources.cpu.endswith("m") else 1)
    memory = quantity_bytes(model.resources.memory) / GIB
    units = max(math.ceil(cpu / CPU_UNIT["cpu"]), math.ceil(memory / CPU_UNIT["memory_gib"]), 1)
    return f"{CPU_PROFILE}:{units}"


def _args(model: ModelSpec) -> list[str]:
    """vLLM flags beyond the ones KubeAI sets itself (--model, --served-model-name, --enable-lora)."""
    if model.kubeai_backend() != "vllm":
        return []
    return vllm.config_flags(model) + list(model.engine_args)


def _env(model: ModelSpec) -> dict[str, str]:
    # The pods run as a UID with no passwd entry (see platform values): a writable HOME and
    # caches under it; USER/LOGNAME for getpass.getuser() (see serving/vllm.py).
    env = {"HOME": "/tmp", "USER": vllm.USER_NAME, "LOGNAME": vllm.USER_NAME, "HF_HOME": "/tmp/hf", "DO_NOT_TRACK": "1"}
    if model.kubeai_backend() == "vllm":
        env |= {"VLLM_NO_USAGE_STATS": "1", "VLLM_CACHE_ROOT": "/tmp/vllm"}
        if not model.gpus:
            env["VLLM_CPU_KVCACHE_SPACE"] = str(model.cpu_kv_cache_gib())
    return env


def load_balancing(model: ModelSpec) -> dict[str, Any]:
    options = model.kubeai
    strategy = options.load_balancing if options and options.load_balancing else None
    if strategy is None:
        strategy = "PrefixHash" if model.task == "text" else "LeastLoad"
    out: dict[str, Any] = {"strategy": strategy}
    if strategy == "PrefixHash":
        out["prefixHash"] = {"prefixCharLength": options.prefix_char_length if options else 100}
    return out


def model_resource(model: ModelSpec, facts: dict[str, Any]) -> dict[str, Any]:
    options = model.kubeai
    spec: dict[str, Any] = {
        "url": model.source,
        "engine": ENGINES[model.kubeai_backend()],
        "features": [FEATURES[model.task]],
        "resourceProfile": resource_profile(model, facts),
        "minReplicas": model.replicas.min,
        "maxReplicas": model.replicas.max,
        "targetRequests": options.target_requests if options else 100,
        "scaleDownDelaySeconds": model.scaling.scale_down_stabilization_seconds,
        "loadBalancing": load_balancing(model),
        "env": _env(model),
    }
    args = _args(model)
    if args:
        spec["args"] = args
    if model.adapters:
        spec["adapters"] = [{"name": a.name, "url": a.source} for a in model.adapters]
    if model.image:
        spec["image"] = model.image
    if model.hf_token_secret:
        # KubeAI gives server pods no extra volumes: the token arrives as HF_TOKEN from the Secret.
        spec["envFrom"] = [{"secretRef": {"name": model.hf_token_secret}}]
    return {
        "apiVersion": "kubeai.org/v1",
        "kind": "Model",
        "metadata": {
            "name": model.name,
            "namespace": namespace(),
            "labels": {**LABELS, "app.kubernetes.io/instance": model.name},
        },
        "spec": spec,
    }


# Labels KubeAI gives a Model's server pods (labelsForModel in internal/modelcontroller).
def server_pods(model: ModelSpec) -> dict[str, str]:
    return {"app.kubernetes.io/managed-by": "kubeai", "model": model.name}


def network_policy(model: ModelSpec) -> dict[str, Any]:
    """The server pods answer KubeAI's proxy and operator (requests, adapter loading) and
    Prometheus, on the one port every KubeAI backend listens on; nothing else reaches them."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": f"model-{model.name}",
            "namespace": namespace(),
            "labels": {**LABELS, "app.kubernetes.io/instance": model.name},
        },
        "spec": {
            "podSelector": {"matchLabels": server_pods(model)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {"podSelector": {"matchLabels": dict(PROXY_POD)}},
                        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
                    ],
                    "ports": [{"port": SERVER_PORT, "protocol": "TCP"}],
                }
            ],
        },
    }


def render_kubeai(model: ModelSpec, facts: dict[str, Any], _namespace: str) -> list[dict[str, Any]]:
    """What a KubeAI model needs, in KubeAI's namespace (not `_namespace`): the Model and the
    NetworkPolicy in front of its server pods."""
    return [model_resource(model, facts), network_policy(model)]


# The model server pods' security context, for every backend (KubeAI applies one to all).
# Non-root with no privilege, capability or seccomp exception. The root filesystem stays
# writable: KubeAI mounts no writable volume besides /dev/shm, and the servers write their
# downloads and caches under HOME (/tmp, set per Model).
# Exception: the FasterWhisper image (faster-whisper-server 0.5.0, Dockerfile.cpu/.cuda) keeps
# its application and virtualenv under /root and starts with `uv run`, which no other UID can
# read; a stack with a FasterWhisper model runs its KubeAI pods as the images' own user (root),
# still without capabilities or privilege escalation.
ROOT_BACKENDS = ("faster-whisper",)
POD_SECURITY = restricted_pod(vllm.UID)
CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": False,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": dict(SECCOMP),
}


def pod_security(backends: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pod, container) security context for model pods of these backends."""
    if set(ROOT_BACKENDS) & backends:
        pod = {"seccompProfile": dict(SECCOMP)}
        container = {k: v for k, v in CONTAINER_SECURITY.items() if k != "runAsNonRoot"}
        return pod, container
    return dict(POD_SECURITY), dict(CONTAINER_SECURITY)


def chart_values(facts: dict[str, Any], models: list[ModelSpec]) -> dict[str, Any]:
    """KubeAI chart values computed from ClusterFacts and the stack's KubeAI models: resource
    profiles, the engine images the platform pins for vLLM, the model pods' security context."""
    images = vllm.settings()["images"]
    pod, container = pod_security({m.kubeai_backend() for m in models if m.engine == "kubeai"})
    return {
        "resourceProfiles": resource_profiles(facts),
        # One vLLM release on the platform: engineArgs are checked against its flags.
        "modelServers": {
            "VLLM": {"images": {"default": images["gpu"], "nvidia-gpu": images["gpu"], "cpu": images["cpu"]}}
        },
        "modelServerPods": {"podSecurityContext": pod, "securityContext": container},
    }
