"""kube-prometheus-stack scrapes only what each substrate exposes, and the platform charts'
ServiceMonitors are on, after the chart that installs their CRD."""

from __future__ import annotations

import pytest

from components.catalog import load_catalog
from components.computed_values import computed_values
from components.config import parse_stack_config
from components.layers import build_layers
from tests.plain_facts import gke_facts, operator_facts

CONTROL_PLANE = ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy")
RULES = ("kubeControllerManager", "kubeSchedulerAlerting", "kubeSchedulerRecording", "etcd", "kubeProxy")


@pytest.mark.parametrize("substrate", ["gke", "hetzner", "kind", "vks"])
def test_unreachable_control_plane_jobs_and_their_rules_are_off(substrate):
    values = computed_values("kube-prometheus-stack", gke_facts() | {"substrate": substrate})
    for job in CONTROL_PLANE:
        assert values[job] == {"enabled": False}, job
    assert values["defaultRules"]["rules"] == dict.fromkeys(RULES, False)
    # The storage claim stays computed from facts alongside.
    assert values["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]["storageClassName"]


def test_gke_scrapes_kube_dns_not_coredns():
    values = computed_values("kube-prometheus-stack", gke_facts())
    assert values["coreDns"] == {"enabled": False} and values["kubeDns"] == {"enabled": True}
    assert "coreDns" not in computed_values("kube-prometheus-stack", gke_facts() | {"substrate": "hetzner"})


def test_an_existing_cluster_keeps_the_charts_defaults():
    values = computed_values("kube-prometheus-stack", operator_facts())
    assert not set(values) & {*CONTROL_PLANE, "defaultRules"}


def chart_values(name: str) -> dict:
    cfg = parse_stack_config(
        {
            "substrate": {"kind": "gke", "project": "p-123456", "region": "europe-west4"},
            "secrets": {"backend": "external-secrets"},
        }
    )
    platform = {c["metadata"]["name"]: c for c in build_layers(cfg, gke_facts(), {"argocd"})[0].children}
    return platform[name]


MONITORS = {
    "cert-manager": [("prometheus", "servicemonitor", "enabled")],
    "keda": [
        ("prometheus", "operator", "serviceMonitor", "enabled"),
        ("prometheus", "metricServer", "serviceMonitor", "enabled"),
        ("prometheus", "webhooks", "serviceMonitor", "enabled"),
    ],
    "external-secrets": [("serviceMonitor", "enabled")],
}


@pytest.mark.parametrize("name", sorted(MONITORS))
def test_platform_charts_ship_service_monitors_after_the_crd(name):
    app = chart_values(name)
    values = app["spec"]["source"]["helm"]["valuesObject"]
    for path in MONITORS[name]:
        node = values
        for key in path:
            node = node[key]
        assert node is True, path
    # Sync waves order children of one root: the chart that installs the ServiceMonitor CRD
    # must be healthy before a chart that renders a ServiceMonitor is applied.
    wave = int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
    assert wave > load_catalog()["kube-prometheus-stack"].wave
