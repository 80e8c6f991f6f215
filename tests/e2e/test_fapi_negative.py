"""FAPI 1.0 negative cases: the exact error and whether it is redirected."""

import time

import pytest

from conftest import observe
from fapi_client import (Browser, CodeFlow, FAPI_ACR_CLAIMS, code_params, fapi_params, request_object, run_fapi_flow,
                         tamper_signature, verify_id_token)


def assert_redirect_error(res, error, what):
    assert res.kind == "redirect", f"{what}: expected a redirect with error={error}, got {res.describe()}"
    assert res.error == error, f"{what}: expected error={error}, got {res.describe()}"
    if not res.jarm:
        assert res.get("iss"), f"{what}: no iss in the error response (RFC 9207)"


# --- Baseline --------------------------------------------------------------------------------

def test_baseline_without_pkce(server, clients):
    c = clients.fapi1
    params, _ = code_params(c, "openid accounts", pkce=False)
    res = Browser(server).authorize(params)
    assert_redirect_error(res, "invalid_request", "Baseline without PKCE")
    assert res.get("state") == params["state"]


def test_baseline_pkce_plain(server, clients):
    c = clients.fapi1
    params, _ = code_params(c, "openid accounts", pkce=False, code_challenge="p" * 50, code_challenge_method="plain")
    assert_redirect_error(Browser(server).authorize(params), "invalid_request", "Baseline with PKCE plain")


def test_baseline_missing_state_without_openid(server, clients):
    c = clients.fapi1
    params, _ = code_params(c, "accounts", state=False)
    res = Browser(server).authorize(params)
    assert_redirect_error(res, "invalid_request", "Baseline without state and openid")


def test_baseline_redirect_uri_required(server, clients):
    c = clients.public_fapi  # exactly one registered redirect URI
    params, _ = code_params(c, "openid accounts")
    del params["redirect_uri"]
    res = Browser(server).authorize(params)
    assert res.kind == "page" and res.status == 400 and res.location is None, \
        f"Baseline without redirect_uri (one registered): {res.describe()}"


def test_baseline_client_secret_basic_refused_at_registration(srv):
    body = {"client_id": "e2e-basic-accounts", "client_secret": "s" * 40, "token_endpoint_auth_method": "client_secret_basic",
            "redirect_uris": [srv.callback], "scope": "openid accounts", "response_types": ["code"]}
    r = srv.admin("POST", "/clients", body)
    assert r.status_code == 400, f"client_secret_basic for a fapi=r scope registered: HTTP {r.status_code} {r.text}"
    fields = {v["field"] for v in r.json()["violations"]}
    assert "token_endpoint_auth_method" in fields, r.text


# --- registration-time rules -----------------------------------------------------------------

def fapi_metadata(srv, **over):
    m = {"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": "CN=e2e-x,O=Strongroom E2E,C=GB",
         "redirect_uris": [srv.callback], "response_types": ["code id_token"], "grant_types": ["authorization_code"],
         "scope": "openid payments", "tls_client_certificate_bound_access_tokens": True,
         "request_object_signing_alg": "PS256", "jwks": None}
    m.pop("jwks")
    m.update(over)
    return m


def test_http_redirect_uri_refused_for_fapi_client_admin(srv):
    r = srv.admin("POST", "/clients", {"client_id": "e2e-http-fapi", **fapi_metadata(srv, redirect_uris=["http://localhost:9000/cb"])})
    assert r.status_code == 400, f"http redirect for FAPI client accepted: HTTP {r.status_code} {r.text}"
    violations = r.json()["violations"]
    hit = [v for v in violations if v["field"] == "redirect_uris"]
    assert hit and "https" in hit[0]["message"] and "FAPI" in hit[0]["message"], f"violations do not name the rule: {violations}"


