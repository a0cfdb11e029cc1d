"""The llm-gateway layer's routing part: Gateway API, a Gateway implementation that supports
InferencePool, and one InferencePool with its endpoint picker (EPP) per text model.

Per substrate (ClusterFacts.gateway_class): on gke, GKE's managed internal Application Load
Balancer class `gke-l7-rilb` (GKE installs the Gateway API and InferencePool CRDs and runs the
data plane); elsewhere Istio in gateway mode (class `istio`, no sidecars), installed here with
the Gateway API CRDs. An existing cluster may name its own class instead.

Request path: LiteLLM -> Gateway `inference-gateway` (namespace llm-gateway), path prefix
`/<model>` -> HTTPRoute in the serving namespace (prefix rewritten to `/`) -> InferencePool
`<model>` -> its EPP picks a pod (queue depth, KV-cache utilisation, prefix cache) -> vLLM.
Models of engine kserve take the same path: the pool selects the vLLM pods KServe creates. A
KServe embedding model has no pool: its route goes straight to KServe's workload Service.
LoRA adapters share their base model's prefix and pool: the request body's `model` names the
adapter, vLLM serves it, and the EPP prefers pods that have it loaded.

Pod labels others select on:
- Istio's Gateway pods: `gateway.networking.k8s.io/gateway-name: inference-gateway`.
- Each EPP: `inferencepool: <model>-epp` (namespace of the models).
"""

from __future__ import annotations

import copy
import functools
import hashlib
from typing import Any

import yaml

from components.applications import application, chart_source, manifests_source
from components.catalog import PLATFORM_DIR, load_catalog
from components.computed_values import computed_values
from components.config import StackConfig
from components.config.modelspec import ModelSpec
from components.gateway import names, pki
from components.gateway.names import GATEWAY, ISTIO_CLASS, NAMESPACE, path_prefix
from components.serving import kserve, llmd, serving_tls
from components.serving.serving_tls import metrics_source
from components.serving.vllm import selector as vllm_selector
from components.serving.vllm import settings as vllm_settings
from components.values import deep_merge

GKE_CLASSES = ("gke-l7-rilb", "gke-l7-regional-external-managed")
HTTP_PORT = 80
HTTPS_PORT = 443
# The EPP's ports (the inferencepool chart's Deployment): ext-proc gRPC and Prometheus metrics.
EXT_PROC_PORT = 9002
EPP_METRICS_PORT = 9090
# Istio's gateway Envoy serves merged Prometheus metrics here (its pod's `prometheus.io` port).
ISTIO_METRICS_PORT = 15020
GATEWAY_POD_LABEL = "gateway.networking.k8s.io/gateway-name"
LITELLM_POD = names.LITELLM_POD
MONITORING = {"kubernetes.io/metadata.name": "monitoring"}
# Sync waves inside the layer: CRDs, then istiod, then the Gateway, pools, and routes last.
CRD_WAVE = -10
GATEWAY_WAVE = 0
ROUTE_WAVE = 15
# The EPP's scorers and weights (plugin names of the pinned EPP, v1.5.0). Prefix-cache
# affinity weighs most: a hit saves the whole prefill; queue depth and KV-cache pressure keep
# a hot pod from being overloaded.
SCORERS = (("queue-scorer", 2), ("kv-cache-utilization-scorer", 2), ("prefix-cache-scorer", 3))
# With LoRA adapters: prefer pods that have the requested adapter loaded (vLLM reports them in
# vllm:lora_requests_info), so an adapter is not loaded on every pod in turn.
LORA_SCORER = ("lora-affinity-scorer", 1)
SCORERS_FILE = "scorers.yaml"
LABELS = {"app.kubernetes.io/part-of": "inference-platform", "app.kubernetes.io/component": "inference-routing"}

# Cluster-scoped kinds the Gateway API CRD chart, Istio's charts and the inferencepool chart create.
CLUSTER_KINDS: list[dict[str, str]] = [
    {"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition"},
    {"group": "rbac.authorization.k8s.io", "kind": "ClusterRole"},
    {"group": "rbac.authorization.k8s.io", "kind": "ClusterRoleBinding"},
    {"group": "admissionregistration.k8s.io", "kind": "MutatingWebhookConfiguration"},
    {"group": "admissionregistration.k8s.io", "kind": "ValidatingWebhookConfiguration"},
    # Gateway API's safe-upgrades policy (refuses older CRD bundles over newer ones).
    {"group": "admissionregistration.k8s.io", "kind": "ValidatingAdmissionPolicy"},
    {"group": "admissionregistration.k8s.io", "kind": "ValidatingAdmissionPolicyBinding"},
]


