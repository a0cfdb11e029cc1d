"""The llm-gateway layer's own settings (beyond tenants): how Tyk verifies tenants' JWTs, and TLS
on the hops of the request path."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from components.config.base import Strict, key_error

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


# cert-manager durations, whole hours only: one unit keeps the comparisons below exact.
HOURS = re.compile(r"^[1-9][0-9]{0,6}h$")
# A DNS name a client may call Tyk by (RFC 1123 labels; a leading `*.` for a wildcard).
DNS_NAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def hours(value: str) -> int:
    return int(value[:-1])


class TlsConfig(Strict):
    """TLS on client -> Tyk -> LiteLLM -> Gateway (-> model servers), with certificates
    cert-manager issues in the cluster from CAs of the platform's own (docs/gateway.md#tls)."""

    enabled: bool = True
    # The Gateway -> model-server hop too (raw vLLM text models, Istio Gateway): vLLM serves
    # HTTPS and the Gateway verifies it (components/serving/serving_tls.py).
    model_servers: bool = True
    # The layer's CA certificate; consumers load it at start, so its renewal restarts them.
    ca_duration: str = "43800h"
    # Every leaf certificate (Tyk, LiteLLM, the Gateway).
    certificate_duration: str = "2160h"
    renew_before: str = "720h"
    # Names clients outside the cluster call Tyk by (a load balancer's DNS name).
    tyk_dns_names: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("ca_duration", "certificate_duration", "renew_before")
    @classmethod
    def _hours(cls, value: str) -> str:
        if not HOURS.match(value):
            raise ValueError(f"{value!r} is not a whole number of hours (e.g. 2160h)")
        return value

    @field_validator("tyk_dns_names")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if len(name) > 253 or not DNS_NAME.match(name):
                raise ValueError(f"{name!r} is not a lower-case DNS name")
        if len(set(value)) != len(value):
            raise ValueError("names must be unique")
        return value

    @model_validator(mode="after")
    def _order(self) -> TlsConfig:
        if hours(self.renew_before) >= hours(self.certificate_duration):
            raise key_error(
                "renewBefore",
                f"renewBefore {self.renew_before} must be shorter than certificateDuration "
                f"{self.certificate_duration}: cert-manager would renew the certificate continuously",
            )
        if hours(self.certificate_duration) > hours(self.ca_duration):
            raise key_error(
                "certificateDuration",
                f"certificateDuration {self.certificate_duration} is longer than caDuration {self.ca_duration}: "
                "a certificate cannot outlive the CA that signs it",
            )
        return self


class GatewayConfig(Strict):
    oidc: OidcConfig | None = None
    tls: TlsConfig = TlsConfig()
