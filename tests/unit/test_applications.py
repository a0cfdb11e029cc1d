"""Argo CD objects and layer assembly: pure data, checked without Pulumi."""

from __future__ import annotations

import itertools
import json

import pytest

from components.applications import CASCADE_FINALIZER, ROOTS_PROJECT, application, chart_source, root_application
from components.catalog import PROFILES, load_catalog, manifests_chart
from components.config import parse_stack_config
from components.layers import build_layers, roots_project
from components.values import deep_merge
from tests.plain_facts import gke_facts, operator_facts

FACTS_GKE = gke_facts()
FACTS_OPERATOR = operator_facts()
AGE = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"


def gke_cfg(**extra):
    base = {
        "substrate": {
            "kind": "gke",
            "project": "p-123456",
            "region": "europe-west4",
            "gpuPools": [{"name": "l4", "accelerator": "nvidia-l4"}],
        },
        "secrets": {"backend": "external-secrets"},
        "models": [{"name": "m", "source": "hf://a/b", "gpus": 1, "gpuType": "nvidia-l4"}],
    }
    return parse_stack_config(base | extra)


def names(children):
    return [c["metadata"]["name"] for c in children]


def test_deep_merge_nests_and_replaces_lists():
    merged = deep_merge({"a": {"b": 1, "c": [1]}}, {"a": {"c": [2], "d": 3}})
    assert merged == {"a": {"b": 1, "c": [2], "d": 3}}


def test_child_application_syncs_automatically_with_retries():
    app = application(
        "x", project="p", namespace="ns", source={}, argocd_namespace="argocd", wave=-5, server_side_apply=True
    )
    policy = app["spec"]["syncPolicy"]
    assert policy["automated"] == {"prune": True, "selfHeal": True}
    assert "ServerSideApply=true" in policy["syncOptions"] and "CreateNamespace=true" in policy["syncOptions"]
    # Negative: Argo CD retries without end, so a child outlasts a slow platform bring-up.
    assert policy["retry"]["limit"] < 0 and policy["retry"]["backoff"]["factor"] > 1
    assert policy["retry"]["backoff"]["maxDuration"] == "3m"
    assert app["spec"]["revisionHistoryLimit"] == 1
    assert app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-5"
    assert app["metadata"]["finalizers"] == [CASCADE_FINALIZER]


def test_root_carries_children_through_the_pinned_manifests_chart():
    child = application("c", project="p", namespace="ns", source={}, argocd_namespace="argocd")
    root = root_application("root-platform", "platform", [child], "argocd")
    source = root["spec"]["source"]
    pin = manifests_chart()
    assert (source["repoURL"], source["chart"], source["targetRevision"]) == (pin.repo_url, pin.name, pin.version)
    assert source["helm"]["valuesObject"]["resources"] == [child]
    assert root["spec"]["project"] == ROOTS_PROJECT
    assert root["spec"]["revisionHistoryLimit"] == 0
    assert "annotations" not in root["metadata"]


def test_a_followed_root_makes_pulumi_wait_until_it_is_synced_and_healthy():
    root = root_application("root-platform", "platform", [], "argocd", wait_healthy=True)
    conditions = json.loads(root["metadata"]["annotations"]["pulumi.com/waitFor"])
    assert conditions == ["jsonpath={.status.sync.status}=Synced", "jsonpath={.status.health.status}=Healthy"]


def test_roots_project_only_allows_applications_in_argocd():
    project = roots_project(gke_cfg())
    assert project["spec"]["namespaceResourceWhitelist"] == [{"group": "argoproj.io", "kind": "Application"}]
    assert project["spec"]["clusterResourceWhitelist"] == []
    assert [d["namespace"] for d in project["spec"]["destinations"]] == ["argocd"]


def test_profiles_are_cumulative():
    ordered = list(PROFILES.values())
    for smaller, larger in itertools.pairwise(ordered):
        assert larger[: len(smaller)] == smaller


def test_gke_platform_layer_uses_managed_gpus_and_external_secrets():
    layers = {layer.name: layer for layer in build_layers(gke_cfg(), FACTS_GKE, {"argocd"})}
    platform = names(layers["platform"].children)
    assert "gpu-operator" not in platform
    assert "external-secrets" in platform and "secret-store" in platform
    assert "sops-secrets-operator" not in platform
    eso = next(c for c in layers["platform"].children if c["metadata"]["name"] == "external-secrets")
    annotations = eso["spec"]["source"]["helm"]["valuesObject"]["serviceAccount"]["annotations"]
    assert annotations["iam.gke.io/gcp-service-account"] == FACTS_GKE["secretStore"]["identity"]
    assert names(layers["serving"].children) == ["model-m"]


