"""Strict, offline schema conformance of Kubernetes objects.

Core kinds are checked against the Kubernetes OpenAPI schemas shipped in `kubernetes-validate`
(its strict variant: unknown fields are errors). Custom resources are checked against upstream
CRD schemas, `<group>_<version>_<Kind>.json` in the project's schemas/crds (refreshed from the
pins by `make schemas`) or the folder named by CRD_SCHEMA_DIR, made strict the way
kubeconform -strict does. A custom resource whose kind has no schema there is invalid.

usage: python -m tooling.conformance [--k8s 1.33.0] PATH...   (YAML files or folders of them)
"""

from __future__ import annotations

import argparse
import copy
import enum
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import all_versions
from referencing import Registry, Resource

CRD_SCHEMA_DIR_ENV = "CRD_SCHEMA_DIR"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CRD_SCHEMA_DIR = ROOT / "schemas" / "crds"
CORE_SCHEMAS = Path(kubernetes_validate.__file__).resolve().parent / "kubernetes-json-schema"
DEFINITIONS = "https://kubernetes.io/api/_definitions.json"
OBJECT_META = f"{DEFINITIONS}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
MAX_ERRORS = 10

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL = re.compile(_LABEL)
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
PATH_SEGMENT = re.compile(r"(?!\.\.?$)[^/%]+")
QUALIFIED_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


class _Default(enum.Enum):
    FROM_ENVIRONMENT = "from-environment"


FROM_ENVIRONMENT = _Default.FROM_ENVIRONMENT


def crd_schema_dir() -> Path:
    """The CRD schema folder: $CRD_SCHEMA_DIR, else the project's schemas/crds."""
    named = os.environ.get(CRD_SCHEMA_DIR_ENV)
    return Path(named) if named else DEFAULT_CRD_SCHEMA_DIR


