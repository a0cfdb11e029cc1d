"""GKE substrate config."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from components.config.base import GpuPoolSpec
from components.config.common import NodeBounds, SubstrateBase, cidr, unique_pool_names
from components.config.gke_machines import gpu_mismatch

GCP_PROJECT = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
GCP_MACHINE_TYPE = re.compile(r"^[a-z][a-z0-9]*-[a-z0-9-]+$")
# The node pool every cluster has; a GPU pool of the same name would collide with it.
SYSTEM_POOL_NAME = "system"
# GKE spreads a regional cluster's nodes over three of the region's zones.
SYSTEM_POOL_ZONES = 3
# Ranges reserved for documentation (RFC 5737, RFC 3849): no client ever sends from them, so an
# allow-list holding one is a copied example, and the control plane stays closed to whoever runs Pulumi.
DOCUMENTATION_RANGES = tuple(
    ipaddress.ip_network(r) for r in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


def key_error(key: str | int, message: str, value: object) -> ValidationError:
    """An error placed under `key` of what is being validated, so the message names the key path."""
    return ValidationError.from_exception_data(
        "GkeSubstrate",
        [InitErrorDetails(type=PydanticCustomError("gke_gpu", message), loc=(key,), input=value)],
    )


def documentation_range(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    net = ipaddress.ip_network(value, strict=False)
    return next((d for d in DOCUMENTATION_RANGES if d.version == net.version and net.subnet_of(d)), None)


def machine_type(value: str) -> str:
    if not GCP_MACHINE_TYPE.match(value):
        raise ValueError(f"{value!r} is not a Compute Engine machine type such as e2-standard-4")
    return value


class GkeSystemPool(NodeBounds):
    """CPU nodes for the platform itself. Node counts are totals over the pool's zones; the
    pool starts with one node in each of the three zones GKE spreads a regional cluster over."""

    machine_type: str = "e2-standard-4"
    min_nodes: int = Field(default=1, ge=0, le=100)
    max_nodes: int = Field(default=3, ge=1, le=100)
    disk_size_gb: int = Field(default=100, ge=20, le=2000)

    @field_validator("machine_type")
    @classmethod
    def _machine(cls, value: str) -> str:
        return machine_type(value)

    @model_validator(mode="after")
    def _bounds(self) -> GkeSystemPool:
        if self.max_nodes < SYSTEM_POOL_ZONES:
            raise ValueError(
                f"maxNodes ({self.max_nodes}) is below {SYSTEM_POOL_ZONES}: the pool starts with one node "
                f"in each of the {SYSTEM_POOL_ZONES} zones of a regional cluster"
            )
        return self


class GkeGpuPool(GpuPoolSpec, NodeBounds):
    """A GPU node pool. Node counts are totals over the pool's zones, so GPU quota and cost
    stay what the numbers say; minNodes 0 lets the pool scale to nothing when idle."""

    machine_type: str = "g2-standard-8"
    min_nodes: int = Field(default=0, ge=0, le=100)
    max_nodes: int = Field(default=2, ge=1, le=100)
    spot: bool = False
    # GKE installs the driver itself: DEFAULT or LATEST of the node image's driver branch.
    driver_version: Literal["DEFAULT", "LATEST"] = "LATEST"
    disk_size_gb: int = Field(default=200, ge=50, le=4000)
    zones: list[str] = Field(default_factory=list, description="node locations; empty = the region's zones")

    @field_validator("machine_type")
    @classmethod
    def _machine(cls, value: str) -> str:
        return machine_type(value)

    @field_validator("name")
    @classmethod
    def _not_system(cls, value: str) -> str:
        if value == SYSTEM_POOL_NAME:
            raise ValueError(f"GPU pool name {value!r} is taken by the system node pool; choose another")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> GkeGpuPool:
        if len(set(self.zones)) != len(self.zones):
            raise ValueError(f"GPU pool {self.name!r} lists a zone twice: {', '.join(self.zones)}")
        return self

    @model_validator(mode="after")
    def _gpus_fit_machine(self) -> GkeGpuPool:
        # GKE would refuse the node pool only at `pulumi up`, half-way through the stack.
        wrong = gpu_mismatch(self.machine_type, self.accelerator, self.count)
        if wrong is not None:
            raise key_error(wrong.key, wrong.message, getattr(self, _FIELDS[wrong.key]))
        return self


_FIELDS = {"accelerator": "accelerator", "count": "count", "machineType": "machine_type"}


class GkeSubstrate(SubstrateBase):
    kind: Literal["gke"]
    project: str
    region: str = Field(pattern=r"^[a-z]+-[a-z]+\d+$")
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    node_cidr: str = "10.10.0.0/20"
    pod_cidr: str = "10.20.0.0/14"
    service_cidr: str = "10.24.0.0/20"
    # The control plane's peered range: a /28 that no other range of the VPC uses.
    master_cidr: str = "172.16.0.0/28"
    # The region's proxy-only subnet: GKE's managed internal Gateway (gke-l7-rilb) runs its Envoy
    # proxies there. Google recommends a /23; one per region and VPC.
    proxy_only_cidr: str = "10.11.0.0/23"
    # Who may reach the control plane's public IP endpoint; empty turns that endpoint off.
    # Pulumi and CI never need it: they use the DNS endpoint, which IAM guards.
    authorized_networks: list[str] = Field(default_factory=list)
    system_pool: GkeSystemPool = GkeSystemPool()
    gpu_pools: list[GkeGpuPool] = Field(default_factory=list)

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        if not GCP_PROJECT.match(value):
            raise ValueError(f"{value!r} is not a GCP project id (6-30 lower-case letters, digits, '-')")
        return value

    @field_validator("node_cidr", "pod_cidr", "service_cidr", "master_cidr", "proxy_only_cidr")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        return cidr(value)

    @field_validator("master_cidr")
    @classmethod
    def _master(cls, value: str) -> str:
        if ipaddress.ip_network(value).prefixlen != 28:
            raise ValueError(f"masterCidr {value!r} must be a /28 (GKE's private control plane range)")
        return value

    @field_validator("authorized_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for i, v in enumerate(value):
            cidr(v)
            reserved = documentation_range(v)
            if reserved is not None:
                raise key_error(
                    i,
                    f"{v} lies in {reserved}, a range reserved for documentation that no client sends "
                    "from; list the ranges people reach the control plane from, or leave the list empty "
                    "(Pulumi and CI use the DNS endpoint)",
                    v,
                )
        return value

    @model_validator(mode="after")
    def _pools(self) -> GkeSubstrate:
        unique_pool_names(self.gpu_pools)
        for pool in self.gpu_pools:
            foreign = [z for z in pool.zones if not re.fullmatch(rf"{re.escape(self.region)}-[a-z]", z)]
            if foreign:
                raise ValueError(
                    f"GPU pool {pool.name!r} zones {', '.join(foreign)} are not zones of region {self.region}"
                )
        self._disjoint_ranges()
        return self

    def _disjoint_ranges(self) -> None:
        ranges = {
            "nodeCidr": self.node_cidr,
            "podCidr": self.pod_cidr,
            "serviceCidr": self.service_cidr,
            "masterCidr": self.master_cidr,
            "proxyOnlyCidr": self.proxy_only_cidr,
        }
        keys = list(ranges)
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                if ipaddress.ip_network(ranges[a]).overlaps(ipaddress.ip_network(ranges[b])):
                    raise ValueError(f"{a} {ranges[a]} overlaps {b} {ranges[b]}; the ranges must be disjoint")
