"""A multi-node test bed: several `strongroom serve` nodes with ONE configuration on ONE PostgreSQL
database (a schema of their own per test module), behind real load balancers.

Layout (every address is on loopback, every port chosen free):

    client ──TLS──▶ HAProxy :LB       (mode tcp, roundrobin) ──▶ node-a/b/c main listener
    client ──mTLS─▶ HAProxy :LB_MTLS  (mode tcp, roundrobin) ──▶ node-a/b/c mutual-TLS alias
    client ──TLS──▶ nginx  :NG, :NG_A, :NG_B, :NG_C  (terminates TLS, client certificate optional,
                    forwards it as `Client-Cert`, RFC 9440) ──from 127.0.0.2──▶ node main listeners

HAProxy terminates nothing: the TLS session, client certificate included, is the node's own. The
nodes' public URLs are the balancer's: `service.issuer` is `https://localhost:LB` and
`server.mtls_alias.base_url` is `https://localhost:LB_MTLS`, so discovery, `iss`, the audience of
client assertions and the `htu` of DPoP proofs name the balancer whichever node answers. nginx
connects upstream from 127.0.0.2 (`proxy_bind`), the only address in `server.trusted_proxies`:
HAProxy and direct connections come from 127.0.0.1 and are not trusted to forward a certificate,
so one configuration serves both layouts.

Tests usually need "made on node A, checked on node B": every node is also reachable directly
(`bed.node("a")`), and every nginx entry has a per-node port. `Via` is a `fapi_client.Server` that
keeps the public URLs (what clients must name) but sends each request to one entry point; `RoutedBrowser`
does the same for the login and consent pages and can move between entry points mid-flow.

Node A starts first, alone (schema migration and the signing keys), then the others together. Nodes
started together on an empty database are what `RacingNodes` (and
test_multinode.py::test_nodes_started_together_create_one_key_set) line up.

Every process started here is stopped by its PID at teardown. Needs STRONGROOM_TEST_POSTGRES_URL
and HAProxy (Debian package `haproxy`); nginx only for the nginx layout.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import random
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
import yaml

from conftest import ConfiguredServer, configure, stop_process
from fapi_client import Browser, Client, Server
from test_proxy import Nginx, nginx_conf_around

PG_URL = os.environ.get("STRONGROOM_TEST_POSTGRES_URL", "")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PSQL = shutil.which("psql") or "/usr/bin/psql"
PROXY_ADDRESS = "127.0.0.2"  # nginx's upstream source address: the one trusted proxy
NODE_NAMES = ("a", "b", "c")
START_TIMEOUT = 60.0

# How long a node may sign and publish the signing keys it read before another node changed them, from
# the server's code (Sources/StrongroomEngine/Support/KeyManager.swift): every node re-reads them every
# KeyManager.reloadInterval, so a change is in force everywhere within KeyManager.propagation, which is
# also how long staged keys must wait before they may be promoted. Clients are read from the database
# on every request.
KEY_RELOAD_SECONDS = 5.0
KEY_PROPAGATION_SECONDS = 10.0


def skip_reason() -> str | None:
    if not PG_URL:
        return "STRONGROOM_TEST_POSTGRES_URL is not set (scripts/ci-postgres.sh starts a PostgreSQL)"
    if not os.access(HAPROXY, os.X_OK):
        return "haproxy is not installed (Debian package haproxy; .ci/run installs it)"
    if not os.access(PSQL, os.X_OK):
        return "psql is not installed (Debian package postgresql-client)"
    return None


def nginx_missing() -> str | None:
    return None if os.access(NGINX, os.X_OK) else "nginx is not installed (Debian package nginx; .ci/run installs it)"


# ----------------------------------------------------------------------------------------------
# PostgreSQL
# ----------------------------------------------------------------------------------------------

def psql(sql: str, *, tuples: bool = False) -> str:
    args = [PSQL, PG_URL, "-v", "ON_ERROR_STOP=1", "-q"] + (["-At"] if tuples else []) + ["-c", sql]
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=30).stdout


def schema_url(schema: str) -> str:
    return PG_URL + ("&" if urlparse(PG_URL).query else "?") + f"search_path={schema}"


def new_schema(prefix: str) -> str:
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    psql(f"CREATE SCHEMA {schema}")
    return schema


def drop_schema(schema: str) -> None:
    try:
        psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    except subprocess.SubprocessError:
        pass


# ----------------------------------------------------------------------------------------------
# Processes
# ----------------------------------------------------------------------------------------------

def ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


_ports_taken: set[int] = set()


def free_ports(n: int) -> list[int]:
    """Free loopback ports BELOW the kernel's ephemeral range: the nodes bind theirs only after their
    database work, and an outgoing connection (to PostgreSQL, say) never takes a port from outside
    that range in the meantime, as it could take one that `bind(0)` had handed out."""
    low, _ = ephemeral_range()
    span = range(max(1024, low - 12000), low) if low > 13024 else range(1024, low)
    rng = random.Random()
    out: list[int] = []
    while len(out) < n:
        port = rng.choice(span)
        if port in _ports_taken or port in out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        out.append(port)
    _ports_taken.update(out)
    return out

def wait_listening(port: int, proc: subprocess.Popen, what: str, describe, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with status {proc.returncode}:\n{describe()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.time() > deadline:
                pytest.fail(f"{what} did not listen on {port} in {timeout}s:\n{describe()}")
            time.sleep(0.05)


class Node:
    """One `strongroom serve` process of the bed, reachable directly on its own ports."""

    def __init__(self, name: str, binary: str, kit: Path, config: dict, config_name: str):
        self.name = name
        self.kit = kit
        self.config = config
        self.port = config["server"]["port"]
        self.mtls_port = config["server"]["mtls_alias"]["port"]
        self.base = f"https://localhost:{self.port}"
        self.mtls_base = f"https://localhost:{self.mtls_port}"
        self.ca = str(kit / "ca.pem")
        self.config_path = kit / config_name
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log_path = kit / (config_name + ".log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([binary, "serve", "--config", str(self.config_path)], cwd=kit,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.started = time.monotonic()

    def healthy(self) -> bool:
        try:
            return requests.get(self.base + "/healthz", verify=self.ca, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def wait_healthy(self) -> None:
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"node {self.name} exited with status {self.proc.returncode}:\n{self.log_tail()}")
            if self.healthy():
                return
            time.sleep(0.1)
        pytest.fail(f"node {self.name} did not become healthy in {START_TIMEOUT}s:\n{self.log_tail()}")

    def log_tail(self, n: int = 40) -> str:
        try:
            self.log.flush()
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


def haproxy_conf(work: Path, lb_port: int, lb_mtls_port: int, nodes: list[Node]) -> str:
    def backend(name: str, attr: str) -> str:
        servers = "\n".join(f"    server node-{n.name} 127.0.0.1:{getattr(n, attr)}" for n in nodes)
        return f"backend {name}\n    balance roundrobin\n{servers}\n"
    return f"""global
    maxconn 1024
    nbthread 1
    pidfile {work / "haproxy.pid"}

defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s

# Pass-through: TLS (and the client certificate) reach the node untouched.
frontend main
    bind 127.0.0.1:{lb_port}
    default_backend nodes_main

frontend mtls
    bind 127.0.0.1:{lb_mtls_port}
    default_backend nodes_mtls

{backend("nodes_main", "port")}
{backend("nodes_mtls", "mtls_port")}
"""


class HAProxy:
    def __init__(self, work: Path, conf: str, ports: list[int]):
        self.work = work
        self.conf_path = work / "haproxy.cfg"
        self.conf_path.write_text(conf)
        check = subprocess.run([HAPROXY, "-c", "-q", "-f", str(self.conf_path)], capture_output=True, text=True)
        if check.returncode != 0:
            pytest.fail(f"haproxy -c refused the configuration:\n{check.stdout}{check.stderr}")
        self.log_path = work / "haproxy.out"
        self.log = open(self.log_path, "wb")
        # -db: foreground, no daemon (a single process whose PID is ours).
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(self.conf_path)], stdout=self.log, stderr=subprocess.STDOUT)
        for port in ports:
            wait_listening(port, self.proc, "haproxy", self.output)

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


def nginx_conf(work: Path, kit: Path, nodes: list[Node], balanced_port: int, node_ports: list[int]) -> str:
    def server_block(port: int, upstream: str) -> str:
        return f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {kit / "server.pem"};
        ssl_certificate_key {kit / "server.key.pem"};
        ssl_protocols TLSv1.2 TLSv1.3;
        # Asks for a client certificate, requires none; the engine judges what is forwarded.
        ssl_verify_client optional_no_ca;

        location / {{
            proxy_pass https://{upstream};
            proxy_bind {PROXY_ADDRESS};
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Connection "";
            # Replaces whatever the client sent under these names (empty: no header).
            proxy_set_header Client-Cert $client_cert_rfc9440;
            proxy_set_header Client-Cert-Chain "";
            proxy_ssl_trusted_certificate {kit / "ca.pem"};
            proxy_ssl_verify on;
            proxy_ssl_name localhost;
            proxy_ssl_server_name on;
            proxy_ssl_protocols TLSv1.2 TLSv1.3;
        }}
    }}
"""
    upstreams = "    upstream strongroom_nodes {\n" + "".join(f"        server 127.0.0.1:{n.port};\n" for n in nodes) + "    }\n"
    upstreams += "".join(f"    upstream strongroom_node_{n.name} {{ server 127.0.0.1:{n.port}; }}\n" for n in nodes)
    blocks = server_block(balanced_port, "strongroom_nodes")
    blocks += "".join(server_block(p, f"strongroom_node_{n.name}") for n, p in zip(nodes, node_ports))
    return nginx_conf_around(work, 256, upstreams + "\n" + blocks)


