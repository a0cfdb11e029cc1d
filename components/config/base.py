"""Shared building blocks of the stack config schema."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# Kubernetes label keys may carry a DNS prefix; values are at most 63 characters.
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


class Strict(BaseModel):
    """Base of every config section: unknown keys are errors, keys are camelCase.

    Input is read by the documented camelCase alias only: `gpu_type` is an unknown key,
    not a second spelling of `gpuType`.
    """

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        frozen=True,
        str_strip_whitespace=True,
    )


def key_error(at: str, message: str) -> PydanticCustomError:
    """An error about the key `at`, a path below the validated model (e.g. `argocd.namespace`).

    Model validators see the whole section, so without this every error they raise would
    be reported at the section; the loader joins `at` onto the section's own path.
    """
    return PydanticCustomError("config_key", "{message}", {"at": at, "message": message})


def dns_label(value: str, max_len: int = 63) -> str:
    if len(value) > max_len or not DNS_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS label: lower-case letters, digits and '-', "
            f"starting with a letter, at most {max_len} characters"
        )
    return value


def check_labels(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        if not LABEL_KEY.match(key) or len(key.split("/")[-1]) > 63:
            raise ValueError(f"label key {key!r} is not a valid Kubernetes label key")
        if len(value) > 63 or not LABEL_VALUE.match(value):
            raise ValueError(f"label value {value!r} (key {key!r}) is not a valid Kubernetes label value")
    return labels


class GpuPoolSpec(Strict):
    """What every substrate's GPU pool has in common; substrates add their own fields."""

    name: str
    accelerator: str = Field(min_length=1, description="accelerator type, e.g. nvidia-l4")
    count: int = Field(default=1, ge=1, le=16, description="GPUs per node")
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return dns_label(value, 40)

    @field_validator("accelerator")
    @classmethod
    def _accelerator(cls, value: str) -> str:
        return dns_label(value)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return check_labels(value)
