"""kind (local) substrate config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from components.config.common import SubstrateBase


class KindSubstrate(SubstrateBase):
    kind: Literal["kind"]
    cluster_name: str = "inference-local"
    # kind's node image, pinned by digest so every laptop runs the same Kubernetes.
    node_image: str = (
        "kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f"
    )
    workers: int = Field(default=1, ge=0, le=4)

    @field_validator("node_image")
    @classmethod
    def _image(cls, value: str) -> str:
        if "@sha256:" not in value:
            raise ValueError(f"{value!r} must be pinned by digest (kindest/node:<tag>@sha256:<digest>)")
        return value
