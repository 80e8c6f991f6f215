"""A node stays responsive under a login flood: the real binary, over TLS, with the DEFAULT abuse
limits (the `limits` section is left out of this server's configuration altogether).

The flood is what an attacker without the password does to make bcrypt (cost 12, a large fraction
of a core per check) the bottleneck: fresh sign-ins (`GET /authorize` → the login page) and wrong
passwords, for a real account and for made-up usernames (an unknown username costs the same
bcrypt as a known one). It comes from eight loopback addresses (127.0.0.2–127.0.0.9, a small
botnet) through keep-alive sessions, for FLOOD_SECONDS, from a process of its own, so that
its Python threads never hold the GIL of the process that times the probes.

Why 48 threads: a node holds at most `password_hashing.concurrency` + `queue` = 2 + 32 sign-ins in
bcrypt or waiting for it. A client that waits for each answer needs more threads than that before
the queue is ever full; with fewer, the node would never shed anything and the test would prove
nothing. The test requires that the node did shed.

Meanwhile, from 127.0.0.1 (an address the flood does not use), a probe every 100 ms: `GET
/healthz` on a new connection (as a load balancer checks), discovery, and a `client_credentials`
token request (demo-fapi-2 over mutual TLS, on the alias listener) on a keep-alive connection; and
alice signs in with consent 1.5 s into the flood, her client redeeming the code.

What must hold, in this order:

- every answer the flood gets is one of the documented ones (docs/operations.md "Abuse limits"):
  the login page again with HTTP 200 and "The username or password is not right.", 429 with
  `Retry-After` for a rate limit or a locked-out username, 503 with `Retry-After: 5` and "The
  server is busy." when the bcrypt queue is full, 400 for a sign-in spent after five failures.
  Anything else (a 500, a 503 without `Retry-After`, an unknown page, a connection error, a request
  left unanswered for FLOOD_REQUEST_TIMEOUT) fails, and so does a flood that was never shed;
- every probe gets its normal answer; the process stays up; `/metrics` counts no 500; bob, whose
  password the flood guessed at, is locked out afterwards;
- alice signs in. The docs make no exception for her: while the queue is full her sign-in is shed
  like any other (503, `Retry-After: 5`, and the sign-in stays usable), so she retries after
  `Retry-After`; once the flood has stopped she may be shed at most once more, and then her sign-in
  waits its turn in the queue and succeeds;
- the node answers promptly while the flood runs and while its queue drains: no probe takes
  PROBE_BOUND (1 s, also Kubernetes' default probe timeout) or more, and the median probe stays
  under 250 ms during the flood and under 100 ms over flood and drain together. That is the
  requirement itself. Measured on this 2-core machine, busy with other work (load average 7–16)
  and with the flood's own client on the same cores: before the flood, p50 7–15 ms and p99
  18–106 ms; with the fault below side-stepped (`password_hashing.concurrency: 1`, which leaves
  requests one worker, half what a fix would), p50 59 ms during the flood and 13 ms with the
  drain, at most 0.74 s. With the fault, probes wait for password checks: p50 0.5–2 s.

The flood leaves alice's username alone: per-username lock-out is, by design, the one limit that
does not care where a request comes from, so guessing alice's password would lock alice out (up to
15 minutes). That is the documented price of lock-out, not a loss of responsiveness, so the flood
guesses bob's password instead (an account added here).

Password checks run on threads of their own (`blockingWorkPool` in
Sources/StrongroomEngine/Support/EngineSupport.swift). They used to run on `DispatchQueue.global()`,
which on Linux is the libdispatch root queue that also runs Swift concurrency's tasks with one
worker per core: on a 2-core node the two bcrypt checks took every worker, and every other request
waited for a password check to finish (`/healthz` and discovery 1–5 s each instead of 10 ms while
the bcrypt queue was busy). This test failed then.

The module takes longer than its flood: the 34 sign-ins the node holds when the flood stops are
answered as bcrypt gets to them, two checks at a time at 1–2.5 s each for a debug build on this
busy machine, so the queue drains 13–45 s after the flood (the module takes 30–65 s), and alice's
sign-in waits behind it.
"""

from __future__ import annotations

import html
import math
import multiprocessing
import os
import random
import re
import secrets
import statistics
import threading
import time
from collections import Counter, defaultdict
from urllib.parse import urljoin

import pytest
import requests
from requests.adapters import HTTPAdapter

from conftest import RunningServer, configure, free_ports, observe
from fapi_client import Client, code_params, parse_forms, split_redirect

