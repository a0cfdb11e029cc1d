"""Every object every stack renders validates strictly: core kinds against the official
Kubernetes schemas, custom resources against the upstream CRD schemas (CRD_SCHEMA_DIR)."""

from __future__ import annotations

import functools
from collections import Counter

import pytest

from tests.conftest import rendered
from tooling.conformance import Conformance, crd_schema_dir


@functools.cache
def checker() -> Conformance:
    return Conformance(k8s_version="1.33.0")


def test_every_rendered_object_is_valid(stack):
    objects = rendered(stack)
    assert objects, f"{stack} rendered nothing"
    errors = {}
    for obj in objects:
        problems = checker().validate(obj)
        if problems:
            errors[f"{obj['kind']}/{obj['metadata'].get('namespace', '-')}/{obj['metadata']['name']}"] = problems
    assert errors == {}


def test_custom_resources_are_checked_or_skipped_with_a_reason(stack):
    skipped = Counter()
    for obj in rendered(stack):
        reason = checker().skipped(obj)
        if reason:
            skipped[reason] += 1
    if crd_schema_dir() is not None:
        assert not skipped, f"with a schema folder nothing may be skipped: {dict(skipped)}"
    elif skipped:
        pytest.skip(f"custom resources not validated: {'; '.join(skipped)}")
