"""Raw vLLM: a ModelSpec becomes Deployment, Service, cache volume, PodMonitor, PDB, ScaledObject.

The lowest serving abstraction: every operational concern is visible in these objects.
"""

from __future__ import annotations

from typing import Any

from components.catalog import load_data
from components.config.modelspec import ModelSpec, quantity_bytes, source_scheme
from components.security import restricted_container, restricted_pod
from components.serving import serving_tls
from components.serving.scaling import scaled_object
from components.serving.serving_tls import ServingTls

CACHE_MOUNT = "/models/cache"
SOURCE_MOUNT = "/models/src"
# A high UID that no host account holds, and no image's /etc/passwd either.
UID = 10001
# The name getpass.getuser() returns for UID. With no passwd entry for the UID it falls
# back to LOGNAME/USER; without them it raises KeyError, and vLLM calls it uncaught (its
# flash-attention cache path), as older torch did at import time.
USER_NAME = "vllm"
HF_TOKEN_DIR = "/var/run/secrets/huggingface"
TLS_VOLUME = "tls"


def settings() -> dict[str, Any]:
    return load_data("serving/vllm.yaml")


def labels(model: ModelSpec) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "vllm",
        "app.kubernetes.io/instance": model.name,
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/part-of": "inference-platform",
    }


