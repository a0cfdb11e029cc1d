"""TLS on the Gateway -> model-server hop: what vLLM (and llm-d's routing sidecar) serves, what
the Gateway, the EPP, Prometheus and the kubelet verify it with, and which CA signs it; checked
on the objects the local stack and an llm-d stack on Istio render, against the pinned vLLM's
flags and Istio's naming of a pool's Service."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import yaml

from components.config import ConfigError, parse_stack_config
from components.config.modelspec import pinned_vllm_version
from components.gateway import pki, routing
from components.serving import engine_flags, llmd, serving_tls, vllm
from components.serving.vllm import render_vllm
from tests.conftest import rendered
from tests.plain_facts import KIND_GATEWAY_STACK, kind_facts
from tests.unit.test_gateway_routing import AGE, istio_facts, managed_facts
from tooling.conformance import Conformance
from tooling.program import run_program
from tooling.render import expand, pulumi_objects

MODEL = {"name": "qwen", "source": "hf://Qwen/Qwen2.5-0.5B-Instruct", "gpus": 0}
EMBED = {"name": "emb", "source": "hf://BAAI/bge-small-en-v1.5", "gpus": 0, "task": "embedding", "weightsSize": "1Gi"}


def config(gateway: dict[str, Any] | None = None, profile: str = "llm-gateway", models=(MODEL,)):
    return parse_stack_config(
        KIND_GATEWAY_STACK | {"profile": profile, "models": list(models), "gateway": gateway or {}}
    )


def facts() -> dict[str, Any]:
    return kind_facts()


def find(objects, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    (found,) = [
        o
        for o in objects
        if o["kind"] == kind and o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace
    ]
    return found


@pytest.fixture(scope="module")
def local() -> tuple[dict, ...]:
    return rendered("local")


def container(objects, model: str) -> dict[str, Any]:
    (c,) = find(objects, "Deployment", model, "inference")["spec"]["template"]["spec"]["containers"]
    return c


# --- when it applies


def test_on_by_default_with_the_gateway_layer_and_its_tls_on_istio():
    assert serving_tls.settings(config(), facts()) is not None


@pytest.mark.parametrize(
    ("gateway", "profile"),
    [
        ({"tls": {"modelServers": False}}, "llm-gateway"),
        ({"tls": {"enabled": False}}, "llm-gateway"),
        ({}, "serving"),
    ],
)
def test_off_without_the_layer_its_tls_or_the_key(gateway, profile):
    cfg = config(gateway, profile)
    assert serving_tls.settings(cfg, facts()) is None
    objects = render_vllm(cfg.models[0], facts(), "inference", serving_tls.for_model(cfg, facts(), cfg.models[0]))
    assert "Certificate" not in {o["kind"] for o in objects}
    (c,) = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"]
    assert not [a for a in c["args"] if a.startswith("--ssl") or a == "--enable-ssl-refresh"]
    assert [p["name"] for p in c["ports"]] == ["http"] and "scheme" not in c["readinessProbe"]["httpGet"]


def test_only_pooled_text_models_of_raw_vllm_serve_tls():
    cfg = config(models=(MODEL, EMBED))
    text, embedding = cfg.models
    assert serving_tls.for_model(cfg, facts(), text) is not None
    # The Gateway pools text models only; an embedding model keeps its plain in-cluster clients.
    assert serving_tls.for_model(cfg, facts(), embedding) is None


def test_a_managed_gateway_gets_no_model_server_tls_it_cannot_originate():
    assert serving_tls.settings(config(), managed_facts()) is None


# --- vLLM serves it


def test_vllm_serves_https_from_the_mounted_certificate_with_flags_the_pinned_vllm_has(local):
    c = container(local, "qwen25-05b")
    args = c["args"]
    key, cert = args[args.index("--ssl-keyfile") + 1], args[args.index("--ssl-certfile") + 1]
    assert "--enable-ssl-refresh" in args
    flags = engine_flags.load_flags(pinned_vllm_version())
    assert flags.by_spelling["--ssl-keyfile"]["value"] == flags.by_spelling["--ssl-certfile"]["value"] == "one"
    assert flags.by_spelling["--enable-ssl-refresh"]["value"] == "none"
    (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == serving_tls.TLS_DIR]
    assert mount["readOnly"] and {key, cert} == {f"{serving_tls.TLS_DIR}/tls.key", f"{serving_tls.TLS_DIR}/tls.crt"}
    pod = find(local, "Deployment", "qwen25-05b", "inference")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    certificate = find(local, "Certificate", "qwen25-05b-tls", "inference")
    assert volume["secret"]["secretName"] == certificate["spec"]["secretName"]
    assert sorted(i["path"] for i in volume["secret"]["items"]) == ["tls.crt", "tls.key"]
    # Group-readable: vLLM runs as the pod's fsGroup, which owns the projected files.
    assert (
        volume["secret"]["defaultMode"] == 0o440
        and pod["securityContext"]["fsGroup"] == c["securityContext"]["runAsUser"]
    )


def test_renewals_are_seen_by_polling_not_by_a_one_shot_inotify_watch(local):
    env = {e["name"]: e.get("value") for e in container(local, "qwen25-05b")["env"]}
    assert env["WATCHFILES_FORCE_POLLING"] == "true" and int(env["WATCHFILES_POLL_DELAY_MS"]) >= 1000


def test_probes_service_policy_and_monitor_all_use_the_https_port(local):
    c = container(local, "qwen25-05b")
    (port,) = c["ports"]
    assert port["name"] == "https"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["scheme"] == "HTTPS" and c[probe]["httpGet"]["port"] == "https"
    service = find(local, "Service", "qwen25-05b", "inference")
    assert service["spec"]["ports"][0]["targetPort"] == "https"
    policy = find(local, "NetworkPolicy", "qwen25-05b", "inference")
    assert [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]] == ["https"]
    (endpoint,) = find(local, "PodMonitor", "qwen25-05b", "inference")["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "https" and endpoint["scheme"] == "https"
    certificate = find(local, "Certificate", "qwen25-05b-tls", "inference")["spec"]
    assert endpoint["tlsConfig"]["ca"]["secret"] == {"name": certificate["secretName"], "key": "ca.crt"}
    assert endpoint["tlsConfig"]["serverName"] in certificate["dnsNames"]
    assert "insecureSkipVerify" not in endpoint["tlsConfig"]


# --- the CA


def test_the_models_ca_is_a_cluster_issuer_whose_secret_is_in_cert_managers_namespace(local):
    selfsigned = find(local, "ClusterIssuer", serving_tls.SELF_SIGNED)
    assert selfsigned["spec"] == {"selfSigned": {}}
    ca = find(local, "Certificate", serving_tls.CA, "cert-manager")["spec"]
    assert ca["isCA"] and ca["issuerRef"]["name"] == serving_tls.SELF_SIGNED
    assert ca["privateKey"]["rotationPolicy"] == "Never"
    issuer = find(local, "ClusterIssuer", serving_tls.CA)
    # A ClusterIssuer reads its CA Secret from cert-manager's cluster resource namespace, by
    # default the namespace cert-manager runs in (chart v1.21.1, templates/deployment.yaml).
    assert issuer["spec"] == {"ca": {"secretName": ca["secretName"]}}
    for name, namespace in (("qwen25-05b-tls", "inference"), (serving_tls.TRUST, "llm-gateway")):
        spec = find(local, "Certificate", name, namespace)["spec"]
        assert spec["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": serving_tls.CA}
        assert spec["privateKey"]["rotationPolicy"] == "Always"


def test_the_ca_exists_before_the_serving_layer_and_only_the_platform_project_may_create_it(local):
    app = find(local, "Application", "model-serving-pki", "argocd")
    assert app["spec"]["project"] == "platform" and app["spec"]["destination"]["namespace"] == "cert-manager"
    cert_manager = find(local, "Application", "cert-manager", "argocd")
    wave = int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
    assert wave > int(cert_manager["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
    kinds = {
        p["metadata"]["name"]: {k["kind"] for k in p["spec"]["clusterResourceWhitelist"]}
        for p in local
        if p["kind"] == "AppProject"
    }
    assert "ClusterIssuer" in kinds["platform"]
    assert "ClusterIssuer" not in kinds["serving"] and "ClusterIssuer" not in kinds["llm-gateway"]


def test_no_pod_mounts_the_model_serving_cas_key(local):
    for obj in local:
        if obj["kind"] not in ("Deployment", "Job", "CronJob", "StatefulSet"):
            continue
        spec = obj["spec"]
        if obj["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        spec = spec["template"]["spec"]
        for volume in spec.get("volumes", []):
            assert volume.get("secret", {}).get("secretName") != serving_tls.CA


# --- the Gateway verifies it


def test_pool_service_name_follows_istios_rule():
    digest = hashlib.sha256(b"qwen25-05b").hexdigest()[:8]
    assert routing.pool_service_name("qwen25-05b") == f"qwen25-05b-ip-{digest}"
    long = "m" * 60
    name = routing.pool_service_name(long)
    assert len(name) == 63 and name == "m" * 51 + "-ip-" + hashlib.sha256(long.encode()).hexdigest()[:8]


def test_the_gateway_originates_tls_to_the_pool_and_checks_the_certificates_name(local):
    rule = find(local, "DestinationRule", "qwen25-05b-model-server-tls", "inference")["spec"]
    assert rule["host"] == f"{routing.pool_service_name('qwen25-05b')}.inference.svc.cluster.local"
    tls = rule["trafficPolicy"]["tls"]
    certificate = find(local, "Certificate", "qwen25-05b-tls", "inference")["spec"]
    assert tls["mode"] == "SIMPLE" and "insecureSkipVerify" not in tls
    assert tls["subjectAltNames"] == [tls["sni"]] and tls["sni"] in certificate["dnsNames"]
    # istiod resolves credentialName in the Gateway's own namespace; only its ca.crt is read in
    # SIMPLE mode (pilot/pkg/security/model/authentication.go, `<name>-cacert`).
    trust = find(local, "Certificate", tls["credentialName"], "llm-gateway")
    assert trust["spec"]["secretName"] == tls["credentialName"] == serving_tls.TRUST
    gateway = find(local, "Gateway", "inference-gateway", "llm-gateway")
    assert gateway["metadata"]["namespace"] == trust["metadata"]["namespace"] == pki.names.NAMESPACE


def test_the_epp_scrapes_the_pods_over_https(local):
    app = find(local, "Application", "pool-qwen25-05b", "argocd")
    config = yaml.safe_load(
        app["spec"]["source"]["helm"]["valuesObject"]["inferenceExtension"]["pluginsCustomConfig"]["scorers.yaml"]
    )
    (source,) = [p for p in config["plugins"] if p["type"] == "metrics-data-source"]
    # The v1.5.0 EPP has no CA option: encrypted, not authenticated (docs/gateway.md).
    assert source["parameters"] == {"scheme": "https", "path": "/metrics", "insecureSkipVerify": True}


def test_without_model_server_tls_the_epp_scrapes_plain_http():
    cfg = config({"tls": {"modelServers": False}})
    values = routing.pool_values(cfg.models[0], facts(), serving_tls.for_model(cfg, facts(), cfg.models[0]) is not None)
    source = yaml.safe_load(values["inferenceExtension"]["pluginsCustomConfig"]["scorers.yaml"])["plugins"][-2]
    assert source == {"type": "metrics-data-source", "parameters": {"scheme": "http", "path": "/metrics"}}


@pytest.mark.parametrize(
    ("flag", "hint"),
    [
        ("--ssl-certfile=/x", "use `gateway.tls.modelServers`"),
        ("--ssl-keyfile=/x", "use `gateway.tls.modelServers`"),
        ("--no-enable-ssl-refresh", "use `gateway.tls.modelServers`"),
        ("--ssl-cert-reqs=2", "present no client certificate"),
    ],
)
def test_a_models_own_tls_flags_are_refused_naming_the_key(flag, hint):
    with pytest.raises(ConfigError) as error:
        config(models=({**MODEL, "engineArgs": [flag]},))
    message = str(error.value)
    assert "models[0].engineArgs" in message and flag.split("=")[0] in message and hint in message


# --- who may connect


def test_a_pooled_model_admits_the_gateway_its_epp_and_prometheus_only(local):
    policy = find(local, "NetworkPolicy", "qwen25-05b", "inference")
    (rule,) = policy["spec"]["ingress"]
    epp = find(local, "NetworkPolicy", "qwen25-05b-epp", "inference")
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "llm-gateway"}},
            "podSelector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "inference-gateway"}},
        },
        # The EPP's pods, as the EPP's own policy selects them (the chart's `inferencepool` label).
        {"podSelector": epp["spec"]["podSelector"]},
    ]


def test_without_the_layer_the_namespace_and_model_clients_keep_their_access():
    cfg = config(profile="serving")
    objects = render_vllm(cfg.models[0], facts(), "inference", None, serving_tls.behind_pool(cfg, cfg.models[0]))
    (policy,) = [o for o in objects if o["kind"] == "NetworkPolicy"]
    sources = policy["spec"]["ingress"][0]["from"]
    assert {"podSelector": {}} in sources
    assert {"namespaceSelector": {"matchLabels": {"inference-platform/model-client": "true"}}} in sources


# --- llm-d: the same hop, in each layout llmd.py renders

LLMD = {"source": "hf://Qwen/Qwen3-8B", "engine": "llm-d", "gpus": 1, "gpuType": "nvidia-l40s"}
LLMD_MODELS = (
    LLMD | {"name": "one"},
    LLMD | {"name": "pd", "disaggregation": {"prefill": 1, "decode": 1}},
    # Nodes of two GPUs: a group of two pods, the leader serving the API.
    LLMD | {"name": "group", "gpus": 4},
)
GPU_POOL = {
    "name": "l40s",
    "accelerator": "nvidia-l40s",
    "count": 2,
    "labels": {"node.kubernetes.io/instance-type": "g6e.12xlarge"},
    "taints": True,
}


def llmd_stack(directory, gateway: dict[str, Any] | None = None) -> dict[str, Any]:
    """An existing cluster with GPUs, whose llm-gateway layer runs its own Istio."""
    substrate = {"kind": "existing", "clusterName": "llmd-istio", "gpuStack": "operator", "storageClass": "gp3"}
    config = {
        "inference-platform:substrate": substrate | {"gpuPools": [GPU_POOL]},
        "inference-platform:profile": "llm-gateway",
        "inference-platform:secrets": {"backend": "sops"},
        "inference-platform:sopsAgeKey": {"secure": "AAABAC"},
        "inference-platform:models": list(LLMD_MODELS),
        "inference-platform:gateway": gateway or {},
    }
    path = directory / "Pulumi.llmd-istio.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return tuple(expand(pulumi_objects(run_program(path))))


@pytest.fixture(scope="module")
def llmd_istio(tmp_path_factory) -> tuple[dict, ...]:
    return llmd_stack(tmp_path_factory.mktemp("llmd"))


@pytest.fixture(scope="module")
def llmd_plain(tmp_path_factory) -> tuple[dict, ...]:
    return llmd_stack(tmp_path_factory.mktemp("llmd-plain"), {"tls": {"modelServers": False}})


def pod_spec(objects, kind: str, name: str, template: str = "template") -> dict[str, Any]:
    spec = find(objects, kind, name, "inference")["spec"]
    if kind == "LeaderWorkerSet":
        return spec["leaderWorkerTemplate"][template]["spec"]
    return spec[template]["spec"]


def vllm_container(spec: dict[str, Any]) -> dict[str, Any]:
    (c,) = [c for c in spec["containers"] if c["name"] == "vllm"]
    return c


def serves_tls(model: str, spec: dict[str, Any], port: int) -> None:
    """vLLM serves HTTPS on `port` from the model's Secret, renewed by polling, probed over HTTPS."""
    c = vllm_container(spec)
    args = c["args"]
    assert args[args.index("--port") + 1] == str(port)
    tls_mount = vllm.tls_mount()
    assert tls_mount in c["volumeMounts"]
    assert args[args.index("--ssl-keyfile") + 1] == f"{tls_mount['mountPath']}/tls.key"
    assert args[args.index("--ssl-certfile") + 1] == f"{tls_mount['mountPath']}/tls.crt"
    assert "--enable-ssl-refresh" in args
    (volume,) = [v for v in spec["volumes"] if v["name"] == tls_mount["name"]]
    assert volume["secret"]["secretName"] == serving_tls.secret_name(model)
    assert sorted(i["path"] for i in volume["secret"]["items"]) == ["tls.crt", "tls.key"]
    assert {"name": "WATCHFILES_FORCE_POLLING", "value": "true"} in c["env"]
    (named,) = [p for p in c["ports"] if p["name"] == c["readinessProbe"]["httpGet"]["port"]]
    assert named["containerPort"] == port
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["scheme"] == "HTTPS"


