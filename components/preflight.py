"""Refuse, before the substrate registers anything, a stack whose objects would not fit etcd.

The real check runs again in the bootstrap with the substrate's ClusterFacts. This one runs
from config alone, so that `pulumi up` never starts a cluster it would then fail to fill:
it renders every layer with stand-in facts that are at least as large as any substrate's,
and refuses with a margin for what the stand-ins cannot know.
"""

from __future__ import annotations

from typing import Any

from components.config import StackConfig
from components.layers import build_layers
from components.shards import KIB, check_children

# What real facts may add to one child beyond the stand-ins (longer label values, names).
FACTS_MARGIN = 2 * KIB
_LONG = "x" * 63
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def sizing_facts(cfg: StackConfig, storage_shared: bool = False) -> dict[str, Any]:
    """Plain ClusterFacts built from config alone, sized generously."""
    pools = [
        {
            "name": p.name,
            "accelerator": p.accelerator,
            "count": p.count,
            # Substrates select a pool by one or two labels of their own, or by the labels given.
            "labels": dict(p.labels)
            or {"inference-platform/gpu-pool": p.name, "cloud.google.com/gke-accelerator": p.accelerator},
            "taints": [GPU_TAINT],
        }
        for p in getattr(cfg.substrate, "gpu_pools", [])
    ]
    return {
        "clusterName": cfg.substrate.cluster_name,
        "substrate": cfg.substrate.kind,
        "gpuStack": cfg.gpu_stack,
        "gpuPools": pools,
        "storageClass": getattr(cfg.substrate, "storage_class", _LONG),
        "storageShared": storage_shared,
        "loadBalancerClass": None,
        # The platform's own Istio: the most children the llm-gateway layer can have.
        "gatewayClass": "istio",
        "gatewayAddress": None,
        "gatewayAddressName": None,
        "gatewaySourceRanges": [],
        "dnsProvider": None,
        "secretStore": {"backend": "gcp-secret-manager", "project": _LONG, "identity": f"{_LONG}@{_LONG}"},
    }


def check_object_sizes(cfg: StackConfig) -> None:
    """Raise ScaleError if some object the stack would apply cannot fit etcd."""
    for shared in (False, True):
        for layer in build_layers(cfg, sizing_facts(cfg, shared), {cfg.argocd.namespace}):
            check_children(layer.name, layer.children, margin=FACTS_MARGIN)
