"""The llm-gateway layer's children: certificates (TLS on every hop), routing (Gateway API,
Inference Extension), LiteLLM, Tyk.

Sync waves inside the layer: CRDs and operators, then gateways, then routes and tenants.
"""

from __future__ import annotations

from typing import Any

from components.config import StackConfig
from components.gateway import litellm, pki, routing, tyk

PARTS = (pki, routing, litellm, tyk)
CLUSTER_KINDS = [kind for part in PARTS for kind in part.CLUSTER_KINDS]


def gateway_children(cfg: StackConfig, facts: dict[str, Any]) -> list[dict[str, Any]]:
    return [child for part in PARTS for child in part.children(cfg, facts)]
