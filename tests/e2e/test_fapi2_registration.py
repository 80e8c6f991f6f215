"""Registration of FAPI 2.0 clients: Dynamic Client Registration (RFC 7591, POST /register), the
admin API (POST/PUT /admin/clients, POST /admin/clients/check) and the CLI (`strongroom clients
check|add --metadata`) refuse a client that cannot meet the FAPI 2.0 profiles its scopes imply,
naming the field and the rule, and accept one that can.

Scopes of the demo kit: `fapi2-accounts` (fapi2=sp, FAPI 2.0 Security Profile) and
`fapi2-payments` (fapi2=ms, FAPI 2.0 Message Signing: signed request objects and JARM on top of the
Security Profile). The conformant client authenticates with private_key_jwt (ES256), asks for
response_types ["code"] only and does not ask for certificate-bound tokens: FAPI 2.0 takes DPoP as
the sender constraint (SP §5.3.2.1-5), and the client sends a proof with each token request.

Every case is one test with one exact outcome: status, error code, and the violated field with the
words of the rule and, where the server cites one, its FAPI 2.0 clause.
"""

from __future__ import annotations

import base64
import json
import subprocess
import warnings

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import configure, free_ports, public_jwk
from dpop_client import DPoPKey, dpop_backchannel
from fapi_client import Client

SP = "fapi2-accounts"   # fapi2=sp
MS = "fapi2-payments"   # fapi2=ms
SP_PROFILE = "fapi2-security"
MS_PROFILE = "fapi2-message-signing"
SP_LABEL = "FAPI 2.0 Security Profile"
MS_LABEL = "FAPI 2.0 Message Signing"
ALG = "ES256"


@pytest.fixture(scope="module")
def f2keys():
    key = ec.generate_private_key(ec.SECP256R1())
    pub, priv = public_jwk(key, ALG)
    with warnings.catch_warnings():  # joserfc warns about the deliberately weak key
        warnings.simplefilter("ignore")
        weak, _ = public_jwk(rsa.generate_private_key(public_exponent=65537, key_size=1024), "PS256")
    return {"pub": pub, "priv": priv, "rsa1024": weak}


def conformant(callback: str, keys, scope: str = f"openid {SP} {MS}", **over) -> dict:
    """A FAPI 2.0 client for both profiles; `over` replaces fields (None removes one)."""
    m = {
        "client_name": "E2E FAPI 2.0 registration client",
        "redirect_uris": [callback],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": ALG,
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types": ["code"],
        "scope": scope,
        "jwks": {"keys": [keys["pub"]]},
        "request_object_signing_alg": ALG,
        "id_token_signed_response_alg": ALG,
        "authorization_signed_response_alg": ALG,
    }
    m.update(over)
    return {k: v for k, v in m.items() if v is not None}


def as_error_description(text: str) -> str:
    """`text` as the server spells it in `error_description`, which allows only %x20-21 / %x23-5B /
    %x5D-7E (RFC 6749 sec. 5.2, RFC 7591 sec. 3.2.2): "§" becomes "sec. " and `"` becomes `'`."""
    return text.replace("§", "sec. ").replace('"', "'")


def register(server, srv, metadata) -> "requests.Response":
    return server.post("/register", json=metadata, headers={"Authorization": f"Bearer {srv.initial_access_token}"})


# ----------------------------------------------------------------------------------------------
# The refused cases: scope, changes to the conformant client, then what the refusal must name: the
# field, the FAPI 2.0 clause (None where the server cites a FAPI 1.0 clause for the same rule: the
# RSA key size and the signed request object), the profile, and the rule's words. A change "RSA-1024" is replaced by a 1024-bit RSA key
# (and "{rsa1024_kid}" in the words by its kid).
# ----------------------------------------------------------------------------------------------

SP_CLAUSE = "FAPI 2.0 Security Profile §5.3.2.1"

