"""Several nodes, one database: what one node makes, every other node honours or refuses at once.

The bed (multinode.py): three `strongroom serve` nodes with one configuration on one PostgreSQL
schema, HAProxy in front in TCP mode (TLS and mutual TLS pass through to the nodes), and nginx
terminating TLS and forwarding the client certificate as `Client-Cert` (RFC 9440) from the one
trusted proxy address. Every node's public URL is the balancer's.

Most tests make something on node A and check it on node B (and C), talking to each node directly
so that the outcome does not depend on which node a balancer picks; the basic flows also run
through the balancer, whose spreading over every node is checked from the nodes' own metrics.
No node keeps a client it read: a client changed or deleted on one node is honoured or refused by
every other at once. The one thing a node holds is the signing keys, re-read every
`KEY_RELOAD_SECONDS`: the key tests show the immediate behaviour and wait, within that bound, for the
rest (and for the promotion the server holds back until `KEY_PROPAGATION_SECONDS` after staging).

Login throttling and the rate limits are per node and in memory by design (docs/operations.md,
"Abuse limits"); the tests check what the nodes do share there (users, sign-ins, sessions) and pin
the documented per-node lock-out.

Nodes started together on an empty database are lined up on the signing keys and the configured
clients (`RacingNodes`): they create one key set and both start. A signing-key rotation made on one
node keeps every token any node signs verifiable with every node's JWKS at every step.

A step that must succeed on the way to what a test checks fails through `require` (pytest.fail),
not `assert`.
"""

from __future__ import annotations

import base64
import os
import re
import time
import uuid
from collections import Counter

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import KeySet

from conftest import observe, public_jwk
from dpop_client import DPoPKey, call_resource, dpop_backchannel, endpoint_url
from fapi_client import (Client, bearer, cert_thumbprint, code_params, load_private_jwk, parse_forms, pem_bytes,
                         run_code_flow, unverified_header, verify_id_token)
from multinode import (KEY_PROPAGATION_SECONDS, KEY_RELOAD_SECONDS, RacingNodes, RoutedBrowser, at, bed,  # noqa: F401
                       nginx_missing, skip_reason)
from test_fapi2 import assert_dpop_challenge, pushed_flow, redeem

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
needs_nginx = pytest.mark.skipif(nginx_missing() is not None, reason=nginx_missing() or "")

SP = "fapi2-accounts"
TOKEN = "token_endpoint"
SERVER_ALGS = ["PS256", "ES256"]


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

def require(condition, message: str) -> None:
    """A precondition: its failure (pytest.fail) says the way to the check failed, not the check."""
    if not condition:
        pytest.fail(message, pytrace=False)


def error_of(r: requests.Response) -> tuple[int, str | None]:
    try:
        return r.status_code, r.json().get("error")
    except ValueError:
        return r.status_code, None


def assert_error(r: requests.Response, status: int, error: str, what: str) -> None:
    assert error_of(r) == (status, error), f"{what}: expected HTTP {status} {error}, got HTTP {r.status_code} {r.text[:400]}"


def ok(r: requests.Response, what: str, status: int = 200) -> dict:
    """A step that must succeed (a `require`)."""
    require(r.status_code == status, f"{what}: expected HTTP {status}, got {r.status_code} {r.text[:400]}")
    return r.json() if r.content else {}


def bearer_challenge(r: requests.Response) -> str:
    value = r.headers.get("WWW-Authenticate", "")
    assert value.startswith("Bearer "), f"no Bearer challenge: {value!r}"
    return value


def client_credentials(c: Client, scope: str = "profile", **kw) -> requests.Response:
    return c.token({"grant_type": "client_credentials", "scope": scope}, **kw)


def jwks_kids(via) -> set[str]:
    return {k["kid"] for k in ok(via.get("/jwks"), f"/jwks at {via.name}")["keys"]}


def jwks_of(via) -> KeySet:
    return KeySet.import_key_set(ok(via.get("/jwks"), f"/jwks at {via.name}"))