# Engines whose text models the Gateway reaches through an InferencePool: raw vLLM and KServe
# with the Inference Extension's endpoint picker, llm-d with llm-d's scheduler in its place.
POOLED_ENGINES = ("vllm", "kserve", "llm-d")


def text_models(cfg: StackConfig) -> list[ModelSpec]:
    return [m for m in cfg.models if m.engine in POOLED_ENGINES and m.task == "text"]


def kserve_embedding_models(cfg: StackConfig) -> list[ModelSpec]:
    return [m for m in cfg.models if m.engine == "kserve" and m.task == "embedding"]


def service_routed_models(cfg: StackConfig) -> list[ModelSpec]:
    """Models LiteLLM lists (it calls every text and embedding model through the Gateway) that
    have no pool: embedding models, and text models while `inferencepool` is off. Their route
    goes straight to the Service in front of their pods (balanced by the Gateway alone)."""
    pooled = set(m.name for m in text_models(cfg)) if cfg.enabled("inferencepool") else set()
    return [
        m
        for m in cfg.models
        if m.engine in ("vllm", "kserve") and m.task in ("text", "embedding") and m.name not in pooled
    ]


def selector(model: ModelSpec) -> dict[str, str]:
    """The labels of the model's serving pods, as its engine sets them."""
    return kserve.selector(model) if model.engine == "kserve" else vllm_selector(model)


def own_istio(facts: dict[str, Any]) -> bool:
    """Whether the platform installs the Gateway implementation (Istio) itself."""
    return facts.get("gatewayClass") == ISTIO_CLASS


def _allowed_routes() -> dict[str, Any]:
    # Only routes in the serving namespace may attach: no other namespace can publish on it.
    serving = vllm_settings()["namespace"]
    return {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"kubernetes.io/metadata.name": serving}}}}


def gateway(facts: dict[str, Any], tls_secret: str | None = None) -> dict[str, Any]:
    """The one Gateway of the layer: plain HTTP on 80, or with `tls_secret` (a kubernetes.io/tls
    Secret in the Gateway's namespace: the layer's cert-manager Certificate) HTTPS on 443 only,
    so nothing reaches the models in clear text through it."""
    if tls_secret:
        listeners = [
            {
                "name": "https",
                "protocol": "HTTPS",
                "port": HTTPS_PORT,
                "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": tls_secret}]},
                "allowedRoutes": _allowed_routes(),
            }
        ]
    else:
        listeners = [{"name": "http", "protocol": "HTTP", "port": HTTP_PORT, "allowedRoutes": _allowed_routes()}]
    spec: dict[str, Any] = {"gatewayClassName": facts["gatewayClass"], "listeners": listeners}
    metadata: dict[str, Any] = {"name": GATEWAY, "namespace": NAMESPACE, "labels": dict(LABELS)}
    if facts.get("gatewayAddressName"):
        # A reserved address (GKE: an internal static address of the node subnet), so the URL
        # LiteLLM is given is known before the load balancer exists and survives its recreation.
        spec["addresses"] = [{"type": "NamedAddress", "value": facts["gatewayAddressName"]}]
    if own_istio(facts):
        # Only LiteLLM calls the Gateway: a cluster-internal Service, no cloud load balancer.
        metadata["annotations"] = {"networking.istio.io/service-type": "ClusterIP"}
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": metadata, "spec": spec}


def gateway_network_policy(tls: bool = False) -> dict[str, Any]:
    """Istio's Gateway pods: LiteLLM on the listener's port, Prometheus on the metrics port.
    (Egress to the EPPs and model servers is open; their own policies admit the Gateway.)"""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": GATEWAY, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {
            "podSelector": {"matchLabels": {GATEWAY_POD_LABEL: GATEWAY}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": LITELLM_POD}}],
                    # Istio's Envoy binds the listener ports in the pod itself (its deployment
                    # sets net.ipv4.ip_unprivileged_port_start=0, so no root is needed).
                    "ports": [{"port": HTTPS_PORT if tls else HTTP_PORT, "protocol": "TCP"}],
                },
                {
                    "from": [{"namespaceSelector": {"matchLabels": MONITORING}}],
                    "ports": [{"port": ISTIO_METRICS_PORT, "protocol": "TCP"}],
                },
            ],
        },
    }


