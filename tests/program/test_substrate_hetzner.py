"""The hetzner substrate's resource graph, under the recording mock, in preview and in update."""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime.sync_await import _sync_await

from components.config import parse_stack_config
from tooling.fakes_hetzner import FAKE_ED25519_PRIVATE, FAKE_ED25519_PUBLIC, FAKE_K3S_TOKEN
from tooling.mocks import UNKNOWN
from tooling.program import Run, run_function

COMPONENT = "inference-platform:substrate:HetznerCluster"
SERVER = "hcloud:index/server:Server"
ADMIN = ["198.51.100.0/24"]
GPU = {
    "vswitchId": 4711,
    "gpuPools": [{"name": "l4", "accelerator": "nvidia-l4", "labels": {"tier": "gold"}}],
}


def mock_id(type_: str, name: str) -> str:
    """The id the recording mock gives an hcloud resource (tooling/mocks.py)."""
    return str(zlib.crc32(f"{type_}::{name}".encode()))


@dataclass
class Built:
    run: Run
    facts: Any
    exports: dict[str, pulumi.Output]

    def resolve(self, output: pulumi.Output) -> tuple[Any, bool]:
        return _sync_await(output.future()), _sync_await(output.is_secret())

    def one(self, type_: str, name: str | None = None):
        found = [r for r in self.run.of_type(type_) if name is None or r.name == name]
        assert len(found) == 1, f"{type_} {name}: {[r.name for r in found]}"
        return found[0]


@functools.cache
def build(preview: bool, gpu: bool = False, protect: bool = True, workers: int = 2) -> Built:
    substrate = {"kind": "hetzner", "adminCidrs": ADMIN, "workers": {"count": workers}, **(GPU if gpu else {})}
    holder: dict[str, Any] = {}

    def program() -> None:
        from substrate.hetzner import build as build_hetzner

        cfg = parse_stack_config(
            {"substrate": substrate, "protect": protect, "sopsAgeKey": "AGE-SECRET-KEY-1TEST"}, ["sopsAgeKey"]
        )
        holder["facts"] = build_hetzner(cfg)

    run = run_function(program, preview=preview)
    return Built(run=run, facts=holder["facts"], exports=holder["facts"].outputs)


@pytest.fixture(params=[False, True], ids=["update", "preview"])
def built(request) -> Built:
    return build(request.param, gpu=True)


def test_everything_is_inside_the_component_with_its_own_providers(built):
    by_urn = built.run.by_urn()
    (component,) = built.run.of_type(COMPONENT)
    providers = {r.urn: r for r in built.run.resources if r.type.startswith("pulumi:providers:")}
    assert sorted(p.name for p in providers.values()) == ["command", "hcloud", "random", "tls"]
    for r in built.run.resources:
        if r.type == COMPONENT:
            continue
        assert r.parent == component.urn, r.name
        if r.custom and not r.type.startswith("pulumi:providers:"):
            assert r.provider_urn in providers, f"{r.type} {r.name} uses no provider of the component"
            package = r.type.split(":")[0]
            assert by_urn[r.provider_urn].type == f"pulumi:providers:{package}"


def test_expected_resources(built):
    count = {t: len(built.run.of_type(t)) for t in {r.type for r in built.run.resources}}
    assert count["hcloud:index/network:Network"] == 1
    assert count["hcloud:index/networkSubnet:NetworkSubnet"] == 2
    assert count["hcloud:index/firewall:Firewall"] == 1
    assert count["hcloud:index/loadBalancer:LoadBalancer"] == 1
    assert count["hcloud:index/loadBalancerNetwork:LoadBalancerNetwork"] == 1
    assert count["hcloud:index/loadBalancerTarget:LoadBalancerTarget"] == 1
    assert count["hcloud:index/loadBalancerService:LoadBalancerService"] == 1
    assert count["hcloud:index/placementGroup:PlacementGroup"] == 2
    assert count["hcloud:index/sshKey:SshKey"] == 1
    assert count[SERVER] == 3
    assert count["command:remote:Command"] == 1
    for key in ("ssh", "control-plane-host-key"):
        assert built.one("tls:index/privateKey:PrivateKey", key).inputs["algorithm"] == "ED25519"
    assert built.one("random:index/randomPassword:RandomPassword").inputs["special"] is False


