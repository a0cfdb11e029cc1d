"""Substrates: one module each, imported only when the stack selects it."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from components.config import StackConfig
    from contract.facts import ClusterFacts

# kind -> module. Importing lazily keeps pulumi-gcp (about 300 MB) out of other stacks.
MODULES = {
    "gke": "substrate.gke",
    "hetzner": "substrate.hetzner",
    "vks": "substrate.vks",
    "kind": "substrate.kind",
    "existing": "substrate.existing",
}


def build_substrate(cfg: StackConfig) -> ClusterFacts:
    """Create the selected substrate's component and return its ClusterFacts."""
    module = importlib.import_module(MODULES[cfg.substrate.kind])
    return module.build(cfg)
