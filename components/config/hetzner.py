"""Hetzner (hcloud + k3s) substrate config."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import GpuPoolSpec, Strict
from components.config.common import SubstrateBase, cidr, unique_pool_names


class HetznerWorkers(Strict):
    server_type: str = "cpx41"
    count: int = Field(default=2, ge=0, le=50)


class HetznerDedicatedGpuPool(GpuPoolSpec):
    """GPU servers the hcloud API cannot create: dedicated machines joined with the
    join command this stack outputs. Declared here so models can be scheduled on them."""


class HetznerSubstrate(SubstrateBase):
    kind: Literal["hetzner"]
    location: Literal["fsn1", "nbg1", "hel1", "ash", "hil", "sin"] = "fsn1"
    network_zone: Literal["eu-central", "us-east", "us-west", "ap-southeast"] = "eu-central"
    network_cidr: str = "10.0.0.0/16"
    subnet_cidr: str = "10.0.1.0/24"
    k3s_version: str = "v1.33.4+k3s1"
    control_plane_type: str = "cpx31"
    workers: HetznerWorkers = HetznerWorkers()
    image: str = "ubuntu-24.04"
    # Who may reach the Kubernetes API and SSH; an empty list leaves both closed.
    admin_cidrs: list[str] = Field(default_factory=list)
    gpu_pools: list[HetznerDedicatedGpuPool] = Field(default_factory=list)

    @field_validator("network_cidr", "subnet_cidr")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        return cidr(value)

    @field_validator("admin_cidrs")
    @classmethod
    def _admin(cls, value: list[str]) -> list[str]:
        return [cidr(v) for v in value]

    @field_validator("k3s_version")
    @classmethod
    def _k3s(cls, value: str) -> str:
        if not re.match(r"^v1\.\d+\.\d+\+k3s\d+$", value):
            raise ValueError(f"{value!r} is not a pinned k3s release such as v1.33.4+k3s1")
        return value

    @model_validator(mode="after")
    def _pools(self) -> HetznerSubstrate:
        unique_pool_names(self.gpu_pools)
        if not ipaddress.ip_network(self.subnet_cidr).subnet_of(ipaddress.ip_network(self.network_cidr)):
            raise ValueError(f"subnetCidr {self.subnet_cidr} is not inside networkCidr {self.network_cidr}")
        return self
