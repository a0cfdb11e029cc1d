"""The llm-gateway layer's own settings (beyond tenants): how Tyk verifies tenants' JWTs."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from components.config.base import Strict

CLAIM = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z_][A-Za-z0-9_\-]*)*$")


class OidcConfig(Strict):
    """The identity provider whose JWTs Tyk accepts for tenants with an `oidcGroup`."""

    # Where the provider publishes its signing keys (the jwks_uri of its discovery document).
    jwks_uri: str = Field(min_length=9, max_length=2048)
    # The claim listing the caller's groups (a list or a space-separated string; dots nest).
    groups_claim: str = "groups"
    # The claim naming the caller; Tyk keeps one session per value.
    identity_claim: str = "sub"

    @field_validator("jwks_uri")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://") or any(c.isspace() for c in value):
            raise ValueError("jwksUri must be an https:// URL: Tyk trusts whatever keys it serves")
        return value

    @field_validator("groups_claim", "identity_claim")
    @classmethod
    def _claim(cls, value: str) -> str:
        if not CLAIM.match(value):
            raise ValueError(f"{value!r} is not a claim name (letters, digits, '_', '-', '.' between names)")
        return value


class GatewayConfig(Strict):
    oidc: OidcConfig | None = None
