"""Reconcile tenants in the cluster: LiteLLM teams and virtual keys, Tyk keys, their Secrets.

Runs as the tenants sync-hook Job (python -m not needed: the file is mounted from a ConfigMap
and run as a script). Standard library only, so the Job's image is a plain pinned Python. The
same file is the secrets hook (ENSURE_SECRETS) and, with TLS, the CronJob that restarts Tyk once
cert-manager has renewed its listener's certificate (RESTART_ON_RENEWAL).

Keys are generated here, in the cluster, and kept as Secrets `tenant-<name>-litellm-key` and
`tenant-<name>-key` (created only when absent). The Secrets are the source of truth: each run
registers the key they hold with LiteLLM and Tyk if either lost it (a fresh database or store),
and changes nothing when everything already matches. Rotation is deleting a Secret and syncing.

Input (TENANTS_FILE, JSON, no secrets): {"apiId": ..., "orgId": ..., "tenants": [{"name",
"team": {LiteLLM team fields}, "policy": Tyk policy id}]}. Credentials come from the
files under CREDENTIALS_DIR (litellm-master-key, tyk-secret) and the pod's ServiceAccount token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

MANAGED_BY = "inference-platform"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class CallError(Exception):
    """A call that did not answer 2xx or 404: the run fails and is retried."""


class Http:
    """JSON over HTTP to one base URL; 404 is an answer (absent), anything else not 2xx is not."""

    def __init__(self, base: str, headers: dict[str, str], context: ssl.SSLContext | None = None, timeout: float = 10):
        self.base = base.rstrip("/")
        self.headers = headers
        self.context = context
        self.timeout = timeout

    def call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        for key, value in {**self.headers, "Content-Type": content_type}.items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            if err.code in (404, 409):
                return err.code, None
            # The path only: a query may carry a key's hash, never print bodies (they hold keys).
            raise CallError(f"{method} {path.split('?')[0]}: HTTP {err.code}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            raise CallError(f"{method} {self.base}{path.split('?')[0]}: {err}") from None


class Secrets:
    """Get-or-create of one-key Secrets in a namespace through the Kubernetes API."""

    def __init__(self, api: Http, namespace: str):
        self.api = api
        self.namespace = namespace

    def ensure(self, name: str, make: Callable[[], str], changes: list[str], field: str = "key") -> str:
        path = f"/api/v1/namespaces/{self.namespace}/secrets"
        status, found = self.api.call("GET", f"{path}/{name}")
        if status == 200:
            return _decode(found["data"][field])
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": MANAGED_BY}},
            "type": "Opaque",
            "stringData": {field: make()},
        }
        status, _ = self.api.call("POST", path, body)
        if status == 409:
            # Created meanwhile by another run: theirs wins, read it back.
            _, found = self.api.call("GET", f"{path}/{name}")
            return _decode(found["data"][field])
        changes.append(f"secret {name} created")
        return body["stringData"][field]


def _decode(value: str) -> str:
    return base64.b64decode(value).decode()


def litellm_key() -> str:
    return "sk-" + secrets.token_urlsafe(32)


def tyk_key() -> str:
    return secrets.token_hex(24)


def _differs(want: dict[str, Any], have: dict[str, Any]) -> bool:
    """Whether `have` lacks a field of `want`; maps compare as subsets, since a service may
    add entries of its own to metadata."""
    for key, value in want.items():
        there = have.get(key)
        if isinstance(value, dict) and isinstance(there, dict):
            if _differs(value, there):
                return True
        elif there != value:
            return True
    return False


def ensure_team(litellm: Http, team: dict[str, Any], changes: list[str]) -> None:
    query = urllib.parse.urlencode({"team_id": team["team_id"]})
    status, found = litellm.call("GET", f"/team/info?{query}")
    if status == 404:
        litellm.call("POST", "/team/new", team)
        changes.append(f"team {team['team_id']} created")
        return
    info = (found or {}).get("team_info") or {}
    if _differs(team, info):
        litellm.call("POST", "/team/update", team)
        changes.append(f"team {team['team_id']} updated")


def team_keys(litellm: Http, team_id: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"team_id": team_id, "return_full_object": "true", "size": 100})
    _, found = litellm.call("GET", f"/key/list?{query}")
    return [k for k in (found or {}).get("keys", []) if isinstance(k, dict)]


def ensure_litellm_key(litellm: Http, key: str, tenant: dict[str, Any], changes: list[str]) -> None:
    team = tenant["team"]
    want = {
        "team_id": team["team_id"],
        "key_alias": f"tenant-{tenant['name']}",
        "models": team["models"],
        "metadata": {"managed-by": MANAGED_BY, "tenant": tenant["name"]},
    }
    # The hash, not the key, goes into the URL (LiteLLM accepts either).
    digest = hashlib.sha256(key.encode()).hexdigest()
    status, found = litellm.call("GET", f"/key/info?{urllib.parse.urlencode({'key': digest})}")
    info = (found or {}).get("info") or {}
    if status == 404 or info.get("status") == "deleted":
        # A rotated Secret: the team's previous key goes (and frees the alias, unique in LiteLLM).
        stale = [k["token"] for k in team_keys(litellm, team["team_id"]) if k.get("token") not in (None, digest)]
        if stale:
            litellm.call("POST", "/key/delete", {"keys": stale})
            changes.append(f"previous litellm key of {tenant['name']} revoked")
        litellm.call("POST", "/key/generate", {"key": key, **want})
        changes.append(f"litellm key of {tenant['name']} registered")
    elif _differs(want, info):
        litellm.call("POST", "/key/update", {"key": key, **want})
        changes.append(f"litellm key of {tenant['name']} updated")


def ensure_tyk_key(tyk: Http, key: str, session: dict[str, Any], tenant: str, changes: list[str]) -> None:
    """A custom key: Tyk stores it as a token of org and id, and finds it by the raw key within the
    org (the API's, named by api_id, on reads; the session's org_id on writes)."""
    path = f"/tyk/keys/{key}"
    api = next(iter(session["access_rights"]))
    status, found = tyk.call("GET", f"{path}?{urllib.parse.urlencode({'api_id': api})}")
    if status == 404:
        tyk.call("POST", path, session)
        changes.append(f"tyk key of {tenant} created")
    elif _differs({k: session[k] for k in ("apply_policies", "meta_data", "alias")}, found or {}):
        tyk.call("PUT", path, session)
        changes.append(f"tyk key of {tenant} updated")


def fingerprint(key: str) -> str:
    """Names a Tyk key in its session without revealing it: a rotated key is told apart by this."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def revoke_removed(litellm: Http, keep: set[str], changes: list[str]) -> None:
    """Teams this reconciler made for tenants no longer configured: their keys and team go."""
    _, found = litellm.call("GET", "/team/list")
    teams = found.get("teams", []) if isinstance(found, dict) else found or []
    for team in teams:
        metadata = team.get("metadata") or {}
        if metadata.get("managed-by") != MANAGED_BY or team["team_id"] in keep:
            continue
        name = metadata.get("tenant", team["team_id"])
        tokens = [k["token"] for k in team_keys(litellm, team["team_id"]) if k.get("token")]
        if tokens:
            litellm.call("POST", "/key/delete", {"keys": tokens})
        litellm.call("POST", "/team/delete", {"team_ids": [team["team_id"]]})
        changes.append(f"tenant {name} revoked")


