"""The CrossGuard pack, called the way the engine calls it: every registered resource
(custom resources, components, providers and the stack resource) goes to the SDK's analyzer
as an AnalyzeRequest with its wire-format inputs, options and provider. Every stack passes in
update and preview mode, and each rule catches the mistake it exists for."""

from __future__ import annotations

import copy
import re

import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policy.pack import NAME, POLICIES, plain
from policy.rules import RULES, UNKNOWN, kind_of
from tests.conftest import stack_run
from tooling.mocks import UNKNOWN as WIRE_UNKNOWN
from tooling.mocks import Recorded
from tooling.program import Run

MODES = [False, True]
DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")


@pytest.fixture(scope="module")
def analyzer() -> _PolicyAnalyzerServicer:
    # What PolicyPack() serves over gRPC, without the server.
    return _PolicyAnalyzerServicer(NAME, "0.0.1", POLICIES, EnforcementLevel.MANDATORY)


@pytest.fixture(params=MODES, ids=["update", "preview"])
def run(request, stack) -> Run:
    return stack_run(stack, request.param)


def seconds(duration: str | None) -> float:
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[unit] for n, unit in DURATION.findall(duration or ""))


def struct(props: dict) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(props)
    return out


def request_for(run: Run, r: Recorded, props: struct_pb2.Struct | None = None) -> analyzer_pb2.AnalyzeRequest:
    """The AnalyzeRequest the engine builds for a registered resource (step_generator.go)."""
    timeouts = r.custom_timeouts or {}
    options = analyzer_pb2.AnalyzerResourceOptions(
        protect=r.protect,
        ignoreChanges=r.ignore_changes,
        deleteBeforeReplace=r.delete_before_replace,
        deleteBeforeReplaceDefined=r.delete_before_replace,
        additionalSecretOutputs=r.additional_secret_outputs,
        aliases=[a["urn"] for a in r.aliases if "urn" in a],
        parent=r.parent,
    )
    if r.custom_timeouts:
        in_seconds = {op: seconds(timeouts[op]) for op in ("create", "update", "delete")}
        options.customTimeouts.CopyFrom(analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(**in_seconds))
    request = analyzer_pb2.AnalyzeRequest(
        type=r.type, urn=r.urn, name=r.name, options=options, properties=props if props is not None else r.wire
    )
    provider = run.by_urn().get(r.provider_urn)
    if provider is not None:
        request.provider.CopyFrom(
            analyzer_pb2.AnalyzerProviderResource(
                type=provider.type, urn=provider.urn, name=provider.name, properties=provider.wire
            )
        )
    return request


def stack_request(run: Run) -> analyzer_pb2.AnalyzeRequest:
    name = run.stack_urn.rsplit("::", 1)[-1]
    return analyzer_pb2.AnalyzeRequest(
        type="pulumi:pulumi:Stack", urn=run.stack_urn, name=name, options=analyzer_pb2.AnalyzerResourceOptions()
    )


def diagnostics(analyzer, request) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for d in analyzer.Analyze(request, None).diagnostics:
        found.setdefault(d.policyName, []).append(d.message)
    return found


def test_the_pack_declares_every_rule():
    assert {p.name for p in POLICIES} == set(RULES)
    assert all(p.enforcement_level == EnforcementLevel.MANDATORY for p in POLICIES)


def test_every_resource_the_engine_sends_passes(analyzer, run):
    """Custom resources, components, providers (and reads, which the engine only lists in
    stack analysis) of every stack, in update and preview, and the stack resource."""
    kinds = {kind_of(r.type) for r in run.resources}
    assert kinds == {"custom", "component", "provider"}
    found = {r.key: diagnostics(analyzer, request_for(run, r)) for r in run.resources}
    assert {k: v for k, v in found.items() if v} == {}
    assert run.stack_urn.endswith(f"pulumi:pulumi:Stack::{NAME}-{run.stack}")
    assert diagnostics(analyzer, stack_request(run)) == {}


def test_the_pack_tells_components_providers_and_custom_resources_apart(run):
    for r in run.resources:
        expected = "provider" if r.type.startswith("pulumi:providers:") else "custom" if r.custom else "component"
        assert kind_of(r.type) == expected, (r.type, r.name)
    assert kind_of("pulumi:pulumi:Stack") == "stack"


def test_no_provider_is_a_default_provider(run):
    by_urn = run.by_urn()
    for r in run.resources:
        if kind_of(r.type) == "custom":
            assert not by_urn[r.provider_urn].name.startswith("default"), r.key


# --- Injected mistakes are reported through the analyzer ---------------------------------


def _root(stack: str = "dev") -> tuple[Run, Recorded, dict]:
    run = stack_run(stack)
    root = next(r for r in run.resources if r.name == "root-serving")
    return run, root, copy.deepcopy(root.inputs)


def _model_app(props: dict) -> dict:
    return props["spec"]["source"]["helm"]["valuesObject"]["resources"][0]


def _carried(props: dict, kind: str) -> dict:
    objects = _model_app(props)["spec"]["source"]["helm"]["valuesObject"]["resources"]
    return next(o for o in objects if o["kind"] == kind)


def _report(analyzer, props: dict, stack: str = "dev") -> dict[str, list[str]]:
    run, root, _ = _root(stack)
    return diagnostics(analyzer, request_for(run, root, struct(props)))


