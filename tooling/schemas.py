"""Refresh what the project validates against from the pins: CRD schemas and chart values.

For every pinned chart (platform/catalog/*/*.yaml, platform/argocd/release.yaml,
platform/manifests-chart.yaml) the chart archive is downloaded from its repository (a Helm
repository's index.yaml, or an oci:// registry), and from it:

- schemas/values/<chart>/<version>/values.yaml (+ values.schema.json) and the same for each
  bundled subchart under charts/<subchart>/;
- the openAPIV3Schema of every CRD version it ships (crds/ or templates/, subcharts included)
  whose group/version/kind schemas/sources.yaml lists, as schemas/crds/<group>_<version>_<Kind>.json,
  with schemas/crds/INDEX.json recording where each came from.

CRDs no pinned chart ships (Cluster API) come from the `releases` of schemas/sources.yaml.
Engine flags are refreshed by tooling.engine_flags (the pinned vLLM release's own parser). The command
prints what changed: files added, removed or changed, and for values files the keys.

usage: python -m tooling.schemas [--add-kind GROUP/VERSION/KIND] [--mirror URL=URL ...]
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
SOURCES = SCHEMAS / "sources.yaml"
PLATFORM = ROOT / "platform"
TIMEOUT = 60
HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

Fetch = Callable[[str, dict[str, str]], bytes]


@dataclass(frozen=True)
class Pin:
    chart: str
    repo_url: str
    version: str
    where: str


def pins(platform: Path = PLATFORM) -> list[Pin]:
    """Every chart pin: catalog entries, the Argo CD release and the manifests chart."""
    found = []
    for file in sorted(platform.glob("catalog/*/*.yaml")):
        chart = (yaml.safe_load(file.read_text()) or {}).get("chart") or {}
        found.append(Pin(chart["name"], chart["repoURL"], str(chart["version"]), str(file.relative_to(platform))))
    for name in ("argocd/release.yaml", "manifests-chart.yaml"):
        doc = yaml.safe_load((platform / name).read_text())
        found.append(Pin(doc["name"], doc["repoURL"], str(doc["version"]), name))
    return found


# --- downloads ---------------------------------------------------------------------------


def http_get(url: str, headers: dict[str, str]) -> bytes:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return response.read()


def rewrite(url: str, mirrors: dict[str, str]) -> str:
    """url with the longest matching mirror prefix replaced (for proxies and offline tests)."""
    for prefix in sorted(mirrors, key=len, reverse=True):
        if url.startswith(prefix):
            return mirrors[prefix] + url[len(prefix) :]
    return url


def helm_repo_archive(pin: Pin, fetch: Fetch, mirrors: dict[str, str]) -> tuple[str, bytes]:
    """The chart archive named by a Helm repository's index.yaml, and its URL."""
    base = pin.repo_url.rstrip("/") + "/"
    index = yaml.safe_load(fetch(rewrite(base + "index.yaml", mirrors), {}))
    entries = (index.get("entries") or {}).get(pin.chart) or []
    entry = next((e for e in entries if str(e.get("version")) == pin.version), None)
    if entry is None:
        raise LookupError(f"{pin.chart} {pin.version} is not in {base}index.yaml ({pin.where})")
    url = urllib.parse.urljoin(base, entry["urls"][0])
    return url, fetch(rewrite(url, mirrors), {})


def oci_archive(pin: Pin, fetch: Fetch, mirrors: dict[str, str]) -> tuple[str, bytes]:
    """The chart layer of an OCI artifact, read through the registry's HTTP API (anonymous)."""
    ref = pin.repo_url.removeprefix("oci://").rstrip("/") + "/" + pin.chart
    host, _, repository = ref.partition("/")
    base = rewrite(f"https://{host}/v2/{repository}", mirrors)
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    headers = dict(accept)
    try:
        manifest = json.loads(fetch(f"{base}/manifests/{pin.version}", headers))
    except urllib.error.HTTPError as error:
        challenge = error.headers.get("WWW-Authenticate", "") if error.code == 401 else ""
        if not challenge.startswith("Bearer "):
            raise
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        query = urllib.parse.urlencode({k: v for k, v in params.items() if k in ("service", "scope")})
        token = json.loads(fetch(f"{params['realm']}?{query}", {}))
        headers = accept | {"Authorization": f"Bearer {token.get('token') or token.get('access_token')}"}
        manifest = json.loads(fetch(f"{base}/manifests/{pin.version}", headers))
    layer = next(la for la in manifest["layers"] if la["mediaType"] == HELM_CHART_LAYER)
    url = f"{base}/blobs/{layer['digest']}"
    return f"oci://{ref}:{pin.version}", fetch(url, headers)