def test_provider_token_is_not_taken_from_config(built):
    assert "token" not in built.one("pulumi:providers:hcloud").inputs


def test_network_and_subnets(built):
    assert built.one("hcloud:index/network:Network").inputs["ipRange"] == "10.0.0.0/16"
    cloud = built.one("hcloud:index/networkSubnet:NetworkSubnet", "subnet").inputs
    assert (cloud["type"], cloud["networkZone"], cloud["ipRange"]) == ("cloud", "eu-central", "10.0.1.0/24")
    vswitch = built.one("hcloud:index/networkSubnet:NetworkSubnet", "vswitch-subnet").inputs
    assert (vswitch["type"], vswitch["vswitchId"], vswitch["ipRange"]) == ("vswitch", 4711, "10.0.2.0/24")


def test_firewall_opens_ssh_and_api_to_admins_only(built):
    rules = built.one("hcloud:index/firewall:Firewall").inputs["rules"]
    assert sorted((r["direction"], r["protocol"], r["port"]) for r in rules) == [
        ("in", "tcp", "22"),
        ("in", "tcp", "6443"),
    ]
    assert all(r["sourceIps"] == ADMIN for r in rules)


def test_protect_on_network_servers_and_load_balancer(built):
    protected = sorted((r.type.split(":")[-1], r.name) for r in built.run.resources if r.protect)
    assert protected == [
        ("LoadBalancer", "api"),
        ("Network", "network"),
        ("Server", "control-plane"),
        ("Server", "worker-0"),
        ("Server", "worker-1"),
    ]


def test_protect_false_protects_nothing():
    run = build(False, protect=False).run
    assert [r.name for r in run.resources if r.protect] == []


def test_servers_get_secret_user_data_network_firewall_and_placement(built):
    subnets = {r.urn for r in built.run.of_type("hcloud:index/networkSubnet:NetworkSubnet")}
    for server in built.run.of_type(SERVER):
        if not built.run.preview:
            # In a preview the user data may be unknown (it waits on generated keys and token).
            assert server.secret_inputs == ["userData"]
        assert "userData" in server.additional_secret_outputs
        assert set(server.ignore_changes) == {"userData", "sshKeys", "image"}
        assert subnets <= set(server.dependencies)
        (net,) = server.inputs["networks"]
        assert set(net) <= {"networkId", "subnetId", "ip"}
        if not built.run.preview:
            assert isinstance(net["networkId"], int | float)
            assert len(server.inputs["firewallIds"]) == 1
            assert "placementGroupId" in server.inputs
        else:  # hcloud ids exist only once the network, firewall and group are created
            assert net["networkId"] == UNKNOWN and server.inputs["placementGroupId"] == UNKNOWN
    control_plane = built.one(SERVER, "control-plane")
    assert control_plane.inputs["serverType"] == "cpx31"
    assert control_plane.inputs["networks"][0]["ip"] == "10.0.1.252"
    assert built.one(SERVER, "worker-0").inputs["serverType"] == "cpx41"


def test_every_server_is_pinned_to_the_cloud_subnet_never_the_vswitch_one():
    """With a network id alone hcloud attaches a server to the last subnet by range: the vSwitch
    subnet (10.0.2.0/24) when one is coupled. Every server names the cloud subnet."""
    b = build(False, gpu=True)
    cloud, vswitch = (mock_id("hcloud:index/networkSubnet:NetworkSubnet", n) for n in ("subnet", "vswitch-subnet"))
    servers = b.run.of_type(SERVER)
    assert len(servers) == 3
    for server in servers:
        (net,) = server.inputs["networks"]
        assert net.get("subnetId") == cloud != vswitch, server.name


