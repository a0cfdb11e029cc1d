"""CrossGuard pack: `pulumi preview --policy-pack policy` enforces the platform's rules."""

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationArgs, ResourceValidationPolicy
from rules import RULES, Resource


def to_resource(args: ResourceValidationArgs) -> Resource:
    provider = args.provider
    return Resource(
        type=args.resource_type,
        name=args.name,
        props=dict(args.props),
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


PolicyPack(
    name="inference-platform",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[policy(name, description, rule) for name, (description, rule) in RULES.items()],
)
