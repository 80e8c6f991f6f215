"""FAPI 2.0 Security Profile (scope `fapi2-accounts`, fapi2=sp) and Message Signing (scope
`fapi2-payments`, fapi2=ms) with both sender constraints: DPoP (RFC 9449) and mutual-TLS
certificate binding (RFC 8705).

Clients: the demo kit's `demo-fapi2-dpop` (private_key_jwt, DPoP) and `demo-fapi2-mtls`
(tls_client_auth, certificate-bound), and, registered here through the admin API, the two other
combinations (private_key_jwt + certificate-bound, tls_client_auth + DPoP), a client that may ask
for `code id_token` (so that the profile, not the registration, refuses it) and a resource server
that introspects everybody's access tokens.

DPoP proofs are built in dpop_client.py with `cryptography` only. Every rule is checked once
accepted and once refused, with the exact status, error code and channel:
- /token and /par: HTTP 400 JSON {"error": "invalid_dpop_proof" | "use_dpop_nonce"};
- /userinfo and /api/*: HTTP 401 with a `WWW-Authenticate: DPoP` challenge naming the error and algs;
- the authorization endpoint: a redirect to the client with error= and iss=.
Server nonces (`service.dpop_nonce_required: true`) are tested on a second server of the same kit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey, RSAKey
from joserfc.jws import JWSRegistry, deserialize_compact

from conftest import RunningServer, configure, free_ports, make_cert, public_jwk, write_cert, write_key
from dpop_client import (DPoPKey, ath_of, call_resource, dpop_backchannel, dpop_challenge, endpoint_url, jwk_thumbprint,
                         resource_url)
from fapi_client import (Browser, Client, CodeFlow, b64url, cert_thumbprint, code_params, load_private_jwk, pem_bytes,
                         verify_id_token)

SP = "fapi2-accounts"       # fapi2=sp: FAPI 2.0 Security Profile
MS = "fapi2-payments"       # fapi2=ms: FAPI 2.0 Message Signing (signed request object via PAR, JARM)
TOKEN = "token_endpoint"
PAR = "pushed_authorization_request_endpoint"
ALG = "ES256"


# ----------------------------------------------------------------------------------------------
# Clients
# ----------------------------------------------------------------------------------------------

class FAPI2Clients:
    """The FAPI 2.0 clients by name, with how each binds its tokens ("dpop" or "mtls")."""

    def __init__(self, srv: RunningServer, material):
        self.srv = srv
        self.server = srv.api
        k = srv.kit
        cb = srv.callback
        self.dpop = Client(self.server, "demo-fapi2-dpop", "private_key_jwt", key=load_private_jwk(k / "client3.jwks.json"),
                           alg=ALG, redirect_uri=cb, id_token_alg=ALG)
        self.mtls = Client(self.server, "demo-fapi2-mtls", "tls_client_auth", key=load_private_jwk(k / "client4.jwks.json"),
                           alg=ALG, cert=(str(k / "client4.pem"), str(k / "client4.key.pem")), redirect_uri=cb, id_token_alg=ALG)
        self.cert3 = (str(k / "client3.pem"), str(k / "client3.key.pem"))
        self.sender = {"dpop": "dpop", "mtls": "mtls"}

        ca_key = serialization.load_pem_private_key(pem_bytes(k / "ca.key.pem"), None)
        ca_cert = x509.load_pem_x509_certificate(pem_bytes(k / "ca.pem"))
        base = {"redirect_uris": [cb], "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
                "response_types": ["code"], "scope": f"openid profile email {SP} offline_access",
                "id_token_signed_response_alg": ALG}

        # private_key_jwt + certificate-bound tokens: its own P-256 key and a certificate of the demo CA
        key_c = ec.generate_private_key(ec.SECP256R1())
        pub_c, priv_c = public_jwk(key_c, ALG)
        write_key(material / "pkjwt-mtls.key.pem", key_c)
        write_cert(material / "pkjwt-mtls.pem", make_cert("e2e-fapi2-pkjwt-mtls", key_c, ca_cert.subject, ca_key))
        self.pkjwt_mtls = Client(self.server, "e2e-fapi2-pkjwt-mtls", "private_key_jwt", key=priv_c, alg=ALG,
                                 cert=(str(material / "pkjwt-mtls.pem"), str(material / "pkjwt-mtls.key.pem")),
                                 redirect_uri=cb, id_token_alg=ALG)
        self.register({**base, "client_id": self.pkjwt_mtls.client_id, "token_endpoint_auth_method": "private_key_jwt",
                       "token_endpoint_auth_signing_alg": ALG, "jwks": {"keys": [pub_c]},
                       "tls_client_certificate_bound_access_tokens": True})
        self.sender["pkjwt_mtls"] = "mtls"

        # tls_client_auth + DPoP-bound tokens
        key_d = ec.generate_private_key(ec.SECP256R1())
        cert_d = make_cert("e2e-fapi2-tls-dpop", key_d, ca_cert.subject, ca_key)
        write_key(material / "tls-dpop.key.pem", key_d)
        write_cert(material / "tls-dpop.pem", cert_d)
        self.tls_dpop = Client(self.server, "e2e-fapi2-tls-dpop", "tls_client_auth",
                               cert=(str(material / "tls-dpop.pem"), str(material / "tls-dpop.key.pem")),
                               redirect_uri=cb, id_token_alg=ALG)
        self.register({**base, "client_id": self.tls_dpop.client_id, "token_endpoint_auth_method": "tls_client_auth",
                       "tls_client_auth_subject_dn": cert_d.subject.rfc4514_string(), "dpop_bound_access_tokens": True,
                       "tls_client_certificate_bound_access_tokens": False})
        self.sender["tls_dpop"] = "dpop"

        # A DPoP client registered for `code id_token` too: the FAPI 2.0 profile, not the registration, refuses it.
        key_h = ec.generate_private_key(ec.SECP256R1())
        pub_h, priv_h = public_jwk(key_h, ALG)
        self.hybrid = Client(self.server, "e2e-fapi2-hybrid-capable", "private_key_jwt", key=priv_h, alg=ALG,
                             redirect_uri=cb, id_token_alg=ALG)
        self.register({**base, "client_id": self.hybrid.client_id, "token_endpoint_auth_method": "private_key_jwt",
                       "token_endpoint_auth_signing_alg": ALG, "jwks": {"keys": [pub_h]}, "dpop_bound_access_tokens": True,
                       "response_types": ["code", "code id_token"], "scope": f"openid {SP}"})

        # A resource server: introspects access tokens of every client.
        self.rs = Client(self.server, "e2e-fapi2-resource-server", "client_secret_basic", secret="rs-" + "7f" * 24)
        self.register({"client_id": self.rs.client_id, "client_secret": self.rs.secret,
                       "token_endpoint_auth_method": "client_secret_basic", "grant_types": ["client_credentials"],
                       "response_types": [], "redirect_uris": [], "scope": "openid",  # no scope: every scope, FAPI rules
                       "strongroom_resource_server": True})

    def register(self, body: dict) -> None:
        r = self.srv.admin("POST", "/clients", body)
        assert r.status_code == 201, f"admin registration of {body['client_id']} refused: HTTP {r.status_code} {r.text[:800]}"

    def introspect(self, token: str) -> dict:
        return self.rs.introspect(token)


@pytest.fixture(scope="module")
def f2(srv, tmp_path_factory) -> FAPI2Clients:
    return FAPI2Clients(srv, tmp_path_factory.mktemp("fapi2-material"))


# ----------------------------------------------------------------------------------------------
# Flows
# ----------------------------------------------------------------------------------------------

def pushed_flow(browser: Browser, c: Client, scope: str, *, par_key: DPoPKey | None = None, dpop_jkt: str | None = None,
                signed: bool = False, response_mode: str | None = None) -> CodeFlow:
    """PAR (the parameters as a form, or in a signed request object) then the front channel with
    only client_id and request_uri; PKCE S256, state, and a nonce when openid is asked for."""
    params, verifier = code_params(c, scope, nonce="openid" in scope.split())
    if response_mode:
        params["response_mode"] = response_mode
    body = {"request": c.request_object(params)} if signed else dict(params)
    if dpop_jkt:
        body["dpop_jkt"] = dpop_jkt
    r = dpop_backchannel(c, PAR, body, par_key)
    assert r.status_code == 201, f"PAR refused: HTTP {r.status_code} {r.text[:500]}"
    flow = CodeFlow(c, params, verifier, params.get("state"), params.get("nonce"))
    flow.result = browser.authorize({"client_id": c.client_id, "request_uri": r.json()["request_uri"]}, client_id=c.client_id)
    return flow


def redeem(flow: CodeFlow, key: DPoPKey | None, *, proof: str | None = None, **kw):
    data = {"grant_type": "authorization_code", "code": flow.code, "redirect_uri": flow.params["redirect_uri"],
            "code_verifier": flow.verifier}
    return dpop_backchannel(flow.client, TOKEN, data, key, proof=proof, **kw)


def client_credentials(c: Client, key: DPoPKey | None, *, proof: str | None = None, scope: str = SP, **kw):
    return dpop_backchannel(c, TOKEN, {"grant_type": "client_credentials", "scope": scope}, key, proof=proof, **kw)


def ok_json(r, status: int = 200) -> dict:
    assert r.status_code == status, f"expected HTTP {status}, got {r.status_code} {r.text[:500]}"
    return r.json()


def assert_json_error(r, status: int, error: str, what: str) -> None:
    assert r.status_code == status, f"{what}: expected HTTP {status} {error}, got {r.status_code} {r.text[:500]}"
    assert r.json().get("error") == error, f"{what}: expected error={error}, got {r.text[:500]}"


def assert_dpop_challenge(r, error: str, what: str) -> dict:
    """401 with a DPoP challenge carrying `error` and algs listing at least ES256 and PS256."""
    assert r.status_code == 401, f"{what}: expected HTTP 401 {error}, got {r.status_code} {r.headers.get('WWW-Authenticate')} {r.text[:300]}"
    ch = dpop_challenge(r)
    assert ch.get("error") == error, f"{what}: challenge error {ch.get('error')!r} != {error!r}: {r.headers.get('WWW-Authenticate')}"
    algs = set(ch.get("algs", "").split())
    assert {"ES256", "PS256"} <= algs, f"{what}: challenge algs {ch.get('algs')!r}"
    return ch


# ----------------------------------------------------------------------------------------------
# The proof builder itself, checked with joserfc (no server): failures below are the server's
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["ES256", "PS256"])
def test_proof_builder_matches_joserfc(alg):
    key = DPoPKey(alg)
    proof = key.proof("POST", "https://localhost/token", access_token="at-123", nonce="n-1")
    jk = (ECKey if alg == "ES256" else RSAKey).import_key(key.public_jwk)
    registry = JWSRegistry(algorithms=[alg])
    registry.max_header_length = 4096
    obj = deserialize_compact(proof, jk, algorithms=[alg], registry=registry)
    assert obj.headers() == {"typ": "dpop+jwt", "alg": alg, "jwk": key.public_jwk}
    claims = json.loads(obj.payload)
    assert claims["htm"] == "POST" and claims["htu"] == "https://localhost/token" and claims["nonce"] == "n-1"
    assert claims["ath"] == ath_of("at-123")
    assert jk.thumbprint() == key.thumbprint == jwk_thumbprint(key.private_jwk)
    assert "d" not in key.public_jwk and "d" in key.private_jwk


# ----------------------------------------------------------------------------------------------
# Discovery
# ----------------------------------------------------------------------------------------------

def test_discovery_advertises_dpop_and_iss(server):
    m = server.metadata
    assert {"ES256", "PS256"} <= set(m.get("dpop_signing_alg_values_supported", [])), \
        f"dpop_signing_alg_values_supported = {m.get('dpop_signing_alg_values_supported')!r}"
    assert not {"none", "HS256"} & set(m["dpop_signing_alg_values_supported"]), m["dpop_signing_alg_values_supported"]
    assert m.get("authorization_response_iss_parameter_supported") is True


# ----------------------------------------------------------------------------------------------
# 1. Happy flows: client authentication x sender constraint x openid
# ----------------------------------------------------------------------------------------------

MATRIX = ["dpop", "tls_dpop", "pkjwt_mtls", "mtls"]  # pkjwt+DPoP, tls+DPoP, pkjwt+mTLS, tls+mTLS


@pytest.mark.parametrize("openid", [True, False], ids=["openid", "no-openid"])
@pytest.mark.parametrize("name", MATRIX)
def test_fapi2_happy_flow(server, f2, name, openid):
    c = getattr(f2, name)
    dpop = f2.sender[name] == "dpop"
    key = DPoPKey() if dpop else None
    scope = f"openid profile {SP}" if openid else SP
    flow = pushed_flow(Browser(server), c, scope)
    res = flow.result
    assert res.kind == "redirect" and not res.error and "code" in res.params, f"{name}: {res.describe()}"
    assert res.mode == "query" and res.location.startswith(c.redirect_uri + "?"), res.location
    assert res.get("state") == flow.state
    assert res.get("iss") == server.issuer, f"iss in the authorization response: {res.params}"
    assert "id_token" not in res.params

    tokens = ok_json(redeem(flow, key))
    assert tokens["token_type"] == ("DPoP" if dpop else "Bearer"), tokens
    assert set(tokens["scope"].split()) == set(scope.split()), tokens["scope"]
    at = tokens["access_token"]
    if openid:
        claims = verify_id_token(tokens["id_token"], server, c.client_id, nonce=flow.nonce, access_token=at, expected_alg=ALG)
    else:
        assert "id_token" not in tokens, "ID token without the openid scope"

    info = f2.introspect(at)
    assert info["active"] is True and info["client_id"] == c.client_id, info
    if dpop:
        assert info["token_type"] == "DPoP", info
        assert info.get("cnf", {}).get("jkt") == key.thumbprint, f"not bound to the proof key: cnf={info.get('cnf')}"
    else:
        assert info["token_type"] == "Bearer", info
        assert info.get("cnf", {}).get("x5t#S256") == cert_thumbprint(c.cert[0]), f"not bound to the certificate: cnf={info.get('cnf')}"

    mtls = not dpop
    cert = c.cert if mtls else None
    scheme = "DPoP" if dpop else "Bearer"
    body = ok_json(call_resource(server, "GET", resource_url(server, "/api/accounts", mtls=mtls), at, key=key, scheme=scheme, cert=cert))
    assert body["data"]["account"], body
    assert body["meta"]["profile"] == "fapi2-security", body
    r = call_resource(server, "GET", server.endpoint("userinfo_endpoint", mtls=mtls), at, key=key, scheme=scheme, cert=cert)
    if openid:
        info = ok_json(r)
        assert info["sub"] == claims["sub"] and info.get("name"), info
    else:
        assert r.status_code == 403 and r.json()["error"] == "insufficient_scope", f"userinfo without openid: {r.status_code} {r.text}"


def test_dpop_token_of_second_client_with_first_clients_key(server, f2):
    """tls_client_auth+DPoP (first, key K1) and private_key_jwt+DPoP (second, key K2): the second's
    token with a valid proof made with K1 is refused (invalid_token), with K2 accepted."""
    k1, k2 = DPoPKey(), DPoPKey()
    ok_json(client_credentials(f2.tls_dpop, k1))
    t2 = ok_json(client_credentials(f2.dpop, k2))["access_token"]
    url = server.url("/api/accounts")
    assert_dpop_challenge(call_resource(server, "GET", url, t2, key=k1), "invalid_token", "second client's token, first client's key")
    ok_json(call_resource(server, "GET", url, t2, key=k2))


def test_mtls_token_of_second_client_with_first_clients_certificate(server, f2):
    """private_key_jwt+mTLS (first, its certificate) and demo-fapi2-mtls (second, client4): the
    second's token with the first's certificate, or with client3's, is refused; with client4's accepted."""
    ok_json(client_credentials(f2.pkjwt_mtls, None))
    t2 = ok_json(client_credentials(f2.mtls, None))["access_token"]
    url = server.mtls_url("/api/accounts")
    for cert, what in [(f2.pkjwt_mtls.cert, "e2e-fapi2-pkjwt-mtls"), (f2.cert3, "client3")]:
        r = call_resource(server, "GET", url, t2, scheme="Bearer", cert=cert)
        assert_json_error(r, 401, "invalid_token", f"demo-fapi2-mtls token with {what}'s certificate")
    ok_json(call_resource(server, "GET", url, t2, scheme="Bearer", cert=f2.mtls.cert))


def test_message_signing_flow_with_dpop(server, f2):
    """fapi2-payments: signed request object pushed with a DPoP header, JARM response (query.jwt),
    the code bound to the PAR proof's key, POST /api/payments with the DPoP-bound token."""
    c = f2.dpop
    key = DPoPKey()
    flow = pushed_flow(Browser(server), c, f"openid {MS}", par_key=key, signed=True, response_mode="jwt")
    res = flow.result
    assert res.kind == "redirect" and res.jarm, f"expected a JARM redirect: {res.describe()}"
    assert res.mode == "query" and set(res.raw_params) == {"response"}, res.location
    assert res.jarm_header["alg"] == ALG, res.jarm_header
    assert res.get("iss") == server.issuer and res.get("state") == flow.state and res.get("code"), res.params
    tokens = ok_json(redeem(flow, key))
    assert tokens["token_type"] == "DPoP"
    verify_id_token(tokens["id_token"], server, c.client_id, nonce=flow.nonce, expected_alg=ALG)
    assert f2.introspect(tokens["access_token"])["cnf"]["jkt"] == key.thumbprint
    r = call_resource(server, "POST", server.url("/api/payments"), tokens["access_token"], key=key,
                      json={"amount": "10.00", "currency": "GBP"})
    body = ok_json(r, 201)
    assert body["data"]["status"] == "AcceptedSettlementInProcess", body


