"""A 200-model stack renders, with every object under etcd's limit; a stack whose objects
cannot fit is refused before any resource is registered."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import yaml

from components.shards import OBJECT_LIMIT, ROOT_BUDGET, ScaleError, json_size, stored_bound
from tooling.mocks import RecordingMonitor
from tooling.program import Run, run_program
from tooling.render import carried, expand, pulumi_objects

APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"


def model(i: int, **extra) -> dict:
    return {
        "name": f"model-{i:03d}",
        "source": "hf://Qwen/Qwen2.5-7B-Instruct",
        "gpus": 1,
        "gpuType": "nvidia-l4",
        "replicas": {"min": 1, "max": 4},
        "scaling": {"waitingRequestsTarget": 5, "kvCacheUsageTarget": 0.8},
        "maxModelLen": 8192,
        "resources": {"cpu": "6", "memory": "24Gi", "cacheSize": "40Gi"},
        **extra,
    }


def stack_file(directory: Path, name: str, models: list[dict]) -> Path:
    config = {
        "inference-platform:substrate": {
            "kind": "gke",
            "clusterName": "inference-scale",
            "project": "inference-platform-scale",
            "region": "europe-west4",
            "gpuPools": [{"name": "l4", "accelerator": "nvidia-l4", "count": 1, "maxNodes": 50}],
        },
        "inference-platform:protect": True,
        "inference-platform:secrets": {"backend": "external-secrets"},
        "inference-platform:models": models,
    }
    path = directory / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


@functools.cache
def big_run() -> Run:
    import tempfile

    directory = Path(tempfile.mkdtemp())
    return run_program(stack_file(directory, "scale", [model(i) for i in range(200)]))


def test_a_200_model_stack_renders_with_every_model_once():
    roots = big_run().of_type(APPLICATION)
    carried_names = [c["metadata"]["name"] for r in roots for c in carried(r.inputs)]
    assert sorted(n for n in carried_names if n.startswith("model-")) == [f"model-model-{i:03d}" for i in range(200)]


def test_serving_is_split_across_roots_the_first_keeping_its_name():
    names = {r.name for r in big_run().of_type(APPLICATION)}
    serving = {n for n in names if n.startswith("root-serving")}
    assert len(serving) > 1
    # An unsharded stack's root keeps its logical name: growing past one root replaces nothing.
    assert serving == {"root-serving"} | {f"root-serving-{i}" for i in range(2, len(serving) + 1)}
    assert names - serving == {"root-platform"}


def test_every_object_stays_under_the_limit_even_with_argo_cds_status_copies():
    run = big_run()
    for root in run.of_type(APPLICATION):
        app = root.inputs
        assert json_size(app) <= ROOT_BUDGET, app["metadata"]["name"]
        assert stored_bound(app, root=True) < OBJECT_LIMIT, app["metadata"]["name"]
        for child in carried(app):
            assert stored_bound(child, root=False) < OBJECT_LIMIT, child["metadata"]["name"]
    for obj in expand(pulumi_objects(run)):
        assert json_size(obj) < OBJECT_LIMIT, obj["metadata"]["name"]


def test_every_serving_shard_waits_for_the_platform_and_nothing_else_serving():
    run = big_run()
    roots = {r.name: r for r in run.of_type(APPLICATION)}
    platform = roots["root-platform"].urn
    serving = {r.urn for name, r in roots.items() if name.startswith("root-serving")}
    for name, root in roots.items():
        if name.startswith("root-serving"):
            assert platform in root.dependencies
            # Shards of one layer do not wait for each other: their models load in parallel.
            assert not serving & set(root.dependencies), name


def test_an_oversized_model_is_refused_before_anything_is_registered(tmp_path):
    registered: list[str] = []
    original = RecordingMonitor.RegisterResource

    def register(self, request):
        if request.type != "pulumi:pulumi:Stack":
            registered.append(request.name)
        return original(self, request)

    # 4,000 adapters: one child beyond what Argo CD can keep in one object.
    adapters = [{"name": f"adapter-{i:04d}", "source": f"hf://org/long-adapter-name-{i:04d}"} for i in range(4000)]
    path = stack_file(tmp_path, "huge", [model(0, adapters=adapters)])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RecordingMonitor, "RegisterResource", register)
        with pytest.raises(Exception) as caught:
            run_program(path)
    message = str(caught.value)
    assert isinstance(caught.value, ScaleError) or "ScaleError" in message
    assert "Application model-model-000" in message and "at most 128 KiB" in message
    assert registered == []


@functools.cache
def gateway_run() -> Run:
    """Thirty text models behind the llm-gateway layer: a pool, picker and route per model."""
    import tempfile

    directory = Path(tempfile.mkdtemp())
    path = stack_file(directory, "gateway-scale", [model(i) for i in range(30)])
    doc = yaml.safe_load(path.read_text())
    doc["config"]["inference-platform:profile"] = "llm-gateway"
    doc["config"]["inference-platform:tenants"] = [
        {"name": "team-a", "models": ["model-000", "model-029"], "monthlyBudget": 100}
    ]
    path.write_text(yaml.safe_dump(doc))
    return run_program(path)


def test_a_multi_wave_layer_splits_into_roots_that_wait_for_each_other_in_wave_order():
    run = gateway_run()
    roots = {r.name: r for r in run.of_type(APPLICATION)}
    prefix = "root-llm-gateway"
    # root-llm-gateway, root-llm-gateway-2, ...: in the order they are applied.
    gateway = sorted((n for n in roots if n.startswith(prefix)), key=lambda n: int(n[len(prefix) :].lstrip("-") or 1))
    assert len(gateway) > 1, "thirty models' pools and routes do not fit one root"
    waves = []
    for i, name in enumerate(gateway):
        root = roots[name]
        children = root.inputs["spec"]["source"]["helm"]["valuesObject"]["resources"]
        waves.append([int(c["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for c in children])
        assert stored_bound(root.inputs, root=True) < OBJECT_LIMIT
        for earlier in gateway[:i]:
            assert roots[earlier].urn in root.dependencies, f"{name} must wait for {earlier}"
            assert "pulumi.com/waitFor" in roots[earlier].inputs["metadata"]["annotations"]
    flat = [w for ws in waves for w in ws]
    assert flat == sorted(flat), "the roots carry the layer's waves in order"
    # The last root of the last layer does not hold `pulumi up` until every model is Healthy.
    assert "annotations" not in roots[gateway[-1]].inputs["metadata"]
