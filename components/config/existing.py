"""Config for a cluster made elsewhere."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from components.config.base import GpuPoolSpec
from components.config.common import SubstrateBase, unique_pool_names


class ExistingGpuPool(GpuPoolSpec):
    taints: bool = Field(default=True, description="whether the nodes carry nvidia.com/gpu=present:NoSchedule")


class ExistingSubstrate(SubstrateBase):
    kind: Literal["existing"]
    gpu_stack: Literal["gke-managed", "operator", "none"] = "operator"
    storage_class: str = "standard"
    gateway_class: str | None = None
    context: str | None = Field(default=None, description="kubeconfig context; default: current-context")
    gpu_pools: list[ExistingGpuPool] = Field(default_factory=list)

    @model_validator(mode="after")
    def _pools(self) -> ExistingSubstrate:
        unique_pool_names(self.gpu_pools)
        if self.gpu_pools and self.gpu_stack == "none":
            raise ValueError(
                "gpuPools are declared but gpuStack is 'none'; set gpuStack to 'operator' or 'gke-managed'"
            )
        return self
