"""The strict conformance checker rejects what the API server or a CRD would reject."""

from __future__ import annotations

import copy
import json

import kubernetes_validate
import pytest
import yaml

from tooling import conformance
from tooling.conformance import Conformance, crd_schema_dir, strict_schema


def deployment() -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "vllm", "namespace": "inference", "labels": {"app.kubernetes.io/name": "vllm"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "vllm"}},
            "template": {
                "metadata": {"labels": {"app": "vllm"}},
                "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.9.2"}]},
            },
        },
    }


def application() -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "keda", "namespace": "argocd"},
        "spec": {
            "project": "platform",
            "source": {
                "repoURL": "https://kedacore.github.io/charts",
                "chart": "keda",
                "targetRevision": "2.17.2",
                "helm": {"valuesObject": {"resources": {"operator": {"limits": {"cpu": "1"}}}}},
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "keda"},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, "syncOptions": ["ServerSideApply=true"]},
        },
    }


def scaled_object() -> dict:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "vllm", "namespace": "inference"},
        "spec": {
            "scaleTargetRef": {"name": "vllm"},
            "minReplicaCount": 1,
            "maxReplicaCount": 4,
            "triggers": [
                {
                    "type": "prometheus",
                    "metadata": {
                        "serverAddress": "http://prometheus.monitoring:9090",
                        "query": "sum(vllm:num_requests_waiting)",
                        "threshold": "5",
                    },
                }
            ],
        },
    }


def pod_disruption_budget(min_available: object) -> dict:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "vllm"},
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": "vllm"}}},
    }


@pytest.fixture(scope="module")
def checker() -> Conformance:
    return Conformance(k8s_version="1.33.0", schema_dir=crd_schema_dir())


@pytest.fixture
def project_crd_folder(monkeypatch):
    monkeypatch.delenv(conformance.CRD_SCHEMA_DIR_ENV, raising=False)


# --- core kinds -----------------------------------------------------------------------------


def test_valid_deployment_passes(checker):
    assert checker.validate(deployment()) == []


def test_unknown_field_in_pod_spec_fails(checker):
    obj = deployment()
    obj["spec"]["template"]["spec"]["nodeSelektor"] = {"a": "b"}
    errors = checker.validate(obj)
    assert len(errors) == 1
    assert errors[0].startswith("spec.template.spec:") and "nodeSelektor" in errors[0]


def test_wrong_type_fails(checker):
    obj = deployment()
    obj["spec"]["replicas"] = "3"
    assert checker.validate(obj) == ["spec.replicas: '3' is not of type 'integer', 'null'"]


def test_unknown_field_in_container_is_located(checker):
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicey"] = "Always"
    errors = checker.validate(obj)
    assert len(errors) == 1 and errors[0].startswith("spec.template.spec.containers[0]:")


@pytest.mark.parametrize("min_available", ["50%", 1])
def test_int_or_string_accepts_both(checker, min_available):
    assert checker.validate(pod_disruption_budget(min_available)) == []


def test_int_or_string_rejects_other_types(checker):
    assert checker.validate(pod_disruption_budget(1.5)) != []
    assert checker.validate(pod_disruption_budget(True)) != []


def test_same_verdict_as_kubernetes_validate(checker):
    bad_metadata = deployment()
    bad_metadata["metadata"]["labelz"] = {}
    bad_port = deployment()
    bad_port["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": "http"}]
    for obj, valid in (
        (deployment(), True),
        (pod_disruption_budget("50%"), True),
        (bad_metadata, False),
        (bad_port, False),
    ):
        try:
            kubernetes_validate.validate(obj, "1.33.0", strict=True)
            reference = True
        except kubernetes_validate.ValidationError:
            reference = False
        assert reference is valid
        assert (checker.validate(obj) == []) is valid


def test_unknown_core_kind_fails(checker):
    obj = deployment()
    obj["kind"] = "Deploymint"
    assert checker.validate(obj) == ["no schema for apps/v1 Deploymint in Kubernetes 1.33.0"]


