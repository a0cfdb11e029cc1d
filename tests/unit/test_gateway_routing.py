"""Routing: Gateway, InferencePool + endpoint picker per text model, HTTPRoutes, priorities."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from components.catalog import load_catalog
from components.config import ConfigError, parse_stack_config
from components.config.existing import ExistingSubstrate
from components.gateway import routing
from components.gateway.names import model_url
from components.serving.vllm import labels as vllm_labels
from components.serving.vllm import network_policy, render_vllm
from components.serving.vllm import settings as vllm_settings
from substrate.gke.values import gateway_address
from tests.plain_facts import KIND_GATEWAY_STACK, gke_facts, kind_facts, operator_facts
from tooling import chart_values as cv
from tooling.conformance import Conformance

AGE = "AGE-SECRET-KEY-1TEST"
TEXT = {"name": "qwen", "source": "hf://Qwen/Qwen2.5-0.5B-Instruct", "gpus": 0, "priority": 5,
        "adapters": [{"name": "sql", "source": "hf://org/sql-lora"}]}
EMBED = {"name": "embed", "source": "hf://BAAI/bge-small-en-v1.5", "gpus": 0, "task": "embedding",
         "weightsSize": "1Gi"}
PROXY_ONLY = "10.11.0.0/23"


def istio_facts(substrate: str = "hetzner") -> dict:
    return operator_facts() | {"substrate": substrate, "gatewayClass": "istio"}


def managed_facts() -> dict:
    return gke_facts() | {
        "gatewayClass": "gke-l7-rilb",
        "gatewayAddress": gateway_address("10.10.0.0/20"),
        "gatewayAddressName": "inference-gw-inference-gateway",
        "gatewaySourceRanges": [PROXY_ONLY],
    }


def config(models=(TEXT, EMBED), **extra):
    return parse_stack_config(KIND_GATEWAY_STACK | {"models": list(models)} | extra)


def by_name(children):
    return {c["metadata"]["name"]: c for c in children}


def resources(child):
    return child["spec"]["source"]["helm"]["valuesObject"]["resources"]


def wave(child):
    return int(child["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])


def test_istio_substrates_get_crds_istio_gateway_pool_and_route_in_wave_order():
    apps = by_name(routing.children(config(), istio_facts()))
    assert list(apps) == [
        "gateway-api-crds", "istio-base", "istiod", "inference-extension-crds",
        "inference-gateway", "pool-qwen", "route-qwen", "route-embed",
    ]
    order = ["gateway-api-crds", "istiod", "inference-gateway", "pool-qwen", "route-qwen"]
    waves = [wave(apps[n]) for n in order]
    assert waves == sorted(waves) and len(set(waves)) == len(waves)
    assert wave(apps["inference-extension-crds"]) < wave(apps["istiod"])
    assert "ServerSideApply=true" in apps["inference-extension-crds"]["spec"]["syncPolicy"]["syncOptions"]
    # Pool and route live with the model servers; the serving layer owns that namespace.
    for name in ("pool-qwen", "route-qwen"):
        assert apps[name]["spec"]["destination"]["namespace"] == vllm_settings()["namespace"]
        assert "CreateNamespace=true" not in apps[name]["spec"]["syncPolicy"]["syncOptions"]


def test_only_text_models_get_a_pool_and_the_pool_can_be_turned_off():
    names = set(by_name(routing.children(config(), istio_facts())))
    # The embedding model has a route to its Service (LiteLLM calls it through the Gateway), no pool.
    assert {n for n in names if "embed" in n} == {"route-embed"}
    off = config(components={"inferencepool": {"enabled": False}})
    # The pools go; LiteLLM still calls both models at the Gateway, whose routes now end at the
    # models' Services (plain balancing, no endpoint picker).
    apps = by_name(routing.children(off, istio_facts()))
    assert {n for n in apps if n.startswith(("pool-", "route-"))} == {"route-embed", "route-qwen"}
    (route,) = resources(apps["route-qwen"])
    assert route["spec"]["rules"][0]["backendRefs"][0]["kind"] == "Service"


def test_gke_uses_its_managed_class_reserved_address_and_crds():
    facts = managed_facts()
    apps = by_name(routing.children(config(), facts))
    assert not {"gateway-api-crds", "istio-base", "istiod"} & set(apps)
    (gateway,) = resources(apps["inference-gateway"])
    assert gateway["spec"]["gatewayClassName"] == "gke-l7-rilb"
    assert gateway["spec"]["addresses"] == [{"type": "NamedAddress", "value": "inference-gw-inference-gateway"}]
    assert "annotations" not in gateway["metadata"]
    # GKE installs InferencePool's CRD itself; the alpha InferenceObjective is ours to bring.
    crds = {c["spec"]["names"]["kind"] for c in resources(apps["inference-extension-crds"])}
    assert crds == {"InferenceObjective"}
    values = apps["pool-qwen"]["spec"]["source"]["helm"]["valuesObject"]
    assert values["provider"] == {"name": "gke"}
    assert model_url("qwen", facts) == "http://10.10.15.253/qwen/v1"


def test_reserved_gateway_address_is_the_last_one_google_leaves_to_users():
    assert gateway_address("10.10.0.0/20") == "10.10.15.253"
    assert gateway_address("10.0.0.0/24") == "10.0.0.253"


def test_model_url_targets_the_istio_service_and_the_route_prefix():
    facts = istio_facts()
    url = model_url("qwen", facts)
    assert url == "http://inference-gateway-istio.llm-gateway.svc.cluster.local/qwen/v1"
    (route,) = [o for o in routing.route_objects(config().models[0], "inference", facts) if o["kind"] == "HTTPRoute"]
    (rule,) = route["spec"]["rules"]
    prefix = rule["matches"][0]["path"]["value"]
    path = url.split(".local", 1)[1]
    assert path.startswith(prefix + "/")
    rewrite = rule["filters"][0]["urlRewrite"]["path"]
    # What vLLM sees: the OpenAI path without the model prefix.
    assert (rewrite["type"], rewrite["replacePrefixMatch"]) == ("ReplacePrefixMatch", "/")
    assert "/" + path[len(prefix):].lstrip("/") == "/v1"
    assert rule["backendRefs"] == [{"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "qwen"}]
    assert route["spec"]["parentRefs"][0] | {} == {
        "group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "inference-gateway", "namespace": "llm-gateway"
    }


def test_a_foreign_class_needs_its_address():
    facts = operator_facts() | {"substrate": "existing", "gatewayClass": "kgateway"}
    with pytest.raises(ValueError, match=r"substrate\.gatewayAddress"):
        model_url("qwen", facts)
    facts["gatewayAddress"] = "gw.infra.svc.cluster.local:8080"
    assert model_url("qwen", facts) == "http://gw.infra.svc.cluster.local:8080/qwen/v1"
    apps = by_name(routing.children(config(), facts))
    assert "istiod" not in apps
    assert apps["pool-qwen"]["spec"]["source"]["helm"]["valuesObject"]["provider"] == {"name": "none"}


def test_existing_config_refuses_a_foreign_class_without_address():
    with pytest.raises(ValidationError, match="gatewayClass 'kgateway' needs gatewayAddress"):
        ExistingSubstrate.model_validate({"kind": "existing", "gatewayClass": "kgateway"})
    spec = ExistingSubstrate.model_validate({"kind": "existing", "gatewayClass": "kgateway", "gatewayAddress": "gw:80"})
    assert spec.gateway_address == "gw:80"
    assert ExistingSubstrate.model_validate({"kind": "existing"}).gateway_class is None


def test_pool_selects_the_model_pods_on_the_vllm_port_with_the_three_scorers():
    model = config().models[0]
    values = routing.pool_values(model, istio_facts())
    pods = vllm_labels(model)
    selector = values["inferencePool"]["modelServers"]["matchLabels"]
    assert selector.items() <= pods.items()
    assert values["inferencePool"]["targetPorts"] == [{"number": vllm_settings()["port"]}]
    config_file = values["inferenceExtension"]["pluginsCustomConfig"][routing.SCORERS_FILE]
    base = load_catalog()["inferencepool"].values
    assert base["inferenceExtension"]["pluginsConfigFile"] == routing.SCORERS_FILE
    doc = yaml.safe_load(config_file)
    assert doc["kind"] == "EndpointPickerConfig"
    (profile,) = doc["schedulingProfiles"]
    weights = {p["pluginRef"]: p["weight"] for p in profile["plugins"]}
    assert weights == {"queue-scorer": 2, "kv-cache-utilization-scorer": 2, "prefix-cache-scorer": 3,
                       "lora-affinity-scorer": 1}
    declared = {p["type"] for p in doc["plugins"]}
    assert set(weights) <= declared


def test_no_lora_scorer_without_adapters():
    model = config(models=[TEXT | {"adapters": []}]).models[0]
    doc = yaml.safe_load(routing.scorers_config(model))
    assert "lora-affinity-scorer" not in {p["type"] for p in doc["plugins"]}


@pytest.mark.parametrize("facts", [istio_facts(), managed_facts()], ids=["istio", "gke"])
def test_pool_values_exist_in_the_pinned_chart(facts):
    entry = load_catalog()["inferencepool"]
    carried = cv.load_chart_values(entry.chart.name, entry.chart.version)
    values = cv.deep_merge(entry.values, routing.pool_values(config().models[0], facts))
    assert cv.unknown_keys(values, carried) == []


def test_priority_becomes_an_inference_objective_only_when_set():
    facts = istio_facts()
    with_priority, without = config(models=[TEXT, TEXT | {"name": "other", "priority": None}]).models
    objects = routing.route_objects(with_priority, "inference", facts)
    (objective,) = [o for o in objects if o["kind"] == "InferenceObjective"]
    assert objective["spec"] == {"priority": 5, "poolRef": {"group": "inference.networking.k8s.io", "name": "qwen"}}
    assert not [o for o in routing.route_objects(without, "inference", facts) if o["kind"] == "InferenceObjective"]


def test_priority_is_bounded():
    with pytest.raises(ConfigError) as err:
        config(models=[TEXT | {"priority": 5000}])
    assert "models[0].priority" in str(err.value)


def test_https_listener_only_with_a_certificate():
    plain = routing.gateway(istio_facts())
    assert [listener["name"] for listener in plain["spec"]["listeners"]] == ["http"]
    tls = routing.gateway(istio_facts(), tls_secret="inference-gateway-tls")
    # With a certificate, HTTPS only: no clear-text listener to the models is left.
    (https,) = tls["spec"]["listeners"]
    assert (https["protocol"], https["port"]) == ("HTTPS", 443)
    assert https["tls"]["certificateRefs"] == [{"kind": "Secret", "name": "inference-gateway-tls"}]
    assert Conformance().validate(tls) == []


def test_only_the_serving_namespace_attaches_routes():
    listener = routing.gateway(istio_facts())["spec"]["listeners"][0]
    assert listener["allowedRoutes"]["namespaces"]["selector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": vllm_settings()["namespace"]
    }


def test_istio_gateway_is_cluster_internal_admits_litellm_and_is_scraped():
    objects = {o["kind"]: o for o in routing.gateway_objects(istio_facts())}
    assert objects["Gateway"]["metadata"]["annotations"] == {"networking.istio.io/service-type": "ClusterIP"}
    policy = objects["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"] == {"gateway.networking.k8s.io/gateway-name": "inference-gateway"}
    assert policy["ingress"][0]["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "litellm"}}}]
    endpoint = objects["PodMonitor"]["spec"]["podMetricsEndpoints"][0]
    assert (endpoint["targetPort"], endpoint["path"]) == (15020, "/stats/prometheus")


def test_epp_admits_the_gateway_data_plane_and_prometheus():
    model = config().models[0]
    istio = routing.epp_network_policy(model, "inference", istio_facts())["spec"]
    assert istio["podSelector"]["matchLabels"] == {"inferencepool": "qwen-epp"}
    (ext_proc, metrics) = istio["ingress"]
    assert ext_proc["ports"] == [{"port": 9002, "protocol": "TCP"}]
    gateway_pods = {"gateway.networking.k8s.io/gateway-name": "inference-gateway"}
    assert ext_proc["from"][0]["podSelector"]["matchLabels"] == gateway_pods
    assert metrics["ports"] == [{"port": 9090, "protocol": "TCP"}]
    gke = routing.epp_network_policy(model, "inference", managed_facts())["spec"]
    assert {"ipBlock": {"cidr": PROXY_ONLY}} in gke["ingress"][0]["from"]


def test_model_servers_admit_the_gateway():
    model = config().models[0]
    sources = network_policy(model, managed_facts())["spec"]["ingress"][0]["from"]
    assert {"ipBlock": {"cidr": PROXY_ONLY}} in sources
    assert any(
        s.get("podSelector", {}).get("matchLabels") == {"gateway.networking.k8s.io/gateway-name": "inference-gateway"}
        and s["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "llm-gateway"}
        for s in sources
    )
    (rendered,) = [o for o in render_vllm(model, managed_facts(), "inference") if o["kind"] == "NetworkPolicy"]
    assert {"ipBlock": {"cidr": PROXY_ONLY}} in rendered["spec"]["ingress"][0]["from"]


@pytest.mark.parametrize("facts", [istio_facts(), managed_facts()], ids=["istio", "gke"])
def test_every_rendered_object_validates_strictly(facts):
    checker = Conformance()
    objects = [*routing.gateway_objects(facts), *routing.inference_crds(facts)]
    for model in routing.text_models(config()):
        objects += routing.route_objects(model, "inference", facts)
    for child in routing.children(config(), facts):
        objects.append(child)
    problems = {f"{o['kind']}/{o['metadata']['name']}": checker.validate(o) for o in objects}
    assert {k: v for k, v in problems.items() if v} == {}


@pytest.mark.parametrize("pools", [True, False])
def test_every_model_litellm_lists_has_a_route_on_the_gateway(pools):
    """LiteLLM calls each text and embedding model at the Gateway's /<model>/v1: a model without
    an HTTPRoute there would answer 404 to every request LiteLLM passes on."""
    from components.computed_values import litellm_model_list
    from components.gateway import layer

    bge = {"name": "bge", "source": "hf://BAAI/bge-small-en-v1.5", "gpus": 0, "task": "embedding", "weightsSize": "1Gi"}
    cfg = config(models=(TEXT, bge), components={"inferencepool": {"enabled": pools}})
    facts = kind_facts()
    routes = {}
    for child in layer.gateway_children(cfg, facts):
        if child["metadata"]["name"].startswith("route-"):
            for obj in resources(child):
                if obj["kind"] == "HTTPRoute":
                    routes[obj["metadata"]["name"]] = obj
    for entry in litellm_model_list(cfg, facts):
        path = entry["litellm_params"]["api_base"].split("/", 3)[3].removesuffix("/v1")
        prefixes = {m["path"]["value"] for r in routes.values() for rule in r["spec"]["rules"] for m in rule["matches"]}
        assert f"/{path}" in prefixes, f"no route for {entry['model_name']} ({entry['litellm_params']['api_base']})"
    # The embedding model's route ends at the Service raw vLLM renders for it, on its port.
    (backend,) = routes["bge"]["spec"]["rules"][0]["backendRefs"]
    service = next(o for o in render_vllm(cfg.models[1], facts, "inference") if o["kind"] == "Service")
    assert backend == {"group": "", "kind": "Service", "name": "bge", "port": service["spec"]["ports"][0]["port"]}
