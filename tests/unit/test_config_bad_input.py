"""Bad input refused by StackConfig itself (so both `pulumi up` and render refuse it), each
with one message that names the key path and what is allowed."""

from __future__ import annotations

import typing

import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await
from pydantic import BaseModel, ValidationError

from components.catalog import load_catalog, load_data
from components.config import ConfigError, StackConfig, parse_stack_config
from components.config.plaintext import plain_secrets
from components.config.stack import RESERVED_NAMESPACES, SECRET_KEYS
from tests.conftest import STACKS, stack_run
from tests.unit.test_config import AGE, GKE, KIND, with_
from tooling.program import read_stack_config

HETZNER = {
    "substrate": {"kind": "hetzner", "adminCidrs": ["203.0.113.0/24"]},
    "sopsAgeKey": AGE,
}


def refused(values: dict, secret_keys=None) -> str:
    """The one error line for `values`, without the heading."""
    secrets = [k for k in SECRET_KEYS if k in values] if secret_keys is None else secret_keys
    with pytest.raises(ConfigError) as err:
        parse_stack_config(values, secret_keys=secrets)
    heading, *lines = str(err.value).splitlines()
    assert heading == "invalid stack config:"
    assert len(lines) == 1, lines
    return lines[0].strip()


def components(base: dict, **overrides) -> dict:
    return with_(base, "components", overrides)


# --- argocd.namespace ------------------------------------------------------------------


@pytest.mark.parametrize("namespace", ["Argo", "argo_cd", "-argo", "a" * 64, "argo.cd"])
def test_argocd_namespace_must_be_a_dns_label(namespace):
    line = refused(with_(KIND, "argocd", {"namespace": namespace}))
    assert line.startswith("inference-platform:argocd.namespace: ")
    assert "is not a DNS label: lower-case letters, digits and '-', starting with a letter, at most 63" in line


TAKEN = sorted(
    {e.namespace for e in load_catalog().values()}
    | {load_data("serving/vllm.yaml")["namespace"]}
    | set(RESERVED_NAMESPACES)
)


@pytest.mark.parametrize("namespace", TAKEN)
def test_argocd_namespace_may_not_be_one_another_owner_uses(namespace):
    line = refused(with_(KIND, "argocd", {"namespace": namespace}))
    assert line.startswith(f"inference-platform:argocd.namespace: {namespace!r} is already used by ")
    assert "Argo CD needs a namespace of its own, not one of: " + ", ".join(TAKEN) in line


def test_argocd_namespace_of_its_own_is_accepted():
    assert parse_stack_config(with_(KIND, "argocd", {"namespace": "gitops"})).argocd.namespace == "gitops"


def test_taken_namespaces_name_their_owner():
    assert "used by component kube-prometheus-stack" in refused(with_(KIND, "argocd", {"namespace": "monitoring"}))
    assert "used by the model servers" in refused(with_(KIND, "argocd", {"namespace": "inference"}))
    assert "used by Kubernetes itself" in refused(with_(KIND, "argocd", {"namespace": "kube-system"}))


# --- components turned off while needed -------------------------------------------------

NEEDED = [
    ("keda", GKE, "models (qwen) scale on queue depth through KEDA ScaledObjects", "serve no models"),
    (
        "kube-prometheus-stack",
        GKE,
        "models (qwen) are scraped through PodMonitors and their ScaledObjects read vllm:num_requests_waiting",
        "serve no models",
    ),
    ("external-secrets", GKE, "secrets.backend is 'external-secrets'", "choose another secrets.backend"),
    (
        "sops-secrets-operator",
        with_(GKE, "secrets", {"backend": "sops"}) | {"sopsAgeKey": AGE},
        "secrets.backend is 'sops' and sopsAgeKey rely on it",
        "choose another secrets.backend",
    ),
    (
        "sops-secrets-operator",
        with_(
            with_(KIND, "secrets.backend", "sops") | {"sopsAgeKey": AGE},
            "models",
            [
                {"name": "m", "source": "hf://a/b-0.5B", "gpus": 0, "hfTokenSecret": "hf-token"},
            ],
        ),
        "secrets.backend is 'sops' and sopsAgeKey, models[0].hfTokenSecret rely on it",
        "choose another secrets.backend",
    ),
]


