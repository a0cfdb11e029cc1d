"""LiteLLM and its CloudNativePG database: rendered as plain data, checked without Pulumi.

names.model_url is the routing renderer's; these tests stand a fixed URL in for it, so they
check LiteLLM's use of it, not the routing.
"""

from __future__ import annotations

import pytest
import yaml

from components.catalog import load_catalog
from components.computed_values import FAIL_CLOSED
from components.config import ConfigError, parse_stack_config
from components.config.plaintext import plain_secrets
from components.gateway import litellm, names
from tests.plain_facts import KIND_GATEWAY_STACK, gke_facts, kind_facts
from tooling import chart_values as cv

AGE = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
MODEL = {
    "name": "qwen",
    "source": "hf://Qwen/Qwen2.5-0.5B-Instruct",
    "gpus": 0,
    "adapters": [{"name": "sql", "source": "hf://org/sql-lora"}],
}
EMBED = {
    "name": "bge",
    "source": "hf://BAAI/bge-small-en-v1.5",
    "gpus": 0,
    "task": "embedding",
    "weightsSize": "1Gi",
    "resources": {"memory": "4Gi"},
}
BACKUP = {"destinationPath": "s3://ledger-backups/litellm", "credentialsSecret": "litellm-backup-s3"}


@pytest.fixture(autouse=True)
def gateway_url(monkeypatch):
    def url(model, facts, tls=False):
        scheme, port = ("https", 443) if tls else ("http", 80)
        return f"{scheme}://{names.GATEWAY}.{names.NAMESPACE}.svc:{port}/{model}/v1"

    monkeypatch.setattr(names, "model_url", url)


def stack(**overrides) -> dict:
    return KIND_GATEWAY_STACK | {"models": [MODEL, EMBED]} | overrides


def children(cfg=None, facts=None) -> dict[str, dict]:
    cfg = cfg or parse_stack_config(stack())
    return {c["metadata"]["name"]: c for c in litellm.children(cfg, facts or kind_facts())}


def objects(child: dict) -> list[dict]:
    return child["spec"]["source"]["helm"]["valuesObject"]["resources"]


def kinds(child: dict) -> dict[str, dict]:
    return {o["kind"]: o for o in objects(child)}


