"""A cold start is four latencies, each with its own fix: node, image, weights, engine.

Defaults are per substrate and per model-cache type; every one can be overridden. They are
assumptions to be replaced by what a cluster measures (the pod's events and vLLM's start-up
log give all four), not measurements; docs/performance.md says where each comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

CacheType = Literal["shared", "single", "per-pod", "modelcar", "pvc-source"]

# Seconds from a node being requested to it being Ready with its GPU advertised.
# None: the substrate adds no GPU nodes on demand (the pool is what exists).
NODE_PROVISIONING: dict[str, float | None] = {
    "gke": 180.0,  # VM create and boot, then GKE's managed driver install and device plugin
    "vks": 300.0,  # VM clone from the VM class, join, GPU Operator driver container
    "hetzner": None,  # dedicated GPU servers are joined by hand
    "existing": None,
    "kind": None,
}
# The vLLM image (about 9 GB compressed) pulled and unpacked; GKE pools here have image
# streaming on, so a container starts after its first bytes and reads the rest lazily.
IMAGE_PULL = {"gke": 15.0, "default": 90.0}
IMAGE_BYTES = 9e9
DOWNLOAD_BYTES_PER_S = 200e6  # from the model hub or object storage
SHARED_READ_BYTES_PER_S = 250e6  # a ReadWriteMany volume (NFS class)
LOCAL_READ_BYTES_PER_S = 400e6  # a ReadWriteOnce block volume
PULL_BYTES_PER_S = 100e6  # registry pull and unpack, for a modelcar image
# vLLM start after the weights: memory profiling, KV-cache allocation, CUDA graph capture
# (torch.compile artefacts cached on the cache volume after the first start).
ENGINE_START = {"small": 60.0, "large": 120.0}


@dataclass(frozen=True)
class ColdStart:
    node_provisioning: float | None
    image_pull: float
    weights_first: float  # the first load into an empty cache
    weights_warm: float  # a load once the cache holds the weights (equal for per-pod caches)
    engine_start: float
    cache: CacheType = "shared"
    notes: dict[str, str] = field(default_factory=dict, compare=False)

    def with_overrides(self, **values: float | None) -> ColdStart:
        given = {k: v for k, v in values.items() if v is not None}
        if "weights_load" in given:
            w = given.pop("weights_load")
            given.update(weights_first=w, weights_warm=w)
        return replace(self, **given)

    def describe(self) -> dict[str, object]:
        return {
            "nodeProvisioningS": self.node_provisioning,
            "imagePullS": self.image_pull,
            "weightsLoadFirstS": round(self.weights_first, 1),
            "weightsLoadWarmS": round(self.weights_warm, 1),
            "engineStartS": self.engine_start,
            "cache": self.cache,
        }


def defaults(substrate: str, cache: CacheType, weight_bytes: float, params_b: float) -> ColdStart:
    node = NODE_PROVISIONING.get(substrate)
    image = IMAGE_PULL.get(substrate, IMAGE_PULL["default"])
    download = weight_bytes / DOWNLOAD_BYTES_PER_S
    if cache == "shared":
        first, warm = download, weight_bytes / SHARED_READ_BYTES_PER_S
    elif cache == "single":
        first, warm = download, weight_bytes / LOCAL_READ_BYTES_PER_S
    elif cache == "modelcar":
        first = warm = weight_bytes / PULL_BYTES_PER_S
    elif cache == "pvc-source":
        first = warm = weight_bytes / SHARED_READ_BYTES_PER_S
    else:  # per-pod: every new pod starts from an empty claim
        first = warm = download
    engine = ENGINE_START["large" if params_b > 14 else "small"]
    return ColdStart(node, image, first, warm, engine, cache)