def test_llm_d_models_get_tls_on_istio_and_a_certificate_each():
    cfg = parse_stack_config(
        {
            "substrate": {"kind": "existing", "gpuPools": [GPU_POOL]},
            "secrets": {"backend": "sops"},
            "profile": "llm-gateway",
            "models": list(LLMD_MODELS),
            "kubeconfig": "placeholder",
            "sopsAgeKey": AGE,
        },
        {"kubeconfig", "sopsAgeKey"},
    )
    for model in cfg.models:
        # The config refuses llm-d without the layer and its pools, so it is always pooled.
        assert serving_tls.behind_pool(cfg, model)
        assert serving_tls.for_model(cfg, istio_facts("existing"), model) is not None
        assert serving_tls.for_model(cfg, managed_facts(), model) is None


def test_llm_d_tls_flags_are_in_the_pinned_vllm_flag_table(llmd_istio):
    flags = engine_flags.load_flags(pinned_vllm_version())
    for flag in vllm.tls_flags():
        if flag.startswith("--"):
            assert flag in flags.by_spelling
    for spec in (pod_spec(llmd_istio, "Deployment", "one-decode"), pod_spec(llmd_istio, "Deployment", "pd-prefill")):
        c = vllm_container(spec)
        assert [a for a in c["args"] if a.startswith("--ssl") or a == "--enable-ssl-refresh"] == [
            a for a in vllm.tls_flags() if a.startswith("--")
        ]