FLOOD_SECONDS = 8.0
FLOOD_THREADS = 48
FLOOD_ADDRESSES = [f"127.0.0.{i}" for i in range(2, 10)]
PROBE_INTERVAL = 0.1
PROBE_TIMEOUT = 15.0
PROBE_BOUND = 1.0
TYPICAL_DURING_FLOOD = 0.25  # p50 of the probes while the flood runs
TYPICAL_OVERALL = 0.1  # p50 of the probes while the flood runs and the queue drains
BASELINE_SECONDS = 1.0
# A sign-in may wait its turn behind the whole bcrypt queue (32 checks, two at a time, up to
# 2.5 s each here): up to about 45 s. Twice that is a request left hanging.
FLOOD_REQUEST_TIMEOUT = 90.0
LEGIT_START = 1.5  # seconds into the flood
# After a refusal a flood thread waits this long before its next try: the queue is still refilled
# as fast as bcrypt empties it, without the client (which shares this machine's cores with the
# server) turning the test into a contest for CPU.
REFUSED_PAUSE = 0.05
DEFAULT_BCRYPT_CONCURRENCY = 2

KNOWN_USER = "bob"
KNOWN_PASSWORD = "bob-" + secrets.token_hex(8)
MADE_UP_USERS = ["carol-nobody", "dave-nobody", "erin-nobody"]

# What the docs say each answer shows (docs/operations.md "How a refusal is answered").
WRONG_PASSWORD = "The username or password is not right."
SHED = "The server is busy. Please try again in a few seconds."
LOCKED_OUT = re.compile(r"Too many unsuccessful attempts\. Try again in \d+ seconds?\.")
ADDRESS_LIMIT = re.compile(r"Too many sign-in attempts from your network\. Wait \d+ seconds?, then go back and try again\.")
CLIENT_LIMIT = re.compile(r"Too many sign-ins at the moment\. Try again in \d+ seconds?\.")
SPENT = "Too many unsuccessful sign-in attempts. Please return to the application and start again."
AUTHORIZE_LIMIT = "Please wait a moment"

LOGIN_PAGE = "authorize: 200 login page"
AUTHORIZE_LIMITED = "authorize: 429 rate limit of the address"
WRONG = "login: 200 wrong password (login page again)"
SHED_503 = "login: 503 bcrypt queue full (shed)"
LOCKED_429 = "login: 429 username locked out"
ADDRESS_429 = "login: 429 rate limit of the address"
CLIENT_429 = "login: 429 rate limit of the client"
SPENT_400 = "login: 400 sign-in spent (5 failures)"
UNEXPECTED = "unexpected answer"
CONNECTION_ERROR = "connection error"


def require(condition, message: str) -> None:
    """A check that is not the expected failure of the xfail below: it fails the test outright."""
    if not condition:
        pytest.fail(message, pytrace=False)


# ----------------------------------------------------------------------------------------------
# Classifying what the server answers
# ----------------------------------------------------------------------------------------------

