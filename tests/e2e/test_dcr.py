"""Dynamic Client Registration (RFC 7591) and management (RFC 7592), held to the FAPI rules the
requested scopes imply; the registered client then runs a FAPI 1.0 Advanced flow."""

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import make_cert, public_jwk, write_cert, write_key
from fapi_client import Browser, Client, bearer, cert_thumbprint, run_fapi_flow


def register(server, srv, metadata, token=None):
    return server.post("/register", json=metadata,
                       headers={"Authorization": f"Bearer {token or srv.initial_access_token}"})


@pytest.fixture(scope="module")
def dcr_keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("dcr")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub, priv = public_jwk(key, "PS256")
    # a CA-less client that authenticates with private_key_jwt and binds tokens to a self-signed certificate
    cert = make_cert("e2e-dcr-client", key)
    write_key(d / "dcr.key.pem", key)
    write_cert(d / "dcr.pem", cert)
    return {"pub": pub, "priv": priv, "cert": (str(d / "dcr.pem"), str(d / "dcr.key.pem"))}


def conformant(srv, dcr_keys, **over):
    m = {
        "client_name": "E2E DCR FAPI client",
        "redirect_uris": [srv.callback],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "PS256",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code id_token", "code"],
        "scope": "openid accounts payments",
        "jwks": {"keys": [dcr_keys["pub"]]},
        "tls_client_certificate_bound_access_tokens": True,
        "request_object_signing_alg": "PS256",
        "id_token_signed_response_alg": "PS256",
        "authorization_signed_response_alg": "PS256",
    }
    m.update(over)
    return m


def test_register_conformant_fapi_client_and_use_it(server, srv, dcr_keys):
    r = register(server, srv, conformant(srv, dcr_keys))
    assert r.status_code == 201, f"conformant FAPI client refused: HTTP {r.status_code} {r.text}"
    assert "no-store" in r.headers.get("Cache-Control", "")
    body = r.json()
    assert body["client_id"]
    assert body["registration_access_token"]
    assert body["registration_client_uri"].endswith("/register/" + body["client_id"])
    assert "client_secret" not in body, "a secret was issued to a private_key_jwt client"
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    # It works as a FAPI 1.0 Advanced client. Its certificate is self-signed: the mTLS alias requires a
    # certificate but does not verify its chain, so it serves for binding there.
    c = Client(server, body["client_id"], "private_key_jwt", key=dcr_keys["priv"], alg="PS256", cert=dcr_keys["cert"],
               redirect_uri=srv.callback, id_token_alg="PS256")
    flow = run_fapi_flow(Browser(server), c, via_par=True, response_type="code", response_mode="jwt")
    assert "code" in flow.result.params, flow.result.describe()
    r = flow.redeem()
    assert r.status_code == 200, f"token for the DCR client: HTTP {r.status_code} {r.text}"
    at = r.json()["access_token"]
    assert c.introspect(at)["cnf"]["x5t#S256"] == cert_thumbprint(dcr_keys["cert"][0])
    assert server.get("/api/accounts", headers=bearer(at), cert=dcr_keys["cert"]).status_code == 200


def test_register_refuses_http_redirect_for_fapi(server, srv, dcr_keys):
    r = register(server, srv, conformant(srv, dcr_keys, redirect_uris=["http://localhost:9000/cb"]))
    assert r.status_code == 400, f"HTTP {r.status_code} {r.text}"
    body = r.json()
    assert body["error"] in ("invalid_redirect_uri", "invalid_client_metadata"), body
    assert "https" in body.get("error_description", "") and "FAPI" in body.get("error_description", ""), body


def test_register_refuses_rs256_request_objects_for_payments(server, srv, dcr_keys):
    r = register(server, srv, conformant(srv, dcr_keys, request_object_signing_alg="RS256"))
    assert r.status_code == 400, f"HTTP {r.status_code} {r.text}"
    body = r.json()
    assert body["error"] == "invalid_client_metadata", body
    desc = body.get("error_description", "")
    assert "request_object_signing_alg" in desc and "8.6" in desc, f"description does not name the rule: {desc}"