def strict_schema(schema: Any, in_junctor: bool = False) -> Any:
    """A Kubernetes structural schema as a strict JSON schema; the input is left untouched.

    Branches of allOf/anyOf/oneOf/not only constrain values (the fields are declared outside
    them), so they never get additionalProperties: false: that would reject declared fields.
    """
    if not isinstance(schema, dict):
        return copy.deepcopy(schema)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties"):
            out[key] = {name: strict_schema(sub, in_junctor) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = strict_schema(value, in_junctor)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [strict_schema(sub, True) for sub in value]
        elif key == "not":
            out[key] = strict_schema(value, True)
        elif key != "nullable" and not key.startswith("x-kubernetes-"):
            out[key] = copy.deepcopy(value)
    if schema.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
        if all(set(branch) <= {"type"} for branch in out.get("anyOf", ())):
            out.pop("anyOf", None)
    if schema.get("nullable") and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if schema.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in out and "additionalProperties" not in out and not preserve and not in_junctor:
        out["additionalProperties"] = False
    return out


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


@dataclass(frozen=True)
class CoreSchemas:
    """The strict Kubernetes schemas of one release, as shipped in kubernetes-validate."""

    version: str
    folder: Path
    registry: Registry
    groups: frozenset[str]
    definitions: dict[str, Any]
    _inlined: dict[str, Any] = field(default_factory=dict)

    def file(self, api_version: str, kind: str) -> Path:
        # kubernetes-validate's own naming: rbac.authorization.k8s.io/v1 -> rbac-v1
        api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        return self.folder / f"{kind.lower()}-{api}.json"

    def inline(self, schema: Any, expanding: tuple[str, ...] = ()) -> Any:
        """schema with its $refs to the definitions replaced by (shared) copies of their targets.

        Looking references up through the registry is a third of the validation time. A
        recursive definition (JSONSchemaProps) keeps its $ref; the registry resolves it.
        """
        if not isinstance(schema, dict):
            return schema
        ref = schema.get("$ref")
        annotations_only = all(k in ("$ref", "description") or k.startswith("x-kubernetes-") for k in schema)
        if isinstance(ref, str) and "#/$defs/" in ref and annotations_only:
            name = ref.rpartition("#/$defs/")[2]
            if name in expanding:
                return {"$ref": f"{DEFINITIONS}#/$defs/{name}"}
            if name not in self._inlined:
                self._inlined[name] = self.inline(self.definitions[name], (*expanding, name))
            return self._inlined[name]
        out = dict(schema)
        for key in ("properties", "patternProperties"):
            if isinstance(schema.get(key), dict):
                out[key] = {k: self.inline(v, expanding) for k, v in schema[key].items()}
        for key in ("items", "additionalProperties", "not"):
            if key in schema:
                out[key] = self.inline(schema[key], expanding)
        for key in ("allOf", "anyOf", "oneOf"):
            if isinstance(schema.get(key), list):
                out[key] = [self.inline(v, expanding) for v in schema[key]]
        return out


@cache
def core_schemas(k8s_version: str) -> CoreSchemas:
    shipped = all_versions()
    # Like kubernetes-validate: the newest shipped release not newer than the one asked for.
    older = [v for v in shipped if _minor(v) <= _minor(k8s_version)]
    if not older or _minor(k8s_version) > _minor(shipped[-1]):
        raise ValueError(
            f"kubernetes-validate has no schemas for Kubernetes {k8s_version} ({shipped[0]}..{shipped[-1]})"
        )
    version = older[-1]
    folder = CORE_SCHEMAS / f"v{version}-local-strict"
    definitions = json.loads((folder / "_definitions.json").read_text())
    groups = frozenset(
        gvk["group"]
        for definition in definitions["$defs"].values()
        for gvk in definition.get("x-kubernetes-group-version-kind", ())
    )
    registry = (Resource.from_contents(definitions) @ Registry()).crawl()
    return CoreSchemas(version, folder, registry, groups, definitions["$defs"])


def _where(error: jsonschema.ValidationError) -> str:
    where = ""
    for part in error.absolute_path:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where or "<root>"


def schema_errors(validator: jsonschema.protocols.Validator, obj: dict) -> list[str]:
    errors = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
    # A failed anyOf/oneOf says only "not valid under any"; its closest branch says why.
    errors = [jsonschema.exceptions.best_match(e.context) if e.context else e for e in errors]
    return [f"{_where(e)}: {e.message[:300]}" for e in errors[:MAX_ERRORS]]


def _qualified_key_errors(what: str, keys: Iterable[Any]) -> list[str]:
    errors = []
    for key in keys:
        prefix, _, name = str(key).rpartition("/")
        good_prefix = not prefix or (len(prefix) <= 253 and DNS1123_SUBDOMAIN.fullmatch(prefix))
        if not (good_prefix and len(name) <= 63 and QUALIFIED_NAME.fullmatch(name)):
            errors.append(f"metadata.{what}: {key!r} is not a valid key")
    return errors


def metadata_errors(obj: dict) -> list[str]:
    """What the API server checks of metadata beyond its schema: names, namespace, label syntax."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return ["metadata: missing or not a mapping"]
    group = obj["apiVersion"].rpartition("/")[0]
    if group == "" and obj["kind"] == "Service":
        rule, limit, pattern = "a DNS-1035 label", 63, DNS1035_LABEL
    elif group == "" and obj["kind"] == "Namespace":
        rule, limit, pattern = "a DNS-1123 label", 63, DNS1123_LABEL
    elif group == "rbac.authorization.k8s.io":
        rule, limit, pattern = "a path segment", 253, PATH_SEGMENT
    else:
        rule, limit, pattern = "a DNS-1123 subdomain", 253, DNS1123_SUBDOMAIN
    name = meta.get("name")
    errors = []
    if not name:
        errors.append("metadata.name: missing")
    elif not isinstance(name, str) or len(name) > limit or not pattern.fullmatch(name):
        errors.append(f"metadata.name: {name!r} is not {rule} of at most {limit} characters")
    namespace = meta.get("namespace")
    if namespace is not None and not (isinstance(namespace, str) and DNS1123_LABEL.fullmatch(namespace)):
        errors.append(f"metadata.namespace: {namespace!r} is not a DNS-1123 label")
    labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
    annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
    errors += _qualified_key_errors("labels", labels)
    errors += _qualified_key_errors("annotations", annotations)
    for key, value in labels.items():
        if isinstance(value, str) and (len(value) > 63 or not (value == "" or QUALIFIED_NAME.fullmatch(value))):
            errors.append(f"metadata.labels.{key}: {value!r} is not a valid label value")
    return errors


def _is_object(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("apiVersion"), str) and isinstance(obj.get("kind"), str)


@dataclass(frozen=True)
class Checked:
    """One object of a file: where it is, Kind/name and its errors."""

    where: str
    label: str
    errors: list[str]


class Conformance:
    """Validates objects strictly; compiled validators are kept per apiVersion and kind."""

    def __init__(self, k8s_version: str = "1.33.0", schema_dir: Path | str | _Default = FROM_ENVIRONMENT):
        self.k8s_version = k8s_version
        self.core = core_schemas(k8s_version)
        self.schema_dir = crd_schema_dir() if schema_dir is FROM_ENVIRONMENT else Path(schema_dir)
        if not self.schema_dir.is_dir():
            raise ValueError(f"CRD schema folder {self.schema_dir} (argument or ${CRD_SCHEMA_DIR_ENV}) is not a folder")
        index = self.schema_dir / "INDEX.json"
        self._index: dict[str, dict] = json.loads(index.read_text()) if index.is_file() else {}
        self._validators: dict[tuple[str, str], jsonschema.protocols.Validator | None] = {}

    def _is_custom(self, api_version: str) -> bool:
        return api_version.rpartition("/")[0] not in self.core.groups

    def _core_validator(self, api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
        file = self.core.file(api_version, kind)
        if not file.is_file():
            return None
        schema = self.core.inline(json.loads(file.read_text()))
        return jsonschema.Draft202012Validator(schema, registry=self.core.registry)

    def _custom_schema_file(self, group: str, version: str, kind: str) -> Path | None:
        entry = self._index.get(f"{group}/{version}/{kind}")
        candidates = [self.schema_dir / entry["file"]] if entry else []
        candidates.append(self.schema_dir / f"{group}_{version}_{kind}.json")
        return next((c for c in candidates if c.is_file()), None)

    def _custom_validator(self, api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
        group, _, version = api_version.rpartition("/")
        file = self._custom_schema_file(group, version, kind)
        if file is None:
            return None
        schema = strict_schema(json.loads(file.read_text()))
        # CRD schemas describe spec/status; the envelope is the same for every kind.
        props = schema.setdefault("properties", {})
        props["apiVersion"] = {"const": api_version}
        props["kind"] = {"const": kind}
        props["metadata"] = self.core.inline({"$ref": OBJECT_META})
        schema.setdefault("additionalProperties", False)
        return jsonschema.Draft202012Validator(schema, registry=self.core.registry)

    def _validator(self, api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
        key = (api_version, kind)
        if key not in self._validators:
            build = self._custom_validator if self._is_custom(api_version) else self._core_validator
            self._validators[key] = build(api_version, kind)
        return self._validators[key]

    def validate(self, obj: Any) -> list[str]:
        """Error messages for obj; empty when valid."""
        if not _is_object(obj):
            return ["not a Kubernetes object: apiVersion and kind must be strings"]
        errors = metadata_errors(obj)
        api_version, kind = obj["apiVersion"], obj["kind"]
        validator = self._validator(api_version, kind)
        if validator is not None:
            return errors + schema_errors(validator, obj)
        if self._is_custom(api_version):
            return [
                *errors,
                f"no schema for {api_version}/{kind} in {self.schema_dir}"
                f" (add it: make schemas KIND={api_version}/{kind})",
            ]
        return [*errors, f"no schema for {api_version} {kind} in Kubernetes {self.core.version}"]

    def check_path(self, path: Path | str) -> Iterator[Checked]:
        """Every object in a YAML file, or in the YAML files under a folder."""
        for file in yaml_files(Path(path)):
            try:
                docs = [doc for doc in yaml.safe_load_all(file.read_text()) if doc is not None]
            except yaml.YAMLError as error:
                yield Checked(str(file), "?", [f"not valid YAML: {error}"])
                continue
            for suffix, obj in _objects(docs):
                meta = obj.get("metadata") if isinstance(obj, dict) else None
                name = meta.get("name") if isinstance(meta, dict) else None
                label = f"{obj.get('kind')}/{name}" if isinstance(obj, dict) else "?"
                yield Checked(f"{file}{suffix}", label, self.validate(obj))

    def validate_dir(self, path: Path | str) -> dict[str, list[str]]:
        """Errors of every object under path, keyed by file (and document/item when a file has several)."""
        return {checked.where: checked.errors for checked in self.check_path(path)}


def yaml_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is neither a file nor a folder")
    return sorted(f for f in path.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file())


def _objects(docs: list[Any]) -> Iterator[tuple[str, Any]]:
    for i, doc in enumerate(docs):
        where = f"#{i}" if len(docs) > 1 else ""
        is_list = isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") and "items" in doc
        if is_list:
            for j, item in enumerate(doc["items"] or []):
                yield f"{where}.items[{j}]", item
        else:
            yield where, doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.conformance", description=__doc__.splitlines()[0])
    parser.add_argument("--k8s", default="1.33.0", help="Kubernetes release whose schemas apply")
    parser.add_argument("paths", nargs="+", help="YAML files or folders of them")
    args = parser.parse_args(argv)
    try:
        conformance = Conformance(args.k8s)
        checks = [checked for path in args.paths for checked in conformance.check_path(path)]
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    invalid = [c for c in checks if c.errors]
    for checked in invalid:
        print(f"INVALID {checked.where} {checked.label}: " + " | ".join(checked.errors))
    print(f"{len(checks)} objects, {len(invalid)} invalid")
    if not checks:
        print("no objects found: nothing was checked", file=sys.stderr)
    return 1 if invalid or not checks else 0


if __name__ == "__main__":
    sys.exit(main())
