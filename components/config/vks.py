"""vSphere Kubernetes Service substrate config."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import GpuPoolSpec, Strict, dns_label
from components.config.common import NodeBounds, SubstrateBase, cidr, unique_pool_names

# The label every GPU pool's nodes carry; ClusterFacts selects pools by it.
POOL_LABEL = "inference-platform/gpu-pool"
VGPU_PROFILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# A Kubernetes release as the Cluster topology names it: v1.33.3+vmware.1-fips-vkr.1, or a prefix of it.
KUBERNETES_VERSION = re.compile(r"^v1\.\d+(\.\d+)?(\+[0-9A-Za-z.-]+)?$")
OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
HOSTNAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$")
# Antrea and Calico give every node a /24 out of the pod range.
NODE_POD_PREFIX = 24
# Where current Supervisors publish the VKS ClusterClasses (builtin-generic-v3.x and later).
PUBLIC_CLASS_NAMESPACE = "vmware-system-vks-public"
# The ImageVolume feature (pods mounting OCI images, which oci:// models use) is on by default from here.
IMAGE_VOLUME_DEFAULT_MINOR = 35
IMAGE_REF = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class VksVgpuDriver(Strict):
    """NVIDIA's vGPU guest driver for the GPU Operator: vGPU VMs cannot use the public data-center
    driver. NVIDIA ships it to licensees only, so it lives in a private registry, and it needs an NLS
    licence. Config holds names only: the pull secret and the licensing Secret (gridd.conf and
    client_configuration_token.tok) reach the gpu-operator namespace through the secrets backend."""

    repository: str = Field(min_length=1, description="registry path holding the driver image")
    image: str = "vgpu-guest-driver"
    # The GPU Operator appends the node OS to the tag: 580.105.08 pulls 580.105.08-ubuntu24.04.
    version: str = Field(min_length=1, description="vGPU guest driver version the image is tagged with")
    pull_secret: str = "vgpu-registry"
    licensing_secret: str = "vgpu-licensing"

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not IMAGE_REF.match(value):
            raise ValueError(f"{value!r} is not a registry path such as registry.example.com/nvidia")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not IMAGE_REF.match(value) or "/" in value:
            raise ValueError(f"{value!r} is not an image name such as vgpu-guest-driver")
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not TAG.match(value):
            raise ValueError(f"{value!r} is not an image tag")
        return value

    @field_validator("pull_secret", "licensing_secret")
    @classmethod
    def _secret_names(cls, value: str) -> str:
        return dns_label(value, 253)


class VksGpuPool(GpuPoolSpec, NodeBounds):
    vgpu_profile: str = Field(min_length=1, description="NVIDIA vGPU profile, e.g. grid_a100-40c")
    cpus: int = Field(default=8, ge=1, le=256)
    memory_mib: int = Field(default=65536, ge=1024)
    min_nodes: int = Field(default=1, ge=0, le=100)
    max_nodes: int = Field(default=2, ge=1, le=100)
    # Model server images (CUDA) are tens of GiB: containerd gets its own volume, not the root disk.
    containerd_disk_gib: int = Field(default=200, ge=0, le=4096, description="0 keeps containerd on the root disk")

    @field_validator("vgpu_profile")
    @classmethod
    def _profile(cls, value: str) -> str:
        if not VGPU_PROFILE.match(value):
            raise ValueError(f"{value!r} is not a vGPU profile name such as grid_a100-40c")
        return value

    @field_validator("labels")
    @classmethod
    def _own_label(cls, value: dict[str, str]) -> dict[str, str]:
        if POOL_LABEL in value:
            raise ValueError(f"label {POOL_LABEL!r} is set from the pool name; remove it from labels")
        return value


class VksSubstrate(SubstrateBase):
    kind: Literal["vks"]
    vcenter_server: str = Field(min_length=1, description="vCenter host name: the vSphere provider's vsphereServer")
    # Secure default: a vCenter certificate that does not verify is an error, not a warning.
    allow_unverified_ssl: bool = False
    supervisor_id: str = Field(min_length=1, description="id of the Supervisor the namespace is created on")
    supervisor_context: str | None = Field(default=None, description="context in supervisorKubeconfig")
    namespace: str = "inference"
    content_library: str = Field(min_length=1, description="content library id holding the node images")
    storage_policy: str = Field(min_length=1, description="vSphere storage policy id for the namespace")
    storage_class: str = "vsan-default-storage-policy"
    cluster_class: str = "builtin-generic-v3.4.0"
    # null for Supervisors that still keep ClusterClasses in each vSphere Namespace.
    cluster_class_namespace: str | None = PUBLIC_CLASS_NAMESPACE
    kubernetes_version: str = "v1.33.3+vmware.1-fips-vkr.1"
    # Declares the ImageVolume feature gate on where the release does not enable it by default (< 1.35).
    image_volume_feature_gate: bool = False
    node_os: Literal["ubuntu", "photon"] = "ubuntu"
    control_plane_replicas: Literal[1, 3] = 3
    control_plane_class: str = "guaranteed-large"
    worker_class: str = "best-effort-large"
    worker_count: int = Field(default=2, ge=1, le=100)
    machine_deployment_class: str = "node-pool"
    pod_cidr: str = "192.168.0.0/16"
    service_cidr: str = "10.96.0.0/12"
    gpu_pools: list[VksGpuPool] = Field(default_factory=list)
    vgpu_driver: VksVgpuDriver | None = None

    @property
    def kubernetes_minor(self) -> int:
        return int(self.kubernetes_version.split(".")[1])

    @property
    def image_volumes(self) -> bool:
        """Whether pods can mount OCI images as volumes: oci:// models need it."""
        return self.image_volume_feature_gate or self.kubernetes_minor >= IMAGE_VOLUME_DEFAULT_MINOR

    @field_validator("vcenter_server")
    @classmethod
    def _vcenter(cls, value: str) -> str:
        if not HOSTNAME.match(value):
            raise ValueError(f"{value!r} is not a host name; give vCenter's name without https:// or a path")
        return value

    @field_validator("namespace", "control_plane_class", "worker_class", "machine_deployment_class")
    @classmethod
    def _names(cls, value: str) -> str:
        return dns_label(value)

    @field_validator("storage_class")
    @classmethod
    def _storage_class(cls, value: str) -> str:
        # Supervisor storage classes are named after long policy names: object names allow 253 characters.
        return dns_label(value, 253)

    @field_validator("cluster_class")
    @classmethod
    def _cluster_class(cls, value: str) -> str:
        if len(value) > 253 or not OBJECT_NAME.match(value):
            raise ValueError(f"{value!r} is not a ClusterClass name such as builtin-generic-v3.4.0")
        return value

    @field_validator("cluster_class_namespace")
    @classmethod
    def _class_namespace(cls, value: str | None) -> str | None:
        return None if value is None else dns_label(value)

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not KUBERNETES_VERSION.match(value):
            hint = " (write '+' where the release's object name has '---')" if "---" in value else ""
            raise ValueError(f"{value!r} is not a Kubernetes release version such as v1.33.3+vmware.1-fips{hint}")
        return value

    @field_validator("pod_cidr", "service_cidr")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        return cidr(value)

    @model_validator(mode="after")
    def _coherent(self) -> VksSubstrate:
        unique_pool_names(self.gpu_pools)
        for pool in self.gpu_pools:
            # VM classes are global to vCenter: the cluster name keeps two stacks' classes apart.
            name = f"{self.cluster_name}-{pool.name}"
            if len(name) > 63:
                raise ValueError(f"VM class name {name!r} (clusterName-poolName) is longer than 63 characters")
        if self.gpu_pools and self.node_os != "ubuntu":
            raise ValueError(
                "gpuPools need nodeOs 'ubuntu': the GPU Operator's vGPU guest driver does not run on photon"
            )
        if self.gpu_pools and self.vgpu_driver is None:
            raise ValueError(
                "gpuPools need vgpuDriver: vGPU VMs run NVIDIA's vGPU guest driver from a private registry "
                "with NLS licensing, not the public data-center driver (docs/substrates/vks.md)"
            )
        self._check_networks()
        return self

    def _check_networks(self) -> None:
        pods, services = ipaddress.ip_network(self.pod_cidr), ipaddress.ip_network(self.service_cidr)
        if pods.overlaps(services):
            raise ValueError(f"podCidr {self.pod_cidr} overlaps serviceCidr {self.service_cidr}")
        # Every deployment may surge one node during a rolling update.
        deployments = 1 + len(self.gpu_pools)
        nodes = self.control_plane_replicas + self.worker_count + sum(p.max_nodes for p in self.gpu_pools)
        blocks = 2 ** (NODE_POD_PREFIX - pods.prefixlen) if pods.prefixlen <= NODE_POD_PREFIX else 0
        if blocks < nodes + deployments + 1:
            raise ValueError(
                f"podCidr {self.pod_cidr} holds {blocks} node ranges (/{NODE_POD_PREFIX} each) but the cluster "
                f"can reach {nodes + deployments + 1} nodes during an upgrade; use a larger range"
            )
