"""A mock that records every registration and read with its options (parent, provider,
dependencies, protect, timeouts...) and answers the way the engine does where it matters:
in preview, whatever only the cloud can compute is unknown."""

from __future__ import annotations

import importlib
import json
import pkgutil
import zlib
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import resource_pb2

import tooling
from tooling import fakes

SECRET_SIG = rpc._special_sig_key
# What the engine sends (and what the recording keeps) for a value not known yet.
UNKNOWN = rpc.UNKNOWN
STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_PREFIX = "pulumi:providers:"


def _load_fake_modules() -> None:
    for info in pkgutil.iter_modules(tooling.__path__):
        if info.name.startswith("fakes_"):
            importlib.import_module(f"tooling.{info.name}")


_load_fake_modules()


def unwrap(value: Any, path: str = "", secrets: list[str] | None = None) -> Any:
    """Strip the SDK's secret wrappers, noting where they were; unknowns become UNKNOWN."""
    if isinstance(value, Unknown):
        return UNKNOWN
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


def contains_unknown(value: Any) -> bool:
    if value == UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False


def urn_key(urn: str) -> str:
    """`<type>::<name>` of a URN (the type without its parent chain)."""
    parts = urn.split("::")
    return f"{parts[2].split('$')[-1]}::{'::'.join(parts[3:])}" if len(parts) >= 4 else urn


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
    aliases: list[dict[str, Any]] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    custom_timeouts: dict[str, str | None] | None = None
    deleted_with: str = ""
    replace_with: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    retain_on_delete: bool = False
    # A read (`Resource.get`) rather than a registration, and the id it read.
    read: bool = False
    read_id: str = ""
    # The inputs as they went over the wire (secrets and unknowns marked), which is what the
    # engine hands a policy pack.
    wire: Any = field(default=None, repr=False, compare=False)

    @property
    def provider_urn(self) -> str:
        # A provider reference is "<urn>::<id>".
        return self.provider.rsplit("::", 1)[0] if self.provider else ""

    @property
    def key(self) -> str:
        return f"{self.type}::{self.name}"


def _alias(alias: Any) -> dict[str, Any]:
    if alias.urn:
        return {"urn": alias.urn}
    spec = alias.spec
    out = {k: getattr(spec, k) for k in ("name", "type", "stack", "project", "parentUrn") if getattr(spec, k)}
    if spec.noParent:
        out["noParent"] = True
    return out


def _timeouts(request: Any) -> dict[str, str | None] | None:
    if not request.HasField("customTimeouts"):
        return None
    t = request.customTimeouts
    return {"create": t.create or None, "update": t.update or None, "delete": t.delete or None}


def denied_default_providers(config: dict[str, str]) -> set[str]:
    """Packages whose default provider the project disables (`pulumi:disable-default-providers`)."""
    raw = config.get("pulumi:disable-default-providers")
    if not raw:
        return set()
    value = json.loads(raw) if raw.lstrip().startswith("[") else [raw]
    return {str(v) for v in value}


def preview_outputs(inputs: dict[str, Any], computed: dict[str, Any]) -> dict[str, Any]:
    """Inputs as given, with every part only the provider computes unknown, down to nested
    fields (a cluster's `controlPlaneEndpointsConfig` is an input whose endpoint is computed)."""
    out = dict(inputs)
    for key, value in computed.items():
        given = inputs.get(key)
        if isinstance(value, dict) and isinstance(given, dict):
            out[key] = preview_outputs(given, value)
        elif key not in inputs or value != given:
            out[key] = UNKNOWN
    return out


class RecordingMocks(pulumi.runtime.Mocks):
    """Outputs: inputs echoed back, plus what tooling/fakes*.py says the provider computes.

    In preview the engine cannot know what a create will compute: ids and every output that
    is not an input come back unknown, so an `apply` on them never runs. A read whose id is
    unknown (it waits on a resource still to be created) is skipped and all its outputs are
    unknown; a read with a known id runs in preview too, and answers from the fakes.
    """

    def __init__(self, preview: bool = False):
        self.preview = preview

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        reading = args.custom is None  # MockMonitor.ReadResource passes no custom flag
        inputs = dict(args.inputs)
        if self.preview and reading and (args.resource_id in ("", UNKNOWN) or isinstance(args.resource_id, Unknown)):
            return "", {}
        computed = {}
        extra = fakes.RESOURCE_OUTPUTS.get(args.typ)
        if extra:
            computed = extra(unwrap(args.inputs), args.name)
        if reading:
            return args.resource_id, {**inputs, **computed}
        if self.preview:
            return "", preview_outputs(inputs, computed)
        if any(args.typ.startswith(prefix) for prefix in fakes.NUMERIC_IDS):
            return str(zlib.crc32(f"{args.typ}::{args.name}".encode())), {**inputs, **computed}
        return f"{args.name}-id", {**inputs, **computed}

    def call(self, args: pulumi.runtime.MockCallArgs):
        answer = fakes.INVOKES.get(args.token)
        if answer is None:
            raise NotImplementedError(f"invoke {args.token} has no answer in tooling/fakes*.py")
        return answer(unwrap(args.args))


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: RecordingMocks, denied_defaults: set[str] | None = None):
        super().__init__(mocks)
        self.recorded: dict[str, Recorded] = {}
        self.stack_urn = ""
        self.denied_defaults = denied_defaults or set()

    def _refuse_default_provider(self, type_: str, name: str, provider: str, custom: bool, verb: str) -> None:
        # The engine refuses, at registration, a custom resource that would need a default
        # provider the project disabled; the mock does the same.
        if provider or not custom or type_.startswith(PROVIDER_PREFIX):
            return
        package = type_.split(":", 1)[0]
        if "*" in self.denied_defaults or package in self.denied_defaults:
            raise RuntimeError(
                f"Default provider for '{package}' disabled. '{type_}::{name}' must use an explicit provider ({verb})"
            )

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        self._refuse_default_provider(request.type, request.name, request.provider, request.custom, "register")
        response = super().RegisterResource(request)
        if request.type == STACK_TYPE:
            self.stack_urn = response.urn
            return response
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
            aliases=[_alias(a) for a in request.aliases] + [{"urn": u} for u in request.aliasURNs],
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            custom_timeouts=_timeouts(request),
            deleted_with=request.deletedWith,
            replace_with=list(request.replace_with),
            replace_on_changes=list(request.replaceOnChanges),
            retain_on_delete=bool(request.retainOnDelete),
            wire=request.object,
        )
        return response

    def ReadResource(self, request):  # noqa: N802 - gRPC method name
        self._refuse_default_provider(request.type, request.name, request.provider, True, "read")
        response = super().ReadResource(request)
        secrets: list[str] = []
        inputs = unwrap(rpc.deserialize_properties(request.properties), secrets=secrets)
        self.recorded[response.urn] = Recorded(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=True,  # reads are always of custom resources
            parent=request.parent,
            provider=request.provider,
            protect=False,
            dependencies=list(request.dependencies),
            inputs=inputs,
            secret_inputs=secrets,
            additional_secret_outputs=list(request.additionalSecretOutputs),
            delete_before_replace=False,
            ignore_changes=[],
            read=True,
            read_id=request.id,
            wire=request.properties,
        )
        # The engine answers a read with the id the provider read (empty, i.e. unknown, when
        # a preview skipped it); MockMonitor leaves the id out.
        known = self.resources[response.urn].id
        return resource_pb2.ReadResourceResponse(urn=response.urn, id=known or "", properties=response.properties)
