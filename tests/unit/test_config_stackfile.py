"""The stack file as the CLI reads it (duplicate keys, YAML errors), config namespaces that
are near misses of ours, and render refusing every bad input before any resource exists."""

from __future__ import annotations

import textwrap

import pulumi
import pytest

from components.config import ConfigError, load_stack_config
from components.config.loader import check_namespaces
from components.config.stackfile import read_stack_file
from tooling import render
from tooling.mocks import RecordingMonitor
from tooling.program import read_stack_config, stack_files

GOOD_HEAD = """\
config:
  inference-platform:substrate:
    kind: kind
  inference-platform:secrets:
    backend: none
"""


def stack(tmp_path, body: str, name: str = "bad"):
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def refused(path) -> str:
    with pytest.raises(ConfigError) as err:
        read_stack_file(path)
    heading, *lines = str(err.value).splitlines()
    assert heading == "invalid stack config:"
    assert len(lines) == 1, lines
    return lines[0].strip()


# --- duplicate keys ---------------------------------------------------------------------


def test_a_duplicated_top_level_key_names_both_lines(tmp_path):
    path = stack(tmp_path, GOOD_HEAD + "  inference-platform:protect: false\n  inference-platform:protect: true\n")
    assert refused(path) == (
        f"{path}:7: key 'inference-platform:protect' is given twice (first at line 6); a stack file gives each key once"
    )


def test_a_duplicated_nested_key_names_both_lines(tmp_path):
    body = """\
    config:
      inference-platform:models:
        - name: a
          source: hf://a/b
          gpus: 0
          gpus: 1
    """
    assert refused(stack(tmp_path, body)).endswith(
        ":6: key 'gpus' is given twice (first at line 5); a stack file gives each key once"
    )


def test_a_duplicated_key_in_a_flow_mapping_is_refused(tmp_path):
    path = stack(tmp_path, GOOD_HEAD + "  inference-platform:argocd: {ha: true, ha: false}\n")
    assert refused(path).startswith(f"{path}:6: key 'ha' is given twice (first at line 6)")


def test_yaml_merge_keys_are_not_duplicates(tmp_path):
    body = GOOD_HEAD + "  x:defaults: &d {a: 1, b: 2}\n  x:merged:\n    <<: *d\n    a: 3\n"
    assert read_stack_file(stack(tmp_path, body))["x:merged"] == {"a": 3, "b": 2}


def test_the_last_value_is_never_kept_silently(tmp_path):
    path = stack(tmp_path, GOOD_HEAD.replace("kind: kind", "kind: kind\n    kind: gke"))
    with pytest.raises(ConfigError, match="key 'kind' is given twice"):
        read_stack_config(path)


# --- YAML syntax errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tail", "where", "problem"),
    [
        ("  inference-platform:models: [a, b\n  inference-platform:protect: false\n", ":7:29:", "expected ',' or ']'"),
        ("  inference-platform:protect: false\n   bad indent: 1\n", ":7:", "YAML syntax error"),
        ("  inference-platform:argocd:\n\tha: true\n", ":7:1:", "found character '\\t'"),
    ],
    ids=["unclosed-flow", "indent", "tab"],
)
def test_yaml_syntax_errors_name_file_and_line(tmp_path, tail, where, problem):
    path = stack(tmp_path, GOOD_HEAD + tail)
    line = refused(path)
    assert line.startswith(f"{path}{where}"), line
    assert "YAML syntax error" in line and problem in line


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("- config\n", "a stack file is a mapping with a `config` key"),
        ("config: [a, b]\n", "`config` must map `namespace:key` to values"),
    ],
)
def test_a_stack_file_of_the_wrong_shape_is_refused(tmp_path, body, message):
    path = stack(tmp_path, body)
    assert refused(path) == f"{path}: {message}"


def test_every_stack_file_of_the_project_reads_cleanly():
    paths = stack_files()
    assert len(paths) >= 6
    for path in paths:
        assert read_stack_file(path)


# --- config namespaces ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "intended"),
    [
        ("inference-platfrom:models", "inference-platform:models"),
        ("inference_platform:substrate", "inference-platform:substrate"),
        ("Inference-Platform:profile", "inference-platform:profile"),
        ("inference-plattform:secrets", "inference-platform:secrets"),
    ],
)
def test_a_near_miss_of_our_namespace_names_the_intended_key(key, intended):
    with pytest.raises(ConfigError) as err:
        check_namespaces(["inference-platform:substrate", key])
    assert str(err.value).splitlines()[1:] == [
        f"  {key}: config namespace {key.split(':')[0]!r} is not read by this program; did you mean {intended}? "
        "(namespaces: inference-platform and the providers' pulumi, gcp, hcloud, vsphere, kubernetes, command, "
        "random, tls)"
    ]


def test_provider_and_unrelated_namespaces_are_left_alone():
    keys = [f"{ns}:x" for ns in ("pulumi", "gcp", "hcloud", "vsphere", "kubernetes", "command", "random", "tls")]
    check_namespaces([*keys, "aws:region", "inference:x", "platform:y"])


