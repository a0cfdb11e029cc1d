"""Pure text for the Hetzner substrate: k3s cloud-init, GPU join commands, the public kubeconfig.

No Pulumi here: every function takes plain values, so each can be tested on its own.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass
from datetime import datetime

import yaml

from components.config.hetzner import HetznerDedicatedGpuPool, HetznerSubstrate
from contract.facts import GPU_TAINT

# The version is pinned by INSTALL_K3S_VERSION; the script verifies the binary's checksum.
K3S_INSTALL_URL = "https://get.k3s.io"
API_PORT = 6443
TOKEN_FILE = "/etc/rancher/k3s/cluster-token"
INSTALL_SCRIPT = "/usr/local/sbin/k3s-install.sh"
AUDIT_POLICY_FILE = "/etc/rancher/k3s/audit-policy.yaml"
AUDIT_LOG = "/var/lib/rancher/k3s/server/logs/audit.log"
ROLE_LABEL = "inference-platform/role"
POOL_LABEL = "inference-platform/gpu-pool"
# Hetzner's metadata service, reachable from every cloud server without credentials.
METADATA = "http://169.254.169.254/hetzner/v1/metadata"
# The hcloud cloud controller manager and CSI driver name cloud servers hcloud://<server id>.
PROVIDER_ID_PREFIX = "hcloud://"
# The hcloud CSI driver's node plugin stays off nodes with this label: hcloud volumes attach
# only to cloud servers, never to dedicated (Robot) machines.
PROVIDED_BY_LABEL = "instance.hetzner.cloud/provided-by"
# Lets the cluster's own add-ons (CoreDNS, metrics-server) run on the control plane and nothing else.
CONTROL_PLANE_TAINT = "CriticalAddonsOnly=true:NoExecute"
GPU_TAINT_FLAG = f"{GPU_TAINT.key}={GPU_TAINT.value}:{GPU_TAINT.effect}"
# A Robot vSwitch carries at most 1400-byte frames; cloud networks allow 1450. Coupled to a
# vSwitch, cloud nodes shrink their private interface so flannel's VXLAN packets fit both.
VSWITCH_MTU = 1400
MTU_UNIT = "/etc/systemd/system/private-network-mtu.service"
TOKEN = re.compile(r"[A-Za-z0-9]{32,}")
# Metadata only: request bodies would put Secret values into the log.
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}
AUDIT_ARGS = (
    f"audit-log-path={AUDIT_LOG}",
    f"audit-policy-file={AUDIT_POLICY_FILE}",
    "audit-log-maxage=30",
    "audit-log-maxbackup=10",
    "audit-log-maxsize=100",
)


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks, so the user data stays readable on the server."""


_BlockDumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None),
)


@dataclass(frozen=True)
class HostKey:
    """An ED25519 SSH host key in OpenSSH formats."""

    private_openssh: str
    public_openssh: str

    def __post_init__(self) -> None:
        if not self.public_openssh.startswith("ssh-ed25519 "):
            raise ValueError("the SSH host key must be an ED25519 key in OpenSSH format")


@dataclass(frozen=True)
class PrivateAddresses:
    """Fixed private addresses, known before anything exists, so cloud-init and the join
    command can name them without waiting for the cloud to report them."""

    control_plane: str
    load_balancer: str

    @property
    def api_url(self) -> str:
        return f"https://{self.load_balancer}:{API_PORT}"


def private_addresses(subnet_cidr: str) -> PrivateAddresses:
    # The top of the subnet: hcloud hands out addresses to other servers from the bottom.
    last = ipaddress.ip_network(subnet_cidr).broadcast_address
    return PrivateAddresses(control_plane=str(last - 3), load_balancer=str(last - 2))


def check_token(token: str) -> str:
    # Never echo the token itself: the message ends up in logs.
    if not TOKEN.fullmatch(token):
        raise ValueError("the k3s token must be at least 32 letters and digits (it is written into shell and YAML)")
    return token


def gpu_pool_labels(pool: HetznerDedicatedGpuPool) -> dict[str, str]:
    """Node labels of a pool: the declared ones plus the key that selects exactly this pool."""
    return {**pool.labels, POOL_LABEL: pool.name}


def _node_ip(cidr: str) -> str:
    return f"NODE_IP=$(ip -o -4 addr show to {cidr} | awk '{{sub(\"/.*\", \"\", $4); print $4; exit}}')"


def _iface(cidr: str) -> str:
    return f"IFACE=$(ip -o -4 addr show to {cidr} | awk '{{print $2; exit}}')"


def _require_address(cidr: str) -> str:
    return f'[ -n "$NODE_IP" ] || {{ echo "this host has no address in {cidr}" >&2; exit 1; }}'


def discover_private_address(cidr: str, wait_seconds: int = 300) -> list[str]:
    """Shell lines setting NODE_IP and IFACE to this host's address in `cidr` and its interface.

    The private network comes up a little after boot, and its interface name differs between
    server types, so the address is waited for and the interface found by it."""
    return [
        f"for _ in $(seq {max(1, wait_seconds // 5)}); do",
        f"  {_node_ip(cidr)}",
        '  [ -n "$NODE_IP" ] && break',
        "  sleep 5",
        "done",
        _require_address(cidr),
        _iface(cidr),
    ]