def test_message_signing_requires_a_signed_request_object(server, f2):
    c = f2.dpop
    params, _ = code_params(c, f"openid {MS}", response_mode="jwt")
    assert_json_error(dpop_backchannel(c, PAR, params, None), 400, "invalid_request", "fapi2-payments pushed without a request object")
    ok_json(dpop_backchannel(c, PAR, {"request": c.request_object(params)}, None), 201)


def test_dpop_refresh_keeps_the_binding(server, f2):
    c = f2.dpop
    key = DPoPKey()
    flow = pushed_flow(Browser(server), c, f"openid {SP}")
    tokens = ok_json(redeem(flow, key))
    assert "refresh_token" in tokens, tokens
    refreshed = ok_json(dpop_backchannel(c, TOKEN, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, key))
    assert refreshed["token_type"] == "DPoP"
    assert f2.introspect(refreshed["access_token"])["cnf"]["jkt"] == key.thumbprint
    # FAPI 2.0 Security Profile §5.3.2.1-10: no rotation, so no new refresh token and the old one still works.
    assert "refresh_token" not in refreshed, refreshed
    again = ok_json(dpop_backchannel(c, TOKEN, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, key))
    assert again["token_type"] == "DPoP"
    r = dpop_backchannel(c, TOKEN, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, None)
    assert_json_error(r, 400, "invalid_dpop_proof", "refresh of demo-fapi2-dpop without a DPoP proof")