def gateway_pod_monitor() -> dict[str, Any]:
    """Prometheus scrapes Istio's Gateway Envoy (request rates, latencies, upstream errors)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": GATEWAY, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {
            "selector": {"matchLabels": {GATEWAY_POD_LABEL: GATEWAY}},
            "podMetricsEndpoints": [{"targetPort": ISTIO_METRICS_PORT, "path": "/stats/prometheus", "interval": "15s"}],
        },
    }


def epp_name(model: ModelSpec) -> str:
    # The inferencepool chart names its EPP `<release>-epp`.
    return f"{model.name}-epp"


def scorers(model: ModelSpec) -> tuple[tuple[str, int], ...]:
    return (*SCORERS, LORA_SCORER) if model.adapters else SCORERS


def scorers_config(model: ModelSpec, tls: bool = False) -> str:
    """The EPP's EndpointPickerConfig: the scorers, weighted, in the default profile; `tls`:
    the model's pods serve HTTPS."""
    return _scorers_config(scorers(model), tls)


@functools.cache
def _scorers_config(weighted: tuple[tuple[str, int], ...], tls: bool) -> str:
    # One text per scorer set, however many models share it (dumping YAML is slow).
    doc = {
        "apiVersion": "inference.networking.x-k8s.io/v1alpha1",
        "kind": "EndpointPickerConfig",
        "plugins": [
            *({"type": name} for name, _ in weighted),
            {"type": "metrics-data-source", "parameters": metrics_source(tls)},
            {"type": "core-metrics-extractor"},
        ],
        "schedulingProfiles": [
            {"name": "default", "plugins": [{"pluginRef": name, "weight": weight} for name, weight in weighted]}
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def pool_values(model: ModelSpec, facts: dict[str, Any], tls: bool = False) -> dict[str, Any]:
    """inferencepool chart values for one model (merged over the catalog's base values);
    `tls`: its pods serve HTTPS (components/serving/serving_tls.py)."""
    gke = facts["gatewayClass"] in GKE_CLASSES
    provider = "gke" if gke else ISTIO_CLASS if own_istio(facts) else "none"
    if model.engine == "llm-d":
        # One pool per model either way; an llm-d model's runs llm-d's scheduler.
        return {**llmd.pool_values(model, facts, tls), "provider": {"name": provider}}
    return {
        "inferencePool": {
            "modelServers": {"matchLabels": selector(model)},
            "targetPorts": [{"number": vllm_settings()["port"]}],
        },
        "inferenceExtension": {"pluginsCustomConfig": {SCORERS_FILE: scorers_config(model, tls)}},
        # gke: HealthCheckPolicy/GCPBackendPolicy for the pool and GKE's own metrics scraping;
        # istio: the DestinationRule that lets Envoy reach the EPP over TLS.
        "provider": {"name": provider},
    }


def http_route(model: ModelSpec, namespace: str, backend: dict[str, Any] | None = None) -> dict[str, Any]:
    """`/<model>/...` on the Gateway -> the model's InferencePool (or `backend`), with the prefix
    removed so vLLM sees its own OpenAI paths (/v1/chat/completions, /v1/completions, ...)."""
    backend = backend or {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": model.name}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": model.name, "namespace": namespace, "labels": dict(LABELS)},
        "spec": {
            "parentRefs": [
                {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GATEWAY, "namespace": NAMESPACE}
            ],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": path_prefix(model.name)}}],
                    "filters": [
                        {
                            "type": "URLRewrite",
                            "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
                        }
                    ],
                    "backendRefs": [backend],
                    # Long generations stream for minutes; the Gateway must not cut them.
                    "timeouts": {"request": "300s"},
                }
            ],
        },
    }


