"""Which GPUs a Compute Engine machine type carries (pure data, from Compute Engine's GPU
machine type tables). Accelerator-optimized series come with a fixed number of one GPU model;
N1 machines take a few GPU models attached, in a few counts; no other series takes GPUs."""

from __future__ import annotations

from dataclasses import dataclass

# machine type -> (accelerator type GKE names, GPUs per machine), for series whose GPUs are built in.
BUILT_IN: dict[str, tuple[str, int]] = {
    **{f"a2-highgpu-{n}g": ("nvidia-tesla-a100", n) for n in (1, 2, 4, 8)},
    "a2-megagpu-16g": ("nvidia-tesla-a100", 16),
    **{f"a2-ultragpu-{n}g": ("nvidia-a100-80gb", n) for n in (1, 2, 4, 8)},
    **{f"a3-highgpu-{n}g": ("nvidia-h100-80gb", n) for n in (1, 2, 4, 8)},
    "a3-megagpu-8g": ("nvidia-h100-mega-80gb", 8),
    "a3-edgegpu-8g": ("nvidia-h100-80gb", 8),
    "a3-ultragpu-8g": ("nvidia-h200-141gb", 8),
    "a4-highgpu-8g": ("nvidia-b200", 8),
    "a4x-highgpu-4g": ("nvidia-gb200", 4),
    **{f"g2-standard-{cpus}": ("nvidia-l4", 1) for cpus in (4, 8, 12, 16, 32)},
    "g2-standard-24": ("nvidia-l4", 2),
    "g2-standard-48": ("nvidia-l4", 4),
    "g2-standard-96": ("nvidia-l4", 8),
    "g4-standard-48": ("nvidia-rtx-pro-6000", 1),
    "g4-standard-96": ("nvidia-rtx-pro-6000", 2),
    "g4-standard-192": ("nvidia-rtx-pro-6000", 4),
    "g4-standard-384": ("nvidia-rtx-pro-6000", 8),
}
# Variants of a built-in type with the same GPUs (without local SSD, with less memory).
VARIANT_SUFFIXES = ("-nolssd", "-lowmem")
BUILT_IN_SERIES = ("a2", "a3", "a4", "a4x", "g2", "g4")
# GPU models that attach to N1 machines, and the counts each may attach.
ATTACHABLE: dict[str, tuple[int, ...]] = {
    "nvidia-tesla-t4": (1, 2, 4),
    "nvidia-tesla-v100": (1, 2, 4, 8),
    "nvidia-tesla-p4": (1, 2, 4),
    "nvidia-tesla-p100": (1, 2, 4),
}


@dataclass(frozen=True)
class Mismatch:
    """What is wrong, and under which key of the GPU pool (`accelerator`, `count`, `machineType`)."""

    key: str
    message: str


def _base(machine_type: str) -> str:
    for suffix in VARIANT_SUFFIXES:
        if machine_type.endswith(suffix):
            return machine_type.removesuffix(suffix)
    return machine_type


def _with(accelerator: str, count: int) -> list[str]:
    return sorted(m for m, (a, n) in BUILT_IN.items() if a == accelerator and n == count)


def gpu_mismatch(machine_type: str, accelerator: str, count: int) -> Mismatch | None:
    """None when nodes of `machine_type` can carry `count` GPUs of `accelerator`; else why not."""
    base = _base(machine_type)
    series = base.split("-", 1)[0]
    if base in BUILT_IN:
        carried, carried_count = BUILT_IN[base]
        if accelerator != carried:
            return Mismatch(
                "accelerator",
                f"{accelerator!r} does not match machineType {machine_type}, which carries {carried} GPUs; "
                f"set accelerator: {carried}, or pick a machine type made for {accelerator}",
            )
        if count != carried_count:
            others = _with(accelerator, count)
            hint = f" (for {count}: {', '.join(others)})" if others else ""
            return Mismatch(
                "count",
                f"{count} does not match machineType {machine_type}, which carries {carried_count} "
                f"{carried}; set count: {carried_count}, or pick another machine type{hint}",
            )
        return None
    if series in BUILT_IN_SERIES:
        known = sorted(m for m in BUILT_IN if m.split("-", 1)[0] == series)
        return Mismatch(
            "machineType",
            f"{machine_type!r} is not a {series} GPU machine type this platform knows ({', '.join(known)}); "
            "each has a fixed GPU model and count, listed in components/config/gke_machines.py",
        )
    if series == "n1":
        allowed = ATTACHABLE.get(accelerator)
        if allowed is None:
            return Mismatch(
                "accelerator",
                f"{accelerator!r} cannot be attached to machineType {machine_type}; N1 machines take "
                f"{', '.join(ATTACHABLE)}",
            )
        if count not in allowed:
            return Mismatch(
                "count",
                f"{count} {accelerator} cannot be attached to an N1 machine; allowed: "
                f"{', '.join(str(n) for n in allowed)}",
            )
        return None
    return Mismatch(
        "machineType",
        f"{machine_type!r} cannot carry GPUs: GPUs come with {', '.join(s + '-' for s in BUILT_IN_SERIES)} "
        "machine types, or attach to n1- machine types",
    )
