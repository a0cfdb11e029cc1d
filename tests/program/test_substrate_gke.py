"""The gke substrate under the recording mock: its resource graph, protection, identities and facts."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pytest
import yaml
from pulumi.runtime.sync_await import _sync_await

from components.config import parse_stack_config
from contract.facts import ClusterFacts
from tooling.fakes_gke import FAKE_ENDPOINT, fake_dns_endpoint
from tooling.mocks import UNKNOWN, Recorded
from tooling.program import Run, run_function

PROJECT = "my-project-1"
REGION = "europe-west4"
CONFIG = {
    "substrate": {
        "kind": "gke",
        "clusterName": "inference-test",
        "project": PROJECT,
        "region": REGION,
        "authorizedNetworks": ["10.200.0.0/24"],  # e.g. an office VPN
        "gpuPools": [
            {"name": "l4", "accelerator": "nvidia-l4", "spot": True, "zones": ["europe-west4-a", "europe-west4-b"]},
            {
                "name": "a100",
                "accelerator": "nvidia-tesla-a100",
                "count": 2,
                "machineType": "a2-highgpu-2g",
                "minNodes": 1,
                "maxNodes": 4,
                "driverVersion": "DEFAULT",
                "labels": {"team": "research"},
            },
        ],
    },
    "secrets": {"backend": "external-secrets"},
}
PROTECTED = (
    ("gcp:compute/network:Network", None),
    ("gcp:compute/subnetwork:Subnetwork", "subnet"),
    ("gcp:container/cluster:Cluster", None),
)


@dataclass
class Built:
    run: Run
    facts: ClusterFacts

    def one(self, type_: str, name: str | None = None) -> Recorded:
        found = [r for r in self.run.of_type(type_) if name is None or r.name == name]
        assert len(found) == 1, (type_, name, [r.name for r in found])
        return found[0]

    def urn_of(self, resource) -> str:
        return _sync_await(resource.urn.future())

    def computed(self, value):
        """What an input built from a computed output (an account email) is: unknown in preview."""
        return UNKNOWN if self.run.preview else value


@functools.cache
def build(
    preview: bool, protect: bool = True, backend: str = "external-secrets", networks: tuple[str, ...] | None = None
) -> Built:
    holder: dict[str, ClusterFacts] = {}
    substrate = CONFIG["substrate"] if networks is None else {**CONFIG["substrate"], "authorizedNetworks": [*networks]}
    config = {**CONFIG, "substrate": substrate}

    def program() -> None:
        if backend == "external-secrets":
            from substrate import build_substrate

            cfg = parse_stack_config({**config, "protect": protect})
            holder["facts"] = build_substrate(cfg)
        else:
            from substrate.gke import GkeCluster, GkeClusterArgs

            spec = parse_stack_config(config).substrate
            args = GkeClusterArgs(spec=spec, protect=protect, external_secrets=False)
            holder["facts"] = GkeCluster("gke", args).facts

    return Built(run_function(program, preview=preview), holder["facts"])


@pytest.fixture(params=[False, True], ids=["update", "preview"])
def gke(request) -> Built:
    return build(request.param)


def test_everything_is_inside_the_component_and_uses_its_provider(gke):
    component = gke.one("inference-platform:substrate:GkeCluster")
    provider = gke.one("pulumi:providers:gcp")
    assert provider.inputs["project"] == PROJECT
    assert provider.inputs["region"] == REGION
    others = [r for r in gke.run.resources if r is not component]
    assert len(others) > 10
    for r in others:
        assert r.parent == component.urn, f"{r.type} {r.name} is outside the component"
        if r.custom and r is not provider:
            assert r.provider_urn == provider.urn, f"{r.type} {r.name} does not use the component's provider"


def test_cluster_network_and_node_pools_are_protected(gke):
    for type_, name in PROTECTED:
        assert gke.one(type_, name).protect, type_
    pools = gke.run.of_type("gcp:container/nodePool:NodePool")
    assert sorted(p.name for p in pools) == ["gpu-a100", "gpu-l4", "system"]
    assert all(p.protect for p in pools)
    assert gke.one("gcp:container/cluster:Cluster").inputs["deletionProtection"] is True
    # Identities carry no state worth protecting and must be removable.
    assert not any(r.protect for r in gke.run.of_type("gcp:projects/iAMMember:IAMMember"))


def test_unprotected_stack_can_delete_everything():
    built = build(False, protect=False)
    assert not any(r.protect for r in built.run.resources)
    assert built.one("gcp:container/cluster:Cluster").inputs["deletionProtection"] is False


def test_network_is_custom_mode_with_pod_and_service_ranges_and_nat(gke):
    network = gke.one("gcp:compute/network:Network").inputs
    assert network["autoCreateSubnetworks"] is False
    subnet = gke.one("gcp:compute/subnetwork:Subnetwork", "subnet").inputs
    assert subnet["privateIpGoogleAccess"] is True
    assert subnet["ipCidrRange"] == "10.10.0.0/20"
    ranges = {r["rangeName"]: r["ipCidrRange"] for r in subnet["secondaryIpRanges"]}
    assert ranges == {"pods": "10.20.0.0/14", "services": "10.24.0.0/20"}
    router = gke.one("gcp:compute/router:Router").inputs
    nat = gke.one("gcp:compute/routerNat:RouterNat").inputs
    assert nat["router"] == router["name"]
    assert nat["subnetworks"][0]["sourceIpRangesToNats"] == ["ALL_IP_RANGES"]
    firewall = gke.one("gcp:compute/firewall:Firewall").inputs
    assert firewall["sourceRanges"] == ["172.16.0.0/28"]
    assert firewall["targetTags"] == ["inference-test-node"]


def test_cluster_is_regional_private_and_uses_workload_identity(gke):
    cluster = gke.one("gcp:container/cluster:Cluster")
    c = cluster.inputs
    assert c["name"] == "inference-test"
    assert c["location"] == REGION
    assert c["removeDefaultNodePool"] is True
    assert c["initialNodeCount"] == 1
    assert c["releaseChannel"] == {"channel": "REGULAR"}
    assert c["workloadIdentityConfig"] == {"workloadPool": f"{PROJECT}.svc.id.goog"}
    assert c["privateClusterConfig"]["enablePrivateNodes"] is True
    assert c["privateClusterConfig"]["masterIpv4CidrBlock"] == "172.16.0.0/28"
    authorized = c["masterAuthorizedNetworksConfig"]
    assert [b["cidrBlock"] for b in authorized["cidrBlocks"]] == ["10.200.0.0/24"]
    assert authorized["gcpPublicCidrsAccessEnabled"] is False
    assert c["ipAllocationPolicy"] == {"clusterSecondaryRangeName": "pods", "servicesSecondaryRangeName": "services"}
    assert c["gatewayApiConfig"] == {"channel": "CHANNEL_STANDARD"}
    assert c["datapathProvider"] == "ADVANCED_DATAPATH"
    assert "DCGM" in c["monitoringConfig"]["enableComponents"]
    assert c["monitoringConfig"]["managedPrometheus"] == {"enabled": True}
    assert c["nodeConfig"]["serviceAccount"] == gke.computed(f"inference-test-nodes@{PROJECT}.iam.gserviceaccount.com")
    by_urn = gke.run.by_urn()
    depends_on = {by_urn[u].type for u in cluster.dependencies}
    assert {"gcp:compute/network:Network", "gcp:compute/subnetwork:Subnetwork"} <= depends_on


def test_nodes_run_as_a_least_privilege_account(gke):
    account = gke.one("gcp:serviceaccount/account:Account", "node-sa").inputs
    email = gke.computed(f"{account['accountId']}@{PROJECT}.iam.gserviceaccount.com")
    grants = [
        g.inputs
        for g in gke.run.of_type("gcp:projects/iAMMember:IAMMember")
        if g.inputs["member"] == gke.computed(f"serviceAccount:{email}") and g.name.startswith("node-sa")
    ]
    assert {g["role"] for g in grants} == {
        "roles/logging.logWriter",
        "roles/monitoring.metricWriter",
        "roles/monitoring.viewer",
        "roles/stackdriver.resourceMetadata.writer",
        "roles/artifactregistry.reader",
    }
    for pool in gke.run.of_type("gcp:container/nodePool:NodePool"):
        node = pool.inputs["nodeConfig"]
        assert node["serviceAccount"] == email
        assert node["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert node["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
        assert node["gcfsConfig"] == {"enabled": True}
        assert node["imageType"] == "COS_CONTAINERD"


def test_node_pools_wait_for_nat_and_node_roles(gke):
    by_urn = gke.run.by_urn()
    for pool in gke.run.of_type("gcp:container/nodePool:NodePool"):
        types = [by_urn[u].type for u in pool.dependencies]
        assert "gcp:compute/routerNat:RouterNat" in types, pool.name
        assert types.count("gcp:projects/iAMMember:IAMMember") == 5, pool.name
        assert pool.delete_before_replace  # names are fixed, so a replacement must delete first


def test_system_pool_autoscales_within_totals(gke):
    system = gke.one("gcp:container/nodePool:NodePool", "system").inputs
    assert system["name"] == "system"
    assert system["autoscaling"] == {"totalMinNodeCount": 1, "totalMaxNodeCount": 3, "locationPolicy": "BALANCED"}
    assert "taints" not in system["nodeConfig"]
    assert "guestAccelerators" not in system["nodeConfig"]


def test_gpu_pools_are_tainted_labelled_and_scale_from_zero(gke):
    l4 = gke.one("gcp:container/nodePool:NodePool", "gpu-l4").inputs
    assert l4["name"] == "l4"
    assert l4["nodeLocations"] == ["europe-west4-a", "europe-west4-b"]
    assert l4["autoscaling"] == {"totalMinNodeCount": 0, "totalMaxNodeCount": 2, "locationPolicy": "ANY"}
    node = l4["nodeConfig"]
    assert node["spot"] is True
    assert node["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    assert node["labels"] == {"inference-platform/gpu-pool": "l4"}
    assert node["guestAccelerators"] == [
        {"type": "nvidia-l4", "count": 1, "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"}}
    ]
    a100 = gke.one("gcp:container/nodePool:NodePool", "gpu-a100").inputs
    assert "nodeLocations" not in a100
    assert a100["nodeConfig"]["spot"] is False
    assert a100["nodeConfig"]["machineType"] == "a2-highgpu-2g"
    assert a100["nodeConfig"]["labels"] == {"team": "research", "inference-platform/gpu-pool": "a100"}
    assert a100["nodeConfig"]["guestAccelerators"][0]["count"] == 2
    assert a100["nodeConfig"]["guestAccelerators"][0]["gpuDriverInstallationConfig"] == {
        "gpuDriverVersion": "DEFAULT"
    }


def test_external_secrets_account_reads_secrets_through_workload_identity(gke):
    account = gke.one("gcp:serviceaccount/account:Account", "eso-sa").inputs
    assert account["accountId"] == "inference-test-eso"
    email = f"inference-test-eso@{PROJECT}.iam.gserviceaccount.com"
    accessor = gke.one("gcp:projects/iAMMember:IAMMember", "eso-sa-secret-accessor").inputs
    assert accessor == {
        "project": PROJECT,
        "role": "roles/secretmanager.secretAccessor",
        "member": gke.computed(f"serviceAccount:{email}"),
    }
    binding = gke.one("gcp:serviceaccount/iAMMember:IAMMember", "eso-sa-workload-identity")
    assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"
    assert binding.inputs["member"] == f"serviceAccount:{PROJECT}.svc.id.goog[external-secrets/external-secrets]"
    assert binding.inputs["serviceAccountId"] == gke.computed(f"projects/{PROJECT}/serviceAccounts/{email}")
    # The workload identity pool exists only once the cluster does.
    assert gke.one("gcp:container/cluster:Cluster").urn in binding.dependencies
    store = gke.facts.secret_store
    assert (store.backend, store.project, store.identity) == ("gcp-secret-manager", PROJECT, email)


def test_without_external_secrets_no_secret_reader_exists():
    built = build(False, backend="sops")
    names = {r.name for r in built.run.resources}
    assert not names & {"eso-sa", "eso-sa-secret-accessor", "eso-sa-workload-identity"}
    assert built.facts.secret_store.backend == "none"


def test_control_plane_is_reached_through_its_dns_endpoint(gke):
    c = gke.one("gcp:container/cluster:Cluster").inputs
    # The DNS endpoint takes traffic from anywhere Google's APIs are; IAM guards it.
    assert c["controlPlaneEndpointsConfig"] == {"dnsEndpointConfig": {"allowExternalTraffic": True}}
    # Authorized networks are listed, so the public IP endpoint stays on for them alone.
    assert c["privateClusterConfig"]["enablePrivateEndpoint"] is False


def test_without_authorized_networks_the_public_ip_endpoint_is_off():
    built = build(False, networks=())
    c = built.one("gcp:container/cluster:Cluster").inputs
    assert c["privateClusterConfig"]["enablePrivateEndpoint"] is True
    assert c["masterAuthorizedNetworksConfig"]["cidrBlocks"] == []
    assert c["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["allowExternalTraffic"] is True


def test_kubeconfig_is_secret_names_the_dns_endpoint_and_uses_the_gcloud_plugin():
    # Update mode: the cluster's outputs are known, as after a real create.
    built = build(False)
    kubeconfig = built.facts.kubeconfig
    assert _sync_await(kubeconfig.is_secret())
    doc = yaml.safe_load(_sync_await(kubeconfig.future()))
    context = f"gke_{PROJECT}_{REGION}_inference-test"
    assert doc["current-context"] == context
    cluster = doc["clusters"][0]["cluster"]
    # Not the IP endpoint, which Pulumi and CI runners cannot reach; and no cluster CA, which
    # would not verify the DNS endpoint's publicly issued certificate.
    assert cluster == {"server": f"https://{fake_dns_endpoint(REGION)}"}
    assert FAKE_ENDPOINT not in _sync_await(kubeconfig.future())
    user = doc["users"][0]["user"]
    assert set(user) == {"exec"}  # no token, key or password is ever stored
    assert user["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert user["exec"]["provideClusterInfo"] is True
    assert _sync_await(built.facts.outputs["controlPlaneDnsEndpoint"].future()) == fake_dns_endpoint(REGION)


def test_facts_describe_gke(gke):
    facts = gke.facts
    assert (facts.substrate, facts.gpu_stack, facts.cluster_name) == ("gke", "gke-managed", "inference-test")
    assert (facts.storage_class, facts.storage_shared) == ("standard-rwo", False)
    # GKE's managed internal Gateway class, on an address reserved in the node subnet.
    assert facts.gateway_class == "gke-l7-rilb"
    assert (facts.gateway_address, facts.gateway_address_name) == ("10.10.15.253", "inference-test-inference-gateway")
    assert facts.gateway_source_ranges == ("10.11.0.0/23",)
    assert facts.dns_provider == "google"
    pools = {p.name: p for p in facts.gpu_pools}
    assert pools["l4"].labels == {"inference-platform/gpu-pool": "l4", "cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert pools["a100"].count == 2
    assert [(t.key, t.value, t.effect) for t in pools["a100"].taints] == [("nvidia.com/gpu", "present", "NoSchedule")]
    ready = sorted(gke.run.by_urn()[gke.urn_of(r)].name for r in facts.ready)
    # The Gateway needs its proxy-only subnet and reserved address before GKE programs it.
    assert ready == ["gateway-address", "gpu-a100", "gpu-l4", "proxy-only-subnet", "system"]


def test_gateway_gets_a_proxy_only_subnet_and_a_reserved_internal_address(gke):
    proxy = gke.one("gcp:compute/subnetwork:Subnetwork", "proxy-only-subnet").inputs
    assert (proxy["purpose"], proxy["role"]) == ("REGIONAL_MANAGED_PROXY", "ACTIVE")
    assert proxy["ipCidrRange"] == "10.11.0.0/23"
    address = gke.one("gcp:compute/address:Address", "gateway-address").inputs
    assert (address["addressType"], address["purpose"]) == ("INTERNAL", "SHARED_LOADBALANCER_VIP")
    assert (address["name"], address["address"]) == ("inference-test-inference-gateway", gke.facts.gateway_address)
