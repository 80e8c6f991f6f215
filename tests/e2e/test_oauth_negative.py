"""Negative cases of plain OAuth 2.0 / OIDC: codes, PKCE, client assertions, the error channel,
and hostile input (never a 500)."""

import json
import os

import pytest
from joserfc.jwk import OctKey

from fapi_client import Browser, bearer, client_assertion, run_code_flow


def assert_oauth_error(r, error, status=400):
    assert r.status_code == status, f"expected HTTP {status} {error}, got HTTP {r.status_code}: {r.text[:500]}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), f"error body not JSON: {r.headers.get('Content-Type')}"
    body = r.json()
    assert body.get("error") == error, f"expected error {error}, got {body}"
    assert "no-store" in r.headers.get("Cache-Control", ""), "error response without Cache-Control: no-store"
    if status == 401:
        assert r.headers.get("WWW-Authenticate"), "401 without WWW-Authenticate"
    return body


def code_flow(server, client, scope="openid"):
    flow = run_code_flow(Browser(server), client, scope)
    assert "code" in flow.result.params, flow.result.describe()
    return flow


# --- authorization codes ---------------------------------------------------------------------

def test_reused_code_is_refused_and_revokes_its_tokens(server, clients):
    c = clients.plain
    flow = code_flow(server, c)
    tokens = flow.tokens()
    assert_oauth_error(flow.redeem(), "invalid_grant")
    assert c.introspect(tokens["access_token"])["active"] is False, "access token from a replayed code still active"
    r = c.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert_oauth_error(r, "invalid_grant")
    r = server.get(server.metadata["userinfo_endpoint"], headers=bearer(tokens["access_token"]))
    assert r.status_code == 401, f"userinfo accepted a token issued from a replayed code: HTTP {r.status_code}"


def test_reused_code_revokes_certificate_bound_token_at_resource(server, clients):
    c = clients.fapi1
    flow = code_flow(server, c, "openid accounts")
    tokens = flow.tokens()
    assert server.get("/api/accounts", headers=bearer(tokens["access_token"]), cert=c.cert).status_code == 200
    assert_oauth_error(flow.redeem(), "invalid_grant")
    r = server.get("/api/accounts", headers=bearer(tokens["access_token"]), cert=c.cert)
    assert r.status_code == 401, f"resource accepted a token issued from a replayed code: HTTP {r.status_code}"


def test_code_of_another_client(server, clients):
    flow = code_flow(server, clients.plain)
    r = clients.post.redeem(flow.code, flow.verifier)
    assert_oauth_error(r, "invalid_grant")


def test_wrong_code_verifier(server, clients):
    flow = code_flow(server, clients.plain)
    r = clients.plain.redeem(flow.code, "x" * 64)
    assert_oauth_error(r, "invalid_grant")


def test_missing_code_verifier(server, clients):
    flow = code_flow(server, clients.plain)
    r = clients.plain.redeem(flow.code, None)
    assert_oauth_error(r, "invalid_grant")


def test_wrong_redirect_uri_at_token(server, clients):
    flow = code_flow(server, clients.plain)
    r = clients.plain.redeem(flow.code, flow.verifier, redirect_uri="http://localhost:9000/callback")
    assert_oauth_error(r, "invalid_grant")


def test_garbage_code(server, clients):
    assert_oauth_error(clients.plain.redeem("no-such-code", "x" * 50), "invalid_grant")


# --- client authentication -------------------------------------------------------------------

def test_wrong_client_secret(server, clients):
    c = clients.plain
    bad = c.with_cert(None)
    bad.secret = "wrong-secret"
    r = bad.token({"grant_type": "refresh_token", "refresh_token": "x"})
    assert_oauth_error(r, "invalid_client", 401)


def test_no_client_authentication(server, clients):
    r = server.post(server.metadata["token_endpoint"], data={"grant_type": "authorization_code", "code": "x"})
    assert_oauth_error(r, "invalid_client", 401)


