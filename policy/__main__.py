"""CrossGuard pack: `pulumi preview --policy-pack policy` enforces the platform's rules."""

from pack import NAME, POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(name=NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
