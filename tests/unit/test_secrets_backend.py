"""The default secrets backend (sops) is refused without its age key, on every substrate."""

from __future__ import annotations

import pytest

from components.config import ConfigError, parse_stack_config

AGE = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"


def test_kind_on_the_default_backend_without_a_key_is_refused():
    # Before, kind was exempt and got a SOPS operator whose key Secret never existed.
    with pytest.raises(ConfigError) as caught:
        parse_stack_config({"substrate": {"kind": "kind"}})
    message = str(caught.value)
    assert "inference-platform:sopsAgeKey" in message
    assert "pulumi config set --secret inference-platform:sopsAgeKey" in message
    assert "secrets.backend: none" in message


def test_kind_with_a_key_or_without_secret_delivery_parses():
    with_key = parse_stack_config({"substrate": {"kind": "kind"}, "sopsAgeKey": AGE}, secret_keys=["sopsAgeKey"])
    assert with_key.secrets.backend == "sops"
    assert parse_stack_config({"substrate": {"kind": "kind"}, "secrets": {"backend": "none"}}).sops_age_key is None
