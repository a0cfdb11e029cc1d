"""The existing substrate: GPU pools select nodes only by labels those nodes already carry."""

from __future__ import annotations

import pytest

from components.config import ConfigError, parse_stack_config
from contract.facts import ClusterFacts
from tooling.program import run_function

KUBECONFIG = "apiVersion: v1\nkind: Config\n"
AGE = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
SECRETS = ["kubeconfig", "sopsAgeKey"]
INSTANCE = {"node.kubernetes.io/instance-type": "g6e.12xlarge"}


def stack(pools: list[dict]) -> dict:
    return {
        "substrate": {"kind": "existing", "gpuPools": pools},
        "kubeconfig": KUBECONFIG,
        "sopsAgeKey": AGE,
    }


def facts_of(pools: list[dict]) -> ClusterFacts:
    holder: dict[str, ClusterFacts] = {}

    def program() -> None:
        from substrate import build_substrate

        holder["facts"] = build_substrate(parse_stack_config(stack(pools), secret_keys=SECRETS))

    run_function(program)
    return holder["facts"]


@pytest.mark.parametrize("pool", [{}, {"labels": {}}], ids=["labels left out", "labels empty"])
def test_a_pool_without_labels_its_nodes_carry_is_refused(pool):
    # No label would select its nodes: nothing on an existing cluster puts one there.
    with pytest.raises(ConfigError, match=r"substrate\.gpuPools\[0\]\.labels: .*labels that its nodes already carry"):
        parse_stack_config(stack([{"name": "l40s", "accelerator": "nvidia-l40s", **pool}]), secret_keys=SECRETS)


def test_pool_facts_select_exactly_the_declared_labels():
    facts = facts_of(
        [
            {"name": "l40s", "accelerator": "nvidia-l40s", "count": 4, "labels": INSTANCE},
            {"name": "a10", "accelerator": "nvidia-a10g", "labels": {"gpu": "a10"}, "taints": False},
        ]
    )
    pools = {p.name: p for p in facts.gpu_pools}
    assert pools["l40s"].labels == INSTANCE
    assert pools["a10"].labels == {"gpu": "a10"}
    assert [t.key for t in pools["l40s"].taints] == ["nvidia.com/gpu"]
    assert pools["a10"].taints == ()
    # A cluster made elsewhere outlives the stack: nothing in it is deleted with anything.
    assert facts.deleted_with is None
