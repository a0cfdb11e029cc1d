"""The discrete-event simulation: arrivals, a shared waiting queue, replicas, nodes, autoscaler.

Requests wait in one FIFO and go to the ready replica with the fewest running requests that
has a free slot: the behaviour of an inference-aware router (the InferencePool's endpoint
picker), and the queue whose length is the sum of vllm:num_requests_waiting over replicas.
Prometheus scrapes that gauge every scrape interval; the HPA reads the last scrape each sync.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import random
from collections import deque
from dataclasses import dataclass, field

from simulator.coldstart import ColdStart
from simulator.hpa import Autoscaler
from simulator.policy import Policy
from simulator.service import FRONTEND_S, ExponentialService, LLMService
from simulator.traces import Request, Trace

DRAIN_LIMIT_S = 3600.0  # after the trace ends, how long in-flight and queued requests may take


@dataclass
class Scenario:
    policy: Policy
    service: LLMService | ExponentialService
    cold: ColdStart
    pool_min: int = 0  # warm GPU nodes the pool never goes below
    pool_max: int = 100
    per_node: int = 1  # replicas one node holds
    gpus_per_node: int = 1
    scrape_seconds: float = 15.0  # the PodMonitor's interval
    node_unneeded_seconds: float = 600.0  # cluster autoscaler --scale-down-unneeded-time
    sample_seconds: float = 10.0
    initial_replicas: int | None = None
    # vLLM's gauge exists only while a replica does; a gateway-side queue metric would not.
    queue_visible_without_replicas: bool = False
    # A "demand" trigger counts requests that reached the Gateway in this trailing window
    # (increase(inference_objective_request_*[2m]) in components/serving/scaling.py).
    demand_window_seconds: float = 120.0
    seed: int = 7
    # Stop once this many requests have had a TTFT above `slo_seconds` (a search's quick reject).
    stop_after_misses: int | None = None
    slo_seconds: float = math.inf


@dataclass
class _Node:
    id: int
    ready: bool
    has_image: bool
    since: float
    pods: set[int] = field(default_factory=set)
    empty_since: float | None = None


@dataclass
class _Pod:
    id: int
    node: int | None
    state: str  # pending | starting | ready | draining
    running: int = 0  # admitted: prefilling, waiting to prefill, or decoding
    prefills: deque = field(default_factory=deque)  # admitted, prompt not yet scheduled
    prefilling: int | None = None
    prefill_step: float = 0.0
    vclock: float = 0.0
    last: float = 0.0
    decoding: list = field(default_factory=list)
    version: int = 0
    started: float = 0.0


@dataclass
class Result:
    policy: str
    ttft: list[float]
    waits: list[float]
    unfinished: int
    timeline: list[tuple[float, int, int, int, int, int]]  # t, pods, ready, waiting, running, nodes
    scale_events: list[tuple[float, int, int]]
    gpu_node_seconds: float
    gpu_replica_seconds: float
    duration: float
    replica_seconds: float = 0.0
    stopped: bool = False


class Simulation:
    def __init__(self, scenario: Scenario, trace: Trace):
        self.s = scenario
        self.trace = trace
        self.events: list = []
        self.seq = itertools.count()
        self.rng = random.Random(scenario.seed)
        self.queue: deque[int] = deque()
        self.requests: list[Request] = list(trace.requests)
        self.arrivals = sorted(r.arrival for r in self.requests)
        self.admitted = [math.nan] * len(self.requests)
        self.first_token = [math.nan] * len(self.requests)
        self.done = 0
        self.nodes: dict[int, _Node] = {}
        self.pods: dict[int, _Pod] = {}
        self.pending: deque[int] = deque()
        self.ids = itertools.count()
        self.scraped: dict[str, float] = {t.name: 0.0 for t in scenario.policy.triggers}
        self.polled: dict[str, float] = dict(self.scraped)
        self.autoscaler = Autoscaler(scenario.policy)
        self.timeline: list[tuple[float, int, int, int, int, int]] = []
        self.scale_events: list[tuple[float, int, int]] = []
        self.node_seconds = 0.0
        self.replica_seconds = 0.0
        self.pod_seconds = 0.0
        self.now = 0.0
        self.cache_warm = True
        self.misses = 0

    # -- event plumbing -------------------------------------------------------------------
    def at(self, t: float, kind: str, *payload) -> None:
        heapq.heappush(self.events, (t, next(self.seq), kind, payload))

    def _account(self, t: float) -> None:
        dt = t - self.now
        if dt > 0:
            self.node_seconds += dt * len(self.nodes) * self.s.gpus_per_node
            holding = sum(1 for p in self.pods.values() if p.node is not None)
            self.replica_seconds += dt * holding * self.s.gpus_per_node / max(self.s.per_node, 1)
            self.pod_seconds += dt * holding
        self.now = t

    # -- set-up ---------------------------------------------------------------------------
    def _start(self) -> None:
        s = self.s
        p = s.policy
        initial = s.initial_replicas if s.initial_replicas is not None else (p.fixed or p.min_replicas)
        nodes = max(s.pool_min, math.ceil(initial / s.per_node))
        if s.cold.node_provisioning is None:
            nodes = max(nodes, s.pool_max)  # a static pool: every node is there all along
        for i in range(nodes):
            self._new_node(ready=True, has_image=i < math.ceil(initial / s.per_node))
        for _ in range(initial):
            pod = self._new_pod()
            if not self._place(pod):
                raise ValueError(f"{initial} initial replicas do not fit on {len(self.nodes)} nodes")
            pod.state = "ready"
        if self.requests:
            self.at(self.requests[0].arrival, "arrival", 0)
        self.at(0.0, "scrape")
        if p.fixed is None:
            self.at(s.scrape_seconds / 2, "hpa")
            self.at(s.scrape_seconds / 3, "keda")
        self.at(0.0, "sample")
        self.at(10.0, "node_gc")

    def _new_node(self, ready: bool, has_image: bool) -> _Node:
        node = _Node(next(self.ids), ready, has_image, self.now, empty_since=self.now)
        self.nodes[node.id] = node
        return node

    def _new_pod(self) -> _Pod:
        pod = _Pod(next(self.ids), None, "pending", last=self.now, started=self.now)
        self.pods[pod.id] = pod
        return pod

    # -- replicas -------------------------------------------------------------------------
    def _place(self, pod: _Pod) -> bool:
        """Schedule a pod onto a node (ready first, image first), or ask for a node."""
        s = self.s
        free = [n for n in self.nodes.values() if len(n.pods) < s.per_node]
        free.sort(key=lambda n: (not n.ready, not n.has_image, n.id))
        if not free and s.cold.node_provisioning is not None and len(self.nodes) < s.pool_max:
            node = self._new_node(ready=False, has_image=False)
            self.at(self.now + s.cold.node_provisioning, "node_ready", node.id)
            free = [node]
        if not free:
            return False  # the caller keeps it Pending
        node = free[0]
        node.pods.add(pod.id)
        node.empty_since = None
        pod.node = node.id
        pod.state = "starting"
        if node.ready:
            self._boot(pod, node)
        return True

    def _boot(self, pod: _Pod, node: _Node) -> None:
        c = self.s.cold
        pull = 0.0 if node.has_image else c.image_pull
        node.has_image = True
        weights = c.weights_warm if self.cache_warm else c.weights_first
        self.at(self.now + pull + weights + c.engine_start, "pod_ready", pod.id)

    def _remove(self, pod: _Pod) -> None:
        if pod.node is not None:
            node = self.nodes[pod.node]
            node.pods.discard(pod.id)
            if not node.pods:
                node.empty_since = self.now
        self.pods.pop(pod.id, None)
        if pod.id in self.pending:
            self.pending.remove(pod.id)
        while self.pending and self._place(self.pods[self.pending[0]]):
            self.pending.popleft()

    def _scale_to(self, target: int) -> None:
        live = [p for p in self.pods.values() if p.state != "draining"]
        if target == len(live):
            return
        self.scale_events.append((self.now, len(live), target))
        if target > len(live):
            for _ in range(target - len(live)):
                pod = self._new_pod()
                if not self._place(pod):
                    self.pending.append(pod.id)
            return
        order = {"pending": 0, "starting": 1, "ready": 2}
        victims = sorted(live, key=lambda p: (order[p.state], -p.started if p.state != "ready" else p.running))
        for pod in victims[: len(live) - target]:
            if pod.state == "ready" and pod.running:
                pod.state = "draining"  # finishes what it runs, takes nothing new
            else:
                self._remove(pod)

    # -- requests -------------------------------------------------------------------------
    def _admit_waiting(self) -> None:
        while self.queue:
            pod = self._pick()
            if pod is None:
                return
            self._admit(self.queue.popleft(), pod)

    def _pick(self) -> _Pod | None:
        """The ready replica with a free slot, the shortest prompt backlog, then the fewest running."""
        limit = self.s.service.max_concurrency
        best, best_key = None, None
        for pod in self.pods.values():
            if pod.state == "ready" and pod.running < limit:
                key = (len(pod.prefills) + (pod.prefilling is not None), pod.running)
                if best_key is None or key < best_key:
                    best, best_key = pod, key
        return best

    def waiting(self) -> int:
        """vllm:num_requests_waiting summed over replicas: requests no engine step has taken yet."""
        return len(self.queue) + sum(len(p.prefills) for p in self.pods.values())

    def _admit(self, rid: int, pod: _Pod) -> None:
        self.admitted[rid] = self.now
        pod.running += 1
        service = self.s.service
        if isinstance(service, ExponentialService):
            self._first_token(rid, self.now)
            self.at(self.now + self.rng.expovariate(1 / service.mean_seconds), "finish", pod.id, rid)
            return
        pod.prefills.append(rid)
        if pod.prefilling is None:
            self._next_prefill(pod)

    def _next_prefill(self, pod: _Pod) -> None:
        """Start the next prompt; while it runs, each running sequence gets one token per (longer) step."""
        self._advance(pod)
        pod.prefilling = pod.prefills.popleft() if pod.prefills else None
        if pod.prefilling is not None:
            prompt = self.requests[pod.prefilling].prompt_tokens
            pod.prefill_step = self.s.service.prefill_seconds(prompt, len(pod.decoding))
            self.at(self.now + pod.prefill_step, "prefilled", pod.id, pod.prefilling)
        self._reschedule(pod)

    def _step(self, pod: _Pod) -> float:
        if pod.prefilling is not None:
            return max(pod.prefill_step, 1e-9)
        return self.s.service.step_seconds(len(pod.decoding))

    def _advance(self, pod: _Pod) -> None:
        if pod.decoding:
            pod.vclock += (self.now - pod.last) / self._step(pod)
        pod.last = self.now

    def _reschedule(self, pod: _Pod) -> None:
        pod.version += 1
        if pod.decoding:
            left = max(pod.decoding[0][0] - pod.vclock, 0.0)
            self.at(self.now + left * self._step(pod), "decode", pod.id, pod.version)

    def _finish(self, pod: _Pod, rid: int) -> None:
        pod.running -= 1
        self.done += 1
        if pod.state == "draining" and pod.running == 0:
            self._remove(pod)

    # -- handlers -------------------------------------------------------------------------
    def on_arrival(self, rid: int) -> None:
        if rid + 1 < len(self.requests):
            self.at(self.requests[rid + 1].arrival, "arrival", rid + 1)
        self.queue.append(rid)
        self._admit_waiting()

    def _first_token(self, rid: int, t: float) -> None:
        self.first_token[rid] = t
        if t - self.requests[rid].arrival > self.s.slo_seconds:
            self.misses += 1

    def on_prefilled(self, pid: int, rid: int) -> None:
        self._first_token(rid, self.now + FRONTEND_S)
        pod = self.pods[pid]
        self._advance(pod)
        remaining = self.requests[rid].output_tokens - 1
        if remaining > 0:
            heapq.heappush(pod.decoding, (pod.vclock + remaining, rid))
        self._next_prefill(pod)
        if remaining <= 0:
            self._finish(pod, rid)
        self._admit_waiting()

    def on_decode(self, pid: int, version: int) -> None:
        pod = self.pods.get(pid)
        if pod is None or version != pod.version:
            return
        self._advance(pod)
        while pod.decoding and pod.decoding[0][0] <= pod.vclock + 1e-9:
            _, rid = heapq.heappop(pod.decoding)
            self._finish(pod, rid)
        if pid in self.pods:
            self._reschedule(pod)
        self._admit_waiting()

    def on_finish(self, pid: int, rid: int) -> None:
        self._finish(self.pods[pid], rid)
        self._admit_waiting()

    def on_pod_ready(self, pid: int) -> None:
        pod = self.pods.get(pid)
        if pod is None or pod.state != "starting":
            return
        pod.state = "ready"
        pod.last = self.now
        self.cache_warm = self.s.cold.cache in ("shared", "single") or self.cache_warm
        self._admit_waiting()

    def on_node_ready(self, nid: int) -> None:
        node = self.nodes.get(nid)
        if node is None:
            return
        node.ready = True
        for pid in list(node.pods):
            self._boot(self.pods[pid], node)

    def on_scrape(self) -> None:
        ready = [p for p in self.pods.values() if p.state in ("ready", "draining")]
        for trigger in self.s.policy.triggers:
            if trigger.metric == "queue":
                seen = ready or self.s.queue_visible_without_replicas
                value = float(self.waiting()) if seen else 0.0
            elif trigger.metric == "demand":
                # Exists whether or not a replica runs: the endpoint picker counts every request.
                since = self.now - self.s.demand_window_seconds
                value = float(bisect.bisect_right(self.arrivals, self.now) - bisect.bisect_right(self.arrivals, since))
            elif trigger.metric == "gpu-util":
                # Under PagedAttention a GPU with any running sequence reads about 100%.
                value = 100.0 * sum(1 for p in ready if p.running) / len(ready) if ready else 0.0
            else:
                service = self.s.service
                per = service.prompt_tokens + service.output_tokens / 2 if isinstance(service, LLMService) else 0
                tokens = service.kv_tokens if isinstance(service, LLMService) else 1
                value = sum(min(p.running * per / tokens, 1.0) for p in ready) / len(ready) if ready else 0.0
            self.scraped[trigger.name] = value
        self.at(self.now + self.s.scrape_seconds, "scrape")

    def on_hpa(self) -> None:
        live = [p for p in self.pods.values() if p.state != "draining"]
        ready = sum(1 for p in live if p.state == "ready")
        values = {t.name: self.polled[t.name] if t.cached else self.scraped[t.name] for t in self.s.policy.triggers}
        target = self.autoscaler.hpa_sync(self.now, len(live), ready, values)
        self._scale_to(target)
        self.at(self.now + self.s.policy.sync_seconds, "hpa")

    def on_keda(self) -> None:
        live = sum(1 for p in self.pods.values() if p.state != "draining")
        self.polled = dict(self.scraped)
        target = self.autoscaler.keda_poll(self.now, live, self.polled)
        self._scale_to(target)
        self.at(self.now + self.s.policy.polling_seconds, "keda")

    def on_node_gc(self) -> None:
        s = self.s
        if s.cold.node_provisioning is not None:
            for node in sorted(self.nodes.values(), key=lambda n: -n.id):
                idle = node.ready and not node.pods and node.empty_since is not None
                if idle and self.now - node.empty_since >= s.node_unneeded_seconds and len(self.nodes) > s.pool_min:
                    del self.nodes[node.id]
        self.at(self.now + 10.0, "node_gc")

    def on_sample(self) -> None:
        live = [p for p in self.pods.values() if p.state != "draining"]
        ready = sum(1 for p in self.pods.values() if p.state in ("ready", "draining"))
        running = sum(p.running for p in self.pods.values())
        self.timeline.append((round(self.now, 3), len(live), ready, self.waiting(), running, len(self.nodes)))
        self.at(self.now + self.s.sample_seconds, "sample")

    # -- run ------------------------------------------------------------------------------
    def run(self) -> Result:
        self._start()
        end = self.trace.duration
        limit = end + DRAIN_LIMIT_S
        handlers = {
            "arrival": self.on_arrival, "prefilled": self.on_prefilled, "decode": self.on_decode,
            "finish": self.on_finish, "pod_ready": self.on_pod_ready, "node_ready": self.on_node_ready,
            "scrape": self.on_scrape, "hpa": self.on_hpa, "keda": self.on_keda, "node_gc": self.on_node_gc,
            "sample": self.on_sample,
        }
        total = len(self.requests)
        stop = self.s.stop_after_misses
        stopped = False
        while self.events:
            t, _, kind, payload = heapq.heappop(self.events)
            if t > limit or (t > end and self.done == total):
                break
            if stop is not None and self.misses > stop:
                stopped = True
                break
            self._account(t)
            handlers[kind](*payload)
        self._account(max(self.now, end))
        ttft = [f - r.arrival for f, r in zip(self.first_token, self.requests, strict=True) if not math.isnan(f)]
        waits = [a - r.arrival for a, r in zip(self.admitted, self.requests, strict=True) if not math.isnan(a)]
        return Result(
            policy=self.s.policy.name,
            ttft=ttft,
            waits=waits,
            unfinished=total - len(ttft),
            timeline=self.timeline,
            scale_events=self.scale_events,
            gpu_node_seconds=self.node_seconds,
            gpu_replica_seconds=self.replica_seconds,
            duration=self.now,
            replica_seconds=self.pod_seconds,
            stopped=stopped,
        )


def simulate(scenario: Scenario, trace: Trace) -> Result:
    return Simulation(scenario, trace).run()
