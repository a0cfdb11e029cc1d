"""KServe engine: one LLMInferenceService per model (KServe v0.20.0, serving.kserve.io/v1alpha2).

KServe's LLM controller merges the LLMInferenceService over its well-known preset
(`kserve-config-llm-template`: a vLLM container named `main` that runs `vllm serve /mnt/models`
on port 8000) and creates a Deployment `<model>-kserve` and a Service
`<model>-kserve-workload-svc`. What the platform sets, and why:

- `model.uri` is the ModelSpec source as is: KServe's storage initializer downloads hf:// and
  s3://, mounts pvc://, and runs an oci:// image as a modelcar (the image shares /mnt/models).
- LoRA adapters go to `model.lora.adapters`; the controller downloads them and adds vLLM's
  --enable-lora and --lora-modules.
- No `router`: the llm-gateway layer routes KServe models like raw vLLM ones (its own
  InferencePool and endpoint picker over the pods KServe creates), so every model has the same
  URL shape and LiteLLM needs nothing engine-specific.
- No `replicas` and no `scaling`: KServe's own autoscaling (v0.20.0) acts on the Workload Variant
  Autoscaler's `wva_desired_replicas`, which needs WVA installed. The controller keeps the
  Deployment's replica count when `replicas` is unset, so a KEDA ScaledObject owns it, on the
  same queue-depth signal as raw vLLM (components/serving/scaling.py).
- The image is the platform's pinned vLLM release (not the preset's), so `engineArgs` are
  checked against the same flag table; extra flags travel in VLLM_ADDITIONAL_ARGS, which the
  preset's command line expands (its container args must stay as they are).
"""

from __future__ import annotations

import shlex
from typing import Any

from components.config.modelspec import ModelSpec
from components.security import restricted_container, restricted_pod
from components.serving import vllm
from components.serving.scaling import scaled_object

API_VERSION = "serving.kserve.io/v1alpha2"
# The preset's container and port (kserve-config-llm-template at v0.20.0).
CONTAINER = "main"
PORT = 8000
# Labels KServe puts on the workload pods it creates (its Deployment selector).
PART_OF = "llminferenceservice"


def deployment_name(model: ModelSpec) -> str:
    """The Deployment KServe creates for the model (kmeta.ChildName(name, "-kserve"))."""
    return f"{model.name}-kserve"


def service_name(model: ModelSpec) -> str:
    """The Service KServe creates in front of the workload pods."""
    return f"{model.name}-kserve-workload-svc"


def selector(model: ModelSpec) -> dict[str, str]:
    """KServe's own workload labels: the pods of this model's main Deployment."""
    return {
        "app.kubernetes.io/name": model.name,
        "app.kubernetes.io/part-of": PART_OF,
        "kserve.io/component": "workload",
    }


def labels(model: ModelSpec) -> dict[str, str]:
    # Not app.kubernetes.io/name or part-of: KServe's selector uses those on the pods.
    return {
        "app.kubernetes.io/instance": model.name,
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/managed-by": "kserve",
        "inference-platform/engine": "kserve",
    }


def extra_args(model: ModelSpec) -> list[str]:
    """vLLM flags beyond the preset's (model path, served name, port, tensor parallelism)."""
    return vllm.config_flags(model, tensor_parallel=False) + list(model.engine_args)