class Cast:
    """The clients of the module: the demo kit's, and ones registered here through node A's admin API."""

    def __init__(self, bed):
        self.bed = bed
        k = bed.kit
        lb = bed.lb
        cb = bed.callback
        self.plain = Client(lb, "demo-plain", "client_secret_basic", secret=bed.client_config("demo-plain")["client_secret"],
                            redirect_uri=cb)
        self.dpop = Client(lb, "demo-fapi2-dpop", "private_key_jwt", key=load_private_jwk(k / "client3.jwks.json"), alg="ES256",
                           redirect_uri=cb, id_token_alg="ES256")
        self.mtls = Client(lb, "demo-fapi2-mtls", "tls_client_auth", key=load_private_jwk(k / "client4.jwks.json"), alg="ES256",
                           cert=(str(k / "client4.pem"), str(k / "client4.key.pem")), redirect_uri=cb, id_token_alg="ES256")
        self.fapi_tls = Client(lb, "demo-fapi-2", "tls_client_auth", cert=(str(k / "client2.pem"), str(k / "client2.key.pem")),
                               redirect_uri=cb)
        self.cert1 = (str(k / "client1.pem"), str(k / "client1.key.pem"))
        self.cert3 = (str(k / "client3.pem"), str(k / "client3.key.pem"))

        self.rs = Client(lb, "mn-resource-server", "client_secret_basic", secret="rs-" + os.urandom(24).hex())
        self.register({"client_id": self.rs.client_id, "client_secret": self.rs.secret, "token_endpoint_auth_method": "client_secret_basic",
                       "grant_types": ["client_credentials"], "response_types": [], "redirect_uris": [], "scope": "openid",
                       "strongroom_resource_server": True})
        key = ec.generate_private_key(ec.SECP256R1())
        pub, priv = public_jwk(key, "ES256")
        self.pkjwt = Client(lb, "mn-private-key-jwt", "private_key_jwt", key=priv, alg="ES256", redirect_uri=cb)
        self.register({"client_id": self.pkjwt.client_id, "token_endpoint_auth_method": "private_key_jwt",
                       "token_endpoint_auth_signing_alg": "ES256", "jwks": {"keys": [pub]}, "grant_types": ["client_credentials"],
                       "response_types": [], "redirect_uris": [], "scope": "profile"})
        self.jwt_at = Client(lb, "mn-jwt-access-tokens", "client_secret_basic", secret="jwt-" + os.urandom(24).hex())
        self.register({"client_id": self.jwt_at.client_id, "client_secret": self.jwt_at.secret,
                       "token_endpoint_auth_method": "client_secret_basic", "grant_types": ["client_credentials"],
                       "response_types": [], "redirect_uris": [], "scope": "profile", "access_token_format": "jwt"})

    def register(self, body: dict, via=None) -> dict:
        r = self.bed.admin(via or self.bed.node("a"), "POST", "/clients", body)
        require(r.status_code == 201, f"admin registration of {body.get('client_id')}: HTTP {r.status_code} {r.text[:500]}")
        return r.json()

    def new_plain(self, name: str, *, code_flow: bool = False, scope: str = "openid profile email offline_access") -> Client:
        """A fresh client_secret_basic client registered on node A (nobody has consented to it yet)."""
        c = Client(self.bed.lb, f"mn-{name}-{uuid.uuid4().hex[:8]}", "client_secret_basic", secret="s-" + os.urandom(24).hex(),
                   redirect_uri=self.bed.callback)
        body = {"client_id": c.client_id, "client_secret": c.secret, "token_endpoint_auth_method": "client_secret_basic",
                "scope": scope}
        if code_flow:
            body.update(grant_types=["authorization_code", "refresh_token"], response_types=["code"], redirect_uris=[self.bed.callback])
        else:
            body.update(grant_types=["client_credentials"], response_types=[], redirect_uris=[])
        self.register(body)
        return c

    def introspect(self, token: str, via) -> dict:
        return ok(at(self.rs, via).backchannel("introspection_endpoint", {"token": token}), f"introspection at {via.name}")


@pytest.fixture(scope="module")
def cast(bed) -> Cast:
    return Cast(bed)


@pytest.fixture(scope="module")
def staged(bed, cast):
    """Phase one of a signing-key rotation (`POST /admin/keys/rotate`) made on node A early in the
    module, so that the last test can see it reach the other nodes at their next key reload."""
    before = {k["kid"] for k in ok(bed.admin(bed.node("a"), "GET", "/keys"), "GET /admin/keys") if k["status"] == "active"}
    keys = ok(bed.admin(bed.node("a"), "POST", "/keys/rotate"), "POST /admin/keys/rotate at A")
    staged = {k["kid"]: k["alg"] for k in keys if k["status"] == "next"}
    require(sorted(staged.values()) == sorted(SERVER_ALGS),
            f"rotation staged {staged} (expected one key per algorithm: {SERVER_ALGS})")
    return {"at": time.monotonic(), "kids": staged, "active_before": before}


def jwt_access_token(cast: Cast, via) -> tuple[str, dict]:
    """A JWT access token (RFC 9068) signed by the node `via` reaches: (token, JOSE header)."""
    body = ok(client_credentials(at(cast.jwt_at, via)), f"JWT access token at {via.name}")
    return body["access_token"], unverified_header(body["access_token"])


def promote(bed, via) -> tuple[list, float]:
    """Phase two of a rotation (`POST /admin/keys/rotate`) at `via`, waiting as long as the server
    asks while it refuses to promote keys staged too recently (409, Retry-After). Returns the keys
    afterwards and how long it waited."""
    began = time.monotonic()
    while True:
        r = bed.admin(via, "POST", "/keys/rotate")
        if r.status_code != 409:
            return ok(r, f"POST /admin/keys/rotate at {via.name} (promote)"), time.monotonic() - began
        wait = int(r.headers.get("Retry-After", "0"))
        require(0 < wait <= KEY_PROPAGATION_SECONDS and time.monotonic() - began + wait <= KEY_PROPAGATION_SECONDS + 5,
                f"promotion refused for longer than the propagation bound: Retry-After {wait}, {r.text[:300]}")
        time.sleep(wait)


def verifies_with(token: str, keys: KeySet) -> bool:
    try:
        jwt.decode(token, keys, algorithms=SERVER_ALGS)
        return True
    except Exception:  # noqa: BLE001 - any failure means "does not verify"
        return False


# ----------------------------------------------------------------------------------------------
# The layout
# ----------------------------------------------------------------------------------------------

def test_every_node_publishes_the_balancers_urls(bed):
    docs = {}
    for name in "abc":
        r = bed.node(name).get("/.well-known/openid-configuration")
        docs[name] = ok(r, f"discovery at node {name}")
    for name, d in docs.items():
        assert d["issuer"] == bed.issuer, f"node {name}: issuer {d['issuer']!r}"
        for key, value in d.items():
            if key.endswith("_endpoint") or key == "jwks_uri":
                assert value.startswith(bed.issuer + "/"), f"node {name}: {key} {value!r} is not under {bed.issuer}"
        aliases = d.get("mtls_endpoint_aliases", {})
        assert aliases and all(v.startswith(bed.public_mtls + "/") for v in aliases.values()), f"node {name}: {aliases}"
    assert docs["a"] == docs["b"] == docs["c"], "the nodes' discovery documents differ"
    assert ok(bed.lb.get("/.well-known/openid-configuration"), "discovery through the balancer") == docs["a"]
    kids = {name: jwks_kids(bed.node(name)) for name in "abc"}
    assert kids["a"] == kids["b"] == kids["c"] and len(kids["a"]) == 2, f"the nodes publish different keys: {kids}"