# ----------------------------------------------------------------------------------------------
# 2. DPoP proofs at the token endpoint (demo-fapi2-dpop, client_credentials)
# ----------------------------------------------------------------------------------------------

def bad_token_proofs(server, key: DPoPKey, url: str) -> dict:
    post = lambda **kw: key.proof("POST", url, **kw)  # noqa: E731
    return {
        "missing proof": None,
        "wrong htm": key.proof("GET", url),
        "wrong htu path": key.proof("POST", server.url("/par")),
        "wrong htu host": key.proof("POST", "https://evil.example/token"),
        "htu of the mTLS alias": key.proof("POST", server.mtls_url("/token")),
        "stale iat": post(iat_offset=-600),
        "future iat": post(iat_offset=600),
        "signed by another key": post(signer=DPoPKey()),
        "private key in jwk": post(jwk=key.private_jwk),
        "alg none": post(alg="none"),
        "alg HS256": post(alg="HS256"),
        "typ JWT": post(typ="JWT"),
    }


TOKEN_CASES = ["missing proof", "wrong htm", "wrong htu path", "wrong htu host", "htu of the mTLS alias", "stale iat",
               "future iat", "signed by another key", "private key in jwk", "alg none", "alg HS256", "typ JWT"]


def test_token_valid_proof_accepted(f2):
    c = f2.dpop
    key = DPoPKey()
    body = ok_json(client_credentials(c, key))
    assert body["token_type"] == "DPoP", body
    info = f2.introspect(body["access_token"])
    assert info["token_type"] == "DPoP" and info["cnf"] == {"jkt": key.thumbprint}, info


