"""Per-substrate config sections, one discriminated union keyed by `kind`.

Each substrate's section lives in its own module beside this one.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from components.config.existing import ExistingSubstrate
from components.config.gke import GkeSubstrate
from components.config.hetzner import HetznerSubstrate
from components.config.kind import KindSubstrate
from components.config.vks import VksSubstrate

SubstrateConfig = Annotated[
    GkeSubstrate | HetznerSubstrate | VksSubstrate | KindSubstrate | ExistingSubstrate,
    Field(discriminator="kind"),
]
SUBSTRATE_KINDS = ("gke", "hetzner", "vks", "kind", "existing")