CASES = [
    # SP §5.3.2.1-6: client authentication by mTLS or private_key_jwt only.
    pytest.param(f"openid {SP}", {"token_endpoint_auth_method": "client_secret_basic", "token_endpoint_auth_signing_alg": None,
                                  "jwks": None},
                 "token_endpoint_auth_method", SP_CLAUSE, SP_PROFILE,
                 f"client_secret_basic is not allowed for {SP_LABEL} scopes", id="client_secret_basic-fapi2-accounts"),
    pytest.param(f"openid {SP}", {"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "HS256",
                                  "jwks": None},
                 "token_endpoint_auth_method", SP_CLAUSE, SP_PROFILE,
                 f"client_secret_jwt is not allowed for {SP_LABEL} scopes", id="client_secret_jwt-fapi2-accounts"),
    # SP §5.3.2.1-3: confidential clients only.
    pytest.param(f"openid {SP}", {"token_endpoint_auth_method": "none", "token_endpoint_auth_signing_alg": None, "jwks": None,
                                  "grant_types": ["authorization_code"]},
                 "token_endpoint_auth_method", SP_CLAUSE, SP_PROFILE,
                 f"public clients (none) are not allowed for {SP_LABEL} scopes", id="public-client-fapi2-accounts"),
    # SP §5.3.2.2-1: response_type code only.
    pytest.param(f"openid {SP}", {"response_types": ["code id_token"]},
                 "response_types", "FAPI 2.0 Security Profile §5.3.2.2-1", SP_PROFILE,
                 f"none of [\"code id_token\"] is allowed for {SP_LABEL} scopes; use code", id="code-id_token-fapi2-accounts"),
    # SP §5.4.1: PS256, ES256 or EdDSA for every JWS, request objects included.
    pytest.param(f"openid {MS}", {"request_object_signing_alg": "RS256"},
                 "request_object_signing_alg", "FAPI 2.0 Security Profile §5.4.1", MS_PROFILE,
                 f"RS256 not allowed for {MS_LABEL} scopes", id="rs256-request-object-fapi2-payments"),
    # SP §5.4.1: RSA keys of at least 2048 bits.
    pytest.param(f"openid {SP}", {"jwks": "RSA-1024", "token_endpoint_auth_signing_alg": "PS256"},
                 "jwks", None, SP_PROFILE, "RSA key {rsa1024_kid} is 1024 bits; at least 2048 are required", id="rsa-1024-key-fapi2-accounts"),
    # Message Signing: authorization requests are signed request objects.
    pytest.param(f"openid {MS}", {"request_object_signing_alg": None},
                 "request_object_signing_alg", None, MS_PROFILE,
                 f"must be set to PS256 or ES256 or EdDSA for {MS_LABEL} scopes: a signed request object is required", id="no-request-object-alg-fapi2-payments"),
    # Message Signing: signed authorization responses (JARM) need the client's algorithm.
    pytest.param(f"openid {MS}", {"authorization_signed_response_alg": None},
                 "authorization_signed_response_alg", "JARM", MS_PROFILE,
                 f"must be set for {MS_LABEL} scopes: authorization responses are signed (JARM)", id="no-jarm-alg-fapi2-payments"),
]


def _words(fragment: str, keys) -> str:
    return fragment.replace("{rsa1024_kid}", keys["rsa1024"]["kid"])


def _violating(srv, keys, scope, changes):
    changes = dict(changes)
    if changes.get("jwks") == "RSA-1024":
        changes["jwks"] = {"keys": [keys["rsa1024"]]}
    return conformant(srv.callback, keys, scope=scope, **changes)


# ----------------------------------------------------------------------------------------------
# Dynamic Client Registration
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scope,changes,field,clause,profile,fragment", CASES)
def test_dcr_refuses_fapi2_violation(server, srv, f2keys, scope, changes, field, clause, profile, fragment):
    r = register(server, srv, _violating(srv, f2keys, scope, changes))
    assert r.status_code == 400, f"FAPI 2.0 violation ({field}) registered: HTTP {r.status_code} {r.text[:800]}"
    body = r.json()
    assert body.get("error") == "invalid_client_metadata", body
    desc = body.get("error_description", "")
    assert as_error_description(f"{field}: {_words(fragment, f2keys)}") in desc, f"description does not name the field and the rule: {desc}"
    if clause:
        assert as_error_description(clause) in desc, f"description does not name the clause {clause!r}: {desc}"