@pytest.mark.parametrize(
    ("name", "base", "why", "otherwise"), NEEDED, ids=[f"{n[0]}-{i}" for i, n in enumerate(NEEDED)]
)
def test_a_needed_component_cannot_be_turned_off(name, base, why, otherwise):
    line = refused(components(base, **{name: {"enabled": False}}))
    assert line.startswith(f"inference-platform:components.{name}.enabled: {name} is turned off, but ")
    assert why in line
    assert line.endswith(f"keep it enabled (remove `enabled: false`) or {otherwise}")


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("keda", with_(GKE, "models", [])),
        ("kube-prometheus-stack", with_(GKE, "models", [])),
        ("cert-manager", GKE),
    ],
)
def test_a_component_nothing_needs_can_be_turned_off(name, base):
    assert not parse_stack_config(components(base, **{name: {"enabled": False}})).enabled(name)


# --- values for a component this stack does not deploy ----------------------------------


def test_gpu_operator_values_on_gke_are_refused():
    line = refused(components(GKE, **{"gpu-operator": {"values": {"driver": {"enabled": False}}}}))
    assert line == (
        "inference-platform:components.gpu-operator.values: values for gpu-operator, which this stack does not "
        "deploy: it is deployed only where gpuStack is operator, and this stack's gpuStack (substrate gke) is "
        "'gke-managed'; remove them"
    )


def test_explicitly_enabling_a_component_the_stack_cannot_deploy_is_refused():
    line = refused(components(GKE, **{"gpu-operator": {"enabled": True}}))
    assert line.startswith("inference-platform:components.gpu-operator.enabled: gpu-operator cannot be enabled")
    assert "deployed only where gpuStack is operator" in line


def test_secret_operator_values_for_another_backend_are_refused():
    line = refused(components(GKE, **{"sops-secrets-operator": {"values": {"replicaCount": 2}}}))
    assert line.startswith("inference-platform:components.sops-secrets-operator.values: ")
    assert "deployed only where secretsBackend is sops, and this stack's secrets.backend is 'external-secrets'" in line


def test_values_for_a_component_turned_off_are_refused():
    line = refused(components(GKE, **{"cert-manager": {"enabled": False, "values": {"replicaCount": 2}}}))
    assert line == (
        "inference-platform:components.cert-manager.values: values for cert-manager, which this stack does "
        "not deploy: it is turned off (enabled: false); remove them"
    )


HETZNER_GPU = with_(
    with_(HETZNER, "substrate.vswitchId", 1), "substrate.gpuPools", [{"name": "l40s", "accelerator": "nvidia-l40s"}]
)


@pytest.mark.parametrize(
    ("values", "gpu_stack", "deploys"),
    [
        (GKE, "gke-managed", False),
        (HETZNER, "none", False),
        (HETZNER_GPU, "operator", True),
        (KIND, "none", False),
        ({"substrate": {"kind": "existing", "gpuStack": "none"}, "kubeconfig": "x", "sopsAgeKey": AGE}, "none", False),
        ({"substrate": {"kind": "existing"}, "kubeconfig": "x", "sopsAgeKey": AGE}, "operator", True),
    ],
    ids=["gke", "hetzner-cpu", "hetzner-gpu", "kind", "existing-none", "existing-operator"],
)
def test_gpu_operator_values_follow_the_substrates_gpu_stack(values, gpu_stack, deploys):
    secrets = [k for k in SECRET_KEYS if k in values]
    assert parse_stack_config(values, secrets).gpu_stack == gpu_stack
    values = components(values, **{"gpu-operator": {"values": {"driver": {"enabled": False}}}})
    if deploys:
        parse_stack_config(values, secrets)
    else:
        assert f"this stack's gpuStack (substrate {values['substrate']['kind']}) is {gpu_stack!r}" in refused(values)


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_gpu_stack_is_the_one_the_substrate_reports(stack):
    """StackConfig.gpu_stack decides which catalog values are refused; it must be the
    substrate's own ClusterFacts.gpu_stack (exported as gpuStack) on every stack."""
    config, secret_keys = read_stack_config(STACKS[stack])
    ours = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("inference-platform:")}
    cfg = parse_stack_config(ours, [k.split(":", 1)[1] for k in secret_keys])
    exported = stack_run(stack).outputs["gpuStack"]
    if isinstance(exported, pulumi.Output):
        exported = _sync_await(exported.future())
    assert cfg.gpu_stack == exported


# --- secrets in component values --------------------------------------------------------

