"""Plain ClusterFacts (as ClusterFacts.plain() returns them) for renderer tests."""

from __future__ import annotations

from typing import Any

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def gke_facts(gpus_per_node: int = 1) -> dict[str, Any]:
    return {
        "substrate": "gke",
        "gpuStack": "gke-managed",
        "gpuPools": [
            {
                "name": "l4",
                "accelerator": "nvidia-l4",
                "count": gpus_per_node,
                "labels": {"cloud.google.com/gke-accelerator": "nvidia-l4"},
                "taints": [GPU_TAINT],
            }
        ],
        "storageClass": "standard-rwo",
        "storageShared": False,
        "gatewayClass": "gke-l7-rilb",
        "gatewayAddress": "10.10.15.253",
        "gatewayAddressName": "inference-gw-inference-gateway",
        "gatewaySourceRanges": ["10.11.0.0/23"],
        "secretStore": {
            "backend": "gcp-secret-manager",
            "project": "p-123456",
            "identity": "eso@p-123456.iam.gserviceaccount.com",
        },
    }


def operator_facts() -> dict[str, Any]:
    no_store = {"backend": "none", "project": None, "identity": None}
    return gke_facts() | {
        "substrate": "existing",
        "gpuStack": "operator",
        "secretStore": no_store,
        # Where the platform runs its own Gateway (Istio), reached by its Service.
        "gatewayClass": "istio",
        "gatewayAddress": None,
        "gatewayAddressName": None,
        "gatewaySourceRanges": [],
    }


def kind_facts() -> dict[str, Any]:
    """The local kind cluster: no GPU stack, its standard storage class, Istio's Gateway."""
    return operator_facts() | {"substrate": "kind", "gpuStack": "none", "storageClass": "standard"}


# A kind stack with no secrets backend and the llm-gateway layer: the base config each test
# module extends with its own models, tenants and settings.
KIND_GATEWAY_STACK: dict[str, Any] = {
    "substrate": {"kind": "kind"},
    "secrets": {"backend": "none"},
    "profile": "llm-gateway",
}
