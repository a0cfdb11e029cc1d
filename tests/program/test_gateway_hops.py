"""The llm-gateway layer's hops find one another: a NetworkPolicy that admits a workload the
platform renders itself selects labels that workload's pods really carry, and the pods of
charts are labelled (through their values) the way the policies expect."""

from __future__ import annotations

import pytest

from components.catalog import load_catalog
from components.gateway import names
from tests.conftest import STACKS, rendered, stack_run

GATEWAY_STACKS = [s for s in sorted(STACKS) if "gateway" in s]


def pod_labels(objects) -> list[dict[str, str]]:
    out = []
    for obj in objects:
        template = (obj.get("spec") or {}).get("template") or {}
        if obj.get("kind") in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            out.append(((template.get("metadata") or {}).get("labels")) or {})
    return out


def selected(policy) -> list[dict[str, str]]:
    """Pod selectors of the policy's ingress sources inside its own namespace."""
    out = []
    for rule in policy["spec"].get("ingress", []):
        for peer in rule.get("from", []):
            if "podSelector" in peer and "namespaceSelector" not in peer:
                out.append(peer["podSelector"].get("matchLabels") or {})
    return out


def test_there_are_gateway_stacks():
    assert GATEWAY_STACKS, "examples/ must hold llm-gateway stacks"


@pytest.mark.parametrize("stack", GATEWAY_STACKS)
def test_the_tenant_reconciler_is_admitted_by_litellm_and_carries_the_labels(stack):
    objects = rendered(stack)
    jobs = [o for o in objects if o["kind"] == "Job" and o["metadata"]["name"] == "tenant-reconciler"]
    assert jobs, "the stack has tenants, so it renders the reconcile Job"
    labels = jobs[0]["spec"]["template"]["metadata"]["labels"]
    assert names.RECONCILER_POD.items() <= labels.items()
    litellm = [
        o for o in objects
        if o["kind"] == "NetworkPolicy" and o["spec"]["podSelector"].get("matchLabels", {}).items()
        >= names.LITELLM_POD.items()
    ]
    assert litellm, "LiteLLM has a NetworkPolicy"
    assert any(sel.items() <= labels.items() for p in litellm for sel in selected(p) if sel)


@pytest.mark.parametrize("stack", GATEWAY_STACKS)
def test_policies_selecting_rendered_workloads_match_their_pods(stack):
    """A selector naming a rendered workload's `app.kubernetes.io/name` must match its pods."""
    objects = [o for o in rendered(stack) if o.get("metadata", {}).get("namespace") == names.NAMESPACE]
    pods = pod_labels(objects)
    rendered_names = {p.get("app.kubernetes.io/name") for p in pods} - {None}
    for policy in (o for o in objects if o["kind"] == "NetworkPolicy"):
        for sel in selected(policy):
            if sel.get("app.kubernetes.io/name") in rendered_names:
                assert any(sel.items() <= p.items() for p in pods), (policy["metadata"]["name"], sel)


def test_chart_pods_carry_the_labels_the_policies_select():
    catalog = load_catalog()
    tyk = catalog["tyk"].values["gateway"]["podLabels"]
    assert names.TYK_POD.items() <= tyk.items()
    # helm/litellm labels its pods app.kubernetes.io/name: <nameOverride or the chart's name>.
    litellm = catalog["litellm"]
    assert (litellm.values.get("nameOverride") or litellm.chart.name) == names.LITELLM_POD["app.kubernetes.io/name"]


def test_a_stack_run_of_each_gateway_stack_registers_its_roots():
    for stack in GATEWAY_STACKS:
        roots = [r.name for r in stack_run(stack).of_type("kubernetes:argoproj.io/v1alpha1:Application")]
        assert any(name.startswith("root-llm-gateway") for name in roots), stack
