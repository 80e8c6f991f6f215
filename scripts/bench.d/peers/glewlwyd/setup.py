#!/usr/bin/env python3
"""Sets up glewlwyd for `scripts/bench --peers`.

    setup.py prepare DATABASE            before glewlwyd starts, on a database made by glewlwyd's
                                         own init.sqlite3.sql: lets the client module store the
                                         clients' sign_kid property (not in its default list)
    setup.py api BASE_URL CA.pem CLIENTS.json    once glewlwyd runs: everything else

"api" logs in as the administrator that glewlwyd's SQLite initialisation script creates (admin /
password), then creates the scope "profile", one instance of the OpenID Connect plugin named
"oidc" (client_credentials enabled, access tokens 3600 s) whose signing keys are a fresh ES256 key
(the default) and a fresh RSA-2048 PS256 key, and the clients bench-basic (a: its tokens are
signed with the ES256 key, the cheapest signature glewlwyd offers, as its tokens are always JWTs)
and bench-jwt-at (c: PS256, through the client's sign_kid property). Uses only the standard
library and `cryptography`.
"""
import base64
import http.cookiejar
import json
import sqlite3
import ssl
import sys
import urllib.request

from cryptography.hazmat.primitives.asymmetric import ec, rsa


def b64(n: int, length: int = 0) -> str:
    raw = n.to_bytes(length or (n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def ec_jwk(kid):
    key = ec.generate_private_key(ec.SECP256R1())
    priv, pub = key.private_numbers(), key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
            "x": b64(pub.x, 32), "y": b64(pub.y, 32), "d": b64(priv.private_value, 32)}


def rsa_jwk(kid):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p, pub = key.private_numbers(), key.public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "alg": "PS256", "use": "sig", "n": b64(pub.n), "e": b64(pub.e),
            "d": b64(p.d), "p": b64(p.p), "q": b64(p.q), "dp": b64(p.dmp1), "dq": b64(p.dmq1), "qi": b64(p.iqmp)}


def prepare(database):
    with sqlite3.connect(database) as db:
        (parameters,) = db.execute("SELECT gcmi_parameters FROM g_client_module_instance WHERE gcmi_name = 'database'").fetchone()
        parameters = json.loads(parameters)
        parameters["data-format"]["sign_kid"] = {"multiple": False, "read": True, "write": True}
        db.execute("UPDATE g_client_module_instance SET gcmi_parameters = ? WHERE gcmi_name = 'database'",
                   (json.dumps(parameters),))


def api(base, ca, clients_file):
    context = ssl.create_default_context(cafile=ca)
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context),
                                         urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def call(method, path, body):
        request = urllib.request.Request(base + "/api/" + path, data=json.dumps(body).encode(), method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with opener.open(request) as response:
                return response.status
        except urllib.error.HTTPError as e:
            raise SystemExit(f"glewlwyd set-up: {method} {path}: {e.code} {e.read().decode(errors='replace')}")

    call("POST", "auth/", {"username": "admin", "password": "password"})
    call("POST", "scope/", {"name": "profile", "display_name": "profile", "description": "benchmark scope",
                            "password_required": False, "scheme": {}})
    parameters = {
        "iss": base,
        "jwks-private": json.dumps({"keys": [ec_jwk("es256"), rsa_jwk("ps256")]}),
        "default-kid": "es256",
        "client-sign_kid-parameter": "sign_kid",
        "jwks-show": True,
        "access-token-duration": 3600,
        "refresh-token-duration": 1209600,
        "code-duration": 600,
        "refresh-token-rolling": False,
        "allow-non-oidc": True,
        "auth-type-code-enabled": False,
        "auth-type-token-enabled": False,
        "auth-type-id-token-enabled": False,
        "auth-type-none-enabled": False,
        "auth-type-password-enabled": False,
        "auth-type-client-enabled": True,
        "auth-type-device-enabled": False,
        "auth-type-refresh-enabled": False,
        "allowed-scope": ["openid", "profile"],
        "scope": [],
        "additional-parameters": [],
        "claims": [],
        "subject-type": "public",
        "introspection-revocation-allowed": False,
        "register-client-allowed": False,
        "session-management-allowed": False,
    }
    call("POST", "mod/plugin/", {"module": "oidc", "name": "oidc", "display_name": "oidc", "parameters": parameters})
    with open(clients_file) as f:
        for record in json.load(f):
            if "client_secret" not in record or record.get("resource_server"):
                continue  # only the clients of a and c
            client = {"client_id": record["client_id"], "name": record["client_id"], "enabled": True,
                      "confidential": True, "client_secret": record["client_secret"],
                      "token_endpoint_auth_method": ["client_secret_basic"],
                      "authorization_type": ["client_credentials"], "scope": ["profile"], "redirect_uri": []}
            if record.get("access_token_format") == "jwt":
                client["sign_kid"] = "ps256"
            call("POST", "client/", client)


if __name__ == "__main__":
    if sys.argv[1:2] == ["prepare"]:
        prepare(sys.argv[2])
    elif sys.argv[1:2] == ["api"]:
        api(*sys.argv[2:5])
    else:
        raise SystemExit(__doc__)
