"""`make render STACK=<name>`: every Kubernetes object Pulumi or Argo CD would apply, offline.

Roots are expanded into their child Applications and those into first-party manifests;
upstream chart contents are not (they come from the pinned charts). One object per file,
plus resources.json listing every Pulumi resource.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from components.catalog import manifests_chart
from tooling import yaml_emit
from tooling.mocks import Recorded, urn_key
from tooling.program import Run, run_program, stack_file

REDACTED = "<redacted>"
NOT_OBJECTS = ("kubernetes:helm.sh/", "pulumi:providers:", "kubernetes:yaml")


FIRST = ("apiVersion", "kind", "metadata")


def _canonical(value: Any) -> Any:
    """Keys sorted at every level (the wire does not keep an order), Kubernetes' usual first."""
    if isinstance(value, dict):
        keys = [k for k in FIRST if k in value] + sorted(k for k in value if k not in FIRST)
        return {k: _canonical(value[k]) for k in keys}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _clean(inputs: dict[str, Any]) -> dict[str, Any]:
    obj = _canonical({k: v for k, v in inputs.items() if not k.startswith("__")})
    if obj.get("kind") == "Secret":
        # Secret values never leave the program: render shows the keys only.
        for field in ("data", "stringData"):
            if field in obj:
                obj[field] = dict.fromkeys(obj[field], REDACTED)
    return obj


def pulumi_objects(run: Run) -> list[dict[str, Any]]:
    """Kubernetes objects Pulumi itself applies (not providers, not Helm releases, not reads)."""
    objects = [
        _clean(r.inputs)
        for r in run.resources
        if r.custom and not r.read and r.type.startswith("kubernetes:") and not r.type.startswith(NOT_OBJECTS)
    ]
    # Registration order is concurrent; a stable order keeps render diffs readable.
    return sorted(objects, key=_identity)


def _identity(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = obj.get("metadata", {})
    return (obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""))


def carried(app: dict[str, Any]) -> list[dict[str, Any]]:
    """Objects an Application carries through the manifests chart (none for upstream charts)."""
    pin = manifests_chart()
    source = app.get("spec", {}).get("source", {})
    if source.get("repoURL") != pin.repo_url or source.get("chart") != pin.name:
        return []
    return list(source.get("helm", {}).get("valuesObject", {}).get("resources", []))


def expand(objects: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for obj in objects:
        yield obj
        if obj.get("kind") == "Application":
            yield from expand(carried(obj))


def file_name(index: int, obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    parts = [obj.get("kind", "Unknown"), meta.get("namespace", "_cluster"), meta.get("name", "unnamed")]
    slug = "-".join(re.sub(r"[^A-Za-z0-9.-]+", "_", str(p)) for p in parts)
    return f"{index:04d}-{slug}.yaml"


def resource_entry(r: Recorded, by_urn: dict[str, Recorded]) -> dict[str, Any]:
    """One resource as the engine gets it: identity, parent, provider, what it waits for, and
    the options that change how it is created, replaced and deleted."""
    options: dict[str, Any] = {
        "protect": r.protect,
        "deleteBeforeReplace": r.delete_before_replace,
        "deletedWith": urn_key(r.deleted_with) if r.deleted_with else None,
        "replaceWith": sorted(urn_key(u) for u in r.replace_with),
        "customTimeouts": r.custom_timeouts,
        "ignoreChanges": sorted(r.ignore_changes),
        "aliases": r.aliases,
        "additionalSecretOutputs": sorted(r.additional_secret_outputs),
        "retainOnDelete": r.retain_on_delete,
    }
    depends = set(r.dependencies)
    for urns in r.property_dependencies.values():
        depends.update(urns)
    entry = {
        "type": r.type,
        "name": r.name,
        "parent": by_urn[r.parent].name if r.parent in by_urn else None,
        "provider": by_urn[r.provider_urn].name if r.provider_urn in by_urn else None,
        "dependsOn": sorted(urn_key(u) for u in depends),
        "options": options,
    }
    if r.read:
        entry["read"] = True
    return entry


def resources_listing(run: Run) -> list[dict[str, Any]]:
    by_urn = run.by_urn()
    listing = [resource_entry(r, by_urn) for r in run.resources]
    return sorted(listing, key=lambda r: (r["parent"] or "", r["type"], r["name"]))


def render(stack: str, out: Path) -> tuple[int, int]:
    # A stale folder goes first, so a failed render never leaves an old one looking current.
    if out.exists():
        shutil.rmtree(out)
    run = run_program(stack_file(stack))
    objects = list(expand(pulumi_objects(run)))
    out.mkdir(parents=True)
    for i, obj in enumerate(objects):
        (out / file_name(i, obj)).write_text(yaml_emit.dump(obj))
    listing = resources_listing(run)
    document = {"kind": "PulumiResourceList", "stack": run.stack, "resources": listing}
    (out / "resources.json").write_text(json.dumps(document, indent=2) + "\n")
    return len(objects), len(listing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack name (Pulumi.<name>.yaml at the root or in examples/) or a path")
    parser.add_argument("--out", type=Path, help="output folder (default: out/<stack>)")
    args = parser.parse_args(argv)
    out = args.out or Path("out") / Path(args.stack).name.removeprefix("Pulumi.").removesuffix(".yaml")
    start = time.perf_counter()
    try:
        objects, resources = render(args.stack, out)
    except Exception as exc:  # a CLI: one clear line and a non-zero exit
        print(f"render {args.stack}: {exc}", file=sys.stderr)
        return 1
    took = time.perf_counter() - start
    print(f"rendered {objects} objects and {resources} Pulumi resources to {out} in {took:.2f}s")
    return 0


if __name__ == "__main__":
    code = main()
    # The provider SDKs leave millions of objects behind (pulumi_gcp alone is 300 MB of
    # classes); a collector pass over them at exit costs seconds and frees nothing we need.
    gc.freeze()
    sys.exit(code)