# ----------------------------------------------------------------------------------------------
# Entry points
# ----------------------------------------------------------------------------------------------

def closed(r: requests.Response) -> requests.Response:
    """The response, read, with its connection closed: a response kept by a test (a failure's
    traceback keeps them all) would otherwise hold a connection open, and a node's graceful shutdown
    waits for it."""
    _ = r.content
    r.close()
    r.raw = None  # what still references the socket after close()
    return r


class Via(Server):
    """The server as clients see it (public URLs: the balancer's), with every request sent to one
    entry point instead: a node directly, the balancer, or an nginx port. `name` says which."""

    def __init__(self, name: str, issuer: str, public_mtls: str, ca: str, mtls_port: int, main: str, mtls: str):
        super().__init__(issuer, ca, mtls_port)
        self.name = name
        self.routes = [(public_mtls, mtls), (self.issuer, main)]
        self.main = main
        self.mtls = mtls

    def target(self, url: str) -> str:
        for public, local in self.routes:
            if url == public or url.startswith(public + "/") or url.startswith(public + "?"):
                return local + url[len(public):]
        return url

    def get(self, path_or_url: str, **kw) -> requests.Response:
        return closed(super().get(self.target(self._resolve(path_or_url, kw)), **kw))

    def post(self, path_or_url: str, **kw) -> requests.Response:
        return closed(super().post(self.target(self._resolve(path_or_url, kw)), **kw))

    def request(self, method: str, path_or_url: str, **kw) -> requests.Response:
        return closed(super().request(method, self.target(self._resolve(path_or_url, kw)), **kw))

    def __repr__(self) -> str:
        return f"<via {self.name}>"