def selector(model: ModelSpec) -> dict[str, str]:
    return {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": model.name}


def image(model: ModelSpec) -> str:
    return model.image or settings()["images"]["gpu" if model.gpus else "cpu"]


def image_extras(model: ModelSpec) -> list[str]:
    """vLLM extras the model's image carries: declared for a custom image, known for the stock ones."""
    if model.image:
        return list(model.image_extras)
    return list(settings()["extras"]["gpu" if model.gpus else "cpu"])


def model_location(model: ModelSpec) -> tuple[str, list[str]]:
    """What --model points at, and the extra flags its source needs."""
    scheme = source_scheme(model.source)
    rest = model.source.split("://", 1)[1]
    if scheme == "hf":
        return rest, []
    if scheme == "s3":
        # Streams safetensors straight from object storage; no copy on local disk.
        return model.source, ["--load-format", "runai_streamer"]
    if scheme == "pvc":
        path = rest.split("/", 1)[1] if "/" in rest else ""
        return f"{SOURCE_MOUNT}/{path}".rstrip("/"), []
    # oci:// modelcar: the image's /models directory, mounted as an image volume.
    return f"{SOURCE_MOUNT}/models", []


def config_flags(model: ModelSpec, tensor_parallel: bool = True) -> list[str]:
    """The vLLM flags the ModelSpec's own keys decide (task, gpus, prefixCaching, maxModelLen),
    the same on every engine that runs vLLM; `tensor_parallel`: False where the engine sets it."""
    args: list[str] = []
    if model.task == "embedding":
        args += ["--runner", "pooling"]
    if tensor_parallel and model.gpus > 1:
        args += ["--tensor-parallel-size", str(model.gpus)]
    # vLLM decides prefix caching per model when neither flag is given (on for most text
    # models), so off must be said; on is said for text models only, where it is supported.
    if not model.prefix_caching:
        args.append("--disable-prefix-caching")
    elif model.task == "text":
        args.append("--enable-prefix-caching")
    if model.max_model_len:
        args += ["--max-model-len", str(model.max_model_len)]
    return args


def tls_flags() -> list[str]:
    """HTTPS with the model's certificate, reloaded when cert-manager renews it."""
    return [
        "--ssl-keyfile",
        f"{serving_tls.TLS_DIR}/tls.key",
        "--ssl-certfile",
        f"{serving_tls.TLS_DIR}/tls.crt",
        "--enable-ssl-refresh",
    ]


def engine_args(model: ModelSpec, port: int, tls: bool = False) -> list[str]:
    """Arguments of `vllm serve`: the model location first (positional), then flags."""
    location, source_flags = model_location(model)
    args = [location, "--served-model-name", model.name, "--host", "0.0.0.0", "--port", str(port)]
    if tls:
        args += tls_flags()
    args += source_flags
    args += config_flags(model)
    if model.adapters:
        args += ["--enable-lora", "--lora-modules"]
        args += [f"{a.name}={a.source.removeprefix('hf://')}" for a in model.adapters]
    if model.kv_offload:
        # vLLM's in-tree OffloadingConnector (the stock image carries no LMCache); the size is
        # the total over tensor-parallel ranks.
        args += ["--kv-offloading-backend", "native", "--kv-offloading-size", str(model.kv_offload.gib())]
    return args + list(model.engine_args)


def _gpu_pool(model: ModelSpec, facts: dict[str, Any]) -> dict[str, Any] | None:
    if not model.gpus:
        return None
    for pool in facts["gpuPools"]:
        if pool["accelerator"] == model.gpu_type:
            return pool
    raise ValueError(f"model {model.name}: no GPU pool with accelerator {model.gpu_type!r}")


def cache_volume(model: ModelSpec, facts: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The model cache: one PVC shared by all replicas where storage allows, else per pod.

    A ReadWriteOnce claim cannot follow replicas onto several nodes, so a model that may
    scale past one replica on such storage gets a per-pod ephemeral claim instead.
    """
    claim_spec = {
        "accessModes": ["ReadWriteMany" if facts["storageShared"] else "ReadWriteOnce"],
        "storageClassName": facts["storageClass"],
        "resources": {"requests": {"storage": model.resources.cache_size}},
    }
    if facts["storageShared"] or model.replicas.max == 1:
        pvc = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"{model.name}-cache", "labels": labels(model)},
            "spec": claim_spec,
        }
        return {"name": "cache", "persistentVolumeClaim": {"claimName": f"{model.name}-cache"}}, [pvc]
    template = {"metadata": {"labels": labels(model)}, "spec": claim_spec}
    return {"name": "cache", "ephemeral": {"volumeClaimTemplate": template}}, []


def source_volume(model: ModelSpec) -> dict[str, Any] | None:
    scheme = source_scheme(model.source)
    rest = model.source.split("://", 1)[1]
    if scheme == "pvc":
        return {"name": "source", "persistentVolumeClaim": {"claimName": rest.split("/", 1)[0], "readOnly": True}}
    if scheme == "oci":
        return {"name": "source", "image": {"reference": rest, "pullPolicy": "IfNotPresent"}}
    return None


def _env(model: ModelSpec) -> list[dict[str, Any]]:
    env = [
        {"name": "USER", "value": USER_NAME},
        {"name": "LOGNAME", "value": USER_NAME},
        {"name": "HOME", "value": "/tmp"},
        {"name": "HF_HOME", "value": f"{CACHE_MOUNT}/hf"},
        {"name": "VLLM_CACHE_ROOT", "value": f"{CACHE_MOUNT}/vllm"},
        {"name": "XDG_CACHE_HOME", "value": "/tmp/.cache"},
        {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
        {"name": "DO_NOT_TRACK", "value": "1"},
    ]
    if not model.gpus:
        # Without it vLLM sizes the KV cache from the node's memory, not the pod's limit.
        env.append({"name": "VLLM_CPU_KVCACHE_SPACE", "value": str(model.cpu_kv_cache_gib())})
    if model.hf_token_secret:
        # A file, not an env var: env vars leak into crash dumps and `kubectl describe`.
        env.append({"name": "HF_TOKEN_PATH", "value": f"{HF_TOKEN_DIR}/HF_TOKEN"})
    return env


def memory_request(model: ModelSpec) -> str:
    """resources.memory, plus the host memory a KV-cache offload buffer takes."""
    if not model.kv_offload:
        return model.resources.memory
    total = quantity_bytes(model.resources.memory) + quantity_bytes(model.kv_offload.cpu_memory)
    return f"{total // (1 << 20)}Mi"


def _resources(model: ModelSpec) -> dict[str, Any]:
    res = {"cpu": model.resources.cpu, "memory": memory_request(model)}
    limits = dict(res)
    if model.gpus:
        limits["nvidia.com/gpu"] = str(model.gpus)
        res = {**res, "nvidia.com/gpu": str(model.gpus)}
    return {"requests": res, "limits": limits}


def tls_volume(model: ModelSpec) -> dict[str, Any]:
    """The model's certificate and key (never its CA's key), as the files vLLM's --ssl-* flags
    and llm-d's routing sidecar (--cert-path: tls.crt and tls.key in one directory) read."""
    return {
        "name": TLS_VOLUME,
        "secret": {
            "secretName": serving_tls.secret_name(model.name),
            "items": [{"key": "tls.crt", "path": "tls.crt"}, {"key": "tls.key", "path": "tls.key"}],
            "defaultMode": 0o440,
        },
    }


def tls_mount() -> dict[str, Any]:
    return {"name": TLS_VOLUME, "mountPath": serving_tls.TLS_DIR, "readOnly": True}


def tls_env() -> list[dict[str, Any]]:
    # --enable-ssl-refresh watches the two files with watchfiles. The kubelet renews a
    # Secret volume by swapping a symlinked directory; an inotify watch on the old file
    # fires once and is gone, so the second renewal would go unseen. Polling (once a
    # minute) compares the files each time and sees every renewal.
    return [
        {"name": "WATCHFILES_FORCE_POLLING", "value": "true"},
        {"name": "WATCHFILES_POLL_DELAY_MS", "value": "60000"},
    ]


def port_name(tls: ServingTls | None) -> str:
    return serving_tls.PORT_NAME if tls else "http"


def deployment(
    model: ModelSpec, facts: dict[str, Any], cache: dict[str, Any], tls: ServingTls | None = None
) -> dict[str, Any]:
    cfg = settings()
    port = cfg["port"]
    get = {"path": "/health", "port": port_name(tls)}
    if tls:
        # The kubelet does not verify a probe's certificate.
        get["scheme"] = "HTTPS"
    probe = {"httpGet": get, "timeoutSeconds": 5}
    volumes = [
        cache,
        {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
        # vLLM workers exchange tensors through shared memory.
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}},
    ]
    mounts = [
        {"name": "cache", "mountPath": CACHE_MOUNT},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "shm", "mountPath": "/dev/shm"},
    ]
    if model.hf_token_secret:
        volumes.append({"name": "hf-token", "secret": {"secretName": model.hf_token_secret, "defaultMode": 0o400}})
        mounts.append({"name": "hf-token", "mountPath": HF_TOKEN_DIR, "readOnly": True})
    source = source_volume(model)
    if source:
        volumes.append(source)
        mounts.append({"name": "source", "mountPath": SOURCE_MOUNT, "readOnly": True})
    env = _env(model)
    if tls:
        volumes.append(tls_volume(model))
        mounts.append(tls_mount())
        env += tls_env()
    container = {
        "name": "vllm",
        "image": image(model),
        "imagePullPolicy": "IfNotPresent",
        # The images' own entrypoint; `python3 -m vllm.entrypoints.openai.api_server` is
        # deprecated at this release.
        "command": ["vllm", "serve"],
        "args": engine_args(model, port, tls is not None),
        "ports": [{"name": port_name(tls), "containerPort": port, "protocol": "TCP"}],
        "env": env,
        "resources": _resources(model),
        "volumeMounts": mounts,
        # Model download and load happen before /health answers: a long startup budget,
        # then tight liveness so a wedged engine is restarted.
        "startupProbe": {**probe, "periodSeconds": 10, "failureThreshold": cfg["startupSeconds"] // 10},
        "readinessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        "livenessProbe": {**probe, "periodSeconds": 30, "failureThreshold": 3},
        "securityContext": restricted_container(UID),
    }
    pod_spec: dict[str, Any] = {
        "serviceAccountName": model.name,
        "automountServiceAccountToken": False,
        "securityContext": restricted_pod(UID),
        "terminationGracePeriodSeconds": 60,
        "containers": [container],
        "volumes": volumes,
    }
    pool = _gpu_pool(model, facts)
    if pool:
        pod_spec["nodeSelector"] = dict(pool["labels"])
        pod_spec["tolerations"] = [
            {"key": t["key"], "operator": "Equal", "value": t["value"], "effect": t["effect"]} for t in pool["taints"]
        ]
    single_claim = "persistentVolumeClaim" in cache and cache["persistentVolumeClaim"]
    shared = facts["storageShared"]
    strategy = (
        {"type": "Recreate"}
        if single_claim and not shared
        else {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": model.name, "labels": labels(model)},
        # No replicas field: KEDA owns the replica count, Argo CD must not fight it.
        "spec": {
            "selector": {"matchLabels": selector(model)},
            "strategy": strategy,
            "template": {"metadata": {"labels": labels(model)}, "spec": pod_spec},
        },
    }


# The llm-gateway layer's Gateway data plane (Istio's Gateway pods; components/gateway/names.py).
GATEWAY_NAMESPACE = "llm-gateway"
GATEWAY_POD = {"gateway.networking.k8s.io/gateway-name": "inference-gateway"}


def network_policy(
    model: ModelSpec, facts: dict[str, Any] | None = None, tls: ServingTls | None = None, pooled: bool = False
) -> dict[str, Any]:
    """Only the serving port is reachable, and only from clients the platform knows: the
    llm-gateway layer's Gateway pods (and a managed Gateway's proxy ranges) and Prometheus; the
    model's endpoint picker (it scrapes the pods' metrics) when `pooled`, else this namespace's
    pods and namespaces labelled as model clients. A pooled model is reached through the Gateway
    only, so no client in the cluster goes around Tyk's and LiteLLM's keys and budgets."""
    sources: list[dict[str, Any]] = [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": GATEWAY_NAMESPACE}},
            "podSelector": {"matchLabels": GATEWAY_POD},
        },
    ]
    if pooled:
        # The inferencepool chart labels its EPP's pods `inferencepool: <release>-epp`.
        sources.append({"podSelector": {"matchLabels": {"inferencepool": f"{model.name}-epp"}}})
    else:
        sources += [
            {"podSelector": {}},
            {"namespaceSelector": {"matchLabels": {"inference-platform/model-client": "true"}}},
        ]
    sources += [{"ipBlock": {"cidr": cidr}} for cidr in (facts or {}).get("gatewaySourceRanges") or ()]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": model.name, "labels": labels(model)},
        "spec": {
            "podSelector": {"matchLabels": selector(model)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": sources, "ports": [{"port": port_name(tls), "protocol": "TCP"}]}],
        },
    }


def metrics_endpoint(model: ModelSpec, namespace: str, tls: ServingTls | None, port: str) -> dict[str, Any]:
    """A PodMonitor endpoint for vLLM's /metrics on the container port named `port`."""
    endpoint: dict[str, Any] = {"port": port, "path": "/metrics", "interval": "15s"}
    if tls:
        # Verified like the Gateway does: the model's CA (ca.crt of its own Secret) and the
        # DNS name every pod's certificate carries, whatever address Prometheus dials.
        endpoint["scheme"] = "https"
        endpoint["tlsConfig"] = {
            "ca": {"secret": {"name": serving_tls.secret_name(model.name), "key": serving_tls.CA_KEY}},
            "serverName": serving_tls.server_name(model.name, namespace),
        }
    return endpoint


def pod_monitor(model: ModelSpec, namespace: str, tls: ServingTls | None) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": model.name, "labels": labels(model)},
        "spec": {
            "selector": {"matchLabels": selector(model)},
            "podMetricsEndpoints": [metrics_endpoint(model, namespace, tls, port_name(tls))],
        },
    }


