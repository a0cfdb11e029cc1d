"""The cluster's VPC: one subnet with pod and service ranges, Cloud NAT, and the firewall
rule that lets a private control plane reach admission webhooks on the nodes."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_gcp import compute

from components.config.gke import GkeSubstrate
from substrate.gke.values import gateway_address, gateway_address_name, node_network_tag

POD_RANGE = "pods"
SERVICE_RANGE = "services"
# GKE opens only 443 and 10250 from the control plane to nodes; webhooks and aggregated APIs
# of the platform listen elsewhere (KEDA's metrics server on 6443, Kyverno and Kueue on 9443,
# others on 8443). Without this rule their API calls time out on a private cluster.
WEBHOOK_PORTS = ["6443", "8443", "9443"]


@dataclass(frozen=True)
class GkeNetwork:
    network: compute.Network
    subnet: compute.Subnetwork
    nat: compute.RouterNat
    proxy_only: compute.Subnetwork
    gateway_address: compute.Address


def create_network(spec: GkeSubstrate, opts: pulumi.ResourceOptions, protect: bool) -> GkeNetwork:
    """`opts` carries parent and provider; names are explicit, so replacement deletes first."""
    named = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=True))
    kept = pulumi.ResourceOptions.merge(named, pulumi.ResourceOptions(protect=protect))
    cluster = spec.cluster_name
    network = compute.Network(
        "network",
        compute.NetworkArgs(name=f"{cluster}-net", auto_create_subnetworks=False, routing_mode="REGIONAL"),
        opts=kept,
    )
    subnet = compute.Subnetwork(
        "subnet",
        compute.SubnetworkArgs(
            name=f"{cluster}-nodes",
            network=network.id,
            region=spec.region,
            ip_cidr_range=spec.node_cidr,
            # Private nodes reach Google APIs (Artifact Registry, Secret Manager) without NAT.
            private_ip_google_access=True,
            secondary_ip_ranges=[
                compute.SubnetworkSecondaryIpRangeArgs(range_name=POD_RANGE, ip_cidr_range=spec.pod_cidr),
                compute.SubnetworkSecondaryIpRangeArgs(range_name=SERVICE_RANGE, ip_cidr_range=spec.service_cidr),
            ],
        ),
        opts=kept,
    )
    router = compute.Router(
        "router",
        compute.RouterArgs(name=f"{cluster}-router", network=network.id, region=spec.region),
        opts=named,
    )
    # Private nodes have no external address: images from public registries come through NAT.
    nat = compute.RouterNat(
        "nat",
        compute.RouterNatArgs(
            name=f"{cluster}-nat",
            router=router.name,
            region=spec.region,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[
                compute.RouterNatSubnetworkArgs(name=subnet.id, source_ip_ranges_to_nats=["ALL_IP_RANGES"]),
            ],
            log_config=compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
        ),
        opts=named,
    )
    compute.Firewall(
        "control-plane-webhooks",
        compute.FirewallArgs(
            name=f"{cluster}-control-plane-webhooks",
            network=network.id,
            direction="INGRESS",
            source_ranges=[spec.master_cidr],
            target_tags=[node_network_tag(cluster)],
            allows=[compute.FirewallAllowArgs(protocol="tcp", ports=WEBHOOK_PORTS)],
        ),
        opts=named,
    )
    # GKE's managed regional Gateways (gke-l7-rilb) run their Envoy proxies in this subnet.
    proxy_only = compute.Subnetwork(
        "proxy-only-subnet",
        compute.SubnetworkArgs(
            name=f"{cluster}-proxy-only",
            network=network.id,
            region=spec.region,
            ip_cidr_range=spec.proxy_only_cidr,
            purpose="REGIONAL_MANAGED_PROXY",
            role="ACTIVE",
        ),
        opts=named,
    )
    # The llm-gateway layer's Gateway takes this address (spec.addresses NamedAddress): LiteLLM's
    # URL for it is known at render time and survives the load balancer's recreation.
    address = compute.Address(
        "gateway-address",
        compute.AddressArgs(
            name=gateway_address_name(cluster),
            region=spec.region,
            address_type="INTERNAL",
            purpose="SHARED_LOADBALANCER_VIP",
            subnetwork=subnet.id,
            address=gateway_address(spec.node_cidr),
        ),
        opts=named,
    )
    return GkeNetwork(network=network, subnet=subnet, nat=nat, proxy_only=proxy_only, gateway_address=address)
