"""The docs match the code: every config key of the schema is documented in docs/config.md,
every catalog component in docs/catalog.md, every make target in the README."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from pydantic import BaseModel

from components.catalog import load_catalog
from components.config.stack import StackConfig

ROOT = Path(__file__).resolve().parents[2]


def _models(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def config_keys(model: type[BaseModel] = StackConfig, seen: set | None = None) -> set[str]:
    seen = seen if seen is not None else set()
    keys = set()
    if model in seen:
        return keys
    seen.add(model)
    for name, field in model.model_fields.items():
        keys.add(field.alias or name)
        for sub in _models(field.annotation):
            keys |= config_keys(sub, seen)
    return keys


def test_every_config_key_is_documented():
    text = (ROOT / "docs" / "config.md").read_text()
    documented = set(re.findall(r"`([A-Za-z][A-Za-z0-9]*)`", text))
    missing = sorted(config_keys() - documented)
    assert missing == [], f"docs/config.md does not document: {missing}"


def test_every_catalog_component_is_documented():
    text = (ROOT / "docs" / "catalog.md").read_text()
    missing = [name for name in load_catalog() if f"`{name}`" not in text and f"## {name}" not in text]
    assert missing == []


def test_every_make_target_in_the_readme_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z0-9-]+):", makefile, re.M))
    readme = (ROOT / "README.md").read_text()
    used = set(re.findall(r"make ([a-z0-9-]+)", readme))
    assert used and used <= targets, used - targets


def test_the_scaling_triggers_config_md_names_are_the_ones_rendered():
    from components.config.modelspec import ModelSpec
    from components.serving.scaling import scaled_object

    model = ModelSpec.model_validate(
        {"name": "m", "source": "hf://a/b", "gpus": 1, "gpuType": "nvidia-l4",
         "replicas": {"min": 0, "max": 2}, "scaling": {"kvCacheUsageTarget": 0.8}}
    )
    rendered = {t["name"] for t in scaled_object(model, "ns", "http://prom:9090", {})["spec"]["triggers"]}
    assert rendered == {"queue-depth", "kv-cache", "activity"}
    text = (ROOT / "docs" / "config.md").read_text()
    assert {name for name in rendered if f"`{name}`" not in text} == set()


def test_no_doc_says_every_model_keeps_a_replica():
    """`replicas.min: 0` is accepted (config.md, `replicas`); a doc saying otherwise is stale."""
    stale = re.compile(r"`replicas\.min` is at least 1|keeps at least one replica")
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md") if stale.search(p.read_text())]
    assert offenders == []


def test_make_destroy_runs_the_program_so_providers_get_current_credentials():
    import subprocess

    dry = subprocess.run(["make", "-n", "destroy", "STACK=vks"], cwd=ROOT, capture_output=True, text=True, check=True)
    command = next(line for line in dry.stdout.splitlines() if "pulumi-stack.sh" in line)
    assert command.split()[1:] == ["vks", "destroy", "--yes", "--run-program"]
