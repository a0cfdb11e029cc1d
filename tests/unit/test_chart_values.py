"""Every values key the platform sets exists in the pinned chart at its pinned version.

Sources of values: catalog base values, values computed from ClusterFacts (for every
substrate), the Argo CD release values and the per-stack overrides of every stack file.
The charts' default values.yaml and values.schema.json are the copies under schemas/values/.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.argocd import argocd_values
from components.catalog import load_catalog, load_data
from components.computed_values import computed_values
from components.config.modelspec import ModelSpec
from components.config.substrates import SUBSTRATE_KINDS
from components.serving import kubeai
from tests.plain_facts import gke_facts, operator_facts
from tooling import chart_values as cv
from tooling.program import stack_files

CATALOG = load_catalog()
KUBEAI_MODELS = [
    ModelSpec.model_validate({"name": "t", "source": "hf://o/m-1B", "engine": "kubeai", "gpus": 0}),
    ModelSpec.model_validate(
        {"name": "s", "source": "hf://Systran/faster-whisper-small", "engine": "kubeai", "task": "speech", "gpus": 0}
    ),
]
ARGOCD = load_data("argocd/release.yaml")


def facts_per_substrate() -> dict[str, dict[str, Any]]:
    """Plain facts for each substrate kind: GPU operator everywhere but GKE's managed stack."""
    facts = {kind: operator_facts() | {"substrate": kind} for kind in SUBSTRATE_KINDS}
    facts["gke"] = gke_facts()
    return facts


def stack_overrides() -> list[tuple[str, str, dict[str, Any]]]:
    """(stack file, component, values) for every `components.<name>.values` in every stack file."""
    found = []
    for path in stack_files():
        config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
        components = config.get("inference-platform:components") or {}
        for name, override in components.items():
            if isinstance(override, dict) and override.get("values"):
                found.append((path.name, name, override["values"]))
    return found


def values_sets() -> list[tuple[str, str, str, dict[str, Any]]]:
    """(label, chart, version, values) for every source of values the platform sets."""
    sets = []
    for name, entry in sorted(CATALOG.items()):
        pin = (entry.chart.name, entry.chart.version)
        sets.append((f"catalog {name}", *pin, entry.values))
        for substrate, facts in facts_per_substrate().items():
            computed = computed_values(name, facts)
            if computed:
                sets.append((f"computed {name} on {substrate}", *pin, computed))
    # KubeAI's values also depend on the stack's models (their backends set the pods' security).
    kubeai_entry = CATALOG["kubeai"]
    for substrate, facts in facts_per_substrate().items():
        values = kubeai.chart_values(facts, KUBEAI_MODELS)
        sets.append((f"computed kubeai on {substrate}", kubeai_entry.chart.name, kubeai_entry.chart.version, values))
    for ha in (False, True):
        sets.append((f"argocd values (ha={ha})", ARGOCD["name"], str(ARGOCD["version"]), argocd_values(ha)))
    for file, name, values in stack_overrides():
        entry = CATALOG[name]
        sets.append((f"{file} components.{name}.values", entry.chart.name, entry.chart.version, values))
    return sets


SETS = values_sets()


def test_every_source_of_values_is_covered():
    labels = [label for label, *_ in SETS]
    assert any(label.startswith("computed gpu-operator on hetzner") for label in labels)
    assert any(label.startswith("computed external-secrets on gke") for label in labels)
    assert any(" components." in label for label in labels), "no stack file override was walked"
    assert sum(label.startswith("catalog ") for label in labels) == len(CATALOG)


@pytest.mark.parametrize(("label", "chart", "version", "values"), SETS, ids=[s[0] for s in SETS])
def test_values_keys_exist_in_the_pinned_chart(label, chart, version, values):
    carried = cv.load_chart_values(chart, version)
    assert cv.unknown_keys(values, carried) == [], f"{label}: keys {chart} {version} does not have"


