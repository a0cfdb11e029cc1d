"""Config for a cluster made elsewhere."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import GpuPoolSpec
from components.config.common import SubstrateBase, unique_pool_names


class ExistingGpuPool(GpuPoolSpec):
    # Nothing here labels the nodes of a cluster made elsewhere, so the pool's selector can only
    # be labels its nodes already carry: required, and validated even when left out.
    labels: dict[str, str] = Field(default_factory=dict, validate_default=True)
    taints: bool = Field(default=True, description="whether the nodes carry nvidia.com/gpu=present:NoSchedule")

    @field_validator("labels")
    @classmethod
    def _labels_select_nodes(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError(
                "an existing cluster's GPU pool needs labels that its nodes already carry (the platform labels "
                "no node here), e.g. node.kubernetes.io/instance-type: g6e.12xlarge, or "
                "nvidia.com/gpu.product: NVIDIA-L40S once the GPU Operator has labelled them"
            )
        return value


class ExistingSubstrate(SubstrateBase):
    kind: Literal["existing"]
    gpu_stack: Literal["gke-managed", "operator", "none"] = "operator"
    storage_class: str = "standard"
    # A GatewayClass the cluster already runs (one that supports InferencePool); unset: the
    # llm-gateway layer installs Istio and uses class `istio`.
    gateway_class: str | None = None
    # host[:port] at which in-cluster clients reach a Gateway of that class; required with a
    # class other than `istio` (whose Service name the platform knows).
    gateway_address: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
    context: str | None = Field(default=None, description="kubeconfig context; default: current-context")
    gpu_pools: list[ExistingGpuPool] = Field(default_factory=list)

    @model_validator(mode="after")
    def _pools(self) -> ExistingSubstrate:
        if self.gateway_class not in (None, "istio") and not self.gateway_address:
            raise ValueError(
                f"gatewayClass {self.gateway_class!r} needs gatewayAddress: the host[:port] at which pods reach "
                "a Gateway of that class (the platform knows only the address of its own Istio Gateway)"
            )
        unique_pool_names(self.gpu_pools)
        if self.gpu_pools and self.gpu_stack == "none":
            raise ValueError(
                "gpuPools are declared but gpuStack is 'none'; set gpuStack to 'operator' or 'gke-managed'"
            )
        return self
