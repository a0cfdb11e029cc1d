"""The HorizontalPodAutoscaler's arithmetic and KEDA's 0 <-> 1 step, as the controllers do them.

Follows kube-controller-manager's podautoscaler (replica_calculator.go, horizontal.go):
- External metric, AverageValue target: usage ratio = total / (target * current replicas);
  outside the tolerance the proposal is ceil(total / target), whatever the pods' readiness.
- External metric, Value target: usage ratio = value / target; outside the tolerance the
  proposal is ceil(ratio * ready pods).
- Several metrics: the largest proposal wins.
- Stabilisation: the applied count lies between the smallest recommendation of the scale-up
  window and the largest of the scale-down window (each window includes this sync).
- Rate policies: per policy, the replica count at the start of its period (current minus
  what was added plus what was removed in the period) plus (or minus) its allowance;
  selectPolicy Max takes the most permissive policy, Min the least, Disabled none.
- Bounds: min and max replicas last.
KEDA: the HPA never sees zero replicas; KEDA's operator, every pollingInterval, wakes a
target at 0 when a trigger's value exceeds its activation threshold, and takes it back to 0
after cooldownPeriod without activity (only when minReplicaCount is 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simulator.policy import Direction, Policy, Trigger


def proposal(trigger: Trigger, value: float, current: int, ready: int, tolerance: float) -> int:
    """One metric's proposed replica count (current when within the tolerance)."""
    if trigger.metric_type == "AverageValue":
        ratio = value / (trigger.threshold * current) if current else math.inf
        if abs(1.0 - ratio) <= tolerance:
            return current
        return math.ceil(value / trigger.threshold)
    ratio = value / trigger.threshold
    if current == 0:
        return math.ceil(ratio)
    if abs(1.0 - ratio) <= tolerance:
        return current
    return math.ceil(ratio * ready)


def _changed_in_period(events: list[tuple[float, int]], now: float, period: int) -> int:
    # An event exactly one period old has left the period (the controller compares with After).
    return sum(change for t, change in events if t > now - period)


def _period_start(current: int, ups: list[tuple[float, int]], downs: list[tuple[float, int]], now: float,
                  period: int) -> int:
    """The replica count at the start of a policy's period: the changes made within it undone."""
    return current - _changed_in_period(ups, now, period) + _changed_in_period(downs, now, period)


def up_limit(current: int, ups: list[tuple[float, int]], downs: list[tuple[float, int]], rules: Direction,
             now: float) -> int:
    if rules.select == "Disabled":
        return current
    results = []
    for rule in rules.policies:
        start = _period_start(current, ups, downs, now, rule.period_seconds)
        if rule.type == "Pods":
            results.append(start + rule.value)
        else:
            results.append(math.ceil(start * (1 + rule.value / 100)))
    return min(results) if rules.select == "Min" else max(results)


def down_limit(current: int, ups: list[tuple[float, int]], downs: list[tuple[float, int]], rules: Direction,
               now: float) -> int:
    if rules.select == "Disabled":
        return current
    results = []
    for rule in rules.policies:
        start = _period_start(current, ups, downs, now, rule.period_seconds)
        if rule.type == "Pods":
            results.append(start - rule.value)
        else:
            results.append(int(start * (1 - rule.value / 100)))
    # For scaling down the most permissive policy is the one allowing the fewest replicas.
    return max(results) if rules.select == "Min" else min(results)


@dataclass
class Autoscaler:
    """The state the HPA keeps between syncs: recommendations and scale events."""

    policy: Policy
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    ups: list[tuple[float, int]] = field(default_factory=list)
    downs: list[tuple[float, int]] = field(default_factory=list)
    last_active: float = 0.0

    def hpa_sync(self, now: float, current: int, ready: int, values: dict[str, float]) -> int:
        """The replica count the HPA sets at this sync (current when it changes nothing)."""
        p = self.policy
        if current == 0:
            return 0  # the HPA is idle at zero; KEDA wakes the target
        desired = max(proposal(t, values[t.name], current, ready, p.tolerance) for t in p.triggers)
        stabilised = self._stabilise(now, current, desired)
        applied = self._limit(now, current, stabilised)
        self._record(now, current, applied)
        return applied

    def _stabilise(self, now: float, current: int, desired: int) -> int:
        up_cut = now - self.policy.scale_up.stabilization_seconds
        down_cut = now - self.policy.scale_down.stabilization_seconds
        up_rec, down_rec = desired, desired
        for t, rec in self.recommendations:
            if t > up_cut:
                up_rec = min(up_rec, rec)
            if t > down_cut:
                down_rec = max(down_rec, rec)
        keep = max(self.policy.scale_up.stabilization_seconds, self.policy.scale_down.stabilization_seconds)
        self.recommendations = [(t, r) for t, r in self.recommendations if t > now - keep]
        self.recommendations.append((now, desired))
        return min(max(current, up_rec), down_rec)

    def _limit(self, now: float, current: int, desired: int) -> int:
        p = self.policy
        low = max(p.min_replicas, 1)
        if desired > current:
            limit = max(up_limit(current, self.ups, self.downs, p.scale_up, now), current)
            desired = min(desired, limit, p.max_replicas)
        elif desired < current:
            limit = min(down_limit(current, self.ups, self.downs, p.scale_down, now), current)
            desired = max(desired, limit, low)
        return min(max(desired, low), p.max_replicas)

    def _record(self, now: float, current: int, applied: int) -> None:
        longest = max((r.period_seconds for d in (self.policy.scale_up, self.policy.scale_down) for r in d.policies),
                      default=0)
        self.ups = [(t, c) for t, c in self.ups if t > now - longest]
        self.downs = [(t, c) for t, c in self.downs if t > now - longest]
        if applied > current:
            self.ups.append((now, applied - current))
        elif applied < current:
            self.downs.append((now, current - applied))

    def keda_poll(self, now: float, current: int, values: dict[str, float]) -> int:
        """KEDA's operator loop: 0 -> max(min, 1) on activity, back to 0 after the cooldown."""
        p = self.policy
        active = any(values[t.name] > t.activation_threshold for t in p.triggers)
        if active:
            self.last_active = now
        if current == 0 and active:
            return max(p.min_replicas, 1)
        if current > 0 and p.min_replicas == 0 and not active and now - self.last_active >= p.cooldown_seconds:
            return 0
        return current