def test_non_objects_fail(checker):
    for obj in (None, [], {"kind": "Deployment"}, {"apiVersion": "apps/v1"}):
        assert checker.validate(obj) == ["not a Kubernetes object: apiVersion and kind must be strings"]


# --- metadata -------------------------------------------------------------------------------


def test_name_is_required(checker):
    obj = deployment()
    del obj["metadata"]["name"]
    assert checker.validate(obj) == ["metadata.name: missing"]


@pytest.mark.parametrize(
    ("kind", "api_version", "name", "valid"),
    [
        ("Deployment", "apps/v1", "1-vllm.v2", True),
        ("Deployment", "apps/v1", "Vllm", False),
        ("Deployment", "apps/v1", "vllm_server", False),
        ("Service", "v1", "1-vllm", False),
        ("Service", "v1", "vllm.v2", False),
        ("Service", "v1", "vllm", True),
        ("ClusterRole", "rbac.authorization.k8s.io/v1", "inference-platform:reader", True),
        ("ClusterRole", "rbac.authorization.k8s.io/v1", "a/b", False),
    ],
)
def test_name_rules_follow_the_kind(kind, api_version, name, valid):
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}
    errors = conformance.metadata_errors(obj)
    assert (errors == []) is valid, errors


def test_label_and_namespace_syntax(checker):
    obj = deployment()
    obj["metadata"]["labels"] = {"app": "not valid!", "-bad-key": "x"}
    obj["metadata"]["namespace"] = "Inference"
    errors = checker.validate(obj)
    assert any("metadata.labels.app" in e for e in errors)
    assert any("'-bad-key' is not a valid key" in e for e in errors)
    assert any(e.startswith("metadata.namespace:") for e in errors)


# --- custom resources -------------------------------------------------------------------------


def test_valid_application_passes(checker):
    assert checker.validate(application()) == []


def test_application_unknown_spec_field_fails(checker):
    obj = application()
    obj["spec"]["syncPolicyy"] = {}
    errors = checker.validate(obj)
    assert len(errors) == 1 and errors[0].startswith("spec:") and "syncPolicyy" in errors[0]


def test_application_metadata_is_strict(checker):
    obj = application()
    obj["metadata"]["labelz"] = {"a": "b"}
    assert any(e.startswith("metadata:") and "labelz" in e for e in checker.validate(obj))
    obj = application()
    obj["metadata"]["name"] = "Keda_App"
    assert checker.validate(obj) == ["metadata.name: 'Keda_App' is not a DNS-1123 subdomain of at most 253 characters"]


def test_preserve_unknown_fields_subtree_accepts_anything(checker):
    obj = application()
    obj["spec"]["source"]["helm"]["valuesObject"] = {"any": {"deep": [1, {"x": None}]}, "weird-key": True}
    assert checker.validate(obj) == []
    # The strictness resumes right next to it.
    obj["spec"]["source"]["helm"]["valuesObjekt"] = {}
    assert any("valuesObjekt" in e for e in checker.validate(obj))


def test_application_wrong_envelope_fails(checker):
    obj = application()
    obj["status"] = {"bogus": 1}
    obj["spec"]["source"]["helm"]["skipCrds"] = "yes"
    errors = checker.validate(obj)
    assert any(e.startswith("spec.source.helm.skipCrds:") for e in errors)
    assert any(e.startswith("status:") for e in errors)


def test_scaled_object_valid_and_invalid(checker):
    assert checker.validate(scaled_object()) == []
    unknown = scaled_object()
    unknown["spec"]["triggers"][0]["authRef"] = {"name": "x"}
    assert any("authRef" in e for e in checker.validate(unknown))
    missing = scaled_object()
    del missing["spec"]["triggers"][0]["type"]
    assert any(e.startswith("spec.triggers[0]:") and "'type'" in e for e in checker.validate(missing))
    wrong_type = scaled_object()
    wrong_type["spec"]["maxReplicaCount"] = "4"
    assert any(e.startswith("spec.maxReplicaCount:") for e in checker.validate(wrong_type))


