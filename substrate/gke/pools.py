"""Node pools: the system pool for the platform, one tainted pool per GPU type."""

from __future__ import annotations

import pulumi
from pulumi_gcp import container

from components.config.gke import SYSTEM_POOL_NAME, GkeGpuPool, GkeSubstrate
from contract.facts import GPU_TAINT
from substrate.gke.values import gke_taint_effect, gpu_node_labels, node_network_tag

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
NODE_IMAGE = "COS_CONTAINERD"  # image streaming and managed GPU drivers both need COS with containerd


def _node_config(
    spec: GkeSubstrate,
    machine_type: str,
    disk_size_gb: int,
    service_account: pulumi.Input[str],
    **extra,
) -> container.NodePoolNodeConfigArgs:
    return container.NodePoolNodeConfigArgs(
        machine_type=machine_type,
        image_type=NODE_IMAGE,
        disk_type="pd-balanced",
        disk_size_gb=disk_size_gb,
        service_account=service_account,
        # IAM roles of the node account limit access; the scope only stops nodes from being narrower.
        oauth_scopes=[CLOUD_PLATFORM_SCOPE],
        # Pods see the GKE metadata server, never the node's own credentials.
        workload_metadata_config=container.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
        shielded_instance_config=container.NodePoolNodeConfigShieldedInstanceConfigArgs(
            enable_secure_boot=True, enable_integrity_monitoring=True
        ),
        # Image streaming: multi-GB model server images start before they are fully pulled.
        gcfs_config=container.NodePoolNodeConfigGcfsConfigArgs(enabled=True),
        gvnic=container.NodePoolNodeConfigGvnicArgs(enabled=True),
        tags=[node_network_tag(spec.cluster_name)],
        **extra,
    )


def _management() -> container.NodePoolManagementArgs:
    return container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True)


def create_system_pool(
    spec: GkeSubstrate, cluster: container.Cluster, service_account: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> container.NodePool:
    pool = spec.system_pool
    return container.NodePool(
        SYSTEM_POOL_NAME,
        container.NodePoolArgs(
            name=SYSTEM_POOL_NAME,
            cluster=cluster.id,
            location=spec.region,
            # One node per zone so the platform schedules at once; the autoscaler owns the count afterwards.
            initial_node_count=1,
            # Totals over all zones, as for GPU pools; BALANCED keeps the platform spread across zones.
            autoscaling=container.NodePoolAutoscalingArgs(
                total_min_node_count=pool.min_nodes, total_max_node_count=pool.max_nodes, location_policy="BALANCED"
            ),
            management=_management(),
            node_config=_node_config(
                spec,
                pool.machine_type,
                pool.disk_size_gb,
                service_account,
                labels={"inference-platform/pool": SYSTEM_POOL_NAME},
            ),
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=["initialNodeCount"])),
    )


def gpu_node_config(
    spec: GkeSubstrate, pool: GkeGpuPool, service_account: pulumi.Input[str]
) -> container.NodePoolNodeConfigArgs:
    accelerator = container.NodePoolNodeConfigGuestAcceleratorArgs(
        type=pool.accelerator,
        count=pool.count,
        # GKE installs and upgrades the NVIDIA driver: no GPU Operator on this substrate.
        gpu_driver_installation_config=container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
            gpu_driver_version=pool.driver_version
        ),
    )
    return _node_config(
        spec,
        pool.machine_type,
        pool.disk_size_gb,
        service_account,
        guest_accelerators=[accelerator],
        labels=gpu_node_labels(pool),
        # Only pods that tolerate GPUs land here, so CPU work never holds a GPU node up.
        taints=[
            container.NodePoolNodeConfigTaintArgs(
                key=GPU_TAINT.key, value=GPU_TAINT.value, effect=gke_taint_effect(GPU_TAINT)
            )
        ],
        spot=pool.spot,
    )


def create_gpu_pool(
    spec: GkeSubstrate,
    pool: GkeGpuPool,
    cluster: container.Cluster,
    service_account: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> container.NodePool:
    return container.NodePool(
        f"gpu-{pool.name}",
        container.NodePoolArgs(
            name=pool.name,
            cluster=cluster.id,
            location=spec.region,
            node_locations=pool.zones or None,
            # Totals over all zones, so the numbers are the GPU quota used; ANY takes capacity
            # wherever a zone has it, which matters for scarce and spot GPUs.
            autoscaling=container.NodePoolAutoscalingArgs(
                total_min_node_count=pool.min_nodes, total_max_node_count=pool.max_nodes, location_policy="ANY"
            ),
            management=_management(),
            node_config=gpu_node_config(spec, pool, service_account),
        ),
        opts=opts,
    )
