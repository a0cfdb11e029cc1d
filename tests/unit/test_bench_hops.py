"""Every hop of the request path as a benchmark target, checked against what the stack itself
renders: the URL each hop's caller uses, the namespace whose Secrets the Job mounts, the CA
item, the tenant key's Secret, and the temporary NetworkPolicy's selectors against the pods
the stack's own policies select. Hops a stack does not deploy are refused with the reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bench import hops
from bench.job import API_KEY_FILE, CA_DIR, render_job, render_objects
from bench.runner import plan, stack_config
from bench.spec import BenchSpec
from tests.conftest import rendered
from tooling.conformance import Conformance
from tooling.program import stack_file

STARTED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CONFORMANCE = Conformance(k8s_version="1.33.0")
GATEWAY_HOPS = ("pool", "litellm", "edge")


def find(objects, kind: str, name: str, namespace: str | None = None) -> dict:
    (found,) = [
        o
        for o in objects
        if o["kind"] == kind and o["metadata"]["name"] == name and namespace in (None, o["metadata"].get("namespace"))
    ]
    return found


def pod(job: dict) -> dict:
    return job["spec"]["template"]["spec"]


def variant(tmp_path: Path, base: str, edit) -> str:
    """A copy of stack `base` with its config edited: the path of the new stack file."""
    raw = yaml.safe_load(stack_file(base).read_text())
    edit(raw["config"])
    path = tmp_path / "Pulumi.variant.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def components_off(*names: str):
    def edit(config: dict) -> None:
        components = config.setdefault("inference-platform:components", {})
        for name in names:
            components[name] = {"enabled": False}
        if "litellm" in names:
            # Tenants' budgets need LiteLLM: the stack refuses them without it.
            config.pop("inference-platform:tenants", None)
        for tenant in config.get("inference-platform:tenants", []):
            tenant.pop("rateLimit", None)  # Tyk's: refused without it

    return edit


def tls_off(config: dict) -> None:
    config["inference-platform:gateway"] = {"tls": {"enabled": False}}


# --- URLs: the address each hop's own caller uses in the rendered stack


def test_pool_targets_the_gateway_url_litellm_calls():
    job = plan("local", None, BenchSpec(hop="pool"), STARTED)
    litellm = find(rendered("local"), "Application", "litellm")
    model_list = litellm["spec"]["source"]["helm"]["valuesObject"]["gateway"]["config"]["proxy_config"]["model_list"]
    (entry,) = [m for m in model_list if m["model_name"] == job.model]
    assert job.target.url == entry["litellm_params"]["api_base"]
    assert job.target.url.startswith("https://") and job.target.url.endswith(f"/{job.model}/v1")


def test_litellm_targets_the_url_tyk_forwards_to_and_the_name_litellm_lists():
    job = plan("local", None, BenchSpec(hop="litellm"), STARTED)
    apps = find(rendered("local"), "ConfigMap", "tyk-apps", "llm-gateway")
    assert job.target.url == json.loads(apps["data"]["llm.json"])["proxy"]["target_url"]
    litellm = find(rendered("local"), "Application", "litellm")
    proxy_config = litellm["spec"]["source"]["helm"]["valuesObject"]["gateway"]["config"]["proxy_config"]
    listed = {m["model_name"] for m in proxy_config["model_list"]}
    assert job.target.model in listed


def test_edge_targets_tyks_service_over_its_listeners_scheme():
    job = plan("local", None, BenchSpec(hop="edge"), STARTED)
    service = find(rendered("local"), "Service", "tyk-gateway", "llm-gateway")
    (port,) = service["spec"]["ports"]
    assert job.target.url == f"https://tyk-gateway.llm-gateway.svc.cluster.local:{port['port']}"
    assert port["name"] == "https"  # Tyk's listener serves TLS (gateway.tls on by default)


def test_gke_pool_targets_the_reserved_gateway_address():
    job = plan("gateway-gke", None, BenchSpec(hop="pool"), STARTED)
    certificate = find(rendered("gateway-gke"), "Certificate", "inference-gateway-tls", "llm-gateway")
    (address,) = certificate["spec"]["ipAddresses"]
    assert job.target.url == f"https://{address}/{job.model}/v1"
    # A managed Gateway is a load balancer, not pods: no policy of the platform stands in the way.
    assert job.admissions == ()
    assert [o["kind"] for o in render_objects(job)] == ["NetworkPolicy", "Job"]


# --- Namespace, CA and key: Secrets the stack creates, mounted in their own namespace


@pytest.mark.parametrize("hop", GATEWAY_HOPS)
def test_gateway_hops_run_beside_their_secrets_and_trust_only_the_ca_item(hop):
    job = render_job(plan("local", None, BenchSpec(hop=hop), STARTED))
    assert job["metadata"]["namespace"] == "llm-gateway"
    ca = find(rendered("local"), "Certificate", "llm-gateway-ca", "llm-gateway")
    volumes = {v["name"]: v for v in pod(job)["volumes"]}
    assert volumes["ca"]["secret"] == {
        "secretName": ca["spec"]["secretName"],
        "items": [{"key": "ca.crt", "path": "ca.crt"}],  # never tls.key
    }
    (container,) = pod(job)["containers"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert mounts["ca"]["readOnly"] and env["BENCH_CA_FILE"] == f"{CA_DIR}/ca.crt"


def test_pods_hop_on_tls_model_servers_calls_the_certificates_name_and_trusts_the_models_ca_item():
    planned = plan("local", None, BenchSpec(hop="pods"), STARTED)
    job = render_job(planned)
    objects = rendered("local")
    certificate = find(objects, "Certificate", f"{planned.model}-tls", "inference")
    url = planned.target.url
    host = url.removeprefix("https://").split(":")[0]
    assert url.startswith("https://") and host in certificate["spec"]["dnsNames"]
    service = find(objects, "Service", planned.model, "inference")
    assert url.endswith(f":{service['spec']['ports'][0]['port']}")
    volumes = {v["name"]: v for v in pod(job)["volumes"]}
    assert volumes["ca"]["secret"] == {
        "secretName": certificate["spec"]["secretName"],
        "items": [{"key": "ca.crt", "path": "ca.crt"}],  # never the pods' tls.key
    }


def test_pods_hop_without_model_server_tls_is_plain_http(tmp_path):
    def edit(config: dict) -> None:
        config.setdefault("inference-platform:gateway", {})["tls"] = {"modelServers": False}

    job = plan(variant(tmp_path, "local", edit), None, BenchSpec(hop="pods"), STARTED)
    assert job.target.url.startswith("http://") and job.ca is None


def test_ca_is_mounted_where_the_layer_mounts_it():
    from components.gateway import pki

    assert CA_DIR == pki.CA_DIR


@pytest.mark.parametrize(("hop", "secret"), [("litellm", "tenant-local-litellm-key"), ("edge", "tenant-local-key")])
def test_tenant_hops_send_the_tenants_key_from_its_secret_by_reference(hop, secret):
    planned = plan("local", None, BenchSpec(hop=hop), STARTED)
    assert planned.tenant == "local"
    job = render_job(planned)
    # The reconciler is the one allowed to read (and so the one that writes) this Secret.
    role = find(rendered("local"), "Role", "tenant-reconciler", "llm-gateway")
    assert any(secret in r.get("resourceNames", []) for r in role["rules"])
    volumes = {v["name"]: v for v in pod(job)["volumes"]}
    assert volumes["api-key"]["secret"]["secretName"] == secret
    assert volumes["api-key"]["secret"]["items"] == [{"key": "key", "path": "api-key"}]
    (container,) = pod(job)["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["BENCH_API_KEY_FILE"]["value"] == API_KEY_FILE
    # The key never appears in the spec: no env value or argument carries it, none is read from the Secret.
    assert all("valueFrom" not in e for e in container["env"])
    assert "--api-key" not in container["args"]
    assert job["metadata"]["annotations"]["inference-platform/tenant"] == "local"


@pytest.mark.parametrize("hop", ["pods", "pool"])
def test_hops_before_the_tenant_edge_send_no_key(hop):
    job = render_job(plan("local", None, BenchSpec(hop=hop), STARTED))
    names = {v["name"] for v in pod(job)["volumes"]}
    assert "api-key" not in names
    # pool trusts the layer's CA, pods the model's (test above).
    assert "ca" in names


def test_tls_off_means_plain_urls_no_ca_and_plain_ports(tmp_path):
    stack = variant(tmp_path, "local", tls_off)
    urls = {h: plan(stack, None, BenchSpec(hop=h), STARTED) for h in GATEWAY_HOPS}
    assert urls["pool"].target.url == "http://inference-gateway-istio.llm-gateway.svc.cluster.local/qwen25-05b/v1"
    assert urls["litellm"].target.url == "http://litellm.llm-gateway.svc.cluster.local:4000"
    assert urls["edge"].target.url == "http://tyk-gateway.llm-gateway.svc.cluster.local:8080"
    assert all(j.ca is None for j in urls.values())
    assert [a.port for a in urls["pool"].admissions] == [80]
    assert [a.port for a in urls["litellm"].admissions] == [4000]


# --- The temporary NetworkPolicy: the pods the stack's own policy protects, the bench pod alone


def _admitted(policy: dict) -> list[int]:
    return [p["port"] for rule in policy["spec"]["ingress"] for p in rule.get("ports", [])]


@pytest.mark.parametrize(("hop", "guard"), [("pool", "inference-gateway"), ("litellm", "litellm")])
def test_temporary_policy_opens_the_hops_pods_to_the_bench_pod_alone(hop, guard):
    *_, extra, job = render_objects(plan("local", None, BenchSpec(hop=hop), STARTED))
    own = find(rendered("local"), "NetworkPolicy", guard, "llm-gateway")
    # The same pods the stack's own policy guards, on the port it admits its caller on.
    assert extra["spec"]["podSelector"] == own["spec"]["podSelector"]
    (rule,) = extra["spec"]["ingress"]
    assert [p["port"] for p in rule["ports"]] == [a for a in _admitted(own) if a in (443, 4443)]
    (peer,) = rule["from"]
    assert set(peer) == {"podSelector"}  # this namespace only, no namespaceSelector, no ipBlock
    assert peer["podSelector"]["matchLabels"].items() <= job["spec"]["template"]["metadata"]["labels"].items()
    assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == job["metadata"]["name"]
    assert extra["metadata"]["namespace"] == job["metadata"]["namespace"] == own["metadata"]["namespace"]
    assert extra["spec"]["policyTypes"] == ["Ingress"]  # additive: restricts nothing's egress


def test_pods_hop_opens_a_pooled_models_pods_to_the_bench_pod_on_their_port():
    *_, extra, job = render_objects(plan("local", None, BenchSpec(hop="pods"), STARTED))
    own = find(rendered("local"), "NetworkPolicy", "qwen25-05b", "inference")
    (sources,) = [rule["from"] for rule in own["spec"]["ingress"]]
    # The model's own policy admits no pod of its namespace but its EPP: the bench pod is not one.
    assert {"podSelector": {}} not in sources
    assert extra["spec"]["podSelector"] == own["spec"]["podSelector"]
    service = find(rendered("local"), "Service", "qwen25-05b", "inference")
    (rule,) = extra["spec"]["ingress"]
    assert [p["port"] for p in rule["ports"]] == [service["spec"]["ports"][0]["port"]]
    assert extra["metadata"]["namespace"] == job["metadata"]["namespace"] == "inference"


def test_litellm_policy_selects_the_pods_behind_litellms_tls_service():
    *_, extra, _ = render_objects(plan("local", None, BenchSpec(hop="litellm"), STARTED))
    service = find(rendered("local"), "Service", "litellm-tls", "llm-gateway")
    assert extra["spec"]["podSelector"]["matchLabels"] == service["spec"]["selector"]


def test_edge_needs_no_temporary_policy_because_tyk_admits_every_source():
    job = plan("local", None, BenchSpec(hop="edge"), STARTED)
    own = find(rendered("local"), "NetworkPolicy", "tyk-gateway", "llm-gateway")
    port = int(job.target.url.rsplit(":", 1)[1])
    assert any("from" not in rule and port in [p["port"] for p in rule["ports"]] for rule in own["spec"]["ingress"])
    assert job.admissions == ()


@pytest.mark.parametrize("stack", ["local", "gateway-gke", "gateway-hetzner"])
@pytest.mark.parametrize("hop", GATEWAY_HOPS)
def test_gateway_hop_objects_are_strictly_valid(stack, hop):
    _, cfg = stack_config(stack)
    for model in cfg.models:
        try:
            job = plan(stack, model.name, BenchSpec(hop=hop, steps=(1, 2)), STARTED)
        except ValueError:
            continue  # refusals are tested below
        workload_ok = job.workload.task == model.task
        assert workload_ok
        for obj in render_objects(job):
            assert CONFORMANCE.validate(obj) == [], f"{stack} {model.name} {hop} {obj['kind']}"


# --- Refusals name what is missing


def test_profile_without_the_layer_is_refused():
    for hop in GATEWAY_HOPS:
        with pytest.raises(ValueError, match="needs the llm-gateway layer, which profile 'serving' does not include"):
            plan("dev", None, BenchSpec(hop=hop), STARTED)


@pytest.mark.parametrize(
    ("off", "hop"),
    [("inferencepool", "pool"), ("litellm", "litellm"), ("litellm", "edge"), ("tyk", "edge"), ("tyk", "litellm")],
)
def test_component_off_is_refused(tmp_path, off, hop):
    stack = variant(tmp_path, "local", components_off(off))
    with pytest.raises(ValueError, match=f"component '{off}' is turned off"):
        plan(stack, None, BenchSpec(hop=hop), STARTED)


def test_models_the_gateway_does_not_route_are_refused(tmp_path):
    with pytest.raises(ValueError, match="the Gateway pools text models only, and it has task 'speech'"):
        plan("gateway-hetzner", "whisper-small", BenchSpec(hop="pool"), STARTED)
    with pytest.raises(ValueError, match="LiteLLM lists text and embedding models only, and it has task 'speech'"):
        plan("gateway-hetzner", "whisper-small", BenchSpec(hop="edge"), STARTED)

    def with_layer(config: dict) -> None:
        config["inference-platform:profile"] = "llm-gateway"

    stack = variant(tmp_path, "existing", with_layer)
    with pytest.raises(ValueError, match="engine kubeai models are routed by KubeAI's own proxy, not the Gateway"):
        plan(stack, "llama31-8b-kubeai", BenchSpec(hop="pool"), STARTED)
    with pytest.raises(ValueError, match="task 'embedding' \\(its HTTPRoute goes straight to KServe's Service"):
        plan(stack, "bge-small", BenchSpec(hop="pool", workload="embeddings"), STARTED)
    kserve = plan(stack, "llama31-8b", BenchSpec(hop="pool", tokenizer="builtin"), STARTED)
    assert kserve.target.url.endswith("/llama31-8b/v1")


def test_pods_hop_is_refused_where_no_model_service_of_the_platform_exists():
    # Only engine vllm renders a Service named after the model; the pods hop calls that name.
    stack = "existing"
    _, cfg = stack_config(stack)
    for model in cfg.models:
        if model.engine == "vllm":
            continue
        with pytest.raises(ValueError, match=f"engine {model.engine} has no Service of the platform's"):
            plan(stack, model.name, BenchSpec(hop="pods", tokenizer="builtin"), STARTED)
    engines = {m.engine for m in cfg.models}
    assert engines - {"vllm"}, "the stack must hold models of other engines for this test to check anything"
    services = [o for o in rendered("local") if o["kind"] == "Service" and o["metadata"]["name"] == "qwen25-05b"]
    assert services, "the vllm engine's own Service the pods hop calls"


def test_tenants_are_chosen_or_refused(tmp_path):
    with pytest.raises(ValueError, match=r"no tenant is allowed it \(team-a: qwen25-05b\)"):
        plan("gateway-hetzner", "bge-small", BenchSpec(hop="litellm", workload="embeddings"), STARTED)
    with pytest.raises(ValueError, match="the stack has no tenant 'nope'; its tenants: local"):
        plan("local", None, BenchSpec(hop="edge", tenant="nope"), STARTED)
    with pytest.raises(ValueError, match="--tenant applies to hops litellm and edge"):
        plan("local", None, BenchSpec(hop="pool", tenant="local"), STARTED)

    def two_tenants(config: dict) -> None:
        config["inference-platform:tenants"] = [
            {"name": "other", "models": ["bge-small"], "monthlyBudget": 1},
            {"name": "second", "models": ["qwen25-05b"], "monthlyBudget": 1},
        ]

    stack = variant(tmp_path, "gateway-hetzner", two_tenants)
    chosen = plan(stack, "qwen25-05b", BenchSpec(hop="litellm"), STARTED)
    assert (chosen.tenant, chosen.api_key) == ("second", ("tenant-second-litellm-key", "key"))
    with pytest.raises(ValueError, match=r"tenant 'other' is not allowed it \(its models: bge-small\)"):
        plan(stack, "qwen25-05b", BenchSpec(hop="edge", tenant="other"), STARTED)
    embeddings = plan(stack, "bge-small", BenchSpec(hop="edge", workload="embeddings"), STARTED)
    assert embeddings.tenant == "other" and embeddings.target.model == "bge-small"

    def no_tenants(config: dict) -> None:
        del config["inference-platform:tenants"]

    with pytest.raises(ValueError, match="the stack has no tenants; add one allowed 'qwen25-05b'"):
        plan(variant(tmp_path, "local", no_tenants), None, BenchSpec(hop="edge"), STARTED)


def test_gated_tokenizer_cannot_follow_the_job_out_of_the_serving_namespace(tmp_path):
    def gated(config: dict) -> None:
        config["inference-platform:models"][0]["hfTokenSecret"] = "hf-token"

    stack = variant(tmp_path, "local", gated)
    assert plan(stack, None, BenchSpec(), STARTED).hf_token_secret == "hf-token"  # pods: same namespace
    with pytest.raises(ValueError, match="hfTokenSecret 'hf-token', which a Job in 'llm-gateway'"):
        plan(stack, None, BenchSpec(hop="edge"), STARTED)
    named = plan(stack, None, BenchSpec(hop="edge", tokenizer="Qwen/Qwen2.5-0.5B"), STARTED)
    assert named.hf_token_secret is None and named.tokenizer == "Qwen/Qwen2.5-0.5B"


def test_gateway_facts_follow_the_substrate():
    _, gke = stack_config("gateway-gke")
    assert hops.gateway_facts(gke)["gatewayClass"] == "gke-l7-rilb"
    _, local = stack_config("local")
    assert hops.gateway_facts(local) == {"gatewayClass": "istio", "gatewayAddress": None}