def inference_objective(model: ModelSpec, namespace: str) -> dict[str, Any]:
    """The model's priority: under saturation the EPP sheds lower priorities first. Requests
    name it in the `x-gateway-inference-objective` header."""
    return {
        "apiVersion": "inference.networking.x-k8s.io/v1alpha2",
        "kind": "InferenceObjective",
        "metadata": {"name": model.name, "namespace": namespace, "labels": dict(LABELS)},
        "spec": {
            "priority": model.priority,
            "poolRef": {"group": "inference.networking.k8s.io", "name": model.name},
        },
    }


def epp_network_policy(model: ModelSpec, namespace: str, facts: dict[str, Any]) -> dict[str, Any]:
    """The EPP answers ext-proc calls from the Gateway's data plane only, and Prometheus."""
    sources: list[dict[str, Any]] = [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}},
            "podSelector": {"matchLabels": {GATEWAY_POD_LABEL: GATEWAY}},
        }
    ]
    # A managed Gateway's proxies connect from the substrate's proxy ranges, not from pods.
    sources += [{"ipBlock": {"cidr": cidr}} for cidr in facts.get("gatewaySourceRanges") or ()]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": epp_name(model), "namespace": namespace, "labels": dict(LABELS)},
        "spec": {
            "podSelector": {"matchLabels": {"inferencepool": epp_name(model)}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": sources, "ports": [{"port": EXT_PROC_PORT, "protocol": "TCP"}]},
                {
                    "from": [{"namespaceSelector": {"matchLabels": MONITORING}}],
                    "ports": [{"port": EPP_METRICS_PORT, "protocol": "TCP"}],
                },
            ],
        },
    }


def pool_service_name(pool: str) -> str:
    """The Service istiod creates for an InferencePool, whose host the Gateway's cluster for the
    pool is named by (Istio 1.30.3, pilot/pkg/config/kube/gateway/inferencepool_collection.go,
    InferencePoolServiceName): the pool's name, `-ip-`, the first 8 hex digits of the name's
    SHA-256, the name cut so the whole fits 63 characters."""
    suffix = "-ip-" + hashlib.sha256(pool.encode()).hexdigest()[:8]
    return pool[: 63 - len(suffix)] + suffix


def model_server_tls_rule(model: ModelSpec, namespace: str) -> dict[str, Any]:
    """Istio's Gateway originates TLS to the pool's pods and verifies them: the platform's
    model-serving CA (ca.crt of Secret model-serving-trust, read by istiod in the Gateway's
    namespace) and the DNS name in every pod's certificate, whatever pod IP the EPP picks."""
    name = serving_tls.server_name(model.name, namespace)
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": f"{model.name}-model-server-tls", "namespace": namespace, "labels": dict(LABELS)},
        "spec": {
            "host": f"{pool_service_name(model.name)}.{namespace}.svc.cluster.local",
            "trafficPolicy": {
                "tls": {"mode": "SIMPLE", "credentialName": serving_tls.TRUST, "sni": name, "subjectAltNames": [name]}
            },
        },
    }


def route_objects(model: ModelSpec, namespace: str, facts: dict[str, Any], tls: bool = False) -> list[dict[str, Any]]:
    objects = [http_route(model, namespace), epp_network_policy(model, namespace, facts)]
    if tls:
        objects.append(model_server_tls_rule(model, namespace))
    if model.priority is not None:
        objects.append(inference_objective(model, namespace))
    return objects


def kserve_embedding_route(model: ModelSpec, namespace: str) -> dict[str, Any]:
    """An embedding model of engine kserve: the route goes to the Service KServe creates."""
    service = {"group": "", "kind": "Service", "name": kserve.service_name(model), "port": kserve.PORT}
    return http_route(model, namespace, service)


def service_route(model: ModelSpec, namespace: str) -> dict[str, Any]:
    """A model without a pool: to KServe's Service (engine kserve) or the model's own (raw vLLM)."""
    if model.engine == "kserve":
        return kserve_embedding_route(model, namespace)
    service = {"group": "", "kind": "Service", "name": model.name, "port": vllm_settings()["port"]}
    return http_route(model, namespace, service)


def gateway_objects(facts: dict[str, Any], tls: bool = False) -> list[dict[str, Any]]:
    """The Gateway (HTTPS with the layer's certificate when `tls`), and for Istio its policy and monitor."""
    objects = [gateway(facts, pki.GATEWAY_CERT if tls else None)]
    if own_istio(facts):
        objects += [gateway_network_policy(tls), gateway_pod_monitor()]
    return objects


