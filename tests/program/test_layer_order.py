"""Layers are ordered for create and destroy, and the in-cluster bootstrap survives a changed
kubeconfig: checked on the resources each stack registers."""

from __future__ import annotations

import itertools
import json

import pytest

from components.catalog import PROFILES
from tests.conftest import STACKS, stack_run
from tests.program.test_stacks import stack_config
from tooling.mocks import RecordingMonitor
from tooling.program import run_program

APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
WAIT_FOR = "pulumi.com/waitFor"


def roots_by_layer(run) -> dict[str, list]:
    layers: dict[str, list] = {}
    for root in run.of_type(APPLICATION):
        layers.setdefault(root.inputs["metadata"]["labels"]["inference-platform/layer"], []).append(root)
    return layers


def layer_order(stack: str) -> list[str]:
    profile = stack_config(stack).get("profile", "serving")
    return list(PROFILES[profile])


def destroy_order(run) -> list[str]:
    """URNs in the order the engine deletes them: nothing goes before what depends on it."""
    by_urn = run.by_urn()
    dependents: dict[str, set[str]] = {urn: set() for urn in by_urn}
    for r in run.resources:
        for dep in r.dependencies:
            if dep in dependents:
                dependents[dep].add(r.urn)
    order, done = [], set()

    def visit(urn: str) -> None:
        if urn in done:
            return
        done.add(urn)
        for d in sorted(dependents[urn]):
            visit(d)
        order.append(urn)

    for urn in sorted(by_urn):
        visit(urn)
    return order


def test_each_layer_waits_for_every_root_of_the_layer_before_it(stack):
    run = stack_run(stack)
    layers = roots_by_layer(run)
    order = layer_order(stack)
    assert list(layers) and set(layers) == set(order)
    for earlier, later in itertools.pairwise(order):
        for root in layers[later]:
            assert {r.urn for r in layers[earlier]} <= set(root.dependencies), root.name


def test_roots_a_layer_follows_wait_until_synced_and_healthy(stack):
    run = stack_run(stack)
    layers = roots_by_layer(run)
    order = layer_order(stack)
    for name in order[:-1]:
        for root in layers[name]:
            conditions = json.loads(root.inputs["metadata"]["annotations"][WAIT_FOR])
            assert "jsonpath={.status.health.status}=Healthy" in conditions
            assert "jsonpath={.status.sync.status}=Synced" in conditions
    # The last layer does not hold `pulumi up` until every model has loaded: its last stage
    # waits for nothing. A last layer split into stages (too large for one root) waits only
    # where a later root of the layer follows.
    last = layers[order[-1]]
    followed = {dep for root in last for dep in root.dependencies} & {root.urn for root in last}
    for root in last:
        waits = WAIT_FOR in (root.inputs["metadata"].get("annotations") or {})
        assert waits == (root.urn in followed), root.name
    assert any(root.urn not in followed for root in last)


def test_destroy_deletes_serving_before_the_platform_and_argo_cd(stack):
    run = stack_run(stack)
    position = {urn: i for i, urn in enumerate(destroy_order(run))}
    layers = roots_by_layer(run)
    (release,) = run.of_type("kubernetes:helm.sh/v3:Release")
    serving = [position[r.urn] for r in layers["serving"]]
    (platform,) = [position[r.urn] for r in layers["platform"]]
    assert serving and max(serving) < platform < position[release.urn]


@pytest.fixture(scope="module")
def timeouts() -> dict[str, dict[str, str]]:
    """Custom timeouts per resource name, read from the registrations of one stack (uat)."""
    seen: dict[str, dict[str, str]] = {}
    original = RecordingMonitor.RegisterResource

    def register(self, request):
        t = request.customTimeouts
        seen[request.name] = {"create": t.create, "update": t.update, "delete": t.delete}
        return original(self, request)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RecordingMonitor, "RegisterResource", register)
        run_program(STACKS["uat"])
    return seen


def test_roots_have_timeouts_that_fit_a_platform_bring_up_and_a_cascade(timeouts):
    def minutes(value: str) -> int:
        assert value.endswith("m"), value
        return int(value[:-1])

    for name in ("root-platform", "root-serving"):
        t = timeouts[name]
        # Longer than the provider's 10-minute default await, for create and delete alike.
        assert minutes(t["create"]) >= 30 and minutes(t["update"]) >= 30 and minutes(t["delete"]) >= 20, t


@pytest.mark.parametrize(
    ("stack", "identifier"),
    [("dev", "gke/inference-dev"), ("uat", "gke/inference-uat"), ("hetzner", "hetzner/inference"),
     ("vks", "vks/inference"), ("existing", "existing/shared-gpu")],
)
def test_the_cluster_provider_has_a_stable_identifier(stack, identifier):
    (provider,) = [r for r in stack_run(stack).of_type("pulumi:providers:kubernetes") if r.name == "cluster"]
    # Derived from substrate and cluster name only: a rotated token, CA or endpoint in the
    # kubeconfig updates the provider instead of replacing it (and everything on it).
    assert provider.inputs["clusterIdentifier"] == identifier


def test_kind_keeps_the_providers_own_replacement_rule():
    (provider,) = [r for r in stack_run("local").of_type("pulumi:providers:kubernetes") if r.name == "cluster"]
    assert "clusterIdentifier" not in provider.inputs


BOOTSTRAP_TYPES = {
    "kubernetes:helm.sh/v3:Release",
    "kubernetes:core/v1:Namespace",
    "kubernetes:core/v1:Secret",
    APPLICATION,
    "kubernetes:argoproj.io/v1alpha1:AppProject",
    "random:index/randomPassword:RandomPassword",
}


def test_protected_stacks_protect_the_in_cluster_bootstrap(stack):
    run = stack_run(stack)
    bootstrap = [r for r in run.resources if r.type in BOOTSTRAP_TYPES and ":bootstrap:" in r.urn]
    assert {r.type for r in bootstrap} >= BOOTSTRAP_TYPES - {"kubernetes:core/v1:Secret"}
    protect = stack_config(stack).get("protect", True) not in (False, "false")
    unprotected = sorted(f"{r.type} {r.name}" for r in bootstrap if r.protect != protect)
    assert unprotected == []
