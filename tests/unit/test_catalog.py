"""Catalog files are checked on load; a bad one names the file and the field."""

from __future__ import annotations

import pytest
import yaml

from components.catalog import CatalogError, load_catalog

GOOD = {
    "name": "keda",
    "layer": "platform",
    "wave": 0,
    "namespace": "keda",
    "chart": {"repoURL": "https://kedacore.github.io/charts", "name": "keda", "version": "2.17.2"},
}


def write(tmp_path, doc, name="keda", layer="platform"):
    folder = tmp_path / layer
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def test_good_entry_loads(tmp_path):
    entry = load_catalog(write(tmp_path, GOOD))["keda"]
    assert entry.chart.version == "2.17.2"
    assert entry.applies("none", "sops")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (GOOD | {"chart": GOOD["chart"] | {"version": "latest"}}, "not a pinned semantic version"),
        (GOOD | {"chart": GOOD["chart"] | {"version": "~2.17"}}, "not a pinned semantic version"),
        (GOOD | {"chart": GOOD["chart"] | {"repoURL": "http://insecure"}}, "https:// or oci://"),
        (GOOD | {"replicas": 2}, "unknown key(s) replicas"),
        (GOOD | {"name": "other"}, "differs from the file name"),
        (GOOD | {"layer": "serving"}, "must be one of"),
        (GOOD | {"when": {"gpuStack": ["amd"]}}, "when.gpuStack"),
        ({k: v for k, v in GOOD.items() if k != "chart"}, "missing or malformed field"),
        (GOOD | {"podSecurity": "open"}, "podSecurity must be one of"),
    ],
)
def test_bad_entries_are_refused(tmp_path, doc, message):
    with pytest.raises(CatalogError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        load_catalog(write(tmp_path, doc))
    assert "keda.yaml" in str(err.value)


def test_conditions_select_by_gpu_stack_and_secret_backend():
    catalog = load_catalog()
    assert catalog["gpu-operator"].applies("operator", "sops")
    assert not catalog["gpu-operator"].applies("gke-managed", "sops")
    assert catalog["external-secrets"].applies("gke-managed", "external-secrets")
    assert not catalog["external-secrets"].applies("gke-managed", "sops")


def test_host_level_components_get_privileged_namespaces_and_others_baseline():
    catalog = load_catalog()
    assert catalog["gpu-operator"].pod_security == "privileged"
    assert catalog["kube-prometheus-stack"].pod_security == "privileged"
    assert catalog["cert-manager"].pod_security == "baseline"


def test_an_engine_condition_holds_when_any_model_uses_the_engine():
    from dataclasses import replace

    entry = replace(load_catalog()["keda"], when={"engine": ("kserve", "kubeai")})
    assert entry.applies("none", "sops", "kind", frozenset({"vllm", "kubeai"}))
    assert entry.unmet("none", "sops", "kind", frozenset({"vllm"})) == ("engine", ["vllm"])


def test_a_substrate_condition_names_what_the_stack_has():
    from components.config import parse_stack_config
    from components.config.deployed import not_deployed

    cfg = parse_stack_config({"substrate": {"kind": "kind"}, "secrets": {"backend": "none"}})
    why = not_deployed(cfg, load_catalog()["hcloud-csi"])
    assert why == "it is deployed only where substrate is hetzner, and this stack's substrate.kind is 'kind'"
