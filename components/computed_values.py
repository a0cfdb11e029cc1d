"""Helm values that depend on ClusterFacts or config rather than on the catalog alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Facts = dict[str, Any]


def _external_secrets(facts: Facts) -> dict[str, Any]:
    identity = facts["secretStore"]["identity"]
    if facts["secretStore"]["backend"] == "gcp-secret-manager" and identity:
        # Workload identity: the controller's KSA impersonates the substrate's GSA; no key file.
        return {"serviceAccount": {"annotations": {"iam.gke.io/gcp-service-account": identity}}}
    return {}


# Control-plane scrape jobs kube-prometheus-stack cannot reach, per substrate. A job with no
# target fires its absent()/Down alert forever (its rules are gated on the same switch:
# templates/prometheus/rules-1.14/*.yaml test `<component>.enabled` and `defaultRules.rules.*`).
# gke: managed control plane (no controller manager, scheduler or etcd to scrape), and
#   Dataplane V2 (the substrate's ADVANCED_DATAPATH) runs no kube-proxy.
# hetzner: k3s runs controller manager, scheduler and kube-proxy inside its one process,
#   bound to 127.0.0.1, and a single server keeps its state in SQLite, not etcd.
# kind, vks: kubeadm's defaults bind controller manager, scheduler, etcd metrics and
#   kube-proxy metrics to 127.0.0.1 on the node.
# existing: unknown; the chart's defaults stay, overridable per stack.
UNREACHABLE: dict[str, tuple[str, ...]] = {
    "gke": ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"),
    "hetzner": ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"),
    "kind": ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"),
    "vks": ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"),
}
# The default rule groups of each job (defaultRules.rules keys in the chart's values.yaml).
RULES = {
    "kubeControllerManager": ("kubeControllerManager",),
    "kubeScheduler": ("kubeSchedulerAlerting", "kubeSchedulerRecording"),
    "kubeEtcd": ("etcd",),
    "kubeProxy": ("kubeProxy",),
}


def _kube_prometheus_stack(facts: Facts) -> dict[str, Any]:
    claim = {
        "spec": {
            "storageClassName": facts["storageClass"],
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "50Gi"}},
        }
    }
    values: dict[str, Any] = {"prometheus": {"prometheusSpec": {"storageSpec": {"volumeClaimTemplate": claim}}}}
    off = UNREACHABLE.get(facts["substrate"], ())
    for job in off:
        values[job] = {"enabled": False}
    if off:
        values["defaultRules"] = {"rules": {rule: False for job in off for rule in RULES[job]}}
    if facts["substrate"] == "gke":
        # GKE serves cluster DNS with kube-dns (metrics on 10054/10055), not CoreDNS (9153).
        values["coreDns"] = {"enabled": False}
        values["kubeDns"] = {"enabled": True}
    return values


# k3s runs its own containerd: the toolkit must edit k3s' config and talk to k3s' socket.
K3S_TOOLKIT_ENV = [
    {"name": "CONTAINERD_CONFIG", "value": "/var/lib/rancher/k3s/agent/etc/containerd/config.toml"},
    {"name": "CONTAINERD_SOCKET", "value": "/run/k3s/containerd/containerd.sock"},
]


def _gpu_operator(facts: Facts) -> dict[str, Any]:
    values: dict[str, Any] = {}
    # Operand daemonsets must tolerate the GPU pools' taints to land on GPU nodes.
    pools = facts["gpuPools"]
    tolerations = [
        {"key": t["key"], "operator": "Exists", "effect": t["effect"]}
        for t in {(t["key"], t["effect"]): t for p in pools for t in p["taints"]}.values()
    ]
    if tolerations:
        values["daemonsets"] = {"tolerations": tolerations}
    if facts.get("substrate") == "hetzner":
        values["toolkit"] = {"env": K3S_TOOLKIT_ENV}
    vgpu = facts.get("vgpuDriver")
    if vgpu:
        values["driver"] = _vgpu_driver(vgpu)
    return values


def _vgpu_driver(vgpu: dict[str, Any]) -> dict[str, Any]:
    """vGPU VMs run NVIDIA's licensed vGPU guest driver, pulled from a private registry with a pull
    secret and licensed through NLS with a Secret holding gridd.conf and the client token. Both
    Secrets come from the secrets backend; only their names are here."""
    return {
        "repository": vgpu["repository"],
        "image": vgpu["image"],
        "version": vgpu["version"],
        "imagePullSecrets": [vgpu["pullSecret"]],
        # secretName supersedes the deprecated configMapName in the pinned operator.
        "licensingConfig": {"secretName": vgpu["licensingSecret"], "nlsEnabled": True},
    }


def _hcloud_ccm(facts: Facts) -> dict[str, Any]:
    # The hcloud network is named after the cluster; load balancers go where the servers are.
    env = {"HCLOUD_NETWORK": {"value": facts.get("clusterName")}}
    if facts.get("cloudLocation"):
        env["HCLOUD_LOAD_BALANCERS_LOCATION"] = {"value": facts["cloudLocation"]}
    return {"env": env}


def _tyk_redis(facts: Facts) -> dict[str, Any]:
    # Tyk's store keeps its keys and counters on the substrate's default class.
    return {"dataStorage": {"className": facts["storageClass"]}}


COMPUTED: dict[str, Callable[[Facts], dict[str, Any]]] = {
    "external-secrets": _external_secrets,
    "kube-prometheus-stack": _kube_prometheus_stack,
    "gpu-operator": _gpu_operator,
    "hcloud-ccm": _hcloud_ccm,
    "tyk-redis": _tyk_redis,
}


def computed_values(component: str, facts: Facts) -> dict[str, Any]:
    fn = COMPUTED.get(component)
    return fn(facts) if fn else {}


# --- LiteLLM (llm-gateway layer): values from the models and the database, not ClusterFacts alone.

# LiteLLM refuses requests it cannot account for: each is the documented general_settings key of
# LiteLLM 1.109 (litellm/proxy/_types.py ConfigGeneralSettings; read in proxy_server.py and
# auth/user_api_key_auth.py), set explicitly so a changed upstream default cannot open the gate.
FAIL_CLOSED = {
    # A database outage fails authentication instead of issuing a fallback identity.
    "allow_requests_on_db_unavailable": False,
    # When spend cannot be verified against the database, the request gets 503, not a pass.
    "fail_closed_budget_enforcement": True,
    # Concurrent requests reserve budget before they run, so a burst cannot overspend.
    "disable_budget_reservation": False,
    # Spend is written to keys, teams and the ledger.
    "disable_spend_updates": False,
    "disable_spend_logs": False,
    # Monthly budgets reset.
    "disable_reset_budget": False,
}


def _served(model: Any) -> list[tuple[str, str, str]]:
    """(name clients call, name the server serves, task) for a model and its adapters."""
    from components.gateway import names

    return [(model.name, model.name, model.task)] + [
        (a.name, names.served_name(model, a.name), model.task) for a in model.adapters
    ]


def litellm_model_list(cfg: Any, facts: Facts) -> list[dict[str, Any]]:
    """One LiteLLM deployment per text/embedding model and LoRA adapter: through the Gateway,
    or KubeAI's proxy for engine kubeai."""
    from components.gateway import names

    entries = []
    for model in cfg.models:
        if model.task not in ("text", "embedding"):
            continue
        # Adapters are routed by name through their base model's pool: the base model's route.
        base = names.model_base_url(model, facts, tls=cfg.gateway.tls.enabled)
        for name, served, task in _served(model):
            entry: dict[str, Any] = {
                "model_name": name,
                # hosted_vllm/: LiteLLM's provider for vLLM's OpenAI API; it needs no API key
                # (litellm/llms/hosted_vllm), so none is invented and none sits in the values.
                "litellm_params": {"model": f"hosted_vllm/{served}", "api_base": base},
            }
            if task == "embedding":
                entry["model_info"] = {"mode": "embedding"}
            entries.append(entry)
    return entries