def named(child: dict, kind: str, name: str) -> dict:
    (found,) = [o for o in objects(child) if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def chart(cfg=None, facts=None) -> dict:
    return children(cfg, facts)["litellm"]["spec"]["source"]["helm"]["valuesObject"]


def proxy_config(cfg=None, facts=None) -> dict:
    return chart(cfg, facts)["gateway"]["config"]["proxy_config"]


def test_children_and_waves_put_the_database_before_litellm():
    apps = children()
    waves = {name: int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for name, app in apps.items()}
    assert waves["litellm-database"] < waves["litellm"] == waves["litellm-policies"]
    assert {app["spec"]["destination"]["namespace"] for app in apps.values()} == {names.NAMESPACE}


def test_turned_off_litellm_renders_nothing():
    cfg = parse_stack_config(stack(components={"litellm": {"enabled": False}}))
    assert litellm.children(cfg, kind_facts()) == []


def test_model_list_points_every_text_and_embedding_model_and_adapter_at_the_gateway():
    entries = {e["model_name"]: e for e in proxy_config()["model_list"]}
    assert set(entries) == {"qwen", "sql", "bge"}
    assert entries["qwen"]["litellm_params"] == {
        "model": "hosted_vllm/qwen",
        "api_base": "https://inference-gateway.llm-gateway.svc:443/qwen/v1",
    }
    # The adapter is served by name through its base model's route.
    assert entries["sql"]["litellm_params"] == {
        "model": "hosted_vllm/sql",
        "api_base": "https://inference-gateway.llm-gateway.svc:443/qwen/v1",
    }
    assert entries["bge"]["model_info"] == {"mode": "embedding"}


def test_speech_models_are_not_listed():
    speech = {
        "name": "whisper",
        "source": "hf://Systran/faster-whisper-small",
        "task": "speech",
        "gpus": 0,
        "weightsSize": "1Gi",
        "resources": {"memory": "4Gi"},
    }
    cfg = parse_stack_config(stack(models=[MODEL, speech]))
    assert "whisper" not in {e["model_name"] for e in proxy_config(cfg)["model_list"]}


def test_aliases_and_fallbacks_become_router_settings():
    cfg = parse_stack_config(stack(litellm={"aliases": {"default": "qwen"}, "fallbacks": {"sql": ["qwen"]}}))
    router = proxy_config(cfg)["router_settings"]
    assert router == {"model_group_alias": {"default": "qwen"}, "fallbacks": [{"sql": ["qwen"]}]}
    assert "router_settings" not in proxy_config()


@pytest.mark.parametrize(
    ("litellm_cfg", "message"),
    [
        ({"aliases": {"default": "llama"}}, "inference-platform:litellm.aliases.default: 'llama' is no model"),
        ({"aliases": {"qwen": "sql"}}, "inference-platform:litellm.aliases.qwen: 'qwen' is already a model"),
        ({"fallbacks": {"qwen": ["gpt"]}}, "inference-platform:litellm.fallbacks.qwen: 'gpt' is no model"),
        ({"fallbacks": {"qwen": ["qwen"]}}, "inference-platform:litellm.fallbacks.qwen: 'qwen' cannot fall back"),
        (
            {"database": {"backup": BACKUP | {"destinationPath": "ftp://x"}}},
            "inference-platform:litellm.database.backup.destinationPath: destinationPath 'ftp://x'",
        ),
        (
            {"database": {"backup": BACKUP | {"retention": "30 days"}}},
            "inference-platform:litellm.database.backup.retention: retention '30 days'",
        ),
        ({"database": {"instances": 0}}, "inference-platform:litellm.database.instances: Input should be greater"),
    ],
    ids=[
        "unknown alias target",
        "alias hides a model",
        "unknown fallback",
        "self fallback",
        "bad destination",
        "bad retention",
        "no instances",
    ],
)
def test_bad_litellm_config_is_refused_with_the_key_path(litellm_cfg, message):
    with pytest.raises(ConfigError) as err:
        parse_stack_config(stack(litellm=litellm_cfg))
    (line,) = str(err.value).splitlines()[1:]
    assert line.strip().startswith(message)


def test_budgets_fail_closed_explicitly():
    settings = proxy_config()["general_settings"]
    assert settings["allow_requests_on_db_unavailable"] is False
    assert settings["fail_closed_budget_enforcement"] is True
    assert settings["disable_budget_reservation"] is False
    assert settings["disable_spend_logs"] is False
    assert settings["disable_spend_updates"] is False
    assert {k: settings[k] for k in FAIL_CLOSED} == FAIL_CLOSED
    # A stack cannot open the gate by override without it showing in the values.
    opened = parse_stack_config(
        stack(
            components={
                "litellm": {
                    "values": {
                        "gateway": {
                            "config": {"proxy_config": {"general_settings": {"allow_requests_on_db_unavailable": True}}}
                        }
                    }
                }
            }
        )
    )
    assert proxy_config(opened)["general_settings"]["allow_requests_on_db_unavailable"] is True


def test_master_key_and_database_come_by_secret_reference_only():
    values = chart()
    # helm/litellm's keys: masterKey.* and database.writer.* (litellm-helm's masterkeySecretName
    # and db.* would be ignored by this chart, and the keys test below refuses them).
    assert values["masterKey"] == {"secretName": "litellm-master-key", "secretKey": "master-key", "generate": False}
    # The CloudNativePG owner's Secret, by the keys CloudNativePG writes; the read-write Service.
    assert values["database"] == {
        "writer": {
            "host": "litellm-db-rw",
            "port": 5432,
            "dbname": "litellm",
            "passwordSecret": {"name": "litellm-db-app", "usernameKey": "username", "passwordKey": "password"},
        }
    }
    assert values["database"]["writer"]["host"] == f"{litellm.CLUSTER}-rw"
    assert values["database"]["writer"]["passwordSecret"]["name"] == f"{litellm.CLUSTER}-app"
    assert values["gateway"]["config"]["proxy_config"]["general_settings"]["master_key"] == (
        "os.environ/PROXY_MASTER_KEY"
    )
    for child in children().values():
        assert list(plain_secrets(child)) == [], child["metadata"]["name"]


def test_prometheus_metrics_and_service_monitor():
    assert proxy_config()["litellm_settings"]["callbacks"] == ["prometheus"]
    monitor = kinds(children()["litellm-policies"])["ServiceMonitor"]
    # TLS on (the default): the TLS Service, scraped over https and verified against the layer's CA.
    assert monitor["spec"]["selector"]["matchLabels"] == litellm.TLS_SERVICE_LABELS
    endpoint = monitor["spec"]["endpoints"][0]
    assert (endpoint["path"], endpoint["port"], endpoint["scheme"]) == ("/metrics/", "https", "https")
    assert endpoint["tlsConfig"] == {
        "ca": {"secret": {"name": "llm-gateway-ca", "key": "ca.crt"}},
        "serverName": "litellm-tls.llm-gateway.svc",
    }
    plain = kinds(children(parse_stack_config(stack(gateway={"tls": {"enabled": False}})))["litellm-policies"])
    assert plain["ServiceMonitor"]["spec"]["selector"]["matchLabels"] == litellm.LITELLM_POD
    assert plain["ServiceMonitor"]["spec"]["endpoints"][0]["port"] == "http"
    assert "Service" not in plain


def test_local_stack_generates_the_master_key_in_cluster_with_least_rbac():
    database = kinds(children()["litellm-database"])
    assert "ExternalSecret" not in database
    role = database["Role"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}]
    job = database["Job"]
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "Sync"
    pod = job["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    # Reached by nothing; reaches the API server only.
    job_policy = named(children()["litellm-database"], "NetworkPolicy", "litellm-master-key")["spec"]
    assert job_policy["ingress"] == []
    assert job_policy["podSelector"]["matchLabels"].items() <= job["spec"]["template"]["metadata"]["labels"].items()
    assert [p["port"] for p in job_policy["egress"][0]["ports"]] == [443, 6443]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert (env["SECRET_NAME"], env["DATA_KEY"]) == ("litellm-master-key", "master-key")
    # The script's only output names the Secret; it never prints the key.
    assert "print(" in litellm.MASTER_KEY_SCRIPT and "print(body" not in litellm.MASTER_KEY_SCRIPT
    compile(litellm.MASTER_KEY_SCRIPT, "master-key", "exec")


def test_external_secrets_stack_reads_the_master_key_from_the_cloud_store():
    cfg = parse_stack_config(
        stack(
            substrate={"kind": "gke", "clusterName": "c", "project": "p-123456", "region": "europe-west4"},
            secrets={"backend": "external-secrets"},
        )
    )
    database = kinds(children(cfg, gke_facts())["litellm-database"])
    assert "Job" not in database
    secret = database["ExternalSecret"]
    assert secret["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "cloud-secrets"}
    assert secret["spec"]["target"]["name"] == "litellm-master-key"
    assert secret["spec"]["data"] == [{"secretKey": "master-key", "remoteRef": {"key": "litellm-master-key"}}]


def test_litellm_replicas_and_disruption_budget_per_substrate():
    local = chart()["gateway"]
    # The chart renders replicaCount only with its HPA off.
    assert local["hpa"]["enabled"] is False
    assert local["replicaCount"] == 1 and "pdb" not in local
    gke = chart(facts=gke_facts())["gateway"]
    assert gke["replicaCount"] == 2 and gke["pdb"] == {"enabled": True, "minAvailable": 1}


def test_database_instances_and_storage_per_substrate():
    assert kinds(children()["litellm-database"])["Cluster"]["spec"]["instances"] == 1
    cluster = litellm.database_cluster(parse_stack_config(stack()), gke_facts())
    assert cluster["spec"]["instances"] == 2
    assert cluster["spec"]["storage"]["storageClass"] == "standard-rwo"
    assert cluster["spec"]["bootstrap"] == {"initdb": {"database": "litellm", "owner": "litellm"}}
    # Postgres is pinned: an operator bump does not move the ledger to a new major version.
    assert cluster["spec"]["imageName"] == "ghcr.io/cloudnative-pg/postgresql:18.4-system-trixie"


def test_backups_are_off_by_default_and_configurable():
    database = kinds(children()["litellm-database"])
    assert "backup" not in database["Cluster"]["spec"] and "ScheduledBackup" not in database
    cfg = parse_stack_config(stack(litellm={"database": {"backup": BACKUP | {"endpointUrl": "https://s3.example"}}}))
    database = kinds(children(cfg)["litellm-database"])
    store = database["Cluster"]["spec"]["backup"]["barmanObjectStore"]
    assert store["destinationPath"] == "s3://ledger-backups/litellm"
    assert store["endpointURL"] == "https://s3.example"
    assert store["s3Credentials"]["accessKeyId"] == {"name": "litellm-backup-s3", "key": "ACCESS_KEY_ID"}
    assert database["Cluster"]["spec"]["backup"]["retentionPolicy"] == "30d"
    scheduled = database["ScheduledBackup"]["spec"]
    assert scheduled["cluster"] == {"name": "litellm-db"} and scheduled["method"] == "barmanObjectStore"
    gcs = parse_stack_config(
        stack(litellm={"database": {"backup": BACKUP | {"destinationPath": "gs://ledger-backups/p"}}})
    )
    store = kinds(children(gcs)["litellm-database"])["Cluster"]["spec"]["backup"]["barmanObjectStore"]
    assert store["googleCredentials"] == {
        "applicationCredentials": {"name": "litellm-backup-s3", "key": "APPLICATION_CREDENTIALS"}
    }


def test_network_policy_admits_only_tyk_the_reconciler_and_prometheus():
    policy = kinds(children()["litellm-policies"])["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"] == litellm.LITELLM_POD
    (rule,) = policy["ingress"]
    selectors = [peer.get("podSelector", {}).get("matchLabels") for peer in rule["from"]]
    assert selectors == [
        {"app.kubernetes.io/name": "tyk-gateway"},
        {"app.kubernetes.io/name": "tenant-reconciler"},
        {"app.kubernetes.io/name": "prometheus"},
    ]
    assert rule["from"][2]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    # TLS on: only the TLS port; LiteLLM's own port answers the sidecar (loopback) and probes.
    assert rule["ports"] == [{"protocol": "TCP", "port": 4443}]
    egress_ports = [[p["port"] for p in r["ports"]] for r in policy["egress"]]
    assert egress_ports == [[53, 53], [5432], [443]]
    plain = litellm.litellm_policy(parse_stack_config(stack(gateway={"tls": {"enabled": False}})), kind_facts())
    assert plain["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 4000}]
    assert [[p["port"] for p in r["ports"]] for r in plain["spec"]["egress"]][-1] == [80]


def test_without_tyk_clients_reach_litellm_directly():
    from components.config.stack import ComponentOverride

    cfg = parse_stack_config(stack())
    no_tyk = cfg.model_copy(update={"components": {"tyk": ComponentOverride(enabled=False)}})
    (rule,) = litellm.litellm_policy(no_tyk, kind_facts())["spec"]["ingress"]
    assert rule == {"ports": [{"protocol": "TCP", "port": 4443}]}
    assert "from" in litellm.litellm_policy(cfg, kind_facts())["spec"]["ingress"][0]


def test_database_admits_only_litellm_the_operator_and_its_replicas():
    policy = named(children()["litellm-database"], "NetworkPolicy", "litellm-db-ingress")["spec"]
    assert policy["podSelector"]["matchLabels"] == {"cnpg.io/cluster": "litellm-db"}
    peers = [peer for rule in policy["ingress"] for peer in rule["from"]]
    assert [p["podSelector"]["matchLabels"] for p in peers] == [
        litellm.LITELLM_POD,
        {"cnpg.io/cluster": "litellm-db"},
        {"app.kubernetes.io/name": "cloudnative-pg"},
        {"app.kubernetes.io/name": "prometheus"},
    ]
    assert peers[2]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "cnpg-system"}
    ports = [[p["port"] for p in rule["ports"]] for rule in policy["ingress"]]
    # Postgres to LiteLLM and replicas; status and Postgres to the operator; the exporter to Prometheus.
    assert ports == [[5432], [8000, 5432], [9187]]
    monitor = kinds(children()["litellm-database"])["PodMonitor"]["spec"]
    assert monitor["selector"]["matchLabels"] == {"cnpg.io/cluster": "litellm-db"}


@pytest.mark.parametrize("facts", [kind_facts(), gke_facts()], ids=["kind", "gke"])
def test_litellm_values_keys_exist_in_the_pinned_chart(facts):
    entry = load_catalog()["litellm"]
    carried = cv.load_chart_values(entry.chart.name, entry.chart.version)
    values = children(facts=facts)["litellm"]["spec"]["source"]["helm"]["valuesObject"]
    assert cv.unknown_keys(values, carried) == []
    assert cv.unknown_keys(values | {"masterkeySecretName": "x"}, carried) == ["masterkeySecretName"]
    assert cv.schema_errors(values, carried) == []


def test_the_old_charts_keys_are_refused_by_the_pinned_chart():
    """litellm-helm's keys, which helm/litellm 1.0.0 would silently ignore."""
    entry = load_catalog()["litellm"]
    carried = cv.load_chart_values(entry.chart.name, entry.chart.version)
    old = {
        "masterkeySecretName": "litellm-master-key",
        "masterkeySecretKey": "master-key",
        "db": {"useExisting": True, "endpoint": "litellm-db-rw"},
        "envVars": {"LITELLM_OFFLINE_MODE": "true"},
        "proxy_config": {},
        "replicaCount": 2,
        "extraContainers": [],
    }
    assert cv.unknown_keys(old, carried) == sorted(old)
    # The chart's values schema refuses the removed per-component image and its bundled Postgres.
    assert cv.schema_errors({"gateway": {"image": {"tag": "x"}}}, carried)
    assert cv.schema_errors({"postgresql": {"enabled": True}}, carried)


def test_chart_pin_is_the_litellm_chart_in_monolith_mode_on_the_dispatching_image():
    entry = load_catalog()["litellm"]
    assert (entry.chart.repo_url, entry.chart.name, entry.chart.version) == (
        "oci://ghcr.io/berriai/litellm/chart",
        "litellm",
        "1.0.0",
    )
    values = chart()
    # One Deployment and Service named litellm (Tyk's and the reconciler's target).
    assert values["fullnameOverride"] == names.LITELLM_SERVICE == "litellm"
    assert values["monolith"] == {"enabled": True}
    # The chart passes `proxy`/`migrations` as args to the image's entrypoint; the LiteLLM
    # release is pinned by tag, not the chart's appVersion.
    assert values["image"] == {"repository": "ghcr.io/berriai/litellm", "tag": "v1.109.1", "pullPolicy": "IfNotPresent"}
    # The migration Job is an Argo CD PreSync hook, not a Helm hook.
    assert values["migrationJob"]["hooks"] == {"argocd": {"enabled": True}, "helm": {"enabled": False}}
    # Egress is closed but to the Gateway and the database: LiteLLM must not fetch on its own.
    assert {"name": "LITELLM_OFFLINE_MODE", "value": "true"} in values["gateway"]["extraEnv"]
    # The chart's own ServiceMonitor needs its metrics sidecar; one is rendered beside it instead.
    assert values["gateway"]["serviceMonitor"]["enabled"] is False
    operator = load_catalog()["cloudnative-pg"]
    assert (operator.layer, operator.namespace) == ("platform", "cnpg-system")


def test_the_charts_pod_labels_are_what_the_policies_and_monitors_select():
    """helm/litellm labels the monolith's pods app.kubernetes.io/name: <chart name> (no
    nameOverride) and app.kubernetes.io/instance: <release> (+ component: proxy, and the
    migration Job's pods component: migrations); the NetworkPolicies, the TLS Service and the
    ServiceMonitor select on name and instance only."""
    entry = load_catalog()["litellm"]
    app = children()["litellm"]
    values = app["spec"]["source"]["helm"]["valuesObject"]
    assert "nameOverride" not in values
    assert {
        "app.kubernetes.io/name": entry.chart.name,
        "app.kubernetes.io/instance": app["spec"]["source"]["helm"]["releaseName"],
    } == litellm.LITELLM_POD
    for tls in (True, False):
        cfg = parse_stack_config(stack(gateway={"tls": {"enabled": tls}}))
        policies = kinds(children(cfg)["litellm-policies"])
        assert policies["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"] == litellm.LITELLM_POD
        if tls:
            assert policies["Service"]["spec"]["selector"] == litellm.LITELLM_POD
        else:
            # The chart's Service carries the same labels as its pods.
            assert policies["ServiceMonitor"]["spec"]["selector"]["matchLabels"] == litellm.LITELLM_POD
    database = named(children()["litellm-database"], "NetworkPolicy", "litellm-db-ingress")["spec"]
    assert database["ingress"][0]["from"][0]["podSelector"]["matchLabels"] == litellm.LITELLM_POD


def test_proxy_and_migration_job_run_as_the_images_user_without_a_token():
    values = chart()
    for pod, container in (
        (values["gateway"]["podSecurityContext"], values["gateway"]["securityContext"]),
        (values["migrationJob"]["podSecurityContext"], values["migrationJob"]["securityContext"]),
    ):
        assert (pod["runAsUser"], pod["runAsGroup"], pod["fsGroup"]) == (65532, 65532, 65532)
        assert pod["runAsNonRoot"] is True and pod["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["allowPrivilegeEscalation"] is False
        assert container["capabilities"] == {"drop": ["ALL"]}
        assert container["runAsUser"] == litellm.LITELLM_USER
    assert values["serviceAccounts"] == {"gateway": {"automount": False}}
    # What Helm renders after merging the chart's defaults: no key is left to a default or a null.
    assert values["gateway"]["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    # The master key Job (the same image, its own command) runs as the same user.
    job = kinds(children()["litellm-database"])["Job"]["spec"]["template"]["spec"]
    assert job["securityContext"]["runAsUser"] == litellm.LITELLM_USER
    assert job["containers"][0]["image"] == "ghcr.io/berriai/litellm:v1.109.1"


def test_the_tls_sidecar_is_a_container_of_the_proxys_pod_and_survives_the_charts_tpl():
    """The monolith's Deployment appends gateway.extraContainers to its containers through
    `tpl`, beside its own `proxy` container (and `metrics`/`collector`, off here)."""
    values = chart()
    gateway = values["gateway"]
    (sidecar,) = gateway["extraContainers"]
    assert sidecar["name"] not in {"proxy", "metrics", "collector"}
    assert gateway.get("metricsServer", {}).get("enabled") is not True
    assert gateway.get("collector", {}).get("enabled") is not True
    # The chart's container port is 4000; the sidecar listens beside it and targets it.
    assert [p["containerPort"] for p in sidecar["ports"]] == [names.LITELLM_TLS_PORT] != [names.LITELLM_PORT]
    assert f"--target=127.0.0.1:{names.LITELLM_PORT}" in sidecar["args"]
    # Every volume a container mounts is in the pod's volumes.
    volumes = {v["name"] for v in gateway["volumes"]}
    assert {m["name"] for m in [*sidecar["volumeMounts"], *gateway["volumeMounts"]]} <= volumes
    # `tpl` would evaluate template delimiters inside the sidecar.
    assert "{{" not in yaml.safe_dump(gateway["extraContainers"])


def test_rendered_objects_are_plain_yaml():
    for child in children().values():
        yaml.safe_dump(child)


def _all_variants() -> list[tuple[str, list[dict]]]:
    backup = parse_stack_config(stack(litellm={"database": {"backup": BACKUP | {"endpointUrl": "https://s3.example"}}}))
    gcs = parse_stack_config(stack(litellm={"database": {"backup": BACKUP | {"destinationPath": "gs://ledger-b"}}}))
    eso = parse_stack_config(
        stack(
            substrate={"kind": "gke", "clusterName": "c", "project": "p-123456", "region": "europe-west4"},
            secrets={"backend": "external-secrets"},
        )
    )
    sops = parse_stack_config(stack(secrets={"backend": "sops"}, sopsAgeKey=AGE), secret_keys=["sopsAgeKey"])
    variants = [
        ("kind", None, None),
        ("s3 backup", backup, None),
        ("gcs backup", gcs, None),
        ("external-secrets", eso, gke_facts()),
        ("sops", sops, None),
    ]
    found = []
    for label, cfg, facts in variants:
        apps = list(children(cfg, facts).values())
        found.append((label, apps + [o for a in apps if a["spec"]["source"].get("chart") == "raw" for o in objects(a)]))
    return found


def test_every_object_validates_strictly():
    from tooling.conformance import Conformance

    checker = Conformance(k8s_version="1.33.0")
    kinds_seen = set()
    for label, found in _all_variants():
        for obj in found:
            kinds_seen.add(obj["kind"])
            assert checker.validate(obj) == [], f"{label}: {obj['kind']}/{obj['metadata']['name']}"
    assert {
        "Cluster",
        "ScheduledBackup",
        "ExternalSecret",
        "Job",
        "NetworkPolicy",
        "ServiceMonitor",
        "PodMonitor",
    } <= kinds_seen


def test_secret_reference_keys_are_not_mistaken_for_secrets_but_literals_are():
    assert list(plain_secrets({"masterKey": {"secretName": "s", "secretKey": "master-key"}})) == []
    assert list(plain_secrets({"masterKey": {"secretKey": "sk-1234"}})) == ["masterKey.secretKey"]
    assert list(plain_secrets({"masterkeySecretName": "s", "masterkeySecretKey": "master-key"})) == []
    assert list(plain_secrets({"masterkeySecretKey": "sk-1234"})) == ["masterkeySecretKey"]
    assert list(plain_secrets({"proxy_config": {"general_settings": {"master_key": "os.environ/X"}}})) == []


def test_layers_carry_the_operator_in_platform_and_litellm_in_the_gateway_project():
    from components.layers import build_layers

    layers = {layer.name: layer for layer in build_layers(parse_stack_config(stack()), kind_facts(), {"argocd"})}
    platform = {c["metadata"]["name"]: c for c in layers["platform"].children}
    assert platform["cloudnative-pg"]["spec"]["destination"]["namespace"] == "cnpg-system"
    project = layers["llm-gateway"].project["spec"]
    assert "oci://ghcr.io/berriai/litellm/chart/litellm" in project["sourceRepos"]
    assert {"server": "https://kubernetes.default.svc", "namespace": "llm-gateway"} in project["destinations"]
    gateway = {c["metadata"]["name"] for c in layers["llm-gateway"].children}
    assert {"litellm-database", "litellm", "litellm-policies"} <= gateway