def test_balancer_spreads_connections_over_every_node_and_terminates_nothing(bed, cast):
    """Roundrobin over fresh connections: 6 requests on each balancer port are 2 on every node (from
    the nodes' own request counters). The mTLS port hands the TLS session to the node: without a
    client certificate the node's handshake refuses, and with one the node binds tokens to it."""
    def jwks_counts():
        return {n: bed.metrics(n).get(("jwks", "200"), 0.0) for n in "abc"}

    before = jwks_counts()
    for _ in range(6):
        assert bed.lb.get(bed.issuer + "/jwks").status_code == 200
    middle = jwks_counts()
    assert {n: middle[n] - before[n] for n in "abc"} == {"a": 2, "b": 2, "c": 2}, f"main port: {before} -> {middle}"
    for _ in range(6):
        assert bed.lb.get(bed.public_mtls + "/jwks", cert=cast.cert1).status_code == 200
    after = jwks_counts()
    assert {n: after[n] - middle[n] for n in "abc"} == {"a": 2, "b": 2, "c": 2}, f"mTLS port: {middle} -> {after}"
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(bed.public_mtls + "/jwks", verify=bed.ca, timeout=10)


def test_key_rotation_staged_on_a_is_published_by_a_at_once_and_signs_nothing_yet(bed, cast, staged):
    """Phase one (stage) on A: A publishes the new keys at once; no node signs with them; every
    token any node signs verifies with every node's JWKS. Whether B and C publish the staged keys
    yet depends on their key reload (the last test of the module checks the bound)."""
    a_kids = jwks_kids(bed.node("a"))
    assert set(staged["kids"]) <= a_kids, f"A does not publish the keys it staged: {staged['kids']} vs {a_kids}"
    assert staged["active_before"] <= a_kids
    keysets = {n: jwks_of(bed.node(n)) for n in "abc"}
    for n in "abc":
        token, header = jwt_access_token(cast, bed.node(n))
        assert header["kid"] in staged["active_before"], f"node {n} signs with {header['kid']}, not an active key"
        for m in "abc":
            assert verifies_with(token, keysets[m]), f"a token of node {n} does not verify with node {m}'s JWKS"
    published = {n: set(staged["kids"]) <= jwks_kids(bed.node(n)) for n in "bc"}
    observe(f"multinode: {time.monotonic() - staged['at']:.1f}s after staging on A, staged keys published by "
            f"B: {published['b']}, C: {published['c']} (picked up at each node's key reload, every {KEY_RELOAD_SECONDS:.0f}s)")


# ----------------------------------------------------------------------------------------------
# The basic flows through the balancer
# ----------------------------------------------------------------------------------------------

def test_code_flow_through_the_balancer(bed, cast):
    c = cast.plain
    flow = run_code_flow(RoutedBrowser(bed.lb), c, "openid profile email offline_access")
    assert flow.result.kind == "redirect", flow.result.describe()
    assert flow.result.get("iss") == bed.issuer and flow.result.get("state") == flow.state, flow.result.describe()
    tokens = flow.tokens()
    claims = verify_id_token(tokens["id_token"], bed.lb, c.client_id, nonce=flow.nonce, access_token=tokens["access_token"])
    info = ok(bed.lb.get("/userinfo", headers=bearer(tokens["access_token"])), "userinfo through the balancer")
    assert info["sub"] == claims["sub"] and info["email"] == "alice@example.com", info
    assert c.introspect(tokens["access_token"])["active"] is True
    refreshed = ok(c.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}), "refresh through the balancer")
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    assert c.revoke(refreshed["access_token"]).status_code == 200
    assert c.introspect(refreshed["access_token"])["active"] is False


def test_fapi2_dpop_flow_through_the_balancer(bed, cast):
    c = cast.dpop
    key = DPoPKey()
    flow = pushed_flow(RoutedBrowser(bed.lb), c, f"openid {SP}", par_key=key)
    tokens = ok(redeem(flow, key), "DPoP token request through the balancer")
    assert tokens["token_type"] == "DPoP", tokens
    verify_id_token(tokens["id_token"], bed.lb, c.client_id, nonce=flow.nonce, expected_alg="ES256")
    for path in ("/userinfo", "/api/accounts"):
        r = call_resource(bed.lb, "GET", bed.lb.url(path), tokens["access_token"], key=key)
        assert r.status_code == 200, f"GET {path} with DPoP through the balancer: HTTP {r.status_code} {r.text[:300]}"
    assert cast.introspect(tokens["access_token"], bed.lb)["cnf"] == {"jkt": key.thumbprint}


def test_fapi2_mtls_flow_through_the_balancer(bed, cast):
    c = cast.mtls
    flow = pushed_flow(RoutedBrowser(bed.lb), c, f"openid {SP}")
    tokens = ok(redeem(flow, None), "mTLS token request through the balancer")
    assert cast.introspect(tokens["access_token"], bed.lb)["cnf"] == {"x5t#S256": cert_thumbprint(c.cert[0])}
    url = bed.lb.mtls_url("/api/accounts")
    r = bed.lb.get(url, headers=bearer(tokens["access_token"]), cert=c.cert)
    assert r.status_code == 200, f"GET /api/accounts with the bound certificate: HTTP {r.status_code} {r.text[:300]}"
    r = bed.lb.get(url, headers=bearer(tokens["access_token"]), cert=cast.cert3)
    assert error_of(r) == (401, "invalid_token") and 'error="invalid_token"' in bearer_challenge(r), r.text