def fit_vswitch_mtu(spec: HetznerSubstrate) -> list[str]:
    """Shell lines that pin the private interface's MTU at every boot, before k3s starts."""
    if spec.vswitch_id is None:
        return []
    unit = [
        "[Unit]",
        "Description=Private network MTU that fits the Robot vSwitch",
        "Before=k3s.service k3s-agent.service",
        "[Service]",
        "Type=oneshot",
        f"ExecStart=/usr/sbin/ip link set dev $IFACE mtu {VSWITCH_MTU}",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return [
        f"cat > {MTU_UNIT} <<EOF",
        *unit,
        "EOF",
        "systemctl daemon-reload",
        f"systemctl enable --now {MTU_UNIT.rsplit('/', 1)[1]}",
    ]


def _public_ip() -> list[str]:
    # The API certificate must name the address Pulumi and admins reach it on.
    return [
        f"PUBLIC_IP=$(curl -sf --retry 30 --retry-delay 2 {METADATA}/public-ipv4)",
        '[ -n "$PUBLIC_IP" ] || { echo "the metadata service gave no public IPv4" >&2; exit 1; }',
    ]


def _provider_id() -> list[str]:
    return [
        f"SERVER_ID=$(curl -sf --retry 30 --retry-delay 2 {METADATA}/instance-id)",
        '[ -n "$SERVER_ID" ] || { echo "the metadata service gave no instance id" >&2; exit 1; }',
    ]


# k3s' own cloud controller is off: the hcloud one replaces it. The kubelet names its server by
# provider id instead of running with --cloud-provider=external, because that flag taints every
# node uninitialized until a cloud controller runs, and the hcloud cloud controller (like its API
# token) is delivered by Argo CD and the secrets operator, which could then not schedule.
CLOUD_FLAGS = ("--disable-cloud-controller",)
PROVIDER_ID_FLAG = f'--kubelet-arg "provider-id={PROVIDER_ID_PREFIX}$SERVER_ID"'


def _install(spec: HetznerSubstrate, env: dict[str, str], role: str, flags: list[str]) -> str:
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in {"INSTALL_K3S_VERSION": spec.k3s_version, **env}.items())
    return f"curl -sfL {K3S_INSTALL_URL} | {assignments} sh -s - {role} " + " ".join(flags)


def _cloud_config(files: list[dict], script: list[str], host_key: HostKey | None = None) -> str:
    files = [
        *files,
        {"path": INSTALL_SCRIPT, "permissions": "0700", "content": "\n".join(["#!/bin/sh", "set -eu", *script]) + "\n"},
    ]
    body: dict = {"write_files": files, "runcmd": [[INSTALL_SCRIPT]]}
    if host_key is not None:
        # cloud-init installs these as the server's host key instead of generating its own, so
        # the key Pulumi pins for SSH is known before the server boots.
        body["ssh_keys"] = {"ed25519_private": host_key.private_openssh, "ed25519_public": host_key.public_openssh}
    return "#cloud-config\n" + yaml.dump(body, Dumper=_BlockDumper, sort_keys=False, width=1000)


def _token_file(token: str) -> dict:
    return {"path": TOKEN_FILE, "permissions": "0600", "content": check_token(token) + "\n"}


def server_user_data(spec: HetznerSubstrate, token: str, host_key: HostKey) -> str:
    """cloud-init for the k3s server: pinned version, API certificate valid for the server's public
    address and the load balancer's private one, bundled ingress, service load balancer, local
    storage and cloud controller off (the hcloud ones replace them), secrets encrypted, API audited,
    and an SSH host key made in advance so Pulumi can pin it."""
    addresses = private_addresses(spec.subnet_cidr)
    flags = [
        '--node-ip "$NODE_IP"',
        '--flannel-iface "$IFACE"',
        '--tls-san "$PUBLIC_IP"',
        f"--tls-san {addresses.load_balancer}",
        "--disable traefik",
        "--disable servicelb",
        "--disable local-storage",
        *CLOUD_FLAGS,
        PROVIDER_ID_FLAG,
        f"--node-taint {CONTROL_PLANE_TAINT}",
        f"--node-label {ROLE_LABEL}=control-plane",
        "--secrets-encryption",
        "--write-kubeconfig-mode 0600",
        *(f"--kube-apiserver-arg {arg}" for arg in AUDIT_ARGS),
    ]
    audit = {"path": AUDIT_POLICY_FILE, "permissions": "0600", "content": yaml.safe_dump(AUDIT_POLICY)}
    script = [
        *discover_private_address(spec.subnet_cidr),
        *_public_ip(),
        *_provider_id(),
        *fit_vswitch_mtu(spec),
        f"mkdir -p {AUDIT_LOG.rsplit('/', 1)[0]}",
        _install(spec, {"K3S_TOKEN_FILE": TOKEN_FILE}, "server", flags),
    ]
    return _cloud_config([_token_file(token), audit], script, host_key)


