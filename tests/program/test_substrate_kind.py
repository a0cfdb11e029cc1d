"""The kind substrate under the recording mock: replacement order, the kubeconfig read, and
in-cluster objects that go with the cluster."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from unittest import mock

from components.config.kind import KindSubstrate
from tooling.mocks import Recorded, RecordingMonitor
from tooling.program import Run, run_program, stack_file


@dataclass(frozen=True)
class Options:
    """Resource options the recording mock does not keep, read from the engine request."""

    deleted_with: str
    replace_with: tuple[str, ...]


@dataclass
class Local:
    run: Run
    options: dict[str, Options]

    def one(self, type_: str, name: str) -> Recorded:
        found = [r for r in self.run.resources if r.type == type_ and r.name == name]
        assert len(found) == 1, (type_, name)
        return found[0]


@functools.cache
def local_stack() -> Local:
    """The `local` stack, in update mode (outputs known, as after a real create)."""
    options: dict[str, Options] = {}
    register = RecordingMonitor.RegisterResource

    def recording(self, request):
        response = register(self, request)
        options[response.urn] = Options(request.deletedWith, tuple(request.replace_with))
        return response

    with mock.patch.object(RecordingMonitor, "RegisterResource", recording):
        run = run_program(stack_file("local"), preview=False)
    return Local(run, options)


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
    assert local.options[read.urn].replace_with == (cluster.urn,)
    assert cluster.urn in read.dependencies
    # pulumi-command logs stdout unless `logging` leaves it out; stderr carries no secret.
    assert read.inputs["logging"] == "stderr"
    assert read.additional_secret_outputs == ["stdout"]


def test_in_cluster_objects_are_deleted_with_the_cluster():
    local = local_stack()
    by_urn = local.run.by_urn()
    cluster = local.one("command:local:Command", "cluster").urn
    k8s = local.one("pulumi:providers:kubernetes", "cluster").urn

    def deleted_with(r: Recorded) -> str:
        # The engine gives a child its parent's deleted_with when it has none of its own.
        while r is not None:
            if local.options[r.urn].deleted_with:
                return local.options[r.urn].deleted_with
            r = by_urn.get(r.parent)
        return ""

    in_cluster = [r for r in local.run.resources if r.provider_urn == k8s]
    assert {r.type for r in in_cluster} >= {
        "kubernetes:helm.sh/v3:Release",
        "kubernetes:core/v1:Namespace",
        "kubernetes:argoproj.io/v1alpha1:Application",
    }
    assert [r.name for r in in_cluster if deleted_with(r) != cluster] == []
    # Set on the objects themselves, or on the component that holds them.
    argocd = local.one("inference-platform:bootstrap:ArgoCd", "argocd")
    assert local.options[argocd.urn].deleted_with == cluster
    root = local.one("kubernetes:argoproj.io/v1alpha1:Application", "root-serving")
    assert local.options[root.urn].deleted_with == cluster
