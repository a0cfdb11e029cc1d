"""Names and addresses the llm-gateway layer's parts use to find one another.

One place, so the routing, LiteLLM and Tyk renderers agree on every hop of the request path:
client -> Tyk -> LiteLLM -> Gateway (+ endpoint picker) -> model servers.
"""

from __future__ import annotations

from typing import Any

# Gateway, LiteLLM, Tyk and their stores run here; model servers stay in the serving namespace.
NAMESPACE = "llm-gateway"
GATEWAY = "inference-gateway"
LITELLM_SERVICE = "litellm"
LITELLM_PORT = 4000
# With TLS on (gateway.tls), LiteLLM's pods serve TLS on this port (a TLS sidecar in front of
# LiteLLM's own plain port, which no other pod may reach) behind a Service of its own.
LITELLM_TLS_SERVICE = "litellm-tls"
LITELLM_TLS_PORT = 4443
TYK_SERVICE = "tyk-gateway"
TYK_PORT = 8080
# Pod labels each hop's NetworkPolicy selects the previous hop by (set by the charts' values
# or by the renderers; one definition, so a policy never selects pods that carry other labels).
LITELLM_POD = {"app.kubernetes.io/name": "litellm"}
TYK_POD = {"app.kubernetes.io/name": "tyk-gateway"}
RECONCILER_POD = {"app.kubernetes.io/name": "tenant-reconciler"}


# The class of the Istio the layer installs where the substrate has no managed Gateway.
ISTIO_CLASS = "istio"


def gateway_host(facts: dict[str, Any]) -> str:
    """Where in-cluster clients reach the Gateway: the substrate's address (GKE's reserved
    internal address, or an existing cluster's), else the Service Istio creates for it."""
    if facts.get("gatewayAddress"):
        return facts["gatewayAddress"]
    if facts.get("gatewayClass") == ISTIO_CLASS:
        # Istio names a Gateway's Service `<gateway>-<class>`.
        return f"{GATEWAY}-{ISTIO_CLASS}.{NAMESPACE}.svc.cluster.local"
    raise ValueError(f"gateway class {facts.get('gatewayClass')!r} has no known address: set substrate.gatewayAddress")


def gateway_tls_host(facts: dict[str, Any]) -> str:
    """The host LiteLLM names when it calls the Gateway over TLS (the Gateway's certificate is
    issued for it): the substrate's address without a port (the HTTPS listener is on 443)."""
    host = gateway_host(facts)
    if host.startswith("["):
        return host[1 : host.index("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def path_prefix(model: str) -> str:
    """The Gateway path under which a model's HTTPRoute matches (removed before the model server)."""
    return f"/{model}"


def model_url(model: str, facts: dict[str, Any], tls: bool = False) -> str:
    """The OpenAI base URL (ending in /v1) at which LiteLLM reaches `model` through the Gateway:
    with `tls`, its HTTPS listener on 443.

    `model` is a ModelSpec name; its LoRA adapters share its URL (the request body's `model`
    field names the adapter)."""
    if tls:
        host = gateway_tls_host(facts)
        return f"https://{f'[{host}]' if ':' in host else host}{path_prefix(model)}/v1"
    return f"http://{gateway_host(facts)}{path_prefix(model)}/v1"


def model_base_url(model: Any, facts: dict[str, Any], tls: bool = False) -> str:
    """Where LiteLLM reaches a ModelSpec: KubeAI's own OpenAI proxy for engine kubeai (KubeAI
    routes, balances and scales its models itself), else the Gateway."""
    if model.engine == "kubeai":
        from components.serving import kubeai

        return kubeai.proxy_url()
    return model_url(model.name, facts, tls)


def served_name(model: Any, adapter: str | None = None) -> str:
    """The `model` a request to the model server names: the model, or one of its adapters
    (KubeAI names an adapter `<model>_<adapter>`; vLLM by the adapter's own name)."""
    if adapter is None:
        return model.name
    if model.engine == "kubeai":
        from components.serving import kubeai

        return f"{model.name}{kubeai.ADAPTER_SEPARATOR}{adapter}"
    return adapter


def litellm_url(tls: bool = False) -> str:
    """Where Tyk and the tenant reconciler call LiteLLM."""
    if tls:
        return f"https://{LITELLM_TLS_SERVICE}.{NAMESPACE}.svc.cluster.local:{LITELLM_TLS_PORT}"
    return f"http://{LITELLM_SERVICE}.{NAMESPACE}.svc.cluster.local:{LITELLM_PORT}"