@pytest.mark.parametrize("case", TOKEN_CASES)
def test_token_bad_proof_refused(server, f2, case):
    c = f2.dpop
    key = DPoPKey()
    proof = bad_token_proofs(server, key, endpoint_url(c, TOKEN))[case]
    r = client_credentials(c, None, proof=proof)
    assert_json_error(r, 400, "invalid_dpop_proof", f"/token with {case}")
    assert "access_token" not in r.json()


def test_token_code_grant_without_proof_refused(server, f2):
    flow = pushed_flow(Browser(server), f2.dpop, SP)
    assert_json_error(redeem(flow, None), 400, "invalid_dpop_proof", "authorization_code of demo-fapi2-dpop without DPoP")


@pytest.mark.parametrize("suffix", ["?x=1", "#frag", "?x=1#frag"])
def test_token_htu_query_and_fragment_ignored(f2, suffix):
    c = f2.dpop
    key = DPoPKey()
    body = ok_json(client_credentials(c, None, proof=key.proof("POST", endpoint_url(c, TOKEN) + suffix)))
    assert f2.introspect(body["access_token"])["cnf"]["jkt"] == key.thumbprint


def test_token_proof_replay_refused(f2):
    c = f2.dpop
    key = DPoPKey()
    proof = key.proof("POST", endpoint_url(c, TOKEN))
    ok_json(client_credentials(c, None, proof=proof))
    assert_json_error(client_credentials(c, None, proof=proof), 400, "invalid_dpop_proof", "/token with a replayed proof (jti)")