# ----------------------------------------------------------------------------------------------
# Made on one node, honoured or refused on another at once
# ----------------------------------------------------------------------------------------------

def test_code_issued_by_a_is_redeemed_at_b_and_refused_again_at_a(bed, cast):
    c = cast.plain
    flow = run_code_flow(RoutedBrowser(bed.node("a")), c, "openid profile offline_access")
    require(flow.result.kind == "redirect" and "code" in flow.result.params, flow.result.describe())
    tokens = ok(at(c, bed.node("b")).redeem(flow.code, flow.verifier), "redemption at B")
    assert cast.introspect(tokens["access_token"], bed.node("c"))["active"] is True
    again = at(c, bed.node("a")).redeem(flow.code, flow.verifier)
    assert_error(again, 400, "invalid_grant", "second redemption at A")
    # RFC 6749 §4.1.2: the tokens issued from a code that is used twice are revoked, on every node.
    assert cast.introspect(tokens["access_token"], bed.node("c"))["active"] is False, "access token of a replayed code still active"
    assert_error(at(c, bed.node("b")).token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}),
                 400, "invalid_grant", "refresh token of a replayed code, at B")


def test_pushed_request_from_a_is_used_at_b_once(bed, cast):
    c = cast.plain
    params, verifier = code_params(c, "openid profile")
    pushed = ok(at(c, bed.node("a")).par(params), "PAR at A", status=201)
    browser = RoutedBrowser(bed.node("b"))
    result = browser.authorize({"client_id": c.client_id, "request_uri": pushed["request_uri"]}, client_id=c.client_id)
    assert result.kind == "redirect" and "code" in result.params, f"request_uri from A at B: {result.describe()}"
    assert result.get("state") == params["state"]
    ok(at(c, bed.node("c")).redeem(result["code"], verifier), "redemption at C of the code from the pushed request")
    r = RoutedBrowser(bed.node("a"))._send("GET", bed.issuer + "/authorize",
                                           params={"client_id": c.client_id, "request_uri": pushed["request_uri"]})
    assert r.status_code == 400 and "Location" not in r.headers, f"used request_uri at A: HTTP {r.status_code} {r.headers}"
    assert "invalid_request_uri" in r.text, r.text[:500]


def test_client_assertion_replayed_at_b_is_refused(bed, cast):
    c = cast.pkjwt
    assertion = c.assertion()
    ok(client_credentials(at(c, bed.node("a")), assertion=assertion), "client_credentials at A")
    for n in "bc":
        assert_error(client_credentials(at(c, bed.node(n)), assertion=assertion), 401, "invalid_client",
                     f"the same client assertion (jti) at {n.upper()}")
    ok(client_credentials(at(c, bed.node("b"))), "a fresh assertion at B")


def test_dpop_proof_replayed_at_b_is_refused(bed, cast):
    c = cast.dpop
    key = DPoPKey()
    proof = key.proof("POST", endpoint_url(c, TOKEN))
    body = ok(dpop_backchannel(at(c, bed.node("a")), TOKEN, {"grant_type": "client_credentials", "scope": SP}, None, proof=proof),
              "client_credentials with DPoP at A")
    assert body["token_type"] == "DPoP"
    r = dpop_backchannel(at(c, bed.node("b")), TOKEN, {"grant_type": "client_credentials", "scope": SP}, None, proof=proof)
    assert_error(r, 400, "invalid_dpop_proof", "the same DPoP proof (jti) at B's token endpoint")

    url = bed.lb.url("/api/accounts")
    resource_proof = key.proof("GET", url, access_token=body["access_token"])
    r = call_resource(bed.node("a"), "GET", url, body["access_token"], proof=resource_proof)
    assert r.status_code == 200, f"GET /api/accounts at A: HTTP {r.status_code} {r.text[:300]}"
    r = call_resource(bed.node("b"), "GET", url, body["access_token"], proof=resource_proof)
    assert_dpop_challenge(r, "invalid_dpop_proof", "the same DPoP proof at B's resource")
    assert r.json()["error"] == "invalid_dpop_proof"
    r = call_resource(bed.node("b"), "GET", url, body["access_token"], key=key)
    assert r.status_code == 200, f"a fresh proof at B: HTTP {r.status_code} {r.text[:300]}"


def test_consent_given_on_a_is_honoured_on_b(bed, cast):
    c = cast.new_plain("consent", code_flow=True)
    browser = RoutedBrowser(bed.node("a"))
    first = run_code_flow(browser, c, "openid profile")
    require(first.result.kind == "redirect" and "code" in first.result.params, first.result.describe())
    assert first.result.steps == ["login", "consent"], f"a client nobody consented to: {first.result.steps}"
    ok(at(c, bed.node("a")).redeem(first.code, first.verifier), "redemption at A")

    silent = run_code_flow(browser.at(bed.node("b")), c, "openid profile", prompt="none")
    assert silent.result.kind == "redirect" and "code" in silent.result.params, f"prompt=none at B: {silent.result.describe()}"
    assert silent.result.steps == [] and silent.result.get("iss") == bed.issuer
    ok(at(c, bed.node("c")).redeem(silent.code, silent.verifier), "redemption at C of the code from B")
    again = run_code_flow(browser.at(bed.node("c")), c, "openid profile")
    assert again.result.kind == "redirect" and again.result.steps == [], f"at C without prompt: {again.result.describe()}"

    # What made it silent is the session and the consent from A: without either, B asks.
    other = cast.new_plain("consent-other", code_flow=True)
    r = run_code_flow(browser.at(bed.node("b")), other, "openid profile", prompt="none")
    assert r.result.kind == "redirect" and r.result.error == "consent_required", r.result.describe()
    r = run_code_flow(RoutedBrowser(bed.node("b")), c, "openid profile", prompt="none")
    assert r.result.kind == "redirect" and r.result.error == "login_required", r.result.describe()