PLAIN = [
    ({"grafana": {"adminPassword": "hunter2"}}, "grafana.adminPassword"),
    ({"auth": {"token": "abc"}}, "auth.token"),
    ({"apiKey": "sk-123"}, "apiKey"),
    ({"tls": {"privateKey": "-----BEGIN"}}, "tls.privateKey"),
    ({"webhook": {"secret": "s3cr3t"}}, "webhook.secret"),
    (
        {"grafana": {"grafana.ini": {"security": {"admin_password": "x"}}}},
        "grafana.grafana.ini.security.admin_password",
    ),
    ({"configs": {"secret": {"argocdServerAdminPassword": "x"}}}, "configs.secret.argocdServerAdminPassword"),
    ({"receivers": [{"slack": {"api-key": "x"}}]}, "receivers[0].slack.api-key"),
    ({"extraEnv": [{"name": "HF_TOKEN", "value": "hf_abc"}]}, "extraEnv[0].value"),
    ({"clientCredentials": "x"}, "clientCredentials"),
    ({"grafana": {"env": [{"name": "GF_SECURITY_ADMIN_PASSWORD", "value": "x"}]}}, "grafana.env[0].value"),
    ({"minio": {"secretKey": "x"}}, "minio.secretKey"),
    ({"webhookSecret": "x"}, "webhookSecret"),
]


@pytest.mark.parametrize(("values", "path"), PLAIN, ids=[p[1] for p in PLAIN])
def test_a_plain_text_secret_in_component_values_is_refused(values, path):
    line = refused(components(GKE, **{"kube-prometheus-stack": {"values": values}}))
    assert line.startswith(f"inference-platform:components.kube-prometheus-stack.values.{path}: ")
    assert "looks like a secret given in plain text" in line
    assert "secrets come through the secrets backend only (secrets.backend)" in line
    assert "give the chart the Secret's name (e.g. existingSecret, secretName, secretKeyRef)" in line


REFERENCES = {
    "admin": {"existingSecret": "grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"},
    "auth": {"existingSecretPasswordKey": "password", "tokenSecretName": "api-token", "password": ""},
    "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}],
    "extraEnv": [{"name": "TOKEN_PATH", "value": "/var/run/token"}, {"name": "PASSWORD", "value": ""}],
    "oauth": {"clientSecretRef": "oauth", "tokenFile": "/var/run/secrets/token", "passwordPath": "/etc/pw"},
    "serviceAccount": {"automountServiceAccountToken": False},
    "tokenTTL": "24h",
    "tokenExpirationSeconds": 3600,
    "secretMode": "files",
    "envFromSecret": "grafana-env",
}


def test_references_to_secrets_and_empty_strings_are_accepted():
    assert list(plain_secrets(REFERENCES)) == []
    parse_stack_config(components(GKE, **{"kube-prometheus-stack": {"values": REFERENCES}}))


# --- sections that are not mappings -----------------------------------------------------


@pytest.mark.parametrize(
    ("values", "line"),
    [
        (
            {"substrate": "gke", "secrets": {"backend": "none"}},
            "inference-platform:substrate: must be a mapping with kind (gke, hetzner, vks, kind, existing) and "
            "that substrate's keys, not 'gke' (see docs/config.md)",
        ),
        (
            with_(KIND, "secrets", "sops"),
            "inference-platform:secrets: must be a mapping with the keys backend, not 'sops' (see docs/config.md)",
        ),
        (
            with_(KIND, "argocd", "argocd"),
            "inference-platform:argocd: must be a mapping with the keys ha, namespace, not 'argocd' "
            "(see docs/config.md)",
        ),
        (
            components(KIND, keda=False),
            "inference-platform:components.keda: must be a mapping with the keys enabled, values, not False "
            "(see docs/config.md)",
        ),
        (
            with_(KIND, "models", [{"name": "m", "source": "hf://a/b-0.5B", "gpus": 0, "replicas": 2}]),
            "inference-platform:models[0].replicas: must be a mapping with the keys min, max, not 2 "
            "(see docs/config.md)",
        ),
    ],
)
def test_a_section_that_is_not_a_mapping_is_refused(values, line):
    assert refused(values) == line


