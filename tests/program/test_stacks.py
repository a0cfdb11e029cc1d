"""Every stack file, root and examples/, runs under the mock in preview and update mode,
and its resource graph holds the platform's rules."""

from __future__ import annotations

import pytest
import yaml
from pulumi.runtime.sync_await import _sync_await

from tests.conftest import STACKS, stack_run

MODES = [False, True]
CASCADE = "resources-finalizer.argocd.argoproj.io"


def stack_config(stack: str) -> dict:
    raw = yaml.safe_load(STACKS[stack].read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("inference-platform:")}


def is_secret(output) -> bool:
    return _sync_await(output.is_secret())


@pytest.fixture(params=MODES, ids=["update", "preview"])
def run(request, stack):
    return stack_run(stack, request.param)


def test_every_resource_lives_inside_a_component(run):
    by_urn = run.by_urn()
    top = [r for r in run.resources if r.parent not in by_urn]
    assert top, "nothing registered"
    # Only components (never custom resources) sit directly under the stack.
    assert all(not r.custom for r in top), [r.type for r in top if r.custom]
    assert {r.type.split(":")[1] for r in top} <= {"substrate", "bootstrap"}


def test_every_custom_resource_names_an_explicit_provider(run):
    by_urn = run.by_urn()
    for r in run.resources:
        if not r.custom or r.type.startswith("pulumi:providers:"):
            continue
        assert r.provider_urn in by_urn, f"{r.type} {r.name} uses a default provider"
        provider = by_urn[r.provider_urn]
        assert provider.type.startswith("pulumi:providers:")
        if r.type.startswith("kubernetes:"):
            assert provider.type == "pulumi:providers:kubernetes"


def test_the_cluster_provider_gets_its_kubeconfig_as_a_secret(run):
    providers = [r for r in run.of_type("pulumi:providers:kubernetes") if r.name == "cluster"]
    assert len(providers) == 1
    assert "kubeconfig" in providers[0].secret_inputs


def test_kubeconfig_export_is_secret(run):
    assert is_secret(run.outputs["kubeconfig"])


def test_protect_follows_the_stack(run):
    protect = stack_config(run.stack).get("protect", True)
    protected = [r for r in run.resources if r.protect]
    if protect in (False, "false"):
        assert protected == []
    elif run.stack not in ("existing",):
        assert protected, "a protected stack must protect its cluster and stateful resources"


def test_roots_per_layer_with_cascade_finalizer_after_argocd(run):
    by_urn = run.by_urn()
    (release,) = run.of_type("kubernetes:helm.sh/v3:Release")
    assert release.inputs["version"] and release.inputs["chart"] == "argo-cd"
    roots = run.of_type("kubernetes:argoproj.io/v1alpha1:Application")
    profile = stack_config(run.stack).get("profile", "serving")
    expected = ["platform", "serving", "llm-gateway", "experience"][: {"platform": 1, "serving": 2}.get(profile, 4)]
    layers: dict[str, list[str]] = {}
    for root in roots:
        layers.setdefault(root.inputs["metadata"]["labels"]["inference-platform/layer"], []).append(root.name)
    # A layer has one root, or shards root-<layer>, root-<layer>-2... when its children are many.
    assert sorted(layers) == sorted(expected)
    for layer, names in layers.items():
        shards = {f"root-{layer}"} | {f"root-{layer}-{i}" for i in range(2, len(names) + 1)}
        assert set(names) == shards
    for root in roots:
        assert CASCADE in root.inputs["metadata"]["finalizers"]
        assert release.urn in root.dependencies, "a root must depend on the Argo CD release"
        projects = [by_urn[d] for d in root.dependencies if d in by_urn]
        assert any(p.type.endswith(":AppProject") for p in projects)


def test_argocd_waits_for_the_substrate(run):
    provider = next(r for r in run.of_type("pulumi:providers:kubernetes") if r.name == "cluster")
    substrate_resources = {r.urn for r in run.resources if ":substrate:" in r.urn and r.custom}
    if run.stack in ("existing",):
        return
    assert set(provider.dependencies) & substrate_resources, "the cluster provider must wait for the cluster"


def test_no_secret_value_in_any_application(run):
    for app in run.of_type("kubernetes:argoproj.io/v1alpha1:Application"):
        assert app.secret_inputs == [], f"{app.name} carries a secret"


def test_bootstrap_secrets_are_secret_and_only_where_needed(run):
    cfg = stack_config(run.stack)
    secrets = {r.inputs["metadata"]["name"]: r for r in run.of_type("kubernetes:core/v1:Secret")}
    backend = (cfg.get("secrets") or {}).get("backend", "sops")
    expected = {"grafana-admin"} | ({"sops-age-key"} if backend == "sops" else set())
    assert set(secrets) == expected
    for secret in secrets.values():
        assert any(p.startswith("stringData") for p in secret.secret_inputs), secret.name
    assert is_secret(run.outputs["grafanaAdminPassword"])


def test_namespaces_holding_bootstrap_secrets_are_not_created_by_argo_cd(run):
    owned = {r.inputs["metadata"]["name"] for r in run.of_type("kubernetes:core/v1:Namespace")}
    for root in run.of_type("kubernetes:argoproj.io/v1alpha1:Application"):
        for child in root.inputs["spec"]["source"]["helm"]["valuesObject"]["resources"]:
            if child["spec"]["destination"]["namespace"] in owned:
                assert "CreateNamespace=true" not in child["spec"]["syncPolicy"]["syncOptions"], child["metadata"]


def test_substrate_outputs_are_exported(run):
    if run.stack == "hetzner":
        assert {"apiAddress", "gpuJoinCommand", "k3sToken", "sshPrivateKey"} <= set(run.outputs)
        assert is_secret(run.outputs["gpuJoinCommand"]) and is_secret(run.outputs["sshPrivateKey"])
    assert {"clusterName", "kubeconfig", "roots", "models"} <= set(run.outputs)