def render_vllm(
    model: ModelSpec, facts: dict[str, Any], namespace: str, tls: ServingTls | None = None, pooled: bool = False
) -> list[dict[str, Any]]:
    """Every object one raw-vLLM model needs, namespaced into `namespace`; with `tls`, its
    pods serve HTTPS with a certificate cert-manager issues for the model; `pooled`: the
    llm-gateway layer's Gateway is its only way in (serving_tls.behind_pool)."""
    cfg = settings()
    cache, claims = cache_volume(model, facts)
    name = port_name(tls)
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": model.name, "labels": labels(model)},
            "automountServiceAccountToken": False,
        },
        *claims,
        *([serving_tls.certificate(model.name, namespace, tls, labels(model))] if tls else []),
        deployment(model, facts, cache, tls),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": model.name, "labels": labels(model)},
            "spec": {
                "type": "ClusterIP",
                "selector": selector(model),
                "ports": [{"name": name, "port": cfg["port"], "targetPort": name, "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": model.name, "labels": labels(model)},
            "spec": {"selector": {"matchLabels": selector(model)}, "maxUnavailable": 1},
        },
        pod_monitor(model, namespace, tls),
        network_policy(model, facts, tls, pooled),
        scaled_object(model, namespace, cfg["prometheus"], labels(model)),
    ]
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    return objects
