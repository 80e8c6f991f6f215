"""FAPI 1.0 Part 2 (Advanced) happy flows and FAPI 1.0 Part 1 (Baseline) flows, decided per
request from the scopes' attributes (accounts: fapi=r, payments: fapi=rw)."""

import pytest

from fapi_client import (ACR_SILVER, Browser, bearer, cert_thumbprint, code_params, run_code_flow, run_fapi_flow,
                         verify_id_token)

CLIENTS = ["fapi1", "fapi2"]  # private_key_jwt (PS256) / tls_client_auth (ES256)
METHODS = ["request", "par"]
RESPONSES = ["hybrid", "jarm"]


def advanced_flow(server, client, method, response):
    kw = {"via_par": method == "par"}
    if response == "jarm":
        kw.update(response_type="code", response_mode="jwt")
    return run_fapi_flow(Browser(server), client, **kw)


@pytest.mark.parametrize("response", RESPONSES)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("client_name", CLIENTS)
def test_advanced_happy_flow(server, clients, client_name, method, response):
    c = getattr(clients, client_name)
    flow = advanced_flow(server, c, method, response)
    res = flow.result
    assert res.kind == "redirect", f"{client_name}/{method}/{response}: {res.describe()}"
    assert not res.error, res.describe()
    if response == "hybrid":
        assert res.mode == "fragment", f"hybrid response not in the fragment: {res.location}"
        assert res.get("state") == flow.state
        assert res.get("iss") == server.issuer
        claims = verify_id_token(res["id_token"], server, c.client_id, nonce=flow.nonce, code=res["code"], state=flow.state,
                                 expected_alg=c.id_token_alg, require_c_hash=True, require_s_hash=True)
        assert claims.get("acr") == ACR_SILVER, f"front-channel ID token acr = {claims.get('acr')!r}"
    else:
        assert res.jarm, f"expected a JARM response: {res.describe()}"
        assert res.mode == "query", f"response_mode=jwt with response_type=code must default to query.jwt: {res.location}"
        assert set(res.raw_params) == {"response"}, f"parameters outside the JARM JWT: {res.raw_params}"
        assert res.jarm_header["alg"] == c.id_token_alg, f"JARM alg {res.jarm_header['alg']}"
        assert res.get("state") == flow.state
        assert res.get("code")
    tokens = flow.tokens()
    assert set(tokens["scope"].split()) == {"openid", "payments"}
    claims = verify_id_token(tokens["id_token"], server, c.client_id, nonce=flow.nonce, access_token=tokens["access_token"],
                             expected_alg=c.id_token_alg)
    assert claims.get("acr") == ACR_SILVER, f"ID token acr = {claims.get('acr')!r}"
    info = c.introspect(tokens["access_token"])
    assert info["active"] is True
    assert info.get("cnf", {}).get("x5t#S256") == cert_thumbprint(c.cert[0]), \
        f"access token not bound to the client certificate: cnf={info.get('cnf')}"
    r = server.get("/api/accounts", headers=bearer(tokens["access_token"]), cert=c.cert)
    assert r.status_code == 200, f"/api/accounts: HTTP {r.status_code} {r.text}"
    r = server.post("/api/payments", json={"amount": "10.00", "currency": "GBP"}, headers=bearer(tokens["access_token"]), cert=c.cert)
    assert r.status_code == 201, f"/api/payments: HTTP {r.status_code} {r.text}"
    # refresh keeps the binding
    r = c.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200, r.text
    assert c.introspect(r.json()["access_token"]).get("cnf", {}).get("x5t#S256") == cert_thumbprint(c.cert[0])


def test_token_of_second_client_used_with_first_clients_certificate(server, clients):
    flow = advanced_flow(server, clients.fapi2, "request", "hybrid")
    tokens = flow.tokens()
    r = server.get("/api/accounts", headers=bearer(tokens["access_token"]), cert=clients.cert1)
    assert r.status_code == 401, f"client2's token accepted with client1's certificate: HTTP {r.status_code}"
    assert r.json()["error"] == "invalid_token"


def test_refresh_token_needs_the_bound_certificate(server, clients):
    """RFC 8705 §3/§4: a refresh token issued over mTLS is bound to that certificate. demo-fapi-1
    authenticates with private_key_jwt, so a valid assertion authenticates it whatever certificate
    is in the TLS connection: presenting client2's (valid, CA-issued) certificate leaves the refresh
    token's binding as the only thing wrong."""
    c = clients.fapi1
    flow = advanced_flow(server, c, "request", "hybrid")
    tokens = flow.tokens()
    assert c.introspect(tokens["access_token"]).get("cnf", {}).get("x5t#S256") == cert_thumbprint(c.cert[0])
    r = c.with_cert(clients.cert2).token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert r.status_code == 400, f"refresh with another certificate: HTTP {r.status_code} {r.text}"
    assert r.json() == {"error": "invalid_grant", "error_description": "the refresh token is bound to another certificate"}, r.text
    # The refusal did not spend the token: with the bound certificate the same refresh succeeds.
    r = c.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200, f"refresh with the bound certificate after the refusal: HTTP {r.status_code} {r.text}"


