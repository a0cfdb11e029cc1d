"""The pack's policies, importable without starting the analyzer (PolicyPack() serves gRPC).

What a policy receives is what the engine sends: inputs wrapped in the SDK's proxies, where
nested objects are Mappings and Sequences (not dicts and lists) and reading an unknown
value raises. `plain` turns that into plain data with UNKNOWN in place of unknowns, so the
rules see the same shapes they see in tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, ResourceValidationArgs, ResourceValidationPolicy
from pulumi_policy.proxy import UnknownValueError

try:  # CrossGuard runs the pack from this folder
    from rules import RULES, UNKNOWN, Resource
except ImportError:  # tests import it as part of the project
    from policy.rules import RULES, UNKNOWN, Resource

NAME = "inference-platform"


def _item(container: Any, key: Any) -> Any:
    try:
        return plain(container[key])
    except UnknownValueError:
        return UNKNOWN


def plain(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return {key: _item(value, key) for key in value}
    if isinstance(value, Sequence):
        return [_item(value, i) for i in range(len(value))]
    return value


def to_resource(args: ResourceValidationArgs) -> Resource:
    provider = args.provider
    return Resource(
        type=args.resource_type,
        name=args.name,
        props=plain(args.props),
        provider_type=provider.resource_type if provider else None,
        provider_name=provider.name if provider else None,
    )


def policy(name: str, description: str, rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation) -> None:
        for message in rule(to_resource(args)):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=EnforcementLevel.MANDATORY
    )


POLICIES = [policy(name, description, rule) for name, (description, rule) in RULES.items()]
