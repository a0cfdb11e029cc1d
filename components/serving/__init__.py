"""Renderers of model-serving manifests, one module per engine."""
