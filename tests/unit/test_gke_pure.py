"""Pure parts of the gke substrate: derived names, labels, the kubeconfig, and its config section."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from components.config.gke import GkeGpuPool, GkeSubstrate, GkeSystemPool
from contract.facts import GPU_TAINT, Taint
from substrate.gke.kubeconfig import dns_endpoint_of, gke_kubeconfig
from substrate.gke.values import (
    ACCELERATOR_LABEL,
    GPU_POOL_LABEL,
    SERVICE_ACCOUNT_ID,
    gke_taint_effect,
    gpu_node_labels,
    gpu_pool_facts,
    kube_context_name,
    service_account_email,
    service_account_id,
    workload_identity_member,
    workload_pool,
)

GKE = {"kind": "gke", "project": "my-project-1", "region": "europe-west4"}


@pytest.mark.parametrize(
    ("cluster", "purpose", "expected"),
    [
        ("inference", "eso", "inference-eso"),
        ("inference-dev", "nodes", "inference-dev-nodes"),
        ("a", "eso", "a-eso-sa"),  # padded to the 6-character minimum
        ("abcdefghijklmnopqrstuvwxyz-abcdefghijklm", "eso", "abcdefghijklmnopqrstuvwxyz-eso"),
        ("abcdefghijklmnopqrstuvwxy-z", "eso", "abcdefghijklmnopqrstuvwxy-eso"),  # no "--" at the cut
    ],
)
def test_service_account_id_fits_gcp_rules(cluster, purpose, expected):
    account = service_account_id(cluster, purpose)
    assert account == expected
    assert 6 <= len(account) <= 30
    assert SERVICE_ACCOUNT_ID.match(account)


def test_service_account_id_rejects_what_gcp_would():
    with pytest.raises(ValueError, match="purpose 'ESO'"):
        service_account_id("inference", "ESO")


def test_identity_strings():
    assert service_account_email("inference-eso", "p-123456") == "inference-eso@p-123456.iam.gserviceaccount.com"
    assert workload_pool("p-123456") == "p-123456.svc.id.goog"
    assert workload_identity_member("p-123456", "ns", "sa") == "serviceAccount:p-123456.svc.id.goog[ns/sa]"
    assert kube_context_name("p-123456", "us-east1", "c") == "gke_p-123456_us-east1_c"


def test_taint_effects_are_spelled_for_the_gke_api():
    assert gke_taint_effect(GPU_TAINT) == "NO_SCHEDULE"
    assert gke_taint_effect(Taint("k", "v", "NoExecute")) == "NO_EXECUTE"
    with pytest.raises(ValueError, match="'Sometimes'"):
        gke_taint_effect(Taint("k", "v", "Sometimes"))


def test_gpu_pool_labels_name_the_pool_and_facts_add_gke_accelerator_label():
    pool = GkeGpuPool(name="l4", accelerator="nvidia-l4", labels={"team": "a", GPU_POOL_LABEL: "spoofed"})
    assert gpu_node_labels(pool) == {"team": "a", GPU_POOL_LABEL: "l4"}
    facts = gpu_pool_facts(pool)
    assert facts.labels == {"team": "a", GPU_POOL_LABEL: "l4", ACCELERATOR_LABEL: "nvidia-l4"}
    assert facts.taints == (GPU_TAINT,)
    assert (facts.name, facts.accelerator, facts.count) == ("l4", "nvidia-l4", 1)


DNS = "gke-0123456789abcdef-000000000000.europe-west4.gke.goog"


def test_kubeconfig_names_the_dns_endpoint_execs_the_gcloud_plugin_and_holds_no_credential():
    doc = yaml.safe_load(gke_kubeconfig("ctx", DNS))
    assert doc["current-context"] == "ctx"
    # No CA: the DNS endpoint's certificate is publicly issued, the cluster CA would reject it.
    assert doc["clusters"] == [{"name": "ctx", "cluster": {"server": f"https://{DNS}"}}]
    assert doc["contexts"] == [{"name": "ctx", "context": {"cluster": "ctx", "user": "ctx"}}]
    exec_ = doc["users"][0]["user"]["exec"]
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert exec_["command"] == "gke-gcloud-auth-plugin"
    assert exec_["provideClusterInfo"] is True
    assert "gke-gcloud-auth-plugin" in exec_["installHint"]
    assert set(doc["users"][0]["user"]) == {"exec"}


def test_kubeconfig_keeps_an_endpoint_given_as_url():
    doc = yaml.safe_load(gke_kubeconfig("c", f"https://{DNS}/"))
    assert doc["clusters"][0]["cluster"]["server"] == f"https://{DNS}"


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [("", "no DNS endpoint"), ("34.90.1.2", "is an IP endpoint"), ("https://2600:1900::1", "is an IP endpoint")],
)
def test_kubeconfig_refuses_what_is_not_a_dns_endpoint(endpoint, message):
    with pytest.raises(ValueError, match=message):
        gke_kubeconfig("c", endpoint)


def test_dns_endpoint_is_read_from_the_cluster_output_shape():
    from types import SimpleNamespace as Ns

    assert dns_endpoint_of(Ns(dns_endpoint_config=Ns(endpoint=DNS))) == DNS
    assert dns_endpoint_of(Ns(dns_endpoint_config=None)) == ""
    assert dns_endpoint_of(None) == ""


def test_config_defaults_are_secure_and_coherent():
    spec = GkeSubstrate.model_validate(GKE)
    assert spec.authorized_networks == []
    assert spec.release_channel == "REGULAR"
    assert spec.system_pool.max_nodes >= 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"masterCidr": "172.16.0.0/24"}, "must be a /28"),
        ({"podCidr": "10.10.0.0/16"}, "nodeCidr 10.10.0.0/20 overlaps podCidr 10.10.0.0/16"),
        ({"serviceCidr": "172.16.0.0/20"}, "serviceCidr 172.16.0.0/20 overlaps masterCidr"),
        ({"proxyOnlyCidr": "10.10.8.0/23"}, "nodeCidr 10.10.0.0/20 overlaps proxyOnlyCidr 10.10.8.0/23"),
        ({"gpuPools": [{"name": "system", "accelerator": "nvidia-l4"}]}, "taken by the system node pool"),
        ({"gpuPools": [{"name": "l4", "accelerator": "nvidia-l4", "zones": ["us-east1-b"]}]}, "not zones of region"),
        (
            {"gpuPools": [{"name": "l4", "accelerator": "nvidia-l4", "zones": ["europe-west4-a", "europe-west4-a"]}]},
            "lists a zone twice",
        ),
        ({"gpuPools": [{"name": "l4", "accelerator": "nvidia-l4", "machineType": "G2 8"}]}, "not a Compute Engine"),
        ({"authorizedNetworks": ["203.0.113.0/24"]}, "203.0.113.0/24 lies in 203.0.113.0/24, a range reserved"),
        ({"authorizedNetworks": ["10.0.0.0/8", "198.51.100.7/32"]}, "198.51.100.7/32 lies in 198.51.100.0/24"),
        ({"authorizedNetworks": ["192.0.2.0/25"]}, "lies in 192.0.2.0/24"),
        ({"authorizedNetworks": ["2001:db8:ab::/48"]}, "lies in 2001:db8::/32"),
        ({"project": "Bad_Project"}, "not a GCP project id"),
    ],
)
def test_config_rejects_bad_values_by_name(change, message):
    with pytest.raises(ValidationError, match=message):
        GkeSubstrate.model_validate({**GKE, **change})


def test_system_pool_must_fit_one_node_per_zone():
    with pytest.raises(ValidationError, match="maxNodes \\(2\\) is below 3"):
        GkeSystemPool.model_validate({"maxNodes": 2, "minNodes": 1})


def test_real_ranges_are_accepted_in_authorized_networks():
    # Ranges next to the documentation ones, and ones that merely contain them, are real.
    nets = ["203.0.114.0/24", "198.51.0.0/16", "0.0.0.0/0", "2001:db9::/32"]
    assert GkeSubstrate.model_validate({**GKE, "authorizedNetworks": nets}).authorized_networks == nets


def _pool(machine: str, accelerator: str, count: int) -> dict:
    return {"name": "gpu", "machineType": machine, "accelerator": accelerator, "count": count}


@pytest.mark.parametrize(
    ("machine", "accelerator", "count"),
    [
        ("g2-standard-8", "nvidia-l4", 1),
        ("g2-standard-32", "nvidia-l4", 1),
        ("g2-standard-24", "nvidia-l4", 2),
        ("g2-standard-48", "nvidia-l4", 4),
        ("g2-standard-96", "nvidia-l4", 8),
        ("a2-highgpu-1g", "nvidia-tesla-a100", 1),
        ("a2-highgpu-8g", "nvidia-tesla-a100", 8),
        ("a2-megagpu-16g", "nvidia-tesla-a100", 16),
        ("a2-ultragpu-4g", "nvidia-a100-80gb", 4),
        ("a3-highgpu-2g", "nvidia-h100-80gb", 2),
        ("a3-highgpu-8g-nolssd", "nvidia-h100-80gb", 8),
        ("a3-megagpu-8g", "nvidia-h100-mega-80gb", 8),
        ("a3-edgegpu-8g", "nvidia-h100-80gb", 8),
        ("n1-standard-8", "nvidia-tesla-t4", 4),
        ("n1-highmem-16", "nvidia-tesla-v100", 8),
    ],
)
def test_gpu_pools_that_fit_their_machine_type_are_accepted(machine, accelerator, count):
    spec = GkeSubstrate.model_validate({**GKE, "gpuPools": [_pool(machine, accelerator, count)]})
    assert spec.gpu_pools[0].count == count


@pytest.mark.parametrize(
    ("pool", "key", "message"),
    [
        (_pool("a2-highgpu-1g", "nvidia-tesla-a100", 2), "count", "carries 1 nvidia-tesla-a100.*a2-highgpu-2g"),
        (_pool("g2-standard-8", "nvidia-l4", 2), "count", "carries 1 nvidia-l4.*g2-standard-24"),
        (_pool("g2-standard-96", "nvidia-l4", 4), "count", "carries 8 nvidia-l4.*g2-standard-48"),
        (_pool("a2-megagpu-16g", "nvidia-tesla-a100", 8), "count", "carries 16"),
        (_pool("a3-megagpu-8g", "nvidia-h100-mega-80gb", 1), "count", "carries 8"),
        (_pool("n1-standard-8", "nvidia-tesla-t4", 8), "count", "allowed: 1, 2, 4"),
        (_pool("a2-highgpu-2g", "nvidia-a100-80gb", 2), "accelerator", "carries nvidia-tesla-a100 GPUs"),
        (_pool("a2-ultragpu-2g", "nvidia-tesla-a100", 2), "accelerator", "carries nvidia-a100-80gb GPUs"),
        (_pool("a3-megagpu-8g", "nvidia-h100-80gb", 8), "accelerator", "carries nvidia-h100-mega-80gb"),
        (_pool("g2-standard-8", "nvidia-tesla-t4", 1), "accelerator", "carries nvidia-l4"),
        (_pool("n1-standard-8", "nvidia-l4", 1), "accelerator", "N1 machines take nvidia-tesla-t4"),
        (_pool("g2-standard-6", "nvidia-l4", 1), "machineType", "not a g2 GPU machine type"),
        (_pool("e2-standard-8", "nvidia-l4", 1), "machineType", "cannot carry GPUs"),
    ],
)
def test_gpu_pools_that_do_not_fit_their_machine_type_are_refused_by_key(pool, key, message):
    from components.config import ConfigError, parse_stack_config

    stack = {"substrate": {**GKE, "gpuPools": [pool]}, "secrets": {"backend": "external-secrets"}}
    with pytest.raises(ConfigError, match=rf"inference-platform:substrate\.gpuPools\[0\]\.{key}: .*{message}"):
        parse_stack_config(stack)


def test_every_built_in_gpu_machine_type_names_an_accelerator_of_its_series():
    from components.config.gke_machines import BUILT_IN, BUILT_IN_SERIES

    for machine, (accelerator, count) in BUILT_IN.items():
        assert machine.split("-", 1)[0] in BUILT_IN_SERIES
        assert accelerator.startswith("nvidia-") and count in (1, 2, 4, 8, 16), machine
        # The name of an a-series type says its GPU count (a2-highgpu-2g: 2).
        if machine.startswith("a"):
            assert machine.endswith(f"-{count}g"), machine


def test_a_documentation_range_is_refused_under_its_own_key_path():
    from components.config import ConfigError, parse_stack_config

    stack = {
        "substrate": {**GKE, "authorizedNetworks": ["10.200.0.0/24", "203.0.113.0/24"]},
        "secrets": {"backend": "external-secrets"},
    }
    with pytest.raises(ConfigError, match=r"inference-platform:substrate\.authorizedNetworks\[1\]: 203\.0\.113\.0/24"):
        parse_stack_config(stack)
