"""The objects a chart renders from the platform's values, for the charts whose output the
platform's own objects depend on: written from the chart's templates at the pinned version,
so the rendered custom resource can be validated strictly like the platform's own objects.

No Helm runs here; each function follows one template line by line and names it.
"""

from __future__ import annotations

from typing import Any


class ChartError(ValueError):
    """The chart's own `fail` would stop the render."""


def _epp_name(release: str) -> str:
    # config/charts/epplib/templates/_helpers.tpl `gateway-api-inference-extension.name`.
    return f"{release.lower().strip()[:40]}-epp"


def inference_pool(release: str, namespace: str, values: dict[str, Any]) -> dict[str, Any]:
    """The InferencePool of the `inferencepool` chart v1.5.0
    (config/charts/inferencepool/templates/inferencepool.yaml and _validations.tpl)."""
    pool = values.get("inferencePool") or {}
    servers = pool.get("modelServers") or {}
    if not servers.get("matchLabels"):
        raise ChartError(".Values.inferencePool.modelServers.matchLabels is required")
    spec: dict[str, Any] = {"targetPorts": [{"number": p["number"]} for p in pool.get("targetPorts", [])]}
    protocol = pool.get("modelServerProtocol", "http")
    if protocol == "grpc":
        spec["appProtocol"] = "kubernetes.io/h2c"
    elif protocol == "http":
        spec["appProtocol"] = "http"
    # The template quotes every label value.
    spec["selector"] = {"matchLabels": {k: str(v) for k, v in servers["matchLabels"].items()}}
    extension = values.get("inferenceExtension") or {}
    spec["endpointPickerRef"] = {
        "name": _epp_name(release),
        "port": {"number": extension.get("extProcPort") or 9002},
        "failureMode": extension.get("failureMode") or "FailOpen",
    }
    return {
        "apiVersion": "inference.networking.k8s.io/v1",
        "kind": "InferencePool",
        "metadata": {
            "name": release,
            "namespace": namespace,
            # `gateway-api-inference-extension.labels` (appVersion of the v1.5.0 chart omitted).
            "labels": {"app.kubernetes.io/name": _epp_name(release)},
        },
        "spec": spec,
    }
