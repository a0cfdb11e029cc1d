"""Every stack file, root and examples/, runs under the mock in preview and update mode,
and its resource graph holds the platform's rules."""

from __future__ import annotations

import json

import pulumi
import pytest
import yaml
from pulumi.runtime.sync_await import _sync_await

from components.catalog import PROFILES
from tests.conftest import STACKS, stack_run
from tooling.graph import ordering
from tooling.mocks import UNKNOWN, contains_unknown
from tooling.program import read_project_config, run_function

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
    expected = list(PROFILES[profile])
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
    secrets = {r.inputs["metadata"]["name"]: r for r in run.of_type("kubernetes:core/v1:Secret") if not r.read}
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
    assert {"clusterName", "kubeconfig", "roots", "models", "tenants"} <= set(run.outputs)


# --- The mock behaves like the engine where it matters ---------------------------------


def test_in_preview_the_kubeconfig_the_cluster_provider_gets_is_unknown(run):
    """A kubeconfig comes from the cluster being created (endpoint, command output, a read),
    so the engine cannot know it in preview; a stack that brings its own kubeconfig (existing)
    knows it in both modes."""
    (provider,) = [r for r in run.of_type("pulumi:providers:kubernetes") if r.name == "cluster"]
    computed = stack_config(run.stack)["substrate"]["kind"] != "existing"
    assert (provider.inputs["kubeconfig"] == UNKNOWN) is (run.preview and computed)
    assert _sync_await(run.outputs["kubeconfig"].is_known()) is not (run.preview and computed)


def test_in_preview_ids_of_resources_to_create_are_unknown():
    def program():
        import pulumi_random as random

        provider = random.Provider("random")
        made = random.RandomPet("pet", opts=pulumi.ResourceOptions(provider=provider))
        pulumi.export("id", made.id)
        pulumi.export("pet", made.id.apply(lambda v: f"seen {v}"))

    update, preview = run_function(program), run_function(program, preview=True)
    assert _sync_await(update.outputs["pet"].future()) == "seen pet-id"
    assert not _sync_await(preview.outputs["id"].is_known())
    assert not _sync_await(preview.outputs["pet"].is_known())


def test_reads_are_recorded_with_provider_parent_and_dependencies(run):
    reads = [r for r in run.resources if r.read]
    if run.stack != "vks":
        assert reads == []
        return
    (read,) = reads
    by_urn = run.by_urn()
    assert read.key == "kubernetes:core/v1:Secret::workload-kubeconfig"
    assert by_urn[read.provider_urn].type == "pulumi:providers:kubernetes"
    assert not by_urn[read.parent].custom  # inside the substrate component
    cluster = next(r for r in run.resources if r.type == "kubernetes:cluster.x-k8s.io/v1beta1:Cluster")
    assert cluster.urn in read.dependencies
    assert read.read_id == (UNKNOWN if run.preview else "inference/inference-kubeconfig")


def test_a_read_with_a_default_provider_is_caught():
    def program():
        import pulumi_random as random

        pet = random.RandomPet.get("stray", "pet-id")
        # Every output is awaited, so the failed read leaves no unobserved future behind.
        for prop in ("id", "urn", "keepers", "length", "prefix", "separator"):
            pulumi.export(prop, getattr(pet, prop))

    with pytest.raises(Exception, match="must use an explicit provider"):
        run_function(program, config=read_project_config())


def test_project_config_from_pulumi_yaml_is_loaded(run):
    assert json.loads(run.config["pulumi:disable-default-providers"]) == ["*"]


def test_a_default_provider_is_refused_because_pulumi_yaml_disables_them():
    def program():
        import pulumi_random as random

        random.RandomPet("pet")

    run_function(program)  # without the project's config a default provider is allowed
    with pytest.raises(Exception, match="Default provider for 'random' disabled"):
        run_function(program, config=read_project_config())


def test_what_the_preview_assertions_read_is_known_in_preview(run):
    """The roots, projects, namespaces and Secrets are built from config, so preview knows
    them: the assertions above check real values in preview too, not skipped applies."""
    checked = ("Application", "AppProject", "Namespace", "Release")
    for r in run.resources:
        if r.type.rsplit(":", 1)[-1] in checked and not r.read:
            assert not contains_unknown(r.inputs), f"{r.key} has unknown inputs in preview"
    for secret in run.of_type("kubernetes:core/v1:Secret"):
        if not secret.read:
            assert not contains_unknown(secret.inputs["metadata"]), secret.key


def test_roots_are_created_after_argo_cd_and_destroyed_before_it(run):
    order = ordering(run)
    (release,) = run.of_type("kubernetes:helm.sh/v3:Release")
    cluster = next(r for r in run.of_type("pulumi:providers:kubernetes") if r.name == "cluster")
    for root in run.of_type("kubernetes:argoproj.io/v1alpha1:Application"):
        assert order.created_after(root.key, release.key) and order.destroyed_before(root.key, release.key)
        assert order.created_after(root.key, cluster.key)
    assert not order.created_after(release.key, release.key)
