"""`kill -9` of a node while clients are getting tokens from it, on SQLite and on PostgreSQL.

Several client threads run the client-credentials grant and the code flow (an `/authorize` with a
session cookie, then the code's redemption) as fast as they can, each on its own keep-alive
connection, and keep every token whose issuing 200 response reached them whole. The node is killed
with SIGKILL in the middle of that. Afterwards:

- every one of those tokens introspects `active: true` (all of them are counted and checked: a
  200 is only sent once its tokens are durable);
- SQLite: the database file passes `PRAGMA integrity_check` (read-only, before the restart, so
  that nothing but the server itself recovers the WAL it left behind), and the node starts again
  on the same file and serves;
- PostgreSQL, two nodes on one schema: the clients of the surviving node never see anything but
  200 — no 5xx, no dropped connection — during and after the kill; the killed node starts again on
  the same schema and sees every token too.
"""

from __future__ import annotations

import threading
import time

from cluster import (PLAIN, Conn, ConnectionLost, Node, authorize_code, basic, integrity, login, needs_postgres, node_config,
                     pg_schema, redeem_body)
from conftest import free_ports, observe

CC_CLIENT = "crash-cc"
CC_SECRET = "crash-cc-secret-0123456789abcdef0123456789"
LOAD_BEFORE_KILL = 3.0
LOAD_AFTER_KILL = 3.0


def register_cc(node: Node) -> None:
    c = node.conn()
    r = c.request("POST", "/admin/clients", {"Authorization": f"Bearer {node.admin_token}", "Content-Type": "application/json"}, (
        '{"client_id":"%s","client_secret":"%s","token_endpoint_auth_method":"client_secret_basic",'
        '"grant_types":["client_credentials"],"response_types":[],"scope":"profile"}') % (CC_CLIENT, CC_SECRET))
    c.close()
    assert r.status == 201, r.describe()


class Load(threading.Thread):
    """One client thread on one node: `kind` "cc" (client_credentials) or "code" (the code flow)."""

    def __init__(self, node: Node, kind: str, cookie: str, stop: threading.Event, *, victim: bool):
        super().__init__(daemon=True)
        self.node = node
        self.kind = kind
        self.cookie = cookie
        self.stop = stop
        self.victim = victim
        self.cc = basic(CC_CLIENT, CC_SECRET)
        self.plain = basic(PLAIN, node.client_secret(PLAIN))
        self.tokens: list[tuple[str, str, float]] = []  # (token, client id, when its response arrived)
        self.failures: list[tuple[float, str]] = []
        self.lost_connections = 0

    def run(self) -> None:
        conn = Conn(self.node.port, self.node.ca)
        while not self.stop.is_set():
            try:
                if self.kind == "cc":
                    r = conn.request("POST", "/token", self.cc, {"grant_type": "client_credentials", "scope": "profile"})
                    if r.status != 200:
                        self.failures.append((time.monotonic(), f"client_credentials: {r.describe()}"))
                        continue
                    self.tokens.append((r.json()["access_token"], CC_CLIENT, time.monotonic()))
                else:
                    try:
                        code, verifier = authorize_code(conn, self.cookie, self.node.callback)
                    except AssertionError as e:
                        self.failures.append((time.monotonic(), f"authorize: {e}"))
                        continue
                    r = conn.request("POST", "/token", self.plain, redeem_body(code, verifier, self.node.callback))
                    if r.status != 200:
                        self.failures.append((time.monotonic(), f"code redemption: {r.describe()}"))
                        continue
                    body = r.json()
                    now = time.monotonic()
                    self.tokens += [(body["access_token"], PLAIN, now), (body["refresh_token"], PLAIN, now)]
            except (ConnectionLost, OSError) as e:
                self.lost_connections += 1
                self.failures.append((time.monotonic(), f"connection: {e!r}"))
                if self.victim:
                    return  # its node is gone
                time.sleep(0.05)
        conn.close()


def run_load(loads: list[Load], kill: Node, stop: threading.Event, after: float) -> float:
    """Starts the threads, kills `kill` after LOAD_BEFORE_KILL seconds, lets the rest run `after`
    seconds more, stops them; returns when the kill happened (monotonic)."""
    for load in loads:
        load.start()
    time.sleep(LOAD_BEFORE_KILL)
    in_flight = sum(1 for load in loads if load.node is kill and load.is_alive())
    assert in_flight > 0, "no client was running against the node when it was killed"
    killed_at = time.monotonic()
    kill.kill()
    time.sleep(after)
    stop.set()
    for load in loads:
        load.join(30)
        assert not load.is_alive(), "a client thread did not stop"
    return killed_at


