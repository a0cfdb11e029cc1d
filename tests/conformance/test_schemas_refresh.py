"""`make schemas` against a chart repository and an OCI registry served from 127.0.0.1.

The test builds a small chart archive itself (a plain CRD under crds/, a templated one under
templates/, a subchart as a nested archive, values.yaml and values.schema.json), serves it
with an index.yaml, and checks download, extraction, INDEX provenance and the change report.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tooling import schemas


def crd(group: str, kind: str, versions: dict[str, dict], templated: bool = False) -> str:
    doc = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.lower()}s.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": f"{kind.lower()}s"},
            "scope": "Namespaced",
            "versions": [
                {"name": v, "served": True, "storage": i == 0, "schema": {"openAPIV3Schema": s}}
                for i, (v, s) in enumerate(versions.items())
            ],
        },
    }
    text = yaml.safe_dump(doc)
    if templated:
        # What charts do: a conditional around the CRD and templated metadata.
        text = text.replace("metadata:\n", "metadata:\n  labels:\n    chart: {{ .Chart.Name }}\n", 1)
        text = "{{- if .Values.crds.install }}\n" + text + "{{- end }}\n"
    return text


WIDGET = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}
GADGET = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"colour": {"type": "string"}}}}}


def tgz(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def chart_archive(version: str, values: dict) -> bytes:
    sub = tgz({"sub/Chart.yaml": "name: sub\nversion: 0.1.0\n", "sub/values.yaml": "replicas: 1\n"})
    return tgz(
        {
            "demo/Chart.yaml": f"apiVersion: v2\nname: demo\nversion: {version}\n",
            "demo/values.yaml": yaml.safe_dump(values),
            "demo/values.schema.json": json.dumps({"type": "object"}),
            "demo/crds/widgets.yaml": crd("example.com", "Widget", {"v1": WIDGET, "v1beta1": WIDGET}),
            "demo/templates/crds/gadgets.yaml": crd("example.com", "Gadget", {"v1": GADGET}, templated=True),
            "demo/templates/deployment.yaml": "kind: Deployment\nname: {{ .Release.Name }}\n",
            "demo/charts/sub-0.1.0.tgz": sub,
        }
    )


class Server:
    """Static files plus an OCI distribution endpoint, on an ephemeral loopback port."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


def serve_chart(server: Server, version: str, values: dict) -> None:
    server.files[f"/repo/demo-{version}.tgz"] = chart_archive(version, values)
    index = {
        "apiVersion": "v1",
        "entries": {"demo": [{"name": "demo", "version": version, "urls": [f"demo-{version}.tgz"]}]},
    }
    server.files["/repo/index.yaml"] = yaml.safe_dump(index).encode()


SOURCES = {
    "kinds": ["example.com/v1/Widget", "example.com/v1/Gadget", "example.org/v1/Thing"],
    "charts": {"demo": {"repo": "example/charts", "tag": "demo-{version}"}},
    "releases": [
        {
            "repo": "example/things",
            "ref": "abc123",
            "path": "crds/things.yaml",
            "url": "https://src.example/{ref}/{path}",
        }
    ],
}


