"""The Tyk part's children: gateway and store charts, API definition and policies as files,
the secrets hook and tenant Job, RBAC, NetworkPolicies; pure renderers, no Pulumi."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from components.catalog import load_catalog, manifests_chart
from components.config import ConfigError, parse_stack_config
from components.gateway import names, tenants, tyk, tyk_pump
from components.gateway import tyk_shared as shared
from tests.plain_facts import KIND_GATEWAY_STACK, gke_facts, operator_facts
from tooling import chart_values as cv
from tooling.conformance import Conformance
from tooling.secret_scan import scan_object

MODEL = {"name": "qwen", "source": "hf://Qwen/Qwen2.5-0.5B-Instruct", "gpus": 0}
TENANTS = [
    {
        "name": "team-a",
        "models": ["qwen"],
        "monthlyBudget": 50,
        "tpm": 20000,
        "rpm": 60,
        "rateLimit": {"requests": 5, "perSeconds": 1},
        "quota": {"requests": 10000, "periodSeconds": 86400},
    },
    {"name": "team-b", "models": ["qwen"], "monthlyBudget": 10},
]


def config(**overrides: Any):
    return parse_stack_config(KIND_GATEWAY_STACK | {"models": [MODEL], "tenants": TENANTS} | overrides)


def apps(cfg=None, facts=None) -> dict[str, dict[str, Any]]:
    children = tyk.children(cfg or config(), facts or operator_facts())
    return {app["metadata"]["name"]: app for app in children}


def objects(app: dict[str, Any]) -> list[dict[str, Any]]:
    return app["spec"]["source"]["helm"]["valuesObject"]["resources"]


def by_kind(app: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects(app) if o["kind"] == kind}


def test_children_in_wave_order_config_store_gateway_tenants():
    children = tyk.children(config(), operator_facts())
    waves = [
        (a["metadata"]["name"], int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])) for a in children
    ]
    assert [n for n, _ in waves] == ["tyk-config", "tyk-redis", "tyk", "tyk-pump", "tyk-tenants"]
    assert [w for _, w in waves] == sorted(w for _, w in waves) and len({w for _, w in waves}) == 5
    assert all(a["spec"]["destination"]["namespace"] == names.NAMESPACE for a in children)


def test_tyk_off_renders_nothing_and_litellm_off_renders_no_tenant_job():
    assert tyk.children(config(components={"tyk": {"enabled": False}}, tenants=[]), operator_facts()) == []
    no_litellm = config(components={"litellm": {"enabled": False}}, tenants=[]) if "litellm" in load_catalog() else None
    if no_litellm is not None:
        assert "tyk-tenants" not in apps(no_litellm)


def test_pinned_charts_open_source_gateway_and_valkey():
    charts = {n: (a["spec"]["source"]["chart"], a["spec"]["source"]["targetRevision"]) for n, a in apps().items()}
    assert charts["tyk"] == ("tyk-gateway", "5.3.0")
    assert charts["tyk-redis"] == ("valkey", "0.11.0")


@pytest.mark.parametrize("facts", [operator_facts(), gke_facts()], ids=["operator", "gke"])
def test_chart_values_keys_exist_in_the_pinned_charts(facts):
    for name in ("tyk", "tyk-redis", "tyk-pump"):
        source = apps(facts=facts)[name]["spec"]["source"]
        carried = cv.load_chart_values(source["chart"], source["targetRevision"])
        values = source["helm"]["valuesObject"]
        assert cv.unknown_keys(values, carried) == [], name
        assert cv.schema_errors(values, carried) == [], name


def test_gateway_reads_generated_secrets_and_file_configs():
    values = apps()["tyk"]["spec"]["source"]["helm"]["valuesObject"]
    # Both names set: templates/secrets.yaml renders no Secret (no CHANGEME API secret, no password).
    assert values["global"]["secrets"]["useSecretName"] == shared.GATEWAY_SECRET
    assert values["global"]["redis"]["passSecret"] == {"name": shared.STORE_SECRET, "keyName": "password"}
    assert "APISecret" not in values["global"]["secrets"] and "pass" not in values["global"]["redis"]
    mounts = {m["name"]: m["mountPath"] for m in values["gateway"]["extraVolumeMounts"]}
    # The chart's TYK_GW_APPPATH and TYK_GW_POLICIES_POLICYPATH (policy source "file").
    assert mounts == {
        "tyk-apps": "/mnt/tyk-gateway/apps",
        "tyk-policies": "/mnt/tyk-gateway/policies",
        # TLS on (the default): the layer's CA, which Tyk verifies LiteLLM against.
        "llm-gateway-ca": "/etc/inference-platform/ca",
    }
    assert values["gateway"]["podLabels"]["app.kubernetes.io/name"] == "tyk-gateway"
    assert values["gateway"]["accessLogs"]["enabled"] is True
    assert "api_key" in values["gateway"]["accessLogs"]["template"].split(",")


def test_store_password_comes_from_the_generated_secret():
    values = apps()["tyk-redis"]["spec"]["source"]["helm"]["valuesObject"]
    assert values["auth"]["enabled"] is True
    assert values["auth"]["usersExistingSecret"] == shared.STORE_SECRET
    assert values["auth"]["aclUsers"]["default"] == {"permissions": "~* &* +@all", "passwordKey": "password"}
    assert values["dataStorage"]["className"] == operator_facts()["storageClass"]


def test_api_definition_proxies_to_litellm_and_injects_the_tenant_key():
    (data,) = by_kind(apps()["tyk-config"], "ConfigMap")["tyk-apps"]["data"].values()
    api = json.loads(data)
    assert api["proxy"]["target_url"] == names.litellm_url(tls=True)
    assert api["use_keyless"] is False and api["strip_auth_data"] is True
    headers = api["version_data"]["versions"]["Default"]["global_headers"]
    assert headers == {"Authorization": "Bearer $tyk_meta.litellm_key"}


def test_one_policy_per_tenant_with_its_rate_limit_and_quota():
    data = by_kind(apps()["tyk-config"], "ConfigMap")["tyk-policies"]["data"]
    assert set(data) == {"tenant-team-a.json", "tenant-team-b.json"}
    a, b = json.loads(data["tenant-team-a.json"]), json.loads(data["tenant-team-b.json"])
    assert (a["rate"], a["per"], a["quota_max"], a["quota_renewal_rate"]) == (5, 1, 10000, 86400)
    # No limits configured: Tyk's "none" (rate 0 skips the limiter, quota -1 is unlimited).
    assert (b["rate"], b["per"], b["quota_max"]) == (0, 0, -1)
    assert list(a["access_rights"]) == [shared.API_ID]


def test_a_config_change_rolls_the_gateway():
    before = apps()["tyk"]["spec"]["source"]["helm"]["valuesObject"]["gateway"]["podAnnotations"]
    changed = config(tenants=[TENANTS[0] | {"rateLimit": {"requests": 9}}])
    after = apps(changed)["tyk"]["spec"]["source"]["helm"]["valuesObject"]["gateway"]["podAnnotations"]
    assert before != after


def test_tenant_spec_carries_limits_and_no_key():
    cm = by_kind(apps()["tyk-tenants"], "ConfigMap")["tenant-reconciler"]
    spec = json.loads(cm["data"]["tenants.json"])
    team = spec["tenants"][0]["team"]
    assert team == {
        "team_id": "team-a",
        "team_alias": "team-a",
        "max_budget": 50.0,
        "budget_duration": "1mo",
        "tpm_limit": 20000,
        "rpm_limit": 60,
        "models": ["qwen"],
        "metadata": {"managed-by": "inference-platform", "tenant": "team-a"},
    }
    assert cm["data"]["tenant_reconciler.py"] == tenants.RECONCILER.read_text()


def test_jobs_are_retried_sync_hooks():
    hooks = {
        "tyk-secrets": (apps()["tyk-config"], "Sync"),
        "tenant-reconciler": (apps()["tyk-tenants"], "PostSync"),
    }
    for name, (app, hook) in hooks.items():
        job = by_kind(app, "Job")[name]
        notes = job["metadata"]["annotations"]
        assert notes["argocd.argoproj.io/hook"] == hook
        assert "BeforeHookCreation" in notes["argocd.argoproj.io/hook-delete-policy"]
        assert job["spec"]["backoffLimit"] >= 1
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["image"] == tenants.JOB_IMAGE and ":" in container["image"].rsplit("/", 1)[1]
        ctx = container["securityContext"]
        assert ctx["readOnlyRootFilesystem"] and ctx["runAsNonRoot"] and ctx["capabilities"] == {"drop": ["ALL"]}
        assert not ctx["allowPrivilegeEscalation"]


def test_tenant_job_reads_credentials_from_secret_files_only():
    job = by_kind(apps()["tyk-tenants"], "Job")["tenant-reconciler"]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert all("value" in e for e in env.values()), "credentials travel as files, not variables"
    assert env["TYK_URL"]["value"].endswith(f"{names.TYK_SERVICE}.{names.NAMESPACE}.svc.cluster.local:8080")
    secrets = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
    assert secrets["litellm-master-key"]["secretName"] == "litellm-master-key"
    assert secrets["litellm-master-key"]["items"] == [{"key": "master-key", "path": "master-key"}]
    assert secrets["tyk-secret"]["secretName"] == shared.GATEWAY_SECRET
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {f"{tenants.CREDENTIALS_DIR}/litellm-master-key", f"{tenants.CREDENTIALS_DIR}/tyk-secret"} <= mounts
    # No automounted token: a projected, expiring one where clients look for it.
    assert pod["automountServiceAccountToken"] is False
    assert "/var/run/secrets/kubernetes.io/serviceaccount" in mounts


def test_rbac_gets_only_the_tenant_secrets_it_owns():
    role = by_kind(apps()["tyk-tenants"], "Role")["tenant-reconciler"]
    get, create = role["rules"]
    assert get["verbs"] == ["get"]
    assert get["resourceNames"] == [
        "tenant-team-a-litellm-key",
        "tenant-team-a-key",
        "tenant-team-b-litellm-key",
        "tenant-team-b-key",
    ]
    assert create == {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}
    assert all(r["resources"] == ["secrets"] and "list" not in r["verbs"] for r in role["rules"])


def test_no_tenants_means_no_get_rule_at_all():
    # An empty resourceNames would grant get on every Secret in the namespace.
    role = by_kind(apps(config(tenants=[]))["tyk-tenants"], "Role")["tenant-reconciler"]
    assert [r["verbs"] for r in role["rules"]] == [["create"]]


def test_network_policies_allow_only_the_previous_hop():
    policies = by_kind(apps()["tyk-config"], "NetworkPolicy") | by_kind(apps()["tyk-tenants"], "NetworkPolicy")
    gateway = policies["tyk-gateway"]["spec"]
    assert gateway["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]
    targets = [(e["to"][0].get("podSelector", {}).get("matchLabels"), e["ports"][0]["port"]) for e in gateway["egress"]]
    assert targets == [(shared.LITELLM_POD, 4443), (shared.STORE_POD, 6379), (None, 53)]
    store = policies["tyk-redis"]["spec"]
    # Tyk, and Tyk Pump, which drains the analytics records (components/gateway/tyk_pump.py).
    assert store["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": shared.TYK_POD}},
        {"podSelector": {"matchLabels": tyk_pump.PUMP_POD}},
    ]
    job = policies["tenant-reconciler"]["spec"]
    assert job["ingress"] == [] and job["podSelector"]["matchLabels"] == shared.RECONCILER_POD
    ports = sorted(p["port"] for e in job["egress"] for p in e["ports"])
    assert ports == [53, 53, 443, 4443, 6443, 8080]


def test_service_has_the_contract_name_and_selects_tyk_pods():
    svc = by_kind(apps()["tyk-config"], "Service")[names.TYK_SERVICE]
    assert svc["spec"]["selector"] == shared.TYK_POD
    assert svc["spec"]["ports"][0]["port"] == names.TYK_PORT


def test_every_rendered_object_validates_strictly_and_holds_no_secret():
    checker = Conformance()
    manifests = [a for a in apps().values() if a["spec"]["source"]["chart"] == manifests_chart().name]
    assert [a["metadata"]["name"] for a in manifests] == ["tyk-config", "tyk-tenants"]
    rendered = [*apps().values(), *(o for app in manifests for o in objects(app))]
    errors = {o["metadata"]["name"] + "/" + o["kind"]: checker.validate(o) for o in rendered}
    assert {k: v for k, v in errors.items() if v} == {}
    assert [f for o in rendered for f in scan_object(o)] == []


OIDC = {"oidc": {"jwksUri": "https://idp.example.com/.well-known/jwks.json"}}


def oidc_config():
    return config(tenants=[TENANTS[0] | {"oidcGroup": "ml-team-a"}, TENANTS[1]], gateway=OIDC)


def test_a_tenant_with_an_oidc_group_gets_a_jwt_entrance_for_members_only():
    data = by_kind(apps(oidc_config())["tyk-config"], "ConfigMap")["tyk-apps"]["data"]
    assert set(data) == {"llm.json", "tenant-team-a-oidc.json"}
    api = json.loads(data["tenant-team-a-oidc.json"])
    assert api["enable_jwt"] is True and api["use_keyless"] is False
    assert base64.b64decode(api["jwt_source"]).decode() == OIDC["oidc"]["jwksUri"]
    assert api["jwt_scope_claim_name"] == "groups"
    assert api["jwt_scope_to_policy_mapping"] == {"ml-team-a": "tenant-team-a"}
    # No default policy: a valid JWT without the group gets no policy, hence 403.
    assert api["jwt_default_policies"] == []
    assert api["proxy"] == {
        "listen_path": "/oidc/team-a/",
        "target_url": names.litellm_url(tls=True),
        "strip_listen_path": True,
    }
    headers = api["version_data"]["versions"]["Default"]["global_headers"]
    assert headers == {"Authorization": "Bearer $secret_env.litellm_key_team_a"}
    policies = by_kind(apps(oidc_config())["tyk-config"], "ConfigMap")["tyk-policies"]["data"]
    assert set(json.loads(policies["tenant-team-a.json"])["access_rights"]) == {"llm", "tenant-team-a-oidc"}


def test_the_gateway_reads_jwt_tenants_keys_from_their_secrets():
    values = apps(oidc_config())["tyk"]["spec"]["source"]["helm"]["valuesObject"]
    env = {e["name"]: e for e in values["gateway"]["extraEnvs"]}
    # $secret_env.litellm_key_team_a reads TYK_SECRET_LITELLM_KEY_TEAM_A (mw_url_rewrite.go replaceVariables).
    ref = env["TYK_SECRET_LITELLM_KEY_TEAM_A"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "tenant-team-a-litellm-key", "key": "key", "optional": True}
    assert not any(name.startswith("TYK_SECRET_LITELLM_KEY_TEAM_B") for name in env)
    assert env["TYK_GW_ENABLEHASHEDKEYSLISTING"]["value"] == "true"


def test_tenant_litellm_keys_exist_before_the_gateway_starts():
    hook = by_kind(apps()["tyk-config"], "Job")["tyk-secrets"]
    env = {e["name"]: e.get("value") for e in hook["spec"]["template"]["spec"]["containers"][0]["env"]}
    wanted = env["ENSURE_SECRETS"].split(",")
    assert "tenant-team-a-litellm-key/key:litellm" in wanted and "tenant-team-b-litellm-key/key:litellm" in wanted
    role = by_kind(apps()["tyk-config"], "Role")["tyk-secrets"]
    assert role["rules"][0]["resourceNames"] == [w.split("/")[0] for w in wanted]
    assert int(apps()["tyk-config"]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) < int(
        apps()["tyk"]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
    )


def test_oidc_lets_the_gateway_reach_the_provider_over_https_only():
    plain = by_kind(apps()["tyk-config"], "NetworkPolicy")["tyk-gateway"]["spec"]["egress"]
    oidc = by_kind(apps(oidc_config())["tyk-config"], "NetworkPolicy")["tyk-gateway"]["spec"]["egress"]
    assert oidc == [*plain, {"ports": [{"port": 443, "protocol": "TCP"}]}]


def test_oidc_objects_validate_and_hold_no_secret():
    checker = Conformance()
    rendered = [
        o
        for a in apps(oidc_config()).values()
        if a["spec"]["source"]["chart"] == manifests_chart().name
        for o in objects(a)
    ]
    assert [e for o in rendered for e in checker.validate(o)] == []
    assert [f for a in apps(oidc_config()).values() for f in scan_object(a)] == []
    for name in ("tyk", "tyk-redis"):
        source = apps(oidc_config())[name]["spec"]["source"]
        carried = cv.load_chart_values(source["chart"], source["targetRevision"])
        assert cv.unknown_keys(source["helm"]["valuesObject"], carried) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"tenants": [TENANTS[1] | {"oidcGroup": "g"}]},
            "inference-platform:tenants[0].oidcGroup: an OIDC group needs the provider whose JWTs Tyk verifies: "
            "set gateway.oidc.jwksUri",
        ),
        (
            {"gateway": {"oidc": {"jwksUri": "http://idp.example.com/jwks"}}},
            "inference-platform:gateway.oidc.jwksUri: jwksUri must be an https:// URL: "
            "Tyk trusts whatever keys it serves",
        ),
        (
            {"gateway": {"oidc": {"jwksUri": "https://idp.example.com/jwks", "groupsClaim": "a b"}}},
            "inference-platform:gateway.oidc.groupsClaim: 'a b' is not a claim name "
            "(letters, digits, '_', '-', '.' between names)",
        ),
        (
            {"tenants": [TENANTS[1] | {"oidcGroup": "g"}], "gateway": OIDC, "components": {"tyk": {"enabled": False}}},
            "inference-platform:tenants[0].oidcGroup: JWTs are verified by Tyk, which is turned off; "
            "enable tyk or remove it",
        ),
    ],
)
def test_bad_oidc_input_is_refused_with_the_key_path(overrides, message):
    with pytest.raises(ConfigError) as err:
        config(**overrides)
    (line,) = str(err.value).splitlines()[1:]
    assert line.strip() == message