def test_public_client_for_payments_refused(srv, server, clients):
    r = srv.admin("POST", "/clients", {"client_id": "e2e-public-payments", **fapi_metadata(
        srv, token_endpoint_auth_method="none", tls_client_auth_subject_dn=None)})
    assert r.status_code == 400, f"public client with payments registered: HTTP {r.status_code} {r.text}"
    assert any(v["field"] == "token_endpoint_auth_method" for v in r.json()["violations"]), r.text
    # at request time: a public client asking for payments is refused
    c = clients.public_fapi
    params, _ = fapi_params(c)
    ro_less = Browser(server).authorize(params)
    assert ro_less.kind in ("redirect", "page") and (ro_less.error or ro_less.kind == "page"), ro_less.describe()
    observe(f"public client requesting payments: {ro_less.describe()[:160]}")


def test_client_secret_basic_for_payments_refused(srv, server, clients):
    r = srv.admin("POST", "/clients", {"client_id": "e2e-basic-payments", "client_secret": "s" * 40, **fapi_metadata(
        srv, token_endpoint_auth_method="client_secret_basic", tls_client_auth_subject_dn=None)})
    assert r.status_code == 400, f"client_secret_basic client with payments registered: HTTP {r.status_code} {r.text}"
    assert any(v["field"] == "token_endpoint_auth_method" for v in r.json()["violations"]), r.text
    # at request time: demo-plain (client_secret_basic) asking for payments
    params, _ = code_params(clients.plain, "openid payments")
    res = Browser(server).authorize(params)
    assert res.kind == "redirect" and res.error in ("invalid_scope", "invalid_request", "unauthorized_client"), res.describe()
    # and at the token endpoint: client_credentials for payments
    r = clients.post.token({"grant_type": "client_credentials", "scope": "payments"})
    assert r.status_code in (400, 401) and r.json()["error"] in ("invalid_scope", "invalid_client", "unauthorized_client"), r.text


# --- Advanced: the request ---------------------------------------------------------------------

def test_advanced_without_request_object(server, clients):
    c = clients.fapi1
    params, _ = fapi_params(c)
    import json
    params["claims"] = json.dumps(FAPI_ACR_CLAIMS)
    res = Browser(server).authorize(params)
    assert_redirect_error(res, "invalid_request", "Advanced without a request object")


def test_advanced_code_without_jarm(server, clients):
    flow = run_fapi_flow(Browser(server), clients.fapi1, response_type="code")
    res = flow.result
    assert res.kind == "redirect" and res.error in ("invalid_request", "unsupported_response_type"), res.describe()
    observe(f"Advanced response_type=code without JARM -> {res.error}")


def test_advanced_hybrid_without_nonce(server, clients):
    flow = run_fapi_flow(Browser(server), clients.fapi1, nonce=None)
    assert flow.result.error == "invalid_request", flow.result.describe()


def test_advanced_response_type_code_token_refused(server, clients):
    flow = run_fapi_flow(Browser(server), clients.fapi1, response_type="code id_token token")
    assert flow.result.error in ("unsupported_response_type", "unauthorized_client", "invalid_request"), flow.result.describe()


def _bad_request_objects(c, issuer, other):
    """(name, request object) pairs each of which must be refused with invalid_request_object."""
    params, _ = fapi_params(c)
    ro = lambda **kw: request_object(c.client_id, issuer, c.ro_key, c.ro_alg, params, **kw)  # noqa: E731
    rsa_key = c.ro_key if c.ro_alg == "PS256" else None
    cases = [
        ("missing exp", ro(include_exp=False)),
        ("expired", ro(nbf_offset=-400, lifetime=300)),
        ("missing nbf", ro(include_nbf=False)),
        ("nbf 70 minutes old", ro(nbf_offset=-70 * 60, lifetime=75 * 60)),
        ("lifetime over 60 minutes", ro(lifetime=61 * 60 + 30)),
        ("missing aud", ro(aud=None)),
        ("wrong aud", ro(aud="https://evil.example")),
        ("alg none", ro(signed=False)),
        ("bad signature", tamper_signature(ro())),
        ("signed with the other client's key",
         request_object(c.client_id, issuer, other.ro_key, other.ro_alg, params)),
    ]
    if rsa_key is not None:
        cases.append(("RS256", request_object(c.client_id, issuer, rsa_key, "RS256", params)))
    else:
        cases.append(("RS256 (other client's RSA key)", request_object(c.client_id, issuer, other.ro_key, "RS256", params)))
    return params, cases


