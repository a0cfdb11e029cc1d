"""Hetzner (hcloud + k3s) substrate config."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import GpuPoolSpec, Strict
from components.config.common import SubstrateBase, cidr, unique_pool_names

# Each location belongs to exactly one network zone; a subnet in another zone cannot hold its servers.
LOCATION_ZONES = {
    "fsn1": "eu-central",
    "nbg1": "eu-central",
    "hel1": "eu-central",
    "ash": "us-east",
    "hil": "us-west",
    "sin": "ap-southeast",
}
# Robot (dedicated servers, vSwitches) runs only in the German and Finnish data centres.
VSWITCH_ZONE = "eu-central"
# k3s' default pod and service ranges; the private network must not overlap them.
K3S_CLUSTER_CIDRS = ("10.42.0.0/16", "10.43.0.0/16")
HCLOUD_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
# Kubernetes minor release from which the ImageVolume feature is on by default.
IMAGE_VOLUME_DEFAULT_MINOR = 35
# The control plane and load balancer take fixed addresses at the top of the subnet.
SMALLEST_SUBNET_PREFIX = 28


def hcloud_name(value: str) -> str:
    if not HCLOUD_NAME.match(value):
        raise ValueError(f"{value!r} is not an hcloud type or image name such as cpx41, lb11 or ubuntu-24.04")
    return value


class HetznerWorkers(Strict):
    server_type: str = "cpx41"
    # At least one: the control plane is tainted CriticalAddonsOnly, so workloads need workers.
    count: int = Field(default=2, ge=1, le=50)

    @field_validator("server_type")
    @classmethod
    def _type(cls, value: str) -> str:
        return hcloud_name(value)


class HetznerDedicatedGpuPool(GpuPoolSpec):
    """GPU servers the hcloud API cannot create: dedicated machines joined with the
    join command this stack outputs. Declared here so models can be scheduled on them."""


class HetznerSubstrate(SubstrateBase):
    kind: Literal["hetzner"]
    location: Literal["fsn1", "nbg1", "hel1", "ash", "hil", "sin"] = "fsn1"
    network_zone: Literal["eu-central", "us-east", "us-west", "ap-southeast"] = "eu-central"
    network_cidr: str = "10.0.0.0/16"
    subnet_cidr: str = "10.0.1.0/24"
    # Explicit alias: the camelCase generator would make it "k3SVersion".
    k3s_version: str = Field(default="v1.33.4+k3s1", alias="k3sVersion")
    control_plane_type: str = "cpx31"
    load_balancer_type: str = "lb11"
    workers: HetznerWorkers = HetznerWorkers()
    image: str = "ubuntu-24.04"
    # Who may reach the Kubernetes API and SSH. Pulumi itself reads the kubeconfig over SSH,
    # so the address it runs from must be listed.
    admin_cidrs: list[str] = Field(default_factory=list)
    # Robot vSwitch coupled to the network: the private path dedicated GPU servers join through.
    vswitch_id: int | None = Field(default=None, ge=1)
    vswitch_subnet_cidr: str = "10.0.2.0/24"
    gpu_pools: list[HetznerDedicatedGpuPool] = Field(default_factory=list)

    @property
    def image_volumes(self) -> bool:
        """Whether pods can mount OCI images as volumes (oci:// models): the ImageVolume feature is on
        by default from Kubernetes 1.35."""
        return int(self.k3s_version.split(".")[1]) >= IMAGE_VOLUME_DEFAULT_MINOR

    @field_validator("network_cidr", "subnet_cidr", "vswitch_subnet_cidr")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        cidr(value)
        if ipaddress.ip_network(value, strict=False).version != 4:
            raise ValueError(f"{value!r} is not an IPv4 range; hcloud networks are IPv4")
        return value

    @field_validator("admin_cidrs")
    @classmethod
    def _admin(cls, value: list[str]) -> list[str]:
        return [cidr(v) for v in value]

    @field_validator("control_plane_type", "load_balancer_type", "image")
    @classmethod
    def _names(cls, value: str) -> str:
        return hcloud_name(value)

    @field_validator("k3s_version")
    @classmethod
    def _k3s(cls, value: str) -> str:
        if not re.match(r"^v1\.\d+\.\d+\+k3s\d+$", value):
            raise ValueError(f"{value!r} is not a pinned k3s release such as v1.33.4+k3s1")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> HetznerSubstrate:
        unique_pool_names(self.gpu_pools)
        if LOCATION_ZONES[self.location] != self.network_zone:
            raise ValueError(
                f"location {self.location} is in network zone {LOCATION_ZONES[self.location]}, "
                f"not networkZone {self.network_zone}"
            )
        if not self.admin_cidrs:
            raise ValueError(
                "adminCidrs is empty: SSH and the Kubernetes API would be closed to everyone, and Pulumi "
                "reads the kubeconfig over SSH; list the ranges Pulumi and administrators connect from"
            )
        self._check_ranges()
        if self.vswitch_id is not None and self.network_zone != VSWITCH_ZONE:
            raise ValueError(
                f"vswitchId is set but networkZone is {self.network_zone}: dedicated servers and their "
                f"vSwitches exist only in {VSWITCH_ZONE}"
            )
        if self.gpu_pools and self.vswitch_id is None:
            raise ValueError(
                "gpuPools are declared but vswitchId is not set: dedicated GPU servers join the cluster "
                "over the private network through a Robot vSwitch coupled to the hcloud network"
            )
        return self

    def _check_ranges(self) -> None:
        network = ipaddress.ip_network(self.network_cidr)
        subnet = ipaddress.ip_network(self.subnet_cidr)
        if not subnet.subnet_of(network):
            raise ValueError(f"subnetCidr {self.subnet_cidr} is not inside networkCidr {self.network_cidr}")
        if subnet.prefixlen > SMALLEST_SUBNET_PREFIX:
            raise ValueError(f"subnetCidr {self.subnet_cidr} is smaller than a /{SMALLEST_SUBNET_PREFIX}")
        for reserved in K3S_CLUSTER_CIDRS:
            if network.overlaps(ipaddress.ip_network(reserved)):
                raise ValueError(f"networkCidr {self.network_cidr} overlaps k3s' pod/service range {reserved}")
        if self.vswitch_id is not None:
            vswitch = ipaddress.ip_network(self.vswitch_subnet_cidr)
            if not vswitch.subnet_of(network):
                raise ValueError(
                    f"vswitchSubnetCidr {self.vswitch_subnet_cidr} is not inside networkCidr {self.network_cidr}"
                )
            if vswitch.overlaps(subnet):
                raise ValueError(f"vswitchSubnetCidr {self.vswitch_subnet_cidr} overlaps subnetCidr {self.subnet_cidr}")
