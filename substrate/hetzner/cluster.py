"""hetzner: hcloud network, firewall, load balancer and servers running k3s via cloud-init.

The hcloud API offers no GPU server types: GPU capacity comes from dedicated servers joined
through a Robot vSwitch with the `gpuJoinCommand` stack output (docs/substrates/hetzner.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pulumi
import pulumi_command as command
import pulumi_hcloud as hcloud
import pulumi_random as random
import pulumi_tls as tls
from pulumi_command import remote

from components.config import StackConfig
from components.config.hetzner import HetznerSubstrate
from contract.facts import GPU_TAINT, ClusterFacts, GpuPool
from substrate.hetzner import k3s

CLUSTER_LABEL = "inference-platform/cluster"
# hcloud spread placement groups hold at most 10 servers.
PLACEMENT_GROUP_SIZE = 10


def admin_rules(admin_cidrs: list[str]) -> list[hcloud.FirewallRuleArgs]:
    """Inbound SSH and Kubernetes API from the admin ranges only. A firewall drops every other
    inbound packet on the public interface; the private network is not filtered by it."""
    if not admin_cidrs:
        return []
    return [
        hcloud.FirewallRuleArgs(
            direction="in", protocol="tcp", port=port, source_ips=list(admin_cidrs), description=description
        )
        for port, description in (("22", "ssh from admins"), (str(k3s.API_PORT), "kubernetes api from admins"))
    ]


def placement_groups(count: int) -> list[range]:
    """Worker indexes per spread placement group."""
    return [range(start, min(start + PLACEMENT_GROUP_SIZE, count)) for start in range(0, count, PLACEMENT_GROUP_SIZE)]


def gpu_pools(spec: HetznerSubstrate) -> tuple[GpuPool, ...]:
    return tuple(
        GpuPool(
            name=p.name, accelerator=p.accelerator, count=p.count, labels=k3s.gpu_pool_labels(p), taints=(GPU_TAINT,)
        )
        for p in spec.gpu_pools
    )


def _hcloud_id(resource: pulumi.CustomResource) -> pulumi.Output[int]:
    # Pulumi ids are strings; hcloud references take the numeric id.
    return resource.id.apply(int)


@dataclass(frozen=True)
class HetznerClusterArgs:
    spec: HetznerSubstrate
    protect: bool = True


class HetznerCluster(pulumi.ComponentResource):
    kubeconfig: pulumi.Output[str]
    k3s_token: pulumi.Output[str]
    gpu_join_command: pulumi.Output[str]
    ssh_private_key: pulumi.Output[str]
    api_address: pulumi.Output[str]
    control_plane_address: pulumi.Output[str]
    facts: ClusterFacts

    def __init__(self, name: str, args: HetznerClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("inference-platform:substrate:HetznerCluster", name, None, opts)
        self._spec = spec = args.spec
        self._protect_stateful = args.protect
        self._labels = {CLUSTER_LABEL: spec.cluster_name}
        # The hcloud provider reads HCLOUD_TOKEN from its own environment; the token is never config.
        self.provider = hcloud.Provider("hcloud", opts=pulumi.ResourceOptions(parent=self))
        self._secrets()
        self._network()
        self._load_balancer()
        self._servers()
        self._read_kubeconfig()
        self.facts = ClusterFacts(
            kubeconfig=self.kubeconfig,
            cluster_name=spec.cluster_name,
            substrate="hetzner",
            gpu_stack="operator" if spec.gpu_pools else "none",
            gpu_pools=gpu_pools(spec),
            # Served by the hcloud CSI driver, an in-cluster component of the catalog.
            storage_class="hcloud-volumes",
            # Istio in gateway mode, installed by the llm-gateway layer.
            gateway_class="istio",
            storage_shared=False,
            # Services of type LoadBalancer get hcloud load balancers here (the catalog's hcloud-ccm).
            cloud_location=spec.location,
            image_volumes=spec.image_volumes,
            ready=(self.control_plane, *self.workers, self.kubeconfig_read),
        )
        self.register_outputs(
            {
                "kubeconfig": self.kubeconfig,
                "k3sToken": self.k3s_token,
                "gpuJoinCommand": self.gpu_join_command,
                "sshPrivateKey": self.ssh_private_key,
                "apiAddress": self.api_address,
                "controlPlaneAddress": self.control_plane_address,
            }
        )

    def _opts(self, protect: bool = False, **kwargs) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self.provider, protect=protect, **kwargs)

    def _secrets(self) -> None:
        local = pulumi.ResourceOptions(parent=self)
        tls_provider = tls.Provider("tls", opts=local)
        random_provider = random.Provider("random", opts=local)
        self.ssh_key_pair = tls.PrivateKey(
            "ssh",
            tls.PrivateKeyArgs(algorithm="ED25519"),
            opts=pulumi.ResourceOptions(parent=self, provider=tls_provider),
        )
        token = random.RandomPassword(
            "k3s-token",
            random.RandomPasswordArgs(length=48, special=False),
            opts=pulumi.ResourceOptions(parent=self, provider=random_provider),
        )
        # The control plane's SSH host key, made here and installed by cloud-init, so the SSH
        # connection that reads the kubeconfig pins it instead of trusting whatever answers.
        self.host_key = tls.PrivateKey(
            "control-plane-host-key",
            tls.PrivateKeyArgs(algorithm="ED25519"),
            opts=pulumi.ResourceOptions(parent=self, provider=tls_provider),
        )
        self.ssh_private_key = pulumi.Output.secret(self.ssh_key_pair.private_key_openssh)
        self.k3s_token = pulumi.Output.secret(token.result)
        self.ssh_key = hcloud.SshKey(
            "ssh",
            hcloud.SshKeyArgs(
                name=f"{self._spec.cluster_name}-admin",
                public_key=self.ssh_key_pair.public_key_openssh,
                labels=self._labels,
            ),
            opts=self._opts(),
        )

    def _network(self) -> None:
        spec = self._spec
        self.network = hcloud.Network(
            "network",
            hcloud.NetworkArgs(name=spec.cluster_name, ip_range=spec.network_cidr, labels=self._labels),
            opts=self._opts(protect=self._protect_stateful),
        )
        network_id = _hcloud_id(self.network)
        self.subnet = hcloud.NetworkSubnet(
            "subnet",
            hcloud.NetworkSubnetArgs(
                network_id=network_id, type="cloud", network_zone=spec.network_zone, ip_range=spec.subnet_cidr
            ),
            opts=self._opts(),
        )
        self.subnets = [self.subnet]
        if spec.vswitch_id is not None:
            self.subnets.append(
                hcloud.NetworkSubnet(
                    "vswitch-subnet",
                    hcloud.NetworkSubnetArgs(
                        network_id=network_id,
                        type="vswitch",
                        vswitch_id=spec.vswitch_id,
                        network_zone=spec.network_zone,
                        ip_range=spec.vswitch_subnet_cidr,
                    ),
                    opts=self._opts(),
                )
            )
        self.firewall = hcloud.Firewall(
            "firewall",
            hcloud.FirewallArgs(name=spec.cluster_name, rules=admin_rules(spec.admin_cidrs), labels=self._labels),
            opts=self._opts(),
        )

    def _load_balancer(self) -> None:
        """The API's stable private address: agents and dedicated GPU servers join through it."""
        spec = self._spec
        self.load_balancer = hcloud.LoadBalancer(
            "api",
            hcloud.LoadBalancerArgs(
                name=f"{spec.cluster_name}-api",
                load_balancer_type=spec.load_balancer_type,
                location=spec.location,
                labels=self._labels,
            ),
            opts=self._opts(protect=self._protect_stateful),
        )
        self.load_balancer_network = hcloud.LoadBalancerNetwork(
            "api-network",
            hcloud.LoadBalancerNetworkArgs(
                load_balancer_id=_hcloud_id(self.load_balancer),
                subnet_id=self.subnet.id,
                ip=k3s.private_addresses(spec.subnet_cidr).load_balancer,
                # hcloud firewalls never filter load balancers: a public interface would open the
                # API to the internet. The load balancer serves the private network only.
                enable_public_interface=False,
            ),
            opts=self._opts(),
        )
        self.api_service = hcloud.LoadBalancerService(
            "api-service",
            hcloud.LoadBalancerServiceArgs(
                load_balancer_id=self.load_balancer.id,
                protocol="tcp",
                listen_port=k3s.API_PORT,
                destination_port=k3s.API_PORT,
                health_check=hcloud.LoadBalancerServiceHealthCheckArgs(
                    protocol="tcp", port=k3s.API_PORT, interval=10, timeout=5, retries=3
                ),
            ),
            opts=self._opts(),
        )

    def _server(
        self, name: str, role: str, server_type: str, user_data: pulumi.Output[str], placement: hcloud.PlacementGroup,
        ip: str | None = None,
    ) -> hcloud.Server:
        spec = self._spec
        return hcloud.Server(
            name,
            hcloud.ServerArgs(
                name=f"{spec.cluster_name}-{name}",
                server_type=server_type,
                image=spec.image,
                location=spec.location,
                ssh_keys=[self.ssh_key.id],
                firewall_ids=[_hcloud_id(self.firewall)],
                placement_group_id=_hcloud_id(placement),
                # Pinned to the cloud subnet: with a network id alone hcloud picks the last subnet by
                # range, which is the vSwitch subnet when one is coupled.
                networks=[
                    hcloud.ServerNetworkArgs(network_id=_hcloud_id(self.network), subnet_id=self.subnet.id, ip=ip)
                ],
                user_data=pulumi.Output.secret(user_data),
                labels={**self._labels, k3s.ROLE_LABEL: role},
            ),
            # cloud-init runs once, at first boot: a changed script or key would only replace the
            # server, so later k3s upgrades happen in the cluster, not here.
            opts=self._opts(
                protect=self._protect_stateful,
                depends_on=self.subnets,
                additional_secret_outputs=["user_data"],
                ignore_changes=["user_data", "ssh_keys", "image"],
            ),
        )

    def _placement_group(self, name: str) -> hcloud.PlacementGroup:
        return hcloud.PlacementGroup(
            name,
            hcloud.PlacementGroupArgs(name=f"{self._spec.cluster_name}-{name}", type="spread", labels=self._labels),
            opts=self._opts(),
        )

    def _servers(self) -> None:
        spec = self._spec
        addresses = k3s.private_addresses(spec.subnet_cidr)
        server_data = pulumi.Output.all(
            self.k3s_token, self.host_key.private_key_openssh, self.host_key.public_key_openssh
        ).apply(
            lambda values: k3s.server_user_data(
                spec, token=values[0], host_key=k3s.HostKey(private_openssh=values[1], public_openssh=values[2])
            )
        )
        placement = self._placement_group("control-plane")
        self.control_plane = self._server(
            "control-plane", "control-plane", spec.control_plane_type, server_data, placement, addresses.control_plane
        )
        self.control_plane_address = self.control_plane.ipv4_address
        # Pulumi and admins reach the API on the control plane's public address, where the
        # firewall admits adminCidrs only.
        self.api_address = self.control_plane_address
        self.api_target = hcloud.LoadBalancerTarget(
            "api-target",
            hcloud.LoadBalancerTargetInitArgs(
                type="server",
                load_balancer_id=_hcloud_id(self.load_balancer),
                server_id=_hcloud_id(self.control_plane),
                use_private_ip=True,
            ),
            opts=self._opts(depends_on=[self.load_balancer_network]),
        )
        agent_data = self.k3s_token.apply(lambda token: k3s.agent_user_data(spec, token=token))
        self.workers: list[hcloud.Server] = []
        for group, indexes in enumerate(placement_groups(spec.workers.count)):
            placement = self._placement_group(f"workers-{group}")
            self.workers += [
                self._server(f"worker-{i}", "worker", spec.workers.server_type, agent_data, placement) for i in indexes
            ]
        self.gpu_join_command = pulumi.Output.secret(
            self.k3s_token.apply(lambda token: k3s.gpu_join_commands(spec, token=token))
        )

    def _read_kubeconfig(self) -> None:
        spec = self._spec
        ssh = command.Provider("command", opts=pulumi.ResourceOptions(parent=self))
        self.kubeconfig_read = remote.Command(
            "kubeconfig",
            remote.CommandArgs(
                connection=remote.ConnectionArgs(
                    host=self.control_plane.ipv4_address,
                    user="root",
                    private_key=self.ssh_private_key,
                    # Only the key cloud-init installed is accepted: no trust on first use.
                    host_key=self.host_key.public_key_openssh,
                    dial_error_limit=30,
                ),
                create=k3s.read_kubeconfig_command(k3s.renewal_window(datetime.now(UTC))),
                # The command prints the admin kubeconfig: nothing of it may reach the Pulumi log,
                # and it is not handed back to the next run's environment.
                logging=remote.Logging.NONE,
                add_previous_output_in_env=False,
                triggers=[self.control_plane.id],
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=ssh,
                depends_on=[self.control_plane],
                additional_secret_outputs=["stdout", "stderr"],
            ),
        )
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(self.kubeconfig_read.stdout, self.api_address).apply(
                lambda values: k3s.public_kubeconfig(values[0], api_host=values[1], cluster_name=spec.cluster_name)
            )
        )


def build(cfg: StackConfig) -> ClusterFacts:
    cluster = HetznerCluster("hetzner", HetznerClusterArgs(spec=cfg.substrate, protect=cfg.protect))
    # Outputs only this substrate has; docs/substrates/hetzner.md shows how they are used.
    cluster.facts.outputs.update(
        apiAddress=cluster.api_address,
        controlPlaneAddress=cluster.control_plane_address,
        gpuJoinCommand=cluster.gpu_join_command,
        k3sToken=cluster.k3s_token,
        sshPrivateKey=cluster.ssh_private_key,
    )
    return cluster.facts