@functools.cache
def _inference_crd_documents() -> list[dict[str, Any]]:
    # Parsed once per process: every render (and the size preflight) needs them.
    return [d for d in yaml.safe_load_all((PLATFORM_DIR / "gateway/inference-extension-crds.yaml").read_text()) if d]


def inference_crds(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The Inference Extension CRDs the cluster lacks: GKE installs InferencePool itself
    (1.34.0-gke.1626000 and later), never the alpha InferenceObjective."""
    crds = copy.deepcopy(_inference_crd_documents())
    if facts["substrate"] == "gke":
        crds = [c for c in crds if c["spec"]["group"] != "inference.networking.k8s.io"]
    return crds


def _labels(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"inference-platform/layer": "llm-gateway", **(extra or {})}


def _catalog_child(name: str, cfg: StackConfig, facts: dict[str, Any]) -> dict[str, Any]:
    entry = load_catalog()[name]
    values = deep_merge(entry.values, computed_values(name, facts), cfg.overrides(name))
    return application(
        name,
        project=entry.layer,
        namespace=entry.namespace,
        source=chart_source(entry.chart, values, name),
        argocd_namespace=cfg.argocd.namespace,
        wave=entry.wave,
        server_side_apply=entry.server_side_apply,
        pod_security=entry.pod_security,
        labels=_labels(),
    )


def _manifests_child(
    name: str, objects: list[dict[str, Any]], namespace: str, wave: int, cfg: StackConfig, **extra: Any
) -> dict[str, Any]:
    return application(
        name,
        project="llm-gateway",
        namespace=namespace,
        source=manifests_source(objects, name),
        argocd_namespace=cfg.argocd.namespace,
        wave=wave,
        **extra,
    )


def pool_child(model: ModelSpec, cfg: StackConfig, facts: dict[str, Any]) -> dict[str, Any]:
    """The model's InferencePool and EPP: the inferencepool chart, released as the model's name."""
    entry = load_catalog()["inferencepool"]
    tls = serving_tls.for_model(cfg, facts, model) is not None
    values = deep_merge(entry.values, pool_values(model, facts, tls), cfg.overrides("inferencepool"))
    return application(
        f"pool-{model.name}",
        project="llm-gateway",
        namespace=vllm_settings()["namespace"],
        source=chart_source(entry.chart, values, model.name),
        argocd_namespace=cfg.argocd.namespace,
        wave=entry.wave,
        # The serving layer owns the models' namespace and its labels.
        create_namespace=False,
        labels=_labels({"inference-platform/model": model.name}),
    )


def children(cfg: StackConfig, facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Child Applications of the llm-gateway root for this part."""
    out: list[dict[str, Any]] = []
    if own_istio(facts):
        out += [_catalog_child(n, cfg, facts) for n in ("gateway-api-crds", "istio-base", "istiod") if cfg.enabled(n)]
    out.append(
        _manifests_child(
            "inference-extension-crds",
            inference_crds(facts),
            NAMESPACE,
            CRD_WAVE,
            cfg,
            server_side_apply=True,
            labels=_labels(),
        )
    )
    gateway_objs = gateway_objects(facts, pki.enabled(cfg))
    out.append(_manifests_child("inference-gateway", gateway_objs, NAMESPACE, GATEWAY_WAVE, cfg, labels=_labels()))
    namespace = vllm_settings()["namespace"]
    for model in text_models(cfg) if cfg.enabled("inferencepool") else []:
        out.append(pool_child(model, cfg, facts))
        out.append(
            _manifests_child(
                f"route-{model.name}",
                route_objects(model, namespace, facts, serving_tls.for_model(cfg, facts, model) is not None),
                namespace,
                ROUTE_WAVE,
                cfg,
                create_namespace=False,
                labels=_labels({"inference-platform/model": model.name}),
            )
        )
    for model in service_routed_models(cfg):
        out.append(
            _manifests_child(
                f"route-{model.name}",
                [service_route(model, namespace)],
                namespace,
                ROUTE_WAVE,
                cfg,
                create_namespace=False,
                labels=_labels({"inference-platform/model": model.name}),
            )
        )
    return out
