"""The tenant reconciler against fake LiteLLM, Tyk and Kubernetes APIs on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from components.gateway import tenant_reconciler as rec


class Fake:
    """One fake service: state, a request log, and failures to serve before answering."""

    def __init__(self, auth: tuple[str, str]):
        self.auth = auth
        self.state: dict[str, Any] = {}
        self.log: list[tuple[str, str]] = []
        self.fail: dict[str, int] = {}

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        raise NotImplementedError


class FakeLiteLLM(Fake):
    def __init__(self):
        super().__init__(("Authorization", "Bearer master"))
        self.state = {"teams": {}, "keys": {}}

    def handle(self, method, path, body):
        url = urllib.parse.urlparse(path)
        query = dict(urllib.parse.parse_qsl(url.query))
        teams, keys = self.state["teams"], self.state["keys"]
        if (method, url.path) == ("GET", "/team/info"):
            team = teams.get(query["team_id"])
            return (200, {"team_id": team["team_id"], "team_info": team}) if team else (404, None)
        if (method, url.path) in (("POST", "/team/new"), ("POST", "/team/update")):
            teams[body["team_id"]] = {**teams.get(body["team_id"], {}), **body}
            return 200, teams[body["team_id"]]
        if (method, url.path) == ("GET", "/team/list"):
            return 200, list(teams.values())
        if (method, url.path) == ("POST", "/team/delete"):
            for team in body["team_ids"]:
                teams.pop(team)
            return 200, {}
        if (method, url.path) == ("GET", "/key/info"):
            info = keys.get(query["key"])
            return (200, {"key": query["key"], "info": info}) if info else (404, None)
        if (method, url.path) in (("POST", "/key/generate"), ("POST", "/key/update")):
            assert body["key"].startswith("sk-")
            digest = hashlib.sha256(body["key"].encode()).hexdigest()
            alias = body.get("key_alias")
            if method == "POST" and url.path == "/key/generate" and alias in [k["key_alias"] for k in keys.values()]:
                return 400, None  # LiteLLM: key aliases are unique across keys
            keys[digest] = {**keys.get(digest, {}), **{k: v for k, v in body.items() if k != "key"}}
            return 200, {"key": body["key"]}
        if (method, url.path) == ("GET", "/key/list"):
            rows = [{"token": d, **k} for d, k in keys.items() if k["team_id"] == query["team_id"]]
            return 200, {"keys": rows, "total_count": len(rows)}
        if (method, url.path) == ("POST", "/key/delete"):
            for digest in body["keys"]:
                keys.pop(digest)
            return 200, {"deleted_keys": body["keys"]}
        return 500, None


class FakeTyk(Fake):
    def __init__(self):
        super().__init__(("x-tyk-authorization", "tyk-secret"))
        self.state = {"keys": {}}

    def handle(self, method, path, body):
        # Stored by hash, as Tyk does with hash_keys; ?hashed=true addresses a key by its hash.
        url = urllib.parse.urlparse(path)
        keys = self.state["keys"]
        if (method, url.path) == ("GET", "/tyk/keys"):
            return 200, {"keys": sorted(keys)}
        name = url.path.removeprefix("/tyk/keys/")
        hashed = name if "hashed=true" in url.query else hashlib.sha256(name.encode()).hexdigest()
        if method == "GET":
            # A custom key is found by its raw id only within its org (named through api_id).
            assert "hashed=true" in url.query or "api_id=llm" in url.query
            found = keys.get(hashed)
            return (200, found) if found else (404, None)
        if method in ("POST", "PUT"):
            keys[hashed] = body
            return 200, {"key": name, "action": "added"}
        if method == "DELETE" and hashed in keys:
            keys.pop(hashed)
            return 200, {"action": "deleted"}
        return 500, None


class FakeKube(Fake):
    def __init__(self):
        super().__init__(("Authorization", "Bearer sa-token"))
        self.state = {"secrets": {}, "certificates": {}, "deployments": {}}

    def handle(self, method, path, body):
        for kind, base in (
            ("certificates", "/apis/cert-manager.io/v1/namespaces/llm-gateway/certificates/"),
            ("deployments", "/apis/apps/v1/namespaces/llm-gateway/deployments/"),
        ):
            if path.startswith(base):
                found = self.state[kind].get(path.removeprefix(base))
                if found is None:
                    return 404, None
                if method == "PATCH":  # strategic merge, as far as maps go
                    merge(found, body)
                return (200, found) if method in ("GET", "PATCH") else (500, None)
        base = "/api/v1/namespaces/llm-gateway/secrets"
        if method == "GET" and path.startswith(base + "/"):
            found = self.state["secrets"].get(path.rsplit("/", 1)[1])
            return (200, found) if found else (404, None)
        if method == "POST" and path == base:
            name = body["metadata"]["name"]
            if name in self.state["secrets"]:
                return 409, None
            data = {k: base64.b64encode(v.encode()).decode() for k, v in body["stringData"].items()}
            self.state["secrets"][name] = {"metadata": body["metadata"], "data": data}
            return 201, self.state["secrets"][name]
        return 500, None


def merge(into: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


# The API server answers a PATCH in any other type (plain JSON included) with 415.
PATCH_TYPES = ("application/strategic-merge-patch+json", "application/merge-patch+json", "application/json-patch+json")


def serve(fake: Fake) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def _any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            fake.log.append((self.command, self.path))
            header, value = fake.auth
            if self.headers.get(header) != value:
                status, payload = 401, None
            elif self.command == "PATCH" and self.headers.get("Content-Type") not in PATCH_TYPES:
                status, payload = 415, None
            elif fake.fail.get(self.path.split("?")[0], 0) > 0:
                fake.fail[self.path.split("?")[0]] -= 1
                status, payload = 503, None
            else:
                status, payload = fake.handle(self.command, self.path, body)
            raw = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any  # noqa: N815 (http.server dispatches on these names)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def world() -> Iterator[dict[str, Any]]:
    fakes = {"litellm": FakeLiteLLM(), "tyk": FakeTyk(), "kube": FakeKube()}
    servers = {name: serve(fake) for name, fake in fakes.items()}

    def clients():
        return (
            rec.Http(servers["litellm"][1], {"Authorization": "Bearer master"}, timeout=5),
            rec.Http(servers["tyk"][1], {"x-tyk-authorization": "tyk-secret"}, timeout=5),
            rec.Secrets(rec.Http(servers["kube"][1], {"Authorization": "Bearer sa-token"}, timeout=5), "llm-gateway"),
        )

    yield {"fakes": fakes, "clients": clients, "urls": {name: url for name, (_, url) in servers.items()}}
    for server, _ in servers.values():
        server.shutdown()
        server.server_close()


def tenant(name: str, models: list[str], budget: float = 100.0) -> dict[str, Any]:
    return {
        "name": name,
        "policy": f"tenant-{name}",
        "team": {
            "team_id": name,
            "team_alias": name,
            "max_budget": budget,
            "budget_duration": "1mo",
            "tpm_limit": 1000,
            "rpm_limit": 10,
            "models": models,
            "metadata": {"managed-by": "inference-platform", "tenant": name},
        },
    }


def spec(*tenants: dict[str, Any]) -> dict[str, Any]:
    return {"apiId": "llm", "orgId": "inference-platform", "tenants": list(tenants)}


def tyk_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def secret(world, name: str) -> str:
    return base64.b64decode(world["fakes"]["kube"].state["secrets"][name]["data"]["key"]).decode()


def test_first_run_creates_team_keys_and_secrets_and_binds_them(world):
    changes = rec.run(spec(tenant("acme", ["qwen"])), world["clients"], attempts=1, pause=0)
    assert len(changes) == 5, changes
    litellm, tyk = world["fakes"]["litellm"].state, world["fakes"]["tyk"].state
    assert litellm["teams"]["acme"]["budget_duration"] == "1mo"
    assert litellm["teams"]["acme"]["max_budget"] == 100.0
    llm_key = secret(world, "tenant-acme-litellm-key")
    assert llm_key.startswith("sk-") and len(llm_key) > 40
    key_row = litellm["keys"][hashlib.sha256(llm_key.encode()).hexdigest()]
    assert key_row["team_id"] == "acme" and key_row["models"] == ["qwen"]
    session = tyk["keys"][hashlib.sha256(secret(world, "tenant-acme-key").encode()).hexdigest()]
    assert session["apply_policies"] == ["tenant-acme"]
    assert session["meta_data"]["litellm_key"] == llm_key
    # The raw LiteLLM key never travels in a URL: /key/info is asked by hash.
    assert all(llm_key not in path for _, path in world["fakes"]["litellm"].log)


def test_second_run_changes_nothing(world):
    desired = spec(tenant("acme", ["qwen"]), tenant("beta", ["qwen", "qwen-sql"]))
    assert rec.run(desired, world["clients"], attempts=1, pause=0)
    before = json.dumps([f.state for f in world["fakes"].values()], sort_keys=True)
    writes = [len([r for r in f.log if r[0] != "GET"]) for f in world["fakes"].values()]
    assert rec.run(desired, world["clients"], attempts=1, pause=0) == []
    assert json.dumps([f.state for f in world["fakes"].values()], sort_keys=True) == before
    assert [len([r for r in f.log if r[0] != "GET"]) for f in world["fakes"].values()] == writes


def test_entries_a_service_adds_to_metadata_do_not_cause_updates(world):
    rec.run(spec(tenant("acme", ["qwen"])), world["clients"], attempts=1, pause=0)
    world["fakes"]["litellm"].state["teams"]["acme"]["metadata"]["added-by-litellm"] = True
    assert rec.run(spec(tenant("acme", ["qwen"])), world["clients"], attempts=1, pause=0) == []


def test_changed_limits_update_the_team_and_keep_the_keys(world):
    rec.run(spec(tenant("acme", ["qwen"])), world["clients"], attempts=1, pause=0)
    key = secret(world, "tenant-acme-key")
    changes = rec.run(spec(tenant("acme", ["qwen"], budget=250.0)), world["clients"], attempts=1, pause=0)
    assert changes == ["team acme updated"]
    assert world["fakes"]["litellm"].state["teams"]["acme"]["max_budget"] == 250.0
    assert secret(world, "tenant-acme-key") == key


def test_a_lost_store_is_refilled_from_the_secrets(world):
    rec.run(spec(tenant("acme", ["qwen"])), world["clients"], attempts=1, pause=0)
    world["fakes"]["tyk"].state["keys"].clear()
    world["fakes"]["litellm"].state["keys"].clear()
    changes = rec.run(spec(tenant("acme", ["qwen"])), world["clients"], attempts=1, pause=0)
    assert changes == ["litellm key of acme registered", "tyk key of acme created"]
    assert tyk_hash(secret(world, "tenant-acme-key")) in world["fakes"]["tyk"].state["keys"]


def test_rotation_is_deleting_the_secret(world):
    rec.run(spec(tenant("acme", ["qwen"])), world["clients"], attempts=1, pause=0)
    old = secret(world, "tenant-acme-key")
    world["fakes"]["kube"].state["secrets"].pop("tenant-acme-key")
    changes = rec.run(spec(tenant("acme", ["qwen"])), world["clients"], attempts=1, pause=0)
    assert changes == ["secret tenant-acme-key created", "tyk key of acme created", "stale tyk key of acme revoked"]
    assert secret(world, "tenant-acme-key") != old
    # The old key is gone from Tyk: it no longer authenticates.
    assert list(world["fakes"]["tyk"].state["keys"]) == [tyk_hash(secret(world, "tenant-acme-key"))]


def test_rotating_the_litellm_key_revokes_the_previous_one(world):
    rec.run(spec(tenant("acme", ["qwen"])), world["clients"], attempts=1, pause=0)
    old = secret(world, "tenant-acme-litellm-key")
    world["fakes"]["kube"].state["secrets"].pop("tenant-acme-litellm-key")
    changes = rec.run(spec(tenant("acme", ["qwen"])), world["clients"], attempts=1, pause=0)
    new = secret(world, "tenant-acme-litellm-key")
    assert changes == [
        "secret tenant-acme-litellm-key created",
        "previous litellm key of acme revoked",
        "litellm key of acme registered",
        "tyk key of acme updated",
    ]
    assert list(world["fakes"]["litellm"].state["keys"]) == [tyk_hash(new)]
    assert old != new


def test_a_removed_tenant_is_revoked(world):
    rec.run(spec(tenant("acme", ["qwen"]), tenant("beta", ["qwen"])), world["clients"], attempts=1, pause=0)
    beta_key = tyk_hash(secret(world, "tenant-beta-key"))
    changes = rec.run(spec(tenant("acme", ["qwen"])), world["clients"], attempts=1, pause=0)
    assert changes == ["stale tyk key of beta revoked", "tenant beta revoked"]
    litellm = world["fakes"]["litellm"].state
    assert set(litellm["teams"]) == {"acme"}
    assert [k["key_alias"] for k in litellm["keys"].values()] == ["tenant-acme"]
    assert beta_key not in world["fakes"]["tyk"].state["keys"]


def test_keys_not_made_here_are_left_alone(world):
    world["fakes"]["tyk"].state["keys"]["jwt-session"] = {"meta_data": {"TykJWTSessionID": "x"}}
    rec.run(spec(tenant("acme", ["qwen"])), world["clients"], attempts=1, pause=0)
    assert "jwt-session" in world["fakes"]["tyk"].state["keys"]


def test_a_team_not_made_here_is_left_alone(world):
    world["fakes"]["litellm"].state["teams"]["ops"] = {"team_id": "ops", "metadata": {}}
    rec.run(spec(tenant("acme", ["qwen"])), world["clients"], attempts=1, pause=0)
    assert "ops" in world["fakes"]["litellm"].state["teams"]


def test_a_failing_hop_is_retried_then_succeeds(world):
    world["fakes"]["litellm"].fail["/team/info"] = 2
    changes = rec.run(spec(tenant("acme", ["qwen"])), world["clients"], attempts=3, pause=0)
    assert "tyk key of acme created" in changes
    assert len([p for _, p in world["fakes"]["litellm"].log if p.startswith("/team/info")]) == 3


def test_a_hop_that_stays_down_fails_the_run(world):
    world["fakes"]["litellm"].fail["/team/info"] = 5
    with pytest.raises(rec.CallError, match="HTTP 503"):
        rec.run(spec(tenant("acme", ["qwen"])), world["clients"], attempts=2, pause=0)


def test_a_wrong_credential_is_an_error_not_an_absence(world):
    def clients():
        litellm, tyk, store = world["clients"]()
        return rec.Http(litellm.base, {"Authorization": "Bearer wrong"}), tyk, store

    with pytest.raises(rec.CallError, match="HTTP 401"):
        rec.run(spec(tenant("acme", ["qwen"])), clients, attempts=1, pause=0)


def test_bootstrap_creates_missing_secrets_only(world):
    store = world["clients"]()[2]
    wanted = ["tyk-gateway-secret/APISecret", "tyk-redis-auth/password", "tenant-acme-litellm-key/key:litellm"]
    assert rec.bootstrap(wanted, store) == [
        "secret tyk-gateway-secret created",
        "secret tyk-redis-auth created",
        "secret tenant-acme-litellm-key created",
    ]
    assert secret(world, "tenant-acme-litellm-key").startswith("sk-")
    kept = world["fakes"]["kube"].state["secrets"]["tyk-redis-auth"]["data"]["password"]
    assert rec.bootstrap(["tyk-gateway-secret/APISecret", "tyk-redis-auth/password"], store) == []
    assert world["fakes"]["kube"].state["secrets"]["tyk-redis-auth"]["data"]["password"] == kept


def job_env(world, tmp_path, **extra: str) -> tuple[dict[str, str], str]:
    """The files and variables the Job's pod gives the script, pointing at the fakes."""
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("sa-token\n")
    (sa / "namespace").write_text("llm-gateway")
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "litellm-master-key").write_text("master")
    (creds / "tyk-secret").write_text("tyk-secret")
    env = {"KUBE_API_URL": world["urls"]["kube"], "CREDENTIALS_DIR": str(creds), **extra}
    return env, str(sa)