def test_the_program_refuses_a_near_miss_namespace_from_the_engine():
    """In `pulumi up` the engine hands the program every key; the check runs there too."""
    try:
        pulumi.runtime.set_all_config(
            {
                "inference-platform:substrate": '{"kind": "kind"}',
                "inference-platform:secrets": '{"backend": "none"}',
                "inference-platfrom:models": "[]",
            },
            [],
        )
        with pytest.raises(ConfigError, match="did you mean inference-platform:models"):
            load_stack_config()
    finally:
        pulumi.runtime.set_all_config({}, [])


# --- secure: values ---------------------------------------------------------------------


def test_a_nested_secure_value_makes_its_whole_key_secret(tmp_path):
    body = GOOD_HEAD + textwrap.indent(
        "inference-platform:components:\n  keda:\n    values:\n      token:\n        secure: v1:abc\n", "  "
    )
    config, secret_keys = read_stack_config(stack(tmp_path, body))
    assert "inference-platform:components" in secret_keys
    assert "v1:abc" not in config["inference-platform:components"]


# --- render: one message, non-zero exit, nothing registered -----------------------------

RENDER_BAD = [
    (
        "argocd namespace",
        GOOD_HEAD + "  inference-platform:argocd:\n    namespace: monitoring\n",
        "inference-platform:argocd.namespace: 'monitoring' is already used by component kube-prometheus-stack",
    ),
    (
        "component needed but off",
        GOOD_HEAD
        + "  inference-platform:components:\n    keda:\n      enabled: false\n"
        + "  inference-platform:models:\n    - name: m\n      source: hf://a/b-0.5B\n      gpus: 0\n",
        "inference-platform:components.keda.enabled: keda is turned off, but models (m) scale on queue depth",
    ),
    (
        "values for a component not deployed",
        GOOD_HEAD
        + "  inference-platform:components:\n    gpu-operator:\n      values:\n        driver: {enabled: false}\n",
        "inference-platform:components.gpu-operator.values: values for gpu-operator, which this stack does not deploy",
    ),
    (
        "plain-text secret in values",
        GOOD_HEAD
        + "  inference-platform:components:\n    kube-prometheus-stack:\n      values:\n"
        + "        grafana:\n          adminPassword: hunter2\n",
        "inference-platform:components.kube-prometheus-stack.values.grafana.adminPassword: looks like a secret",
    ),
    (
        "duplicate key",
        GOOD_HEAD + "  inference-platform:protect: false\n  inference-platform:protect: false\n",
        ":7: key 'inference-platform:protect' is given twice (first at line 6)",
    ),
    ("YAML syntax error", GOOD_HEAD + "  inference-platform:models: [\n", ":7:1: YAML syntax error"),
    (
        "near-miss namespace",
        GOOD_HEAD + "  inference-platfrom:models: []\n",
        "inference-platfrom:models: config namespace 'inference-platfrom' is not read by this program; "
        "did you mean inference-platform:models?",
    ),
    (
        "near-miss top-level key",
        GOOD_HEAD + "  inference-platform:model: []\n",
        "inference-platform:model: unknown key; did you mean models?",
    ),
    (
        "substrate not a mapping",
        "config:\n  inference-platform:substrate: gke\n",
        "inference-platform:substrate: must be a mapping with kind (gke, hetzner, vks, kind, existing)",
    ),
    (
        "secrets not a mapping",
        "config:\n  inference-platform:substrate:\n    kind: kind\n  inference-platform:secrets: sops\n",
        "inference-platform:secrets: must be a mapping with the keys backend, not 'sops'",
    ),
    (
        "secure on a key that is not a secret key",
        GOOD_HEAD + "  inference-platform:protect:\n    secure: v1:abc\n",
        "inference-platform:protect: protect is not a secret key; give it in plain text",
    ),
    (
        "undocumented spelling",
        GOOD_HEAD + "  inference-platform:models:\n    - name: m\n      source: hf://a/b\n      gpus: 0\n"
        "      max_model_len: 4096\n",
        "inference-platform:models[0].max_model_len: unknown key; did you mean maxModelLen?",
    ),
]


@pytest.fixture
def registrations(monkeypatch) -> list[str]:
    """Types of every resource registered with the mock monitor (the stack itself excluded)."""
    seen: list[str] = []
    register = RecordingMonitor.RegisterResource

    def spy(self, request):
        if request.type != "pulumi:pulumi:Stack":
            seen.append(request.type)
        return register(self, request)

    monkeypatch.setattr(RecordingMonitor, "RegisterResource", spy)
    return seen


@pytest.mark.parametrize(("case", "body", "expected"), RENDER_BAD, ids=[c[0] for c in RENDER_BAD])
def test_render_refuses_bad_input_with_one_message_and_registers_nothing(
    case, body, expected, tmp_path, capsys, registrations
):
    path = stack(tmp_path, body)
    out = tmp_path / "out"
    assert render.main([str(path), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    heading, *lines = captured.err.strip().splitlines()
    assert heading == f"render {path}: invalid stack config:"
    assert len(lines) == 1, lines
    assert expected in lines[0], lines[0]
    assert registrations == []
    assert not out.exists()


def test_the_registration_spy_sees_a_good_render(tmp_path, registrations):
    """The guard above can fail: the same spy sees resources when the stack is good."""
    path = stack(tmp_path, GOOD_HEAD, "good")
    assert render.main([str(path), "--out", str(tmp_path / "out")]) == 0
    assert "kubernetes:helm.sh/v3:Release" in registrations