def test_revocation_on_a_is_seen_at_once_on_b(bed, cast):
    c = cast.plain
    flow = run_code_flow(RoutedBrowser(bed.node("a")), c, "openid profile email offline_access")
    tokens = ok(at(c, bed.node("a")).redeem(flow.code, flow.verifier), "redemption at A")
    access = tokens["access_token"]
    assert cast.introspect(access, bed.node("b"))["active"] is True
    ok(bed.node("b").get("/userinfo", headers=bearer(access)), "userinfo at B before the revocation")

    assert at(c, bed.node("a")).revoke(access, "access_token").status_code == 200
    assert cast.introspect(access, bed.node("b")) == {"active": False}
    r = bed.node("b").get("/userinfo", headers=bearer(access))
    assert error_of(r) == (401, "invalid_token") and 'error="invalid_token"' in bearer_challenge(r), \
        f"userinfo at B with a token revoked at A: HTTP {r.status_code} {r.text[:300]}"

    assert at(c, bed.node("a")).revoke(tokens["refresh_token"], "refresh_token").status_code == 200
    r = at(c, bed.node("c")).token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert_error(r, 400, "invalid_grant", "refresh at C with a refresh token revoked at A")


# ----------------------------------------------------------------------------------------------
# Clients registered, changed and deleted on another node
# ----------------------------------------------------------------------------------------------

def test_client_registered_on_a_is_usable_on_b_at_once(bed, cast):
    c = cast.new_plain("admin-registered")
    ok(client_credentials(at(c, bed.node("b"))), "client_credentials at B for a client just registered on A (admin API)")

    body = {"client_name": "registered on A", "token_endpoint_auth_method": "client_secret_basic", "grant_types": ["client_credentials"],
            "response_types": [], "redirect_uris": [], "scope": "profile"}
    r = bed.node("a").post("/register", json=body, headers=bearer(bed.initial_access_token))
    reg = ok(r, "Dynamic Client Registration at A", status=201)
    assert reg["registration_client_uri"] == f"{bed.issuer}/register/{reg['client_id']}"
    dcr = Client(bed.lb, reg["client_id"], "client_secret_basic", secret=reg["client_secret"])
    ok(client_credentials(at(dcr, bed.node("b"))), "client_credentials at B for a client just registered on A (DCR)")
    manage = bearer(reg["registration_access_token"])
    got = ok(bed.node("b").get(reg["registration_client_uri"], headers=manage), "RFC 7592 read at B")
    assert got["client_id"] == reg["client_id"] and got["client_name"] == "registered on A"
    ok(bed.node("b").request("PUT", reg["registration_client_uri"], headers=manage,
                             json={**body, "client_id": reg["client_id"], "client_name": "changed on B"}), "RFC 7592 update at B")
    assert ok(bed.node("c").get(reg["registration_client_uri"], headers=manage), "read at C")["client_name"] == "changed on B"
    r = bed.node("c").request("DELETE", reg["registration_client_uri"], headers=manage)
    assert r.status_code == 204, f"RFC 7592 delete at C: HTTP {r.status_code} {r.text[:200]}"
    r = bed.node("a").get(reg["registration_client_uri"], headers=manage)
    assert error_of(r) == (401, "invalid_token") and 'error="invalid_token"' in bearer_challenge(r), \
        f"read at A of a client deleted at C: HTTP {r.status_code} {r.text[:200]}"
    assert_error(client_credentials(at(dcr, bed.node("a"))), 401, "invalid_client", "client deleted at C, used at A")


def used_on_b_then(bed, cast, name: str, change) -> Client:
    """A client used at B (so that B has read it), then `change(client)` made on A."""
    c = cast.new_plain(name, scope="profile email")
    ok(client_credentials(at(c, bed.node("b")), scope="email"), "client_credentials at B")
    change(c)
    return c


def delete_on_a(bed):
    def change(c: Client) -> None:
        r = bed.admin(bed.node("a"), "DELETE", f"/clients/{c.client_id}")
        require(r.status_code == 204, f"admin DELETE at A: HTTP {r.status_code} {r.text[:200]}")
        require(error_of(client_credentials(at(c, bed.node("a")), scope="email")) == (401, "invalid_client"),
                "node A itself still accepts the client it deleted")
    return change


def test_client_deleted_on_a_is_refused_on_b_at_once(bed, cast):
    c = used_on_b_then(bed, cast, "deleted", delete_on_a(bed))
    assert_error(client_credentials(at(c, bed.node("b")), scope="email"), 401, "invalid_client",
                 "client deleted on A, used at B at once")
    assert_error(client_credentials(at(c, bed.node("c")), scope="email"), 401, "invalid_client",
                 "client deleted on A, used at C at once")


def test_client_changed_on_a_is_honoured_on_b_at_once(bed, cast):
    def narrow_scope(c: Client) -> None:
        r = bed.admin(bed.node("a"), "PUT", f"/clients/{c.client_id}", {
            "token_endpoint_auth_method": "client_secret_basic", "grant_types": ["client_credentials"], "response_types": [],
            "redirect_uris": [], "scope": "profile"})
        require(r.status_code == 200, f"admin PUT at A: HTTP {r.status_code} {r.text[:300]}")
        require(error_of(client_credentials(at(c, bed.node("a")), scope="email")) == (400, "invalid_scope"),
                "node A itself still grants the scope it just removed")

    c = used_on_b_then(bed, cast, "changed", narrow_scope)
    assert_error(client_credentials(at(c, bed.node("b")), scope="email"), 400, "invalid_scope",
                 "scope removed on A, asked for at B at once")
    ok(client_credentials(at(c, bed.node("b")), scope="profile"), "the scope the client kept, at B")


