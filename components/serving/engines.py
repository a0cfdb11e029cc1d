"""Serving engines: which renderer turns a ModelSpec into the objects of its Application.

Each engine module renders plain objects for one model into the serving namespace; the
layer code only looks the engine up here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from components.config.modelspec import RENDERED_ENGINES, ModelSpec
from components.serving.kserve import render_kserve
from components.serving.kubeai import render_kubeai
from components.serving.llmd import render_llmd
from components.serving.serving_tls import ServingTls
from components.serving.vllm import render_vllm

Renderer = Callable[[ModelSpec, dict[str, Any], str], list[dict[str, Any]]]

RENDERERS: dict[str, Renderer] = {
    "vllm": render_vllm,
    "kserve": render_kserve,
    "kubeai": render_kubeai,
    "llm-d": render_llmd,
}


def render_model(
    model: ModelSpec, facts: dict[str, Any], namespace: str, tls: ServingTls | None = None, pooled: bool = False
) -> list[dict[str, Any]]:
    """Every object `model` needs, for its engine; `tls` and `pooled` (serving_tls.py) only for
    raw vLLM and llm-d, whose pods and policy the platform renders itself."""
    if model.engine == "vllm":
        return render_vllm(model, facts, namespace, tls, pooled)
    if model.engine == "llm-d":
        return render_llmd(model, facts, namespace, tls, pooled)
    return RENDERERS[model.engine](model, facts, namespace)


def check_registry() -> None:
    """The engines the config accepts are exactly the ones rendered here."""
    if set(RENDERERS) != set(RENDERED_ENGINES):
        raise RuntimeError(f"engines rendered {sorted(RENDERERS)} differ from the config's {sorted(RENDERED_ENGINES)}")