def assertion_token_request(client, assertion):
    return client.token({"grant_type": "client_credentials", "scope": "profile"}, assertion=assertion)


def test_valid_assertion_baseline(server, clients):
    """The reference for the assertion cases below: the same request with a good assertion works."""
    r = assertion_token_request(clients.pkjwt_rsa, clients.pkjwt_rsa.assertion())
    assert r.status_code == 200, r.text
    r = assertion_token_request(clients.pkjwt_rsa, clients.pkjwt_rsa.assertion(aud=server.metadata["token_endpoint"]))
    assert r.status_code == 200, f"assertion with aud = token endpoint refused: {r.text}"


def test_expired_client_assertion(server, clients):
    c = clients.pkjwt_rsa
    r = assertion_token_request(c, c.assertion(iat_offset=-600, lifetime=60))
    assert_oauth_error(r, "invalid_client", 401)


def test_replayed_client_assertion_jti(server, clients):
    c = clients.pkjwt_rsa
    a = c.assertion()
    assert assertion_token_request(c, a).status_code == 200
    assert_oauth_error(assertion_token_request(c, a), "invalid_client", 401)
    # a fresh assertion reusing the jti
    a2 = c.assertion(jti=json.loads(__import__("base64").urlsafe_b64decode(a.split(".")[1] + "==="))["jti"])
    assert_oauth_error(assertion_token_request(c, a2), "invalid_client", 401)


def test_client_assertion_wrong_audience(server, clients):
    c = clients.pkjwt_rsa
    assert_oauth_error(assertion_token_request(c, c.assertion(aud="https://evil.example/token")), "invalid_client", 401)


@pytest.mark.parametrize("field", ["iss", "sub"])
def test_client_assertion_wrong_iss_or_sub(server, clients, field):
    c = clients.pkjwt_rsa
    a = c.assertion(extra={field: "demo-plain"})
    assert_oauth_error(assertion_token_request(c, a), "invalid_client", 401)


def test_client_assertion_without_exp_or_jti(server, clients):
    c = clients.pkjwt_rsa
    assert_oauth_error(assertion_token_request(c, c.assertion(drop=("exp",))), "invalid_client", 401)
    assert_oauth_error(assertion_token_request(c, c.assertion(drop=("jti",))), "invalid_client", 401)


def test_rs256_assertion_for_ps256_client(server, clients):
    c = clients.pkjwt_rsa
    assert_oauth_error(assertion_token_request(c, c.assertion(alg="RS256")), "invalid_client", 401)


def test_alg_none_assertion(server, clients):
    c = clients.pkjwt_rsa
    assert_oauth_error(assertion_token_request(c, c.assertion(alg="none")), "invalid_client", 401)


@pytest.mark.filterwarnings("ignore:This key should not be used as an oct key")
def test_hmac_assertion_keyed_with_public_key(server, clients):
    """Algorithm confusion: HS256 keyed with the client's public RSA key."""
    c = clients.pkjwt_rsa
    pub_pem = c.key.as_pem(private=False)
    key = OctKey.import_key(pub_pem)
    a = client_assertion(c.client_id, server.issuer, key, "HS256")
    assert_oauth_error(assertion_token_request(c, a), "invalid_client", 401)


def test_assertion_signed_by_another_key(server, clients):
    a = clients.pkjwt_rsa.assertion()
    # an assertion of pkjwt_rsa presented for demo-fapi-1 (iss/sub mismatch) and one of fapi1's key claiming pkjwt_rsa
    forged = client_assertion(clients.pkjwt_rsa.client_id, server.issuer, clients.fapi1.key, "PS256")
    assert_oauth_error(assertion_token_request(clients.pkjwt_rsa, forged), "invalid_client", 401)
    assert a