def test_access_token_of_a_client_deleted_on_a_is_refused_on_b_at_once(bed, cast):
    """RFC 7592 §2.3: a deleted client's tokens stop working, on every node (the resource checks
    that the token's client still exists)."""
    c = cast.new_plain("deleted-token", code_flow=True)
    flow = run_code_flow(RoutedBrowser(bed.node("a")), c, "openid profile")
    require(flow.result.kind == "redirect" and "code" in flow.result.params, flow.result.describe())
    access = ok(at(c, bed.node("a")).redeem(flow.code, flow.verifier), "redemption at A")["access_token"]
    ok(bed.node("b").get("/userinfo", headers=bearer(access)), "userinfo at B before the deletion")
    r = bed.admin(bed.node("a"), "DELETE", f"/clients/{c.client_id}")
    require(r.status_code == 204, f"admin DELETE at A: HTTP {r.status_code} {r.text[:200]}")
    r = bed.node("b").get("/userinfo", headers=bearer(access))
    assert error_of(r) == (401, "invalid_token") and 'error="invalid_token"' in bearer_challenge(r), \
        f"userinfo at B with a token of a client deleted on A: HTTP {r.status_code} {r.text[:300]}"


# ----------------------------------------------------------------------------------------------
# Users, sign-ins and lock-out
# ----------------------------------------------------------------------------------------------

def login_form(browser: RoutedBrowser, client: Client) -> dict:
    params, _ = code_params(client, "openid")
    r = browser._send("GET", browser.via.issuer + "/authorize", params=params)
    form = next((f for f in parse_forms(r.text) if f["action"].endswith("/login")), None)
    require(r.status_code == 200 and form is not None, f"no login page at {browser.via.name}: HTTP {r.status_code} {r.text[:300]}")
    return form["fields"]


def post_login(browser: RoutedBrowser, fields: dict, username: str, password: str) -> requests.Response:
    return browser._send("POST", browser.via.issuer + "/login", data={**fields, "username": username, "password": password})


def page_text(r: requests.Response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.text))


def test_user_added_on_a_signs_in_on_b(bed, cast):
    username, password = f"mn-user-{uuid.uuid4().hex[:8]}", "mn-" + uuid.uuid4().hex
    r = bed.admin(bed.node("a"), "POST", "/users", {"username": username, "password": password, "claims": {"email": "u@example.com"}})
    sub = ok(r, "admin POST /users at A", status=201)["sub"]
    flow = run_code_flow(RoutedBrowser(bed.node("b"), username=username, password=password), cast.plain, "openid email")
    require(flow.result.kind == "redirect" and "code" in flow.result.params, flow.result.describe())
    tokens = ok(at(cast.plain, bed.node("c")).redeem(flow.code, flow.verifier), "redemption at C")
    info = ok(bed.node("a").get("/userinfo", headers=bearer(tokens["access_token"])), "userinfo at A")
    assert info == {"sub": sub, "email": "u@example.com"}, info


def test_spent_sign_in_is_refused_everywhere_but_the_lock_out_is_per_node(bed, cast):
    """Five wrong passwords on A, in one sign-in: the sign-in is spent (stored, so B refuses it too)
    and the username is locked out on A. The lock-out is in A's memory (docs/operations.md, "Abuse
    limits": per node by design): B, which saw no failure, lets the right password in."""
    username, password = f"mn-locked-{uuid.uuid4().hex[:8]}", "mn-" + uuid.uuid4().hex
    ok(bed.admin(bed.node("a"), "POST", "/users", {"username": username, "password": password}), "admin POST /users at A", status=201)
    c = cast.plain
    browser = RoutedBrowser(bed.node("a"))
    fields = login_form(browser, c)
    for attempt in range(1, 5):
        r = post_login(browser, fields, username, "wrong-password")
        require(r.status_code == 200 and "The username or password is not right." in page_text(r),
                f"failure {attempt} at A: HTTP {r.status_code} {page_text(r)[:300]}")
    r = post_login(browser, fields, username, "wrong-password")
    assert r.status_code == 400 and "Too many unsuccessful sign-in attempts" in page_text(r), \
        f"fifth failure at A: HTTP {r.status_code} {page_text(r)[:300]}"
    fifth_failure = time.monotonic()

    # Locked out on A (2 seconds after five failures), even with the right password in a new sign-in.
    locked = post_login(browser, login_form(browser, c), username, password)
    if time.monotonic() - fifth_failure > 1.5:
        pytest.skip("inconclusive: the machine took longer than the 2-second lock-out to ask again")
    assert locked.status_code == 429 and "Too many unsuccessful attempts" in page_text(locked), \
        f"right password at A during the lock-out: HTTP {locked.status_code} {page_text(locked)[:300]}"
    assert locked.headers.get("Retry-After") in ("1", "2"), locked.headers

    # The spent sign-in is refused at B too, right password or not.
    r = post_login(browser.at(bed.node("b")), fields, username, password)
    assert r.status_code == 400 and "This sign-in has expired" in page_text(r), \
        f"spent sign-in at B: HTTP {r.status_code} {page_text(r)[:300]}"
    assert "strongroom_session=" not in r.headers.get("Set-Cookie", "")

    # Per node: B never saw the failures.
    fresh = RoutedBrowser(bed.node("b"), username=username, password=password)
    flow = run_code_flow(fresh, c, "openid")
    assert flow.result.kind == "redirect" and "code" in flow.result.params, \
        f"B refused the right password after failures on A only: {flow.result.describe()}"
    observe("multinode: login lock-out is per node (five failures on A lock the username on A only; B lets it in)")


