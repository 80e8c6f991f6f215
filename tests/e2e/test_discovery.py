"""Discovery (OIDC Discovery 1.0, RFC 8414), the JWKS, the demo kit, and TLS basics."""

import socket
import ssl
import warnings

import pytest
import requests
from joserfc import jwt

from fapi_client import Browser, run_code_flow, run_fapi_flow, unverified_header, verify_id_token

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def test_demo_init_honours_ports(kit):
    """`strongroom demo init DIR --port P --mtls-port Q` must write issuer https://localhost:P and the listeners on P/Q."""
    w = kit["written"]
    got = (w["service"]["issuer"], w["server"]["port"], w["server"].get("mtls_alias", {}).get("port"))
    want = (f"https://localhost:{kit['port']}", kit["port"], kit["mtls_port"])
    assert got == want, f"demo init --port {kit['port']} --mtls-port {kit['mtls_port']} wrote (issuer, port, mtls port) = {got}"


def test_demo_kit_files(kit):
    for name in ["ca.pem", "ca.key.pem", "server.pem", "server.key.pem", "client1.pem", "client1.key.pem", "client1.jwks.json",
                 "client1.public.jwks.json", "client2.pem", "client2.key.pem", "client2.jwks.json", "client2.public.jwks.json",
                 "client3.pem", "client3.key.pem", "client3.jwks.json", "client3.public.jwks.json",
                 "client4.pem", "client4.key.pem", "client4.jwks.json", "client4.public.jwks.json", "strongroom.yaml"]:
        assert (kit["dir"] / name).exists(), f"demo kit lacks {name}"
    ids = [c["client_id"] for c in kit["written"]["clients"]]
    assert ids == ["demo-fapi-1", "demo-fapi-2", "demo-fapi2-dpop", "demo-fapi2-mtls", "demo-plain"], ids


def test_openid_configuration(server, srv):
    r = server.get("/.well-known/openid-configuration")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    m = r.json()
    iss = srv.issuer
    assert m["issuer"] == iss
    for name, path in [("authorization_endpoint", "/authorize"), ("token_endpoint", "/token"),
                       ("pushed_authorization_request_endpoint", "/par"), ("userinfo_endpoint", "/userinfo"),
                       ("introspection_endpoint", "/introspect"), ("revocation_endpoint", "/revoke"),
                       ("jwks_uri", "/jwks"), ("registration_endpoint", "/register")]:
        assert m[name] == iss + path, f"{name} = {m.get(name)!r}"
    aliases = m["mtls_endpoint_aliases"]
    for name in ["token_endpoint", "pushed_authorization_request_endpoint", "userinfo_endpoint", "introspection_endpoint",
                 "revocation_endpoint"]:
        assert aliases[name].startswith(f"https://localhost:{srv.mtls_port}/"), f"mtls alias {name} = {aliases.get(name)!r}"
    assert {"code", "code id_token"} <= set(m["response_types_supported"])
    assert {"query", "fragment", "jwt"} <= set(m["response_modes_supported"])
    assert {"authorization_code", "refresh_token", "client_credentials"} <= set(m["grant_types_supported"])
    assert {"private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth", "client_secret_basic"} <= set(
        m["token_endpoint_auth_methods_supported"])
    for key in ["id_token_signing_alg_values_supported", "request_object_signing_alg_values_supported",
                "authorization_signing_alg_values_supported"]:
        algs = set(m[key])
        assert {"PS256", "ES256"} <= algs, f"{key} = {m[key]}"
        assert "none" not in algs and "RS256" not in algs, f"{key} offers {m[key]}"
    assert "none" not in m.get("token_endpoint_auth_signing_alg_values_supported", [])
    assert "S256" in m["code_challenge_methods_supported"]
    assert m["tls_client_certificate_bound_access_tokens"] is True
    assert "urn:mace:incommon:iap:silver" in m["acr_values_supported"]
    assert {"openid", "accounts", "payments"} <= set(m["scopes_supported"])
    assert m["claims_parameter_supported"] is True
    assert m["request_parameter_supported"] is True
    assert m["authorization_response_iss_parameter_supported"] is True
    assert "public" in m["subject_types_supported"]