def agent_user_data(spec: HetznerSubstrate, token: str) -> str:
    """cloud-init for a CPU worker: joins through the load balancer's private address."""
    env = {"K3S_URL": private_addresses(spec.subnet_cidr).api_url, "K3S_TOKEN_FILE": TOKEN_FILE}
    flags = [
        '--node-ip "$NODE_IP"',
        '--flannel-iface "$IFACE"',
        PROVIDER_ID_FLAG,
        f"--node-label {ROLE_LABEL}=worker",
    ]
    script = [
        *discover_private_address(spec.subnet_cidr),
        *_provider_id(),
        *fit_vswitch_mtu(spec),
        _install(spec, env, "agent", flags),
    ]
    return _cloud_config([_token_file(token)], script)


def gpu_join_command(spec: HetznerSubstrate, pool: HetznerDedicatedGpuPool, token: str) -> str:
    """One line to run as root on a dedicated GPU server whose vSwitch VLAN is up: it finds its
    vSwitch address and joins as an agent with the pool's labels and the GPU taint."""
    env = {"K3S_URL": private_addresses(spec.subnet_cidr).api_url, "K3S_TOKEN": check_token(token)}
    labels = [f"--node-label {shlex.quote(f'{k}={v}')}" for k, v in sorted(gpu_pool_labels(pool).items())]
    # Not an hcloud server: keeps the hcloud CSI node plugin (and hcloud volumes) off this node.
    labels.append(f"--node-label {PROVIDED_BY_LABEL}=robot")
    flags = ['--node-ip "$NODE_IP"', '--flannel-iface "$IFACE"', *labels, f"--node-taint {GPU_TAINT_FLAG}"]
    cidr = spec.vswitch_subnet_cidr
    steps = [_node_ip(cidr), _iface(cidr), _require_address(cidr), _install(spec, env, "agent", flags)]
    # A pasted line runs in the admin's shell: a subshell keeps `exit` from closing it.
    return "(" + "; ".join(steps) + ")"


def gpu_join_commands(spec: HetznerSubstrate, token: str) -> str:
    """The join line of every declared pool, each under a comment naming the pool."""
    blocks = [f"# {p.name} ({p.count}x {p.accelerator})\n{gpu_join_command(spec, p, token)}" for p in spec.gpu_pools]
    return "\n".join(blocks) + ("\n" if blocks else "")


KUBECONFIG_FILE = "/etc/rancher/k3s/k3s.yaml"
# k3s signs client certificates for 365 days and renews the ones within 90 days of expiry each
# time it starts, rewriting the admin kubeconfig. The read restarts k3s once the kubeconfig's
# certificate is inside a slightly narrower window, so the restart is sure to renew it.
RENEW_BELOW_DAYS = 80
_WAIT_READY = "timeout 900 sh -c 'until k3s kubectl get --raw=/readyz >/dev/null 2>&1; do sleep 5; done'"
_CERT_FRESH = (
    f"sed -n 's/^ *client-certificate-data: *//p' {KUBECONFIG_FILE} | base64 -d "
    f"| openssl x509 -noout -checkend {RENEW_BELOW_DAYS * 86400} >/dev/null"
)


def renewal_window(now: datetime) -> str:
    """The month the read belongs to: the command names it, so the first `pulumi up` of each month
    runs the read again (an in-place update) and picks up a renewed certificate."""
    return now.strftime("%Y-%m")


def read_kubeconfig_command(window: str) -> str:
    """Waits for the API, renews the admin client certificate if it is close to expiry (a k3s
    restart: running pods are not touched), then prints the admin kubeconfig. Only the final `cat`
    writes to stdout, so a failure never carries the kubeconfig into an error message."""
    renew = (
        f"{{ {_CERT_FRESH} || {{ systemctl restart k3s && {_WAIT_READY} "
        f"&& timeout 300 sh -c \"until {_CERT_FRESH}; do sleep 5; done\"; }}; }}"
    )
    return f": renewal window {window} && {_WAIT_READY} && {renew} && cat {KUBECONFIG_FILE}"


def public_kubeconfig(raw: str, api_host: str, cluster_name: str) -> str:
    """k3s writes a kubeconfig for https://127.0.0.1:6443 named `default`; point it at the API's
    public address and name it after the cluster so it can sit beside other kubeconfigs."""
    doc = yaml.safe_load(raw)
    if not isinstance(doc, dict) or not doc.get("clusters"):
        raise ValueError("the k3s kubeconfig read from the control plane has no clusters")
    server = f"https://{api_host}:{API_PORT}"
    for cluster in doc["clusters"]:
        cluster["cluster"]["server"] = server
    for section in ("clusters", "users", "contexts"):
        for entry in doc.get(section) or []:
            if entry.get("name") == "default":
                entry["name"] = cluster_name
    for context in doc.get("contexts") or []:
        for ref in ("cluster", "user"):
            if context["context"].get(ref) == "default":
                context["context"][ref] = cluster_name
    if doc.get("current-context") == "default":
        doc["current-context"] = cluster_name
    return yaml.safe_dump(doc, sort_keys=False)