def test_custom_int_or_string(checker):
    obj = scaled_object()
    behavior = {"scaleUp": {"tolerance": 1}, "scaleDown": {"tolerance": "0.05"}}
    obj["spec"]["advanced"] = {"horizontalPodAutoscalerConfig": {"behavior": behavior}}
    assert checker.validate(obj) == []
    behavior["scaleUp"]["tolerance"] = 0.05
    assert any("tolerance" in e for e in checker.validate(obj))


def test_value_only_branches_do_not_reject_declared_fields(monkeypatch, tmp_path):
    # Like Gateway API's addresses: type/value are declared outside a oneOf whose branches
    # list properties only to constrain them.
    address = {
        "type": "object",
        "properties": {"type": {"type": "string"}, "value": {"type": "string"}},
        "oneOf": [{"properties": {"type": {"enum": ["Hostname"]}}}, {"properties": {"type": {"enum": ["IP"]}}}],
    }
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"addresses": {"type": "array", "items": address}}}},
    }
    (tmp_path / "gateway.example.com_v1_Gateway.json").write_text(json.dumps(schema))
    monkeypatch.setenv(conformance.CRD_SCHEMA_DIR_ENV, str(tmp_path))
    checker = Conformance()
    gateway = {
        "apiVersion": "gateway.example.com/v1",
        "kind": "Gateway",
        "metadata": {"name": "inference"},
        "spec": {"addresses": [{"type": "Hostname", "value": "gw.example.com"}]},
    }
    assert checker.validate(gateway) == []
    gateway["spec"]["addresses"][0]["valu"] = "x"
    assert any("valu" in e for e in checker.validate(gateway))


def test_kind_without_schema_fails_when_folder_exists(checker):
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    assert checker.validate(obj) == [
        f"no schema for example.com/v1/Widget in {checker.schema_dir} (add it: make schemas KIND=example.com/v1/Widget)"
    ]


def test_empty_schema_folder_makes_every_custom_resource_fail(monkeypatch, tmp_path):
    monkeypatch.setenv(conformance.CRD_SCHEMA_DIR_ENV, str(tmp_path))
    assert crd_schema_dir() == tmp_path
    checker = Conformance()
    assert checker.validate(application()) == [
        f"no schema for argoproj.io/v1alpha1/Application in {tmp_path}"
        " (add it: make schemas KIND=argoproj.io/v1alpha1/Application)"
    ]
    assert checker.validate(deployment()) == []


def test_schema_folder_from_environment_is_used(monkeypatch, tmp_path):
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
    }
    (tmp_path / "example.com_v1_Widget.json").write_text(json.dumps(schema))
    monkeypatch.setenv(conformance.CRD_SCHEMA_DIR_ENV, str(tmp_path))
    checker = Conformance()
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}
    assert checker.validate(widget) == []
    widget["spec"]["colour"] = "red"
    assert checker.validate(widget) == ["spec: Additional properties are not allowed ('colour' was unexpected)"]


def test_missing_named_folder_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv(conformance.CRD_SCHEMA_DIR_ENV, str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="nope"):
        Conformance()


def test_default_schema_folder_is_the_projects_own(project_crd_folder):
    assert crd_schema_dir() == conformance.ROOT / "schemas" / "crds"
    checker = Conformance()
    unknown_field = application()
    unknown_field["spec"]["bogus"] = 1
    assert checker.validate(application()) == []
    assert any("bogus" in e for e in checker.validate(unknown_field))


def test_missing_default_schema_folder_is_an_error_not_a_skip(project_crd_folder, monkeypatch, tmp_path):
    monkeypatch.setattr(conformance, "DEFAULT_CRD_SCHEMA_DIR", tmp_path / "missing")
    with pytest.raises(ValueError, match="missing"):
        Conformance()


# --- strict_schema ----------------------------------------------------------------------------


