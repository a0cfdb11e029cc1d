"""Helm values merging: catalog base <- values computed from facts <- stack overrides."""

from __future__ import annotations

import copy
from typing import Any


def deep_merge(*layers: dict[str, Any]) -> dict[str, Any]:
    """Merge mappings left to right; later layers win, nested mappings merge, lists replace."""
    out: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = deep_merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out