def test_generate_downloads_extracts_and_records_provenance(server, tmp_path):
    serve_chart(server, "1.0.0", {"crds": {"install": True}, "sub": {"replicas": 2}})
    server.files["/abc123/crds/things.yaml"] = crd("example.org", "Thing", {"v1": WIDGET}).encode()
    pin = schemas.Pin("demo", f"{server.url}/repo", "1.0.0", "catalog/platform/demo.yaml")
    log: list[str] = []
    out = schemas.generate(SOURCES, [pin], mirrors={"https://src.example": server.url}, log=log.append)

    assert out.missing == []
    assert {"/repo/index.yaml", "/repo/demo-1.0.0.tgz", "/abc123/crds/things.yaml"} <= set(server.requests)
    files = out.files
    assert json.loads(files["crds/example.com_v1_Widget.json"]) == WIDGET
    # The templated CRD's schema is extracted unchanged; the chart's other templates are ignored.
    assert json.loads(files["crds/example.com_v1_Gadget.json"]) == GADGET
    assert "crds/example.com_v1beta1_Widget.json" not in files  # not a listed kind
    assert yaml.safe_load(files["values/demo/1.0.0/values.yaml"]) == {"crds": {"install": True}, "sub": {"replicas": 2}}
    assert "values/demo/1.0.0/values.schema.json" in files
    assert files["values/demo/1.0.0/charts/sub/values.yaml"] == b"replicas: 1\n"
    index = json.loads(files["crds/INDEX.json"])
    assert index["example.com/v1/Gadget"] | {"archive": None} == {
        "file": "example.com_v1_Gadget.json",
        "served": True,
        "storage": True,
        "chart": "demo",
        "chartVersion": "1.0.0",
        "archive": None,
        "path": "demo/templates/crds/gadgets.yaml",
        "repo": "example/charts",
        "tag": "demo-1.0.0",
    }
    assert index["example.org/v1/Thing"]["commit"] == "abc123"
    assert index["example.org/v1/Thing"]["url"] == "https://src.example/abc123/crds/things.yaml"
    assert any("demo 1.0.0" in line for line in log)


def test_a_kind_no_source_ships_is_reported(server):
    serve_chart(server, "1.0.0", {})
    pin = schemas.Pin("demo", f"{server.url}/repo", "1.0.0", "demo.yaml")
    out = schemas.generate({"kinds": ["example.com/v1/Nope"]}, [pin], log=lambda _: None)
    assert out.missing == ["example.com/v1/Nope"]


def test_unknown_version_names_the_pin(server):
    serve_chart(server, "1.0.0", {})
    pin = schemas.Pin("demo", f"{server.url}/repo", "9.9.9", "catalog/platform/demo.yaml")
    with pytest.raises(LookupError, match=r"demo 9\.9\.9 .*catalog/platform/demo\.yaml"):
        schemas.generate(SOURCES, [pin], log=lambda _: None)