@pytest.mark.parametrize(("label", "chart", "version", "values"), SETS, ids=[s[0] for s in SETS])
def test_values_satisfy_the_chart_values_schema(label, chart, version, values):
    carried = cv.load_chart_values(chart, version)
    assert cv.schema_errors(values, carried) == [], f"{label}: {chart} {version} values.schema.json"


def test_every_pinned_chart_has_its_values_carried():
    pins = {(e.chart.name, e.chart.version) for e in CATALOG.values()}
    pins.add((ARGOCD["name"], str(ARGOCD["version"])))
    pins.add((load_data("manifests-chart.yaml")["name"], str(load_data("manifests-chart.yaml")["version"])))
    missing = [f"{c} {v}" for c, v in sorted(pins) if not (cv.values_dir(c, v) / "values.yaml").is_file()]
    assert missing == []


@pytest.mark.parametrize(
    ("chart", "bad", "reported"),
    [
        # A misspelt key at the top, one deep inside, and one inside a subchart's section.
        ("keda", {"prometheus": {"operater": {"enabled": True}}}, "prometheus.operater"),
        ("kube-prometheus-stack", {"grafana": {"sidecar": {"dashboard": {"enabled": 1}}}}, "grafana.sidecar.dashboard"),
        ("kube-prometheus-stack", {"prometheus": {"prometheusSpec": {"retentionSise": "1d"}}}, "retentionSise"),
        ("argo-cd", {"controler": {"replicas": 2}}, "controler"),
        ("external-secrets", {"installCRD": True}, "installCRD"),
    ],
)
def test_a_misspelt_key_is_reported(chart, bad, reported):
    version = ARGOCD["version"] if chart == "argo-cd" else CATALOG[chart].chart.version
    carried = cv.load_chart_values(chart, str(version))
    base = argocd_values(False) if chart == "argo-cd" else CATALOG[chart].values
    unknown = cv.unknown_keys(cv.deep_merge(base, bad), carried)
    assert len(unknown) == 1 and reported in unknown[0], unknown


def test_a_value_the_values_schema_refuses_is_reported():
    entry = CATALOG["cert-manager"]
    carried = cv.load_chart_values(entry.chart.name, entry.chart.version)
    assert carried.schema is not None
    errors = cv.schema_errors(cv.deep_merge(entry.values, {"crds": {"enabled": "yes"}}), carried)
    assert errors and "crds.enabled" in errors[0]


def test_free_form_maps_are_not_walked_but_their_siblings_are():
    entry = CATALOG["external-secrets"]
    carried = cv.load_chart_values(entry.chart.name, entry.chart.version)
    values = {"serviceAccount": {"annotations": {"any/key": "x"}, "nmae": "eso"}}
    assert cv.unknown_keys(values, carried) == ["serviceAccount.nmae"]


def test_a_subchart_section_is_checked_against_the_subchart_values_schema():
    entry = CATALOG["gpu-operator"]
    carried = cv.load_chart_values(entry.chart.name, entry.chart.version)
    assert carried.subcharts["node-feature-discovery"].schema is not None
    bad = {"node-feature-discovery": {"master": {"replicaCount": "two"}}}
    errors = cv.schema_errors(cv.deep_merge(entry.values, bad), carried)
    assert errors and errors[0].startswith("node-feature-discovery.master.replicaCount"), errors


def test_hcloud_ccm_flags_and_variables_are_free_but_chart_keys_are_checked():
    # args and env entries become the controller's flags and variables, named by the controller;
    # a misspelt chart key beside them is still reported.
    entry = CATALOG["hcloud-ccm"]
    carried = cv.load_chart_values(entry.chart.name, entry.chart.version)
    free = {"args": {"any-flag": "1"}, "env": {"HCLOUD_ANYTHING": {"value": "x"}}}
    assert cv.unknown_keys(cv.deep_merge(entry.values, free), carried) == []
    bad = cv.deep_merge(entry.values, {"networking": {"enabeld": False}, "envs": {}})
    assert cv.unknown_keys(bad, carried) == ["envs", "networking.enabeld"]
