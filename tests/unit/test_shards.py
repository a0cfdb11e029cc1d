"""Splitting a layer's children across roots: sizes, names, stability, refusals."""

from __future__ import annotations

import pytest

from components.applications import application, root_application
from components.config import parse_stack_config
from components.layers import build_layers, layer_roots
from components.preflight import FACTS_MARGIN, check_object_sizes, sizing_facts
from components.shards import (
    CHILD_LIMIT,
    OBJECT_LIMIT,
    ROOT_BUDGET,
    SLOT,
    ScaleError,
    json_size,
    root_names,
    shard,
    stored_bound,
)
from tests.plain_facts import gke_facts


def child(name: str, padding: int = 7800, wave: int = 10) -> dict:
    app = application(name, project="serving", namespace="models", source={}, argocd_namespace="argocd", wave=wave)
    app["spec"]["source"] = {"helm": {"valuesObject": {"resources": [{"pad": ""}]}}}
    app["spec"]["source"]["helm"]["valuesObject"]["resources"][0]["pad"] = "x" * max(0, padding - json_size(app))
    return app


def names(groups) -> list[list[str]]:
    return [[c["metadata"]["name"] for c in g] for g in groups]


def gke_cfg(models: list[dict]):
    return parse_stack_config(
        {
            "substrate": {
                "kind": "gke",
                "project": "p-123456",
                "region": "europe-west4",
                "gpuPools": [{"name": "l4", "accelerator": "nvidia-l4"}],
            },
            "secrets": {"backend": "external-secrets"},
            "models": models,
        }
    )


def model(i: int, **extra) -> dict:
    return {"name": f"m{i:03d}", "source": "hf://a/b", "gpus": 1, "gpuType": "nvidia-l4", **extra}


def test_root_names_keep_the_unsharded_name_first():
    assert root_names("serving", 1) == ["root-serving"]
    assert root_names("serving", 3) == ["root-serving", "root-serving-2", "root-serving-3"]


def test_a_small_layer_stays_one_root_even_when_empty():
    assert names(shard("serving", [])) == [[]]
    assert names(shard("serving", [child("a"), child("b")])) == [["a", "b"]]


def test_children_are_packed_in_order_into_roots_under_the_budget():
    children = [child(f"m{i:03d}") for i in range(60)]
    groups = shard("serving", children)
    assert len(groups) > 1
    assert [c for g in groups for c in g] == children
    for i, group in enumerate(groups):
        root = root_application(root_names("serving", len(groups))[i], "serving", group, "argocd")
        assert json_size(root) <= ROOT_BUDGET
        assert stored_bound(root, root=True) < OBJECT_LIMIT


def test_editing_a_model_within_its_slot_moves_no_other_model():
    before = names(shard("serving", [child(f"m{i:03d}") for i in range(60)]))
    # m005 grows by 2 KiB but stays within one slot: nothing moves between roots.
    edited = [child(f"m{i:03d}", padding=9800 if i == 5 else 7800) for i in range(60)]
    assert names(shard("serving", edited)) == before
    # Appending models never moves an existing one.
    appended = names(shard("serving", [child(f"m{i:03d}") for i in range(70)]))
    assert [g[: len(b)] for g, b in zip(appended, before, strict=False)] == before


def test_a_child_larger_than_a_slot_takes_several():
    big = child("big", padding=3 * SLOT - 100)
    groups = shard("serving", [child(f"m{i:03d}") for i in range(17)] + [big])
    assert names(groups)[-1] == ["big"]


def test_one_child_too_large_for_any_root_is_refused_with_its_name():
    with pytest.raises(ScaleError, match=r"Application huge renders to 1\d\d KiB; one child may be at most 128 KiB"):
        shard("serving", [child("ok"), child("huge", padding=CHILD_LIMIT + 10)])


def test_a_multi_wave_layer_is_split_in_wave_order_into_stages_one_root_each():
    from components.shards import stages, wave

    children = [child(f"c{i:03d}", padding=20000, wave=i % 2) for i in range(20)]
    groups = shard("platform", children)
    assert len(groups) > 1
    flat = [wave(c) for group in groups for c in group]
    assert flat == sorted(flat), "every child of wave 0 comes before every child of wave 1"
    # Sync waves order children only inside one root: each root waits for the one before it.
    assert stages(children, groups) == [[g] for g in groups]
    # One wave: the roots sync side by side.
    same = [child(f"s{i:03d}", padding=20000) for i in range(20)]
    assert stages(same, shard("serving", same)) == [shard("serving", same)]


def test_every_stored_copy_is_counted():
    app = child("a", padding=10000)
    source = json_size(app["spec"]["source"])
    # comparedTo, operation, operationState.operation, syncResult, one history entry, last-applied.
    assert stored_bound(app, root=False) == 2 * json_size(app) + 5 * source


def test_preflight_stand_in_facts_are_never_much_smaller_than_real_ones():
    cfg = gke_cfg([model(i, scaling={"kvCacheUsageTarget": 0.8}) for i in range(3)])
    real = {c["metadata"]["name"]: json_size(c) for layer in build_layers(cfg, gke_facts(), {"argocd"})
            for c in layer.children}
    for shared in (False, True):
        stand_in = {c["metadata"]["name"]: json_size(c)
                    for layer in build_layers(cfg, sizing_facts(cfg, shared), {"argocd"}) for c in layer.children}
        assert set(stand_in) >= set(real)
        for name, size in real.items():
            assert size <= stand_in[name] + FACTS_MARGIN, name


def test_preflight_refuses_a_model_no_root_can_hold():
    adapters = [{"name": f"a{i:04d}", "source": f"hf://org/adapter-{i:04d}"} for i in range(6000)]
    with pytest.raises(ScaleError, match="Application model-m000 renders to about"):
        check_object_sizes(gke_cfg([model(0, adapters=adapters)]))


def test_two_hundred_models_fit_in_shards_of_the_serving_layer():
    cfg = gke_cfg([model(i, scaling={"kvCacheUsageTarget": 0.8}) for i in range(200)])
    check_object_sizes(cfg)
    layers = build_layers(cfg, gke_facts(), {"argocd"})
    (serving,) = layer_roots(layers[1], "argocd", wait_healthy=False)
    assert len(serving) > 1 and serving[0]["metadata"]["name"] == "root-serving"
    assert sum(len(r["spec"]["source"]["helm"]["valuesObject"]["resources"]) for r in serving) == 200
    assert max(stored_bound(r, root=True) for r in serving) < OBJECT_LIMIT
