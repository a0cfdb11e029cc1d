"""Every object every stack renders validates strictly: core kinds against the official
Kubernetes schemas, custom resources against the CRD schemas the project carries in
schemas/crds (or CRD_SCHEMA_DIR). A custom resource whose kind has no schema fails."""

from __future__ import annotations

import functools

from tests.conftest import rendered
from tooling.conformance import Conformance


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


def test_every_stack_renders_custom_resources_and_each_is_checked(stack):
    # A kind without a carried schema is an error in test_every_rendered_object_is_valid;
    # here, the custom resources a stack renders all resolve to a carried schema file.
    custom = {(o["apiVersion"], o["kind"]) for o in rendered(stack) if checker()._is_custom(o["apiVersion"])}
    assert custom, f"{stack} renders no custom resource: nothing here checks CRD schemas"
    missing = sorted(
        f"{api}/{kind}"
        for api, kind in custom
        if checker()._custom_schema_file(api.rpartition("/")[0], api.rpartition("/")[2], kind) is None
    )
    assert missing == []
