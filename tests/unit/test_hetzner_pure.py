"""Hetzner substrate: config validation and the pure text (cloud-init, join command, kubeconfig)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess

import pytest
import yaml
from pydantic import ValidationError

from components.config.hetzner import HetznerSubstrate
from substrate.hetzner import k3s
from substrate.hetzner.cluster import admin_rules, gpu_pools, placement_groups

TOKEN = "T0ken" * 8
LB_IP = "203.0.113.7"
HOST_KEY = k3s.HostKey(
    private_openssh="-----BEGIN OPENSSH PRIVATE KEY-----\naG9zdA==\n-----END OPENSSH PRIVATE KEY-----\n",
    public_openssh="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostHostHostHostHostHostHostHostHostHostHost",
)


def server_data(s: HetznerSubstrate | None = None) -> str:
    return k3s.server_user_data(s or spec(), token=TOKEN, host_key=HOST_KEY)


def spec(**overrides) -> HetznerSubstrate:
    values = {"kind": "hetzner", "adminCidrs": ["198.51.100.0/24"], **overrides}
    return HetznerSubstrate.model_validate(values)


def gpu_spec() -> HetznerSubstrate:
    return spec(
        vswitchId=4711,
        gpuPools=[
            {"name": "l4", "accelerator": "nvidia-l4", "labels": {"tier": "gold"}},
            {"name": "h100", "accelerator": "nvidia-h100", "count": 8},
        ],
    )


def script_of(user_data: str) -> str:
    assert user_data.startswith("#cloud-config\n")
    doc = yaml.safe_load(user_data)
    assert doc["runcmd"] == [[k3s.INSTALL_SCRIPT]]
    return files_of(user_data)[k3s.INSTALL_SCRIPT]["content"]


def files_of(user_data: str) -> dict[str, dict]:
    return {f["path"]: f for f in yaml.safe_load(user_data)["write_files"]}


def install_line(script: str) -> str:
    (line,) = [line for line in script.splitlines() if line.startswith("curl ")]
    return line


def assert_shell_syntax(text: str) -> None:
    sh = shutil.which("sh")
    if sh is None:
        pytest.skip("no sh to check the syntax with")
    result = subprocess.run([sh, "-n"], input=text, text=True, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr


# --- config ---------------------------------------------------------------------------------


def test_defaults_are_a_small_cpu_cluster():
    s = spec()
    assert (s.location, s.network_zone, s.k3s_version) == ("fsn1", "eu-central", "v1.33.4+k3s1")
    assert (s.workers.count, s.load_balancer_type, s.gpu_pools) == (2, "lb11", [])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"adminCidrs": []}, "adminCidrs is empty"),
        ({"adminCidrs": ["not-a-range"]}, "'not-a-range' is not a CIDR range"),
        ({"location": "ash"}, "location ash is in network zone us-east"),
        ({"k3sVersion": "latest"}, "'latest' is not a pinned k3s release"),
        ({"subnetCidr": "10.1.0.0/24"}, "subnetCidr 10.1.0.0/24 is not inside networkCidr"),
        ({"subnetCidr": "10.0.1.0/29"}, "smaller than a /28"),
        ({"networkCidr": "10.0.0.0/8", "subnetCidr": "10.0.1.0/24"}, "overlaps k3s' pod/service range"),
        ({"networkCidr": "fd00::/48"}, "is not an IPv4 range"),
        ({"workers": {"count": 0}}, "greater than or equal to 1"),
        ({"controlPlaneType": "CPX 31"}, "is not an hcloud type or image name"),
        ({"gpuPools": [{"name": "l4", "accelerator": "nvidia-l4"}]}, "vswitchId is not set"),
        ({"vswitchId": 1, "vswitchSubnetCidr": "10.0.1.0/25"}, "overlaps subnetCidr"),
        ({"vswitchId": 1, "location": "ash", "networkZone": "us-east"}, "vSwitches exist only in eu-central"),
        ({"vswitchId": 1, "vswitchSubnetCidr": "10.9.0.0/24", "networkCidr": "10.0.0.0/16"}, "is not inside"),
    ],
)
def test_bad_config_names_the_input(overrides, message):
    with pytest.raises(ValidationError, match=message):
        spec(**overrides)


def test_location_and_matching_zone_pass():
    assert spec(location="ash", networkZone="us-east").network_zone == "us-east"


# --- addresses, firewall, placement ---------------------------------------------------------


def test_fixed_private_addresses_sit_at_the_top_of_the_subnet():
    assert k3s.private_addresses("10.0.1.0/24") == k3s.PrivateAddresses("10.0.1.252", "10.0.1.253")
    assert k3s.private_addresses("10.0.1.0/28").api_url == "https://10.0.1.13:6443"


def test_admin_rules_open_ssh_and_api_to_admins_only():
    rules = admin_rules(["198.51.100.0/24", "2001:db8::/32"])
    assert sorted(r.port for r in rules) == ["22", "6443"]
    assert all(r.direction == "in" and r.protocol == "tcp" for r in rules)
    assert all(r.source_ips == ["198.51.100.0/24", "2001:db8::/32"] for r in rules)
    assert admin_rules([]) == []


@pytest.mark.parametrize(("count", "sizes"), [(1, [1]), (10, [10]), (11, [10, 1]), (25, [10, 10, 5])])
def test_workers_are_spread_over_groups_of_ten(count, sizes):
    groups = placement_groups(count)
    assert [len(g) for g in groups] == sizes
    assert [i for g in groups for i in g] == list(range(count))


# --- cloud-init ------------------------------------------------------------------------------


def test_server_user_data_installs_the_pinned_k3s_server():
    user_data = server_data(spec(k3sVersion="v1.32.7+k3s1"))
    line = install_line(script_of(user_data))
    assert "INSTALL_K3S_VERSION=v1.32.7+k3s1 " in line
    assert "sh -s - server " in line
    for flag in (
        '--tls-san "$PUBLIC_IP"',
        "--tls-san 10.0.1.253",
        "--disable traefik",
        "--disable servicelb",
        "--disable local-storage",
        "--disable-cloud-controller",
        '--kubelet-arg "provider-id=hcloud://$SERVER_ID"',
        '--flannel-iface "$IFACE"',
        '--node-ip "$NODE_IP"',
        "--node-taint CriticalAddonsOnly=true:NoExecute",
        "--secrets-encryption",
        f"--kube-apiserver-arg audit-log-path={k3s.AUDIT_LOG}",
        f"--kube-apiserver-arg audit-policy-file={k3s.AUDIT_POLICY_FILE}",
    ):
        assert flag in line


def test_server_user_data_keeps_the_token_in_a_private_file():
    user_data = server_data()
    files = files_of(user_data)
    assert files[k3s.TOKEN_FILE] == {"path": k3s.TOKEN_FILE, "permissions": "0600", "content": TOKEN + "\n"}
    assert TOKEN not in script_of(user_data)
    assert f"K3S_TOKEN_FILE={k3s.TOKEN_FILE}" in install_line(script_of(user_data))
    assert yaml.safe_load(files[k3s.AUDIT_POLICY_FILE]["content"])["rules"] == [{"level": "Metadata"}]


def test_scripts_are_valid_shell_and_wait_for_the_private_network():
    for user_data in (
        server_data(),
        k3s.agent_user_data(spec(), token=TOKEN),
    ):
        script = script_of(user_data)
        assert_shell_syntax(script)
        assert "ip -o -4 addr show to 10.0.1.0/24" in script
        assert script.index("NODE_IP=") < script.index("curl -sfL")


def test_agent_user_data_joins_through_the_load_balancer_private_address():
    line = install_line(script_of(k3s.agent_user_data(spec(subnetCidr="10.0.8.0/24"), token=TOKEN)))
    assert "K3S_URL=https://10.0.8.253:6443" in line
    assert "INSTALL_K3S_VERSION=v1.33.4+k3s1" in line
    assert "sh -s - agent " in line
    assert "--tls-san" not in line and "--node-taint" not in line
    assert '--kubelet-arg "provider-id=hcloud://$SERVER_ID"' in line


def test_cloud_nodes_name_their_hcloud_server_without_an_uninitialized_taint():
    """The hcloud cloud controller finds servers by provider id; the kubelet never runs with
    --cloud-provider=external, whose uninitialized taint would keep Argo CD, which delivers that
    controller and its token, from scheduling."""
    for user_data in (server_data(), k3s.agent_user_data(spec(), token=TOKEN)):
        script = script_of(user_data)
        assert f"SERVER_ID=$(curl -sf --retry 30 --retry-delay 2 {k3s.METADATA}/instance-id)" in script
        assert script.index("SERVER_ID=") < script.index("curl -sfL")
        assert "cloud-provider" not in script
    assert "--disable-cloud-controller" in install_line(script_of(server_data()))


def test_server_certificate_names_the_public_address_from_the_metadata_service():
    script = script_of(server_data())
    assert f"PUBLIC_IP=$(curl -sf --retry 30 --retry-delay 2 {k3s.METADATA}/public-ipv4)" in script
    assert script.index("PUBLIC_IP=") < script.index("curl -sfL")


def test_server_host_key_is_the_one_pulumi_pins():
    doc = yaml.safe_load(server_data())
    assert doc["ssh_keys"] == {
        "ed25519_private": HOST_KEY.private_openssh,
        "ed25519_public": HOST_KEY.public_openssh,
    }
    assert "ssh_keys" not in yaml.safe_load(k3s.agent_user_data(spec(), token=TOKEN))
    with pytest.raises(ValueError, match="ED25519"):
        k3s.HostKey(private_openssh="x", public_openssh="ssh-rsa AAAA")


@pytest.mark.parametrize("token", ["short", "a" * 40 + "'; rm -rf /", "a" * 40 + "\n"])
def test_unsafe_tokens_are_refused_without_echoing_them(token):
    with pytest.raises(ValueError, match="at least 32 letters and digits") as err:
        k3s.agent_user_data(spec(), token=token)
    assert token not in str(err.value)


# --- GPU join ----------------------------------------------------------------------------------


def test_gpu_join_command_per_pool_carries_labels_taint_token_and_version():
    s = gpu_spec()
    text = k3s.gpu_join_commands(s, token=TOKEN)
    lines = text.splitlines()
    assert lines[0] == "# l4 (1x nvidia-l4)" and lines[2] == "# h100 (8x nvidia-h100)"
    l4, h100 = lines[1], lines[3]
    for line in (l4, h100):
        assert f"curl -sfL {k3s.K3S_INSTALL_URL} | INSTALL_K3S_VERSION=v1.33.4+k3s1 " in line
        assert f"K3S_URL=https://10.0.1.253:6443 K3S_TOKEN={TOKEN} sh -s - agent" in line
        assert line.endswith("--node-taint nvidia.com/gpu=present:NoSchedule)")
        assert "ip -o -4 addr show to 10.0.2.0/24" in line
        assert_shell_syntax(line)
    assert "--node-label inference-platform/gpu-pool=l4 --node-label tier=gold" in l4
    # Dedicated servers take no hcloud volumes: the CSI node plugin skips nodes with this label.
    assert "--node-label instance.hetzner.cloud/provided-by=robot" in l4
    assert "provider-id" not in l4
    assert "--node-label inference-platform/gpu-pool=h100 " in h100 and "tier=gold" not in h100


def test_no_pools_no_join_command():
    assert k3s.gpu_join_commands(spec(), token=TOKEN) == ""


def test_fact_labels_are_the_labels_the_join_command_sets():
    s = gpu_spec()
    pools = gpu_pools(s)
    assert [p.name for p in pools] == ["l4", "h100"]
    assert pools[0].labels == {"tier": "gold", "inference-platform/gpu-pool": "l4"}
    for pool in pools:
        line = k3s.gpu_join_command(s, next(p for p in s.gpu_pools if p.name == pool.name), TOKEN)
        for key, value in pool.labels.items():
            assert f"--node-label {key}={value}" in line
        assert [(t.key, t.value, t.effect) for t in pool.taints] == [("nvidia.com/gpu", "present", "NoSchedule")]


# --- kubeconfig ------------------------------------------------------------------------------

K3S_KUBECONFIG = """\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
"""


def test_kubeconfig_points_at_the_load_balancer_and_is_named_after_the_cluster():
    doc = yaml.safe_load(k3s.public_kubeconfig(K3S_KUBECONFIG, api_host=LB_IP, cluster_name="prod"))
    assert doc["clusters"] == [
        {"cluster": {"certificate-authority-data": "Q0E=", "server": f"https://{LB_IP}:6443"}, "name": "prod"}
    ]
    assert doc["contexts"] == [{"context": {"cluster": "prod", "user": "prod"}, "name": "prod"}]
    assert doc["current-context"] == "prod"
    assert doc["users"][0]["name"] == "prod"
    assert doc["users"][0]["user"]["client-key-data"] == "S0VZ"


def test_kubeconfig_without_clusters_is_an_error():
    with pytest.raises(ValueError, match="has no clusters"):
        k3s.public_kubeconfig("apiVersion: v1\nkind: Config\n", api_host=LB_IP, cluster_name="prod")


def test_cloud_nodes_fit_their_mtu_to_the_vswitch_only_when_one_is_coupled():
    for user_data in (
        server_data(gpu_spec()),
        k3s.agent_user_data(gpu_spec(), token=TOKEN),
    ):
        script = script_of(user_data)
        assert_shell_syntax(script)
        assert f"ExecStart=/usr/sbin/ip link set dev $IFACE mtu {k3s.VSWITCH_MTU}" in script
        assert script.index("systemctl enable --now private-network-mtu.service") < script.index("curl -sfL")
    assert "mtu" not in script_of(k3s.agent_user_data(spec(), token=TOKEN))


# --- kubeconfig read and renewal --------------------------------------------------------------


def _kubeconfig_with_cert(tmp_path, days: int) -> str:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl to make a client certificate with")
    key, cert = tmp_path / f"k{days}.pem", tmp_path / f"c{days}.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ed25519", "-nodes", "-days", str(days), "-subj", "/CN=system:admin",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    data = base64.b64encode(cert.read_bytes()).decode()
    return K3S_KUBECONFIG.replace("client-certificate-data: Q0VSVA==", f"client-certificate-data: {data}")


def _run_read(tmp_path, kubeconfig: str, renewed: str) -> tuple[str, bool]:
    """Runs the read command against a stand-in k3s: `k3s kubectl` answers ready, and
    `systemctl restart k3s` rewrites the kubeconfig as k3s does when it renews certificates."""
    bin_dir, file = tmp_path / "bin", tmp_path / "k3s.yaml"
    bin_dir.mkdir()
    file.write_text(kubeconfig)
    (tmp_path / "renewed.yaml").write_text(renewed)
    (bin_dir / "k3s").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "systemctl").write_text(
        f"#!/bin/sh\ntouch {tmp_path}/restarted\ncp {tmp_path}/renewed.yaml {file}\n"
    )
    for tool in ("k3s", "systemctl"):
        (bin_dir / tool).chmod(0o755)
    cmd = k3s.read_kubeconfig_command("2026-11").replace(k3s.KUBECONFIG_FILE, str(file))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(["sh", "-c", cmd], env=env, text=True, capture_output=True, check=True, timeout=120)
    return result.stdout, (tmp_path / "restarted").exists()


def test_read_prints_only_the_kubeconfig_and_leaves_a_fresh_certificate_alone(tmp_path):
    fresh = _kubeconfig_with_cert(tmp_path, 300)
    stdout, restarted = _run_read(tmp_path, fresh, renewed="never used")
    assert stdout == fresh and not restarted


def test_read_restarts_k3s_to_renew_a_certificate_close_to_expiry(tmp_path):
    stale, renewed = _kubeconfig_with_cert(tmp_path, 30), _kubeconfig_with_cert(tmp_path, 365)
    stdout, restarted = _run_read(tmp_path, stale, renewed=renewed)
    assert restarted and stdout == renewed


def test_read_runs_again_each_month():
    from datetime import datetime

    nov, dec = datetime(2026, 11, 30), datetime(2026, 12, 1)
    assert k3s.renewal_window(nov) == "2026-11" and k3s.renewal_window(dec) == "2026-12"
    assert k3s.read_kubeconfig_command("2026-11") != k3s.read_kubeconfig_command("2026-12")
    assert_shell_syntax(k3s.read_kubeconfig_command("2026-11"))
    # Only the last step writes to stdout.
    assert k3s.read_kubeconfig_command("2026-11").endswith(f"&& cat {k3s.KUBECONFIG_FILE}")


# --- in-cluster: hcloud CSI driver and cloud controller manager -------------------------------


def hetzner_layers(gpu: bool = False):
    from components.config import parse_stack_config
    from components.layers import build_layers
    from contract.facts import ClusterFacts

    substrate = gpu_spec() if gpu else spec()
    cfg = parse_stack_config(
        {"substrate": substrate.model_dump(by_alias=True), "sopsAgeKey": "AGE-SECRET-KEY-1TEST"}, ["sopsAgeKey"]
    )
    facts = ClusterFacts(
        kubeconfig=None,
        cluster_name=substrate.cluster_name,
        substrate="hetzner",
        gpu_stack="operator" if gpu else "none",
        gpu_pools=gpu_pools(substrate),
        storage_class="hcloud-volumes",
        cloud_location=substrate.location,
    )
    (platform,) = [layer for layer in build_layers(cfg, facts.plain(), set()) if layer.name == "platform"]
    return platform, {c["metadata"]["name"]: c for c in platform.children}


def test_hcloud_csi_and_ccm_apply_on_hetzner_only():
    from components.catalog import load_catalog

    catalog = load_catalog()
    for name in ("hcloud-csi", "hcloud-ccm"):
        entry = catalog[name]
        assert entry.when == {"substrate": ("hetzner",)}
        assert entry.applies("none", "sops", "hetzner")
        assert not entry.applies("none", "sops", "gke") and not entry.applies("none", "sops")
        assert (entry.chart.repo_url, entry.namespace) == ("https://charts.hetzner.cloud", "kube-system")


def test_hetzner_platform_layer_deploys_the_csi_driver_for_its_storage_class():
    """ClusterFacts name hcloud-volumes: without the CSI driver every claim stays Pending."""
    _, children = hetzner_layers()
    csi = children["hcloud-csi"]["spec"]["source"]
    assert (csi["chart"], csi["targetRevision"]) == ("hcloud-csi", "2.22.1")
    values = csi["helm"]["valuesObject"]
    assert values["storageClasses"][0]["name"] == "hcloud-volumes"
    assert values["storageClasses"][0]["defaultStorageClass"] is True
    # The token comes from the Secret the secrets backend delivers, never from values.
    assert values["controller"]["hcloudToken"] == {"existingSecret": {"name": "hcloud", "key": "token"}}


def test_hetzner_platform_layer_deploys_the_cloud_controller_for_load_balancer_services():
    _, children = hetzner_layers()
    ccm = children["hcloud-ccm"]["spec"]["source"]
    assert (ccm["chart"], ccm["targetRevision"]) == ("hcloud-cloud-controller-manager", "1.35.0")
    env = ccm["helm"]["valuesObject"]["env"]
    assert env["HCLOUD_NETWORK"] == {"value": "inference"}
    assert env["HCLOUD_LOAD_BALANCERS_LOCATION"] == {"value": "fsn1"}
    assert env["HCLOUD_LOAD_BALANCERS_USE_PRIVATE_IP"] == {"value": "true"}
    assert env["HCLOUD_NETWORK_ROUTES_ENABLED"] == {"value": "false"}
    # Untouched chart default: the token from Secret hcloud, key token.
    assert "HCLOUD_TOKEN" not in env
    assert "-cloud-node-lifecycle" in ccm["helm"]["valuesObject"]["args"]["controllers"]


def test_platform_project_admits_the_csi_drivers_cluster_kinds():
    platform, _ = hetzner_layers()
    kinds = {(k["group"], k["kind"]) for k in platform.project["spec"]["clusterResourceWhitelist"]}
    assert {("storage.k8s.io", "CSIDriver"), ("storage.k8s.io", "StorageClass")} <= kinds
    assert "kube-system" in {d["namespace"] for d in platform.project["spec"]["destinations"]}


@pytest.mark.parametrize(("version", "expected"), [("v1.33.4+k3s1", False), ("v1.35.0+k3s1", True)])
def test_image_volumes_need_kubernetes_1_35(version, expected):
    assert spec(k3sVersion=version).image_volumes is expected


def test_oci_models_are_refused_on_k3s_below_1_35():
    from components.config import parse_stack_config
    from components.config.loader import ConfigError

    model = {"name": "m", "source": "oci://registry.example.com/m@sha256:" + "a" * 64, "engine": "vllm", "task": "text",
             "gpus": 0, "weightsSize": "1Gi"}

    def stack(version: str):
        substrate = {"kind": "hetzner", "adminCidrs": ["198.51.100.0/24"], "k3sVersion": version}
        values = {"substrate": substrate, "models": [model], "sopsAgeKey": "AGE-SECRET-KEY-1TEST"}
        return parse_stack_config(values, ["sopsAgeKey"])

    with pytest.raises(ConfigError, match="ImageVolume"):
        stack("v1.33.4+k3s1")
    assert stack("v1.35.0+k3s1").models



def test_charts_in_kube_system_neither_create_nor_relabel_it():
    """kube-system exists on every cluster: an Application must not manage its metadata
    (Pod Security labels would warn on every system pod)."""
    _, children = hetzner_layers()
    for name in ("hcloud-csi", "hcloud-ccm"):
        policy = children[name]["spec"]["syncPolicy"]
        assert "CreateNamespace=true" not in policy["syncOptions"]
        assert "managedNamespaceMetadata" not in policy