def test_operator_substrate_gets_the_gpu_operator():
    cfg = parse_stack_config(
        {
            "substrate": {
                "kind": "existing",
                "gpuStack": "operator",
                "gpuPools": [
                    {"name": "l4", "accelerator": "nvidia-l4", "labels": {"gpu": "l4"}}
                ],
            },
            "kubeconfig": "k",
            "sopsAgeKey": AGE,
        },
        secret_keys=["kubeconfig", "sopsAgeKey"],
    )
    layers = build_layers(cfg, FACTS_OPERATOR, {"argocd", "sops-secrets-operator"})
    platform = {c["metadata"]["name"]: c for c in layers[0].children}
    assert "gpu-operator" in platform and "sops-secrets-operator" in platform
    # Pulumi created the SOPS namespace for the age key: Argo CD must not claim it too.
    assert "CreateNamespace=true" not in platform["sops-secrets-operator"]["spec"]["syncPolicy"]["syncOptions"]


def test_component_can_be_turned_off_and_overridden():
    # Without models nothing needs KEDA, so it may be turned off.
    cfg = gke_cfg(
        models=[],
        components={
            "keda": {"enabled": False},
            "cert-manager": {"values": {"replicaCount": 2, "crds": {"keep": False}}},
        }
    )
    platform = {c["metadata"]["name"]: c for c in build_layers(cfg, FACTS_GKE, {"argocd"})[0].children}
    assert "keda" not in platform
    values = platform["cert-manager"]["spec"]["source"]["helm"]["valuesObject"]
    assert values["replicaCount"] == 2
    assert values["crds"] == {"enabled": True, "keep": False}


def test_layer_projects_list_exactly_their_sources_and_namespaces():
    layers = build_layers(gke_cfg(), FACTS_GKE, {"argocd"})
    for layer in layers:
        spec = layer.project["spec"]
        repos = {c["spec"]["source"]["repoURL"] for c in layer.children} | {manifests_chart().repo_url}
        assert set(spec["sourceRepos"]) == repos
        destinations = {d["namespace"] for d in spec["destinations"]}
        assert {c["spec"]["destination"]["namespace"] for c in layer.children} <= destinations
        assert all(c["spec"]["project"] == layer.name for c in layer.children)


@pytest.mark.parametrize("entry", sorted(load_catalog()))
def test_catalog_entries_are_pinned(entry):
    pin = load_catalog()[entry].chart
    assert pin.version[0].isdigit() or pin.version.startswith("v")
    assert pin.repo_url.startswith(("https://", "oci://"))


def test_an_oci_chart_is_an_argo_cd_oci_source():
    from components.catalog import ChartPin

    pin = ChartPin("oci://registry.k8s.io/gateway-api-inference-extension/charts", "inferencepool", "v1.5.0")
    source = chart_source(pin, {"a": 1}, "m")
    assert source["repoURL"] == "oci://registry.k8s.io/gateway-api-inference-extension/charts/inferencepool"
    assert (source["path"], source["targetRevision"], "chart" in source) == (".", "v1.5.0", False)
    assert source["helm"] == {"releaseName": "m", "valuesObject": {"a": 1}}


def test_an_oci_source_names_the_artifact_and_https_the_chart():
    from components.applications import chart_source
    from components.catalog import ChartPin

    # LiteLLM's chart: `helm install oci://ghcr.io/berriai/litellm/chart/litellm --version 1.0.0`,
    # which its docs give to Argo CD as repoURL ghcr.io/berriai/litellm/chart + chart litellm.
    source = chart_source(ChartPin("oci://ghcr.io/berriai/litellm/chart", "litellm", "1.0.0"), {"a": 1}, "litellm")
    assert source == {
        "repoURL": "oci://ghcr.io/berriai/litellm/chart/litellm",
        "path": ".",
        "targetRevision": "1.0.0",
        "helm": {"releaseName": "litellm", "valuesObject": {"a": 1}},
    }
    trailing = chart_source(ChartPin("oci://ghcr.io/berriai/litellm/chart/", "litellm", "1.0.0"), {}, "litellm")
    assert trailing["repoURL"] == source["repoURL"]
    https = chart_source(ChartPin("https://charts.example", "c", "1.0.0"), {}, "c")
    assert https["chart"] == "c" and "path" not in https


def test_gpu_operator_values_follow_the_substrate():
    from components.computed_values import computed_values

    hetzner = computed_values("gpu-operator", FACTS_OPERATOR | {"substrate": "hetzner"})
    assert {e["name"] for e in hetzner["toolkit"]["env"]} == {"CONTAINERD_CONFIG", "CONTAINERD_SOCKET"}
    toleration = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    assert hetzner["daemonsets"]["tolerations"] == [toleration]
    assert "toolkit" not in computed_values("gpu-operator", FACTS_OPERATOR | {"substrate": "vks"})
