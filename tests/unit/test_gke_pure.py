"""Pure parts of the gke substrate: derived names, labels, the kubeconfig, and its config section."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from components.config.gke import GkeGpuPool, GkeSubstrate, GkeSystemPool
from contract.facts import GPU_TAINT, Taint
from substrate.gke.kubeconfig import gke_kubeconfig
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


def test_kubeconfig_execs_the_gcloud_plugin_and_holds_no_credential():
    doc = yaml.safe_load(gke_kubeconfig("ctx", "203.0.113.5", "Q0E="))
    assert doc["current-context"] == "ctx"
    assert doc["clusters"] == [
        {"name": "ctx", "cluster": {"server": "https://203.0.113.5", "certificate-authority-data": "Q0E="}}
    ]
    assert doc["contexts"] == [{"name": "ctx", "context": {"cluster": "ctx", "user": "ctx"}}]
    exec_ = doc["users"][0]["user"]["exec"]
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert exec_["command"] == "gke-gcloud-auth-plugin"
    assert exec_["provideClusterInfo"] is True
    assert "gke-gcloud-auth-plugin" in exec_["installHint"]
    assert set(doc["users"][0]["user"]) == {"exec"}


def test_kubeconfig_keeps_an_endpoint_given_as_url():
    doc = yaml.safe_load(gke_kubeconfig("c", "https://10.0.0.2", "Q0E="))
    assert doc["clusters"][0]["cluster"]["server"] == "https://10.0.0.2"


@pytest.mark.parametrize(("endpoint", "ca", "message"), [("", "Q0E=", "no endpoint"), ("1.2.3.4", "", "no CA")])
def test_kubeconfig_refuses_missing_parts(endpoint, ca, message):
    with pytest.raises(ValueError, match=message):
        gke_kubeconfig("c", endpoint, ca)


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
        ({"gpuPools": [{"name": "system", "accelerator": "nvidia-l4"}]}, "taken by the system node pool"),
        ({"gpuPools": [{"name": "l4", "accelerator": "nvidia-l4", "zones": ["us-east1-b"]}]}, "not zones of region"),
        (
            {"gpuPools": [{"name": "l4", "accelerator": "nvidia-l4", "zones": ["europe-west4-a", "europe-west4-a"]}]},
            "lists a zone twice",
        ),
        ({"gpuPools": [{"name": "l4", "accelerator": "nvidia-l4", "machineType": "G2 8"}]}, "not a Compute Engine"),
        ({"project": "Bad_Project"}, "not a GCP project id"),
    ],
)
def test_config_rejects_bad_values_by_name(change, message):
    with pytest.raises(ValidationError, match=message):
        GkeSubstrate.model_validate({**GKE, **change})


def test_system_pool_must_fit_one_node_per_zone():
    with pytest.raises(ValidationError, match="maxNodes \\(2\\) is below 3"):
        GkeSystemPool.model_validate({"maxNodes": 2, "minNodes": 1})