def test_token_ps256_proof_accepted(f2):
    key = DPoPKey("PS256")
    body = ok_json(client_credentials(f2.dpop, key))
    assert f2.introspect(body["access_token"])["cnf"]["jkt"] == key.thumbprint


def test_token_tls_client_with_proof_for_the_main_listener_refused(server, f2):
    """tls_client_auth + DPoP calls the mTLS alias: its proof must name the alias's URL."""
    c = f2.tls_dpop
    key = DPoPKey()
    assert endpoint_url(c, TOKEN).startswith(f"https://localhost:{server.mtls_port}/")
    ok_json(client_credentials(c, key))
    r = client_credentials(c, None, proof=key.proof("POST", server.url("/token")))
    assert_json_error(r, 400, "invalid_dpop_proof", "alias /token with a proof for the main listener")


# ----------------------------------------------------------------------------------------------
# 2. DPoP proofs at the protected resources (/userinfo, GET /api/accounts)
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def user_token(server, f2):
    """A DPoP-bound access token of demo-fapi2-dpop for alice (openid profile fapi2-accounts) and its key."""
    key = DPoPKey()
    flow = pushed_flow(Browser(server), f2.dpop, f"openid profile {SP}")
    tokens = ok_json(redeem(flow, key))
    return tokens["access_token"], key