def test_oauth_authorization_server_metadata(server, srv):
    r = server.get("/.well-known/oauth-authorization-server")
    assert r.status_code == 200
    m = r.json()
    assert m["issuer"] == srv.issuer
    assert m["token_endpoint"] == srv.issuer + "/token"


def test_jwks_public_members_only(server):
    r = server.get(server.metadata["jwks_uri"])
    assert r.status_code == 200
    assert "json" in r.headers["Content-Type"]
    keys = r.json()["keys"]
    assert keys, "empty JWKS"
    kids = [k.get("kid") for k in keys]
    assert len(set(kids)) == len(kids), f"duplicate kids {kids}"
    for k in keys:
        leaked = PRIVATE_MEMBERS & set(k)
        assert not leaked, f"JWKS key {k.get('kid')} publishes private members {leaked}"
        assert k.get("kid"), f"key without kid: {k}"
        assert k.get("use") == "sig", f"key {k['kid']} use={k.get('use')!r}"
        assert k.get("alg") in ("PS256", "ES256"), f"key {k['kid']} alg={k.get('alg')!r}"
        if k["kty"] == "RSA":
            assert len(k["n"]) >= 342, "RSA key smaller than 2048 bits"
    assert {k["alg"] for k in keys} >= {"PS256", "ES256"}


@pytest.mark.parametrize("client_name,alg", [("plain", None), ("fapi1", "PS256"), ("fapi2", "ES256")])
def test_server_signed_id_token_verifies_with_joserfc(server, clients, client_name, alg):
    c = getattr(clients, client_name)
    b = Browser(server)
    if client_name == "plain":
        flow = run_code_flow(b, c, "openid profile")
    else:
        flow = run_fapi_flow(b, c)
    assert flow.result.kind == "redirect", flow.result.describe()
    tokens = flow.tokens()
    idt = tokens["id_token"]
    header = unverified_header(idt)
    if alg:
        assert header["alg"] == alg, f"ID token alg {header['alg']} but {c.client_id} registered {alg}"
    # A plain joserfc decode with the JWKS: the kid selects the key.
    tok = jwt.decode(idt, server.jwks(), algorithms=["PS256", "ES256"])
    assert tok.claims["aud"] == c.client_id
    verify_id_token(idt, server, c.client_id, nonce=flow.nonce, access_token=tokens["access_token"])


def test_health_and_metrics(server, srv):
    r = server.get("/healthz")
    assert r.status_code == 200 and r.json().get("status") == "ok"
    # Metrics are for operators: the admin credential is required when one is configured.
    r = server.get("/metrics")
    assert r.status_code == 401, r.text
    r = server.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    r = server.get("/metrics", headers={"Authorization": f"Bearer {srv.admin_token}"})
    assert r.status_code == 200
    assert "strongroom_requests_total" in r.text


def test_main_listener_works_without_client_certificate(server):
    """The listener requests but does not require a certificate: discovery and the authorization page work without one."""
    assert server.get("/.well-known/openid-configuration").status_code == 200
    r = server.get("/authorize", params={"client_id": "demo-plain", "response_type": "code", "scope": "openid",
                                          "redirect_uri": server.issuer + "/demo/callback", "state": "s"})
    assert r.status_code == 200 and "interaction_id" in r.text, f"HTTP {r.status_code}"


def test_mtls_alias_requires_client_certificate(server, srv, clients):
    url = server.endpoint("token_endpoint", mtls=True)
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        r = requests.post(url, data={"grant_type": "client_credentials"}, verify=server.ca, timeout=10)
        pytest.fail(f"mTLS alias answered without a client certificate: HTTP {r.status_code}")
    # With a certificate the alias answers.
    r = requests.post(url, data={"grant_type": "client_credentials", "client_id": "demo-fapi-2", "scope": "accounts"},
                      verify=server.ca, cert=clients.cert2, timeout=10)
    assert r.status_code == 200, r.text


def test_tls_1_1_refused(srv):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(srv.api.ca)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pytest.skip("this Python/OpenSSL cannot offer TLS 1.1")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
                pytest.fail(f"server negotiated {tls.version()}")


def test_tls_1_2_accepted(srv):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(srv.api.ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
            assert tls.version() == "TLSv1.2"
