"""`make perf` measures stacks that render: the grown stack is a valid stack like any other."""

from __future__ import annotations

from tooling import render
from tooling.perf import stack_with_models


def test_the_grown_local_stack_renders_every_model(tmp_path):
    path = stack_with_models(render.stack_file("local"), 3, tmp_path)
    render.render(str(path), tmp_path / "out")
    deployments = sorted(p.name for p in (tmp_path / "out").glob("*-Deployment-inference-*.yaml"))
    assert sorted(d.split("-inference-")[1] for d in deployments) == ["perf-1.yaml", "perf-2.yaml", "qwen25-05b.yaml"]