def visible_text(page: str) -> str:
    page = re.sub(r"(?is)<(style|script)\b.*?</\1>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def form_to(page: str, action: str) -> dict | None:
    return next((f for f in parse_forms(page) if f["action"].endswith(action)), None)


def is_html(r: requests.Response) -> bool:
    return r.headers.get("Content-Type", "").startswith("text/html")


def retry_after(r: requests.Response) -> int | None:
    v = r.headers.get("Retry-After", "")
    return int(v) if v.isdigit() and int(v) >= 1 else None


def classify_authorize(r: requests.Response) -> str:
    if r.status_code == 200 and is_html(r):
        form = form_to(r.text, "/login")
        if form and form["fields"].get("interaction_id"):
            return LOGIN_PAGE
    if (r.status_code == 429 and is_html(r) and retry_after(r) and "Location" not in r.headers
            and AUTHORIZE_LIMIT in visible_text(r.text)):
        return AUTHORIZE_LIMITED
    return UNEXPECTED


def classify_login(r: requests.Response) -> str:
    if not is_html(r):
        return UNEXPECTED
    text = visible_text(r.text)
    form = form_to(r.text, "/login")
    wait = retry_after(r)
    if r.status_code == 200 and form and WRONG_PASSWORD in text:
        return WRONG
    if r.status_code == 503 and form and r.headers.get("Retry-After") == "5" and SHED in text:
        return SHED_503
    if r.status_code == 429 and form and wait and LOCKED_OUT.search(text):
        return LOCKED_429
    if r.status_code == 429 and not form and wait and ADDRESS_LIMIT.search(text):
        return ADDRESS_429
    if r.status_code == 429 and form and wait and CLIENT_LIMIT.search(text):
        return CLIENT_429
    if r.status_code == 400 and not form and SPENT in text:
        return SPENT_400
    return UNEXPECTED


def describe(r: requests.Response) -> str:
    text = visible_text(r.text).split("Secure sign-in", 1)[-1].strip() if is_html(r) else r.text
    return f"HTTP {r.status_code} Retry-After={r.headers.get('Retry-After')!r} {text[:300]!r}"


def summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p50": math.nan, "p99": math.nan, "max": math.nan}
    v = sorted(values)
    return {"n": len(v), "p50": statistics.median(v), "p99": v[min(len(v) - 1, math.ceil(0.99 * len(v)) - 1)], "max": v[-1]}


def fmt(s: dict) -> str:
    return f"n={s['n']} p50={s['p50'] * 1000:.0f} ms p99={s['p99'] * 1000:.0f} ms max={s['max'] * 1000:.0f} ms"


# ----------------------------------------------------------------------------------------------
# The flood (a process of its own)
# ----------------------------------------------------------------------------------------------

class SourceAddress(HTTPAdapter):
    """Connections from a chosen loopback address: to the per-address limits each is a caller of its own."""

    def __init__(self, address: str, **kw):
        self.address = address
        super().__init__(**kw)

    def init_poolmanager(self, connections, maxsize, block=False, **kw):
        super().init_poolmanager(connections, maxsize, block, source_address=(self.address, 0), **kw)


def flood(conn, ready, go, spec: dict) -> None:
    lock = threading.Lock()
    answers: Counter = Counter()
    latencies: dict[str, list[float]] = defaultdict(list)
    samples: list[str] = []
    stop = threading.Event()

    def record(kind: str, started: float, detail: str | None = None) -> None:
        with lock:
            answers[kind] += 1
            latencies[kind].append(time.monotonic() - started)
            if detail and len(samples) < 20:
                samples.append(detail)

    def worker(i: int) -> None:
        rng = random.Random(i)
        http = requests.Session()
        http.mount("https://", SourceAddress(FLOOD_ADDRESSES[i % len(FLOOD_ADDRESSES)]))
        query = {"client_id": spec["client_id"], "redirect_uri": spec["redirect_uri"], "response_type": "code",
                 "scope": "openid", "code_challenge_method": "S256"}
        form = None
        while not stop.is_set():
            started = time.monotonic()
            try:
                if form is None or rng.random() < 0.25:  # a fresh sign-in now and then, as a script would
                    r = http.get(spec["authorize"], verify=spec["ca"], allow_redirects=False, timeout=FLOOD_REQUEST_TIMEOUT,
                                 params={**query, "state": secrets.token_hex(8), "code_challenge": secrets.token_urlsafe(32)})
                    kind = classify_authorize(r)
                    record(kind, started, f"GET /authorize: {describe(r)}" if kind == UNEXPECTED else None)
                    if kind == LOGIN_PAGE:
                        form = form_to(r.text, "/login")
                    if form is None:
                        continue
                pick = rng.random()
                username = (KNOWN_USER if pick < 0.35 else rng.choice(MADE_UP_USERS) if pick < 0.6
                            else f"nobody-{secrets.token_hex(6)}")
                started = time.monotonic()
                r = http.post(spec["login"], verify=spec["ca"], allow_redirects=False, timeout=FLOOD_REQUEST_TIMEOUT,
                              data={**form["fields"], "username": username, "password": secrets.token_urlsafe(12)})
                kind = classify_login(r)
                record(kind, started, f"POST /login as {username}: {describe(r)}" if kind == UNEXPECTED else None)
                if kind == SPENT_400:
                    form = None
                elif kind != WRONG:
                    stop.wait(REFUSED_PAUSE)
            except requests.RequestException as e:
                record(CONNECTION_ERROR, started, repr(e)[:300])

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(FLOOD_THREADS)]
    ready.set()
    go.wait(60)
    began = time.time()
    for t in threads:
        t.start()
    time.sleep(FLOOD_SECONDS)
    stop.set()
    stopped = time.time()
    deadline = time.monotonic() + FLOOD_REQUEST_TIMEOUT + 5
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    conn.send({"began": began, "stopped": stopped, "answered": time.time(), "hanging": sum(t.is_alive() for t in threads),
               "answers": dict(answers), "latency": {k: summary(v) for k, v in latencies.items()}, "samples": samples})
    conn.close()