@pytest.mark.parametrize("client_name", ["fapi1", "fapi2"])
@pytest.mark.parametrize("case", ["missing exp", "expired", "missing nbf", "nbf 70 minutes old", "lifetime over 60 minutes",
                                  "missing aud", "wrong aud", "alg none", "bad signature",
                                  "signed with the other client's key", "RS256"])
def test_invalid_request_object(server, clients, client_name, case):
    c = getattr(clients, client_name)
    other = clients.fapi2 if client_name == "fapi1" else clients.fapi1
    params, cases = _bad_request_objects(c, server.issuer, other)
    ro = next(v for k, v in cases if k.startswith(case))
    query = {"client_id": c.client_id, "request": ro, "response_type": params["response_type"], "scope": params["scope"]}
    res = Browser(server).authorize(query, client_id=c.client_id)
    if res.kind == "page":
        assert res.status == 400 and res.location is None, f"{case}: {res.describe()}"
        assert "invalid_request_object" in res.text, f"{case}: error page does not say invalid_request_object: {res.describe()}"
        channel = "error page (400)"
    else:
        assert res.kind == "redirect" and res.error == "invalid_request_object", f"{case}: {res.describe()}"
        channel = "redirect error=invalid_request_object"
    observe(f"request object [{client_name}] {case:<36} -> {channel}")
    # The same object pushed to PAR: a JSON 400 invalid_request_object.
    r = c.par({"request": ro})
    assert r.status_code == 400 and r.json().get("error") == "invalid_request_object", \
        f"PAR with {case}: HTTP {r.status_code} {r.text[:300]}"
    assert "no-store" in r.headers.get("Cache-Control", "")


def test_request_object_for_another_client_id(server, clients):
    """A request object of client 1 presented with client_id of client 2."""
    c1, c2 = clients.fapi1, clients.fapi2
    params, _ = fapi_params(c1)
    ro = c1.request_object(params)
    res = Browser(server).authorize({"client_id": c2.client_id, "request": ro, "response_type": "code id_token",
                                     "scope": "openid payments"}, client_id=c2.client_id)
    assert res.kind == "page" or res.error in ("invalid_request_object", "invalid_request"), res.describe()
    assert "code" not in res.params


# --- Advanced: the token endpoint ------------------------------------------------------------

@pytest.mark.parametrize("client_name", ["fapi1", "fapi2"])
def test_token_request_without_client_certificate(server, clients, client_name):
    c = getattr(clients, client_name)
    flow = run_fapi_flow(Browser(server), c)
    assert "code" in flow.result.params, flow.result.describe()
    r = c.with_cert(None).redeem(flow.code, flow.verifier)
    assert r.status_code in (400, 401) and r.json()["error"] in ("invalid_request", "invalid_client"), \
        f"{client_name} token request without its certificate: HTTP {r.status_code} {r.text}"
    observe(f"token request without certificate [{client_name}] -> HTTP {r.status_code} {r.json()['error']}")


