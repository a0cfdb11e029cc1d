"""The cheapest scaling settings that meet a TTFT SLO on a trace.

The search is over the three knobs a stack sets for a model: waitingRequestsTarget,
replicas.max and the GPU pool's minNodes (warm nodes). For each (pool minimum, max) it takes
the largest target that still meets the SLO (a larger target scales later and so costs
less), then keeps the combination with the fewest GPU-hours. When none meets the SLO,
replicas.min is raised too: capacity kept warm is the one lever a cold start cannot outrun.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from simulator.engine import Scenario, simulate
from simulator.report import percentile
from simulator.traces import Trace

TARGETS = (40, 20, 10, 5, 3, 2, 1)


def _score(scenario: Scenario, trace: Trace, slo_ms: float, q: float) -> tuple[float, float]:
    # More misses than the percentile allows settles it: stop there rather than run the trace out.
    allowed = math.floor(len(trace.requests) * (1 - q / 100))
    result = simulate(replace(scenario, stop_after_misses=allowed, slo_seconds=slo_ms / 1000), trace)
    if result.stopped:
        return math.inf, math.inf
    ttft = result.ttft + [math.inf] * result.unfinished
    return percentile([t * 1000 for t in ttft], q), result.gpu_node_seconds / 3600


def recommend(base: Scenario, trace: Trace, slo_ms: float, q: float = 95, max_cap: int | None = None) -> dict[str, Any]:
    policy = base.policy
    if not any(t.metric == "queue" for t in policy.triggers):
        return {"found": False, "evaluated": 0, "reason": "the rendered policy has no queue-depth trigger"}
    node_capacity = base.pool_max * base.per_node
    cap = min(max_cap or node_capacity, node_capacity)
    static_pool = base.cold.node_provisioning is None
    evaluated = 0
    best: dict[str, Any] | None = None
    for low in range(max(policy.min_replicas, 1), cap + 1):
        for high in range(low, cap + 1):
            needed = math.ceil(high / base.per_node)
            pool_mins = [base.pool_min] if static_pool else range(0, needed + 1)
            for pool_min in pool_mins:
                for target in TARGETS:
                    candidate = replace(policy.with_queue_target(target), min_replicas=low, max_replicas=high)
                    scenario = replace(base, policy=candidate, pool_min=pool_min)
                    ttft, gpu_hours = _score(scenario, trace, slo_ms, q)
                    evaluated += 1
                    if ttft <= slo_ms:
                        option = {"found": True, "_gpu": gpu_hours, "waitingRequestsTarget": target,
                                  "maxReplicas": high, "minReplicas": low, "poolMinNodes": pool_min,
                                  "ttftMs": round(ttft, 1), "gpuHours": round(gpu_hours, 3)}
                        if best is None or gpu_hours < best["_gpu"] - 1e-6:
                            best = option
                        break
        if best is not None:
            best.pop("_gpu")
            best["evaluated"] = evaluated
            best["minRaised"] = low > max(policy.min_replicas, 1)
            best["staticPool"] = static_pool
            return best
    return {"found": False, "evaluated": evaluated,
            "reason": f"even with {cap} replica(s) kept warm it is missed: the service model is too slow for this "
                      "SLO on this trace"}
