"""gke: a regional, private GKE cluster with managed GPU pools, workload identity and Secret Manager."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp
from pulumi_gcp import container

from components.config import StackConfig
from components.config.gke import GkeSubstrate
from contract.facts import ClusterFacts, SecretStore
from substrate.gke.identity import create_node_identity, create_secret_store_identity
from substrate.gke.kubeconfig import dns_endpoint_of, gke_kubeconfig
from substrate.gke.network import POD_RANGE, SERVICE_RANGE, GkeNetwork, create_network
from substrate.gke.pools import CLOUD_PLATFORM_SCOPE, create_gpu_pool, create_system_pool
from substrate.gke.values import (
    gateway_address,
    gateway_address_name,
    gpu_pool_facts,
    kube_context_name,
    workload_pool,
)

STORAGE_CLASS = "standard-rwo"  # GKE's pd-balanced CSI class, ReadWriteOnce
# GKE's managed internal Application Load Balancer class, one of the two that accept InferencePool
# backends (GKE Inference Gateway): only LiteLLM calls it, so it stays inside the VPC.
GATEWAY_CLASS = "gke-l7-rilb"


@dataclass(frozen=True)
class GkeClusterArgs:
    spec: GkeSubstrate
    protect: bool = True
    # Create the Google account External Secrets uses; off when the stack delivers secrets otherwise.
    external_secrets: bool = True


class GkeCluster(pulumi.ComponentResource):
    kubeconfig: pulumi.Output[str]
    facts: ClusterFacts

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("inference-platform:substrate:GkeCluster", name, None, opts)
        spec = args.spec
        # Credentials come from Application Default Credentials; project and region from config only.
        self.provider = pulumi_gcp.Provider(
            "gcp",
            pulumi_gcp.ProviderArgs(project=spec.project, region=spec.region),
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=self.provider)
        kept = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=args.protect))
        net = create_network(spec, child, args.protect)
        nodes = create_node_identity(spec, child)
        self.cluster = self._cluster(spec, net, nodes.account.email, args.protect, child)
        pool_opts = pulumi.ResourceOptions.merge(
            kept,
            # Nodes need their IAM roles to ship logs, and NAT to pull images, from their first boot.
            pulumi.ResourceOptions(delete_before_replace=True, depends_on=[net.nat, *nodes.grants]),
        )
        self.system_pool = create_system_pool(spec, self.cluster, nodes.account.email, pool_opts)
        self.gpu_pools = [
            create_gpu_pool(spec, pool, self.cluster, nodes.account.email, pool_opts) for pool in spec.gpu_pools
        ]
        secret_store = (
            create_secret_store_identity(spec, self.cluster, child) if args.external_secrets else SecretStore()
        )

        context = kube_context_name(spec.project, spec.region, spec.cluster_name)
        # Pulumi and CI reach the API server through the DNS endpoint, whatever their address;
        # IAM decides who gets through, so no runner egress range has to be allow-listed.
        self.dns_endpoint = self.cluster.control_plane_endpoints_config.apply(dns_endpoint_of)
        self.kubeconfig = pulumi.Output.secret(self.dns_endpoint.apply(lambda host: gke_kubeconfig(context, host)))
        self.facts = ClusterFacts(
            kubeconfig=self.kubeconfig,
            cluster_name=spec.cluster_name,
            substrate="gke",
            gpu_stack="gke-managed",
            gpu_pools=tuple(gpu_pool_facts(p) for p in spec.gpu_pools),
            storage_class=STORAGE_CLASS,
            storage_shared=False,
            gateway_class=GATEWAY_CLASS,
            gateway_address=gateway_address(spec.node_cidr),
            gateway_address_name=gateway_address_name(spec.cluster_name),
            gateway_source_ranges=(spec.proxy_only_cidr,),
            dns_provider="google",
            secret_store=secret_store,
            # The Gateway needs its proxy-only subnet and reserved address before GKE programs it.
            ready=(self.system_pool, *self.gpu_pools, net.proxy_only, net.gateway_address),
            outputs={"controlPlaneDnsEndpoint": self.dns_endpoint},
        )
        self.register_outputs({"kubeconfig": self.kubeconfig, "dnsEndpoint": self.dns_endpoint})

    def _cluster(
        self,
        spec: GkeSubstrate,
        net: GkeNetwork,
        node_account: pulumi.Output[str],
        protect: bool,
        child: pulumi.ResourceOptions,
    ) -> container.Cluster:
        monitored = ["SYSTEM_COMPONENTS"] + (["DCGM"] if spec.gpu_pools else [])
        return container.Cluster(
            "cluster",
            container.ClusterArgs(
                name=spec.cluster_name,
                location=spec.region,
                network=net.network.id,
                subnetwork=net.subnet.id,
                networking_mode="VPC_NATIVE",
                ip_allocation_policy=container.ClusterIpAllocationPolicyArgs(
                    cluster_secondary_range_name=POD_RANGE, services_secondary_range_name=SERVICE_RANGE
                ),
                # Node pools are separate resources; the default pool exists only while the cluster is made.
                remove_default_node_pool=True,
                initial_node_count=1,
                # Even that short-lived pool must not run as the Compute Engine default account (an Editor).
                node_config=container.ClusterNodeConfigArgs(
                    service_account=node_account,
                    oauth_scopes=[CLOUD_PLATFORM_SCOPE],
                    workload_metadata_config=container.ClusterNodeConfigWorkloadMetadataConfigArgs(
                        mode="GKE_METADATA"
                    ),
                ),
                release_channel=container.ClusterReleaseChannelArgs(channel=spec.release_channel),
                workload_identity_config=container.ClusterWorkloadIdentityConfigArgs(
                    workload_pool=workload_pool(spec.project)
                ),
                private_cluster_config=container.ClusterPrivateClusterConfigArgs(
                    enable_private_nodes=True,
                    # With no authorized network the public IP endpoint is off; nodes use the private one.
                    enable_private_endpoint=not spec.authorized_networks,
                    master_ipv4_cidr_block=spec.master_cidr,
                ),
                control_plane_endpoints_config=container.ClusterControlPlaneEndpointsConfigArgs(
                    # Reachable from anywhere Google's APIs are; every request needs IAM's
                    # container.clusters.connect before Kubernetes RBAC sees it.
                    dns_endpoint_config=container.ClusterControlPlaneEndpointsConfigDnsEndpointConfigArgs(
                        allow_external_traffic=True
                    ),
                ),
                master_authorized_networks_config=container.ClusterMasterAuthorizedNetworksConfigArgs(
                    cidr_blocks=[
                        container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(cidr_block=c, display_name=c)
                        for c in spec.authorized_networks
                    ],
                    gcp_public_cidrs_access_enabled=False,
                ),
                # Dataplane V2 enforces NetworkPolicy; the platform's default-deny policies rely on it.
                datapath_provider="ADVANCED_DATAPATH",
                enable_shielded_nodes=True,
                gateway_api_config=container.ClusterGatewayApiConfigArgs(channel="CHANNEL_STANDARD"),
                logging_config=container.ClusterLoggingConfigArgs(
                    enable_components=["SYSTEM_COMPONENTS", "WORKLOADS"]
                ),
                monitoring_config=container.ClusterMonitoringConfigArgs(
                    enable_components=monitored,
                    managed_prometheus=container.ClusterMonitoringConfigManagedPrometheusArgs(enabled=True),
                ),
                deletion_protection=protect,
            ),
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(
                    protect=protect,
                    delete_before_replace=True,
                    # The default pool's settings matter only at creation; once it is gone they must
                    # never force a new cluster.
                    ignore_changes=["nodeConfig", "initialNodeCount"],
                ),
            ),
        )


def build(cfg: StackConfig) -> ClusterFacts:
    args = GkeClusterArgs(
        spec=cfg.substrate,
        protect=cfg.protect,
        external_secrets=cfg.secrets.backend == "external-secrets",
    )
    return GkeCluster("gke", args).facts