def test_advanced_form_post_and_fragment_jwt(server, clients):
    c = clients.fapi1
    flow = run_fapi_flow(Browser(server), c, response_type="code", response_mode="form_post.jwt")
    assert flow.result.kind == "form_post" and flow.result.jarm, flow.result.describe()
    assert flow.result.location == c.redirect_uri
    flow.tokens()
    flow = run_fapi_flow(Browser(server), c, response_type="code", response_mode="fragment.jwt")
    assert flow.result.mode == "fragment" and flow.result.jarm, flow.result.describe()
    flow.tokens()


def test_parameters_outside_the_request_object_are_ignored(server, clients):
    """FAPI 1.0 Part 2 §5.2.2-10: only the request object's parameters are used."""
    c = clients.fapi1
    flow = run_fapi_flow(Browser(server), c, outer={"state": "outer-state", "scope": "openid payments profile"})
    assert flow.result.get("state") == flow.state, f"state from outside the request object used: {flow.result.describe()}"
    tokens = flow.tokens()
    assert "profile" not in tokens["scope"].split()


def test_advanced_client_credentials_is_certificate_bound(server, clients):
    c = clients.fapi2
    r = c.token({"grant_type": "client_credentials", "scope": "payments"})
    assert r.status_code == 200, r.text
    info = c.introspect(r.json()["access_token"])
    assert info["cnf"]["x5t#S256"] == cert_thumbprint(c.cert[0])


def test_main_listener_does_not_ask_for_a_certificate(server, clients):
    """The demo kit's main listener does not ask for a client certificate (server.request_client_certificate:
    false, so browsers on the login pages are not prompted): a certificate-bound client's token request
    there arrives without one and is refused; its flows use the mTLS alias (the happy flows above)."""
    flow = advanced_flow(server, clients.fapi1, "request", "hybrid")
    r = flow.redeem(mtls=False)
    assert r.status_code == 400, f"token at the main listener: HTTP {r.status_code} {r.text}"
    assert r.json()["error"] == "invalid_request", r.text
    assert "certificate" in r.json()["error_description"], r.text


# --- FAPI 1.0 Baseline ---------------------------------------------------------------------

def test_baseline_public_client_with_pkce(server, clients):
    c = clients.public_fapi
    flow = run_code_flow(Browser(server), c, "openid accounts")
    assert "code" in flow.result.params, flow.result.describe()
    tokens = flow.tokens()
    verify_id_token(tokens["id_token"], server, c.client_id, nonce=flow.nonce, access_token=tokens["access_token"])
    r = server.get("/api/accounts", headers=bearer(tokens["access_token"]))
    assert r.status_code == 200, f"public Baseline token on /api/accounts: HTTP {r.status_code} {r.text}"
    assert r.json()["meta"]["profile"] == "fapi1-baseline"


def test_baseline_confidential_client_without_request_object(server, clients):
    c = clients.fapi1
    flow = run_code_flow(Browser(server), c, "openid accounts")
    assert "code" in flow.result.params, flow.result.describe()
    tokens = flow.tokens()
    r = server.get("/api/accounts", headers=bearer(tokens["access_token"]), cert=c.cert)
    assert r.status_code == 200
    assert r.json()["meta"]["profile"] == "fapi1-baseline"
    r = server.post("/api/payments", json={}, headers=bearer(tokens["access_token"]), cert=c.cert)
    assert r.status_code == 403, f"accounts token used for payments: HTTP {r.status_code}"


def test_same_client_baseline_for_accounts_advanced_for_payments(server, clients):
    """Nothing changes but the scope: a plain request succeeds for accounts and fails for payments."""
    c = clients.fapi1
    ok = run_code_flow(Browser(server), c, "openid accounts")
    assert "code" in ok.result.params, ok.result.describe()
    bad = run_code_flow(Browser(server), c, "openid payments")
    assert bad.result.kind == "redirect" and bad.result.error == "invalid_request", bad.result.describe()
    assert "request" in (bad.result.get("error_description") or ""), bad.result.describe()


def test_accounts_and_payments_together_select_advanced(server, clients):
    c = clients.fapi1
    bad = run_code_flow(Browser(server), c, "openid accounts payments")
    assert bad.result.error == "invalid_request", bad.result.describe()
    flow = run_fapi_flow(Browser(server), c, scope="openid accounts payments")
    assert "code" in flow.result.params, flow.result.describe()
    tokens = flow.tokens()
    assert c.introspect(tokens["access_token"]).get("strongroom_profile", "fapi1-advanced") == "fapi1-advanced"


def test_baseline_state_and_nonce_echoed(server, clients):
    c = clients.fapi2
    params, verifier = code_params(c, "accounts", nonce=False)
    res = Browser(server).authorize(params)
    assert res.get("state") == params["state"], res.describe()