def test_user_data_installs_k3s_with_the_generated_token():
    run = build(False, gpu=True).run
    control_plane = next(r for r in run.of_type(SERVER) if r.name == "control-plane").inputs["userData"]
    worker = next(r for r in run.of_type(SERVER) if r.name == "worker-0").inputs["userData"]
    assert "sh -s - server" in control_plane and "sh -s - agent" in worker
    for user_data in (control_plane, worker):
        assert FAKE_K3S_TOKEN in user_data
        assert "INSTALL_K3S_VERSION=v1.33.4+k3s1" in user_data
    lb = run.of_type("hcloud:index/loadBalancer:LoadBalancer")[0]
    assert '--tls-san "$PUBLIC_IP"' in control_plane and lb.inputs["loadBalancerType"] == "lb11"
    host_key = yaml.safe_load(control_plane)["ssh_keys"]
    assert host_key["ed25519_public"] == FAKE_ED25519_PUBLIC
    assert host_key["ed25519_private"] == FAKE_ED25519_PRIVATE


def test_load_balancer_serves_the_api_from_the_control_plane(built):
    network = built.one("hcloud:index/loadBalancerNetwork:LoadBalancerNetwork")
    assert network.inputs["ip"] == "10.0.1.253"
    # hcloud firewalls do not filter load balancers: the API load balancer has no public interface.
    assert network.inputs["enablePublicInterface"] is False
    target = built.one("hcloud:index/loadBalancerTarget:LoadBalancerTarget")
    assert target.inputs["type"] == "server" and target.inputs["usePrivateIp"] is True
    assert network.urn in target.dependencies
    assert built.one(SERVER, "control-plane").urn in target.dependencies
    service = built.one("hcloud:index/loadBalancerService:LoadBalancerService").inputs
    assert (service["protocol"], service["listenPort"], service["destinationPort"]) == ("tcp", 6443, 6443)
    assert service["healthCheck"]["port"] == 6443


