"""make render: one object per file, roots expanded, Secrets redacted, resources listed."""

from __future__ import annotations

import json

import yaml

from tooling import render


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
