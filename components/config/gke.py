"""GKE substrate config."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import GpuPoolSpec, Strict
from components.config.common import SubstrateBase, cidr, unique_pool_names

GCP_PROJECT = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")


class GkeSystemPool(Strict):
    machine_type: str = "e2-standard-4"
    min_nodes: int = Field(default=1, ge=0, le=100)
    max_nodes: int = Field(default=3, ge=1, le=100)

    @model_validator(mode="after")
    def _bounds(self) -> GkeSystemPool:
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"minNodes ({self.min_nodes}) is greater than maxNodes ({self.max_nodes})")
        return self


class GkeGpuPool(GpuPoolSpec):
    machine_type: str = "g2-standard-8"
    min_nodes: int = Field(default=0, ge=0, le=100)
    max_nodes: int = Field(default=2, ge=1, le=100)
    spot: bool = False
    driver_version: Literal["DEFAULT", "LATEST"] = "LATEST"
    zones: list[str] = Field(default_factory=list, description="node locations; empty = the region's zones")

    @model_validator(mode="after")
    def _bounds(self) -> GkeGpuPool:
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"minNodes ({self.min_nodes}) is greater than maxNodes ({self.max_nodes})")
        return self


class GkeSubstrate(SubstrateBase):
    kind: Literal["gke"]
    project: str
    region: str = Field(pattern=r"^[a-z]+-[a-z]+\d+$")
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    node_cidr: str = "10.10.0.0/20"
    pod_cidr: str = "10.20.0.0/14"
    service_cidr: str = "10.24.0.0/20"
    master_cidr: str = "172.16.0.0/28"
    # Who may reach the control plane; empty keeps the public endpoint closed to all but GCP.
    authorized_networks: list[str] = Field(default_factory=list)
    system_pool: GkeSystemPool = GkeSystemPool()
    gpu_pools: list[GkeGpuPool] = Field(default_factory=list)

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        if not GCP_PROJECT.match(value):
            raise ValueError(f"{value!r} is not a GCP project id (6-30 lower-case letters, digits, '-')")
        return value

    @field_validator("node_cidr", "pod_cidr", "service_cidr", "master_cidr")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        return cidr(value)

    @field_validator("authorized_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return [cidr(v) for v in value]

    @model_validator(mode="after")
    def _pools(self) -> GkeSubstrate:
        unique_pool_names(self.gpu_pools)
        return self