def test_a_single_node_llm_d_model_serves_tls_like_raw_vllm(llmd_istio):
    serves_tls("one", pod_spec(llmd_istio, "Deployment", "one-decode"), llmd.settings()["port"])
    find(llmd_istio, "Certificate", "one-tls", "inference")


def test_a_groups_leader_serves_tls_and_its_headless_workers_are_unchanged(llmd_istio, llmd_plain):
    port = llmd.settings()["port"]
    serves_tls("group", pod_spec(llmd_istio, "LeaderWorkerSet", "group-decode", "leaderTemplate"), port)
    worker = pod_spec(llmd_istio, "LeaderWorkerSet", "group-decode", "workerTemplate")
    assert "--headless" in vllm_container(worker)["args"]
    assert worker == pod_spec(llmd_plain, "LeaderWorkerSet", "group-decode", "workerTemplate")


def test_disaggregated_prefill_and_decode_vllm_serve_tls(llmd_istio):
    cfg = llmd.settings()
    serves_tls("pd", pod_spec(llmd_istio, "Deployment", "pd-prefill"), cfg["port"])
    # Behind the sidecar too: the scheduler and Prometheus reach it with the scheme of the rest.
    serves_tls("pd", pod_spec(llmd_istio, "Deployment", "pd-decode"), cfg["vllmBehindSidecarPort"])