def test_advanced_ps256_client_refuses_rs256_assertion_at_token(server, clients):
    c = clients.fapi1
    flow = run_fapi_flow(Browser(server), c)
    r = c.redeem(flow.code, flow.verifier, assertion=c.assertion(alg="RS256"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text


# --- PAR -------------------------------------------------------------------------------------

def pushed(client, **kw):
    params, verifier = fapi_params(client, **kw)
    r = client.par({"request": client.request_object(params)})
    assert r.status_code == 201, f"PAR: HTTP {r.status_code} {r.text}"
    assert "no-store" in r.headers.get("Cache-Control", "")
    return params, verifier, r.json()["request_uri"]


def test_par_request_uri_single_use(server, clients):
    c = clients.fapi1
    _, _, uri = pushed(c)
    first = Browser(server).authorize({"client_id": c.client_id, "request_uri": uri})
    assert "code" in first.params, first.describe()
    second = Browser(server).authorize({"client_id": c.client_id, "request_uri": uri})
    assert "code" not in second.params, f"request_uri used twice: {second.describe()}"
    assert second.kind == "page" or second.error == "invalid_request_uri", second.describe()
    if second.kind == "page":
        assert second.status == 400 and "invalid_request_uri" in second.text, second.describe()


def test_par_request_uri_of_another_client(server, clients):
    _, _, uri = pushed(clients.fapi1)
    res = Browser(server).authorize({"client_id": clients.fapi2.client_id, "request_uri": uri})
    assert "code" not in res.params and (res.kind == "page" or res.error == "invalid_request_uri"), res.describe()


def test_par_with_request_uri_in_body(server, clients):
    c = clients.fapi1
    params, _ = fapi_params(c)
    r = c.par({"request": c.request_object(params), "request_uri": "urn:ietf:params:oauth:request_uri:abc"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request", r.text


def test_par_requires_client_authentication(server, clients):
    c = clients.fapi1
    params, _ = fapi_params(c)
    r = server.post(server.metadata["pushed_authorization_request_endpoint"],
                    data={"client_id": c.client_id, "request": c.request_object(params)})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text
    assert r.headers.get("WWW-Authenticate")


def test_par_advanced_requires_pkce(server, clients):
    c = clients.fapi1
    params, _ = fapi_params(c, pkce=False)
    r = c.par({"request": c.request_object(params)})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request", r.text


def test_par_unknown_request_uri(server, clients):
    res = Browser(server).authorize({"client_id": clients.fapi1.client_id,
                                     "request_uri": "urn:ietf:params:oauth:request_uri:not-issued"})
    assert res.kind == "page" or res.error == "invalid_request_uri", res.describe()
    assert "code" not in res.params


def test_par_expired_request_uri(short_srv):
    """lifetimes.pushed_request = 1 s on this server."""
    from fapi_client import Client, load_private_jwk
    k = short_srv.kit
    c = Client(short_srv.api, "demo-fapi-1", "private_key_jwt", key=load_private_jwk(k / "client1.jwks.json"), alg="PS256",
               cert=(str(k / "client1.pem"), str(k / "client1.key.pem")), redirect_uri=short_srv.callback)
    params, verifier = fapi_params(c)
    r = c.par({"request": c.request_object(params)})
    assert r.status_code == 201, r.text
    assert r.json()["expires_in"] == 1
    time.sleep(1.6)
    res = Browser(short_srv.api).authorize({"client_id": c.client_id, "request_uri": r.json()["request_uri"]})
    assert "code" not in res.params, f"expired request_uri accepted: {res.describe()}"
    assert res.kind == "page" or res.error == "invalid_request_uri", res.describe()


def test_expired_code_and_access_token(short_srv):
    """lifetimes.authorization_code = access_token = 1 s on this server."""
    from fapi_client import Client, load_private_jwk, bearer
    k = short_srv.kit
    c = Client(short_srv.api, "demo-fapi-2", "tls_client_auth", key=load_private_jwk(k / "client2.jwks.json"), alg="ES256",
               cert=(str(k / "client2.pem"), str(k / "client2.key.pem")), redirect_uri=short_srv.callback)
    flow = run_fapi_flow(Browser(short_srv.api), c)
    assert "code" in flow.result.params, flow.result.describe()
    r = c.token({"grant_type": "client_credentials", "scope": "accounts"})
    assert r.status_code == 200, r.text
    at = r.json()["access_token"]
    assert short_srv.api.get("/api/accounts", headers=bearer(at), cert=c.cert).status_code == 200
    time.sleep(1.6)
    r = flow.redeem()
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", f"expired code: HTTP {r.status_code} {r.text}"
    assert c.introspect(at)["active"] is False, "expired access token still active"
    assert short_srv.api.get("/api/accounts", headers=bearer(at), cert=c.cert).status_code == 401


def test_invalid_request_object_error_delivered_as_jarm(server, clients):
    """An error found after the redirect URI is validated goes back in the requested response mode
    (JARM): a request object with the wrong aud, asking for response_mode=jwt with
    response_type=code, is answered by a redirect to the redirect URI carrying only response=, a JWT
    signed by the server (query.jwt), with error=invalid_request_object and the state."""
    c = clients.fapi1
    params, _ = fapi_params(c, response_type="code", response_mode="jwt")
    ro = c.request_object(params, aud="https://evil.example")
    res = Browser(server).authorize({"client_id": c.client_id, "request": ro, "response_type": "code", "scope": "openid payments"},
                                    client_id=c.client_id)
    assert res.kind == "redirect", f"wrong aud with response_mode=jwt: expected a JARM redirect, got {res.describe()}"
    assert res.status == 303, res.describe()
    assert res.location.startswith(c.redirect_uri + "?"), f"not a query.jwt redirect to the redirect URI: {res.location}"
    assert res.jarm, f"error not delivered as JARM: {res.describe()}"
    assert set(res.raw_params) == {"response"}, f"parameters outside the JARM JWT: {res.raw_params}"
    assert res.jarm_header["alg"] == c.id_token_alg, f"JARM alg {res.jarm_header['alg']}"
    assert res.error == "invalid_request_object", res.describe()
    assert res.get("state") == params["state"], res.describe()
    assert "code" not in res.params, res.describe()


def test_request_object_containing_request(server, clients):
    c = clients.fapi1
    params, _ = fapi_params(c)
    ro = c.request_object(params, extra={"request": "nested"})
    res = Browser(server).authorize({"client_id": c.client_id, "request": ro}, client_id=c.client_id)
    # Resolved before the redirect URI is validated: an error page (RFC 6749 §4.1.2.1), never a redirect.
    assert res.kind == "page" and res.status == 400, res.describe()
    assert "invalid_request_object" in res.text and "must not contain request or request_uri" in res.text, res.describe()


def test_request_and_request_uri_together(server, clients):
    """With a request_uri from the PAR endpoint the pushed request is the whole authorization request
    (RFC 9126 §4; RFC 9101 §6.3: only the request object's parameters are used): a `request` beside it
    in the query is ignored like every other outer parameter but client_id and request_uri. (Only a
    `request` beside a non-PAR request_uri is refused, OIDC Core §6.) So the flow completes with the
    pushed parameters: the pushed state and nonce, a code redeemable with the pushed code_verifier."""
    c = clients.fapi1
    pushed_params, pushed_verifier = fapi_params(c)
    r = c.par({"request": c.request_object(pushed_params)})
    assert r.status_code == 201, r.text
    outer_params, _ = fapi_params(c)  # another state, nonce and code_challenge
    res = Browser(server).authorize({"client_id": c.client_id, "request": c.request_object(outer_params),
                                     "request_uri": r.json()["request_uri"]}, client_id=c.client_id)
    assert res.kind == "redirect" and res.status == 303 and res.mode == "fragment", f"request + PAR request_uri: {res.describe()}"
    assert res.location.startswith(c.redirect_uri + "#"), res.location
    assert not res.error and "code" in res.params, res.describe()
    assert res.get("state") == pushed_params["state"], f"the outer request object was used: {res.describe()}"
    verify_id_token(res["id_token"], server, c.client_id, nonce=pushed_params["nonce"], code=res["code"],
                    state=pushed_params["state"], expected_alg=c.id_token_alg, require_c_hash=True, require_s_hash=True)
    tokens = CodeFlow(c, pushed_params, pushed_verifier, pushed_params["state"], pushed_params["nonce"], res).tokens()
    verify_id_token(tokens["id_token"], server, c.client_id, nonce=pushed_params["nonce"])
    observe("request + request_uri together: accepted, the pushed request used and the outer request ignored")


def test_refresh_of_bound_token_without_certificate(server, clients):
    c = clients.fapi1
    flow = run_fapi_flow(Browser(server), c)
    tokens = flow.tokens()
    r = c.with_cert(None).token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    # The client authenticates (private_key_jwt); the refresh token's certificate binding refuses it.
    assert r.status_code == 400, r.text
    assert r.json() == {"error": "invalid_grant", "error_description": "the refresh token is certificate-bound: present the client certificate"}
