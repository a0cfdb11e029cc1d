"""Run the Pulumi program for one stack file, offline, under the recording mock."""

from __future__ import annotations

import json
import runpy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.config.stack import StackConfig
from components.config.stackfile import read_stack_file
from tooling.mocks import Recorded, RecordingMocks, RecordingMonitor, denied_default_providers

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "inference-platform"

# Stand-ins for secret config: CI renders without the stack's secrets provider, so every
# `secure:` value, and every secret a stack needs but does not hold yet, becomes one of these.
PLACEHOLDERS = {
    "sopsAgeKey": "AGE-SECRET-KEY-1RENDERPLACEHOLDER0000000000000000000000000000000000000000000",
    "supervisorKubeconfig": (
        "apiVersion: v1\nkind: Config\nclusters:\n- name: supervisor\n  cluster:\n"
        "    server: https://supervisor.example.invalid:6443\ncontexts:\n- name: supervisor\n"
        "  context:\n    cluster: supervisor\n    user: supervisor\ncurrent-context: supervisor\n"
        "users:\n- name: supervisor\n  user:\n    token: placeholder\n"
    ),
    "kubeconfig": (
        "apiVersion: v1\nkind: Config\nclusters:\n- name: existing\n  cluster:\n"
        "    server: https://kubernetes.example.invalid:6443\ncontexts:\n- name: existing\n"
        "  context:\n    cluster: existing\n    user: existing\ncurrent-context: existing\n"
        "users:\n- name: existing\n  user:\n    token: placeholder\n"
    ),
}


def stack_file(name: str) -> Path:
    """`dev` -> Pulumi.dev.yaml at the root, else examples/Pulumi.<name>.yaml, else a path."""
    for candidate in (ROOT / f"Pulumi.{name}.yaml", ROOT / "examples" / f"Pulumi.{name}.yaml", Path(name)):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no stack file for {name!r} (looked for Pulumi.{name}.yaml and examples/)")


def stack_files() -> list[Path]:
    return sorted(ROOT.glob("Pulumi.*.yaml")) + sorted((ROOT / "examples").glob("Pulumi.*.yaml"))


def stack_name(path: Path) -> str:
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"} and isinstance(value["secure"], str)


def _unsecure(value: Any, short: str) -> tuple[Any, bool]:
    """`value` with every nested `secure:` leaf replaced by a placeholder, and whether it had one."""
    if _is_secure(value):
        return PLACEHOLDERS.get(short, f"placeholder-{short}"), True
    if isinstance(value, dict):
        pairs = {k: _unsecure(v, short) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        pairs = [_unsecure(v, short) for v in value]
        return [v for v, _ in pairs], any(s for _, s in pairs)
    return value, False


def read_stack_config(path: Path) -> tuple[dict[str, str], list[str]]:
    """The config map Pulumi would hand the program (values JSON-encoded), and its secret keys.

    The file is read as the CLI reads it (duplicate keys and YAML errors refused with file and
    line). A value holding a `secure:` part is secret as a whole, as the engine reports it.
    """
    raw = read_stack_file(path)
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    ours = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith(f"{PROJECT}:")}
    for key, value in raw.items():
        value, secure = _unsecure(value, key.split(":", 1)[-1])
        if secure:
            secret_keys.append(key)
        config[key] = value if isinstance(value, str) else json.dumps(value)
    for short in sorted(StackConfig.required_secrets(ours) - set(ours)):
        config[f"{PROJECT}:{short}"] = PLACEHOLDERS[short]
        secret_keys.append(f"{PROJECT}:{short}")
    return config, secret_keys


def read_project_config(path: Path = ROOT / "Pulumi.yaml") -> dict[str, str]:
    """Project-level config from Pulumi.yaml, as the CLI merges it under every stack's config.

    A key without a namespace belongs to the project; a value is given as `value:` (any
    type) or `default:`, or directly for a scalar.
    """
    doc = yaml.safe_load(path.read_text()) or {}
    config: dict[str, str] = {}
    for key, spec in (doc.get("config") or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(spec, dict):
            if "value" in spec:
                value = spec["value"]
            elif "default" in spec:
                value = spec["default"]
            else:
                continue  # declared type or description only: no value
        else:
            value = spec
        config[full] = value if isinstance(value, str) else json.dumps(value)
    return config


@dataclass
class Run:
    stack: str
    preview: bool
    resources: list[Recorded]
    outputs: dict[str, Any]
    # The config map the program saw, and the URN of the stack resource the engine creates.
    config: dict[str, str] = field(default_factory=dict)
    stack_urn: str = ""

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def by_urn(self) -> dict[str, Recorded]:
        return {r.urn: r for r in self.resources}

    def named(self, name: str, type_: str | None = None) -> Recorded:
        """The one resource with this name (and type, when given)."""
        found = [r for r in self.resources if r.name == name and (type_ is None or r.type == type_)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}" + (f" of type {type_}" if type_ else ""))
        return found[0]


def run_function(
    fn: Callable[[], Any],
    stack: str = "test",
    preview: bool = False,
    config: dict[str, str] | None = None,
    secret_keys: list[str] | None = None,
) -> Run:
    """Run `fn` as a Pulumi program under the recording mock and wait for every registration."""
    config = dict(config or {})
    mocks = RecordingMocks(preview=preview)
    monitor = RecordingMonitor(mocks, denied_default_providers(config))
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(config, secret_keys or [])
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    root = settings.get_root_resource()
    _sync_await(run_pulumi_func(fn))
    outputs = {}
    if root is not None and getattr(root, "outputs", None):
        outputs = dict(root.outputs)
    return Run(
        stack=stack,
        preview=preview,
        resources=list(monitor.recorded.values()),
        outputs=outputs,
        config=config,
        stack_urn=monitor.stack_urn,
    )


def run_program(path: Path, preview: bool = False) -> Run:
    """Execute __main__.py for the stack file, offline, with the project's and the stack's config."""
    stack_config, secret_keys = read_stack_config(path)
    config = {**read_project_config(), **stack_config}

    def program() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    return run_function(program, stack_name(path), preview, config, secret_keys)
