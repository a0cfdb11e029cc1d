"""TLS on the llm-gateway layer's hops (gateway.tls): what the config says is what the rendered
Issuers, Certificates, chart values, Services, policies and URLs say."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from components.config import ConfigError, parse_stack_config
from components.gateway import layer, litellm, names, pki, routing, tenants, tyk
from components.gateway import tenant_reconciler as rec
from tests.plain_facts import KIND_GATEWAY_STACK, kind_facts, operator_facts
from tests.unit.test_gateway_routing import managed_facts
from tests.unit.test_gateway_tenants import entry_point_env, world  # noqa: F401 (fixture)
from tooling import chart_values as cv
from tooling.conformance import Conformance

MODEL = {"name": "qwen", "source": "hf://Qwen/Qwen2.5-0.5B-Instruct", "gpus": 0}
TENANT = {"name": "team-a", "models": ["qwen"], "monthlyBudget": 50}
OFF = {"tls": {"enabled": False}}


def config(**overrides: Any):
    return parse_stack_config(KIND_GATEWAY_STACK | {"models": [MODEL], "tenants": [TENANT]} | overrides)


def facts() -> dict[str, Any]:
    return kind_facts()


def children(cfg=None, at=None) -> dict[str, dict[str, Any]]:
    return {c["metadata"]["name"]: c for c in layer.gateway_children(cfg or config(), at or facts())}


def values(app: dict[str, Any]) -> dict[str, Any]:
    return app["spec"]["source"]["helm"]["valuesObject"]


def resources(app: dict[str, Any]) -> list[dict[str, Any]]:
    return values(app)["resources"]


def named(app: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in resources(app) if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def wave(app: dict[str, Any]) -> int:
    return int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])


def test_tls_is_on_by_default_and_the_ca_chain_is_self_signed_then_ca_issued():
    cfg = config()
    assert cfg.gateway.tls.enabled is True
    pki_app = children()["gateway-pki"]
    selfsigned = named(pki_app, "Issuer", "llm-gateway-selfsigned")
    assert selfsigned["spec"] == {"selfSigned": {}}
    ca = named(pki_app, "Certificate", "llm-gateway-ca")["spec"]
    assert ca["isCA"] is True and ca["secretName"] == "llm-gateway-ca"
    assert ca["issuerRef"]["name"] == "llm-gateway-selfsigned"
    assert ca["duration"] == "43800h"
    assert named(pki_app, "Issuer", "llm-gateway-ca")["spec"] == {"ca": {"secretName": "llm-gateway-ca"}}
    leaves = {o["metadata"]["name"]: o["spec"] for o in resources(pki_app) if o["kind"] == "Certificate"}
    # model-serving-trust: the model-serving CA for the Gateway (tests/unit/test_serving_tls.py).
    assert set(leaves) == {
        "llm-gateway-ca",
        "tyk-gateway-tls",
        "litellm-tls",
        "inference-gateway-tls",
        "model-serving-trust",
    }
    for name in ("tyk-gateway-tls", "litellm-tls", "inference-gateway-tls"):
        assert leaves[name]["issuerRef"] == {"group": "cert-manager.io", "kind": "Issuer", "name": "llm-gateway-ca"}
        assert leaves[name]["secretName"] == name
        assert (leaves[name]["duration"], leaves[name]["renewBefore"]) == ("2160h", "720h")
        assert leaves[name]["privateKey"]["rotationPolicy"] == "Always"


def test_certificates_name_every_address_their_callers_use():
    cfg = config(gateway={"tls": {"tykDnsNames": ["llm.example.com"]}})
    leaves = {c["metadata"]["name"]: c["spec"] for c in pki.certificates(cfg, facts())}
    assert leaves["tyk-gateway-tls"]["dnsNames"] == [
        "tyk-gateway",
        "tyk-gateway.llm-gateway",
        "tyk-gateway.llm-gateway.svc",
        "tyk-gateway.llm-gateway.svc.cluster.local",
        "llm.example.com",
    ]
    assert "litellm-tls.llm-gateway.svc.cluster.local" in leaves["litellm-tls"]["dnsNames"]
    # Istio: the Service Istio creates; LiteLLM's model URLs name the same host.
    gateway_host = "inference-gateway-istio.llm-gateway.svc.cluster.local"
    assert leaves["inference-gateway-tls"]["dnsNames"] == [gateway_host]
    assert names.model_url("qwen", facts(), tls=True) == f"https://{gateway_host}/qwen/v1"
    # gke: the reserved internal address, an IP SAN.
    gke = {c["metadata"]["name"]: c["spec"] for c in pki.certificates(cfg, managed_facts())}
    assert gke["inference-gateway-tls"] == gke["inference-gateway-tls"] | {"ipAddresses": ["10.10.15.253"]}
    assert "dnsNames" not in gke["inference-gateway-tls"]
    assert names.model_url("qwen", managed_facts(), tls=True) == "https://10.10.15.253/qwen/v1"


def test_an_existing_clusters_gateway_address_loses_its_port_with_tls():
    at = facts() | {"gatewayClass": "own", "gatewayAddress": "gw.infra.svc.cluster.local:8080"}
    assert names.gateway_tls_host(at) == "gw.infra.svc.cluster.local"
    assert names.model_url("qwen", at, tls=True) == "https://gw.infra.svc.cluster.local/qwen/v1"
    assert names.gateway_tls_host(at | {"gatewayAddress": "[fd00::1]:80"}) == "fd00::1"
    assert names.model_url("qwen", at | {"gatewayAddress": "fd00::1"}, tls=True) == "https://[fd00::1]/qwen/v1"


def test_durations_come_from_config():
    cfg = config(gateway={"tls": {"caDuration": "87600h", "certificateDuration": "720h", "renewBefore": "240h"}})
    objects = {o["metadata"]["name"]: o for o in pki.objects(cfg, facts()) if o["kind"] == "Certificate"}
    assert objects["llm-gateway-ca"]["spec"]["duration"] == "87600h"
    assert (objects["litellm-tls"]["spec"]["duration"], objects["litellm-tls"]["spec"]["renewBefore"]) == (
        "720h",
        "240h",
    )


def test_certificates_come_before_the_pods_that_mount_them():
    apps = children()
    assert wave(apps["gateway-pki"]) < min(
        wave(apps[n]) for n in ("inference-gateway", "litellm-database", "litellm", "tyk-config", "tyk")
    )


def test_the_gateway_is_https_only_and_admits_litellm_on_443():
    app = children()["inference-gateway"]
    gateway = named(app, "Gateway", "inference-gateway")
    (listener,) = gateway["spec"]["listeners"]
    assert (listener["protocol"], listener["port"]) == ("HTTPS", 443)
    assert listener["tls"]["certificateRefs"] == [{"kind": "Secret", "name": pki.GATEWAY_CERT}]
    policy = named(app, "NetworkPolicy", "inference-gateway")["spec"]
    assert policy["ingress"][0]["ports"] == [{"port": 443, "protocol": "TCP"}]


def test_litellm_serves_tls_through_its_sidecar_and_trusts_the_ca_for_the_gateway():
    apps = children()
    chart = values(apps["litellm"])
    # helm/litellm's monolith takes its pod's sidecars, volumes, mounts and env under gateway.*.
    pod = chart["gateway"]
    (proxy,) = pod["extraContainers"]
    assert proxy["image"] == litellm.TLS_PROXY_IMAGE
    assert proxy["args"][:3] == ["server", "--listen=0.0.0.0:4443", "--target=127.0.0.1:4000"]
    assert "--timed-reload=300s" in proxy["args"]
    assert proxy["securityContext"]["readOnlyRootFilesystem"] is True
    assert proxy["volumeMounts"] == [{"name": "litellm-tls", "mountPath": litellm.TLS_DIR, "readOnly": True}]
    assert {"name": "litellm-tls", "secret": {"secretName": "litellm-tls"}} in pod["volumes"]
    # LiteLLM's OpenAI-compatible calls verify against this file (litellm get_ssl_configuration),
    # beside the catalog's own entry (a list: the merge must keep both).
    assert pod["extraEnv"] == [
        {"name": "LITELLM_OFFLINE_MODE", "value": "true"},
        {"name": "SSL_VERIFY", "value": pki.CA_FILE},
    ]
    assert pod["volumeMounts"] == [{"name": "llm-gateway-ca", "mountPath": pki.CA_DIR, "readOnly": True}]
    assert {e["litellm_params"]["api_base"] for e in pod["config"]["proxy_config"]["model_list"]} == {
        "https://inference-gateway-istio.llm-gateway.svc.cluster.local/qwen/v1"
    }
    service = named(apps["litellm-policies"], "Service", names.LITELLM_TLS_SERVICE)
    assert service["spec"]["ports"] == [{"name": "https", "port": 4443, "targetPort": "https", "protocol": "TCP"}]
    assert service["spec"]["selector"] == litellm.LITELLM_POD
    entry = litellm.load_catalog()["litellm"]
    carried = cv.load_chart_values(entry.chart.name, entry.chart.version)
    assert cv.unknown_keys(chart, carried) == []


def test_tyk_serves_https_and_reaches_litellm_over_tls():
    apps = children()
    chart = values(apps["tyk"])
    assert chart["global"]["tls"] == {"gateway": True, "useDefaultTykCertificate": False}
    assert chart["gateway"]["tls"]["secretName"] == pki.TYK_CERT
    assert {"name": "SSL_CERT_DIR", "value": f"/etc/ssl/certs:{pki.CA_DIR}"} in chart["gateway"]["extraEnvs"]
    assert pki.ca_volume() in chart["gateway"]["extraVolumes"]
    entry = tyk.load_catalog()["tyk"]
    carried = cv.load_chart_values(entry.chart.name, entry.chart.version)
    assert cv.unknown_keys(chart, carried) == []
    service = named(apps["tyk-config"], "Service", names.TYK_SERVICE)
    assert service["spec"]["ports"][0]["name"] == "https"
    api = json.loads(named(apps["tyk-config"], "ConfigMap", "tyk-apps")["data"]["llm.json"])
    assert api["proxy"]["target_url"] == "https://litellm-tls.llm-gateway.svc.cluster.local:4443"
    # No skip-verify anywhere: neither the API's transport nor the gateway's config.
    assert "transport" not in api["proxy"]
    assert not [e for e in chart["gateway"]["extraEnvs"] if "SKIP" in e["name"].upper()]


def test_the_reconciler_calls_both_hops_over_tls_with_the_ca():
    objects = tenants.tenant_objects(config())
    (job,) = [o for o in objects if o["kind"] == "Job"]
    pod = job["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["LITELLM_URL"] == "https://litellm-tls.llm-gateway.svc.cluster.local:4443"
    assert env["TYK_URL"] == "https://tyk-gateway.llm-gateway.svc.cluster.local:8080"
    assert env["CA_FILE"] == f"{tenants.CREDENTIALS_DIR}/{tenants.CA_FILE_NAME}"
    (ca,) = [v for v in pod["volumes"] if v["name"] == tenants.CA_FILE_NAME]
    assert ca["secret"] == {"secretName": pki.CA, "items": [{"key": "ca.crt", "path": "ca.crt"}]}
    (policy,) = [o for o in objects if o["kind"] == "NetworkPolicy"]
    assert 4443 in [p["port"] for e in policy["spec"]["egress"] for p in e["ports"]]


def test_the_reconciler_verifies_with_the_ca_file_it_is_given(world, tmp_path, monkeypatch):  # noqa: F811
    seen: list[str | None] = []
    real = rec.ssl.create_default_context

    def recording(*args, cafile=None, **kwargs):
        seen.append(cafile)
        return real(*args, **kwargs)

    monkeypatch.setattr(rec.ssl, "create_default_context", recording)
    env, sa = entry_point_env(world, tmp_path, CA_FILE="/var/run/credentials/llm-gateway-ca")
    assert rec.main(env, sa) == 0
    assert "/var/run/credentials/llm-gateway-ca" in seen


def test_no_pod_mounts_the_cas_private_key():
    """Every volume of the CA Secret carries the item ca.crt and nothing else."""
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if (node.get("secret") or {}).get("secretName") == pki.CA:
                found.append(node["secret"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(list(children().values()))
    assert found and all(s["items"] == [{"key": "ca.crt", "path": "ca.crt"}] for s in found)


def test_turned_off_every_hop_is_plain_and_no_certificate_is_rendered():
    apps = children(config(gateway=OFF))
    assert "gateway-pki" not in apps
    (listener,) = named(apps["inference-gateway"], "Gateway", "inference-gateway")["spec"]["listeners"]
    assert (listener["protocol"], listener["port"]) == ("HTTP", 80)
    assert "extraContainers" not in values(apps["litellm"])
    assert "tls" not in values(apps["tyk"])["global"]
    api = json.loads(named(apps["tyk-config"], "ConfigMap", "tyk-apps")["data"]["llm.json"])
    assert api["proxy"]["target_url"] == "http://litellm.llm-gateway.svc.cluster.local:4000"


def test_without_tyk_or_litellm_only_their_certificates_go():
    cfg = config(tenants=[], components={"tyk": {"enabled": False}, "litellm": {"enabled": False}})
    assert [c["metadata"]["name"] for c in pki.certificates(cfg, facts())] == ["inference-gateway-tls"]


@pytest.mark.parametrize("at", [facts(), managed_facts()], ids=["istio", "gke"])
def test_every_tls_object_validates_strictly(at):
    checker = Conformance()
    rendered = []
    for app in layer.gateway_children(config(), at):
        rendered.append(app)
        if isinstance(values(app).get("resources"), list):
            rendered += resources(app)
    problems = {f"{o['kind']}/{o['metadata']['name']}": checker.validate(o) for o in rendered}
    assert {k: v for k, v in problems.items() if v} == {}
    kinds = {o["kind"] for o in rendered}
    assert {"Issuer", "Certificate"} <= kinds


@pytest.mark.parametrize(
    ("tls", "at", "message"),
    [
        ({"renewBefore": "2160h"}, "gateway.tls.renewBefore", "must be shorter than certificateDuration"),
        ({"caDuration": "1000h"}, "gateway.tls.certificateDuration", "cannot outlive the CA"),
        ({"certificateDuration": "90d"}, "gateway.tls.certificateDuration", "whole number of hours"),
        ({"tykDnsNames": ["LLM.example.com"]}, "gateway.tls.tykDnsNames", "lower-case DNS name"),
        ({"enabled": "maybe"}, "gateway.tls.enabled", ""),
        ({"ca": "x"}, "gateway.tls.ca", ""),
    ],
)
def test_bad_tls_settings_are_refused_with_the_key_path(tls, at, message):
    with pytest.raises(ConfigError) as err:
        config(gateway={"tls": tls})
    assert at in str(err.value) and message in str(err.value)


def test_plain_routing_helpers_keep_their_http_defaults():
    assert routing.gateway(facts())["spec"]["listeners"][0]["protocol"] == "HTTP"
    assert names.litellm_url() == "http://litellm.llm-gateway.svc.cluster.local:4000"
    assert operator_facts()["gatewayClass"] == "istio"


def _sans(apps: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """Certificate name -> every DNS name and IP address it is issued for."""
    return {
        o["metadata"]["name"]: {*o["spec"].get("dnsNames", []), *o["spec"].get("ipAddresses", [])}
        for o in resources(apps["gateway-pki"])
        if o["kind"] == "Certificate"
    }


def _host(url: str) -> str:
    host = urlsplit(url).hostname
    assert host
    return host


@pytest.mark.parametrize("at", [facts(), managed_facts()], ids=["istio", "gke"])
def test_every_caller_verifies_a_name_its_hops_certificate_carries(at):
    """Read from the rendered objects, not the constants: each caller's client checks the host
    it connects to against the certificate (Go's http.Transport, Python's ssl, Prometheus'
    serverName), so a host missing from the certificate's SANs fails that hop closed."""
    apps = children(at=at)
    sans = _sans(apps)
    api = json.loads(named(apps["tyk-config"], "ConfigMap", "tyk-apps")["data"]["llm.json"])
    job = named(apps["tyk-tenants"], "Job", "tenant-reconciler")
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    monitor = named(apps["litellm-policies"], "ServiceMonitor", "litellm")["spec"]["endpoints"][0]
    model_list = values(apps["litellm"])["gateway"]["config"]["proxy_config"]["model_list"]
    model_hosts = {_host(e["litellm_params"]["api_base"]) for e in model_list}
    calls = {
        ("tyk -> litellm", _host(api["proxy"]["target_url"])): pki.LITELLM_CERT,
        ("reconciler -> litellm", _host(env["LITELLM_URL"])): pki.LITELLM_CERT,
        ("reconciler -> tyk", _host(env["TYK_URL"])): pki.TYK_CERT,
        ("prometheus -> litellm", monitor["tlsConfig"]["serverName"]): pki.LITELLM_CERT,
        **{("litellm -> gateway", host): pki.GATEWAY_CERT for host in model_hosts},
    }
    assert {call: cert for call, cert in calls.items() if call[1] not in sans[cert]} == {}