def test_the_routing_sidecar_serves_the_gateway_from_the_models_certificate(llmd_istio):
    spec = pod_spec(llmd_istio, "Deployment", "pd-decode")
    (sidecar,) = spec["initContainers"]
    args = sidecar["args"]
    (port,) = sidecar["ports"]
    # The pool's target port is the sidecar's, named for its scheme.
    assert port == {"name": "https", "containerPort": llmd.settings()["port"], "protocol": "TCP"}
    assert "--secure-proxy=true" in args and "--secure-proxy=false" not in args
    (cert_path,) = [a.split("=", 1)[1] for a in args if a.startswith("--cert-path=")]
    # v0.8.0 reads <cert-path>/tls.crt and <cert-path>/tls.key and watches the directory.
    (mount,) = sidecar["volumeMounts"]
    assert mount == vllm.tls_mount() and mount["mountPath"] == cert_path
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert {i["path"] for i in volume["secret"]["items"]} == {"tls.crt", "tls.key"}
    # Its calls are TLS as well: prefill pods by IP and its own vLLM on localhost, names the
    # certificate does not carry, and the sidecar has no CA option.
    assert "--enable-tls=prefiller,decoder" in args
    assert "--tls-insecure-skip-verify=prefiller,decoder" in args


def test_the_gateway_verifies_every_llm_d_pool_and_the_scheduler_scrapes_https(llmd_istio):
    for model in ("one", "pd", "group"):
        rule = find(llmd_istio, "DestinationRule", f"{model}-model-server-tls", "inference")["spec"]
        assert rule["host"] == f"{routing.pool_service_name(model)}.inference.svc.cluster.local"
        certificate = find(llmd_istio, "Certificate", f"{model}-tls", "inference")["spec"]
        assert rule["trafficPolicy"]["tls"]["sni"] in certificate["dnsNames"]
        values = find(llmd_istio, "Application", f"pool-{model}", "argocd")["spec"]["source"]["helm"]["valuesObject"]
        assert values["inferenceExtension"]["image"]["repository"] == llmd.settings()["scheduler"]["repository"]
        doc = yaml.safe_load(values["inferenceExtension"]["pluginsCustomConfig"][routing.SCORERS_FILE])
        (source,) = [p for p in doc["plugins"] if p["type"] == "metrics-data-source"]
        assert source["parameters"] == {"scheme": "https", "path": "/metrics", "insecureSkipVerify": True}
        (endpoint,) = find(llmd_istio, "PodMonitor", model, "inference")["spec"]["podMetricsEndpoints"]
        assert endpoint["scheme"] == "https" and endpoint["tlsConfig"]["serverName"] in certificate["dnsNames"]
        assert endpoint["tlsConfig"]["ca"]["secret"] == {"name": certificate["secretName"], "key": "ca.crt"}


