"""Helpers for the tests that race, kill and starve `strongroom serve` processes
(test_races.py, test_crash_recovery.py, test_disk_full.py).

- `Conn`: one keep-alive HTTPS connection over a raw TLS socket. A request can be built into bytes
  beforehand (`build`) and written with one `send`, so two requests can be released at the same
  instant on connections opened earlier; `read_response` reads one HTTP/1.1 response.
- `Node`: one `strongroom serve` process with its own configuration, which can be killed with
  SIGKILL and started again on the same database.
- `pg_schema`: a PostgreSQL schema of its own for a test (`STRONGROOM_TEST_POSTGRES_URL`).
- `login`: a session cookie of the demo user, with consent given to a client once, so that every
  later `/authorize` with the cookie answers with a code at once (`authorize_code`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import yaml

from conftest import configure, stop_process
from fapi_client import Browser, Server, pkce_pair, random_state

PG_URL = os.environ.get("STRONGROOM_TEST_POSTGRES_URL", "")
needs_postgres = pytest.mark.skipif(not PG_URL, reason="STRONGROOM_TEST_POSTGRES_URL is not set")
START_TIMEOUT = 120.0


# ----------------------------------------------------------------------------------------------
# A raw keep-alive HTTPS connection
# ----------------------------------------------------------------------------------------------

class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def error(self) -> str | None:
        try:
            return self.json().get("error")
        except (ValueError, AttributeError):
            return None

    def describe(self) -> str:
        return f"HTTP {self.status} {self.body[:300]!r}"


class ConnectionLost(Exception):
    """The server closed the connection (or never answered) before a whole response arrived."""


class Conn:
    """One TLS connection to 127.0.0.1:`port`, kept open across requests (HTTP/1.1 keep-alive)."""

    def __init__(self, port: int, ca: str, host_header: str | None = None, timeout: float = 30.0):
        self.port = port
        self.ca = ca
        self.host_header = host_header or f"localhost:{port}"
        self.timeout = timeout
        self.sock: ssl.SSLSocket | None = None
        self.rfile = None
        self.context = ssl.create_default_context(cafile=ca)

    def connect(self) -> "Conn":
        self.close()
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self.context.wrap_socket(raw, server_hostname="localhost")
        self.rfile = self.sock.makefile("rb")
        return self

    @property
    def is_open(self) -> bool:
        return self.sock is not None

    def ensure(self) -> "Conn":
        return self if self.sock is not None else self.connect()

    def close(self) -> None:
        for closable in (self.rfile, self.sock):
            if closable is not None:
                with contextlib.suppress(OSError):
                    closable.close()
        self.sock = None
        self.rfile = None

    def build(self, method: str, path: str, headers: dict | None = None, body: bytes | str | dict = b"") -> bytes:
        if isinstance(body, dict):
            body = urlencode(body)
            headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        if isinstance(body, str):
            body = body.encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host_header}"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def send(self, raw: bytes) -> None:
        try:
            self.ensure().sock.sendall(raw)
        except OSError as e:
            self.close()
            raise ConnectionLost(f"send failed: {e!r}") from e

    def read_response(self) -> Response:
        try:
            status_line = self.rfile.readline(65536)
            if not status_line:
                raise ConnectionLost("the server closed the connection")
            parts = status_line.decode("latin-1").split(" ", 2)
            status = int(parts[1])
            headers: dict[str, str] = {}
            while True:
                line = self.rfile.readline(65536)
                if not line:
                    raise ConnectionLost("the connection closed inside the response head")
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = b""
                while True:
                    size = int(self.rfile.readline(65536).split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    body += self._exact(size)
                    self.rfile.readline(65536)
            else:
                body = self._exact(int(headers.get("content-length", "0")))
        except (OSError, ValueError, IndexError, AttributeError) as e:
            self.close()
            raise ConnectionLost(f"reading the response failed: {e!r}") from e
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, headers, body)

    def _exact(self, n: int) -> bytes:
        data = self.rfile.read(n)
        if len(data) != n:
            raise ConnectionLost(f"the body ended after {len(data)} of {n} bytes")
        return data

    def request(self, method: str, path: str, headers: dict | None = None, body: bytes | str | dict = b"") -> Response:
        self.send(self.build(method, path, headers, body))
        return self.read_response()


def basic(client_id: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


# ----------------------------------------------------------------------------------------------
# Server processes
# ----------------------------------------------------------------------------------------------

OPEN_LIMITS = {"token": {"per_address": 0}, "par": {"per_address": 0}, "authorize": {"per_address": 0},
               "login": {"per_address": 0}, "register": {"per_address": 0}}


def node_config(kit: dict, *, port: int, mtls_port: int, database_url: str, issuer_port: int | None = None,
                lifetimes: dict | None = None) -> dict:
    """The kit's configuration for one node. Nodes of one deployment share the issuer
    (`issuer_port`: the port of the first node) and listen on ports of their own. Every request of
    these tests comes from 127.0.0.1, so the per-address limits are off (docs/operations.md: as
    behind a proxy); the per-client ones stay."""
    issuer_port = issuer_port or port
    c = configure(kit["written"], issuer_port, mtls_port, "unused.sqlite", **({"lifetimes": lifetimes} if lifetimes else {}))
    c["server"]["port"] = port
    c["server"]["mtls_alias"] = {"host": "127.0.0.1", "port": mtls_port, "base_url": f"https://localhost:{mtls_port}"}
    c["database"]["url"] = database_url
    for name, figures in OPEN_LIMITS.items():
        c["limits"].setdefault(name, {}).update(figures)
    return c


class Node:
    """One `strongroom serve` process; `kill()` is SIGKILL, `start()` runs it again on the same
    configuration and database."""

    def __init__(self, binary: str, kit: dict, name: str, config: dict):
        self.binary = binary
        self.dir: Path = kit["dir"]
        self.ca = str(self.dir / "ca.pem")
        self.name = name
        self.config = config
        self.port = config["server"]["port"]
        self.issuer = config["service"]["issuer"]
        self.config_path = self.dir / f"{name}.yaml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log_path = self.dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def admin_token(self) -> str:
        return self.config["admin"]["token"]

    @property
    def callback(self) -> str:
        return self.issuer + "/demo/callback"

    def client_secret(self, client_id: str) -> str:
        return next(c for c in self.config["clients"] if c["client_id"] == client_id)["client_secret"]

    def conn(self) -> Conn:
        return Conn(self.port, self.ca, host_header=f"localhost:{self.port}").connect()

    def start(self) -> "Node":
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is already running"
        with open(self.log_path, "ab") as log:
            log.write(f"---- start {self.starts + 1} ----\n".encode())
            log.flush()
            self.proc = subprocess.Popen([self.binary, "serve", "--config", str(self.config_path)], cwd=self.dir,
                                         stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        deadline = time.time() + START_TIMEOUT
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name}: strongroom serve exited with status {self.proc.returncode}:\n{self.log_tail()}")
            try:
                c = self.conn()
                r = c.request("GET", "/healthz")
                c.close()
                if r.status == 200:
                    return self
                last = r.describe()
            except (OSError, ConnectionLost) as e:
                last = repr(e)
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"{self.name} did not become healthy in {START_TIMEOUT}s ({last}):\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL (`kill -9`): no shutdown handler runs, nothing is flushed."""
        assert self.proc is not None and self.proc.poll() is None, f"{self.name} is not running"
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        assert self.proc.returncode == -signal.SIGKILL, self.proc.returncode

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        stop_process(self.proc)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def errors_since_start(self) -> list[str]:
        """The log's error and critical lines since the last start."""
        text = self.log_text()
        marker = f"---- start {self.starts} ----"
        tail = text[text.rfind(marker):] if marker in text else text
        return [line for line in tail.splitlines() if " error " in line[:40] or " critical " in line[:40]]

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


