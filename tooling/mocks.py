"""A mock that records every registration with its options (parent, provider, protect...)."""

from __future__ import annotations

import importlib
import pkgutil
import zlib
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

import tooling
from tooling import fakes

SECRET_SIG = rpc._special_sig_key


def _load_fake_modules() -> None:
    for info in pkgutil.iter_modules(tooling.__path__):
        if info.name.startswith("fakes_"):
            importlib.import_module(f"tooling.{info.name}")


_load_fake_modules()


def unwrap(value: Any, path: str = "", secrets: list[str] | None = None) -> Any:
    """Strip the SDK's secret wrappers, noting where they were."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == rpc._special_secret_sig:
            if secrets is not None:
                secrets.append(path or "<root>")
            return unwrap(value.get("value"), path, secrets)
        return {k: unwrap(v, f"{path}.{k}" if path else k, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        # The wire format carries every number as a double; integers go back to integers,
        # as the provider sends them to the API server.
        return int(value)
    return value


@dataclass
class Recorded:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    protect: bool
    dependencies: list[str]
    inputs: dict[str, Any]
    secret_inputs: list[str]
    additional_secret_outputs: list[str]
    delete_before_replace: bool
    ignore_changes: list[str]
    aliases: list[str] = field(default_factory=list)

    @property
    def provider_urn(self) -> str:
        # A provider reference is "<urn>::<id>".
        return self.provider.rsplit("::", 1)[0] if self.provider else ""


class RecordingMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        extra = fakes.RESOURCE_OUTPUTS.get(args.typ)
        if extra:
            outputs.update(extra(unwrap(args.inputs), args.name))
        if any(args.typ.startswith(prefix) for prefix in fakes.NUMERIC_IDS):
            return str(zlib.crc32(f"{args.typ}::{args.name}".encode())), outputs
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        answer = fakes.INVOKES.get(args.token)
        if answer is None:
            raise NotImplementedError(f"invoke {args.token} has no answer in tooling/fakes*.py")
        return answer(unwrap(args.args))


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: RecordingMocks):
        super().__init__(mocks)
        self.recorded: dict[str, Recorded] = {}

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            secrets: list[str] = []
            inputs = unwrap(rpc.deserialize_properties(request.object), secrets=secrets)
            self.recorded[response.urn] = Recorded(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent,
                provider=request.provider,
                protect=bool(request.protect),
                dependencies=list(request.dependencies),
                inputs=inputs,
                secret_inputs=secrets,
                additional_secret_outputs=list(request.additionalSecretOutputs),
                delete_before_replace=bool(request.deleteBeforeReplace),
                ignore_changes=list(request.ignoreChanges),
                aliases=[a.urn or a.spec.name for a in request.aliases],
            )
        return response
