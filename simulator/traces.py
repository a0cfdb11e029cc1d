"""Arrival traces: Poisson, diurnal, bursty, or a replay from CSV.

A spec names a generator and its parameters, e.g. `bursty:base=0.5,peak=6,every=1800,length=300`;
anything ending in .csv is a replay (columns: arrival_s, and optionally prompt_tokens,
output_tokens; arrival times in seconds, relative or absolute, any order).
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Request:
    arrival: float
    prompt_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Trace:
    name: str
    requests: tuple[Request, ...]
    duration: float
    params: dict[str, float | str]


def _thinned(rate, peak: float, duration: float, rng: random.Random) -> list[float]:
    """Arrivals of a Poisson process with time-varying `rate(t)` <= peak (Lewis-Shedler thinning)."""
    times, t = [], 0.0
    if peak <= 0:
        return times
    while True:
        t += rng.expovariate(peak)
        if t >= duration:
            return times
        if rng.random() * peak < rate(t):
            times.append(t)


def _requests(times: list[float], prompt: int, output: int) -> tuple[Request, ...]:
    return tuple(Request(t, prompt, output) for t in times)


def poisson(rate: float, duration: float = 3600, seed: int = 1, prompt: int = 512, output: int = 256) -> Trace:
    times = _thinned(lambda _t: rate, rate, duration, random.Random(seed))
    return Trace("poisson", _requests(times, prompt, output), duration, {"rate": rate, "duration": duration})


def diurnal(peak: float, trough: float = 0.0, period: float = 86400, duration: float = 86400, seed: int = 1,
            prompt: int = 512, output: int = 256) -> Trace:
    """Rate follows a day: trough at t=0, peak at half the period."""

    def rate(t: float) -> float:
        return trough + (peak - trough) * (1 - math.cos(2 * math.pi * t / period)) / 2

    times = _thinned(rate, max(peak, trough), duration, random.Random(seed))
    params = {"peak": peak, "trough": trough, "period": period, "duration": duration}
    return Trace("diurnal", _requests(times, prompt, output), duration, params)


def bursty(base: float, peak: float, every: float = 1800, length: float = 300, duration: float = 7200,
           seed: int = 1, prompt: int = 512, output: int = 256) -> Trace:
    """`base` requests/s, with a burst at `peak` for `length` seconds in the middle of every `every`."""

    def rate(t: float) -> float:
        return peak if (t % every) >= every / 2 and (t % every) < every / 2 + length else base

    times = _thinned(rate, max(base, peak), duration, random.Random(seed))
    params = {"base": base, "peak": peak, "every": every, "length": length, "duration": duration}
    return Trace("bursty", _requests(times, prompt, output), duration, params)


def replay(path: Path, prompt: int = 512, output: int = 256) -> Trace:
    rows = list(csv.DictReader(path.read_text().splitlines()))
    if not rows or "arrival_s" not in rows[0]:
        raise ValueError(f"{path}: needs a header with arrival_s (and optionally prompt_tokens, output_tokens)")
    raw = sorted(
        (float(r["arrival_s"]), int(r.get("prompt_tokens") or prompt), int(r.get("output_tokens") or output))
        for r in rows
    )
    start = raw[0][0]
    requests = tuple(Request(t - start, p, o) for t, p, o in raw)
    return Trace(f"replay {path.name}", requests, requests[-1].arrival + 1, {"file": str(path)})


GENERATORS = {"poisson": poisson, "diurnal": diurnal, "bursty": bursty}


def from_spec(spec: str, prompt: int = 512, output: int = 256, **defaults: float) -> Trace:
    if spec.endswith(".csv"):
        return replay(Path(spec), prompt, output)
    kind, _, rest = spec.partition(":")
    if kind not in GENERATORS:
        raise ValueError(f"trace {spec!r}: use one of {', '.join(GENERATORS)} (kind:key=value,...) or a .csv file")
    params: dict[str, float] = dict(defaults)
    for part in filter(None, rest.split(",")):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"trace {spec!r}: {part!r} is not key=value")
        params[key.strip()] = float(value)
    if "seed" in params:
        params["seed"] = int(params["seed"])
    try:
        return GENERATORS[kind](prompt=prompt, output=output, **params)
    except TypeError as exc:
        raise ValueError(f"trace {spec!r}: {exc}") from None
