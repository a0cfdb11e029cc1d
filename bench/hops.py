"""Where a benchmark's requests enter the request path, read from the stack's config alone:
the URL, the namespace the Job runs in, the CA it trusts, the key it sends, and the stack's
NetworkPolicies that would not admit it (the Job brings a temporary one for each).

  pods     the model's Service in the serving namespace (engine vllm): no gateway, no router
  pool     the Gateway's URL for the model: its HTTPRoute, InferencePool and endpoint picker
  litellm  LiteLLM with a tenant's virtual key, then the Gateway
  edge     Tyk with a tenant's Tyk key: the whole path a tenant's request takes

pool, litellm and edge run in the llm-gateway namespace: the layer's CA Secret and the tenants'
key Secrets live there, and a pod can mount only Secrets of its own namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.spec import HOPS, Target, pods_target

# Chat and embeddings: what LiteLLM lists (speech models are not in its model list).
LITELLM_TASKS = ("text", "embedding")
# Where each hop's key sits in its tenant's Secret (written by the tenant reconciler).
KEY_SECRETS = {"litellm": "tenant-{}-litellm-key", "edge": "tenant-{}-key"}
KEY_ITEM = "key"


@dataclass(frozen=True)
class Admission:
    """Pods whose NetworkPolicy does not admit the benchmark pod, and the port it calls them on."""

    what: str
    pods: tuple[tuple[str, str], ...]
    port: int

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.pods)


@dataclass(frozen=True)
class Route:
    """How one hop is reached from a Job."""

    target: Target
    namespace: str
    # The CA certificate (Secret, item) that verifies the hop, when it serves TLS.
    ca: tuple[str, str] | None = None
    # The Secret and item holding the key the tool sends (`Authorization: Bearer`).
    key: tuple[str, str] | None = None
    tenant: str | None = None
    admissions: tuple[Admission, ...] = ()


def gateway_facts(cfg: Any) -> dict[str, Any]:
    """The ClusterFacts the Gateway's URL depends on, derived from config as the substrates do."""
    substrate = cfg.substrate
    if substrate.kind == "gke":
        from substrate.gke.cluster import GATEWAY_CLASS
        from substrate.gke.values import gateway_address

        return {"gatewayClass": GATEWAY_CLASS, "gatewayAddress": gateway_address(substrate.node_cidr)}
    if substrate.kind == "existing":
        return {"gatewayClass": substrate.gateway_class or "istio", "gatewayAddress": substrate.gateway_address}
    return {"gatewayClass": "istio", "gatewayAddress": None}


def _refuse(hop: str, model: str, why: str) -> ValueError:
    return ValueError(f"hop {hop!r} cannot benchmark model {model!r}: {why}")


def _needs_layer(cfg: Any, hop: str, model: Any, components: tuple[str, ...]) -> None:
    if "llm-gateway" not in cfg.layers:
        raise _refuse(
            hop,
            model.name,
            f"it needs the llm-gateway layer, which profile {cfg.profile!r} does not include "
            "(profiles llm-gateway and full do)",
        )
    for component in components:
        if not cfg.enabled(component):
            raise _refuse(hop, model.name, f"component {component!r} is turned off (components.{component}.enabled)")


def choose_tenant(cfg: Any, hop: str, model: Any, name: str | None) -> str:
    """The tenant whose key the run sends: the one named, else the first allowed the model."""
    tenants = {t.name: t for t in cfg.tenants}
    if not tenants:
        raise _refuse(hop, model.name, f"the stack has no tenants; add one allowed {model.name!r} to `tenants`")
    if name is not None:
        if name not in tenants:
            raise _refuse(hop, model.name, f"the stack has no tenant {name!r}; its tenants: {', '.join(tenants)}")
        if model.name not in tenants[name].models:
            allowed = ", ".join(tenants[name].models)
            raise _refuse(hop, model.name, f"tenant {name!r} is not allowed it (its models: {allowed})")
        return name
    for tenant in cfg.tenants:
        if model.name in tenant.models:
            return tenant.name
    listed = "; ".join(f"{t.name}: {', '.join(t.models)}" for t in cfg.tenants)
    raise _refuse(hop, model.name, f"no tenant is allowed it ({listed})")


