"""Tyk's analytics to Prometheus: the gateway's analytics switches, Tyk Pump's values, its
PodMonitor and NetworkPolicies; pure renderers, no Pulumi."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.catalog import manifests_chart
from components.config import ConfigError
from components.gateway import tyk, tyk_pump
from components.gateway import tyk_shared as shared
from tests.plain_facts import operator_facts
from tests.unit.test_gateway_tyk import OIDC, TENANTS, apps, by_kind, config, objects
from tooling.conformance import Conformance
from tooling.secret_scan import scan_object

PUMP_OFF = {"tyk-pump": {"enabled": False}}


def values(app: dict[str, Any]) -> dict[str, Any]:
    return app["spec"]["source"]["helm"]["valuesObject"]


def env(container_values: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container_values.get("extraEnvs", [])}


def test_the_pump_runs_where_tyk_runs_after_the_gateway_before_the_tenants_job():
    children = {a["metadata"]["name"]: a for a in tyk.children(config(), operator_facts())}
    wave = {n: int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for n, a in children.items()}
    assert wave["tyk-redis"] < wave["tyk"] < wave["tyk-pump"] < wave["tyk-tenants"]
    source = children["tyk-pump"]["spec"]["source"]
    assert (source["chart"], source["targetRevision"]) == ("tyk-pump", "5.3.0")
    assert source["repoURL"] == "https://helm.tyk.io/public/helm/charts/"


def test_turning_the_pump_off_removes_it_and_turns_analytics_off():
    cfg = config(components=PUMP_OFF)
    children = apps(cfg)
    assert "tyk-pump" not in children
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects(children["tyk-config"])}
    assert ("PodMonitor", "tyk-pump") not in kinds and ("NetworkPolicy", "tyk-pump") not in kinds
    store = by_kind(children["tyk-config"], "NetworkPolicy")["tyk-redis"]["spec"]
    assert store["ingress"][0]["from"] == [{"podSelector": {"matchLabels": shared.TYK_POD}}]
    gateway = values(children["tyk"])["gateway"]
    # The chart sets TYK_GW_ENABLEANALYTICS from any non-empty analyticsEnabled: "false" is explicit.
    assert gateway["analyticsEnabled"] == "false"
    assert not any(name.startswith("TYK_GW_ANALYTICSCONFIG_") for name in env(gateway))


def test_the_pump_is_not_rendered_without_tyk_and_its_values_are_refused_then():
    assert tyk_pump.enabled(config()) is True
    assert tyk_pump.enabled(config(components={"tyk": {"enabled": False}}, tenants=[])) is False
    with pytest.raises(ConfigError) as error:
        pump_values = {"values": {"pump": {"replicaCount": 2}}}
        config(components={"tyk": {"enabled": False}, "tyk-pump": pump_values}, tenants=[])
    assert "components.tyk-pump.values" in str(error.value) and "tyk is turned off" in str(error.value)


def test_the_gateway_writes_analytics_without_raw_requests_and_they_expire_undrained():
    gateway_values = values(apps()["tyk"])
    gateway = gateway_values["gateway"]
    assert gateway["analyticsEnabled"] == "true"
    variables = env(gateway)
    # A detailed record holds the wire request, Authorization header included.
    assert variables["TYK_GW_ANALYTICSCONFIG_ENABLEDETAILEDRECORDING"] == "false"
    assert variables["TYK_GW_ANALYTICSCONFIG_STORAGEEXPIRATIONTIME"] == "60"
    # Records carry the key's hash (storage.HashKey in the gateway's analytics worker).
    assert gateway_values["global"]["hashKeys"] is True
    # The variables the gateway already had stay.
    assert variables["TYK_GW_ENABLEHASHEDKEYSLISTING"] == "true"


def test_no_api_definition_opts_out_of_analytics_or_records_details():
    cfg = config(tenants=[TENANTS[0] | {"oidcGroup": "ml-team-a"}, TENANTS[1]], gateway=OIDC)
    apps_map = json.loads(json.dumps(by_kind(apps(cfg)["tyk-config"], "ConfigMap")["tyk-apps"]["data"]))
    definitions = [json.loads(text) for text in apps_map.values()]
    assert len(definitions) == 2
    for definition in definitions:
        assert "do_not_track" not in definition
        assert not definition.get("enable_detailed_recording", False)
        # tag_headers copies request headers (Authorization among them, if named) into records.
        assert not definition.get("tag_headers")
    for tenant in cfg.tenants:
        assert not tyk.policy(tenant).get("enable_detailed_recording", False)


def test_only_the_prometheus_pump_reads_the_store_with_the_generated_password():
    pump_values = values(apps()["tyk-pump"])
    pump = pump_values["pump"]
    assert pump["backend"] == ["prometheus"] and pump["uptimePumpBackend"] == ""
    assert pump["image"] == {"repository": "docker.tyk.io/tyk-pump/tyk-pump", "tag": "v1.16.0"}
    store = pump_values["global"]["redis"]
    assert store["addrs"] == ["tyk-redis.llm-gateway.svc:6379"]
    assert store["passSecret"] == {"name": shared.STORE_SECRET, "keyName": "password"}
    assert "pass" not in store
    # All three Secret names set: the chart's templates/secrets.yaml renders nothing.
    assert pump_values["global"]["mongo"]["connectionURLSecret"]["name"]
    assert pump_values["global"]["postgres"]["connectionStringSecret"]["name"]
    assert "password" not in pump_values["global"]["postgres"]


def test_series_stay_bounded_and_carry_no_raw_key():
    pump = values(apps()["tyk-pump"])["pump"]
    variables = env(pump)
    # Every path is counted as `unknown`; the always-empty OAuth client counter is off.
    assert variables["TYK_PMP_PUMPS_PROMETHEUS_META_TRACKALLPATHS"] == "false"
    assert variables["TYK_PMP_PUMPS_PROMETHEUS_META_DISABLEDMETRICS"].split(",") == [
        "tyk_http_status_per_oauth_client"
    ]
    # No custom metric: none adds ip_address, path, alias or time_stamp labels.
    assert pump["prometheusPump"]["customMetrics"] == ""


def test_the_per_key_series_carries_the_murmur128_hash_the_docs_describe():
    # tyk-charts 5.3.0 sets TYK_GW_HASHKEYFUNCTION from gateway.hashKeyFunction (default
    # murmur128): Tyk keeps a custom key as a token naming that function and hashes the token
    # with it for the record's APIKey (docs/gateway.md, tyk_http_status_per_key).
    gateway_values = values(apps()["tyk"])
    assert gateway_values["global"]["hashKeys"] is True
    assert gateway_values["gateway"].get("hashKeyFunction", "murmur128") == "murmur128"


def test_the_pump_runs_as_the_image_user_read_only_without_capabilities():
    pump = values(apps()["tyk-pump"])["pump"]
    pod, container = pump["securityContext"], pump["containerSecurityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == tyk_pump.PUMP_UID == 65532
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False and container["privileged"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["runAsUser"] == 65532
    # Its own ServiceAccount, created before it, mounts no token.
    account = by_kind(apps()["tyk-config"], "ServiceAccount")[pump["serviceAccountName"]]
    assert account["automountServiceAccountToken"] is False
    # The chart renders probes only with its health endpoint on.
    assert pump["healthCheckService"]["enabled"] is True
    assert pump["resources"]["limits"]["memory"]


def test_prometheus_scrapes_the_pump_and_is_the_only_caller_it_admits():
    config_app = apps()["tyk-config"]
    pump_values = values(apps()["tyk-pump"])["pump"]
    monitor = by_kind(config_app, "PodMonitor")["tyk-pump"]["spec"]
    assert monitor["selector"]["matchLabels"] == tyk_pump.PUMP_POD
    assert tyk_pump.PUMP_POD.items() <= pump_values["podLabels"].items()
    assert monitor["podMetricsEndpoints"][0]["port"] == "tyk-pump-port"
    assert monitor["podMetricsEndpoints"][0]["path"] == pump_values["prometheusPump"]["path"] == "/metrics"
    policy = by_kind(config_app, "NetworkPolicy")["tyk-pump"]["spec"]
    assert policy["podSelector"]["matchLabels"] == tyk_pump.PUMP_POD
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    [rule] = policy["ingress"]
    assert rule["ports"] == [{"port": pump_values["containerPort"], "protocol": "TCP"}]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ]
    egress = [(e.get("to"), sorted(p["port"] for p in e["ports"])) for e in policy["egress"]]
    assert egress == [
        ([{"podSelector": {"matchLabels": shared.STORE_POD}}], [6379]),
        (shared.DNS["to"], [53, 53]),
    ]
    store = by_kind(config_app, "NetworkPolicy")["tyk-redis"]["spec"]
    assert {"podSelector": {"matchLabels": tyk_pump.PUMP_POD}} in store["ingress"][0]["from"]


def test_pump_objects_validate_strictly_and_hold_no_secret():
    checker = Conformance()
    children = apps()
    assert children["tyk-config"]["spec"]["source"]["chart"] == manifests_chart().name
    rendered = [children["tyk-pump"], *tyk_pump.objects(config())]
    errors = {o["metadata"]["name"] + "/" + o["kind"]: checker.validate(o) for o in rendered}
    assert {k: v for k, v in errors.items() if v} == {}
    assert [f for o in rendered for f in scan_object(o)] == []