# ----------------------------------------------------------------------------------------------
# nginx terminating TLS and forwarding the certificate (RFC 9440)
# ----------------------------------------------------------------------------------------------

@needs_nginx
def test_certificate_forwarded_by_nginx_binds_tokens_on_every_node(bed, cast):
    c = cast.fapi_tls
    body = ok(client_credentials(at(c, bed.via_nginx("lb")), scope="accounts"), "client_credentials through nginx")
    token = body["access_token"]
    thumbprint = cert_thumbprint(c.cert[0])
    described = ok(at(c, bed.via_nginx("b")).backchannel("introspection_endpoint", {"token": token}), "introspection through nginx to B")
    assert described["active"] is True and described["cnf"] == {"x5t#S256": thumbprint}, described

    r = bed.via_nginx("c").get("/api/accounts", headers=bearer(token), cert=c.cert)
    assert r.status_code == 200, f"/api/accounts through nginx to C with the certificate: HTTP {r.status_code} {r.text[:300]}"
    r = bed.via_nginx("a").get(bed.issuer + "/api/accounts", headers=bearer(token))
    assert error_of(r) == (401, "invalid_token") and 'error="invalid_token"' in bearer_challenge(r), \
        f"without a certificate through nginx to A: HTTP {r.status_code} {r.text[:300]}"
    # The same binding whether the certificate arrives in the header or in the node's own TLS session.
    url = bed.lb.mtls_url("/api/accounts")
    r = bed.lb.get(url, headers=bearer(token), cert=c.cert)
    assert r.status_code == 200, f"/api/accounts through HAProxy (TLS pass-through): HTTP {r.status_code} {r.text[:300]}"
    r = bed.lb.get(url, headers=bearer(token), cert=cast.cert1)
    assert error_of(r) == (401, "invalid_token"), f"another certificate through HAProxy: HTTP {r.status_code} {r.text[:300]}"


@needs_nginx
def test_client_cert_header_counts_only_from_the_proxy_address(bed, cast):
    c = cast.fapi_tls
    der = x509.load_pem_x509_certificate(pem_bytes(c.cert[0])).public_bytes(serialization.Encoding.DER)
    forged = {"Client-Cert": ":" + base64.b64encode(der).decode() + ":"}
    data = {"grant_type": "client_credentials", "client_id": c.client_id, "scope": "accounts"}
    for via, what in ((bed.node("a"), "straight to node A"), (bed.lb, "through HAProxy"), (bed.via_nginx("a"), "through nginx")):
        r = via.post(bed.issuer + "/token", data=data, headers=forged)
        assert_error(r, 401, "invalid_client", f"Client-Cert sent by the client {what}")
    ok(bed.via_nginx("a").post(bed.issuer + "/token", data=data, cert=c.cert), "the real certificate through nginx")


# ----------------------------------------------------------------------------------------------
# Nodes started together on an empty database
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def race(binary, kit):
    r = RacingNodes(binary, kit)
    observe(f"multinode: two nodes started together on an empty database (lined up: {r.lined_up}): {r.outcome}; "
            f"active keys {Counter(a for a, _ in r.active_keys())}")
    yield r
    r.stop()


def test_nodes_started_together_create_one_key_set(race):
    """Both nodes read "no keys" and try to create them at the same moment (lined up by the bed's
    lock): KeyManager.ensureKeys creates them in SigningKeyStore.changeKeys, which checks again
    under a table lock, so the second node finds the first one's keys and uses them."""
    require(race.lined_up.get("signing_keys"), f"the two first starts were not lined up on signing_keys: {race.lined_up}")
    per_alg = Counter(alg for alg, _ in race.active_keys())
    assert per_alg == Counter({"ES256": 1, "PS256": 1}), f"active signing keys after a concurrent first start: {race.active_keys()}"
    healthy = [n for n in race.nodes if race.outcome[n.name] == "healthy"]
    require(healthy, f"no node started: {race.outcome}")
    published = {n.name: {k["kid"] for k in requests.get(n.base + "/jwks", verify=n.ca, timeout=10).json()["keys"]} for n in healthy}
    assert all(kids == {kid for _, kid in race.active_keys()} for kids in published.values()), \
        f"the nodes publish {published}, the database holds {race.active_keys()}"


def test_nodes_started_together_both_start(race):
    """Both nodes read "no such client" and insert the configured clients at the same moment (lined
    up by the bed's lock): the one whose insert meets the other's row refreshes it instead
    (ClientRegistry.upsertSeed; users likewise), and both serve."""
    require(race.lined_up.get("clients"), f"the two first starts were not lined up on clients: {race.lined_up}")
    assert race.outcome == {"a": "healthy", "b": "healthy"}, f"nodes started together: {race.outcome}"
    for n in race.nodes:
        assert "duplicate" not in n.log_tail(200), f"node {n.name}'s log:\n{n.log_tail()}"


# ----------------------------------------------------------------------------------------------
# Last: the staged keys reach every node within the key reload interval
# ----------------------------------------------------------------------------------------------