RESOURCES = {"userinfo": "/userinfo", "accounts": "/api/accounts"}
BAD_RESOURCE_PROOFS = {
    # case: (scheme, proof factory (key, url, token) -> proof or None, expected error)
    "no proof": ("DPoP", lambda k, u, t: None, "invalid_token"),
    "bound token as Bearer": ("Bearer", lambda k, u, t: None, "invalid_token"),
    "proof key is not the token's": ("DPoP", lambda k, u, t: DPoPKey().proof("GET", u, access_token=t), "invalid_token"),
    "wrong htm": ("DPoP", lambda k, u, t: k.proof("POST", u, access_token=t), "invalid_dpop_proof"),
    "wrong htu path": ("DPoP", lambda k, u, t: k.proof("GET", u.rsplit("/", 1)[0] + "/token", access_token=t), "invalid_dpop_proof"),
    "wrong htu host": ("DPoP", lambda k, u, t: k.proof("GET", "https://evil.example/" + u.split("/", 3)[3], access_token=t),
                       "invalid_dpop_proof"),
    "stale iat": ("DPoP", lambda k, u, t: k.proof("GET", u, access_token=t, iat_offset=-600), "invalid_dpop_proof"),
    "future iat": ("DPoP", lambda k, u, t: k.proof("GET", u, access_token=t, iat_offset=600), "invalid_dpop_proof"),
    "signed by another key": ("DPoP", lambda k, u, t: k.proof("GET", u, access_token=t, signer=DPoPKey()), "invalid_dpop_proof"),
    "private key in jwk": ("DPoP", lambda k, u, t: k.proof("GET", u, access_token=t, jwk=k.private_jwk), "invalid_dpop_proof"),
    "alg none": ("DPoP", lambda k, u, t: k.proof("GET", u, access_token=t, alg="none"), "invalid_dpop_proof"),
    "alg HS256": ("DPoP", lambda k, u, t: k.proof("GET", u, access_token=t, alg="HS256"), "invalid_dpop_proof"),
    "wrong ath": ("DPoP", lambda k, u, t: k.proof("GET", u, ath=ath_of(t + "x")), "invalid_dpop_proof"),
    "missing ath": ("DPoP", lambda k, u, t: k.proof("GET", u), "invalid_dpop_proof"),
    "typ JWT": ("DPoP", lambda k, u, t: k.proof("GET", u, access_token=t, typ="JWT"), "invalid_dpop_proof"),
}


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_resource_valid_proof_accepted(server, user_token, resource):
    token, key = user_token
    body = ok_json(call_resource(server, "GET", server.url(RESOURCES[resource]), token, key=key))
    assert body.get("sub") if resource == "userinfo" else body["data"]["account"], body


@pytest.mark.parametrize("case", list(BAD_RESOURCE_PROOFS))
@pytest.mark.parametrize("resource", list(RESOURCES))
def test_resource_bad_proof_refused(server, user_token, resource, case):
    token, key = user_token
    url = server.url(RESOURCES[resource])
    scheme, make, error = BAD_RESOURCE_PROOFS[case]
    r = call_resource(server, "GET", url, token, proof=make(key, url, token), scheme=scheme)
    assert_dpop_challenge(r, error, f"GET {RESOURCES[resource]} with {case}")


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_resource_htu_query_and_fragment_ignored(server, user_token, resource):
    token, key = user_token
    url = server.url(RESOURCES[resource])
    ok_json(call_resource(server, "GET", url, token, proof=key.proof("GET", url + "?page=2#top", access_token=token)))


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_resource_proof_replay_refused(server, user_token, resource):
    token, key = user_token
    url = server.url(RESOURCES[resource])
    proof = key.proof("GET", url, access_token=token)
    ok_json(call_resource(server, "GET", url, token, proof=proof))
    assert_dpop_challenge(call_resource(server, "GET", url, token, proof=proof), "invalid_dpop_proof",
                          f"GET {RESOURCES[resource]} with a replayed proof")


def test_mtls_alias_resource_with_client4_certificate(server, f2):
    """demo-fapi2-mtls: the token is bound to client4's certificate; with it the API answers on the alias."""
    body = ok_json(client_credentials(f2.mtls, None))
    assert body["token_type"] == "Bearer"
    assert f2.introspect(body["access_token"])["cnf"]["x5t#S256"] == cert_thumbprint(f2.mtls.cert[0])
    ok_json(call_resource(server, "GET", server.mtls_url("/api/accounts"), body["access_token"], scheme="Bearer", cert=f2.mtls.cert))
    r = call_resource(server, "GET", server.mtls_url("/api/accounts"), body["access_token"], scheme="Bearer", cert=f2.cert3)
    assert_json_error(r, 401, "invalid_token", "demo-fapi2-mtls token with client3's certificate")


# ----------------------------------------------------------------------------------------------
# 2. Server nonces (service.dpop_nonce_required: true), on a server of their own
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nonce_srv(binary, kit):
    port, mtls_port = free_ports(2)
    cfg = configure(kit["written"], port, mtls_port, "e2e-dpop-nonce.sqlite", dpop_nonce_required=True)
    s = RunningServer(binary, kit["dir"], "e2e-dpop-nonce.yaml", cfg, port, mtls_port)
    yield s
    s.stop()


def nonce_client(nonce_srv) -> Client:
    k = nonce_srv.kit
    return Client(nonce_srv.api, "demo-fapi2-dpop", "private_key_jwt", key=load_private_jwk(k / "client3.jwks.json"), alg=ALG,
                  redirect_uri=nonce_srv.callback, id_token_alg=ALG)


def server_nonce(r, what: str) -> str:
    n = r.headers.get("DPoP-Nonce")
    assert n, f"{what}: no DPoP-Nonce header (HTTP {r.status_code} {r.text[:200]})"
    return n


