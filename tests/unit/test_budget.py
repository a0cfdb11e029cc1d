"""Budget: a model adds well under 50 ms to a render (models are data, not Pulumi resources)."""

from __future__ import annotations

import time

import yaml

from tooling import render


def stack_with_models(tmp_path, count: int):
    doc = yaml.safe_load((render.stack_file("local")).read_text())
    model = doc["config"]["inference-platform:models"][0]
    doc["config"]["inference-platform:models"] = [dict(model, name=f"m{i}") for i in range(count)]
    path = tmp_path / f"Pulumi.budget{count}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def timed_render(path, out) -> float:
    start = time.perf_counter()
    render.render(str(path), out)
    return time.perf_counter() - start


def test_adding_a_model_costs_well_under_50ms(tmp_path):
    one, many = stack_with_models(tmp_path, 1), stack_with_models(tmp_path, 41)
    timed_render(one, tmp_path / "warm")  # imports and caches out of the measurement
    base = min(timed_render(one, tmp_path / "a") for _ in range(2))
    more = min(timed_render(many, tmp_path / "b") for _ in range(2))
    per_model = (more - base) / 40
    assert len(list((tmp_path / "b").glob("*-Deployment-*.yaml"))) == 41
    assert per_model < 0.025, f"{per_model * 1000:.1f} ms per model"
