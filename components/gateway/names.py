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
TYK_SERVICE = "tyk-gateway"
TYK_PORT = 8080


def model_url(model: str, facts: dict[str, Any]) -> str:
    """The OpenAI base URL (ending in /v1) at which LiteLLM reaches `model` through the Gateway."""
    raise NotImplementedError("set by the routing renderer")


def litellm_url() -> str:
    return f"http://{LITELLM_SERVICE}.{NAMESPACE}.svc.cluster.local:{LITELLM_PORT}"