def test_client_secret_jwt_wrong_secret(server, clients):
    c = clients.secret_jwt
    a = client_assertion(c.client_id, server.issuer, OctKey.import_key(b"w" * 48), "HS256")
    assert_oauth_error(assertion_token_request(c, a), "invalid_client", 401)


def test_two_authentication_methods(server, clients):
    c = clients.post
    data = {"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.secret}
    import base64
    headers = {"Authorization": "Basic " + base64.b64encode(f"{c.client_id}:{c.secret}".encode()).decode()}
    r = server.post(server.metadata["token_endpoint"], data=data, headers=headers)
    assert r.status_code in (400, 401) and r.json()["error"] in ("invalid_request", "invalid_client"), r.text


def test_tls_client_auth_wrong_certificate(server, clients):
    c = clients.tls.with_cert(clients.cert1)  # a CA-issued certificate with another subject
    r = c.token({"grant_type": "client_credentials", "scope": "profile"})
    assert_oauth_error(r, "invalid_client", 401)


def test_self_signed_tls_client_auth_wrong_certificate(server, clients):
    c = clients.self_signed.with_cert(clients.stranger_cert)
    try:
        r = c.token({"grant_type": "client_credentials", "scope": "profile"})
    except Exception as e:  # the alias may refuse an unknown self-signed certificate in the handshake
        pytest.skip(f"handshake refused the certificate: {e!r}")
    assert_oauth_error(r, "invalid_client", 401)


# --- the authorization endpoint's error channel -------------------------------------------------

def assert_error_page(result, what):
    assert result.kind == "page", f"{what}: expected an error page, got {result.describe()}"
    assert result.status == 400, f"{what}: error page HTTP {result.status}"
    assert result.location is None, f"{what}: error page with a Location header {result.location}"
    assert "text/html" in result.headers.get("content-type", "")


def test_unregistered_redirect_uri_shows_error_page(server, clients):
    b = Browser(server)
    res = b.authorize({"client_id": "demo-plain", "response_type": "code", "scope": "openid", "state": "s1",
                       "redirect_uri": "https://evil.example/callback"})
    assert_error_page(res, "unregistered redirect_uri")


def test_unknown_client_shows_error_page(server):
    res = Browser(server).authorize({"client_id": "no-such-client", "response_type": "code", "scope": "openid",
                                     "redirect_uri": server.issuer + "/demo/callback", "state": "s"})
    assert_error_page(res, "unknown client_id")


def test_missing_client_id_shows_error_page(server):
    res = Browser(server).authorize({"response_type": "code", "scope": "openid", "redirect_uri": server.issuer + "/demo/callback"})
    assert_error_page(res, "missing client_id")


def test_repeated_parameter_at_authorize(server, clients):
    cb = server.issuer + "/demo/callback"
    from urllib.parse import urlencode
    q = urlencode([("client_id", "demo-plain"), ("response_type", "code"), ("scope", "openid"), ("scope", "profile"),
                   ("redirect_uri", cb), ("state", "s")])
    res = Browser(server).authorize(raw_query=q)
    assert (res.kind == "page" and res.status == 400) or res.error == "invalid_request", res.describe()


def test_errors_after_validation_are_redirected_with_state_and_iss(server, clients):
    res = Browser(server).authorize({"client_id": "demo-plain", "response_type": "token", "scope": "openid",
                                     "redirect_uri": clients.plain.redirect_uri, "state": "keep-me"})
    assert res.kind == "redirect", res.describe()
    assert res.error in ("unsupported_response_type", "unauthorized_client"), res.describe()
    assert res.get("state") == "keep-me"
    assert res.get("iss") == server.issuer


def test_unknown_scope_redirects_invalid_scope(server, clients):
    res = Browser(server).authorize({"client_id": "demo-plain", "response_type": "code", "scope": "openid nonsense",
                                     "redirect_uri": clients.plain.redirect_uri, "state": "st"})
    assert res.error == "invalid_scope", res.describe()


def test_consent_denied(server, clients):
    b = Browser(server)
    params = {"client_id": clients.plain.client_id, "response_type": "code", "scope": "openid profile email",
              "redirect_uri": clients.plain.redirect_uri, "state": "deny-state", "prompt": "consent"}
    res = b.authorize(params, decision="deny")
    assert res.error == "access_denied", res.describe()
    assert res.get("state") == "deny-state"


def test_wrong_password_stays_on_login(server, clients):
    b = Browser(server, password="wrong")
    r = b._send("GET", server.metadata["authorization_endpoint"],
                params={"client_id": "demo-plain", "response_type": "code", "scope": "openid",
                        "redirect_uri": clients.plain.redirect_uri, "state": "s"})
    from fapi_client import parse_forms
    form = next(f for f in parse_forms(r.text) if f["action"].endswith("/login"))
    r = b._send("POST", server.issuer + "/login", data={**form["fields"], "username": "alice", "password": "nope"})
    assert r.status_code in (200, 400, 401) and "Location" not in r.headers, f"HTTP {r.status_code}"
    assert "interaction_id" in r.text
    assert b.cookie is None, "a session cookie was set for a wrong password"


def test_consent_without_session_or_csrf(server, clients):
    b = Browser(server)
    r = b._send("GET", server.metadata["authorization_endpoint"],
                params={"client_id": "demo-plain", "response_type": "code", "scope": "openid", "prompt": "consent",
                        "redirect_uri": clients.plain.redirect_uri, "state": "s"})
    from fapi_client import parse_forms
    login = next(f for f in parse_forms(r.text) if f["action"].endswith("/login"))
    r = b._send("POST", server.issuer + "/login", data={**login["fields"], "username": "alice", "password": "wonderland-demo"})
    forms = parse_forms(r.text)
    consent = next((f for f in forms if f["action"].endswith("/consent")), None)
    assert consent is not None, f"no consent page with prompt=consent: HTTP {r.status_code}"
    # wrong CSRF token
    r2 = b._send("POST", server.issuer + "/consent", data={**consent["fields"], "csrf_token": "forged", "decision": "approve"})
    assert r2.status_code == 400 and "Location" not in r2.headers, f"forged csrf_token: HTTP {r2.status_code} {r2.headers.get('Location')}"
    # no session cookie
    anon = Browser(server)
    r3 = anon._send("POST", server.issuer + "/consent", data={**consent["fields"], "decision": "approve"})
    assert r3.status_code == 400 and "Location" not in r3.headers, f"consent without a session: HTTP {r3.status_code}"


# --- token / PAR error format ----------------------------------------------------------------

def test_token_errors_are_json_no_store(server, clients):
    c = clients.plain
    body = assert_oauth_error(c.token({"grant_type": "password", "username": "a", "password": "b"}), "unsupported_grant_type")
    assert isinstance(body.get("error_description", ""), str)
    assert_oauth_error(c.token({}), "invalid_request")


def test_par_errors_are_json_no_store(server, clients):
    c = clients.plain
    r = c.par({"response_type": "code", "scope": "openid", "redirect_uri": "https://evil.example/cb", "state": "s"})
    assert r.status_code == 400 and r.json()["error"] in ("invalid_request", "invalid_redirect_uri"), r.text
    assert "no-store" in r.headers.get("Cache-Control", "")
    bad = c.with_cert(None)
    bad.secret = "wrong"
    assert_oauth_error(bad.par({"response_type": "code", "scope": "openid"}), "invalid_client", 401)


def test_token_endpoint_requires_form_encoding(server, clients):
    r = server.post(server.metadata["token_endpoint"], json={"grant_type": "client_credentials"},
                    headers={"Authorization": "Basic ZGVtby1wbGFpbjp4"})
    assert r.status_code in (400, 401, 415), f"HTTP {r.status_code}"
    assert r.status_code != 500


# --- hostile input: never a 500 --------------------------------------------------------------

ENDPOINTS = ["/token", "/par", "/introspect", "/revoke", "/register", "/login", "/consent", "/authorize", "/userinfo"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_one_megabyte_body(server, path):
    r = server.post(path, data=b"a=" + b"x" * (1024 * 1024), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code in (400, 401, 413), f"1 MB body to {path}: HTTP {r.status_code}"


@pytest.mark.parametrize("path", ENDPOINTS)
def test_garbage_body(server, path):
    garbage = os.urandom(2048)
    for ctype in ["application/x-www-form-urlencoded", "application/json", "application/octet-stream"]:
        r = server.post(path, data=garbage, headers={"Content-Type": ctype})
        assert r.status_code < 500, f"garbage {ctype} to {path}: HTTP {r.status_code} {r.text[:200]}"


def test_garbage_json_to_register(server, srv):
    h = {"Authorization": f"Bearer {srv.initial_access_token}", "Content-Type": "application/json"}
    for body in [b"{not json", b"[]", b"\"str\"", b"{\"redirect_uris\": 5}", b"{\"token_endpoint_auth_method\": \"bogus\"}"]:
        r = server.post("/register", data=body, headers=h)
        assert r.status_code == 400, f"{body!r}: HTTP {r.status_code} {r.text[:300]}"
        assert r.json()["error"] == "invalid_client_metadata", f"{body!r}: {r.text[:300]}"


@pytest.mark.parametrize("path", ["/token", "/par", "/introspect", "/revoke"])
def test_repeated_parameters(server, clients, path):
    c = clients.post
    data = [("client_id", c.client_id), ("client_secret", c.secret), ("grant_type", "client_credentials"),
            ("token", "a"), ("token", "b"), ("scope", "profile"), ("scope", "email"),
            ("response_type", "code"), ("redirect_uri", c.redirect_uri)]
    r = server.post(path, data=data)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request", f"{path}: HTTP {r.status_code} {r.text[:300]}"


def test_long_and_odd_parameters(server, clients):
    b = Browser(server)
    res = b.authorize({"client_id": "demo-plain", "response_type": "code", "scope": "openid",
                       "redirect_uri": clients.plain.redirect_uri, "state": "x" * 20000})
    assert res.status < 500, res.describe()
    res = b.authorize({"client_id": "demo-plain\u0000", "response_type": "code"})
    assert res.kind == "page" and res.status == 400, res.describe()
    r = server.get("/authorize", params={"client_id": "é" * 5000})
    assert r.status_code < 500
    r = server.get("/api/accounts", headers={"Authorization": "Bearer " + "A" * 10000})
    assert r.status_code in (400, 401, 431), f"HTTP {r.status_code}"


def test_unknown_paths_and_methods(server):
    assert server.get("/nope").status_code == 404
    r = server.request("DELETE", "/token")
    assert r.status_code == 405
    r = server.get("/token")
    assert r.status_code == 405


def test_login_pages_headers_and_cookie(server, clients):
    b = Browser(server)
    r = b._send("GET", server.metadata["authorization_endpoint"],
                params={"client_id": "demo-plain", "response_type": "code", "scope": "openid",
                        "redirect_uri": clients.plain.redirect_uri, "state": "s"})
    assert r.status_code == 200
    assert r.headers.get("X-Frame-Options") == "DENY" or "frame-ancestors 'none'" in r.headers.get("Content-Security-Policy", "")
    assert "no-store" in r.headers.get("Cache-Control", "")
    from fapi_client import parse_forms, _set_cookie_values
    login = next(f for f in parse_forms(r.text) if f["action"].endswith("/login"))
    r = b._send("POST", server.issuer + "/login", data={**login["fields"], "username": "alice", "password": "wonderland-demo"})
    cookie = next(v for v in _set_cookie_values(r) if v.startswith("strongroom_session="))
    attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite"} <= attrs, f"session cookie attributes: {cookie.split(';', 1)[1]}"
