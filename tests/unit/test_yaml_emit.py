"""The render's YAML writer round-trips every rendered object exactly."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import STACKS, rendered
from tooling.yaml_emit import dump

TRICKY = {
    "empty": {},
    "none": None,
    "list": [],
    "bools": ["yes", "No", "on", "true", "y", "~", "null"],
    "numbers": ["1", "0o14", "1e3", "0x1F", "1_000", ".5", "-1", 1, 2.5, -3],
    "text": ["", " lead", "trail ", "a: b", "- item", "#comment", "multi\nline\n", "quote\"s", "tab\there", "ü"],
    "nested": [[1, [2, {}]], {"a": [{"b": None}]}, [{}], [[]]],
    "keys": {"1": "one", "true": "t", "a b": "c", "x:y": 1},
}


def test_tricky_values_round_trip():
    assert yaml.safe_load(dump(TRICKY)) == TRICKY


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_every_rendered_object_round_trips(stack):
    for obj in rendered(stack):
        assert yaml.safe_load(dump(obj)) == obj


def test_refuses_what_it_cannot_write():
    with pytest.raises(TypeError):
        dump({"a": object()})