def test_a_default_or_missing_provider_is_caught(analyzer):
    run = stack_run("dev")
    namespace = next(r for r in run.resources if r.type == "kubernetes:core/v1:Namespace")
    request = request_for(run, namespace)
    request.provider.name = "default_4_23_0"
    request.provider.urn = request.provider.urn.rsplit("::", 1)[0] + "::default_4_23_0"
    assert "explicit-provider" in diagnostics(analyzer, request)
    request.ClearField("provider")
    assert "explicit-provider" in diagnostics(analyzer, request)


def test_a_custom_resource_dressed_as_nothing_in_particular_still_needs_a_provider(analyzer):
    request = analyzer_pb2.AnalyzeRequest(type="gcp:compute/network:Network", urn="urn:x", name="net")
    assert "explicit-provider" in diagnostics(analyzer, request)


def test_unpinned_image_and_revision_are_caught(analyzer):
    _, _, props = _root()
    _carried(props, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"] = "vllm/vllm-openai:latest"
    _model_app(props)["spec"]["source"]["targetRevision"] = "HEAD"
    found = _report(analyzer, props)["pinned-versions"]
    assert any("latest" in m for m in found) and any("HEAD" in m for m in found)


def test_missing_cascade_finalizer_is_caught(analyzer):
    _, _, props = _root()
    _model_app(props)["metadata"]["finalizers"] = []
    assert "cascade-finalizer" in _report(analyzer, props)


def test_secret_values_in_applications_are_caught(analyzer):
    _, _, props = _root()
    _model_app(props)["spec"]["source"]["helm"]["valuesObject"]["adminPassword"] = "hunter2"
    assert "no-secret-values-in-applications" in _report(analyzer, props)
    _, _, props = _root()
    _carried(props, "Deployment")["kind"] = "Secret"
    assert "no-secret-values-in-applications" in _report(analyzer, props)
    # A key inside a named Secret is a reference; alone, the same key holds a value.
    _, _, props = _root()
    values = _model_app(props)["spec"]["source"]["helm"]["valuesObject"]
    values.update(masterkeySecretName="litellm-master-key", masterkeySecretKey="master-key")
    assert "no-secret-values-in-applications" not in _report(analyzer, props)
    del values["masterkeySecretName"]
    assert "no-secret-values-in-applications" in _report(analyzer, props)
    # The same within one block (helm/litellm's masterKey.secretName/secretKey).
    _, _, props = _root()
    values = _model_app(props)["spec"]["source"]["helm"]["valuesObject"]
    values["masterKey"] = {"secretName": "litellm-master-key", "secretKey": "master-key"}
    assert "no-secret-values-in-applications" not in _report(analyzer, props)
    del values["masterKey"]["secretName"]
    assert "no-secret-values-in-applications" in _report(analyzer, props)


def test_gpu_pod_without_toleration_is_caught(analyzer):
    _, _, props = _root()
    del _carried(props, "Deployment")["spec"]["template"]["spec"]["tolerations"]
    assert "gpu-pods-target-gpu-nodes" in _report(analyzer, props)


def test_gpu_utilisation_scaling_is_caught(analyzer):
    _, _, props = _root()
    _carried(props, "ScaledObject")["spec"]["triggers"][0]["metadata"]["query"] = "avg(DCGM_FI_DEV_GPU_UTIL)"
    assert "no-gpu-utilisation-scaling" in _report(analyzer, props)


def test_root_container_is_caught(analyzer):
    _, _, props = _root()
    pod = _carried(props, "Deployment")["spec"]["template"]["spec"]
    pod["securityContext"]["runAsNonRoot"] = False
    pod["containers"][0]["securityContext"] = {}
    assert len(_report(analyzer, props)["workloads-run-unprivileged"]) == 2


def test_an_unpinned_helm_release_is_caught(analyzer):
    run = stack_run("dev")
    release = next(r for r in run.resources if r.type == "kubernetes:helm.sh/v3:Release")
    props = {k: v for k, v in copy.deepcopy(release.inputs).items() if k != "version"}
    assert "pinned-versions" in diagnostics(analyzer, request_for(run, release, struct(props)))


# --- Unknown values in preview ----------------------------------------------------------


def test_unknown_values_are_not_reported_and_do_not_stop_the_rules(analyzer):
    """A value only known after create is UNKNOWN to the rules: not a violation, and the
    rest of the resource is still checked."""
    _, _, props = _root()
    _carried(props, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"] = WIRE_UNKNOWN
    _model_app(props)["spec"]["source"]["targetRevision"] = WIRE_UNKNOWN
    assert _report(analyzer, props) == {}
    _model_app(props)["metadata"]["finalizers"] = []
    assert list(_report(analyzer, props)) == ["cascade-finalizer"]


def test_plain_turns_the_sdks_proxies_into_plain_data():
    from pulumi_policy.proxy import unknown_checking_proxy

    proxied = unknown_checking_proxy({"a": {"b": [{"c": 1}, WIRE_UNKNOWN]}, "d": WIRE_UNKNOWN})
    assert plain(proxied) == {"a": {"b": [{"c": 1}, UNKNOWN]}, "d": UNKNOWN}
    assert type(plain(proxied)["a"]["b"][0]) is dict
