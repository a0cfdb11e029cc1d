"""`make perf`: how long renders take, printed, never asserted.

Timings depend on the machine and on what else runs on it, so they are numbers to read and
compare, not tests: the test suite checks behaviour only.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import yaml

from tooling import render
from tooling.program import ROOT, stack_files, stack_name

BASE_MODELS = 1
ADDED_MODELS = 40


def timed_render(stack: str, out: Path) -> tuple[float, int]:
    start = time.perf_counter()
    objects, _ = render.render(stack, out)
    return time.perf_counter() - start, objects


def stack_with_models(source: Path, count: int, folder: Path) -> Path:
    """The stack file with `count` models: its own first model (tenants may name it), then
    copies of it under distinct names."""
    doc = yaml.safe_load(source.read_text())
    model = doc["config"]["inference-platform:models"][0]
    copies = [dict(model, name=f"perf-{i}") for i in range(1, count)]
    doc["config"]["inference-platform:models"] = [model, *copies]
    path = folder / f"Pulumi.perf{count}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("render time per stack file (best of two: the first pays for provider SDK imports)")
        for path in stack_files():
            runs = [timed_render(str(path), folder / stack_name(path)) for _ in range(2)]
            took, objects = min(runs)
            print(f"  {path.relative_to(ROOT)!s:36} {took * 1000:8.0f} ms  {objects:5d} objects")
        source = render.stack_file("local")
        few, many = (stack_with_models(source, n, folder) for n in (BASE_MODELS, BASE_MODELS + ADDED_MODELS))
        base = min(timed_render(str(few), folder / "few")[0] for _ in range(2))
        more = min(timed_render(str(many), folder / "many")[0] for _ in range(2))
        per_model = (more - base) / ADDED_MODELS
        print(f"time per added model (local, {BASE_MODELS} vs {BASE_MODELS + ADDED_MODELS} models)")
        print(f"  {base * 1000:.0f} ms -> {more * 1000:.0f} ms: {per_model * 1000:.1f} ms per model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
