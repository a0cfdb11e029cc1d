"""How fast one replica serves: a roofline model of vLLM, calibrated to a published measurement.

Decode is memory-bound at the batch sizes that matter: each engine step reads the weights once
and every running sequence's KV cache, and produces one token per running sequence. Prefill is
compute-bound. With the two efficiencies and the per-step overhead below, the model gives the
reference measurement for 1x L4 serving Qwen2.5-0.5B-Instruct with vLLM (about 3,770 output
tokens/s at concurrency 32, TTFT about 27 ms at concurrency 1); the GPU table holds datasheet
figures, so other GPUs and sizes are extrapolations from that one calibration point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GB = 1e9

# Datasheet memory (GB), memory bandwidth (GB/s), dense BF16/FP16 tensor TFLOPS, keyed by the
# accelerator names the stacks use (GKE's where it has one).
GPUS: dict[str, tuple[float, float, float]] = {
    "nvidia-l4": (24, 300, 121),
    "nvidia-tesla-t4": (16, 320, 65),
    "nvidia-a10": (24, 600, 125),
    "nvidia-a10g": (24, 600, 125),
    "nvidia-l40s": (48, 864, 362),
    "nvidia-tesla-a100": (40, 1555, 312),
    "nvidia-a100": (40, 1555, 312),
    "nvidia-a100-80gb": (80, 2039, 312),
    "nvidia-h100-80gb": (80, 3350, 989),
    "nvidia-h100-mega-80gb": (80, 3350, 989),
    "nvidia-h200-141gb": (141, 4800, 989),
    "nvidia-rtx-4000-sff-ada": (20, 280, 77),
}

# Qwen2.5 shapes (config.json: num_hidden_layers, num_key_value_heads, head_dim) by size in
# billions of parameters; a model of another family takes the nearest size's shape.
SHAPES: dict[float, tuple[int, int, int]] = {
    0.5: (24, 2, 64),
    1.5: (28, 2, 128),
    3: (36, 2, 128),
    7: (28, 4, 128),
    14: (48, 8, 128),
    32: (64, 8, 128),
    72: (80, 8, 128),
}
# Actual parameter counts behind the size labels (Qwen2.5 model cards).
PARAMS = {0.5: 0.49, 1.5: 1.54, 3: 3.09, 7: 7.61, 14: 14.7, 32: 32.5, 72: 72.7}

# Calibration (see the module docstring and docs/performance.md).
BANDWIDTH_EFFICIENCY = 0.8
PREFILL_MFU = 0.27
STEP_OVERHEAD_S = 0.0033  # scheduler, sampling and launch per engine step
FRONTEND_S = 0.008  # HTTP, tokenisation, detokenisation of the first token
GPU_MEMORY_UTILIZATION = 0.9  # vLLM's default --gpu-memory-utilization
ACTIVATION_RESERVE_GB = 1.5  # activations, CUDA graphs, non-torch memory outside the KV cache
CPU_GBPS_PER_CORE = 5.0
CPU_TFLOPS_PER_CORE = 0.1
MAX_BATCHED_TOKENS = 2048  # vLLM's default max_num_batched_tokens for the OpenAI server below 70 GiB


# Models whose names carry no size (model cards).
KNOWN_SIZES = {"bge-m3": 0.57, "whisper-large": 1.55, "whisper-medium": 0.77, "whisper-small": 0.24}


def size_from_name(text: str) -> float | None:
    """`hf://Qwen/Qwen2.5-7B-Instruct` -> 7.0 (billions of parameters), None when absent."""
    text = text.split("@", 1)[0]  # never read a size out of a digest
    found = re.findall(r"(?<![\d.])(\d+(?:\.\d+)?)[bB](?![a-zA-Z])", text)
    if found:
        return float(found[-1])
    known = [size for name, size in KNOWN_SIZES.items() if name in text.lower()]
    return known[0] if known else None


def weight_bits_from_name(text: str) -> int:
    """4 for AWQ/GPTQ/INT4 checkpoints, 8 for FP8/INT8, else 16 (BF16)."""
    lowered = text.lower()
    if any(tag in lowered for tag in ("awq", "gptq", "int4", "w4a16")):
        return 4
    if any(tag in lowered for tag in ("fp8", "int8", "w8a8")):
        return 8
    return 16


@dataclass(frozen=True)
class LLMService:
    """Per-replica service model: continuous batching up to `max_concurrency` sequences."""

    gpu: str
    gpus: int
    params_b: float
    prompt_tokens: int = 512
    output_tokens: int = 256
    max_num_seqs: int | None = None
    weight_bits: int = 16
    cpu_cores: float = 0.0  # for gpu "cpu": the vLLM CPU backend
    cpu_kv_gib: float = 4.0  # VLLM_CPU_KVCACHE_SPACE
    kind: str = "llm"

    @property
    def _spec(self) -> tuple[float, float, float]:
        if self.gpu == "cpu":
            # A crude stand-in: a few GB/s of memory bandwidth and about 0.1 TFLOPS per core.
            cores = max(self.cpu_cores, 1.0)
            bandwidth = min(CPU_GBPS_PER_CORE * cores, 60)
            return self.weight_bytes / GB + self.cpu_kv_gib, bandwidth, CPU_TFLOPS_PER_CORE * cores
        if self.gpu not in GPUS:
            raise ValueError(f"no figures for GPU {self.gpu!r}; known: {', '.join(sorted(GPUS))}")
        mem, bw, tflops = GPUS[self.gpu]
        return mem * self.gpus, bw * self.gpus, tflops * self.gpus

    @property
    def _shape(self) -> tuple[int, int, int]:
        nearest = min(SHAPES, key=lambda s: abs(s - self.params_b))
        return SHAPES[nearest]

    @property
    def params(self) -> float:
        nearest = min(PARAMS, key=lambda s: abs(s - self.params_b))
        return (PARAMS[nearest] if abs(nearest - self.params_b) < 0.05 else self.params_b) * 1e9

    @property
    def weight_bytes(self) -> float:
        return self.params * self.weight_bits / 8

    @property
    def kv_bytes_per_token(self) -> float:
        layers, kv_heads, head_dim = self._shape
        return layers * kv_heads * head_dim * 2 * 2  # K and V, BF16

    @property
    def kv_tokens(self) -> float:
        if self.gpu == "cpu":
            return self.cpu_kv_gib * 2**30 / self.kv_bytes_per_token
        mem, _, _ = self._spec
        free = mem * GPU_MEMORY_UTILIZATION * GB - self.weight_bytes - ACTIVATION_RESERVE_GB * GB * self.gpus
        if free <= 0:
            raise ValueError(f"{self.params_b:g}B does not fit on {self.gpus}x {self.gpu}")
        return free / self.kv_bytes_per_token

    @property
    def max_concurrency(self) -> int:
        """vLLM's limit: max_num_seqs (256 below 70 GiB or on A100, else 1024) and KV-cache room."""
        mem, _, _ = self._spec
        default = 1024 if mem / self.gpus >= 75 and "a100" not in self.gpu else 256
        if self.gpu == "cpu":
            default = 128
        seqs = self.max_num_seqs or default
        return max(1, min(seqs, int(self.kv_tokens // (self.prompt_tokens + self.output_tokens))))

    def _memory_seconds(self, batch: int) -> float:
        _, bw, _ = self._spec
        context = self.prompt_tokens + self.output_tokens / 2
        return (self.weight_bytes + batch * context * self.kv_bytes_per_token) / (bw * GB * BANDWIDTH_EFFICIENCY)

    def _compute_seconds(self, tokens: int) -> float:
        _, _, tflops = self._spec
        return 2 * self.params * tokens / (tflops * 1e12 * PREFILL_MFU)

    def step_seconds(self, batch: int) -> float:
        """One decode step with `batch` running sequences (the inter-token latency)."""
        return max(self._memory_seconds(batch), self._compute_seconds(batch)) + STEP_OVERHEAD_S

    def prefill_seconds(self, prompt_tokens: int, decoding: int = 0) -> float:
        """The steps that prefill one prompt, chunked with the running sequences' decodes
        (vLLM's default chunked prefill, up to max_num_batched_tokens per step)."""
        total, left = 0.0, prompt_tokens
        while left > 0:
            chunk = min(left, max(MAX_BATCHED_TOKENS - decoding, 1))
            total += max(self._memory_seconds(decoding), self._compute_seconds(chunk + decoding)) + STEP_OVERHEAD_S
            left -= chunk
        return total

    def requests_per_second(self, batch: int) -> float:
        """Sustained completions at `batch` running sequences: each needs its prefill and its decodes."""
        per_request = self.prefill_seconds(self.prompt_tokens, batch) + (self.output_tokens - 1) * (
            self.step_seconds(batch) / batch)
        return 1 / per_request

    def output_tokens_per_second(self, batch: int) -> float:
        return batch / self.step_seconds(batch)

    def describe(self) -> dict[str, float | int | str]:
        return {
            "gpu": self.gpu,
            "gpus": self.gpus,
            "paramsB": self.params_b,
            "weightBits": self.weight_bits,
            "promptTokens": self.prompt_tokens,
            "outputTokens": self.output_tokens,
            "maxConcurrency": self.max_concurrency,
            "ttftAtC1Ms": round(1000 * (self.prefill_seconds(self.prompt_tokens) + FRONTEND_S), 1),
            "itlAtC1Ms": round(1000 * self.step_seconds(1), 1),
            "outputTokPerSAtC32": round(self.output_tokens_per_second(min(32, self.max_concurrency))),
            "outputTokPerSAtMax": round(self.output_tokens_per_second(self.max_concurrency)),
            "requestsPerSAtC32": round(self.requests_per_second(min(32, self.max_concurrency)), 2),
        }


@dataclass(frozen=True)
class ExponentialService:
    """Exponential holding times, one request per slot: with fixed replicas, the M/M/c queue."""

    mean_seconds: float
    slots: int = 1
    kind: str = "exponential"

    @property
    def max_concurrency(self) -> int:
        return self.slots

    def describe(self) -> dict[str, float | int | str]:
        return {"kind": "exponential", "meanSeconds": self.mean_seconds, "slots": self.slots}
