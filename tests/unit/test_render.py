"""make render: one object per file, roots expanded, Secrets redacted, resources listed."""

from __future__ import annotations

import json

import pulumi
import pytest
import yaml

from tooling import graph, render
from tooling.program import run_function, run_program


def test_render_writes_objects_and_resource_listing(tmp_path):
    objects, resources = render.render("local", tmp_path / "out")
    files = sorted((tmp_path / "out").glob("*.yaml"))
    assert len(files) == objects > 10
    docs = [yaml.safe_load(f.read_text()) for f in files]
    kinds = {d["kind"] for d in docs}
    # Roots expanded down to first-party manifests.
    assert {"Application", "AppProject", "Deployment", "ScaledObject", "PodMonitor"} <= kinds
    listing = json.loads((tmp_path / "out" / "resources.json").read_text())
    assert listing["kind"] == "PulumiResourceList" and len(listing["resources"]) == resources
    releases = [r for r in listing["resources"] if r["type"] == "kubernetes:helm.sh/v3:Release"]
    assert [r["provider"] for r in releases] == ["cluster"]


def test_render_is_deterministic(tmp_path):
    render.render("dev", tmp_path / "a")
    render.render("dev", tmp_path / "b")
    a = {f.name: f.read_text() for f in (tmp_path / "a").iterdir()}
    b = {f.name: f.read_text() for f in (tmp_path / "b").iterdir()}
    assert a == b


def test_secret_values_are_redacted():
    cleaned = render._clean({"apiVersion": "v1", "kind": "Secret", "stringData": {"key.txt": "AGE-SECRET-KEY-1X"}})
    assert cleaned["stringData"] == {"key.txt": render.REDACTED}


def test_cli_reports_a_bad_stack_in_one_line(tmp_path, capsys):
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config:\n  inference-platform:substrate:\n    kind: aks\n")
    assert render.main([str(bad), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "unknown substrate 'aks'" in err


def test_integers_survive_the_wire_format(tmp_path):
    render.render("local", tmp_path / "out")
    (deployment,) = [
        yaml.safe_load(f.read_text()) for f in (tmp_path / "out").glob("*-Deployment-*.yaml")
    ]
    pod = deployment["spec"]["template"]["spec"]
    assert type(pod["securityContext"]["runAsUser"]) is int
    assert type(pod["containers"][0]["ports"][0]["containerPort"]) is int


def test_a_failed_render_removes_the_stale_output(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "0000-Deployment-old.yaml").write_text("kind: Deployment\n")
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config:\n  inference-platform:substrate:\n    kind: aks\n")
    assert render.main([str(bad), "--out", str(out)]) == 1
    assert not out.exists(), "a failed render must not leave the previous objects looking current"


def _options_program():
    """A small graph using every option the listing reports."""
    import pulumi_random as random

    class Layer(pulumi.ComponentResource):
        def __init__(self, name, opts=None):
            super().__init__("inference-platform:test:Layer", name, None, opts)
            self.pet = random.RandomPet(f"{name}-pet", opts=pulumi.ResourceOptions(parent=self, provider=provider))
            self.register_outputs({})

    provider = random.Provider("random")
    base = random.RandomPet("base", opts=pulumi.ResourceOptions(provider=provider, protect=True))
    layer = Layer("layer", opts=pulumi.ResourceOptions(depends_on=[base]))
    random.RandomPet(
        "top",
        prefix=base.id,  # a property dependency
        opts=pulumi.ResourceOptions(
            provider=provider,
            depends_on=[layer],  # a component: stands for its children
            delete_before_replace=True,
            deleted_with=base,
            replace_with=[base],
            custom_timeouts=pulumi.CustomTimeouts(create="5m", delete="20m"),
            ignore_changes=["prefix", "keepers"],
            aliases=[pulumi.Alias(name="old-top")],
            additional_secret_outputs=["id"],
            retain_on_delete=True,
        ),
    )
    random.RandomPet("loose", opts=pulumi.ResourceOptions(provider=provider))


def test_the_listing_gives_dependencies_and_every_resource_option():
    run = run_function(_options_program)
    listing = {r["name"]: r for r in render.resources_listing(run)}
    top = listing["top"]
    assert set(top) == {"type", "name", "parent", "provider", "dependsOn", "options"}
    assert (top["type"], top["parent"], top["provider"]) == ("random:index/randomPet:RandomPet", None, "random")
    # The SDK sends a dependency on a component as one on each of its children.
    assert top["dependsOn"] == ["random:index/randomPet:RandomPet::base", "random:index/randomPet:RandomPet::layer-pet"]
    assert top["options"] == {
        "protect": False,
        "deleteBeforeReplace": True,
        "deletedWith": "random:index/randomPet:RandomPet::base",
        "replaceWith": ["random:index/randomPet:RandomPet::base"],
        "customTimeouts": {"create": "5m", "update": None, "delete": "20m"},
        "ignoreChanges": ["keepers", "prefix"],
        "aliases": [{"name": "old-top"}],
        "additionalSecretOutputs": ["id"],
        "retainOnDelete": True,
    }
    assert listing["base"]["options"]["protect"] is True
    assert listing["loose"]["dependsOn"] == [] and listing["loose"]["options"]["customTimeouts"] is None
    assert listing["layer-pet"]["parent"] == "layer"


def test_reads_are_listed_as_reads_and_not_rendered_as_objects():
    run = run_program(render.stack_file("vks"))
    (read,) = [r for r in render.resources_listing(run) if r.get("read")]
    assert read["name"] == "workload-kubeconfig" and read["provider"] == "supervisor"
    assert "kubernetes:cluster.x-k8s.io/v1beta1:Cluster::cluster" in read["dependsOn"]
    # Pulumi reads that Secret; it applies nothing for it.
    assert all(o.get("kind") and o.get("metadata") for o in render.pulumi_objects(run))


def test_create_and_destroy_order_follow_the_engines_graph():
    order = graph.ordering(run_function(_options_program))
    # Explicit dependency, and a dependency on a component standing for its children.
    assert order.created_after("layer", "base") and order.created_after("layer-pet", "base")
    assert order.created_after("top", "layer-pet")
    assert order.destroyed_before("top", "layer-pet") and order.destroyed_before("layer-pet", "base")
    # Parent and provider come first too.
    assert order.created_after("layer-pet", "layer") and order.created_after("base", "random")
    # Nothing orders unrelated resources, and nothing runs both ways.
    assert not order.created_after("loose", "base") and not order.created_after("base", "loose")
    assert not order.created_after("base", "top") and not order.destroyed_before("base", "top")
    assert order.resolve("random:index/randomPet:RandomPet::top") == "random:index/randomPet:RandomPet::top"
    with pytest.raises(KeyError):
        order.resolve("missing")
