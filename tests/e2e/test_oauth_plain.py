"""Plain OAuth 2.0 / OpenID Connect: code flow + PKCE with every client authentication method,
refresh tokens, client credentials, introspection, revocation, userinfo and the resource API."""

import pytest

from fapi_client import (Browser, bearer, cert_thumbprint, run_code_flow, verify_id_token)

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "tls_client_auth",
                "self_signed_tls_client_auth", "none"]
BY_METHOD = {"client_secret_basic": "plain", "client_secret_post": "post", "client_secret_jwt": "secret_jwt",
             "private_key_jwt": "pkjwt", "tls_client_auth": "tls", "self_signed_tls_client_auth": "self_signed", "none": "public"}


def login_and_tokens(server, client, scope="openid profile email"):
    flow = run_code_flow(Browser(server), client, scope)
    assert flow.result.kind == "redirect", flow.result.describe()
    assert flow.result.mode == "query"
    assert flow.result.get("state") == flow.state
    assert flow.result.get("iss") == server.issuer, "RFC 9207 iss missing from the authorization response"
    return flow, flow.tokens()


@pytest.mark.parametrize("method", AUTH_METHODS)
def test_code_flow_with_pkce(server, clients, method):
    client = getattr(clients, BY_METHOD[method])
    flow, tokens = login_and_tokens(server, client)
    assert tokens["token_type"].lower() == "bearer"
    assert tokens["expires_in"] > 0
    assert set(tokens["scope"].split()) == {"openid", "profile", "email"}
    claims = verify_id_token(tokens["id_token"], server, client.client_id, nonce=flow.nonce, access_token=tokens["access_token"])
    # userinfo with the Authorization header
    r = server.get(server.metadata["userinfo_endpoint"], headers=bearer(tokens["access_token"]), cert=client.cert)
    assert r.status_code == 200, f"userinfo: HTTP {r.status_code} {r.text}"
    info = r.json()
    assert info["sub"] == claims["sub"]
    assert info.get("email") == "alice@example.com"
    assert info.get("name") == "Alice Liddell"


def test_code_flow_without_pkce_is_allowed_for_plain_oauth(server, clients):
    flow = run_code_flow(Browser(server), clients.plain, "openid", pkce=False)
    assert "code" in flow.result.params, flow.result.describe()
    flow.tokens()