def check_all_active(node: Node, tokens: list[tuple[str, str, float]]) -> int:
    """Introspects every token at `node` with its own client; returns how many were checked."""
    conn = node.conn()
    auth = {CC_CLIENT: basic(CC_CLIENT, CC_SECRET), PLAIN: basic(PLAIN, node.client_secret(PLAIN))}
    dead = []
    for token, client_id, _ in tokens:
        r = conn.request("POST", "/introspect", auth[client_id], {"token": token})
        assert r.status == 200, f"introspection at {node.name}: {r.describe()}"
        if r.json().get("active") is not True:
            dead.append((client_id, token[:8]))
    conn.close()
    assert not dead, f"{len(dead)} of {len(tokens)} tokens whose 200 reached the client are not active at {node.name}: {dead[:10]}"
    return len(tokens)


def serves(node: Node) -> None:
    conn = node.conn()
    r = conn.request("POST", "/token", basic(CC_CLIENT, CC_SECRET), {"grant_type": "client_credentials", "scope": "profile"})
    conn.close()
    assert r.status == 200, f"{node.name} after its restart: {r.describe()}"


# ----------------------------------------------------------------------------------------------

def test_kill_9_under_load_on_sqlite(binary, kit, tmp_path_factory):
    db = tmp_path_factory.mktemp("crash-sqlite") / "crash.sqlite"
    port, mtls = free_ports(2)
    node = Node(binary, kit, "crash-sqlite", node_config(kit, port=port, mtls_port=mtls, database_url=f"sqlite:{db}")).start()
    try:
        register_cc(node)
        cookie = login(node)
        stop = threading.Event()
        loads = [Load(node, kind, cookie, stop, victim=True) for kind in ("cc", "cc", "code", "code")]
        run_load(loads, node, stop, after=0.5)
        tokens = [t for load in loads for t in load.tokens]
        cut = sum(load.lost_connections for load in loads)
        others = [f for load in loads for f in load.failures if not f[1].startswith("connection")]
        assert not others, f"refusals before the kill: {others[:5]}"
        assert len(tokens) > 0 and all(load.tokens for load in loads), [len(load.tokens) for load in loads]
        wal = db.with_name(db.name + "-wal")
        wal_size = wal.stat().st_size if wal.exists() else 0

        # Before the restart: the file as the killed process left it.
        assert integrity(db) == [("ok",)]
        wal_after_check = wal.stat().st_size if wal.exists() else 0

        node.start()
        checked = check_all_active(node, tokens)
        serves(node)
        assert node.errors_since_start() == [], "the restart on the killed node's file logged errors"
        assert integrity(db) == [("ok",)]
        observe(f"kill -9 on SQLite: {checked} tokens whose 200 reached one of {len(loads)} client threads, all active "
                f"after the restart; {cut} client connections broken by the kill; WAL left behind {wal_size // 1024} KB "
                f"({wal_after_check // 1024} KB after the read-only check); "
                "integrity_check ok before and after the restart")
    finally:
        node.stop()


@needs_postgres
def test_kill_9_of_one_of_two_nodes_on_postgres(binary, kit):
    with pg_schema("crash") as url:
        pa, ma, pb, mb = free_ports(4)
        a = Node(binary, kit, "crash-pg-a", node_config(kit, port=pa, mtls_port=ma, database_url=url)).start()
        b = Node(binary, kit, "crash-pg-b", node_config(kit, port=pb, mtls_port=mb, database_url=url, issuer_port=pa)).start()
        try:
            register_cc(a)
            cookie = login(a)
            stop = threading.Event()
            victims = [Load(a, kind, cookie, stop, victim=True) for kind in ("cc", "cc", "code")]
            survivors = [Load(b, kind, cookie, stop, victim=False) for kind in ("cc", "cc", "code")]
            killed_at = run_load(victims + survivors, a, stop, after=LOAD_AFTER_KILL)

            for load in survivors:
                assert not load.failures, (f"a client of the surviving node saw {len(load.failures)} failures "
                                           f"(first {load.failures[0][0] - killed_at:+.2f} s from the kill): {load.failures[:5]}")
            after_kill = sum(1 for load in survivors for t in load.tokens if t[2] > killed_at)
            assert after_kill > 0, "the surviving node issued nothing after the kill"
            others = [f for load in victims for f in load.failures if not f[1].startswith("connection")]
            assert not others, f"refusals by the killed node before the kill: {others[:5]}"
            from_a = [t for load in victims for t in load.tokens]
            from_b = [t for load in survivors for t in load.tokens]
            assert from_a and from_b

            checked = check_all_active(b, from_a + from_b)
            a.start()
            serves(a)
            checked_again = check_all_active(a, from_a)
            assert a.errors_since_start() == [], "the restart of the killed node logged errors"
            assert b.errors_since_start() == [], "the surviving node logged errors"
            cut = sum(load.lost_connections for load in victims)
            observe(f"kill -9 on PostgreSQL (two nodes): {checked} tokens whose 200 reached a client ({len(from_a)} from the killed "
                    f"node, {len(from_b)} from the survivor, {after_kill} of them after the kill), all active at the survivor; "
                    f"{checked_again} of the killed node's active at it after its restart; {cut} client connections broken by the kill; "
                    f"the survivor's {len(survivors)} client threads saw no failure")
        finally:
            a.stop()
            b.stop()
