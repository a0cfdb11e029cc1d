"""Per-substrate config sections, one discriminated union keyed by `kind`."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from components.config.base import GpuPoolSpec, Strict, check_labels, dns_label

GCP_PROJECT = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
K8S_VERSION = re.compile(r"^v?1\.\d+(\.\d+)?([-+][0-9A-Za-z.+-]+)?$")


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a CIDR range") from exc
    return value


def _unique_pool_names(pools: list[GpuPoolSpec]) -> None:
    names = [p.name for p in pools]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"GPU pool names must be unique; repeated: {', '.join(dupes)}")


class _Substrate(Strict):
    cluster_name: str = "inference"

    @field_validator("cluster_name")
    @classmethod
    def _cluster_name(cls, value: str) -> str:
        return dns_label(value, 40)


# --- GKE ---------------------------------------------------------------------------


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


class GkeSubstrate(_Substrate):
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
        return _cidr(value)

    @field_validator("authorized_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return [_cidr(v) for v in value]

    @model_validator(mode="after")
    def _pools(self) -> GkeSubstrate:
        _unique_pool_names(self.gpu_pools)
        return self


# --- Hetzner -----------------------------------------------------------------------


class HetznerWorkers(Strict):
    server_type: str = "cpx41"
    count: int = Field(default=2, ge=0, le=50)


class HetznerDedicatedGpuPool(GpuPoolSpec):
    """GPU servers the hcloud API cannot create: dedicated machines joined with the
    join command this stack outputs. Declared here so models can be scheduled on them."""


class HetznerSubstrate(_Substrate):
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
        return _cidr(value)

    @field_validator("admin_cidrs")
    @classmethod
    def _admin(cls, value: list[str]) -> list[str]:
        return [_cidr(v) for v in value]

    @field_validator("k3s_version")
    @classmethod
    def _k3s(cls, value: str) -> str:
        if not re.match(r"^v1\.\d+\.\d+\+k3s\d+$", value):
            raise ValueError(f"{value!r} is not a pinned k3s release such as v1.33.4+k3s1")
        return value

    @model_validator(mode="after")
    def _pools(self) -> HetznerSubstrate:
        _unique_pool_names(self.gpu_pools)
        if not ipaddress.ip_network(self.subnet_cidr).subnet_of(ipaddress.ip_network(self.network_cidr)):
            raise ValueError(f"subnetCidr {self.subnet_cidr} is not inside networkCidr {self.network_cidr}")
        return self


# --- vSphere Kubernetes Service ----------------------------------------------------


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


class VksSubstrate(_Substrate):
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
        _unique_pool_names(self.gpu_pools)
        return self


# --- kind (local) ------------------------------------------------------------------


class KindSubstrate(_Substrate):
    kind: Literal["kind"]
    cluster_name: str = "inference-local"
    # kind's node image, pinned by digest so every laptop runs the same Kubernetes.
    node_image: str = (
        "kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f"
    )
    workers: int = Field(default=1, ge=0, le=4)

    @field_validator("node_image")
    @classmethod
    def _image(cls, value: str) -> str:
        if "@sha256:" not in value:
            raise ValueError(f"{value!r} must be pinned by digest (kindest/node:<tag>@sha256:<digest>)")
        return value


# --- existing cluster --------------------------------------------------------------


class ExistingGpuPool(GpuPoolSpec):
    taints: bool = Field(default=True, description="whether the nodes carry nvidia.com/gpu=present:NoSchedule")


class ExistingSubstrate(_Substrate):
    kind: Literal["existing"]
    gpu_stack: Literal["gke-managed", "operator", "none"] = "operator"
    storage_class: str = "standard"
    gateway_class: str | None = None
    context: str | None = Field(default=None, description="kubeconfig context; default: current-context")
    gpu_pools: list[ExistingGpuPool] = Field(default_factory=list)

    @model_validator(mode="after")
    def _pools(self) -> ExistingSubstrate:
        _unique_pool_names(self.gpu_pools)
        if self.gpu_pools and self.gpu_stack == "none":
            raise ValueError("gpuPools are declared but gpuStack is 'none'; set gpuStack to 'operator' or 'gke-managed'")
        for pool in self.gpu_pools:
            check_labels(pool.labels)
        return self


SubstrateConfig = Annotated[
    Union[GkeSubstrate, HetznerSubstrate, VksSubstrate, KindSubstrate, ExistingSubstrate],
    Field(discriminator="kind"),
]
SUBSTRATE_KINDS = ("gke", "hetzner", "vks", "kind", "existing")
