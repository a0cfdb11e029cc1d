"""engineArgs against the flag table of the pinned vLLM release, read the way `vllm serve` reads them."""

from __future__ import annotations

import pytest

from components.config import ConfigError, parse_stack_config
from components.config.modelspec import ModelSpec, pinned_vllm_version
from components.serving import engine_flags
from components.serving.engine_flags import MANAGED, check, load_flags, sets_value, split_items
from components.serving.vllm import engine_args
from tooling.engine_flags import diff

FLAGS = load_flags(pinned_vllm_version())
STACK = {
    "substrate": {"kind": "kind"},
    "secrets": {"backend": "none"},
    "models": [{"name": "q", "source": "hf://Qwen/Qwen2.5-0.5B-Instruct", "gpus": 0, "resources": {"memory": "6Gi"}}],
}


def stack_with(args: list[str]) -> dict:
    return STACK | {"models": [STACK["models"][0] | {"engineArgs": args}]}


def test_the_table_is_the_pinned_release_with_provenance():
    import json

    doc = json.loads((engine_flags.ENGINES_DIR / f"vllm-{pinned_vllm_version()}.json").read_text())
    assert doc["version"] == pinned_vllm_version() == FLAGS.version
    prov = doc["provenance"]
    assert prov["package"] == f"vllm=={doc['version']}" and len(prov["sha256"]) == 64
    assert prov["file"].startswith(f"vllm-{doc['version']}-") and prov["extracted"]
    assert len(FLAGS.by_spelling) > 300


def test_every_managed_argument_exists_in_the_release():
    # A flag renamed upstream would otherwise slip past the platform's guard unnoticed.
    dests = {f["dest"] for f in FLAGS.by_spelling.values()} | {"model_tag"}
    assert set(MANAGED) <= dests


@pytest.mark.parametrize(
    "args",
    [
        ["--seed=1"],
        ["--seed", "1"],
        ["--seed 1"],
        ["--gpu_memory_utilization=0.9"],
        ["--gpu-memory-util", "0.9"],  # unambiguous prefix: vLLM's parser allows abbreviations
        ["--quantization=awq_marlin", "--gpu-memory-utilization=0.90"],
        ["--compilation-config.mode", "3"],
        ["-O3"],
        ["--enforce-eager"],
        ["--no-enforce-eager"],
        ["--seed", "-1"],
        ["--limit-mm-per-prompt", '{"image": 2}'],
    ],
)
def test_every_spelling_vllm_accepts_is_accepted(args):
    assert check(args, FLAGS) == []
    assert parse_stack_config(stack_with(args)).models[0].engine_args


def test_a_flag_and_value_in_one_item_reach_the_container_as_two():
    spec = ModelSpec.model_validate(STACK["models"][0] | {"engineArgs": ["--seed 7"]})
    args = engine_args(spec, 8000)
    assert args[-2:] == ["--seed", "7"]
    assert split_items(["--chat-template-content-format=openai"]) == ["--chat-template-content-format=openai"]


def test_unknown_flag_is_refused_with_the_closest_real_flag():
    with pytest.raises(ConfigError) as err:
        parse_stack_config(stack_with(["--quantisation", "awq"]))
    message = str(err.value)
    assert "inference-platform:models[0].engineArgs:" in message
    assert "--quantisation is not a vllm serve flag" in message and "did you mean --quantization?" in message


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (["--model", "x"], "`source`"),
        (["--model=x"], "`source`"),
        (["some/model"], "`source`"),
        (["--load-format", "safetensors"], "`source`"),
        (["--served-model-name", "x"], "`name`"),
        (["--served_model_name=x"], "`name`"),
        (["--tensor-parallel-size", "2"], "`gpus`"),
        (["-tp", "2"], "`gpus`"),
        (["--max-model-len", "4096"], "`maxModelLen`"),
        (["--max_model_len=4096"], "`maxModelLen`"),
        (["--max-model", "4096"], "`maxModelLen`"),
        (["--max-model-len 4096"], "`maxModelLen`"),
        (["--lora-modules", "a=b/c"], "`adapters`"),
        (["--enable-prefix-caching"], "`prefixCaching`"),
        (["--no-enable-prefix-caching"], "`prefixCaching`"),
        (["--disable-prefix-caching"], "`prefixCaching`"),
        (["--runner", "pooling"], "`task`"),
        (["--hf-token", "hf_x"], "`hfTokenSecret`"),
        (["--port", "9000"], "remove it"),
        (["--host=127.0.0.1"], "remove it"),
        (["--config", "c.yaml"], "remove it"),
    ],
)
def test_flags_the_platform_sets_are_refused_naming_the_key(args, key):
    with pytest.raises(ConfigError) as err:
        parse_stack_config(stack_with(args))
    message = str(err.value)
    assert "inference-platform:models[0].engineArgs:" in message and key in message
    assert message.count("engine arg") == 1  # one message: the flag's value is not reported too


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--enable"], "ambiguous"),
        (["--enforce-eager=true"], "takes no value"),
        (["--dtype"], "needs a value"),
    ],
)
def test_malformed_flags_are_refused(args, says):
    (problem,) = check(args, FLAGS)
    assert says in problem


def test_rendered_args_are_read_back_by_destination():
    found = sets_value(["m", "--disable-prefix-caching", "-tp", "2", "--max_model_len=9"], "max_model_len", FLAGS)
    assert found == [("--max_model_len", "9")]
    assert sets_value(["-tp", "2"], "tensor_parallel_size", FLAGS) == [("-tp", "2")]


def test_regeneration_reports_added_removed_and_changed_flags():
    old = {"version": "1", "flags": [{"dest": "a", "options": ["--a"], "value": "one"},
                                     {"dest": "b", "options": ["--b"], "value": "none"}]}
    new = {"version": "2", "flags": [{"dest": "a", "options": ["--a"], "value": "many"},
                                     {"dest": "c", "options": ["--c"], "value": "one"}]}
    assert diff(old, new) == ["+ --c", "- --b", "~ a: value one -> many"]