def test_dcr_registers_conformant_fapi2_client(server, srv, f2keys):
    r = register(server, srv, conformant(srv.callback, f2keys))
    assert r.status_code == 201, f"conformant FAPI 2.0 client refused: HTTP {r.status_code} {r.text[:800]}"
    body = r.json()
    assert body["client_id"] and body["registration_access_token"], body
    assert body["token_endpoint_auth_method"] == "private_key_jwt", body
    assert body["response_types"] == ["code"], body
    assert "client_secret" not in body, "a secret was issued to a private_key_jwt client"
    assert body.get("tls_client_certificate_bound_access_tokens") in (None, False), body


def test_dcr_conformant_fapi2_client_gets_a_dpop_bound_token(server, srv, f2keys):
    r = register(server, srv, conformant(srv.callback, f2keys, scope=f"openid {SP}"))
    assert r.status_code == 201, f"HTTP {r.status_code} {r.text[:800]}"
    c = Client(server, r.json()["client_id"], "private_key_jwt", key=f2keys["priv"], alg=ALG, redirect_uri=srv.callback)
    t = dpop_backchannel(c, "token_endpoint", {"grant_type": "client_credentials", "scope": SP}, DPoPKey(ALG))
    assert t.status_code == 200, f"DPoP client_credentials for the registered client: HTTP {t.status_code} {t.text[:500]}"
    assert t.json()["token_type"] == "DPoP", t.text


def test_dcr_conformant_fapi2_client_without_a_sender_constraint_gets_no_token(server, srv, f2keys):
    r = register(server, srv, conformant(srv.callback, f2keys, scope=f"openid {SP}"))
    assert r.status_code == 201, f"HTTP {r.status_code} {r.text[:800]}"
    c = Client(server, r.json()["client_id"], "private_key_jwt", key=f2keys["priv"], alg=ALG, redirect_uri=srv.callback)
    t = dpop_backchannel(c, "token_endpoint", {"grant_type": "client_credentials", "scope": SP}, None)
    assert t.status_code == 400 and t.json().get("error") == "invalid_request", \
        f"FAPI 2.0 token without DPoP or certificate: HTTP {t.status_code} {t.text[:500]}"


def _p192_jwk() -> dict:
    """A public P-192 key (192-bit curve) as a JWK, built by hand (joserfc has no P-192)."""
    numbers = ec.generate_private_key(ec.SECP192R1()).public_key().public_numbers()
    enc = lambda n: base64.urlsafe_b64encode(n.to_bytes(24, "big")).rstrip(b"=").decode()
    return {"kty": "EC", "crv": "P-192", "x": enc(numbers.x), "y": enc(numbers.y), "kid": "p-192", "use": "sig"}


def test_dcr_refuses_p192_key_for_fapi2_accounts(server, srv, f2keys):
    m = conformant(srv.callback, f2keys, scope=f"openid {SP}", jwks={"keys": [_p192_jwk()]}, token_endpoint_auth_signing_alg=None)
    r = register(server, srv, m)
    assert r.status_code == 400, f"P-192 key registered for FAPI 2.0: HTTP {r.status_code} {r.text[:300]}"
    desc = r.json().get("error_description", "")
    assert r.json().get("error") == "invalid_client_metadata", r.text
    assert "jwks: EC key" in desc and "is on a 192-bit curve; at least 224 bits are required (FAPI 2.0 Security Profile sec. 5.4.1)" in desc, desc


# ----------------------------------------------------------------------------------------------
# Admin API
# ----------------------------------------------------------------------------------------------

def _violations(r) -> list[dict]:
    return r.json().get("violations", [])


@pytest.mark.parametrize("scope,changes,field,clause,profile,fragment", CASES)
def test_admin_refuses_fapi2_violation(srv, f2keys, scope, changes, field, clause, profile, fragment):
    r = srv.admin("POST", "/clients", _violating(srv, f2keys, scope, changes))
    assert r.status_code == 400, f"FAPI 2.0 violation ({field}) registered: HTTP {r.status_code} {r.text[:800]}"
    assert r.json().get("error") == "invalid_client_metadata", r.text
    hits = [v for v in _violations(r) if v["field"] == field and v["profile"] == profile
            and _words(fragment, f2keys) in v["message"] and (clause or "") in v["message"]]
    assert hits, f"no {profile} violation of {field} naming {clause!r}: {r.text[:800]}"