def test_nonce_required_at_token(nonce_srv):
    c = nonce_client(nonce_srv)
    key = DPoPKey()
    url = endpoint_url(c, TOKEN)
    r = client_credentials(c, None, proof=key.proof("POST", url))
    assert_json_error(r, 400, "use_dpop_nonce", "/token without a nonce")
    nonce = server_nonce(r, "use_dpop_nonce at /token")
    r = client_credentials(c, None, proof=key.proof("POST", url, nonce=nonce))
    body = ok_json(r)
    assert body["token_type"] == "DPoP"
    server_nonce(r, "200 at /token")


@pytest.mark.parametrize("nonce", ["garbage-nonce", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
def test_nonce_garbage_at_token(nonce_srv, nonce):
    c = nonce_client(nonce_srv)
    r = client_credentials(c, None, proof=DPoPKey().proof("POST", endpoint_url(c, TOKEN), nonce=nonce))
    assert_json_error(r, 400, "use_dpop_nonce", f"/token with nonce {nonce!r}")
    server_nonce(r, "use_dpop_nonce at /token")


@pytest.fixture(scope="module")
def nonce_user_token(nonce_srv):
    """A DPoP-bound user token from the nonce server (PAR without a proof; the token request after
    the nonce handshake)."""
    c = nonce_client(nonce_srv)
    key = DPoPKey()
    flow = pushed_flow(Browser(nonce_srv.api), c, f"openid {SP}")
    url = endpoint_url(c, TOKEN)
    r = redeem(flow, None, proof=key.proof("POST", url))
    assert_json_error(r, 400, "use_dpop_nonce", "code redemption without a nonce")
    r = redeem(flow, None, proof=key.proof("POST", url, nonce=server_nonce(r, "/token")))
    return ok_json(r)["access_token"], key


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_nonce_required_at_resource(nonce_srv, nonce_user_token, resource):
    token, key = nonce_user_token
    api = nonce_srv.api
    url = api.url(RESOURCES[resource])
    r = call_resource(api, "GET", url, token, key=key)
    assert_dpop_challenge(r, "use_dpop_nonce", f"GET {RESOURCES[resource]} without a nonce")
    nonce = server_nonce(r, f"use_dpop_nonce at {RESOURCES[resource]}")
    r = call_resource(api, "GET", url, token, key=key, nonce=nonce)
    ok_json(r)
    server_nonce(r, f"200 at {RESOURCES[resource]}")


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_nonce_garbage_at_resource(nonce_srv, nonce_user_token, resource):
    token, key = nonce_user_token
    api = nonce_srv.api
    r = call_resource(api, "GET", api.url(RESOURCES[resource]), token, key=key, nonce="garbage-nonce")
    assert_dpop_challenge(r, "use_dpop_nonce", f"GET {RESOURCES[resource]} with a garbage nonce")
    server_nonce(r, f"use_dpop_nonce at {RESOURCES[resource]}")


NONCE_WINDOW = 300  # seconds


def derived_nonce(nonce_srv, window: int) -> str:
    """The server's nonce of a time window, as HMAC-SHA256(secret_hash_key, "dpop-nonce|<window>")."""
    key = base64.b64decode(nonce_srv.config["secret_hash_key"])
    return b64url(hmac.new(key, f"dpop-nonce|{window}".encode(), hashlib.sha256).digest())


def stale_nonce(nonce_srv, issued: str, window_before: int) -> str:
    """A nonce two windows older than the one the server issued after `window_before` began: no
    longer current. Nonces live 5-10 minutes, too long to wait for in this suite, so the old one is
    derived the way the server derives them; that derivation is checked against `issued` first."""
    if issued not in {derived_nonce(nonce_srv, w) for w in (window_before, window_before + 1)}:
        pytest.skip("the server's DPoP nonces are not HMAC(secret_hash_key, 'dpop-nonce|window'): "
                    "a stale nonce cannot be made without waiting 10 minutes")
    return derived_nonce(nonce_srv, window_before - 2)


@pytest.mark.parametrize("where", ["token"] + list(RESOURCES))
def test_nonce_stale(nonce_srv, nonce_user_token, where):
    api = nonce_srv.api
    window = int(time.time() // NONCE_WINDOW)
    if where == "token":
        c = nonce_client(nonce_srv)
        url = endpoint_url(c, TOKEN)
        key = DPoPKey()
        issued = server_nonce(client_credentials(c, None, proof=key.proof("POST", url)), "/token")
        r = client_credentials(c, None, proof=key.proof("POST", url, nonce=stale_nonce(nonce_srv, issued, window)))
        assert_json_error(r, 400, "use_dpop_nonce", "/token with a stale nonce")
    else:
        token, key = nonce_user_token
        url = api.url(RESOURCES[where])
        issued = server_nonce(call_resource(api, "GET", url, token, key=key), RESOURCES[where])
        r = call_resource(api, "GET", url, token, key=key, nonce=stale_nonce(nonce_srv, issued, window))
        assert_dpop_challenge(r, "use_dpop_nonce", f"GET {RESOURCES[where]} with a stale nonce")
    server_nonce(r, "use_dpop_nonce with a stale nonce")


# ----------------------------------------------------------------------------------------------
# 3. Binding the code at PAR: dpop_jkt and the PAR request's DPoP header
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("same_key", [True, False], ids=["same-key", "other-key"])
@pytest.mark.parametrize("binding", ["dpop_jkt", "par_header"])
def test_par_binds_the_code_to_a_key(server, f2, binding, same_key):
    c = f2.dpop
    key = DPoPKey()
    kw = {"dpop_jkt": key.thumbprint} if binding == "dpop_jkt" else {"par_key": key}
    flow = pushed_flow(Browser(server), c, SP, **kw)
    assert "code" in flow.result.params, flow.result.describe()
    if same_key:
        body = ok_json(redeem(flow, key))
        assert f2.introspect(body["access_token"])["cnf"]["jkt"] == key.thumbprint
    else:
        assert_json_error(redeem(flow, DPoPKey()), 400, "invalid_dpop_proof", f"code bound by {binding}, proof by another key")


@pytest.mark.parametrize("agree", [True, False], ids=["same-key", "other-key"])
def test_par_dpop_jkt_and_header_must_agree(f2, agree):
    c = f2.dpop
    key = DPoPKey()
    params, _ = code_params(c, SP)
    params["dpop_jkt"] = key.thumbprint if agree else DPoPKey().thumbprint
    r = dpop_backchannel(c, PAR, params, key)
    if agree:
        ok_json(r, 201)
    else:
        assert_json_error(r, 400, "invalid_dpop_proof", "PAR with dpop_jkt of one key and a DPoP header of another")


# ----------------------------------------------------------------------------------------------
# 4. FAPI 2.0 Security Profile rules
# ----------------------------------------------------------------------------------------------

def test_par_required(server, f2):
    """A front-channel request for fapi2-accounts without request_uri: redirected with invalid_request
    (as FAPI 1.0 Advanced without its request object); the same request pushed succeeds (happy flows)."""
    c = f2.dpop
    params, _ = code_params(c, f"openid {SP}")
    res = Browser(server).authorize(params)
    assert res.kind == "redirect" and res.error == "invalid_request", f"fapi2 scope without PAR: {res.describe()}"
    assert res.location.startswith(c.redirect_uri + "?"), res.location
    assert res.get("iss") == server.issuer and res.get("state") == params["state"], res.params
    assert "code" not in res.params


@pytest.mark.parametrize("response_type", ["code", "code id_token"])
def test_response_type_code_only(f2, response_type):
    c = f2.hybrid
    params, _ = code_params(c, f"openid {SP}", response_type=response_type)
    r = dpop_backchannel(c, PAR, params, None)
    if response_type == "code":
        ok_json(r, 201)
    else:
        assert_json_error(r, 400, "unsupported_response_type", "FAPI 2.0 PAR with response_type code id_token")


@pytest.mark.parametrize("pkce", ["S256", "missing", "plain"])
def test_pkce_s256_required(f2, pkce):
    c = f2.dpop
    if pkce == "S256":
        params, _ = code_params(c, SP)
    elif pkce == "missing":
        params, _ = code_params(c, SP, pkce=False)
    else:
        params, _ = code_params(c, SP, pkce=False, code_challenge="p" * 50, code_challenge_method="plain")
    r = dpop_backchannel(c, PAR, params, None)
    if pkce == "S256":
        ok_json(r, 201)
    else:
        assert_json_error(r, 400, "invalid_request", f"FAPI 2.0 PAR with PKCE {pkce}")


AUDIENCES = ["issuer", "issuer in an array", "token endpoint"]


def audience(server, which: str):
    return {"issuer": server.issuer, "issuer in an array": [server.issuer],
            "token endpoint": server.metadata["token_endpoint"]}[which]


@pytest.mark.parametrize("aud", AUDIENCES)
def test_assertion_audience_at_par(server, f2, aud):
    c = f2.dpop
    params, _ = code_params(c, SP)
    r = dpop_backchannel(c, PAR, params, None, assertion=c.assertion(aud=audience(server, aud)))
    if aud == "issuer":
        ok_json(r, 201)
    else:
        assert_json_error(r, 401, "invalid_client", f"PAR with client assertion aud = {aud}")


@pytest.mark.parametrize("aud", AUDIENCES)
def test_assertion_audience_at_token(server, f2, aud):
    c = f2.dpop
    flow = pushed_flow(Browser(server), c, SP)
    r = redeem(flow, DPoPKey(), assertion=c.assertion(aud=audience(server, aud)))
    if aud == "issuer":
        assert ok_json(r)["token_type"] == "DPoP"
    else:
        assert_json_error(r, 401, "invalid_client", f"/token with client assertion aud = {aud}")


@pytest.mark.parametrize("name", ["dpop", "mtls"])
def test_iss_in_the_authorization_response(server, f2, name):
    flow = pushed_flow(Browser(server), getattr(f2, name), SP)
    res = flow.result
    assert res.kind == "redirect" and res.mode == "query" and "code" in res.params, res.describe()
    assert res.get("iss") == server.issuer, f"authorization response without iss = issuer: {res.location}"