# ----------------------------------------------------------------------------------------------
# The probes and the people (in this process)
# ----------------------------------------------------------------------------------------------

class Probes:
    def __init__(self, srv: RunningServer):
        self.srv = srv
        self.ca = srv.api.ca
        k = srv.kit
        self.cert = (str(k / "client2.pem"), str(k / "client2.key.pem"))
        self.token_url = srv.api.endpoint("token_endpoint", mtls=True)
        self.discovery_url = srv.api.url("/.well-known/openid-configuration")
        self.health_url = srv.api.url("/healthz")
        self.keep_alive = requests.Session()
        self.results: list[tuple[float, str, float, str | None, bool]] = []  # (when, probe, seconds, failure, timed out)
        self.stop = threading.Event()

    def one(self, name: str, send, check) -> None:
        when, started = time.time(), time.monotonic()
        try:
            r = send()
            took, failure, timed_out = time.monotonic() - started, check(r), False
        except requests.Timeout as e:
            took, failure, timed_out = time.monotonic() - started, f"no answer in {PROBE_TIMEOUT} s: {e!r}"[:300], True
        except requests.RequestException as e:
            took, failure, timed_out = time.monotonic() - started, f"connection error {e!r}"[:300], False
        self.results.append((when, name, took, failure, timed_out))

    def run(self) -> None:
        def health_ok(r):
            return None if r.status_code == 200 and r.json() == {"status": "ok"} else describe(r)

        def discovery_ok(r):
            return None if r.status_code == 200 and r.json().get("issuer") == self.srv.issuer else describe(r)

        def token_ok(r):
            return None if r.status_code == 200 and r.json().get("access_token") else describe(r)

        while not self.stop.is_set():
            tick = time.monotonic()
            self.one("healthz (new connection)", lambda: requests.get(self.health_url, verify=self.ca, timeout=PROBE_TIMEOUT),
                     health_ok)
            self.one("discovery", lambda: self.keep_alive.get(self.discovery_url, verify=self.ca, timeout=PROBE_TIMEOUT),
                     discovery_ok)
            self.one("client_credentials token (mTLS)", lambda: self.keep_alive.post(
                self.token_url, verify=self.ca, cert=self.cert, timeout=PROBE_TIMEOUT,
                data={"grant_type": "client_credentials", "scope": "accounts", "client_id": "demo-fapi-2"}), token_ok)
            self.stop.wait(max(0.0, PROBE_INTERVAL - (time.monotonic() - tick)))

    def between(self, start: float, end: float) -> list:
        return [p for p in self.results if start <= p[0] <= end]


class Person:
    """A browser on 127.0.0.1 keeping the two cookies of the login pages (`strongroom_browser`,
    which binds a sign-in to the browser that started it, and `strongroom_session`), with a
    timeout long enough to wait its turn in the bcrypt queue."""

    def __init__(self, srv: RunningServer, username: str, password: str):
        self.srv = srv
        self.username = username
        self.password = password
        self.http = requests.Session()
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, **kw) -> requests.Response:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        r = self.http.request(method, urljoin(self.srv.issuer + "/", path.lstrip("/")), headers=headers, verify=self.srv.api.ca,
                              allow_redirects=False, timeout=FLOOD_REQUEST_TIMEOUT, **kw)
        for value in r.raw.headers.getlist("Set-Cookie"):
            m = re.match(r"\s*(strongroom_browser|strongroom_session)=([^;]*)", value)
            if m:
                self.cookies[m.group(1)] = m.group(2)
        return r

    def login_page(self, client: Client) -> tuple[dict, dict, str | None]:
        params, verifier = code_params(client, "openid profile")
        r = self.send("GET", "/authorize", params=params)
        form = form_to(r.text, "/login") if r.status_code == 200 else None
        require(form, f"{self.username}'s GET /authorize: {describe(r)}")
        return form, params, verifier

    def sign_in(self, form: dict) -> requests.Response:
        return self.send("POST", "/login", data={**form["fields"], "username": self.username, "password": self.password})