def test_admin_registers_conformant_fapi2_client(srv, f2keys):
    r = srv.admin("POST", "/clients", conformant(srv.callback, f2keys))
    assert r.status_code == 201, f"conformant FAPI 2.0 client refused: HTTP {r.status_code} {r.text[:800]}"
    assert {SP_PROFILE, MS_PROFILE} <= set(r.json()["profiles"]), r.json()["profiles"]


def test_admin_check_names_the_fapi2_rule(srv, f2keys):
    r = srv.admin("POST", "/clients/check", conformant(srv.callback, f2keys, scope=f"openid {SP}", response_types=["code id_token"]))
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": False, "violations": [{
        "profile": SP_PROFILE, "field": "response_types",
        "message": f"none of [\"code id_token\"] is allowed for {SP_LABEL} scopes; use code (FAPI 2.0 Security Profile §5.3.2.2-1)",
    }]}, r.text


def test_admin_update_to_a_public_client_is_refused(srv, f2keys):
    r = srv.admin("POST", "/clients", conformant(srv.callback, f2keys, scope=f"openid {SP}"))
    assert r.status_code == 201, r.text
    cid = r.json()["client_id"]
    bad = conformant(srv.callback, f2keys, scope=f"openid {SP}", token_endpoint_auth_method="none", token_endpoint_auth_signing_alg=None,
                     jwks=None, grant_types=["authorization_code"])
    u = srv.admin("PUT", f"/clients/{cid}", bad)
    assert u.status_code == 400, f"update to a public FAPI 2.0 client accepted: HTTP {u.status_code} {u.text[:800]}"
    assert any(v["field"] == "token_endpoint_auth_method" and v["profile"] == SP_PROFILE and SP_CLAUSE in v["message"]
               for v in _violations(u)), u.text


# ----------------------------------------------------------------------------------------------
# CLI: strongroom clients check|add --metadata FILE
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli(binary, kit, tmp_path_factory):
    """Runs the CLI in the kit's folder with a configuration of its own (its own database, so
    `clients add` never touches the running server's)."""
    port, mtls_port = free_ports(2)
    cfg = configure(kit["written"], port, mtls_port, "e2e-fapi2-cli.sqlite")
    path = kit["dir"] / "e2e-fapi2-cli.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    files = tmp_path_factory.mktemp("fapi2-cli")

    def run(*args: str, metadata: dict) -> subprocess.CompletedProcess:
        f = files / f"metadata-{len(list(files.iterdir()))}.json"
        f.write_text(json.dumps(metadata))
        return subprocess.run([binary, *args, "--config", str(path), "--metadata", str(f)], cwd=kit["dir"],
                              capture_output=True, text=True, timeout=60)
    run.callback = cfg["service"]["issuer"] + "/demo/callback"
    return run


def test_cli_check_names_the_fapi2_rule(cli, f2keys):
    m = conformant(cli.callback, f2keys, scope=f"openid {SP}", token_endpoint_auth_method="client_secret_basic",
                   token_endpoint_auth_signing_alg=None, jwks=None)
    r = cli("clients", "check", metadata=m)
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert r.stdout.splitlines() == [
        f"- token_endpoint_auth_method: client_secret_basic is not allowed for {SP_LABEL} scopes; "
        f"use private_key_jwt, tls_client_auth, self_signed_tls_client_auth ({SP_CLAUSE})"], r.stdout


def test_cli_check_passes_a_conformant_fapi2_client(cli, f2keys):
    r = cli("clients", "check", metadata=conformant(cli.callback, f2keys))
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert r.stdout.strip() == "OK", r.stdout


def test_cli_add_refuses_fapi2_payments_without_jarm(cli, f2keys):
    m = conformant(cli.callback, f2keys, scope=f"openid {MS}", authorization_signed_response_alg=None)
    r = cli("clients", "add", metadata=m)
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert r.stdout.splitlines() == [
        "refused:",
        f"- authorization_signed_response_alg: must be set for {MS_LABEL} scopes: authorization responses are signed (JARM) "
        f"({MS_LABEL} (signed authorization responses, JARM))"], r.stdout
