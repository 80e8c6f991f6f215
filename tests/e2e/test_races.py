"""The same authorization code, and the same rotating refresh token, sent twice at the same
instant: exactly one request wins, the other is refused with 400 `invalid_grant`, and the refusal
revokes what the winner got (RFC 6749 §4.1.2 for a code, RFC 9700 §4.14.2 for a rotated refresh
token: the whole lineage) — however close together the two requests arrive.

Each trial releases two pre-built requests (the same bytes) from two keep-alive TLS connections
opened beforehand, each written by its own thread as soon as a barrier lets both go. On SQLite
both go to one node; on PostgreSQL one goes to each of two `strongroom serve` nodes sharing one
schema (skipped without `STRONGROOM_TEST_POSTGRES_URL`). Right after both answers the winner's
access token (and, for a refresh token, the access token the code gave) must introspect
`active: false` and its refresh token be refused with `invalid_grant`, checked at the other node
where there are two.

"Simultaneous" is measured on the client's monotonic clock: the two requests' bytes were handed to
the kernel (both `sendall` calls returned) within 1 ms of each other. On loopback that is when
they are readable by the server; when the server's event loops read them cannot be seen from
outside.

The winner is the request that consumed the code (or rotated the refresh token). Its tokens are
written and then checked against the lineage revocation markers (LineageRevoker): when the
loser's refusal revoked the lineage in between, the winner revokes its own tokens and still
answers 200 — so every race has exactly one 200, and its tokens are dead either way.

The codes come from one sign-in: the session cookie and the remembered consent make every further
`/authorize` a redirect carrying a code, with no page in between.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from cluster import (PLAIN, Conn, Node, Response, authorize_code, basic, login, needs_postgres, node_config,
                     pg_schema, redeem_body)
from conftest import free_ports, observe

TRIALS = int(os.environ.get("STRONGROOM_RACE_TRIALS", "1000"))
REFRESH_TRIALS = int(os.environ.get("STRONGROOM_REFRESH_RACE_TRIALS", "1000"))
SIMULTANEOUS_NS = 1_000_000
# Codes are fetched a few trials ahead; a long lifetime keeps the sweeper away from the consumed
# codes whose replay the losers detect.
LIFETIMES = {"authorization_code": 600}


# ----------------------------------------------------------------------------------------------
# Deployments
# ----------------------------------------------------------------------------------------------

@dataclass
class Deployment:
    name: str
    nodes: list[Node]
    secret: str
    cookie: str = ""

    @property
    def callback(self) -> str:
        return self.nodes[0].callback

    @property
    def via(self) -> tuple[str, str]:
        return (self.nodes[0].name, self.nodes[-1].name) if len(self.nodes) > 1 else ("connection 1", "connection 2")

    def race_conns(self) -> tuple[Conn, Conn]:
        """Two connections: to two different nodes when there are two."""
        a = self.nodes[0]
        b = self.nodes[-1]
        return a.conn(), b.conn()


@pytest.fixture(scope="module")
def sqlite_deployment(binary, kit, tmp_path_factory):
    db = tmp_path_factory.mktemp("races-sqlite") / "races.sqlite"
    port, mtls = free_ports(2)
    node = Node(binary, kit, "races-sqlite", node_config(kit, port=port, mtls_port=mtls, database_url=f"sqlite:{db}",
                                                          lifetimes=LIFETIMES)).start()
    d = Deployment("SQLite, one node", [node], node.client_secret(PLAIN))
    d.cookie = login(node)
    yield d
    node.stop()


@pytest.fixture(scope="module")
def pg_deployment(binary, kit):
    with pg_schema("races") as url:
        pa, ma, pb, mb = free_ports(4)
        a = Node(binary, kit, "races-pg-a", node_config(kit, port=pa, mtls_port=ma, database_url=url, lifetimes=LIFETIMES)).start()
        b = Node(binary, kit, "races-pg-b", node_config(kit, port=pb, mtls_port=mb, database_url=url, issuer_port=pa,
                                                         lifetimes=LIFETIMES)).start()
        try:
            d = Deployment("PostgreSQL, two nodes", [a, b], a.client_secret(PLAIN))
            d.cookie = login(a)
            yield d
        finally:
            a.stop()
            b.stop()


# ----------------------------------------------------------------------------------------------
# The race
# ----------------------------------------------------------------------------------------------

class Racer:
    """Two threads, each with its own connection opened beforehand; `race` hands each its
    pre-built request and releases both at once with a barrier."""

    def __init__(self, conns: tuple[Conn, Conn]):
        self.conns = conns
        self.go = threading.Barrier(3, timeout=120)
        self.done = threading.Barrier(3, timeout=120)
        self.raw: list[bytes] = [b"", b""]
        self.results: list[Response | Exception | None] = [None, None]
        self.sent: list[int] = [0, 0]
        self.stopping = False
        self.threads = [threading.Thread(target=self._work, args=(i,), daemon=True) for i in (0, 1)]
        for t in self.threads:
            t.start()

    def _work(self, i: int) -> None:
        conn = self.conns[i]
        while True:
            ready: Exception | None = None
            try:
                conn.ensure()  # (re)connect outside the measured window
            except OSError as e:
                ready = e
            self.go.wait()
            if self.stopping:
                return
            try:
                if ready is not None:
                    raise ready
                conn.send(self.raw[i])
                self.sent[i] = time.perf_counter_ns()
                self.results[i] = conn.read_response()
            except Exception as e:  # reported by `judge`
                self.results[i] = e
            self.done.wait()

    def race(self, raw_a: bytes, raw_b: bytes) -> tuple[list, int]:
        """Both responses, and how far apart (ns) the two sends completed."""
        self.raw = [raw_a, raw_b]
        self.results = [None, None]
        self.go.wait()
        self.done.wait()
        return list(self.results), abs(self.sent[0] - self.sent[1])

    def close(self) -> None:
        self.stopping = True
        self.go.wait()
        for t in self.threads:
            t.join(5)
        for c in self.conns:
            c.close()


@dataclass
class Tally:
    kind: str
    backend: str
    trials: int = 0
    winners: int = 0
    simultaneous: int = 0
    surviving_access: int = 0
    surviving_refresh: int = 0
    won_by: Counter = field(default_factory=Counter)
    refusals: Counter = field(default_factory=Counter)
    skews: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def report(self) -> str:
        s = sorted(self.skews)
        median = s[len(s) // 2] / 1000 if s else 0
        p99 = s[int(len(s) * 0.99) - 1] / 1000 if s else 0
        return (f"races ({self.kind}, {self.backend}): {self.trials} trials in {self.seconds:.1f} s; "
                f"{self.winners} with exactly one winner; "
                f"{self.simultaneous} sent within 1 ms of each other (skew median {median:.0f} us, p99 {p99:.0f} us, "
                f"max {s[-1] / 1000 if s else 0:.0f} us); won through {dict(self.won_by)}; "
                f"access tokens of the winner's lineage still active afterwards: {self.surviving_access}, "
                f"winner's refresh token still usable: {self.surviving_refresh}; refusals: {dict(self.refusals)}")


def prefetch(make, count: int, conn: Conn):
    """Yields `make(conn)` `count` times, made ahead by a thread of its own on its own connection
    (so the next trial's code or refresh token is ready when a race ends)."""
    made: queue.Queue = queue.Queue(maxsize=8)
    stop = threading.Event()

    def produce() -> None:
        try:
            for _ in range(count):
                if stop.is_set():
                    return
                made.put((True, make(conn)))
        except BaseException as e:  # handed to the consumer, which fails with it
            made.put((False, e))
        finally:
            conn.close()

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        for _ in range(count):
            ok, value = made.get(timeout=60)
            if not ok:
                raise value
            yield value
    finally:
        stop.set()
        while thread.is_alive():
            try:
                made.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join(5)


def judge(results: list, what: str, trial: int, tally: Tally) -> tuple[int, dict]:
    """(index of the winner, its token response). Every answer must be a whole HTTP response;
    exactly one is a 200 and the other exactly 400 invalid_grant."""
    for r in results:
        assert isinstance(r, Response), f"{what} trial {trial}: no response: {r!r}"
    winners = [i for i, r in enumerate(results) if r.status == 200]
    for i, r in enumerate(results):
        if r.status != 200:
            assert r.status == 400 and r.error == "invalid_grant", f"{what} trial {trial}: refusal {r.describe()}"
            tally.refusals[r.json().get("error_description", "")] += 1
    assert len(winners) == 1, (f"{what} trial {trial}: {len(winners)} winners: "
                               f"{[r.describe()[:120] for r in results]}")
    body = results[winners[0]].json()
    assert body.get("access_token") and body.get("refresh_token"), f"{what} trial {trial}: {body}"
    return winners[0], body


def introspect(conn: Conn, d: Deployment, token: str) -> dict:
    r = conn.request("POST", "/introspect", basic(PLAIN, d.secret), {"token": token})
    assert r.status == 200, f"introspection: {r.describe()}"
    return r.json()


def refresh(conn: Conn, d: Deployment, token: str) -> Response:
    return conn.request("POST", "/token", basic(PLAIN, d.secret), {"grant_type": "refresh_token", "refresh_token": token})


def check_winner_revoked(conn: Conn, d: Deployment, body: dict, tally: Tally, what: str, trial: int,
                         also_inactive: tuple[str, ...] = ()) -> None:
    """The winner's tokens (and `also_inactive`: earlier tokens of the same lineage) are dead."""
    for token in (body["access_token"], *also_inactive):
        if introspect(conn, d, token)["active"] is not False:
            tally.surviving_access += 1
    r = refresh(conn, d, body["refresh_token"])
    if r.status == 200:
        tally.surviving_refresh += 1
    else:
        assert r.status == 400 and r.error == "invalid_grant", f"{what} trial {trial}: winner's refresh token: {r.describe()}"


def run_races(d: Deployment, tally: Tally, label: str, start_items, body_for, check) -> Tally:
    """Races one request per item at two connections at once and judges each trial.

    `start_items(auth)` starts prefetching the trials' inputs (closed at the end); `body_for(item)` is
    the token request both connections send; `check(checker, item, tokens, trial)` runs the
    scenario's own assertions on the winner's tokens."""
    checker = d.nodes[-1].conn()
    racer = Racer(d.race_conns())
    auth = basic(PLAIN, d.secret)
    items = start_items(auth)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # hand the GIL over at once when the barrier lets both threads go
    started = time.monotonic()
    try:
        for trial, item in enumerate(items):
            body = body_for(item)
            raw_a = racer.conns[0].build("POST", "/token", auth, body)
            raw_b = racer.conns[1].build("POST", "/token", auth, body)
            results, skew = racer.race(raw_a, raw_b)
            tally.trials += 1
            tally.skews.append(skew)
            tally.simultaneous += skew <= SIMULTANEOUS_NS
            winner, tokens = judge(results, label, trial, tally)
            tally.winners += 1
            tally.won_by[d.via[winner]] += 1
            check(checker, item, tokens, trial)
    finally:
        sys.setswitchinterval(switch)
        tally.seconds = time.monotonic() - started
        items.close()
        racer.close()
        checker.close()
    return tally


def run_code_races(d: Deployment, trials: int) -> Tally:
    def start_items(auth: dict):
        return prefetch(lambda conn: authorize_code(conn, d.cookie, d.callback), trials, d.nodes[0].conn())

    def check(checker: Conn, item, tokens: dict, trial: int) -> None:
        check_winner_revoked(checker, d, tokens, tally, "code race", trial)

    tally = Tally("authorization code", d.name)
    return run_races(d, tally, "code race", start_items,
                     lambda item: redeem_body(item[0], item[1], d.callback), check)


def run_refresh_races(d: Deployment, trials: int) -> Tally:
    def start_items(auth: dict):
        def fresh_tokens(conn: Conn) -> dict:
            code, verifier = authorize_code(conn, d.cookie, d.callback)
            r = conn.request("POST", "/token", auth, redeem_body(code, verifier, d.callback))
            assert r.status == 200, f"redeeming a fresh code: {r.describe()}"
            return r.json()
        return prefetch(fresh_tokens, trials, d.nodes[0].conn())

    def check(checker: Conn, first: dict, tokens: dict, trial: int) -> None:
        assert tokens["refresh_token"] != first["refresh_token"], "demo-plain's refresh tokens must rotate"
        check_winner_revoked(checker, d, tokens, tally, "refresh race", trial, also_inactive=(first["access_token"],))

    tally = Tally("rotating refresh token", d.name)
    return run_races(d, tally, "refresh race", start_items,
                     lambda first: {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, check)


def conclude(tally: Tally) -> None:
    observe(tally.report())
    assert tally.winners == tally.trials > 0, tally.report()
    assert tally.surviving_access == 0 and tally.surviving_refresh == 0, tally.report()
    # Not a race unless most requests really went together.
    assert tally.simultaneous >= tally.trials // 5, tally.report()


# ----------------------------------------------------------------------------------------------
# Tests
# ----------------------------------------------------------------------------------------------

def test_code_redeemed_twice_at_once_on_sqlite(sqlite_deployment):
    conclude(run_code_races(sqlite_deployment, TRIALS))


@needs_postgres
def test_code_redeemed_at_two_nodes_at_once_on_postgres(pg_deployment):
    conclude(run_code_races(pg_deployment, TRIALS))


def test_rotating_refresh_token_used_twice_at_once_on_sqlite(sqlite_deployment):
    conclude(run_refresh_races(sqlite_deployment, REFRESH_TRIALS))


@needs_postgres
def test_rotating_refresh_token_used_at_two_nodes_at_once_on_postgres(pg_deployment):
    conclude(run_refresh_races(pg_deployment, REFRESH_TRIALS))