def entry_point_env(world, tmp_path, **extra):
    """The Job's environment for one run against the fake services: tenant acme, one attempt."""
    tenants = tmp_path / "tenants.json"
    tenants.write_text(json.dumps(spec(tenant("acme", ["qwen"]))))
    return job_env(
        world,
        tmp_path,
        TENANTS_FILE=str(tenants),
        LITELLM_URL=world["urls"]["litellm"],
        TYK_URL=world["urls"]["tyk"],
        ATTEMPTS="1",
        **extra,
    )


def test_the_job_entry_point_reconciles_from_its_files(world, tmp_path, capsys):
    env, sa = entry_point_env(world, tmp_path)
    assert rec.main(env, sa) == 0
    assert "1 tenant(s) reconciled, 5 change(s)" in capsys.readouterr().out
    assert rec.main(env, sa) == 0
    assert "1 tenant(s) reconciled, 0 change(s)" in capsys.readouterr().out


def test_the_hook_entry_point_creates_the_secrets(world, tmp_path, capsys):
    env, sa = job_env(world, tmp_path, ENSURE_SECRETS="tyk-gateway-secret/APISecret,tyk-redis-auth/password")
    assert rec.main(env, sa) == 0
    assert set(world["fakes"]["kube"].state["secrets"]) == {"tyk-gateway-secret", "tyk-redis-auth"}
    assert rec.main(env, sa) == 0
    assert capsys.readouterr().out.strip().endswith("every secret exists")