def litellm_values(cfg: Any, facts: Facts, database: dict[str, Any], master_key: dict[str, str]) -> dict[str, Any]:
    """LiteLLM chart values computed from the stack: models, database, master key, replicas."""
    router: dict[str, Any] = {}
    if cfg.litellm.aliases:
        router["model_group_alias"] = dict(cfg.litellm.aliases)
    if cfg.litellm.fallbacks:
        router["fallbacks"] = [{model: list(targets)} for model, targets in cfg.litellm.fallbacks.items()]
    proxy_config: dict[str, Any] = {
        "model_list": litellm_model_list(cfg, facts),
        "litellm_settings": {
            # LiteLLM's Prometheus metrics (open source, no licence check in 1.109).
            "callbacks": ["prometheus"],
            # /metrics without a key: the NetworkPolicy lets only Prometheus, Tyk and the tenant
            # reconciler reach the port, and the metrics carry names and counts, never keys.
            "require_auth_for_metrics_endpoint": False,
        },
        "general_settings": {"master_key": "os.environ/PROXY_MASTER_KEY", **FAIL_CLOSED},
    }
    if router:
        proxy_config["router_settings"] = router
    replicas = 1 if facts["substrate"] == "kind" else 2
    # The chart's monolith is configured through its `gateway.*` values (helm/litellm 1.0.0).
    gateway: dict[str, Any] = {"replicaCount": replicas, "config": {"create": True, "proxy_config": proxy_config}}
    if replicas > 1:
        # A node drain never takes every LiteLLM replica at once.
        gateway["pdb"] = {"enabled": True, "minAvailable": 1}
    return {
        "gateway": gateway,
        "masterKey": {"secretName": master_key["name"], "secretKey": master_key["key"], "generate": False},
        # The chart emits DATABASE_HOST/PORT/NAME and DATABASE_USER/PASSWORD from the Secret's
        # keys; the image's entrypoint and migrations/run.py build DATABASE_URL from them.
        "database": {
            "writer": {
                "host": database["host"],
                "port": database["port"],
                "dbname": database["database"],
                "passwordSecret": {
                    "name": database["secret"],
                    "usernameKey": database["username_key"],
                    "passwordKey": database["password_key"],
                },
            }
        },
    }
