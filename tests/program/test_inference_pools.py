"""The InferencePool each pool Application's chart renders (the `inferencepool` chart v1.5.0,
modelled in tooling/chart_models.py from its template) is valid against the CRD schema the
project carries, selects pods the stack really renders, and targets the port they serve on."""

from __future__ import annotations

import copy

import pytest

from components.values import deep_merge
from tests.conftest import STACKS, rendered
from tooling import chart_models
from tooling.chart_values import load_chart_values
from tooling.conformance import Conformance

CONFORMANCE = Conformance(k8s_version="1.33.0")


def pool_apps(objects) -> list[dict]:
    return [o for o in objects if o["kind"] == "Application" and o["metadata"]["name"].startswith("pool-")]


POOL_STACKS = sorted(s for s in STACKS if pool_apps(rendered(s)))


# LeaderWorkerSet's pod webhook labels each pod with its index in the group, the leader 0
# (pkg/webhooks/pod_webhook.go, WorkerIndexLabelKey).
WORKER_INDEX = "leaderworkerset.sigs.k8s.io/worker-index"


def pods(objects, namespace: str) -> list[dict]:
    """Pod templates of the workloads the stack renders in `namespace`, with the labels their
    pods carry at run time (a LeaderWorkerSet's leader and a worker as its webhook labels them)."""
    out = []
    for obj in objects:
        if obj["metadata"].get("namespace") != namespace:
            continue
        if obj["kind"] in ("Deployment", "StatefulSet"):
            out.append(obj["spec"]["template"])
        elif obj["kind"] == "LeaderWorkerSet":
            group = obj["spec"]["leaderWorkerTemplate"]
            for key, index in (("leaderTemplate", "0"), ("workerTemplate", "1")):
                template = copy.deepcopy(group[key])
                template["metadata"]["labels"][WORKER_INDEX] = index
                out.append(template)
    return out


def served_ports(template: dict) -> set[int]:
    spec = template["spec"]
    containers = spec["containers"] + [c for c in spec.get("initContainers", []) if c.get("restartPolicy") == "Always"]
    return {p["containerPort"] for c in containers for p in c.get("ports", [])}


def test_some_stacks_render_pools():
    assert {"local", "gateway-hetzner", "gateway-gke", "llmd-gke"} <= set(POOL_STACKS)


@pytest.mark.parametrize("stack", POOL_STACKS)
def test_every_pool_is_schema_valid_and_selects_the_models_serving_pods(stack):
    objects = rendered(stack)
    defaults = load_chart_values("inferencepool", "v1.5.0").defaults
    for app in pool_apps(objects):
        source = app["spec"]["source"]
        assert source["targetRevision"] == "v1.5.0"
        values = deep_merge(defaults, source["helm"]["valuesObject"])
        namespace = app["spec"]["destination"]["namespace"]
        pool = chart_models.inference_pool(source["helm"]["releaseName"], namespace, values)
        assert CONFORMANCE.validate(pool) == [], f"{stack} {app['metadata']['name']}"
        selector = pool["spec"]["selector"]["matchLabels"]
        chosen = [t for t in pods(objects, namespace) if selector.items() <= t["metadata"]["labels"].items()]
        model = app["metadata"]["labels"]["inference-platform/model"]
        if not chosen:
            # KServe's controller renders its pods itself; nothing else may select nothing.
            assert any(
                o["kind"] == "LLMInferenceService" and o["metadata"]["name"] == model for o in objects
            ), f"{stack}: pool {model} selects no pod the stack renders"
            continue
        # Never a headless LeaderWorkerSet worker: it answers no request.
        assert all(t["metadata"]["labels"].get(WORKER_INDEX, "0") == "0" for t in chosen)
        for template in chosen:
            ports = {p["number"] for p in pool["spec"]["targetPorts"]}
            assert ports <= served_ports(template), f"{stack}: pool {model} targets {ports}"


def test_the_charts_own_check_refuses_a_pool_without_a_selector():
    with pytest.raises(chart_models.ChartError, match=r"modelServers\.matchLabels is required"):
        chart_models.inference_pool("m", "inference", {"inferencePool": {"targetPorts": [{"number": 8000}]}})
