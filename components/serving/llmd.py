"""llm-d: vLLM pods labelled for llm-d's scheduler, optionally split into prefill and decode.

The objects follow llm-d's model service (the llm-d-modelservice chart): pods carry
`llm-d.ai/inference-serving`, `llm-d.ai/model` and `llm-d.ai/role`, by which the scheduler's
prefill/decode filters tell them apart; with disaggregation, decode pods run llm-d's routing
sidecar in front of vLLM, which asks a prefill pod for the prompt's KV cache (NIXL) before
decoding. A replica larger than a node is a LeaderWorkerSet group: one pod per node, vLLM's
tensor parallelism inside a node and pipeline parallelism across them.

The InferencePool and llm-d's scheduler are the llm-gateway layer's (routing.py releases the
inferencepool chart for these models with `pool_values` below); the pool selects the pods that
serve requests: every role's vLLM, and of a multi-node group the leader only.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml

from components.catalog import load_data
from components.config.modelspec import ModelSpec, Replicas
from components.security import restricted_container
from components.serving import serving_tls, vllm
from components.serving.serving_tls import ServingTls

ROLE = "llm-d.ai/role"
# The vLLM container's port on every role, whether it serves HTTP or HTTPS.
VLLM_PORT_NAME = "vllm"
# LeaderWorkerSet labels every pod with its index in the group; the leader is 0.
WORKER_INDEX = "leaderworkerset.sigs.k8s.io/worker-index"
# The file the inferencepool chart mounts the scheduler's config from (routing.SCORERS_FILE).
SCHEDULER_FILE = "scorers.yaml"


def settings() -> dict[str, Any]:
    return load_data("serving/llm-d.yaml")


def nodes_per_replica(model: ModelSpec, facts: dict[str, Any]) -> int:
    """Nodes one replica spans: 1, or gpus / GPUs per node of its pool (a multiple, by config)."""
    for pool in facts["gpuPools"]:
        if pool["accelerator"] == model.gpu_type:
            per_node = int(pool["count"])
            return model.gpus // per_node if model.gpus > per_node else 1
    raise ValueError(f"model {model.name}: no GPU pool with accelerator {model.gpu_type!r}")


def serving_selector(model: ModelSpec, facts: dict[str, Any]) -> dict[str, str]:
    """The pods that answer requests: every role's vLLM, of a multi-node group the leader only."""
    selector = {**vllm.selector(model), "llm-d.ai/inference-serving": "true"}
    if nodes_per_replica(model, facts) > 1:
        selector[WORKER_INDEX] = "0"
    return selector


def role_labels(model: ModelSpec, role: str) -> dict[str, str]:
    return {**vllm.labels(model), "llm-d.ai/inference-serving": "true", "llm-d.ai/model": model.name, ROLE: role}


def _role_selector(model: ModelSpec, role: str) -> dict[str, str]:
    return {**vllm.selector(model), ROLE: role}