def test_main_writes_and_prints_what_changed(server, tmp_path, monkeypatch, capsys):
    out = tmp_path / "schemas"
    out.mkdir()
    (out / "sources.yaml").write_text("# kinds carried\nkinds:\n  - example.com/v1/Widget\n")
    monkeypatch.setattr(schemas, "pins", lambda: [schemas.Pin("demo", f"{server.url}/repo", version, "demo.yaml")])

    version = "1.0.0"
    serve_chart(server, version, {"keep": 1, "old": {"deep": True}})
    assert schemas.main(["--out", str(out), "--no-engine-flags"]) == 0
    first = capsys.readouterr().out
    assert "added   crds/example.com_v1_Widget.json" in first
    assert "added   values/demo/1.0.0/values.yaml" in first

    assert schemas.main(["--out", str(out), "--no-engine-flags"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "schemas: no change"

    # A new pin: the old version's values go, and the report names the keys that moved.
    version = "1.1.0"
    serve_chart(server, version, {"keep": 1, "new": "x"})
    assert schemas.main(["--out", str(out), "--no-engine-flags", "--add-kind", "example.com/v1/Gadget"]) == 0
    report = capsys.readouterr().out.splitlines()
    assert "example.com/v1/Gadget: added to sources.yaml" in report
    assert "removed values/demo/1.0.0/values.yaml" in report
    assert "added   values/demo/1.1.0/values.yaml" in report
    assert "added   crds/example.com_v1_Gadget.json" in report
    assert "changed crds/INDEX.json" in report
    assert "values demo: + new" in report
    assert "values demo: - old.deep" in report
    assert not (out / "values" / "demo" / "1.0.0").exists()
    assert (out / "sources.yaml").read_text().startswith("# kinds carried\nkinds:\n")
    assert yaml.safe_load((out / "sources.yaml").read_text())["kinds"] == [
        "example.com/v1/Gadget",
        "example.com/v1/Widget",
    ]


def test_oci_chart_is_read_through_the_registry_api(server):
    archive = chart_archive("2.0.0", {"a": 1})
    digest = "sha256:" + hashlib.sha256(archive).hexdigest()
    manifest = {"layers": [{"mediaType": schemas.HELM_CHART_LAYER, "digest": digest}]}
    server.files["/v2/charts/demo/manifests/2.0.0"] = json.dumps(manifest).encode()
    server.files[f"/v2/charts/demo/blobs/{digest}"] = archive
    pin = schemas.Pin("demo", "oci://registry.example/charts", "2.0.0", "demo.yaml")
    out = schemas.generate(
        {"kinds": ["example.com/v1/Widget"]},
        [pin],
        mirrors={"https://registry.example": server.url},
        log=lambda _: None,
    )
    assert yaml.safe_load(out.files["values/demo/2.0.0/values.yaml"]) == {"a": 1}
    assert "example.com/v1/Widget" in json.loads(out.files["crds/INDEX.json"])


def test_committed_schemas_match_the_pins():
    # Every pinned chart has its values carried, and INDEX.json names a file for every kind.
    carried = {
        p.relative_to(schemas.SCHEMAS / "values").parts[:2] for p in (schemas.SCHEMAS / "values").rglob("values.yaml")
    }
    assert {(p.chart, p.version) for p in schemas.pins()} <= carried
    index = json.loads((schemas.SCHEMAS / "crds" / "INDEX.json").read_text())
    assert sorted(index) == sorted(schemas.load_sources()["kinds"])
    for entry in index.values():
        assert (schemas.SCHEMAS / "crds" / entry["file"]).is_file()
        assert entry["repo"] and (entry.get("tag") or entry.get("commit"))


def test_changes_compares_only_managed_folders(tmp_path: Path):
    (tmp_path / "crds").mkdir()
    (tmp_path / "crds" / "a.json").write_text("{}")
    (tmp_path / "sources.yaml").write_text("kinds: []\n")
    assert schemas.changes(tmp_path, {"crds/a.json": b"{}"}) == []
    assert schemas.changes(tmp_path, {"crds/a.json": b"{ }"}) == ["changed crds/a.json"]


def test_a_template_that_only_filters_crds_is_skipped_but_a_broken_crd_template_is_not():
    filtering = b'{{- $x := include "t" . }}\n{{- if eq .kind "CustomResourceDefinition" }}{{ $x }}{{- end }}\n'
    assert list(schemas.crds_in({"templates/filter.yaml": filtering})) == []
    broken = b"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec: {a: [\n"
    with pytest.raises(ValueError, match=r"templates/broken\.yaml"):
        list(schemas.crds_in({"templates/broken.yaml": broken}))


def test_a_release_wins_over_a_chart_that_bundles_the_same_crd():
    bundled = tgz({"demo/Chart.yaml": "apiVersion: v2\nname: demo\nversion: 1.0.0\n",
                   "demo/files/gadgets.yaml": crd("example.com", "Gadget", {"v1": WIDGET})})
    files = {
        "https://charts.example.com/index.yaml": yaml.safe_dump(
            {"entries": {"demo": [{"version": "1.0.0", "urls": ["demo-1.0.0.tgz"]}]}}
        ).encode(),
        "https://charts.example.com/demo-1.0.0.tgz": bundled,
        "https://raw.example.com/gadgets.yaml": crd("example.com", "Gadget", {"v1": GADGET}).encode(),
    }
    sources = {
        "kinds": ["example.com/v1/Gadget"],
        "releases": [{"repo": "example/gadgets", "ref": "abc", "path": "gadgets.yaml",
                      "url": "https://raw.example.com/{path}"}],
    }
    pin = schemas.Pin("demo", "https://charts.example.com", "1.0.0", "test")
    generated = schemas.generate(sources, [pin], fetch=lambda url, _headers: files[url], log=lambda _m: None)
    assert json.loads(generated.files["crds/example.com_v1_Gadget.json"]) == GADGET
    assert json.loads(generated.files["crds/INDEX.json"])["example.com/v1/Gadget"]["repo"] == "example/gadgets"
