"""Pure builders for the vks substrate: VM class names, node labels and the Cluster API manifest.

Nothing here creates a Pulumi resource, so all of it is tested without Pulumi.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from components.config.vks import POOL_LABEL, VksGpuPool, VksSubstrate
from contract.facts import GPU_TAINT

API_VERSION = "cluster.x-k8s.io/v1beta1"
KIND = "Cluster"
CPU_DEPLOYMENT = "cpu"
SERVICE_DOMAIN = "cluster.local"
MIN_SIZE = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"
MAX_SIZE = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"
# What the Cluster Autoscaler assumes a node of an empty pool would offer, so it can scale from zero.
CAPACITY = "capacity.cluster-autoscaler.kubernetes.io/"
OS_IMAGE = "run.tanzu.vmware.com/resolve-os-image"
# pulumi-kubernetes waits for this condition before the Cluster counts as created: the kubeconfig
# Secret is read right after, and it exists only once the control plane is up.
WAIT_FOR = "pulumi.com/waitFor"
READY = "condition=Ready"


def vm_class_name(spec: VksSubstrate, pool: VksGpuPool) -> str:
    return f"{spec.cluster_name}-{pool.name}"


def gpu_deployment_name(pool: VksGpuPool) -> str:
    # The prefix keeps a pool called "cpu" from colliding with the CPU deployment.
    return f"gpu-{pool.name}"


def vgpu_devices(pool: VksGpuPool) -> list[str]:
    """One vGPU device per GPU a node of the pool has."""
    return [pool.vgpu_profile] * pool.count


def pool_labels(pool: VksGpuPool) -> dict[str, str]:
    return {POOL_LABEL: pool.name, **pool.labels}


def namespace_vm_classes(spec: VksSubstrate) -> list[str]:
    """Every VM class the cluster's machines use: a namespace may only run classes bound to it."""
    names = [spec.control_plane_class, spec.worker_class, *(vm_class_name(spec, p) for p in spec.gpu_pools)]
    return list(dict.fromkeys(names))


def kubeconfig_secret_name(cluster_name: str) -> str:
    """Cluster API's convention: the admin kubeconfig sits in `<cluster>-kubeconfig`, key `value`."""
    return f"{cluster_name}-kubeconfig"


def decode_kubeconfig(data: Mapping[str, str] | None, secret: str) -> str:
    value = (data or {}).get("value")
    if not value:
        raise ValueError(f"Secret {secret} has no key 'value'; it is not a Cluster API kubeconfig Secret")
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"Secret {secret} key 'value' is not base64-encoded text") from exc


def _variable(name: str, value: Any) -> dict[str, Any]:
    return {"name": name, "value": value}


def _os_annotation(spec: VksSubstrate) -> dict[str, str]:
    return {OS_IMAGE: f"os-name={spec.node_os}"}


def _capacity(pool: VksGpuPool) -> dict[str, str]:
    labels = pool_labels(pool)
    taint = f"{GPU_TAINT.key}={GPU_TAINT.value}:{GPU_TAINT.effect}"
    return {
        CAPACITY + "cpu": str(pool.cpus),
        CAPACITY + "memory": f"{pool.memory_mib}Mi",
        CAPACITY + "gpu-type": "nvidia.com/gpu",
        CAPACITY + "gpu-count": str(pool.count),
        CAPACITY + "labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        CAPACITY + "taints": taint,
    }


def _gpu_deployment(spec: VksSubstrate, pool: VksGpuPool) -> dict[str, Any]:
    overrides = [
        _variable("vmClass", vm_class_name(spec, pool)),
        _variable(
            "node",
            {
                "labels": pool_labels(pool),
                "taints": [{"key": GPU_TAINT.key, "value": GPU_TAINT.value, "effect": GPU_TAINT.effect}],
            },
        ),
    ]
    if pool.containerd_disk_gib:
        volume = {
            "name": "containerd",
            "mountPath": "/var/lib/containerd",
            "capacity": f"{pool.containerd_disk_gib}Gi",
            "storageClass": spec.storage_class,
        }
        overrides.append(_variable("volumes", [volume]))
    # No replicas: the autoscaler owns the count, and Cluster API starts the pool at the minimum size.
    annotations = {**_os_annotation(spec), MIN_SIZE: str(pool.min_nodes), MAX_SIZE: str(pool.max_nodes)}
    return {
        "class": spec.machine_deployment_class,
        "name": gpu_deployment_name(pool),
        "metadata": {"annotations": {**annotations, **_capacity(pool)}},
        "variables": {"overrides": overrides},
    }


def cluster_manifest(spec: VksSubstrate) -> dict[str, Any]:
    """The workload cluster as a Cluster API Cluster with a ClusterClass topology."""
    storage = spec.storage_class
    topology: dict[str, Any] = {
        "class": spec.cluster_class,
        "version": spec.kubernetes_version,
        "controlPlane": {
            "replicas": spec.control_plane_replicas,
            "metadata": {"annotations": _os_annotation(spec)},
            "variables": {"overrides": [_variable("vmClass", spec.control_plane_class)]},
        },
        "workers": {
            "machineDeployments": [
                {
                    "class": spec.machine_deployment_class,
                    "name": CPU_DEPLOYMENT,
                    "replicas": spec.worker_count,
                    "metadata": {"annotations": _os_annotation(spec)},
                },
                *(_gpu_deployment(spec, p) for p in spec.gpu_pools),
            ]
        },
        "variables": [
            _variable("vmClass", spec.worker_class),
            _variable("storageClass", storage),
            _variable("vsphereOptions", {
                "persistentVolumes": {"availableStorageClasses": [storage], "defaultStorageClass": storage},
            }),
        ],
    }
    if spec.cluster_class_namespace:
        topology["classNamespace"] = spec.cluster_class_namespace
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": spec.cluster_name,
            "namespace": spec.namespace,
            "annotations": {WAIT_FOR: READY},
        },
        "spec": {
            "clusterNetwork": {
                "pods": {"cidrBlocks": [spec.pod_cidr]},
                "services": {"cidrBlocks": [spec.service_cidr]},
                "serviceDomain": SERVICE_DOMAIN,
            },
            "topology": topology,
        },
    }
