"""No key, password or token in any rendered object or recorded Pulumi input of any stack.

Rendered objects are what Argo CD and Pulumi would apply (Applications with their values,
first-party manifests); inputs are what Pulumi records in state. Values Pulumi holds as
secrets are ciphertext in state (skipped, and redacted in rendered objects).
"""

from __future__ import annotations

import copy

import pytest

from tests.conftest import STACKS, rendered, stack_run
from tooling.secret_scan import scan, scan_object


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_no_secret_in_rendered_objects(stack):
    found = [f for obj in rendered(stack) for f in scan_object(obj)]
    assert found == [], f"{stack}: {found}"


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_no_secret_in_pulumi_inputs(stack):
    run = stack_run(stack)
    assert run.resources
    found = [f"{r.type} {r.name}: {f}" for r in run.resources for f in scan(r.inputs, r.type, tuple(r.secret_inputs))]
    assert found == [], f"{stack}: {found}"


def _application(stack: str) -> dict:
    return next(o for o in rendered(stack) if o.get("kind") == "Application")


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("spec", "source", "helm", "valuesObject", "masterKey"), "sk-" + "A1b2C3d4E5f6G7h8I9j0"),
        (("spec", "source", "helm", "valuesObject", "auth", "password"), "x9Qm2Lr7Tz4Kp8Wv3Nb6"),
        (("spec", "source", "helm", "valuesObject", "tls"), "-----BEGIN PRIVATE KEY-----\nMIIE\n"),
        (("spec", "source", "helm", "valuesObject", "token"), "AGE-SECRET-KEY-1" + "Q" * 40),
    ],
)
def test_an_injected_secret_is_found(where, value):
    app = copy.deepcopy(_application("local"))
    target = app
    for key in where[:-1]:
        target = target.setdefault(key, {})
    target[where[-1]] = value
    found = scan_object(app)
    assert len(found) == 1 and ".".join(where) in found[0]
    assert value not in found[0], "a finding names the path, never the value"


def test_an_injected_input_is_found_unless_pulumi_holds_it_as_secret():
    inputs = {"metadata": {"name": "x"}, "stringData": {"apiKey": "Zr8pQ2mN5vK1xW7tB4cY9s"}}
    assert scan(inputs, "kubernetes:core/v1:Secret") != []
    assert scan(inputs, "kubernetes:core/v1:Secret", ("stringData",)) == []


def test_secret_data_is_found_unless_redacted():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "c2hvcnQ="}}
    assert scan_object(secret) == ["s: Secret data.k: a Secret value"]
    assert scan_object(secret | {"data": {"k": "<redacted>"}}) == []


@pytest.mark.parametrize(
    "value", ["tenant-team-a-litellm-key", "tyk-gateway-secret", "litellm-master-key", "APISecret", "password"]
)
def test_names_of_secrets_are_not_secrets(value):
    assert scan({"secretKeyRef": {"name": value, "key": value}, "passwordKey": value, "token": value}, "Pod") == []