def _cache(model: ModelSpec, facts: dict[str, Any], spread: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """vLLM's model cache: one claim only where every pod can mount it (shared storage, or one
    pod in all); a ReadWriteOnce claim cannot follow pods of several roles or nodes."""
    if spread and not facts["storageShared"]:
        return vllm.cache_volume(model.model_copy(update={"replicas": Replicas(min=1, max=2)}), facts)
    return vllm.cache_volume(model, facts)


def _nixl_env() -> list[dict[str, Any]]:
    return [
        # Decode pods fetch a prompt's KV blocks from the prefill pod's side channel.
        {"name": "VLLM_NIXL_SIDE_CHANNEL_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "VLLM_NIXL_SIDE_CHANNEL_PORT", "value": str(settings()["nixlPort"])},
        # GPU-to-GPU within a node, TCP between nodes: no RDMA fabric is assumed.
        {"name": "UCX_TLS", "value": "cuda_ipc,cuda_copy,tcp"},
    ]


NIXL_TRANSFER = json.dumps({"kv_connector": "NixlConnector", "kv_role": "kv_both"}, separators=(",", ":"))


def sidecar_tls_args() -> list[str]:
    """The routing sidecar (v0.8.0, pkg/sidecar/proxy) serving HTTPS with the model's certificate
    and calling vLLM over TLS: its own vLLM on localhost and the prefill pods by IP."""
    return [
        "--secure-proxy=true",
        # tls.crt and tls.key in this directory; a directory watch reloads them on renewal.
        f"--cert-path={serving_tls.TLS_DIR}",
        "--enable-tls=prefiller,decoder",
        # The sidecar takes no CA and dials an IP (a prefill pod's, from the scheduler's header)
        # or localhost, names the model's certificate does not carry: encrypted, not verified.
        "--tls-insecure-skip-verify=prefiller,decoder",
    ]


def _sidecar(vllm_port: int, tls: ServingTls | None) -> dict[str, Any]:
    """llm-d's routing sidecar: the decode pod's entry point, which runs the prefill hop; with
    `tls`, the Gateway-facing server of the pod."""
    cfg = settings()
    # Without TLS, plain HTTP inside the pod network, as from the Gateway to any model server.
    security = sidecar_tls_args() if tls else ["--secure-proxy=false"]
    container: dict[str, Any] = {
        "name": "routing-proxy",
        "image": cfg["images"]["routingSidecar"],
        "imagePullPolicy": "IfNotPresent",
        # A native sidecar: started before vLLM and kept running beside it.
        "restartPolicy": "Always",
        "args": [
            f"--port={cfg['port']}",
            f"--vllm-port={vllm_port}",
            "--kv-connector=nixlv2",
            *security,
        ],
        "ports": [{"name": vllm.port_name(tls), "containerPort": cfg["port"], "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": restricted_container(vllm.UID),
    }
    if tls:
        container["volumeMounts"] = [vllm.tls_mount()]
    return container


def _pod(
    model: ModelSpec,
    facts: dict[str, Any],
    cache: dict[str, Any],
    role: str,
    *,
    split: bool,
    rank: str | None,
    tls: ServingTls | None = None,
) -> dict[str, Any]:
    """The pod template of one role: raw vLLM's (security, cache, probes, GPU pool), adapted.

    rank: None for a single-node replica, "leader" or "worker" in a LeaderWorkerSet group.
    tls: every vLLM that serves the API serves HTTPS as raw vLLM's does (certificate, flags,
    renewal, HTTPS probes), prefill and decode alike; a headless worker serves nothing."""
    cfg = settings()
    nodes = nodes_per_replica(model, facts)
    per_node = model.model_copy(update={"gpus": model.gpus // nodes})
    if rank == "worker":
        tls = None
    template = copy.deepcopy(vllm.deployment(per_node, facts, cache, tls)["spec"]["template"])
    spec = template["spec"]
    container = spec["containers"][0]
    sidecar = split and role == "decode"
    port = cfg["vllmBehindSidecarPort"] if sidecar else cfg["port"]
    container["image"] = model.image or cfg["images"]["modelServer"]
    args = vllm.engine_args(per_node, port, tls is not None)
    if split:
        args += ["--kv-transfer-config", NIXL_TRANSFER]
        container["env"] += _nixl_env()
    if nodes > 1:
        args += ["--pipeline-parallel-size", str(nodes), "--nnodes", str(nodes)]
        args += ["--node-rank", "$(LWS_WORKER_INDEX)", "--master-addr", "$(LWS_LEADER_ADDRESS)"]
        if rank == "worker":
            # Workers run engine ranks only; the leader serves the API.
            args.append("--headless")
    container["args"] = args
    container["ports"] = [{"name": VLLM_PORT_NAME, "containerPort": port, "protocol": "TCP"}]
    if split:
        container["ports"].append({"name": "nixl", "containerPort": cfg["nixlPort"], "protocol": "TCP"})
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        if rank == "worker":
            # A headless worker answers no HTTP; the group restarts with its leader.
            container.pop(probe)
        else:
            # raw vLLM's probe: HTTPS (scheme) with tls.
            container[probe]["httpGet"]["port"] = VLLM_PORT_NAME
    if sidecar:
        spec["initContainers"] = [_sidecar(port, tls)]
    template["metadata"]["labels"] = role_labels(model, role)
    return template


def _deployment(
    model: ModelSpec, template: dict[str, Any], role: str, replicas: int, cache: dict[str, Any]
) -> dict[str, Any]:
    single_claim = "persistentVolumeClaim" in cache
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{model.name}-{role}", "labels": role_labels(model, role)},
        "spec": {
            # Fixed: no autoscaler is rendered for llm-d models.
            "replicas": replicas,
            "selector": {"matchLabels": _role_selector(model, role)},
            # A ReadWriteOnce claim holds one pod at a time.
            "strategy": {"type": "Recreate"}
            if single_claim
            else {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": template,
        },
    }


def _leader_worker_set(
    model: ModelSpec, facts: dict[str, Any], cache: dict[str, Any], tls: ServingTls | None
) -> dict[str, Any]:
    leader = _pod(model, facts, cache, "decode", split=False, rank="leader", tls=tls)
    worker = _pod(model, facts, cache, "decode", split=False, rank="worker", tls=tls)
    return {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": {"name": f"{model.name}-decode", "labels": role_labels(model, "decode")},
        "spec": {
            "replicas": model.replicas.min,
            "leaderWorkerTemplate": {
                "size": nodes_per_replica(model, facts),
                # One engine over several pods: a failed pod restarts its whole group.
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": leader,
                "workerTemplate": worker,
            },
        },
    }


def network_policy(model: ModelSpec, facts: dict[str, Any], pooled: bool = False) -> dict[str, Any]:
    """Raw vLLM's sources on the serving port, and every port between this model's own pods
    (the prefill hop, NIXL's side channel and UCX transfers, a group's collective traffic).

    The serving port by number: it is the sidecar's on decode pods of a split model and vLLM's
    on every other pod, under different names."""
    policy = vllm.network_policy(model, facts, pooled=pooled)
    policy["metadata"]["name"] = model.name
    rule = policy["spec"]["ingress"][0]
    rule["ports"] = [{"port": settings()["port"], "protocol": "TCP"}]
    policy["spec"]["ingress"].append({"from": [{"podSelector": {"matchLabels": vllm.selector(model)}}]})
    return policy


def render_llmd(
    model: ModelSpec, facts: dict[str, Any], namespace: str, tls: ServingTls | None = None, pooled: bool = False
) -> list[dict[str, Any]]:
    """Every serving-layer object one llm-d model needs, namespaced into `namespace`; with `tls`,
    the pods the Gateway and the scheduler call serve HTTPS with the model's certificate;
    `pooled`: the Gateway is its only way in (serving_tls.behind_pool)."""
    split = model.disaggregation is not None
    nodes = nodes_per_replica(model, facts)
    cache, claims = _cache(model, facts, spread=split or nodes > 1)
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": model.name, "labels": vllm.labels(model)},
            "automountServiceAccountToken": False,
        },
        *claims,
        *([serving_tls.certificate(model.name, namespace, tls, vllm.labels(model))] if tls else []),
    ]
    if nodes > 1:
        objects.append(_leader_worker_set(model, facts, cache, tls))
    elif split:
        assert model.disaggregation is not None
        for role, count in (("prefill", model.disaggregation.prefill), ("decode", model.disaggregation.decode)):
            template = _pod(model, facts, cache, role, split=True, rank=None, tls=tls)
            objects.append(_deployment(model, template, role, count, cache))
    else:
        template = _pod(model, facts, cache, "decode", split=False, rank=None, tls=tls)
        objects.append(_deployment(model, template, "decode", model.replicas.min, cache))
    objects += [
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": model.name, "labels": vllm.labels(model)},
            "spec": {"selector": {"matchLabels": vllm.selector(model)}, "maxUnavailable": 1},
        },
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PodMonitor",
            "metadata": {"name": model.name, "labels": vllm.labels(model)},
            "spec": {
                # The API-serving pods: headless workers have no /metrics. vLLM's port on
                # every role (behind the sidecar on decode pods of a split model).
                "selector": {"matchLabels": serving_selector(model, facts)},
                "podMetricsEndpoints": [vllm.metrics_endpoint(model, namespace, tls, VLLM_PORT_NAME)],
            },
        },
        network_policy(model, facts, pooled),
    ]
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    return objects


# --- the llm-gateway layer's side: the model's InferencePool with llm-d's scheduler -----------

# Scorers of llm-d's scheduler (plugin types registered by llm-d-inference-scheduler v0.8.0 and
# the Inference Extension v1.5.0 it embeds) and their weights: prefix-cache affinity first (a hit
# saves the prefill), then queue depth and KV-cache pressure.
SCORERS = (("prefix-cache-scorer", 3), ("queue-scorer", 2), ("kv-cache-utilization-scorer", 2))


def data_plugins(tls: bool) -> list[dict[str, Any]]:
    """Reads each pod's vLLM metrics (queue, KV-cache usage) for the scorers: at the pool's target
    port, so through the sidecar on decode pods of a split model (it passes /metrics to vLLM)
    and from vLLM on prefill pods; one scheme for all, so with TLS every pod serves HTTPS."""
    return [
        {"type": "metrics-data-source", "parameters": serving_tls.metrics_source(tls)},
        {"type": "core-metrics-extractor"},
    ]


# Prefill on a prefill pod only when the prompt has more uncached tokens than this; shorter ones
# decode in place (the split costs a KV transfer).
PD_NON_CACHED_TOKENS = 16


def _profile(name: str, role_filter: str) -> dict[str, Any]:
    plugins = [{"pluginRef": role_filter}, {"pluginRef": "max-score-picker"}]
    plugins += [{"pluginRef": scorer, "weight": weight} for scorer, weight in SCORERS]
    return {"name": name, "plugins": plugins}


def scheduler_config(model: ModelSpec, tls: bool = False) -> dict[str, Any]:
    """llm-d's EndpointPickerConfig: prefix-cache and load aware; with disaggregation, a prefill
    profile and a decode profile and the decider that picks when to split; `tls`: the pods
    serve HTTPS (its only calls to them are the metrics scrapes)."""
    plugins: list[dict[str, Any]] = [{"type": name} for name, _ in SCORERS]
    plugins += [{"type": "decode-filter"}, {"type": "max-score-picker"}, *data_plugins(tls)]
    doc: dict[str, Any] = {"apiVersion": "inference.networking.x-k8s.io/v1alpha1", "kind": "EndpointPickerConfig"}
    if model.disaggregation is None:
        plugins.append({"type": "single-profile-handler"})
        doc |= {"plugins": plugins, "schedulingProfiles": [_profile("default", "decode-filter")]}
        return doc
    plugins += [
        {"type": "prefill-filter"},
        # Tells the decode pod's sidecar which prefill pod holds the prompt.
        {"type": "disagg-headers-handler"},
        {"type": "prefix-based-pd-decider", "parameters": {"nonCachedTokens": PD_NON_CACHED_TOKENS}},
        {"type": "disagg-profile-handler", "parameters": {"deciders": {"prefill": "prefix-based-pd-decider"}}},
    ]
    doc |= {
        "featureGates": ["prepareDataPlugins"],
        "plugins": plugins,
        "schedulingProfiles": [_profile("prefill", "prefill-filter"), _profile("decode", "decode-filter")],
    }
    return doc


def pool_values(model: ModelSpec, facts: dict[str, Any], tls: bool = False) -> dict[str, Any]:
    """inferencepool chart values for an llm-d model: llm-d's scheduler image and config, and
    the pods it serves from; `tls`: they serve HTTPS."""
    cfg = settings()
    return {
        "inferencePool": {
            "modelServers": {"matchLabels": serving_selector(model, facts)},
            "targetPorts": [{"number": cfg["port"]}],
        },
        "inferenceExtension": {
            "image": dict(cfg["scheduler"]),
            "pluginsCustomConfig": {SCHEDULER_FILE: yaml.safe_dump(scheduler_config(model, tls), sort_keys=False)},
        },
    }