def chart_archive(pin: Pin, fetch: Fetch = http_get, mirrors: dict[str, str] | None = None) -> tuple[str, bytes]:
    if pin.repo_url.startswith("oci://"):
        return oci_archive(pin, fetch, mirrors or {})
    return helm_repo_archive(pin, fetch, mirrors or {})


# --- archive contents --------------------------------------------------------------------


def archive_files(data: bytes) -> dict[str, bytes]:
    """Regular files of a chart archive by path (the chart's own folder is the first part)."""
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile():
                handle = tar.extractfile(member)
                if handle is not None:
                    files[member.name] = handle.read()
    return files


def chart_tree(files: dict[str, bytes]) -> tuple[dict[str, bytes], dict[str, dict[str, bytes]]]:
    """(the top chart's files relative to its folder, {subchart name: its files likewise}).

    Subcharts come as folders under charts/ or as nested archives charts/<name>-<version>.tgz.
    """
    top: dict[str, bytes] = {}
    for path, data in files.items():
        _, _, rel = path.partition("/")
        top[rel] = data
    subs: dict[str, dict[str, bytes]] = {}
    for rel, data in list(top.items()):
        if not rel.startswith("charts/"):
            continue
        inner = rel.removeprefix("charts/")
        if "/" not in inner and inner.endswith((".tgz", ".tar.gz")):
            nested, nested_subs = chart_tree(archive_files(data))
            name = yaml.safe_load(nested.get("Chart.yaml", b"{}")).get("name") or inner.rsplit("-", 1)[0]
            subs[name] = nested
            subs.update({f"{name}/charts/{k}": v for k, v in nested_subs.items()})
        elif "/" in inner:
            name, _, sub_rel = inner.partition("/")
            subs.setdefault(name, {})[sub_rel] = data
    return top, subs


TEMPLATE_LINE = re.compile(r"^\s*\{\{-?.*-?\}\}\s*$")
TEMPLATE_EXPR = re.compile(r"\{\{-?.*?-?\}\}")


def untemplate(text: str) -> str:
    """A chart template made parseable: directive-only lines dropped, inline actions blanked.

    CRD templates wrap plain CRDs in conditionals and template labels/annotations; the
    openAPIV3Schema itself is not templated.
    """
    lines = [line for line in text.splitlines() if not TEMPLATE_LINE.match(line)]
    return "\n".join(TEMPLATE_EXPR.sub("templated", line) for line in lines)


class CrdLoader(yaml.SafeLoader):
    """SafeLoader that reads a bare `=` as the string it is (YAML 1.1's value tag otherwise)."""


CrdLoader.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)


@dataclass(frozen=True)
class CrdVersion:
    group: str
    version: str
    kind: str
    schema: dict[str, Any]
    served: bool
    storage: bool
    path: str

    @property
    def key(self) -> str:
        return f"{self.group}/{self.version}/{self.kind}"

    @property
    def file(self) -> str:
        return f"{self.group}_{self.version}_{self.kind}.json"


CRD_KIND_LINE = re.compile(r"^kind:\s*CustomResourceDefinition\s*$", re.MULTILINE)


def crds_in(files: dict[str, bytes], prefix: str = "") -> Iterator[CrdVersion]:
    """Every CRD version with a schema in YAML files (crds/ and templates/ of a chart or a release)."""
    for path, data in sorted(files.items()):
        if not path.endswith((".yaml", ".yml")) or b"CustomResourceDefinition" not in data:
            continue
        text = data.decode()
        # Helm renders files under templates/ only; crds/ files are plain YAML, left as they are.
        if path.startswith("templates/") or "/templates/" in path:
            text = untemplate(text)
        try:
            docs = list(yaml.load_all(text, Loader=CrdLoader))
        except yaml.YAMLError as error:
            # A template that only names the kind in its logic (KServe's resources chart filters
            # CRDs out with `eq .kind "CustomResourceDefinition"`) declares no CRD of its own.
            if not CRD_KIND_LINE.search(text):
                continue
            raise ValueError(f"{prefix}{path}: not YAML once template actions are removed: {error}") from error
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec.get("versions") or []:
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if schema is not None:
                    yield CrdVersion(
                        spec["group"],
                        version["name"],
                        spec["names"]["kind"],
                        schema,
                        bool(version.get("served")),
                        bool(version.get("storage")),
                        prefix + path,
                    )


