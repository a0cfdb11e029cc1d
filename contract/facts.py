"""ClusterFacts: all that the in-cluster side may know about the substrate beneath it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

import pulumi

GpuStack = Literal["gke-managed", "operator", "none"]
Substrate = Literal["gke", "hetzner", "vks", "kind", "existing"]
SUBSTRATES: tuple[str, ...] = get_args(Substrate)


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str


GPU_TAINT = Taint("nvidia.com/gpu", "present", "NoSchedule")


@dataclass(frozen=True)
class GpuPool:
    name: str
    accelerator: str
    count: int
    # Labels that select exactly this pool's nodes, and the taints they carry.
    labels: dict[str, str]
    taints: tuple[Taint, ...] = (GPU_TAINT,)


@dataclass(frozen=True)
class SecretStore:
    """How External Secrets reaches the cloud secret manager, if the substrate has one."""

    backend: Literal["gcp-secret-manager", "none"] = "none"
    project: str | None = None
    # Cloud identity the External Secrets controller's service account is bound to.
    identity: str | None = None


@dataclass(frozen=True)
class VgpuDriver:
    """NVIDIA's vGPU guest driver, which vGPU VMs need instead of the public data-center driver:
    an image in a private registry and NLS licensing. Only names: the pull secret and the
    licensing token reach the cluster through the secrets backend."""

    repository: str
    image: str
    version: str
    pull_secret: str
    # Secret holding gridd.conf and client_configuration_token.tok (NLS).
    licensing_secret: str


@dataclass(frozen=True)
class ClusterFacts:
    kubeconfig: pulumi.Output[str]  # always a secret Output
    cluster_name: str
    substrate: Substrate
    gpu_stack: GpuStack
    gpu_pools: tuple[GpuPool, ...] = ()
    storage_class: str = "standard"
    # Whether storage_class can be mounted by pods on several nodes at once.
    storage_shared: bool = False
    load_balancer_class: str | None = None
    # The GatewayClass of the llm-gateway layer's Gateway: `istio` where the platform installs
    # Istio itself, a managed class (gke-l7-rilb) or the class an existing cluster names.
    gateway_class: str | None = None
    # Where in-cluster clients reach that Gateway when the class gives it no Service of its own
    # (GKE: a reserved internal address), and the reserved address' name for spec.addresses.
    gateway_address: str | None = None
    gateway_address_name: str | None = None
    # Source ranges of a managed Gateway's proxies (GKE: the proxy-only subnet): model servers
    # and endpoint pickers admit them, since no pod of the cluster makes those connections.
    gateway_source_ranges: tuple[str, ...] = ()
    dns_provider: str | None = None
    secret_store: SecretStore = SecretStore()
    # Where the substrate's cloud creates load balancers for Services (hcloud location), if it does.
    cloud_location: str | None = None
    # Set where GPU nodes are vGPU VMs: the guest driver the GPU Operator must install.
    vgpu_driver: VgpuDriver | None = None
    # Whether pods can mount OCI images as volumes (the ImageVolume feature): oci:// models need it.
    image_volumes: bool = True
    # kubeconfig context to use; None = the kubeconfig's current-context.
    kube_context: str | None = None
    # Resources the in-cluster bootstrap must wait for (node pools, joins).
    ready: tuple[pulumi.Resource, ...] = field(default=(), compare=False)
    # Stack outputs only this substrate has (e.g. Hetzner's GPU join command), by export name.
    outputs: dict[str, pulumi.Output] = field(default_factory=dict, compare=False)
    # A resource whose deletion takes every in-cluster object with it (kind's cluster). The
    # in-cluster side passes it as `deleted_with`, so destroy does not delete objects one by
    # one in a cluster that goes anyway, or wait on one that is already gone.
    deleted_with: pulumi.Resource | None = field(default=None, compare=False)

    def plain(self) -> dict:
        """The facts pure renderers may use: plain data, no Outputs, no secrets."""
        return {
            "clusterName": self.cluster_name,
            "substrate": self.substrate,
            "gpuStack": self.gpu_stack,
            "gpuPools": [
                {
                    "name": p.name,
                    "accelerator": p.accelerator,
                    "count": p.count,
                    "labels": dict(p.labels),
                    "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in p.taints],
                }
                for p in self.gpu_pools
            ],
            "storageClass": self.storage_class,
            "storageShared": self.storage_shared,
            "loadBalancerClass": self.load_balancer_class,
            "gatewayClass": self.gateway_class,
            "gatewayAddress": self.gateway_address,
            "gatewayAddressName": self.gateway_address_name,
            "gatewaySourceRanges": list(self.gateway_source_ranges),
            "dnsProvider": self.dns_provider,
            "secretStore": {
                "backend": self.secret_store.backend,
                "project": self.secret_store.project,
                "identity": self.secret_store.identity,
            },
            "cloudLocation": self.cloud_location,
            "vgpuDriver": None if self.vgpu_driver is None else {
                "repository": self.vgpu_driver.repository,
                "image": self.vgpu_driver.image,
                "version": self.vgpu_driver.version,
                "pullSecret": self.vgpu_driver.pull_secret,
                "licensingSecret": self.vgpu_driver.licensing_secret,
            },
            "imageVolumes": self.image_volumes,
        }