def revoke_stale_tyk_keys(tyk: Http, current: dict[str, str], changes: list[str]) -> None:
    """Tyk keys this reconciler made whose tenant is gone or whose Secret was rotated.

    Tyk stores keys hashed: they are listed by hash (enable_hashed_keys_listing) and read and
    deleted with ?hashed=true. `current` maps tenant -> fingerprint of its key now.
    """
    _, found = tyk.call("GET", "/tyk/keys")
    for hashed in (found or {}).get("keys") or []:
        status, session = tyk.call("GET", f"/tyk/keys/{hashed}?hashed=true")
        meta = (session or {}).get("meta_data") or {}
        if status != 200 or meta.get("managed-by") != MANAGED_BY:
            continue
        if current.get(meta.get("tenant")) != meta.get("fingerprint"):
            tyk.call("DELETE", f"/tyk/keys/{hashed}?hashed=true")
            changes.append(f"stale tyk key of {meta.get('tenant')} revoked")


def reconcile(
    spec: dict[str, Any],
    litellm: Http,
    tyk: Http,
    store: Secrets,
    new_litellm_key: Callable[[], str] = litellm_key,
    new_tyk_key: Callable[[], str] = tyk_key,
) -> list[str]:
    """Bring LiteLLM, Tyk and the Secrets in line with spec; returns what changed (empty: nothing)."""
    changes: list[str] = []
    current: dict[str, str] = {}
    api = spec["apiId"]
    for tenant in spec["tenants"]:
        name = tenant["name"]
        ensure_team(litellm, tenant["team"], changes)
        llm_key = store.ensure(f"tenant-{name}-litellm-key", new_litellm_key, changes)
        ensure_litellm_key(litellm, llm_key, tenant, changes)
        key = store.ensure(f"tenant-{name}-key", new_tyk_key, changes)
        session = {
            "org_id": spec["orgId"],
            "alias": f"tenant-{name}",
            "apply_policies": [tenant["policy"]],
            # The API definition injects this upstream as `Authorization: Bearer $tyk_meta.litellm_key`.
            "meta_data": {
                "litellm_key": llm_key,
                "tenant": name,
                "managed-by": MANAGED_BY,
                "fingerprint": fingerprint(key),
            },
            "access_rights": {api: {"api_id": api, "api_name": api, "versions": ["Default"]}},
            "expires": 0,
        }
        ensure_tyk_key(tyk, key, session, name, changes)
        current[name] = fingerprint(key)
    revoke_stale_tyk_keys(tyk, current, changes)
    revoke_removed(litellm, {t["team"]["team_id"] for t in spec["tenants"]}, changes)
    return changes