def test_refresh_token_rotation_and_replay_revokes_family(server, clients):
    c = clients.plain
    _, t1 = login_and_tokens(server, c, "openid offline_access")
    rt1 = t1["refresh_token"]
    r = c.token({"grant_type": "refresh_token", "refresh_token": rt1})
    assert r.status_code == 200, r.text
    t2 = r.json()
    assert t2["refresh_token"] != rt1, "refresh token not rotated"
    assert t2["access_token"] != t1["access_token"]
    # replay of the rotated-out token
    r = c.token({"grant_type": "refresh_token", "refresh_token": rt1})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", f"replay: HTTP {r.status_code} {r.text}"
    # the whole family is gone
    r = c.token({"grant_type": "refresh_token", "refresh_token": t2["refresh_token"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", \
        f"the newest refresh token still works after a replay of its predecessor: HTTP {r.status_code} {r.text}"
    assert c.introspect(t2["access_token"])["active"] is False, "access token of a revoked family is still active"


def test_refresh_scope_narrowing(server, clients):
    c = clients.post
    _, t = login_and_tokens(server, c, "openid profile email")
    r = c.token({"grant_type": "refresh_token", "refresh_token": t["refresh_token"], "scope": "openid profile"})
    assert r.status_code == 200, r.text
    assert set(r.json()["scope"].split()) == {"openid", "profile"}
    r = c.token({"grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"], "scope": "openid offline_access email"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope", r.text


def test_client_credentials(server, clients):
    c = clients.post
    r = c.token({"grant_type": "client_credentials", "scope": "profile"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "refresh_token" not in body and "id_token" not in body
    info = c.introspect(body["access_token"])
    assert info["active"] is True and info["client_id"] == c.client_id and info["scope"] == "profile"
    r = c.token({"grant_type": "client_credentials", "scope": "openid"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope", r.text


def test_client_credentials_refused_for_client_without_the_grant(server, clients):
    r = clients.plain.token({"grant_type": "client_credentials"})
    assert r.status_code in (400, 401) and r.json()["error"] == "unauthorized_client", r.text


def test_introspection(server, clients):
    c = clients.plain
    flow, t = login_and_tokens(server, c, "openid profile")
    info = c.introspect(t["access_token"])
    assert info["active"] is True
    assert info["client_id"] == c.client_id
    assert set(info["scope"].split()) == {"openid", "profile"}
    assert info["exp"] > info["iat"]
    assert info.get("sub")
    assert info.get("iss") == server.issuer
    assert c.introspect("not-a-token")["active"] is False
    assert c.introspect(t["refresh_token"])["active"] is True
    # another client learns nothing about this client's token
    assert clients.post.introspect(t["access_token"])["active"] is False


def test_introspection_requires_client_authentication(server, clients):
    r = server.post(server.metadata["introspection_endpoint"], data={"token": "x"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text


def test_revocation_of_access_token(server, clients):
    c = clients.plain
    _, t = login_and_tokens(server, c, "openid")
    r = c.revoke(t["access_token"], "access_token")
    assert r.status_code == 200, r.text
    assert c.introspect(t["access_token"])["active"] is False
    r = server.get(server.metadata["userinfo_endpoint"], headers=bearer(t["access_token"]))
    assert r.status_code == 401, f"revoked token accepted by userinfo: HTTP {r.status_code}"
    # unknown token: still 200 (RFC 7009 §2.2)
    assert c.revoke("unknown-token-value").status_code == 200


def test_revocation_of_refresh_token_revokes_family(server, clients):
    c = clients.post
    _, t = login_and_tokens(server, c, "openid")
    assert c.revoke(t["refresh_token"], "refresh_token").status_code == 200
    r = c.token({"grant_type": "refresh_token", "refresh_token": t["refresh_token"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    assert c.introspect(t["access_token"])["active"] is False


def test_revocation_by_another_client_has_no_effect(server, clients):
    _, t = login_and_tokens(server, clients.plain, "openid")
    assert clients.post.revoke(t["access_token"]).status_code == 200
    assert clients.plain.introspect(t["access_token"])["active"] is True


def test_userinfo_post_and_insufficient_scope(server, clients):
    _, t = login_and_tokens(server, clients.plain, "openid")
    r = server.post(server.metadata["userinfo_endpoint"], headers=bearer(t["access_token"]))
    assert r.status_code == 200 and "sub" in r.json()
    assert "email" not in r.json(), "email released without the email scope"
    r = clients.post.token({"grant_type": "client_credentials", "scope": "profile"})
    at = r.json()["access_token"]
    r = server.get(server.metadata["userinfo_endpoint"], headers=bearer(at))
    assert r.status_code in (401, 403), f"userinfo with a token without openid: HTTP {r.status_code}"


def test_userinfo_without_token(server):
    r = server.get(server.metadata["userinfo_endpoint"])
    assert r.status_code == 401
    assert r.headers.get("WWW-Authenticate", "").lower().startswith("bearer")


# --- the resource API with certificate-bound tokens --------------------------------------------

@pytest.fixture(scope="module")
def bound_token(server, clients):
    """An access token of demo-fapi-1 (FAPI 1.0 Baseline, accounts), bound to client1's certificate."""
    c = clients.fapi1
    flow = run_code_flow(Browser(server), c, "openid accounts")
    assert "code" in flow.result.params, flow.result.describe()
    t = flow.tokens()
    info = c.introspect(t["access_token"])
    assert info["active"] is True
    assert info.get("cnf", {}).get("x5t#S256") == cert_thumbprint(clients.cert1[0]), f"introspection cnf = {info.get('cnf')}"
    return t["access_token"]


def test_resource_with_bound_certificate(server, clients, bound_token):
    r = server.get("/api/accounts", headers=bearer(bound_token), cert=clients.cert1)
    assert r.status_code == 200, f"HTTP {r.status_code} {r.text}"
    assert r.json()["data"]["account"]


def test_resource_with_other_certificate(server, clients, bound_token):
    r = server.get("/api/accounts", headers=bearer(bound_token), cert=clients.cert2)
    assert r.status_code == 401, f"token bound to client1 accepted with client2's certificate: HTTP {r.status_code}"
    assert r.json()["error"] == "invalid_token"
    assert "invalid_token" in r.headers.get("WWW-Authenticate", "")


def test_resource_without_certificate(server, bound_token):
    r = server.get("/api/accounts", headers=bearer(bound_token))
    assert r.status_code == 401, f"certificate-bound token accepted without a certificate: HTTP {r.status_code}"
    assert r.json()["error"] == "invalid_token"


def test_resource_refuses_token_in_query(server, clients, bound_token):
    r = server.get("/api/accounts", params={"access_token": bound_token}, cert=clients.cert1)
    assert r.status_code in (400, 401), f"token in the query string: HTTP {r.status_code}"
    r = server.get("/api/accounts", params={"access_token": bound_token}, headers=bearer(bound_token), cert=clients.cert1)
    assert r.status_code != 200, "a request with the token also in the query string was served"


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_resource_bearer_scheme_case_insensitive(server, clients, bound_token, scheme):
    r = server.get("/api/accounts", headers=bearer(bound_token, scheme), cert=clients.cert1)
    assert r.status_code == 200, f"scheme {scheme!r}: HTTP {r.status_code} {r.text}"


def test_resource_without_token_and_with_garbage(server, clients):
    r = server.get("/api/accounts", cert=clients.cert1)
    assert r.status_code == 401
    assert r.headers.get("WWW-Authenticate", "").lower().startswith("bearer")
    r = server.get("/api/accounts", headers=bearer("garbage"), cert=clients.cert1)
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    r = server.get("/api/accounts", headers={"Authorization": "Basic Zm9vOmJhcg=="}, cert=clients.cert1)
    assert r.status_code in (400, 401)


def test_resource_needs_a_fapi_scope(server, clients):
    _, t = login_and_tokens(server, clients.plain, "openid")
    r = server.get("/api/accounts", headers=bearer(t["access_token"]))
    assert r.status_code == 403, f"plain openid token on /api/accounts: HTTP {r.status_code}"


# --- more flows ------------------------------------------------------------------------------

def test_authorize_by_post(server, clients):
    from fapi_client import code_params
    c = clients.plain
    params, verifier = code_params(c, "openid")
    res = Browser(server).authorize(params, method="POST")
    assert "code" in res.params, res.describe()
    r = c.redeem(res["code"], verifier)
    assert r.status_code == 200, r.text


def test_single_sign_on_and_prompt(server, clients):
    from fapi_client import code_params
    c = clients.plain
    b = Browser(server)
    first = run_code_flow(b, c, "openid")
    assert "code" in first.result.params and "login" in first.result.steps, first.result.describe()
    second = run_code_flow(b, c, "openid")
    assert "code" in second.result.params, second.result.describe()
    assert "login" not in second.result.steps, f"signed-in user asked to log in again: {second.result.steps}"
    relogin = run_code_flow(b, c, "openid", prompt="login")
    assert "login" in relogin.result.steps, f"prompt=login did not ask for the password: {relogin.result.steps}"
    silent = run_code_flow(b, c, "openid", prompt="none")
    assert "code" in silent.result.params and silent.result.steps == [], silent.result.describe()
    anonymous = Browser(server).authorize(code_params(c, "openid", prompt="none")[0])
    assert anonymous.error == "login_required", anonymous.describe()


def test_par_for_plain_client(server, clients):
    from fapi_client import code_params
    c = clients.plain
    params, verifier = code_params(c, "openid profile")
    r = c.par(params)
    assert r.status_code == 201, r.text
    res = Browser(server).authorize({"client_id": c.client_id, "request_uri": r.json()["request_uri"]})
    assert "code" in res.params and res.get("state") == params["state"], res.describe()
    assert c.redeem(res["code"], verifier).status_code == 200


def test_redirect_uri_exact_match(server, clients):
    c = clients.plain
    for uri in [c.redirect_uri + "/", c.redirect_uri + "?x=1", c.redirect_uri.upper().replace("HTTPS", "https"),
                c.redirect_uri.replace("/demo/callback", "/demo/callback2")]:
        res = Browser(server).authorize({"client_id": c.client_id, "response_type": "code", "scope": "openid",
                                         "redirect_uri": uri, "state": "s"})
        assert res.kind == "page" and res.status == 400 and res.location is None, f"{uri}: {res.describe()}"


def test_userinfo_with_bound_token_needs_certificate(server, clients, bound_token):
    r = server.get(server.metadata["userinfo_endpoint"], headers=bearer(bound_token))
    assert r.status_code == 401, f"userinfo served a certificate-bound token without the certificate: HTTP {r.status_code}"
    r = server.get(server.endpoint("userinfo_endpoint", mtls=True), headers=bearer(bound_token), cert=clients.cert1)
    assert r.status_code == 200, r.text


def test_signed_introspection_response(server, clients):
    """RFC 9701: Accept: application/token-introspection+jwt gives a JWT verifiable with the JWKS."""
    from fapi_client import verify_server_jwt
    c = clients.plain
    _, t = login_and_tokens(server, c, "openid")
    r = c.backchannel("introspection_endpoint", {"token": t["access_token"]},
                      headers={"Accept": "application/token-introspection+jwt"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/token-introspection+jwt")
    header, claims = verify_server_jwt(r.text, server)
    assert header.get("typ") == "token-introspection+jwt"
    assert claims["iss"] == server.issuer and claims["aud"] == c.client_id
    assert claims["token_introspection"]["active"] is True