def test_strict_schema_rules_and_leaves_input_untouched():
    schema = {
        "type": "object",
        "properties": {
            "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
            "mode": {"type": "string", "nullable": True, "enum": ["a", "b"]},
            "values": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"x": {}}},
            "template": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {"spec": {}}},
        },
        "oneOf": [{"properties": {"port": {"type": "integer"}}}],
    }
    original = copy.deepcopy(schema)
    strict = strict_schema(schema)
    assert schema == original
    assert strict["additionalProperties"] is False
    assert strict["properties"]["port"] == {"type": ["integer", "string"]}
    assert strict["properties"]["mode"] == {"type": ["string", "null"], "enum": ["a", "b", None]}
    assert "additionalProperties" not in strict["properties"]["values"]
    template = strict["properties"]["template"]
    assert set(template["properties"]) == {"apiVersion", "kind", "metadata", "spec"}
    assert template["additionalProperties"] is False
    assert "additionalProperties" not in strict["oneOf"][0]
    assert not any(key.startswith("x-kubernetes-") for key in json.dumps(strict).split('"'))


# --- files and CLI ----------------------------------------------------------------------------


def write_manifests(folder, documents: dict[str, list[dict]]):
    for name, docs in documents.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump_all(docs))


def test_validate_dir_reports_each_object(tmp_path, checker):
    bad = deployment()
    bad["spec"]["bogus"] = 1
    write_manifests(tmp_path, {"a.yaml": [deployment()], "nested/b.yml": [pod_disruption_budget(1), bad]})
    (tmp_path / "resources.json").write_text("[]")
    (tmp_path / "broken.yaml").write_text("a: [")
    results = checker.validate_dir(tmp_path)
    assert results[str(tmp_path / "a.yaml")] == []
    assert results[str(tmp_path / "nested/b.yml#0")] == []
    assert "bogus" in results[str(tmp_path / "nested/b.yml#1")][0]
    assert results[str(tmp_path / "broken.yaml")][0].startswith("not valid YAML")
    assert len(results) == 4


def test_cli_summary_and_exit_code(tmp_path, capsys, project_crd_folder):
    bad = deployment()
    bad["spec"]["replicas"] = "many"
    write_manifests(tmp_path / "ok", {"d.yaml": [deployment()], "app.yaml": [application()]})
    write_manifests(tmp_path / "bad", {"d.yaml": [bad]})
    assert conformance.main([str(tmp_path / "ok")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "2 objects, 0 invalid"
    assert conformance.main([str(tmp_path / "ok"), str(tmp_path / "bad")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "3 objects, 1 invalid"
    assert any(line.startswith("INVALID") and "spec.replicas" in line for line in out)
    (tmp_path / "empty").mkdir()
    assert conformance.main([str(tmp_path / "empty")]) == 1
    assert conformance.main([str(tmp_path / "absent")]) == 2
    assert "absent" in capsys.readouterr().err


def test_unsupported_kubernetes_release_is_named():
    with pytest.raises(ValueError, match=r"1\.99"):
        Conformance(k8s_version="1.99.0")


# --- performance ------------------------------------------------------------------------------


def test_each_kind_is_compiled_once_however_many_objects_it_validates(checker, monkeypatch):
    """Compiling a schema costs far more than validating with it: thousands of objects of a
    few kinds must build a few validators, not thousands (speed itself is `make perf`'s)."""
    built: list[tuple[str, str]] = []
    for name in ("_core_validator", "_custom_validator"):
        original = getattr(checker, name)

        def counting(api_version, kind, _original=original):
            built.append((api_version, kind))
            return _original(api_version, kind)

        monkeypatch.setattr(checker, name, counting)
    checker._validators.clear()
    objects = [deployment(), pod_disruption_budget("50%"), application(), scaled_object()]
    batch = objects * 500
    assert all(checker.validate(obj) == [] for obj in batch)
    assert sorted(built) == sorted((o["apiVersion"], o["kind"]) for o in objects)