def test_kubeconfig_is_read_over_ssh_as_a_secret(built):
    read = built.one("command:remote:Command", "kubeconfig")
    assert {"stdout", "stderr"} <= set(read.additional_secret_outputs)
    assert "/etc/rancher/k3s/k3s.yaml" in read.inputs["create"]
    assert built.one(SERVER, "control-plane").urn in read.dependencies
    if not built.run.preview:
        assert "connection" in read.secret_inputs
        assert read.inputs["connection"]["user"] == "root"
        assert read.inputs["connection"]["privateKey"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    else:  # the host address and generated key are known only after create
        assert read.inputs["connection"] == UNKNOWN


def test_kubeconfig_read_writes_nothing_to_the_pulumi_log(built):
    """pulumi-command streams a command's stdout to the Pulumi log unless logging is off;
    additionalSecretOutputs masks only the output property. The read prints the admin kubeconfig."""
    read = built.one("command:remote:Command", "kubeconfig")
    assert read.inputs["logging"] == "none"
    # The previous kubeconfig is not sent back to the server as PULUMI_COMMAND_STDOUT either.
    assert read.inputs["addPreviousOutputInEnv"] is False


def test_kubeconfig_read_pins_the_control_plane_host_key():
    b = build(False, gpu=True)
    connection = b.one("command:remote:Command", "kubeconfig").inputs["connection"]
    # The public half of the host key cloud-init installs on the control plane.
    assert connection["hostKey"] == FAKE_ED25519_PUBLIC
    host_key = b.one("tls:index/privateKey:PrivateKey", "control-plane-host-key")
    assert host_key.urn in b.one(SERVER, "control-plane").dependencies


def test_kubeconfig_read_runs_again_in_a_new_month_and_renews_the_certificate():
    from datetime import UTC, datetime

    from substrate.hetzner import k3s

    create = build(False).one("command:remote:Command", "kubeconfig").inputs["create"]
    assert create == k3s.read_kubeconfig_command(k3s.renewal_window(datetime.now(UTC)))
    assert "systemctl restart k3s" in create and "openssl x509 -noout -checkend" in create


def test_api_is_reached_on_the_control_plane_public_address_behind_the_firewall():
    b = build(False, gpu=True)
    api, _ = b.resolve(b.exports["apiAddress"])
    control_plane, _ = b.resolve(b.exports["controlPlaneAddress"])
    # Server addresses are 198.51.100.x under the mock, load balancer addresses 203.0.113.x.
    assert api == control_plane and api.startswith("198.51.100.")
    firewall = b.one("hcloud:index/firewall:Firewall").inputs["rules"]
    assert {(r["port"], tuple(r["sourceIps"])) for r in firewall} == {("22", tuple(ADMIN)), ("6443", tuple(ADMIN))}
    for server in b.run.of_type(SERVER):
        assert len(server.inputs["firewallIds"]) == 1


def test_facts(built):
    facts = built.facts
    assert (facts.substrate, facts.gpu_stack, facts.cluster_name) == ("hetzner", "operator", "inference")
    assert (facts.storage_class, facts.storage_shared) == ("hcloud-volumes", False)
    assert facts.load_balancer_class is None and facts.dns_provider is None
    (pool,) = facts.gpu_pools
    assert pool.labels == {"tier": "gold", "inference-platform/gpu-pool": "l4"}
    assert [(t.key, t.value, t.effect) for t in pool.taints] == [("nvidia.com/gpu", "present", "NoSchedule")]
    ready = {r.urn for r in [*built.run.of_type(SERVER), *built.run.of_type("command:remote:Command")]}
    assert {_sync_await(r.urn.future()) for r in facts.ready} == ready


def test_cpu_only_stack_has_no_gpu_stack_and_no_vswitch():
    b = build(False)
    assert (b.facts.gpu_stack, b.facts.gpu_pools) == ("none", ())
    assert [r.name for r in b.run.of_type("hcloud:index/networkSubnet:NetworkSubnet")] == ["subnet"]
    assert b.resolve(b.exports["gpuJoinCommand"]) == ("", True)


def test_many_workers_spread_over_placement_groups_of_ten():
    run = build(False, workers=12).run
    groups = {r.name: r for r in run.of_type("hcloud:index/placementGroup:PlacementGroup")}
    assert sorted(groups) == ["control-plane", "workers-0", "workers-1"]
    assert all(g.inputs["type"] == "spread" for g in groups.values())
    placements = [r.inputs["placementGroupId"] for r in run.of_type(SERVER) if r.name.startswith("worker-")]
    assert len(placements) == 12 and sorted(placements.count(p) for p in set(placements)) == [2, 10]


def test_kubeconfig_and_join_command_are_secret_and_point_at_the_load_balancer():
    b = build(False, gpu=True)
    kubeconfig, secret = b.resolve(b.facts.kubeconfig)
    assert secret
    api_ip, _ = b.resolve(b.exports["apiAddress"])
    assert api_ip.startswith("198.51.100.")  # the control plane's public address, not the load balancer's
    assert yaml.safe_load(kubeconfig)["clusters"][0]["cluster"]["server"] == f"https://{api_ip}:6443"
    join, secret = b.resolve(b.exports["gpuJoinCommand"])
    assert secret
    assert f"K3S_URL=https://10.0.1.253:6443 K3S_TOKEN={FAKE_K3S_TOKEN} sh -s - agent" in join
    assert "--node-label inference-platform/gpu-pool=l4 --node-label tier=gold" in join
    assert "--node-taint nvidia.com/gpu=present:NoSchedule" in join
    for name in ("k3sToken", "sshPrivateKey"):
        assert b.resolve(b.exports[name])[1], f"{name} is not secret"
    assert b.resolve(b.exports["k3sToken"])[0] == FAKE_K3S_TOKEN


def test_kubeconfig_is_secret_in_preview():
    b = build(True, gpu=True)
    assert _sync_await(b.facts.kubeconfig.is_secret())
    assert not _sync_await(b.facts.kubeconfig.is_known())  # read from the server it creates