class RoutedBrowser(Browser):
    """A `Browser` whose requests go to `self.via` (changeable between steps), one TCP connection per
    request so that, through the balancer, successive steps are spread over the nodes."""

    def __init__(self, via: Via, **kw):
        super().__init__(via, **kw)
        self.via = via

    def _send(self, method: str, url: str, **kw) -> requests.Response:
        try:
            return closed(super()._send(method, self.via.target(url), **kw))
        finally:
            # Drops the pooled connection (the cookie jar stays): the next step opens a new one.
            self.http.close()

    def at(self, via: Via) -> "RoutedBrowser":
        self.via = via
        return self


def at(client: Client, via: Via) -> Client:
    """The same client talking to another entry point."""
    return dataclasses.replace(client, server=via)


# ----------------------------------------------------------------------------------------------
# The bed
# ----------------------------------------------------------------------------------------------

def node_config(written: dict, name: str, lb_port: int, lb_mtls_port: int, port: int, mtls_port: int, database_url: str) -> dict:
    """The bed's one configuration, with only the node's own listening ports set."""
    c = configure(written, lb_port, lb_mtls_port, "unused.sqlite")
    c["server"]["port"] = port
    c["server"]["mtls_alias"] = {"host": "127.0.0.1", "port": mtls_port, "base_url": f"https://localhost:{lb_mtls_port}"}
    c["server"]["trusted_proxies"] = [PROXY_ADDRESS]
    c["server"]["client_certificate_header"] = "Client-Cert"
    c["database"]["url"] = database_url
    c["database"]["pool_size"] = 4
    return c


def same_configuration(configs: list[dict]) -> bool:
    def without_ports(c: dict) -> dict:
        d = copy.deepcopy(c)
        d["server"].pop("port")
        d["server"]["mtls_alias"].pop("port")
        return d
    first = without_ports(configs[0])
    return all(without_ports(c) == first for c in configs[1:])


