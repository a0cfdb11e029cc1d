"""Every stack with Tyk runs Tyk Pump: the program registers it under the llm-gateway root, the
gateway writes analytics for it, Prometheus scrapes it, and only Prometheus and the store's
policy let traffic to and from it."""

from __future__ import annotations

import json

import pytest
import yaml

from components.gateway import names, tyk_pump
from tests.conftest import STACKS, rendered

PROFILE = "inference-platform:profile"


def _tyk_stacks() -> list[str]:
    """Stacks whose profile includes the llm-gateway layer and which leave Tyk on."""
    found = []
    for name, path in sorted(STACKS.items()):
        config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
        components = config.get("inference-platform:components") or {}
        tyk_on = (components.get("tyk") or {}).get("enabled", True)
        if config.get(PROFILE) in ("llm-gateway", "full") and tyk_on:
            found.append(name)
    return found


TYK_STACKS = _tyk_stacks()


def _find(stack: str, kind: str, name: str, namespace: str | None = None) -> dict:
    matches = [
        o
        for o in rendered(stack)
        if o.get("kind") == kind
        and o["metadata"]["name"] == name
        and (namespace is None or o["metadata"].get("namespace") == namespace)
    ]
    assert len(matches) == 1, (stack, kind, name, len(matches))
    return matches[0]


def _wave(app: dict) -> int:
    return int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])


def _values(app: dict) -> dict:
    return app["spec"]["source"]["helm"]["valuesObject"]


def test_the_local_and_gateway_example_stacks_carry_tyk():
    assert {"local", "gateway-gke", "gateway-hetzner"} <= set(TYK_STACKS)


@pytest.mark.parametrize("stack", TYK_STACKS)
def test_the_pump_application_follows_the_gateway(stack):
    pump = _find(stack, "Application", "tyk-pump")
    gateway = _find(stack, "Application", "tyk")
    assert _wave(pump) > _wave(gateway)
    assert (pump["spec"]["source"]["chart"], pump["spec"]["source"]["targetRevision"]) == ("tyk-pump", "5.3.0")
    assert pump["spec"]["destination"]["namespace"] == names.NAMESPACE
    assert _values(pump)["pump"]["backend"] == ["prometheus"]
    assert _values(gateway)["gateway"]["analyticsEnabled"] == "true"


@pytest.mark.parametrize("stack", TYK_STACKS)
def test_api_definitions_are_tracked(stack):
    apps = _find(stack, "ConfigMap", "tyk-apps", names.NAMESPACE)
    definitions = [json.loads(text) for text in apps["data"].values()]
    assert definitions and all("do_not_track" not in d for d in definitions)


@pytest.mark.parametrize("stack", TYK_STACKS)
def test_prometheus_scrapes_pods_that_carry_the_selected_labels(stack):
    labels = _values(_find(stack, "Application", "tyk-pump"))["pump"]["podLabels"]
    monitor = _find(stack, "PodMonitor", "tyk-pump", names.NAMESPACE)
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    policy = _find(stack, "NetworkPolicy", "tyk-pump", names.NAMESPACE)["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    sources = [peer for rule in policy["ingress"] for peer in rule["from"]]
    assert [s["podSelector"]["matchLabels"] for s in sources] == [{"app.kubernetes.io/name": "prometheus"}]
    store = _find(stack, "NetworkPolicy", "tyk-redis", names.NAMESPACE)["spec"]
    admitted = [peer["podSelector"]["matchLabels"] for rule in store["ingress"] for peer in rule["from"]]
    assert any(sel.items() <= labels.items() for sel in admitted)
    assert tyk_pump.PUMP_POD in admitted