@pytest.mark.parametrize(
    ("values", "need"),
    [
        ({"substrate": "gke", "secrets": "sops"}, {"sopsAgeKey"}),
        ({"substrate": ["kind"], "secrets": None}, {"sopsAgeKey"}),
        ({"substrate": '{"kind": "existing"}', "secrets": '{"backend": "none"}'}, {"kubeconfig"}),
        ({"substrate": {"kind": "vks"}, "secrets": {"backend": "sops"}}, {"supervisorKubeconfig", "sopsAgeKey"}),
        ({"substrate": {"kind": "kind"}}, {"sopsAgeKey"}),  # sops is the default backend, on kind too
        ({"substrate": {"kind": "gke"}, "secrets": {"backend": "external-secrets"}}, set()),
    ],
)
def test_required_secrets_read_raw_config_of_any_shape(values, need):
    assert StackConfig.required_secrets(values) == need


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_required_secrets_are_exactly_what_validation_asks_for(stack):
    """One rule: each key required_secrets names is refused when missing, and nothing else is."""
    config, secret_keys = read_stack_config(STACKS[stack])
    ours = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("inference-platform:")}
    secrets = [k.split(":", 1)[1] for k in secret_keys]
    need = StackConfig.required_secrets(ours)
    parse_stack_config(ours, secrets)
    for key in need:
        without = {k: v for k, v in ours.items() if k != key}
        line = refused(without, [s for s in secrets if s != key])
        assert line.startswith(f"inference-platform:{key}: ") and f"needs the secret key {key}" in line
    for key in set(SECRET_KEYS) - need - {"sopsAgeKey"}:
        line = refused(ours | {key: "x"}, [*secrets, key])
        assert line.startswith(f"inference-platform:{key}: {key} is read only for ")


# --- secure: on a key that is not a secret key ------------------------------------------


@pytest.mark.parametrize("key", ["protect", "models", "components"])
def test_a_secret_value_on_a_key_that_is_not_a_secret_key_is_refused(key):
    line = refused(KIND | {key: "placeholder"}, secret_keys=[key])
    assert line == (
        f"inference-platform:{key}: {key} is not a secret key; give it in plain text (the secret keys are "
        "kubeconfig, sopsAgeKey, supervisorKubeconfig; other secrets come through secrets.backend)"
    )


# --- undocumented spellings -------------------------------------------------------------


def _schema_models(model: type[BaseModel] = StackConfig, seen: set | None = None) -> set[type[BaseModel]]:
    seen = seen if seen is not None else set()
    if model in seen:
        return seen
    seen.add(model)
    for field in model.model_fields.values():
        for arg in [field.annotation, *typing.get_args(field.annotation)]:
            for sub in [arg, *typing.get_args(arg)]:
                if isinstance(sub, type) and issubclass(sub, BaseModel):
                    _schema_models(sub, seen)
    return seen


SPELLINGS = sorted(
    ((m, name, f.alias) for m in _schema_models() for name, f in m.model_fields.items() if f.alias and f.alias != name),
    key=lambda t: (t[0].__name__, t[1]),
)


def test_the_schema_has_multi_word_keys_to_check():
    assert len(SPELLINGS) > 40


@pytest.mark.parametrize(("model", "name", "alias"), SPELLINGS, ids=[f"{m.__name__}.{n}" for m, n, _ in SPELLINGS])
def test_no_key_is_read_by_its_python_name(model, name, alias):
    with pytest.raises(ValidationError) as err:
        model.model_validate({name: None})
    assert {"type": "extra_forbidden", "loc": (name,)} in [
        {"type": e["type"], "loc": e["loc"]} for e in err.value.errors()
    ]


@pytest.mark.parametrize(
    ("values", "line"),
    [
        (
            with_(GKE, "models[0]", {"name": "q", "source": "hf://a/b", "gpus": 1, "gpu_type": "nvidia-l4"}),
            "inference-platform:models[0].gpu_type: unknown key; did you mean gpuType?",
        ),
        (
            with_(KIND, "substrate.node_image", "x"),
            "inference-platform:substrate.node_image: unknown key; did you mean nodeImage?",
        ),
        (
            with_(HETZNER, "substrate.k3s_version", "v1.33.4+k3s1"),
            "inference-platform:substrate.k3s_version: unknown key; did you mean k3sVersion?",
        ),
        (
            with_(GKE, "substrate.gpuPools[0].machine_type", "g2-standard-8"),
            "inference-platform:substrate.gpuPools[0].machine_type: unknown key; did you mean machineType?",
        ),
        (KIND | {"sops_age_key": "x"}, "inference-platform:sops_age_key: unknown key; did you mean sopsAgeKey?"),
        (KIND | {"model": []}, "inference-platform:model: unknown key; did you mean models?"),
        (with_(KIND, "argocd", {"HA": True}), "inference-platform:argocd.HA: unknown key; did you mean ha?"),
    ],
)
def test_a_misspelt_key_is_refused_with_the_documented_spelling(values, line):
    assert refused(values).startswith(line)


def test_an_unknown_key_without_a_near_miss_lists_what_is_allowed():
    assert refused(with_(KIND, "argocd", {"replicas": 2})) == (
        "inference-platform:argocd.replicas: unknown key; allowed here: ha, namespace"
    )