GENERATORS: dict[str, Callable[[], str]] = {
    "random": lambda: secrets.token_urlsafe(32),
    "litellm": litellm_key,
}


def bootstrap(wanted: list[str], store: Secrets) -> list[str]:
    """Random Secrets other components read, created only when absent.

    Each item is `<secret>/<field>[:<generator>]`, generator `random` (default) or `litellm`
    (an sk- key, for tenant keys Tyk must read at start, before the reconciler runs).
    """
    changes: list[str] = []
    for item in wanted:
        target, _, kind = item.partition(":")
        name, field = target.split("/")
        store.ensure(name, GENERATORS[kind or "random"], changes, field)
    return changes


# Kept on the pod template of the Deployment serving a certificate: the Certificate's
# status.revision its pods were started with.
REVISION_ANNOTATION = "inference-platform/certificate-revision"


def restart_on_renewal(api: Http, namespace: str, certificate: str, deployment: str) -> list[str]:
    """Roll `deployment` when cert-manager has issued `certificate` again since its pods started.

    Tyk loads its listener's certificate once, when the listener opens: a renewed Secret is
    served only by pods started after it. The revision (cert-manager's count of issuances) is
    read from the Certificate, never from its Secret (which holds the key), and written to the
    pod template, which rolls the pods like `kubectl rollout restart`. Without the annotation,
    revision 1 is the only certificate the pods can have started with: nothing to do.
    """
    _, cert = api.call("GET", f"/apis/cert-manager.io/v1/namespaces/{namespace}/certificates/{certificate}")
    revision = ((cert or {}).get("status") or {}).get("revision")
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}"
    status, found = api.call("GET", path)
    if not revision or status != 200:
        return []  # not issued yet, or nothing serves it yet
    template = ((found or {}).get("spec") or {}).get("template") or {}
    have = ((template.get("metadata") or {}).get("annotations") or {}).get(REVISION_ANNOTATION)
    if have == str(revision) or (have is None and revision == 1):
        return []
    patch = {"spec": {"template": {"metadata": {"annotations": {REVISION_ANNOTATION: str(revision)}}}}}
    api.call("PATCH", path, patch, content_type="application/strategic-merge-patch+json")
    return [f"deployment {deployment} restarted: certificate {certificate} is at revision {revision}"]


