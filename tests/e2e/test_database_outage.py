"""The database goes away and comes back: the server answers 503 `temporarily_unavailable` with
`Retry-After` (never 500, never a hang), `/healthz` says why, and once the database is reachable
again the same requests succeed without a restart.

The server runs on PostgreSQL (`STRONGROOM_TEST_POSTGRES_URL`, in a schema of its own) through a
TCP relay this test owns: closing the relay and every connection through it is, to the server,
the database host vanishing. Skipped without PostgreSQL.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid
from urllib.parse import urlparse

import pytest
import requests

from conftest import RunningServer, configure, free_ports

PG_URL = os.environ.get("STRONGROOM_TEST_POSTGRES_URL", "")

pytestmark = pytest.mark.skipif(not PG_URL, reason="STRONGROOM_TEST_POSTGRES_URL is not set")


class Relay:
    """A TCP relay from 127.0.0.1:port to the database; `cut()` closes the listener and every
    relayed connection, `restore()` listens again on the same port."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_ports(1)[0]
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        if self.listener:
            # shutdown first: on Linux, close alone does not wake the thread blocked in accept,
            # and the socket would go on accepting.
            try:
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            self.listener = None
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.sockets.clear()


def psql(sql: str) -> None:
    subprocess.run(["psql", PG_URL, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def outage_srv(binary, kit):
    target = urlparse(PG_URL)
    relay = Relay((target.hostname or "127.0.0.1", target.port or 5432))
    schema = "outage_" + uuid.uuid4().hex
    psql(f"CREATE SCHEMA {schema}")
    port, mtls_port = free_ports(2)
    cfg = configure(kit["written"], port, mtls_port, "unused.sqlite")
    relayed = target._replace(netloc=f"{target.username}:{target.password}@127.0.0.1:{relay.port}")
    cfg["database"]["url"] = relayed.geturl() + ("&" if target.query else "?") + f"search_path={schema}"
    s = RunningServer(binary, kit["dir"], "e2e-outage.yaml", cfg, port, mtls_port)
    yield s, relay
    s.stop()
    relay.cut()
    psql(f"DROP SCHEMA {schema} CASCADE")


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def test_database_outage_is_503_with_retry_after_and_recovers(outage_srv):
    srv, relay = outage_srv
    assert srv.api.get("/healthz").status_code == 200
    introspect_client = srv.admin("POST", "/clients", {
        "client_id": "outage-rs", "client_secret": "outage-rs-secret-0123456789abcdef", "client_name": "outage RS",
        "token_endpoint_auth_method": "client_secret_basic", "grant_types": ["client_credentials"], "response_types": [],
        "scope": "profile", "strongroom_resource_server": True})
    assert introspect_client.status_code == 201, introspect_client.text

    def introspect() -> requests.Response:
        return srv.api.post("/introspect", data={"token": "not-a-token"},
                            auth=("outage-rs", "outage-rs-secret-0123456789abcdef"), timeout=40)

    assert introspect().status_code == 200

    relay.cut()
    started = time.time()
    r = introspect()
    assert r.status_code == 503, (r.status_code, r.text, srv.log_tail(20))
    assert r.json()["error"] == "temporarily_unavailable", r.text
    assert r.headers.get("Retry-After") == "5", r.headers
    assert time.time() - started < 35, "a request during the outage must not hang"
    authorize = srv.api.get("/authorize", params={
        "client_id": "demo-plain", "response_type": "code", "scope": "openid", "redirect_uri": srv.callback, "state": "s-1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"},
        allow_redirects=False, timeout=40)
    # The client cannot be read, so its redirect URI is not validated: an error page, never a redirect.
    assert authorize.status_code == 503 and "Location" not in authorize.headers, (authorize.status_code, authorize.headers)
    assert authorize.headers["Content-Type"].startswith("text/html") and authorize.headers.get("Retry-After") == "5"
    assert "temporarily_unavailable" in authorize.text
    health = srv.api.get("/healthz", timeout=40)
    assert health.status_code == 503 and health.headers.get("Retry-After") == "5", (health.status_code, health.text)
    assert health.json() == {"status": "unavailable", "reason": "the database does not answer"}
    assert srv.proc.poll() is None, "the server must survive the outage"

    relay.restore()
    assert wait_for(lambda: srv.api.get("/healthz", timeout=40).status_code == 200, 60), srv.log_tail(30)
    assert introspect().status_code == 200
    assert "server_error" not in srv.log_path.read_text(errors="replace")
