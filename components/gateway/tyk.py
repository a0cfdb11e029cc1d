"""The llm-gateway layer's tyk part."""

from __future__ import annotations

from typing import Any

from components.config import StackConfig

# Cluster-scoped kinds this part's charts and manifests create.
CLUSTER_KINDS: list[dict[str, str]] = []


def children(cfg: StackConfig, facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Child Applications of the llm-gateway root for this part."""
    return []
