"""Shared fixtures: stack runs under the recording mock are cached per session."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tooling.program import Run, run_program, stack_files, stack_name  # noqa: E402
from tooling.render import expand, pulumi_objects  # noqa: E402

STACKS = {stack_name(p): p for p in stack_files()}


@functools.cache
def stack_run(stack: str, preview: bool = False) -> Run:
    return run_program(STACKS[stack], preview=preview)


@functools.cache
def rendered(stack: str) -> tuple[dict, ...]:
    return tuple(expand(pulumi_objects(stack_run(stack))))


@pytest.fixture(params=sorted(STACKS))
def stack(request) -> str:
    return request.param