def test_tyk_is_restarted_once_after_each_renewal_of_its_certificate(world, tmp_path, capsys):
    """RESTART_ON_RENEWAL: Tyk's pods load the listener certificate at start, so a renewal (a new
    status.revision of the Certificate) rolls the Deployment once; nothing else does."""
    kube = world["fakes"]["kube"]
    env, sa = job_env(world, tmp_path, RESTART_ON_RENEWAL="tyk-gateway-tls:gateway-tyk")

    def run() -> list[str]:
        before = len(kube.log)
        assert rec.main(env, sa) == 0
        return [method for method, _ in kube.log[before:]]

    def annotations() -> dict[str, str]:
        return kube.state["deployments"]["gateway-tyk"]["spec"]["template"]["metadata"].get("annotations", {})

    assert "PATCH" not in run()  # nothing issued yet, nothing deployed
    kube.state["certificates"]["tyk-gateway-tls"] = {"status": {"revision": 1}}
    assert "PATCH" not in run()  # issued, not yet served by anything
    kube.state["deployments"]["gateway-tyk"] = {"spec": {"template": {"metadata": {"labels": {"app": "tyk"}}}}}
    assert "PATCH" not in run()  # the pods can only have started with the first issuance
    kube.state["certificates"]["tyk-gateway-tls"]["status"]["revision"] = 2
    assert run().count("PATCH") == 1
    assert annotations() == {rec.REVISION_ANNOTATION: "2"}
    assert "restarted" in capsys.readouterr().out
    assert "PATCH" not in run()  # the pods started with revision 2
    kube.state["certificates"]["tyk-gateway-tls"]["status"]["revision"] = 3
    assert run().count("PATCH") == 1 and annotations() == {rec.REVISION_ANNOTATION: "3"}
    assert kube.state["deployments"]["gateway-tyk"]["spec"]["template"]["metadata"]["labels"] == {"app": "tyk"}
    # It reads the Certificate and the Deployment, never a Secret (the key's).
    assert not [path for _, path in kube.log if "/secrets" in path]