def legitimate_sign_in(srv: RunningServer, record: dict, deadline: float) -> None:
    """alice signs in as a person would: the login page, her password (again after `Retry-After`
    while the node sheds it: the sign-in stays usable), consent; her client redeems the code."""
    client = Client(srv.api, "demo-plain", "client_secret_basic", secret=srv.client_config("demo-plain")["client_secret"],
                    redirect_uri=srv.callback)
    alice = Person(srv, "alice", "wonderland-demo")
    record["attempts"] = []
    form, params, verifier = alice.login_page(client)
    while True:
        sent = time.time()
        r = alice.sign_in(form)
        consent = form_to(r.text, "/consent") if r.status_code == 200 else None
        record["attempts"].append({"sent": sent, "took": time.time() - sent, "status": r.status_code,
                                   "retry_after": r.headers.get("Retry-After"), "class": "consent page" if consent else classify_login(r)})
        if consent:
            break
        require(classify_login(r) == SHED_503, f"alice's sign-in refused otherwise than by a full queue: {describe(r)}")
        wait = int(r.headers["Retry-After"])
        require(time.time() + wait < deadline, f"alice still shed at the deadline: {record['attempts']}")
        time.sleep(wait)
        form = form_to(r.text, "/login")
    r = alice.send("POST", "/consent", data={**consent["fields"], "decision": "approve"})
    require(r.status_code in (302, 303), f"alice's consent: {describe(r)}")
    _, answer, _ = split_redirect(r.headers["Location"])
    require("code" in answer and answer.get("state") == params["state"], f"alice's redirect: {r.headers['Location']}")
    t = client.redeem(answer["code"], verifier)
    require(t.status_code == 200 and t.json().get("access_token") and t.json().get("id_token"), f"alice's code: {describe(t)}")
    record["done"] = time.time()


# ----------------------------------------------------------------------------------------------
# The server and the test
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def flood_srv(binary, kit):
    port, mtls_port = free_ports(2)
    cfg = configure(kit["written"], port, mtls_port, "e2e-flood.sqlite")
    cfg.pop("limits", None)  # the built-in defaults, whatever the kit writes
    cfg["users"] = list(cfg.get("users", [])) + [{"username": KNOWN_USER, "password": KNOWN_PASSWORD}]
    s = RunningServer(binary, kit["dir"], "e2e-flood.yaml", cfg, port, mtls_port)
    yield s
    s.stop()


