"""Tenants: bad input is refused with the key path and what is allowed."""

from __future__ import annotations

import pytest

from components.config import ConfigError, parse_stack_config
from tests.plain_facts import KIND_GATEWAY_STACK

AGE = "AGE-SECRET-KEY-1TEST"
MODEL = {"name": "qwen", "source": "hf://Qwen/Qwen2.5-0.5B-Instruct", "gpus": 0,
         "adapters": [{"name": "sql", "source": "hf://org/sql-lora"}]}
TENANT = {"name": "team-a", "models": ["qwen", "sql"], "monthlyBudget": 50}


def stack(**overrides) -> dict:
    return KIND_GATEWAY_STACK | {"models": [MODEL], "tenants": [TENANT]} | overrides


def refused(values: dict) -> str:
    with pytest.raises(ConfigError) as err:
        parse_stack_config(values)
    (line,) = str(err.value).splitlines()[1:]
    return line.strip()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tenants": [TENANT | {"models": ["llama"]}]},
         "inference-platform:tenants[0].models: tenant 'team-a' names llama, which no model or adapter is; "
         "models and adapters: qwen, sql"),
        ({"tenants": [TENANT | {"monthlyBudget": -5}]},
         "inference-platform:tenants[0].monthlyBudget: Input should be greater than 0"),
        ({"tenants": [TENANT, TENANT]},
         "inference-platform:tenants: tenant names must be unique; repeated: team-a"),
        ({"tenants": [TENANT | {"models": ["qwen", "qwen"]}]},
         "inference-platform:tenants[0].models: models lists qwen more than once"),
        ({"tenants": [TENANT | {"name": "Team A"}]},
         "inference-platform:tenants[0].name: 'Team A' is not a DNS label: lower-case letters, digits and '-', "
         "starting with a letter, at most 40 characters"),
        ({"tenants": [TENANT | {"rateLimit": {"requests": 0}}]},
         "inference-platform:tenants[0].rateLimit.requests: Input should be greater than or equal to 1"),
        ({"tenants": [TENANT | {"monthly_budget": 5}]},
         "inference-platform:tenants[0].monthly_budget: unknown key"),
    ],
    ids=["unknown model", "negative budget", "duplicate tenant", "model twice", "bad name", "zero rate", "spelling"],
)
def test_bad_tenants_are_refused_with_the_key_path(overrides, message):
    assert refused(stack(**overrides)).startswith(message)


def test_tenants_need_the_gateway_layer():
    line = refused(stack(profile="serving"))
    assert line == (
        "inference-platform:tenants: tenants need the llm-gateway layer; profile 'serving' does not include it"
    )