class Bed(ConfiguredServer):
    def __init__(self, binary: str, kit: dict, work: Path, n_nodes: int = 3, with_nginx: bool = True):
        self.kit = kit["dir"]
        self.ca = str(self.kit / "ca.pem")
        self.schema = new_schema("multinode")
        self.nodes: list[Node] = []
        self.haproxy: HAProxy | None = None
        self.nginx: Nginx | None = None
        try:
            self._start(binary, kit, work, n_nodes, with_nginx)
        except BaseException:
            self.stop()
            raise

    def _start(self, binary, kit, work, n_nodes, with_nginx) -> None:
        ports = free_ports(2 + 2 * n_nodes + (1 + n_nodes if with_nginx else 0))
        self.lb_port, self.lb_mtls_port = ports[0], ports[1]
        self.issuer = f"https://localhost:{self.lb_port}"
        self.public_mtls = f"https://localhost:{self.lb_mtls_port}"
        names = NODE_NAMES[:n_nodes]
        configs = [node_config(kit["written"], n, self.lb_port, self.lb_mtls_port, ports[2 + 2 * i], ports[3 + 2 * i],
                               schema_url(self.schema)) for i, n in enumerate(names)]
        assert same_configuration(configs), "the nodes' configurations differ in more than their ports"
        self.config = configs[0]
        # Node A alone first (migrations, signing keys), then the others at once.
        first = Node(names[0], binary, self.kit, configs[0], f"{self.schema}-{names[0]}.yaml")
        self.nodes.append(first)
        first.wait_healthy()
        for n, c in zip(names[1:], configs[1:]):
            self.nodes.append(Node(n, binary, self.kit, c, f"{self.schema}-{n}.yaml"))
        for node in self.nodes[1:]:
            node.wait_healthy()
        hwork = work / "haproxy"
        hwork.mkdir(parents=True, exist_ok=True)
        self.haproxy = HAProxy(hwork, haproxy_conf(hwork, self.lb_port, self.lb_mtls_port, self.nodes), [self.lb_port, self.lb_mtls_port])
        self.lb = self._via("lb", self.issuer, self.public_mtls)
        self.direct = {n.name: self._via(n.name, n.base, n.mtls_base) for n in self.nodes}
        self.nginx_vias: dict[str, Via] = {}
        if with_nginx and not nginx_missing():
            nwork = work / "nginx"
            (nwork / "tmp").mkdir(parents=True, exist_ok=True)
            ng_ports = ports[2 + 2 * n_nodes:]
            self.nginx = Nginx(nwork, nginx_conf(nwork, self.kit, self.nodes, ng_ports[0], ng_ports[1:]), ng_ports)
            # nginx has one listener per entry: main and "mtls" URLs both go to it.
            self.nginx_vias["lb"] = self._via("nginx", f"https://localhost:{ng_ports[0]}", f"https://localhost:{ng_ports[0]}")
            for n, p in zip(self.nodes, ng_ports[1:]):
                self.nginx_vias[n.name] = self._via(f"nginx-{n.name}", f"https://localhost:{p}", f"https://localhost:{p}")

    def _via(self, name: str, main: str, mtls: str) -> Via:
        return Via(name, self.issuer, self.public_mtls, self.ca, self.lb_mtls_port, main, mtls)

    # Convenience
    def node(self, name: str) -> Via:
        return self.direct[name]

    def process(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def via_nginx(self, name: str = "lb") -> Via:
        if not self.nginx_vias:
            pytest.skip(nginx_missing() or "nginx layout not started")
        return self.nginx_vias[name]

    def admin(self, via: Via, method: str, path: str, body=None) -> requests.Response:
        return via.request(method, "/admin" + path, json=body, headers={"Authorization": f"Bearer {self.admin_token}"})

    def metrics(self, node: str) -> dict[tuple[str, str], float]:
        """strongroom_requests_total of one node: {(endpoint, status): count}."""
        r = self.node(node).get("/metrics", headers={"Authorization": f"Bearer {self.admin_token}"})
        assert r.status_code == 200, f"/metrics of node {node}: HTTP {r.status_code} {r.text[:200]}"
        out: dict[tuple[str, str], float] = {}
        for m in re.finditer(r'^strongroom_requests_total\{endpoint="([^"]+)",status="(\d+)"\} ([0-9.e+]+)$', r.text, re.M):
            out[(m.group(1), m.group(2))] = float(m.group(3))
        return out

    def logs(self) -> str:
        return "\n".join(f"--- node {n.name}\n{n.log_tail(15)}" for n in self.nodes)

    def stop(self) -> None:
        for p in (self.nginx, self.haproxy):
            if p is not None:
                p.stop()
        run_in_parallel(*[n.stop for n in self.nodes])
        drop_schema(self.schema)


# ----------------------------------------------------------------------------------------------
# Nodes racing on an empty database
# ----------------------------------------------------------------------------------------------

class LockHolder:
    """A psql session holding `LOCK TABLE schema.table IN SHARE MODE` in an open transaction: others
    can read the table but their INSERTs wait until `release()`."""

    def __init__(self, schema: str, table: str):
        self.schema, self.table = schema, table
        self.proc = subprocess.Popen([PSQL, PG_URL, "-v", "ON_ERROR_STOP=1", "-q"], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.proc.stdin.write(f"BEGIN;\nLOCK TABLE {schema}.{table} IN SHARE MODE;\n")
        self.proc.stdin.flush()
        deadline = time.time() + 20
        while self.count("l.granted AND l.mode = 'ShareLock'") == 0:
            if time.time() > deadline or self.proc.poll() is not None:
                self.release()
                pytest.fail(f"could not lock {schema}.{table}")
            time.sleep(0.05)

    def count(self, condition: str) -> int:
        return int(psql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                        "JOIN pg_namespace s ON s.oid = c.relnamespace "
                        f"WHERE s.nspname = '{self.schema}' AND c.relname = '{self.table}' AND {condition}", tuples=True).strip())

    def wait_for_waiters(self, n: int, alive, timeout: float) -> bool:
        """Whether `n` sessions came to wait on the lock within `timeout` (while `alive()`)."""
        deadline = time.time() + timeout
        while time.time() < deadline and alive():
            if self.count("NOT l.granted") >= n:
                return True
            time.sleep(0.05)
        return self.count("NOT l.granted") >= n

    def release(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.stdin.write("COMMIT;\n")
            self.proc.stdin.close()
            self.proc.wait(20)
        except (OSError, subprocess.TimeoutExpired):
            stop_process(self.proc)
        self.proc = None


class RacingNodes:
    """Two nodes started together on a freshly migrated, empty schema, each step of their first start
    lined up so that both do it at the same moment, deterministically: a SHARE lock (psql) on
    `signing_keys` lets both read "no keys" and holds both INSERTs until both are waiting; then one
    on `clients` does the same for the configured clients (seeded next, ClientRegistry.upsertSeed).
    A server that serialises these steps leaves the second node waiting elsewhere: after a few
    seconds the lock is released anyway and the outcome speaks."""

    def __init__(self, binary: str, kit: dict):
        self.kit = kit["dir"]
        self.schema = new_schema("multinode_race")
        self.nodes: list[Node] = []
        self.holders: list[LockHolder] = []
        self.lined_up: dict[str, bool] = {}
        try:
            self._start(binary, kit)
        finally:
            for h in self.holders:
                h.release()

    def _start(self, binary, kit) -> None:
        ports = free_ports(4)
        configs = [node_config(kit["written"], n, ports[0], ports[1], ports[2 * i], ports[2 * i + 1], schema_url(self.schema))
                   for i, n in enumerate(("a", "b"))]
        path = self.kit / f"{self.schema}-migrate.yaml"
        path.write_text(yaml.safe_dump(configs[0], sort_keys=False))
        m = subprocess.run([binary, "migrate", "--config", str(path)], cwd=self.kit, capture_output=True, text=True, timeout=60)
        if m.returncode != 0:
            pytest.fail(f"strongroom migrate failed ({m.returncode}):\n{m.stdout}{m.stderr}")
        self.holders = [LockHolder(self.schema, "signing_keys"), LockHolder(self.schema, "clients")]
        self.nodes = [Node(n, binary, self.kit, c, f"{self.schema}-{n}.yaml") for n, c in zip(("a", "b"), configs)]
        alive = lambda: all(n.proc.poll() is None for n in self.nodes)  # noqa: E731
        for h in self.holders:
            self.lined_up[h.table] = h.wait_for_waiters(2, alive, 8)
            h.release()
        self.outcome = {n.name: self._settle(n) for n in self.nodes}

    @staticmethod
    def _settle(node: Node) -> str:
        """'healthy', or how the node ended."""
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if node.proc.poll() is not None:
                return f"exited {node.proc.returncode}: {node.log_tail(1)}"
            if node.healthy():
                return "healthy"
            time.sleep(0.1)
        return "not healthy in time"

    def active_keys(self) -> list[tuple[str, str]]:
        rows = psql(f"SELECT algorithm, kid FROM {self.schema}.signing_keys WHERE status = 'active' ORDER BY algorithm, kid", tuples=True)
        return [tuple(line.split("|")) for line in rows.splitlines() if line]

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()
        drop_schema(self.schema)


# ----------------------------------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bed(binary, kit, tmp_path_factory):
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    b = Bed(binary, kit, tmp_path_factory.mktemp("multinode"))
    yield b
    b.stop()


def run_in_parallel(*calls):
    """Runs zero-argument callables on threads; returns their results in order (re-raises the first error)."""
    results: list = [None] * len(calls)
    errors: list = []

    def run(i, f):
        try:
            results[i] = f()
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results