# --- output ------------------------------------------------------------------------------


def values_files(top: dict[str, bytes], subs: dict[str, dict[str, bytes]]) -> dict[str, bytes]:
    out = {name: top[name] for name in ("values.yaml", "values.schema.json") if name in top}
    for sub, files in subs.items():
        for name in ("values.yaml", "values.schema.json"):
            if name in files:
                out[f"charts/{sub}/{name}"] = files[name]
    return out


def schema_json(schema: dict[str, Any]) -> bytes:
    return (json.dumps(schema, indent=1, sort_keys=True) + "\n").encode()


@dataclass
class Generated:
    files: dict[str, bytes]  # path under schemas/ -> content
    missing: list[str]  # kinds asked for that no source carries


def load_sources(path: Path = SOURCES) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def generate(
    sources: dict[str, Any],
    chart_pins: Iterable[Pin],
    fetch: Fetch = http_get,
    mirrors: dict[str, str] | None = None,
    log: Callable[[str], None] = print,
) -> Generated:
    mirrors = mirrors or {}
    wanted = set(sources.get("kinds") or [])
    provenance = sources.get("charts") or {}
    files: dict[str, bytes] = {}
    found: dict[str, tuple[CrdVersion, dict[str, Any]]] = {}
    for pin in chart_pins:
        url, data = chart_archive(pin, fetch, mirrors)
        log(f"chart {pin.chart} {pin.version}: {url}")
        top, subs = chart_tree(archive_files(data))
        for name, content in values_files(top, subs).items():
            files[f"values/{pin.chart}/{pin.version}/{name}"] = content
        origin = provenance.get(pin.chart) or {}
        tag = str(origin.get("tag", "")).format(version=pin.version)
        every = {**top, **{f"charts/{s}/{k}": v for s, f in subs.items() for k, v in f.items()}}
        for crd in crds_in(every, prefix=f"{pin.chart}/"):
            entry = {"chart": pin.chart, "chartVersion": pin.version, "archive": url, "path": crd.path}
            if origin:
                entry |= {"repo": origin["repo"], "tag": tag}
            found.setdefault(crd.key, (crd, entry))
    for release in sources.get("releases") or []:
        url = release["url"].format(**release)
        data = fetch(rewrite(url, mirrors), {})
        log(f"release {release['repo']} {release['ref']}: {url}")
        for crd in crds_in({release["path"]: data}):
            entry = {"repo": release["repo"], "commit": release["ref"], "path": crd.path, "url": url}
            if "version" in release:
                entry["release"] = release["version"]
            # A release is listed for the kinds it is the authority on: it wins over a copy
            # some chart bundles (KServe's resources chart carries the Inference Extension CRDs).
            found[crd.key] = (crd, entry)
    index = {}
    for key in sorted(wanted & set(found)):
        crd, entry = found[key]
        files[f"crds/{crd.file}"] = schema_json(crd.schema)
        index[key] = {"file": crd.file, "served": crd.served, "storage": crd.storage, **entry}
    files["crds/INDEX.json"] = schema_json(index)
    return Generated(files, sorted(wanted - set(found)))


def flat_keys(doc: Any, path: str = "") -> set[str]:
    if not isinstance(doc, dict) or not doc:
        return {path} if path else set()
    return set().union(*(flat_keys(v, f"{path}.{k}" if path else str(k)) for k, v in doc.items()))


