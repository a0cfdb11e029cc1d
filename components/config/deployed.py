"""Which catalog components a stack deploys, and which ones what it deploys relies on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.catalog import CatalogEntry

if TYPE_CHECKING:
    from components.config.stack import StackConfig


def gpu_stack(substrate: Any) -> str:
    """How GPUs are driven on a substrate: the gpu_stack its ClusterFacts report."""
    if substrate.kind == "gke":
        return "gke-managed"
    if substrate.kind == "hetzner":
        return "operator" if substrate.gpu_pools else "none"
    if substrate.kind == "vks":
        return "operator"
    if substrate.kind == "existing":
        return substrate.gpu_stack
    return "none"


def needed_components(cfg: StackConfig) -> dict[str, tuple[str, str]]:
    """Component -> (what on this stack relies on it, the other way out than keeping it)."""
    names = ", ".join(m.name for m in cfg.models)
    needs: dict[str, tuple[str, str]] = {}
    # KubeAI scales its models itself (its proxy's in-flight requests): they need no KEDA.
    keda_scaled = ", ".join(m.name for m in cfg.models if m.engine != "kubeai")
    if keda_scaled:
        needs["keda"] = (f"models ({keda_scaled}) scale on queue depth through KEDA ScaledObjects", "serve no models")
        needs["kube-prometheus-stack"] = (
            f"models ({names}) are scraped through PodMonitors and their ScaledObjects read "
            "vllm:num_requests_waiting from its Prometheus",
            "serve no models",
        )
    backend = cfg.secrets.backend
    if backend == "external-secrets":
        needs["external-secrets"] = ("secrets.backend is 'external-secrets'", "choose another secrets.backend")
    sops_users = [f"models[{i}].hfTokenSecret" for i, m in enumerate(cfg.models) if m.hf_token_secret]
    if cfg.sops_age_key is not None:
        sops_users.insert(0, "sopsAgeKey")
    if backend == "sops" and sops_users:
        needs["sops-secrets-operator"] = (
            f"secrets.backend is 'sops' and {', '.join(sops_users)} rely on it to decrypt secrets in the cluster",
            "choose another secrets.backend",
        )
    return needs


def not_deployed(cfg: StackConfig, entry: CatalogEntry) -> str | None:
    """Why this stack never deploys `entry` whatever its `enabled` says, or None."""
    if entry.layer not in cfg.layers:
        return f"it is in layer {entry.layer!r}, which profile {cfg.profile!r} does not include"
    if entry.name == "tyk-pump" and not cfg.enabled("tyk"):
        # The pump only drains Tyk's analytics records (components/gateway/tyk_pump.py).
        return "it drains Tyk's analytics records, and tyk is turned off (components.tyk.enabled: false)"
    unmet = entry.unmet(cfg.gpu_stack, cfg.secrets.backend, cfg.substrate.kind, cfg.engines)
    if unmet is None:
        return None
    key, has = unmet
    label = {
        "gpuStack": f"gpuStack (substrate {cfg.substrate.kind})",
        "secretsBackend": "secrets.backend",
        "substrate": "substrate.kind",
        "engine": "models' engines",
    }[key]
    allowed = entry.when[key]
    return f"it is deployed only where {key} is {' or '.join(allowed)}, and this stack's {label} is {has!r}"