def test_a_node_stays_responsive_under_a_login_flood(flood_srv):
    srv = flood_srv
    spec = {"authorize": srv.api.url("/authorize"), "login": srv.api.url("/login"), "ca": srv.api.ca,
            "client_id": "demo-plain", "redirect_uri": srv.callback}
    probes = Probes(srv)

    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing of this process's threads or locks
    receive, send = ctx.Pipe(duplex=False)
    ready, go = ctx.Event(), ctx.Event()
    flooder = ctx.Process(target=flood, args=(send, ready, go, spec), daemon=True)
    flooder.start()
    send.close()
    require(ready.wait(30), "the flood process did not start")

    probe_thread = threading.Thread(target=probes.run, daemon=True)
    probe_thread.start()
    time.sleep(BASELINE_SECONDS)
    go.set()
    flood_began = time.time()
    legit: dict = {}
    legit_failure: list[BaseException] = []

    def alice_signs_in():
        time.sleep(LEGIT_START)
        try:
            legitimate_sign_in(srv, legit, deadline=flood_began + FLOOD_SECONDS + FLOOD_REQUEST_TIMEOUT)
        except BaseException as e:  # reported below, from the test's own thread
            legit_failure.append(e)

    legit_thread = threading.Thread(target=alice_signs_in, daemon=True)
    legit_thread.start()

    result = receive.recv() if receive.poll(FLOOD_SECONDS + FLOOD_REQUEST_TIMEOUT + 60) else None
    flooder.join(10)
    legit_thread.join(max(0.0, flood_began + FLOOD_SECONDS + 2 * FLOOD_REQUEST_TIMEOUT - time.time()))
    probes.stop.set()
    probe_thread.join(PROBE_TIMEOUT * 3 + 5)
    probes.keep_alive.close()
    alive = srv.proc.poll() is None

    require(result is not None, f"the flood process sent no result (exit code {flooder.exitcode})")
    began, stopped, answered = result["began"], result["stopped"], result["answered"]
    baseline = probes.between(began - BASELINE_SECONDS, began)
    during = probes.between(began, stopped)
    draining = probes.between(stopped, answered)
    window = during + draining
    answers = Counter(result["answers"])
    total = sum(answers.values())

    observe(f"login flood: {FLOOD_THREADS} threads from {len(FLOOD_ADDRESSES)} addresses for {stopped - began:.1f} s: "
            f"{total} requests, {total / (stopped - began):.0f}/s; the last answered {answered - stopped:.1f} s after the flood")
    for kind, n in sorted(answers.items(), key=lambda kv: -kv[1]):
        observe(f"login flood:   {n:5d}  {kind}  ({fmt(result['latency'][kind])})")
    observe(f"login flood: probes before the flood: {fmt(summary([p[2] for p in baseline]))}")
    observe(f"login flood: probes during the flood: {fmt(summary([p[2] for p in during]))}")
    observe(f"login flood: probes while the queue drained: {fmt(summary([p[2] for p in draining]))}")
    by_probe: dict[str, list[float]] = defaultdict(list)
    for _, name, took, _, _ in window:
        by_probe[name].append(took)
    for name, values in sorted(by_probe.items()):
        observe(f"login flood:   {name}: {fmt(summary(values))}")
    for a in legit.get("attempts", []):
        observe(f"login flood: alice's sign-in sent at +{a['sent'] - began:.1f} s: HTTP {a['status']} "
                f"Retry-After={a['retry_after']} ({a['class']}), answered in {a['took']:.1f} s")
    if "done" in legit:
        observe(f"login flood: alice had her tokens at +{legit['done'] - began:.1f} s (the flood stopped at +{stopped - began:.1f} s)")

    # What the node must do whatever its speed: checked first, failing the test outright.
    require(alive, f"the server exited during the flood:\n{srv.log_tail()}")
    require(result["hanging"] == 0, f"{result['hanging']} flood requests unanswered after {FLOOD_REQUEST_TIMEOUT} s")
    require(answers[UNEXPECTED] == 0 and answers[CONNECTION_ERROR] == 0,
            f"flood answers outside the documented ones: {dict(answers)}; e.g. {result['samples']}")
    require(answers[SHED_503] > 0, f"the bcrypt queue never filled: the flood was too weak ({dict(answers)})")
    wrong_answers = [p for p in probes.results if p[3] is not None and not p[4]]
    require(not wrong_answers, f"{len(wrong_answers)} probes answered wrongly, e.g. {wrong_answers[:5]}")
    if legit_failure:
        raise legit_failure[0]
    require("done" in legit, f"alice's sign-in did not finish: {legit}")
    attempts = legit["attempts"]
    require(attempts[0]["sent"] < stopped, "alice's first sign-in was not during the flood")
    shed_after_stop = [a for a in attempts if a["class"] == SHED_503 and a["sent"] >= stopped]
    require(len(shed_after_stop) <= 1, f"alice was shed more than once after the flood stopped: {attempts}")

    bob = Person(srv, KNOWN_USER, KNOWN_PASSWORD)
    form, _, _ = bob.login_page(Client(srv.api, "demo-plain", "client_secret_basic", redirect_uri=srv.callback))
    r = bob.sign_in(form)
    observe(f"login flood: {KNOWN_USER} afterwards, with his password: {describe(r)[:140]}")
    require(classify_login(r) == LOCKED_429, f"{KNOWN_USER} is not locked out after the flood: {describe(r)}")

    h = requests.get(srv.api.url("/healthz"), verify=srv.api.ca, timeout=PROBE_TIMEOUT)
    require(h.status_code == 200 and h.json() == {"status": "ok"}, f"/healthz after the flood: {describe(h)}")
    m = requests.get(srv.api.url("/metrics"), verify=srv.api.ca, timeout=PROBE_TIMEOUT,
                     headers={"Authorization": f"Bearer {srv.admin_token}"})
    require(m.status_code == 200, f"/metrics: {describe(m)}")
    five_hundreds = [line for line in m.text.splitlines() if line.startswith("strongroom_requests_total") and 'status="500"' in line]
    require(not five_hundreds, f"the node answered 500: {five_hundreds}")
    require(srv.proc.poll() is None, "the server exited after the flood")

    # The requirement itself: the node kept answering promptly while bcrypt was saturated.
    slow = sorted((p for p in window if p[2] >= PROBE_BOUND or p[4]), key=lambda p: -p[2])
    overall, flooded = summary([p[2] for p in window]), summary([p[2] for p in during])
    assert not slow, (
        f"{len(slow)} of {len(window)} probes took {PROBE_BOUND} s or more while the flood ran or the queue drained "
        f"({fmt(overall)}); slowest: {[(n, round(t, 2)) for _, n, t, _, _ in slow[:8]]}")
    assert flooded["p50"] < TYPICAL_DURING_FLOOD and overall["p50"] < TYPICAL_OVERALL, (
        f"typical probes were slow: during the flood {fmt(flooded)}, with the drain {fmt(overall)}")
