"""The CrossGuard rules hold on every recorded resource of every stack, and each rule
catches the mistake it exists for."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path

import pytest
from pulumi_policy import PolicyResourceOptions, ResourceValidationArgs

from policy.rules import RULES, Resource, violations
from tests.conftest import stack_run

ROOT = Path(__file__).resolve().parents[2]


def as_policy_resources(run) -> list[Resource]:
    by_urn = run.by_urn()
    out = []
    for r in run.resources:
        provider = by_urn.get(r.provider_urn)
        out.append(
            Resource(
                type=r.type,
                name=r.name,
                props=r.inputs,
                provider_type=provider.type if provider else None,
                provider_name=provider.name if provider else None,
                custom=r.custom,
                secret_paths=tuple(r.secret_inputs),
            )
        )
    return out


def test_every_stack_passes_every_rule(stack):
    found = {r.name: violations(r) for r in as_policy_resources(stack_run(stack))}
    assert {k: v for k, v in found.items() if v} == {}


def _root_with(stack: str = "dev") -> Resource:
    run = stack_run(stack)
    root = next(r for r in as_policy_resources(run) if r.name == "root-serving")
    return Resource(root.type, root.name, copy.deepcopy(root.props), root.provider_type, root.provider_name)


def _model_app(root: Resource) -> dict:
    return root.props["spec"]["source"]["helm"]["valuesObject"]["resources"][0]


def _carried(root: Resource, kind: str) -> dict:
    objects = _model_app(root)["spec"]["source"]["helm"]["valuesObject"]["resources"]
    return next(o for o in objects if o["kind"] == kind)


def test_default_provider_is_caught():
    bad = Resource("kubernetes:core/v1:Namespace", "ns", {}, "pulumi:providers:kubernetes", "default_4_34_2")
    assert violations(bad)["explicit-provider"]
    assert violations(Resource("kubernetes:core/v1:Namespace", "ns", {}))["explicit-provider"]


def test_unpinned_image_and_revision_are_caught():
    root = _root_with()
    _carried(root, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"] = "vllm/vllm-openai:latest"
    _model_app(root)["spec"]["source"]["targetRevision"] = "HEAD"
    found = violations(root)["pinned-versions"]
    assert any("latest" in m for m in found) and any("HEAD" in m for m in found)


def test_missing_cascade_finalizer_is_caught():
    root = _root_with()
    _model_app(root)["metadata"]["finalizers"] = []
    assert violations(root)["cascade-finalizer"]


def test_secret_values_in_applications_are_caught():
    root = _root_with()
    _model_app(root)["spec"]["source"]["helm"]["valuesObject"]["adminPassword"] = "hunter2"
    assert violations(root)["no-secret-values-in-applications"]
    marked = Resource(root.type, root.name, _root_with().props, "pulumi:providers:kubernetes", "cluster",
                      secret_paths=("spec.source",))
    assert violations(marked)["no-secret-values-in-applications"]


def test_gpu_pod_without_toleration_is_caught():
    root = _root_with()
    del _carried(root, "Deployment")["spec"]["template"]["spec"]["tolerations"]
    assert violations(root)["gpu-pods-target-gpu-nodes"]


def test_gpu_utilisation_scaling_is_caught():
    root = _root_with()
    _carried(root, "ScaledObject")["spec"]["triggers"][0]["metadata"]["query"] = "avg(DCGM_FI_DEV_GPU_UTIL)"
    assert violations(root)["no-gpu-utilisation-scaling"]


def test_root_container_is_caught():
    root = _root_with()
    pod = _carried(root, "Deployment")["spec"]["template"]["spec"]
    pod["securityContext"]["runAsNonRoot"] = False
    pod["containers"][0]["securityContext"] = {}
    assert len(violations(root)["workloads-run-unprivileged"]) == 2


@pytest.fixture(scope="module")
def pack_policies():
    """Load policy/__main__.py the way CrossGuard does, capturing the pack it declares."""
    import pulumi_policy

    captured = {}
    original = pulumi_policy.PolicyPack

    def capture(name, policies, enforcement_level=None, **_):
        captured.update(name=name, policies=policies)

    pulumi_policy.PolicyPack = capture
    sys.path.insert(0, str(ROOT / "policy"))
    try:
        spec = importlib.util.spec_from_file_location("policy_pack_main", ROOT / "policy" / "__main__.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        pulumi_policy.PolicyPack = original
        sys.path.remove(str(ROOT / "policy"))
    return captured


def test_the_pack_declares_every_rule_and_reports_through_crossguard(pack_policies):
    assert pack_policies["name"] == "inference-platform"
    by_name = {p.name: p for p in pack_policies["policies"]}
    assert set(by_name) == set(RULES)
    reported = []
    opts = PolicyResourceOptions(False, [], False, [], None, [], None)
    args = ResourceValidationArgs("kubernetes:core/v1:Namespace", {}, "urn:x", "ns", opts, None)
    by_name["explicit-provider"].validate(args, lambda message, urn: reported.append(message))
    assert reported and "explicit provider" in reported[0]
