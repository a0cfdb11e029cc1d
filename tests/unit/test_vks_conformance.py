"""The vks Cluster manifest against the upstream Cluster API CRD schema, made strict.

The CRD schema is structural: it accepts unknown fields. The check here adds
additionalProperties: false to every object schema that lists properties and does not
preserve unknown fields, so a misspelt or misplaced field fails.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from components.config.vks import VksSubstrate
from substrate.vks import manifests as m
from tooling.conformance import Conformance, crd_schema_dir

SCHEMA_FILE = crd_schema_dir() / "cluster.x-k8s.io_v1beta1_Cluster.json"

SPEC = {
    "kind": "vks",
    "vcenterServer": "vcenter.example.com",
    "supervisorId": "a1b2c3d4-supervisor",
    "contentLibrary": "lib-0001",
    "storagePolicy": "policy-0001",
    "vgpuDriver": {"repository": "registry.example.com/nvidia", "version": "580.105.08"},
    "gpuPools": [
        {"name": "l40s", "accelerator": "nvidia-l40s", "count": 2, "vgpuProfile": "nvidia_l40s-48c", "minNodes": 0},
        {"name": "a100", "accelerator": "nvidia-a100", "vgpuProfile": "grid_a100-40c", "containerdDiskGib": 0},
    ],
}


def strict(schema: Any) -> Any:
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if "properties" in out and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = strict(json.loads(SCHEMA_FILE.read_text()))
    # The CRD describes spec and status; metadata is ObjectMeta, checked by the API server.
    schema["properties"]["metadata"] = {"type": "object"}
    schema["properties"]["apiVersion"] = {"const": m.API_VERSION}
    schema["properties"]["kind"] = {"const": m.KIND}
    return jsonschema.Draft7Validator(schema)


def errors(validator: jsonschema.Draft7Validator, obj: dict) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]


@pytest.mark.parametrize("pools", [0, 2], ids=["cpu-only", "gpu-pools"])
def test_manifest_is_valid_under_the_strict_schema(validator, pools):
    spec = VksSubstrate.model_validate({**SPEC, "gpuPools": SPEC["gpuPools"][:pools]})
    assert errors(validator, m.cluster_manifest(spec)) == []


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (["spec", "topology"], "machineDeployments"),  # misplaced: belongs under workers
        (["spec", "topology", "controlPlane"], "vmClass"),  # a variable written as a field
        (["spec", "clusterNetwork", "pods"], "cidr"),
    ],
)
def test_strict_schema_rejects_unknown_fields(validator, path, field):
    manifest = copy.deepcopy(m.cluster_manifest(VksSubstrate.model_validate(SPEC)))
    node = manifest
    for key in path:
        node = node[key]
    node[field] = "x"
    assert any(field in e for e in errors(validator, manifest)), "an unknown field passed the strict schema"


def test_variable_values_stay_free_form(validator):
    # ClusterClass variables are validated by the ClusterClass, not the CRD: any value shape is allowed.
    manifest = m.cluster_manifest(VksSubstrate.model_validate(SPEC))
    manifest["spec"]["topology"]["variables"].append({"name": "extra", "value": {"any": ["shape"]}})
    assert errors(validator, manifest) == []


def test_manifest_passes_the_project_conformance_check():
    # The project-wide checker also checks metadata (names, annotation keys) like the API server.
    manifest = m.cluster_manifest(VksSubstrate.model_validate(SPEC))
    assert Conformance(schema_dir=SCHEMA_FILE.parent).validate(manifest) == []