# ----------------------------------------------------------------------------------------------
# PostgreSQL
# ----------------------------------------------------------------------------------------------

def psql(sql: str) -> str:
    r = subprocess.run(["psql", PG_URL, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"psql failed: {r.stderr}"
    return r.stdout


@contextlib.contextmanager
def pg_schema(prefix: str):
    """A fresh schema; yields the database URL that puts every table in it."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    psql(f"CREATE SCHEMA {schema}")
    try:
        yield PG_URL + ("&" if urlsplit(PG_URL).query else "?") + f"search_path={schema}"
    finally:
        psql(f"DROP SCHEMA {schema} CASCADE")


# ----------------------------------------------------------------------------------------------
# Codes without the pages
# ----------------------------------------------------------------------------------------------

PLAIN = "demo-plain"


def login(node: Node, client_id: str = PLAIN, scope: str = "openid offline_access", consented: bool = False) -> str:
    """Signs alice in once through the pages and consents for `client_id` (`consented`: she
    already did on this node's database, so no consent page comes); returns the session cookie's
    value. The consent is remembered, so `authorize_code` needs no page afterwards."""
    browser = Browser(Server(f"https://localhost:{node.port}", node.ca))
    verifier, challenge = pkce_pair()
    result = browser.authorize({"client_id": client_id, "response_type": "code", "scope": scope, "redirect_uri": node.callback,
                                "state": random_state(), "code_challenge": challenge, "code_challenge_method": "S256"})
    assert result.kind == "redirect" and "code" in result.params, result.describe()
    assert result.steps == (["login"] if consented else ["login", "consent"]), result.steps
    assert browser.cookie, "no session cookie after sign-in"
    return browser.cookie


def authorize_code(conn: Conn, cookie: str, callback: str, client_id: str = PLAIN, scope: str = "openid offline_access") -> tuple[str, str]:
    """(code, code_verifier) from one GET /authorize with the session cookie: a 302/303 to the
    redirect URI carrying the code and the state, with no page in between."""
    verifier, challenge = pkce_pair()
    state = random_state()
    query = urlencode({"client_id": client_id, "response_type": "code", "scope": scope, "redirect_uri": callback,
                       "state": state, "code_challenge": challenge, "code_challenge_method": "S256"})
    r = conn.request("GET", "/authorize?" + query, {"Cookie": f"strongroom_session={cookie}"})
    assert r.status in (302, 303), f"/authorize with a session and remembered consent: {r.describe()}"
    location = r.headers.get("location", "")
    assert location.startswith(callback + "?"), location
    params = dict(parse_qsl(urlsplit(location).query))
    assert params.get("state") == state and "code" in params, params
    return params["code"], verifier


def redeem_body(code: str, verifier: str, callback: str) -> dict:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": callback, "code_verifier": verifier}


def integrity(db) -> list:
    """`PRAGMA integrity_check` of an SQLite file, read-only, so that this connection never
    checkpoints the server's WAL."""
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return c.execute("PRAGMA integrity_check").fetchall()
    finally:
        c.close()