@pytest.mark.parametrize("over,field", [
    ({"tls_client_certificate_bound_access_tokens": False}, "tls_client_certificate_bound_access_tokens"),
    ({"token_endpoint_auth_method": "client_secret_basic", "jwks": None}, "token_endpoint_auth_method"),
    ({"request_object_signing_alg": None}, "request_object_signing_alg"),
    ({"token_endpoint_auth_signing_alg": "RS256"}, "token_endpoint_auth_signing_alg"),
    ({"response_types": ["code"], "authorization_signed_response_alg": None}, "authorization_signed_response_alg"),
])
def test_register_refuses_other_advanced_violations(server, srv, dcr_keys, over, field):
    m = conformant(srv, dcr_keys, **over)
    m = {k: v for k, v in m.items() if v is not None}
    r = register(server, srv, m)
    assert r.status_code == 400, f"{over}: HTTP {r.status_code} {r.text}"
    assert field in r.json().get("error_description", ""), f"{over}: {r.text}"


def test_register_plain_client_gets_a_secret(server, srv):
    r = register(server, srv, {"redirect_uris": [srv.callback], "scope": "openid profile",
                               "token_endpoint_auth_method": "client_secret_basic"})
    assert r.status_code == 201, r.text
    assert r.json().get("client_secret")


def test_register_needs_initial_access_token(server, srv, dcr_keys):
    r = server.post("/register", json=conformant(srv, dcr_keys))
    assert r.status_code == 401, f"registration without initial access token: HTTP {r.status_code}"
    r = register(server, srv, conformant(srv, dcr_keys), token="wrong-token")
    assert r.status_code == 401


def test_rfc7592_read_update_delete(server, srv, dcr_keys):
    r = register(server, srv, conformant(srv, dcr_keys, client_name="to manage"))
    assert r.status_code == 201, r.text
    reg = r.json()
    uri, rat = reg["registration_client_uri"], reg["registration_access_token"]
    auth = {"Authorization": f"Bearer {rat}"}
    # read
    r = server.get(uri, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["client_id"] == reg["client_id"] and r.json()["client_name"] == "to manage"
    # wrong token
    assert server.get(uri, headers={"Authorization": "Bearer nope"}).status_code == 401
    # another client's registration token
    other = register(server, srv, conformant(srv, dcr_keys, client_name="other")).json()
    r = server.get(uri, headers={"Authorization": f"Bearer {other['registration_access_token']}"})
    assert r.status_code == 401, f"registration token of another client accepted: HTTP {r.status_code}"
    # update
    new = conformant(srv, dcr_keys, client_name="renamed")
    new["client_id"] = reg["client_id"]
    r = server.request("PUT", uri, json=new, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["client_name"] == "renamed"
    # a non-conformant update is refused
    bad = dict(new, redirect_uris=["http://localhost:9000/cb"])
    r = server.request("PUT", uri, json=bad, headers=auth)
    assert r.status_code == 400, f"non-conformant update accepted: HTTP {r.status_code} {r.text}"
    assert server.get(uri, headers=auth).json()["redirect_uris"] == [srv.callback]
    # client_id mismatch
    r = server.request("PUT", uri, json=dict(new, client_id="someone-else"), headers=auth)
    assert r.status_code == 400, r.text
    # delete
    r = server.request("DELETE", uri, headers=auth)
    assert r.status_code == 204, r.text
    assert server.get(uri, headers=auth).status_code == 401
    res = Browser(server).authorize({"client_id": reg["client_id"], "response_type": "code", "scope": "openid",
                                     "redirect_uri": srv.callback, "state": "s"})
    assert res.kind == "page" and res.status == 400, f"deleted client still authorizes: {res.describe()}"


def test_admin_api_requires_token(server, srv):
    assert server.get("/admin/clients").status_code == 401
    assert server.get("/admin/clients", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = srv.admin("GET", "/clients")
    assert r.status_code == 200 and any(c["client_id"] == "demo-fapi-1" for c in r.json())
    demo1 = next(c for c in r.json() if c["client_id"] == "demo-fapi-1")
    assert "fapi1-advanced" in demo1["profiles"], demo1["profiles"]


def test_admin_check_endpoint(srv, dcr_keys):
    r = srv.admin("POST", "/clients/check", conformant(srv, dcr_keys, redirect_uris=["http://localhost:9000/cb"]))
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is False and r.json()["violations"]
    r = srv.admin("POST", "/clients/check", conformant(srv, dcr_keys))
    assert r.json() == {"ok": True, "violations": []}, r.text