def _env(model: ModelSpec) -> list[dict[str, Any]]:
    env = [
        {"name": "USER", "value": vllm.USER_NAME},
        {"name": "LOGNAME", "value": vllm.USER_NAME},
        {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
        {"name": "DO_NOT_TRACK", "value": "1"},
    ]
    args = extra_args(model)
    if args:
        # The preset evaluates its command line: quoted, each flag stays one word.
        env.append({"name": "VLLM_ADDITIONAL_ARGS", "value": shlex.join(args)})
    if not model.gpus:
        env.append({"name": "VLLM_CPU_KVCACHE_SPACE", "value": str(model.cpu_kv_cache_gib())})
    return env


def pod_template(model: ModelSpec, facts: dict[str, Any]) -> dict[str, Any]:
    """The parts of the pod the platform decides; the rest comes from KServe's preset."""
    container = {
        "name": CONTAINER,
        "image": vllm.image(model),
        "imagePullPolicy": "IfNotPresent",
        "env": _env(model),
        "resources": vllm._resources(model),
        # vLLM's images run as root by default; the preset asks for non-root. The root file
        # system stays writable here, as the preset's template leaves it.
        "securityContext": {k: v for k, v in restricted_container(vllm.UID).items() if k != "readOnlyRootFilesystem"},
    }
    spec: dict[str, Any] = {
        "serviceAccountName": model.name,
        "automountServiceAccountToken": False,
        "securityContext": restricted_pod(vllm.UID),
        "containers": [container],
    }
    pool = vllm._gpu_pool(model, facts)
    if pool:
        spec["nodeSelector"] = dict(pool["labels"])
        spec["tolerations"] = [
            {"key": t["key"], "operator": "Equal", "value": t["value"], "effect": t["effect"]} for t in pool["taints"]
        ]
    return spec


def llm_inference_service(model: ModelSpec, facts: dict[str, Any]) -> dict[str, Any]:
    spec_model: dict[str, Any] = {"uri": model.source, "name": model.name}
    if model.adapters:
        spec_model["lora"] = {
            "adapters": [{"uri": a.source, "name": a.name} for a in model.adapters],
            # Every adapter stays loaded: an eviction would cost a reload on the next request.
            "maxAdapters": len(model.adapters),
        }
    spec: dict[str, Any] = {
        "model": spec_model,
        "template": pod_template(model, facts),
        # Added to the pods' labels (not their selector).
        "labels": {"inference-platform/model": model.name},
    }
    if model.gpus > 1:
        spec["parallelism"] = {"tensor": model.gpus}
    return {
        "apiVersion": API_VERSION,
        "kind": "LLMInferenceService",
        "metadata": {"name": model.name, "labels": labels(model)},
        # No replicas: the ScaledObject owns the Deployment's count and KServe keeps it.
        "spec": spec,
    }


def service_account(model: ModelSpec) -> dict[str, Any]:
    sa: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": model.name, "labels": labels(model)},
        "automountServiceAccountToken": False,
    }
    if model.hf_token_secret:
        # KServe's storage initializer reads credentials from the Secrets its pod's service
        # account lists: a Secret with key HF_TOKEN becomes its HF_TOKEN (hf:// downloads).
        sa["secrets"] = [{"name": model.hf_token_secret}]
    return sa


def network_policy(model: ModelSpec, facts: dict[str, Any]) -> dict[str, Any]:
    """The same sources as a raw vLLM model, on KServe's pods and port."""
    policy = vllm.network_policy(model, facts)
    policy["metadata"]["labels"] = labels(model)
    policy["spec"]["podSelector"] = {"matchLabels": selector(model)}
    policy["spec"]["ingress"][0]["ports"] = [{"port": PORT, "protocol": "TCP"}]
    return policy


def render_kserve(model: ModelSpec, facts: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    """Every object one KServe model needs, namespaced into `namespace`."""
    cfg = vllm.settings()
    scaler = scaled_object(model, namespace, cfg["prometheus"], labels(model))
    scaler["spec"]["scaleTargetRef"]["name"] = deployment_name(model)
    objects: list[dict[str, Any]] = [
        service_account(model),
        llm_inference_service(model, facts),
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": model.name, "labels": labels(model)},
            "spec": {"selector": {"matchLabels": selector(model)}, "maxUnavailable": 1},
        },
        {
            # vLLM's own metrics (queue depth, KV-cache usage): the autoscaling signal.
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PodMonitor",
            "metadata": {"name": model.name, "labels": labels(model)},
            "spec": {
                "selector": {"matchLabels": selector(model)},
                "podMetricsEndpoints": [{"portNumber": PORT, "path": "/metrics", "interval": "15s"}],
            },
        },
        network_policy(model, facts),
        scaler,
    ]
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    return objects