def test_key_rotation_reaches_every_node_within_the_reload_interval(bed, cast, staged):
    """Each node re-reads the signing keys every KEY_RELOAD_SECONDS (KeyReloader), so keys staged on A
    are published by B and C within that interval, and after phase two (promote, on A) every key any
    node signs with is published by every node: the server promotes only keys staged at least
    KEY_PROPAGATION_SECONDS ago. A signs with the new keys at once; B and C keep signing with the old
    ones (still published as retiring) until their next reload."""
    # Looked at once at least (the module may have taken longer than the bound since staging).
    deadline = staged["at"] + KEY_RELOAD_SECONDS + 5
    seen: dict[str, float] = {}
    while len(seen) < 2:
        for n in "bc":
            if n not in seen and set(staged["kids"]) <= jwks_kids(bed.node(n)):
                seen[n] = time.monotonic() - staged["at"]
        if len(seen) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert set(seen) == {"b", "c"}, (f"staged keys not published by every node {KEY_RELOAD_SECONDS + 5:.0f}s after "
                                     f"staging on A: {seen}\n{bed.logs()}")
    observe(f"multinode: keys staged on A were published by B {seen['b']:.1f}s and by C {seen['c']:.1f}s after staging "
            f"at the latest (key reload every {KEY_RELOAD_SECONDS:.0f}s, from each node's start)")

    promote(bed, bed.node("a"))
    tokens = {n: jwt_access_token(cast, bed.node(n)) for n in "abc"}
    assert tokens["a"][1]["kid"] in staged["kids"], f"A signs with {tokens['a'][1]['kid']} after promoting {staged['kids']}"
    keysets = {n: jwks_of(bed.node(n)) for n in "abc"}
    for n, (token, header) in tokens.items():
        for m in "abc":
            assert verifies_with(token, keysets[m]), f"node {n}'s token (kid {header['kid']}) does not verify with node {m}'s JWKS"
    observe("multinode: right after promoting on A, B signs with " +
            ("the new key" if tokens["b"][1]["kid"] in staged["kids"] else "the old key (until its next reload)"))


def test_rotation_finished_on_a_keeps_every_signature_verifiable_everywhere(bed, cast):
    """A whole rotation on A as docs/operations.md gives it (rotate, rotate, retire), B and C left to
    their own reloads: before, during and after it every token any node has signed verifies with
    every node's JWKS. Promoting keys staged less than KEY_PROPAGATION_SECONDS ago is refused (409
    with Retry-After) and changes nothing; retired keys stay published for their grace period (what
    they signed just before is still verifiable); within a reload interval of the promotion no node
    signs with them any more."""
    a = bed.node("a")
    signed: list[tuple[str, str, str, str]] = []  # (token, node, step, kid)

    def everyone_signs_and_verifies(step: str) -> dict[str, str]:
        kids = {}
        for n in "abc":
            token, header = jwt_access_token(cast, bed.node(n))
            signed.append((token, n, step, header["kid"]))
            kids[n] = header["kid"]
        keysets = {m: jwks_of(bed.node(m)) for m in "abc"}
        for token, n, when, kid in signed:
            for m in "abc":
                assert verifies_with(token, keysets[m]), \
                    f"{step}: node {n}'s token of step '{when}' (kid {kid}) does not verify with node {m}'s JWKS"
        return kids

    if any(k["status"] == "next" for k in ok(bed.admin(a, "GET", "/keys"), "GET /admin/keys at A")):
        promote(bed, a)  # left staged by a test before: start from a finished rotation
    before = {k["kid"] for k in ok(bed.admin(a, "GET", "/keys"), "GET /admin/keys at A") if k["status"] == "active"}
    everyone_signs_and_verifies("before")

    keys = ok(bed.admin(a, "POST", "/keys/rotate"), "POST /admin/keys/rotate at A (stage)")
    staged = {k["kid"] for k in keys if k["status"] == "next"}
    require(len(staged) == len(SERVER_ALGS), f"staged: {keys}")
    assert not set(everyone_signs_and_verifies("staged").values()) & staged, "a node signs with a key staged a moment ago"

    refused = bed.admin(a, "POST", "/keys/rotate")
    assert_error(refused, 409, "invalid_request", "promoting keys staged a moment ago")
    assert 0 < int(refused.headers.get("Retry-After", "0")) <= KEY_PROPAGATION_SECONDS, refused.headers
    assert {k["kid"] for k in ok(bed.admin(a, "GET", "/keys"), "GET /admin/keys at A") if k["status"] == "next"} == staged
    everyone_signs_and_verifies("promotion refused")

    _, waited = promote(bed, a)
    promoted_at = time.monotonic()
    assert waited > 0, "the promotion was not refused while the staged keys were new"
    assert everyone_signs_and_verifies("promoted")["a"] in staged

    keys = ok(bed.admin(a, "POST", "/keys/retire"), "POST /admin/keys/retire at A")
    retired = {k["kid"]: k for k in keys if k["kid"] in before}
    require(set(retired) == before, f"keys after retire: {keys}")
    for k in retired.values():
        assert k["status"] == "retired" and k["published_until"] >= k["retired_at"] + 600, k
    everyone_signs_and_verifies("retired")
    for n in "abc":
        assert before <= jwks_kids(bed.node(n)), f"node {n} no longer publishes the keys retired a moment ago"

    # B and C stop signing with the old keys at their next reload after the promotion.
    deadline = promoted_at + KEY_RELOAD_SECONDS + 3
    while True:
        kids = everyone_signs_and_verifies("after the retirement")
        if set(kids.values()) <= staged or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert set(kids.values()) <= staged, \
        f"{time.monotonic() - promoted_at:.1f}s after the promotion the nodes sign with {kids} (retired: {sorted(before)})"
    observe(f"multinode: a rotation on A (stage, promote after {waited:.1f}s, retire) kept {len(signed)} tokens of every "
            f"node verifiable with every node's JWKS; every node signed with the new keys "
            f"{time.monotonic() - promoted_at:.1f}s after the promotion")