def test_make_ups_printed_call_names_a_host_of_tyks_certificate():
    script = (Path(__file__).parents[2] / "scripts/up-local.sh").read_text()
    (host,) = set(re.findall(r"--connect-to ([a-z0-9.-]+):8080:127\.0\.0\.1:8080", script))
    assert f"https://{host}:8080/" in script
    assert host in _sans(children())[pki.TYK_CERT]


# ghostunnel v1.11.1 (main.go): server-mode flags and the rules its flag validation applies
# before it starts (serverValidateFlags, validateServerTarget, consideredSafe).
GHOSTUNNEL_FLAGS = {
    "listen", "target", "cert", "key", "keystore", "cacert", "disable-authentication", "allow-all",
    "allow-cn", "allow-ou", "allow-dns", "allow-uri", "timed-reload", "status", "connect-timeout",
    "close-timeout", "shutdown-timeout", "max-conn-lifetime", "max-concurrent-conns", "quiet",
    "unsafe-target", "skip-resolve",
}  # fmt: skip
GHOSTUNNEL_SAFE_TARGETS = ("unix:", "systemd:", "launchd:", "127.0.0.1:", "[::1]:", "localhost:")


def test_the_tls_sidecars_flags_pass_ghostunnels_own_validation():
    (proxy,) = values(children()["litellm"])["gateway"]["extraContainers"]
    command, *flags = proxy["args"]
    assert command == "server"
    parsed = dict(f[2:].partition("=")[::2] for f in flags)
    assert set(parsed) <= GHOSTUNNEL_FLAGS
    # One credential source: the --cert/--key pair of the mounted Secret.
    assert "keystore" not in parsed and {"cert", "key"} <= set(parsed)
    mounted = {m["mountPath"] for m in proxy["volumeMounts"]}
    assert {parsed["cert"].rsplit("/", 1)[0], parsed["key"].rsplit("/", 1)[0]} <= mounted
    # One access-control choice: --disable-authentication excludes every --allow-* flag.
    assert "disable-authentication" in parsed and not [f for f in parsed if f.startswith("allow-")]
    # Without --unsafe-target the target must be local.
    assert "unsafe-target" not in parsed and parsed["target"].startswith(GHOSTUNNEL_SAFE_TARGETS)
    assert parsed["target"].endswith(f":{names.LITELLM_PORT}")
    assert parsed["listen"].endswith(f":{names.LITELLM_TLS_PORT}")