def changes(old_root: Path, new: dict[str, bytes], managed: Iterable[str] = ("crds", "values")) -> list[str]:
    """Human-readable lines: files added/removed/changed under the managed folders; values keys."""
    old = {
        str(p.relative_to(old_root)): p.read_bytes()
        for folder in managed
        if (old_root / folder).is_dir()
        for p in (old_root / folder).rglob("*")
        if p.is_file()
    }
    lines = []
    for path in sorted(set(old) | set(new)):
        if path not in new:
            lines.append(f"removed {path}")
        elif path not in old:
            lines.append(f"added   {path}")
        elif old[path] != new[path]:
            lines.append(f"changed {path}")
    # A values file of a new version replaces the old version's: compare keys chart by chart.
    by_chart: dict[str, dict[str, dict[str, bytes]]] = {"old": {}, "new": {}}
    for side, tree in (("old", old), ("new", new)):
        for path, content in tree.items():
            parts = path.split("/")
            if parts[0] == "values" and path.endswith("values.yaml"):
                chart, sub = parts[1], "/".join(parts[3:])
                by_chart[side].setdefault(f"{chart}:{sub}", {})[parts[2]] = content
    for name in sorted(set(by_chart["old"]) & set(by_chart["new"])):
        before = max(by_chart["old"][name].items())[1]
        after = max(by_chart["new"][name].items())[1]
        old_keys = flat_keys(yaml.safe_load(before) or {})
        new_keys = flat_keys(yaml.safe_load(after) or {})
        chart, _, sub = name.partition(":")
        label = f"{chart} {sub.removesuffix('values.yaml').rstrip('/') or ''}".strip()
        for key in sorted(new_keys - old_keys):
            lines.append(f"values {label}: + {key}")
        for key in sorted(old_keys - new_keys):
            lines.append(f"values {label}: - {key}")
    return lines


def write(root: Path, generated: Generated, managed: Iterable[str] = ("crds", "values")) -> None:
    for folder in managed:
        for path in sorted((root / folder).rglob("*"), reverse=True) if (root / folder).is_dir() else []:
            rel = str(path.relative_to(root))
            if path.is_file() and rel not in generated.files:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    for rel, content in generated.files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def add_kind(kind: str, sources_file: Path = SOURCES) -> bool:
    """Add group/version/Kind to the kinds list of sources.yaml; False when already there."""
    if kind.count("/") != 2:
        raise ValueError(f"{kind!r} is not GROUP/VERSION/KIND")
    text = sources_file.read_text()
    kinds = yaml.safe_load(text).get("kinds") or []
    if kind in kinds:
        return False
    # Append to the list in place, keeping the file's comments.
    lines = text.splitlines()
    start = lines.index("kinds:")
    end = start + 1
    while end < len(lines) and (lines[end].startswith("  ") or not lines[end].strip()):
        end += 1
    while not lines[end - 1].strip():
        end -= 1
    entries = sorted([*kinds, kind])
    lines[start + 1 : end] = [f"  - {k}" for k in entries]
    sources_file.write_text("\n".join(lines) + "\n")
    return True


def engine_flags() -> None:
    # With no version it reads the pinned release itself (components.config.modelspec).
    subprocess.run([sys.executable, "-m", "tooling.engine_flags"], check=True, cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.schemas", description=__doc__.splitlines()[0])
    parser.add_argument("--add-kind", action="append", default=[], metavar="GROUP/VERSION/KIND")
    parser.add_argument("--mirror", action="append", default=[], metavar="URL=URL", help="fetch a URL prefix elsewhere")
    parser.add_argument("--no-engine-flags", action="store_true", help="skip tooling.engine_flags")
    parser.add_argument("--out", type=Path, default=SCHEMAS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    mirrors = dict(m.split("=", 1) for m in args.mirror)
    sources_file = args.out / "sources.yaml"
    for kind in args.add_kind:
        print(f"{kind}: {'added to' if add_kind(kind, sources_file) else 'already in'} {sources_file.name}")
    generated = generate(load_sources(sources_file), pins(), mirrors=mirrors)
    if generated.missing:
        print("no pinned chart or release ships: " + ", ".join(generated.missing), file=sys.stderr)
        return 1
    lines = changes(args.out, generated.files)
    write(args.out, generated)
    print("\n".join(lines) if lines else "schemas: no change")
    if not args.no_engine_flags:
        engine_flags()
    return 0


if __name__ == "__main__":
    sys.exit(main())