def pods_route(cfg: Any, model: Any) -> Route:
    from components.serving import serving_tls
    from components.serving.vllm import selector as vllm_selector
    from components.serving.vllm import settings

    if model.engine != "vllm":
        # Only engine vllm renders a ClusterIP Service named after the model (serving/vllm.py);
        # KServe, llm-d and KubeAI put their own objects, named and placed their own way, in front.
        raise _refuse(
            "pods",
            model.name,
            f"engine {model.engine} has no Service of the platform's in front of its pods (engine vllm's "
            "`<model>` Service is what this hop calls): benchmark it through --hop pool or --hop litellm",
        )
    serving = settings()
    # The model's pods serve HTTPS when the Gateway reaches them so; the model's own Secret
    # (serving namespace, where the Job runs) carries the CA that signed their certificate.
    tls = serving_tls.for_model(cfg, gateway_facts(cfg), model) is not None
    admissions: tuple[Admission, ...] = ()
    if serving_tls.behind_pool(cfg, model):
        # A pooled model admits the Gateway, its EPP and Prometheus only (vllm.network_policy).
        admissions = (Admission("model", tuple(vllm_selector(model).items()), serving["port"]),)
    return Route(
        pods_target(model.name, serving["namespace"], serving["port"], tls),
        serving["namespace"],
        ca=(serving_tls.secret_name(model.name), serving_tls.CA_KEY) if tls else None,
        admissions=admissions,
    )


def pool_route(cfg: Any, model: Any) -> Route:
    from components.gateway import names, pki, routing

    _needs_layer(cfg, "pool", model, ("inferencepool",))
    if model.task != "text":
        why = f"the Gateway pools text models only, and it has task {model.task!r}"
        if model in routing.service_routed_models(cfg):
            owner = "KServe's Service" if model.engine == "kserve" else "the model's Service"
            why += f" (its HTTPRoute goes straight to {owner}, without a pool: --hop litellm)"
        raise _refuse("pool", model.name, why)
    if model not in routing.text_models(cfg):
        raise _refuse(
            "pool",
            model.name,
            f"engine {model.engine} models are routed by KubeAI's own proxy, not the Gateway (--hop litellm)",
        )
    facts = gateway_facts(cfg)
    tls = pki.enabled(cfg)
    admissions: tuple[Admission, ...] = ()
    if routing.own_istio(facts):
        # Istio's Gateway pods admit LiteLLM only (routing.gateway_network_policy). A managed
        # Gateway (GKE) is a load balancer outside the pod network; a cluster's own implementation
        # is its own to label: neither has a policy of the platform's to open.
        pods = {routing.GATEWAY_POD_LABEL: names.GATEWAY}
        port = routing.HTTPS_PORT if tls else routing.HTTP_PORT
        admissions = (Admission("gateway", tuple(pods.items()), port),)
    return Route(
        Target("pool", names.model_url(model.name, facts, tls), model.name),
        names.NAMESPACE,
        ca=(pki.CA, pki.CA_KEY) if tls else None,
        admissions=admissions,
    )


def tenant_route(cfg: Any, model: Any, hop: str, tenant: str | None) -> Route:
    from components.gateway import litellm, names, pki, tyk_shared

    _needs_layer(cfg, hop, model, ("litellm",))
    if not cfg.enabled("tyk"):
        why = "component 'tyk' is turned off (components.tyk.enabled)"
        if hop == "litellm":
            # The tenant reconciler, which writes the tenants' LiteLLM keys, is part of Tyk's children.
            why += ", and with it the tenant reconciler that writes the tenants' LiteLLM keys"
        raise _refuse(hop, model.name, why)
    if model.task not in LITELLM_TASKS:
        raise _refuse(hop, model.name, f"LiteLLM lists text and embedding models only, and it has task {model.task!r}")
    chosen = choose_tenant(cfg, hop, model, tenant)
    tls = pki.enabled(cfg)
    if hop == "litellm":
        url = names.litellm_url(tls)
        # LiteLLM admits Tyk, the tenant reconciler and Prometheus only (litellm.litellm_policy).
        port = names.LITELLM_TLS_PORT if tls else names.LITELLM_PORT
        admissions: tuple[Admission, ...] = (Admission("litellm", tuple(litellm.LITELLM_POD.items()), port),)
    else:
        # Tyk is the edge: its policy admits every source on its port already.
        url = tyk_shared.tyk_url(tls)
        admissions = ()
    return Route(
        # LiteLLM lists the model under its ModelSpec name (computed_values.litellm_model_list).
        Target(hop, url, model.name),
        names.NAMESPACE,
        ca=(pki.CA, pki.CA_KEY) if tls else None,
        key=(KEY_SECRETS[hop].format(chosen), KEY_ITEM),
        tenant=chosen,
        admissions=admissions,
    )


def route(cfg: Any, model: Any, hop: str, tenant: str | None = None) -> Route:
    """How `hop` reaches `model` on this stack; a ValueError says what is missing."""
    if hop not in HOPS:
        raise ValueError(f"unknown hop {hop!r}; hops: {', '.join(HOPS)}")
    if tenant is not None and hop not in KEY_SECRETS:
        raise ValueError(f"--tenant applies to hops litellm and edge, not {hop!r}")
    if hop == "pods":
        return pods_route(cfg, model)
    if hop == "pool":
        return pool_route(cfg, model)
    return tenant_route(cfg, model, hop, tenant)
