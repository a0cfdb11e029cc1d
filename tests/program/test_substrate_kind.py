"""The kind substrate under the recording mock: replacement order, the kubeconfig read, and
in-cluster objects that go with the cluster."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from components.config.kind import KindSubstrate
from tooling.mocks import Recorded
from tooling.program import Run, run_program, stack_file


@dataclass
class Local:
    run: Run

    def one(self, type_: str, name: str) -> Recorded:
        found = [r for r in self.run.resources if r.type == type_ and r.name == name]
        assert len(found) == 1, (type_, name)
        return found[0]


@functools.cache
def local_stack() -> Local:
    """The `local` stack, in update mode (outputs known, as after a real create)."""
    return Local(run_program(stack_file("local"), preview=False))


def test_cluster_is_replaced_delete_first_on_any_change_of_its_shape():
    cluster = local_stack().one("command:local:Command", "cluster")
    # Same name before and after: created first, the new cluster would be what the old delete removes.
    assert cluster.delete_before_replace
    image = KindSubstrate.model_fields["node_image"].default
    assert cluster.inputs["triggers"] == ["inference-local", image, 1]
    assert cluster.inputs["delete"] == "kind delete cluster --name inference-local"


def test_kubeconfig_read_is_replaced_with_the_cluster_and_never_logged():
    local = local_stack()
    cluster = local.one("command:local:Command", "cluster")
    read = local.one("command:local:Command", "kubeconfig")
    assert read.replace_with == [cluster.urn]
    assert cluster.urn in read.dependencies
    # pulumi-command logs stdout unless `logging` leaves it out; stderr carries no secret.
    assert read.inputs["logging"] == "stderr"
    assert read.additional_secret_outputs == ["stdout"]


def test_in_cluster_objects_are_deleted_with_the_cluster():
    local = local_stack()
    cluster = local.one("command:local:Command", "cluster").urn
    k8s = local.one("pulumi:providers:kubernetes", "cluster").urn
    in_cluster = [r for r in local.run.resources if r.provider_urn == k8s]
    assert {r.type for r in in_cluster} >= {
        "kubernetes:helm.sh/v3:Release",
        "kubernetes:core/v1:Namespace",
        "kubernetes:argoproj.io/v1alpha1:Application",
    }
    # Set on every object itself: the Python SDK does not pass deleted_with from a component on.
    assert [r.name for r in in_cluster if r.deleted_with != cluster] == []


def test_a_gone_kind_cluster_does_not_block_destroy():
    """With the cluster deleted first (or by hand), the provider drops its objects from the
    state instead of failing to reach them; other substrates keep the default (an unreachable
    GKE control plane is an error to see, not a reason to forget resources)."""
    from tests.conftest import stack_run

    (kind,) = [r for r in local_stack().run.of_type("pulumi:providers:kubernetes") if r.name == "cluster"]
    assert kind.inputs["deleteUnreachable"] in (True, "true")
    (gke,) = [r for r in stack_run("dev").of_type("pulumi:providers:kubernetes") if r.name == "cluster"]
    assert gke.inputs.get("deleteUnreachable") in (None, False, "false")
