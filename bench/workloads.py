"""The workloads a benchmark can run: shapes of traffic that exercise what the platform tunes.

chat           short prompts, streamed answers: the interactive baseline (TTFT, ITL)
shared-prefix  a few long prefixes reused across requests: what prefix caching and
               prefix-aware routing change
long-context   prompts near the model's context limit: prefill cost and KV-cache pressure
embeddings     non-streamed embedding requests: latency and requests/s only
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# Without maxModelLen vLLM takes the model's own limit; assume a common 8k window.
DEFAULT_CONTEXT = 8192


@dataclass(frozen=True)
class Workload:
    name: str
    endpoint: str  # the load generator's endpoint type
    task: str  # the ModelSpec task it needs
    input_tokens: int
    output_tokens: int = 0
    prefix_pool: int = 0  # distinct shared prefixes
    prefix_tokens: int = 0  # tokens in each prefix

    @property
    def streaming(self) -> bool:
        return self.endpoint == "chat"

    @property
    def context_tokens(self) -> int:
        return self.prefix_tokens + self.input_tokens + self.output_tokens


WORKLOADS: dict[str, Workload] = {
    "chat": Workload("chat", "chat", "text", input_tokens=256, output_tokens=128),
    "shared-prefix": Workload(
        "shared-prefix", "chat", "text", input_tokens=128, output_tokens=128, prefix_pool=8, prefix_tokens=1024
    ),
    # input_tokens is set from the model's context window in `for_model`.
    "long-context": Workload("long-context", "chat", "text", input_tokens=0, output_tokens=128),
    "embeddings": Workload("embeddings", "embeddings", "embedding", input_tokens=256),
}


def for_model(name: str, task: str, max_model_len: int | None) -> Workload:
    """The workload `name` sized for a model; a ValueError says why it cannot run against it."""
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; available: {', '.join(WORKLOADS)}")
    workload = WORKLOADS[name]
    if workload.task != task:
        fits = ", ".join(w.name for w in WORKLOADS.values() if w.task == task) or "none"
        raise ValueError(f"workload {name!r} needs a model with task {workload.task!r}; this one is {task!r} ({fits})")
    window = max_model_len or DEFAULT_CONTEXT
    if name == "long-context":
        # Three quarters of the window: long enough to load the KV cache, with room for the answer.
        workload = replace(workload, input_tokens=window * 3 // 4 - workload.output_tokens)
    if workload.context_tokens > window:
        raise ValueError(
            f"workload {name!r} needs {workload.context_tokens} tokens of context; the model allows {window}"
        )
    return workload