def test_tyk_is_restarted_after_each_renewal_by_a_cronjob_that_never_reads_a_key():
    """Tyk 5.13.1 opens its TLS listener once, with the certificate files as they are then
    (gateway/proxy_muxer.go reuses the listener, gateway/cert.go loads the files): a CronJob
    rolls its Deployment after cert-manager renews tyk-gateway-tls."""
    config_app = children()["tyk-config"]
    cron = named(config_app, "CronJob", tenants.RELOAD)
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["RESTART_ON_RENEWAL"] == f"{pki.TYK_CERT}:gateway-tyk"
    # The chart names its Deployment gateway-<fullname> (templates/deployment-gw-repset.yaml).
    assert f"gateway-{tyk.load_catalog()['tyk'].values['fullnameOverride']}" == "gateway-tyk"
    # The script comes from a ConfigMap of the same Application.
    (script,) = [v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v]
    assert "tenant_reconciler.py" in named(config_app, "ConfigMap", script)["data"]
    role = named(config_app, "Role", tenants.RELOAD)
    rules = {(r["apiGroups"][0], r["resources"][0]): (r["verbs"], r["resourceNames"]) for r in role["rules"]}
    assert rules == {
        ("cert-manager.io", "certificates"): (["get"], [pki.TYK_CERT]),
        ("apps", "deployments"): (["get", "patch"], ["gateway-tyk"]),
    }
    policy = named(config_app, "NetworkPolicy", tenants.RELOAD)["spec"]
    assert policy["ingress"] == [] and policy["podSelector"]["matchLabels"] == pod_labels(cron)
    assert tenants.RELOAD not in {o["metadata"]["name"] for o in resources(children(config(gateway=OFF))["tyk-config"])}


def pod_labels(cron: dict[str, Any]) -> dict[str, str]:
    labels = cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    return {k: v for k, v in labels.items() if k == "app.kubernetes.io/name"}