def test_the_llm_d_stack_on_istio_validates_strictly(llmd_istio):
    checker = Conformance()
    for obj in llmd_istio:
        assert checker.validate(obj) == [], f"{obj['kind']}/{obj['metadata']['name']}"


def test_an_llm_d_model_admits_the_gateway_its_scheduler_prometheus_and_its_own_pods(llmd_istio):
    policy = find(llmd_istio, "NetworkPolicy", "pd", "inference")
    serving, internal = policy["spec"]["ingress"]
    assert serving["ports"] == [{"port": llmd.settings()["port"], "protocol": "TCP"}]
    assert {"podSelector": {}} not in serving["from"]
    epp = find(llmd_istio, "NetworkPolicy", "pd-epp", "inference")
    assert {"podSelector": epp["spec"]["podSelector"]} in serving["from"]
    # The prefill hop, NIXL and UCX: any port, between the model's own pods only.
    assert internal == {"from": [{"podSelector": {"matchLabels": policy["spec"]["podSelector"]["matchLabels"]}}]}


def test_without_model_server_tls_llm_d_pods_stay_plain(llmd_plain):
    objects = llmd_plain
    assert not [o for o in objects if o["kind"] == "DestinationRule" and o["metadata"]["name"].endswith("-server-tls")]
    assert not [o for o in objects if o["kind"] == "Certificate" and o["metadata"].get("namespace") == "inference"]
    (sidecar,) = pod_spec(objects, "Deployment", "pd-decode")["initContainers"]
    assert "--secure-proxy=false" in sidecar["args"] and sidecar["ports"][0]["name"] == "http"
    assert not [a for a in sidecar["args"] if a.startswith(("--enable-tls", "--cert-path"))]
    for spec in (pod_spec(objects, "Deployment", "pd-prefill"), pod_spec(objects, "Deployment", "one-decode")):
        c = vllm_container(spec)
        assert "--ssl-certfile" not in c["args"] and "scheme" not in c["readinessProbe"]["httpGet"]
    doc = yaml.safe_load(
        find(objects, "Application", "pool-pd", "argocd")["spec"]["source"]["helm"]["valuesObject"][
            "inferenceExtension"
        ]["pluginsCustomConfig"][routing.SCORERS_FILE]
    )
    (source,) = [p for p in doc["plugins"] if p["type"] == "metrics-data-source"]
    assert source["parameters"] == {"scheme": "http", "path": "/metrics"}


def test_the_llmd_gke_stack_keeps_plain_http_to_its_llm_d_pods():
    objects = rendered("llmd-gke")
    assert not [o for o in objects if o["kind"] == "DestinationRule"]
    assert not [o for o in objects if o["kind"] == "Certificate" and o["metadata"].get("namespace") == "inference"]
    (sidecar,) = pod_spec(objects, "Deployment", "qwen3-8b-pd-decode")["initContainers"]
    assert "--secure-proxy=false" in sidecar["args"]
    for kind, name in (("Deployment", "qwen3-8b-pd-prefill"), ("LeaderWorkerSet", "qwen25-72b-awq-decode")):
        template = "leaderTemplate" if kind == "LeaderWorkerSet" else "template"
        assert "--ssl-certfile" not in vllm_container(pod_spec(objects, kind, name, template))["args"]
