"""vks: a vSphere Kubernetes Service workload cluster on an existing Supervisor.

pulumi-vsphere has no workload-cluster resource. It makes the vGPU VM classes and the
vSphere Namespace; the cluster itself is a Cluster API `Cluster` applied to the Supervisor
through a Kubernetes provider, and its kubeconfig is read back from the Secret Cluster API
writes beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_vsphere as vsphere

from components.config import StackConfig
from components.config.vks import VksSubstrate
from contract.facts import GPU_TAINT, ClusterFacts, GpuPool, VgpuDriver
from substrate.vks import manifests

# Creating or upgrading a cluster replaces its machines one by one: far longer than the default wait.
CLUSTER_TIMEOUTS = pulumi.CustomTimeouts(create="60m", update="90m", delete="30m")
# vSphere rejects a VM class with vGPU devices unless it reserves all of its memory (percent).
FULL_RESERVATION = 100


def vgpu_driver(spec: VksSubstrate) -> VgpuDriver | None:
    driver = spec.vgpu_driver
    if driver is None:
        return None
    return VgpuDriver(
        repository=driver.repository,
        image=driver.image,
        version=driver.version,
        pull_secret=driver.pull_secret,
        licensing_secret=driver.licensing_secret,
    )


@dataclass(frozen=True)
class VksClusterArgs:
    spec: VksSubstrate
    # Kubeconfig of the Supervisor (secret), from `kubectl vsphere login`.
    supervisor_kubeconfig: pulumi.Input[str]
    protect: bool = True


class VksCluster(pulumi.ComponentResource):
    kubeconfig: pulumi.Output[str]
    facts: ClusterFacts

    def __init__(self, name: str, args: VksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("inference-platform:substrate:VksCluster", name, None, opts)
        spec = args.spec
        # Credentials stay out of config and state: the provider reads VSPHERE_USER and VSPHERE_PASSWORD itself.
        self.vsphere = vsphere.Provider(
            "vsphere",
            vsphere.ProviderArgs(vsphere_server=spec.vcenter_server, allow_unverified_ssl=spec.allow_unverified_ssl),
            opts=pulumi.ResourceOptions(parent=self),
        )
        on_vsphere = pulumi.ResourceOptions(parent=self, provider=self.vsphere)
        self.vm_classes = [
            vsphere.VirtualMachineClass(
                f"vmclass-{pool.name}",
                vsphere.VirtualMachineClassArgs(
                    name=manifests.vm_class_name(spec, pool),
                    cpus=pool.cpus,
                    memory=pool.memory_mib,
                    memory_reservation=FULL_RESERVATION,
                    vgpu_devices=manifests.vgpu_devices(pool),
                ),
                opts=on_vsphere,
            )
            for pool in spec.gpu_pools
        ]
        self.namespace = vsphere.Namespace(
            "namespace",
            vsphere.NamespaceArgs(
                name=spec.namespace,
                supervisor=spec.supervisor_id,
                storage_policies=[spec.storage_policy],
                vm_services=[
                    vsphere.NamespaceVmServiceArgs(
                        content_libraries=[spec.content_library],
                        vm_classes=manifests.namespace_vm_classes(spec),
                    )
                ],
            ),
            opts=pulumi.ResourceOptions.merge(
                on_vsphere, pulumi.ResourceOptions(protect=args.protect, depends_on=self.vm_classes)
            ),
        )
        self.supervisor = kubernetes.Provider(
            "supervisor",
            kubernetes.ProviderArgs(
                kubeconfig=pulumi.Output.secret(args.supervisor_kubeconfig),
                context=spec.supervisor_context,
                # `kubectl vsphere login` tokens expire within hours: a refreshed kubeconfig must
                # update the provider, never replace it (which would replace the cluster).
                cluster_identifier=f"vsphere-supervisor-{spec.supervisor_id}",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        on_supervisor = pulumi.ResourceOptions(parent=self, provider=self.supervisor)
        manifest = manifests.cluster_manifest(spec)
        self.cluster = kubernetes.apiextensions.CustomResource(
            "cluster",
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=kubernetes.meta.v1.ObjectMetaArgs(**manifest["metadata"]),
            spec=manifest["spec"],
            opts=pulumi.ResourceOptions.merge(
                on_supervisor,
                pulumi.ResourceOptions(
                    protect=args.protect, depends_on=[self.namespace], custom_timeouts=CLUSTER_TIMEOUTS
                ),
            ),
        )
        secret_name = manifests.kubeconfig_secret_name(spec.cluster_name)
        secret_id = f"{spec.namespace}/{secret_name}"
        self.kubeconfig_secret = kubernetes.core.v1.Secret.get(
            "workload-kubeconfig",
            # Derived from the cluster's id so the id is unknown while the cluster is still to be
            # created: a preview then skips the read instead of failing on a Secret not there yet.
            id=self.cluster.id.apply(lambda _: secret_id),
            opts=pulumi.ResourceOptions.merge(on_supervisor, pulumi.ResourceOptions(depends_on=[self.cluster])),
        )
        self.kubeconfig = pulumi.Output.secret(
            self.kubeconfig_secret.data.apply(lambda data: manifests.decode_kubeconfig(data, secret_id))
        )
        self.facts = ClusterFacts(
            kubeconfig=self.kubeconfig,
            cluster_name=spec.cluster_name,
            substrate="vks",
            # vGPU guest drivers and licensing come from the NVIDIA GPU Operator inside the cluster.
            gpu_stack="operator",
            gpu_pools=tuple(
                GpuPool(
                    name=p.name,
                    accelerator=p.accelerator,
                    count=p.count,
                    labels=manifests.pool_labels(p),
                    taints=(GPU_TAINT,),
                )
                for p in spec.gpu_pools
            ),
            storage_class=spec.storage_class,
            storage_shared=False,
            # Istio in gateway mode, installed by the llm-gateway layer.
            gateway_class="istio",
            vgpu_driver=vgpu_driver(spec),
            image_volumes=spec.image_volumes,
            ready=(self.cluster, self.kubeconfig_secret),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig})


def build(cfg: StackConfig) -> ClusterFacts:
    assert cfg.supervisor_kubeconfig is not None  # guaranteed by StackConfig validation for substrate vks
    args = VksClusterArgs(
        spec=cfg.substrate,
        supervisor_kubeconfig=cfg.supervisor_kubeconfig.get_secret_value(),
        protect=cfg.protect,
    )
    return VksCluster("vks", args).facts
