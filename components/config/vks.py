"""vSphere Kubernetes Service substrate config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import GpuPoolSpec, dns_label
from components.config.common import SubstrateBase, unique_pool_names


class VksGpuPool(GpuPoolSpec):
    vgpu_profile: str = Field(min_length=1, description="NVIDIA vGPU profile, e.g. grid_a100-40c")
    cpus: int = Field(default=8, ge=1, le=256)
    memory_mib: int = Field(default=65536, ge=1024)
    min_nodes: int = Field(default=1, ge=0, le=100)
    max_nodes: int = Field(default=2, ge=1, le=100)

    @model_validator(mode="after")
    def _bounds(self) -> VksGpuPool:
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"minNodes ({self.min_nodes}) is greater than maxNodes ({self.max_nodes})")
        return self


class VksSubstrate(SubstrateBase):
    kind: Literal["vks"]
    supervisor_cluster: str = Field(min_length=1, description="vSphere cluster managed object id, e.g. domain-c8")
    supervisor_server: str = Field(min_length=1, description="supervisor API endpoint (host or URL)")
    namespace: str = "inference"
    content_library: str = Field(min_length=1, description="content library id holding the node images")
    storage_policy: str = Field(min_length=1, description="vSphere storage policy id for the namespace")
    storage_class: str = "vsan-default-storage-policy"
    cluster_class: str = "builtin-generic-v3.3.0"
    kubernetes_version: str = "v1.33.3+vmware.1-fips-vkr.1"
    control_plane_replicas: Literal[1, 3] = 3
    worker_class: str = "best-effort-large"
    worker_count: int = Field(default=2, ge=1, le=100)
    gpu_pools: list[VksGpuPool] = Field(default_factory=list)

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        return dns_label(value)

    @model_validator(mode="after")
    def _pools(self) -> VksSubstrate:
        unique_pool_names(self.gpu_pools)
        return self