Clients = Callable[[], tuple[Http, Http, Secrets]]


def run(spec: dict[str, Any], clients: Clients, attempts: int, pause: float) -> list[str]:
    """reconcile, tried again after a failed call (a hop still starting); the last failure is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return reconcile(spec, *clients())
        except CallError as err:
            if attempt == attempts:
                raise
            print(f"attempt {attempt} failed: {err}; retrying in {pause:.0f}s", file=sys.stderr)
            time.sleep(pause)
    return []


def main(env: Mapping[str, str] = os.environ, sa_dir: str = SA_DIR) -> int:
    """The Job's entry point: ENSURE_SECRETS set, the secrets hook; RESTART_ON_RENEWAL
    (`<certificate>:<deployment>`), the renewal restart; otherwise, tenants."""
    renewal = env.get("RESTART_ON_RENEWAL", "")
    bootstrap_only = "ENSURE_SECRETS" in env or bool(renewal)
    spec: dict[str, Any] = {"tenants": []}
    if not bootstrap_only:
        with open(env["TENANTS_FILE"]) as handle:
            spec = json.load(handle)

    def clients() -> tuple[Http, Http, Secrets]:
        with open(f"{sa_dir}/token") as handle:
            token = handle.read().strip()
        with open(f"{sa_dir}/namespace") as handle:
            namespace = handle.read().strip()
        api = env.get("KUBE_API_URL") or f"https://{env['KUBERNETES_SERVICE_HOST']}:{env['KUBERNETES_SERVICE_PORT']}"
        context = ssl.create_default_context(cafile=f"{sa_dir}/ca.crt") if api.startswith("https://") else None
        kube = Http(api, {"Authorization": f"Bearer {token}"}, context)
        if bootstrap_only:
            return None, None, Secrets(kube, namespace)  # type: ignore[return-value]
        with open(f"{env['CREDENTIALS_DIR']}/litellm-master-key") as handle:
            master_key = handle.read().strip()
        with open(f"{env['CREDENTIALS_DIR']}/tyk-secret") as handle:
            tyk_secret = handle.read().strip()
        # With TLS, LiteLLM's and Tyk's certificates are verified against the layer's CA only.
        layer = ssl.create_default_context(cafile=env["CA_FILE"]) if env.get("CA_FILE") else None
        litellm = Http(env["LITELLM_URL"], {"Authorization": f"Bearer {master_key}"}, layer)
        tyk = Http(env["TYK_URL"], {"x-tyk-authorization": tyk_secret}, layer)
        return litellm, tyk, Secrets(kube, namespace)

    if renewal:
        certificate, deployment = renewal.split(":")
        store = clients()[2]
        changes = restart_on_renewal(store.api, store.namespace, certificate, deployment)
        print("\n".join(changes) or f"{deployment} serves the current revision of {certificate}")
        return 0
    if bootstrap_only:
        changes = bootstrap(env["ENSURE_SECRETS"].split(","), clients()[2])
        print("\n".join(changes) or "every secret exists")
        return 0
    changes = run(spec, clients, int(env.get("ATTEMPTS", "10")), float(env.get("PAUSE_SECONDS", "15")))
    for change in changes:
        print(change)
    print(f"{len(spec['tenants'])} tenant(s) reconciled, {len(changes)} change(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
