"""DPoP (RFC 9449) for the end-to-end suite: proof keys, proofs built by hand (so that broken
ones can be built too), RFC 7638 thumbprints, and a parser for WWW-Authenticate challenges.

Everything is made with `cryptography` directly; nothing is shared with the server's JOSE code.
A proof is `base64url(header).base64url(claims).base64url(signature)` with the header
{"typ": "dpop+jwt", "alg": ..., "jwk": <public JWK>} and the claims jti, htm, htu, iat and, at a
protected resource, ath = base64url(SHA-256(access token)); nonce when the server asks for one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
import uuid
from typing import Any

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from fapi_client import Client, b64url, b64url_json

DPOP_TYP = "dpop+jwt"


def _int_bytes(n: int, length: int | None = None) -> bytes:
    length = length or max(1, (n.bit_length() + 7) // 8)
    return n.to_bytes(length, "big")


def ath_of(access_token: str) -> str:
    """RFC 9449 §4.2 ath: base64url of the SHA-256 of the ASCII access token."""
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest())


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638 §3: SHA-256 of the required members, lexicographically ordered, no whitespace."""
    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


class DPoPKey:
    """A client's DPoP key pair (ES256 on P-256 by default, or PS256 / RS256 on RSA-2048)."""

    def __init__(self, alg: str = "ES256"):
        self.alg = alg
        if alg == "ES256":
            self.key = ec.generate_private_key(ec.SECP256R1())
        elif alg in ("PS256", "RS256"):
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            raise ValueError(f"unsupported DPoP key algorithm {alg}")

    @property
    def public_jwk(self) -> dict:
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            n = self.key.public_key().public_numbers()
            return {"kty": "EC", "crv": "P-256", "x": b64url(_int_bytes(n.x, 32)), "y": b64url(_int_bytes(n.y, 32))}
        n = self.key.public_key().public_numbers()
        return {"kty": "RSA", "n": b64url(_int_bytes(n.n)), "e": b64url(_int_bytes(n.e))}

    @property
    def private_jwk(self) -> dict:
        """The public JWK plus the private members (what a proof must never carry, RFC 9449 §4.3-8)."""
        d = dict(self.public_jwk)
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            d["d"] = b64url(_int_bytes(self.key.private_numbers().private_value, 32))
        else:
            p = self.key.private_numbers()
            d.update(d=b64url(_int_bytes(p.d)), p=b64url(_int_bytes(p.p)), q=b64url(_int_bytes(p.q)),
                     dp=b64url(_int_bytes(p.dmp1)), dq=b64url(_int_bytes(p.dmq1)), qi=b64url(_int_bytes(p.iqmp)))
        return d

    @property
    def thumbprint(self) -> str:
        return jwk_thumbprint(self.public_jwk)

    def sign(self, data: bytes, alg: str) -> bytes:
        if alg == "ES256":
            r, s = decode_dss_signature(self.key.sign(data, ec.ECDSA(hashes.SHA256())))
            return _int_bytes(r, 32) + _int_bytes(s, 32)
        if alg == "PS256":
            return self.key.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
        if alg == "RS256":
            return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        raise ValueError(f"cannot sign with {alg}")

    def proof(self, htm: str, htu: str, *, access_token: str | None = None, ath: str | None = None,
              nonce: str | None = None, iat: int | None = None, iat_offset: int = 0, jti: str | None = None,
              alg: str | None = None, typ: str = DPOP_TYP, jwk: dict | None = None, signer: "DPoPKey | None" = None,
              hmac_secret: bytes | None = None, extra: dict | None = None, drop: tuple = ()) -> str:
        """A DPoP proof for `htm` `htu`. Defaults make a valid proof; each keyword breaks one thing:

        - `alg="none"`: unsigned (empty signature); `alg="HS256"`: HMAC with `hmac_secret` (random).
        - `jwk`: another header key (e.g. `self.private_jwk`); `signer`: sign with another key.
        - `access_token` adds ath; `ath` sets it to any value; `drop` removes claims.
        """
        alg = alg or self.alg
        header: dict[str, Any] = {"typ": typ, "alg": alg, "jwk": jwk if jwk is not None else self.public_jwk}
        claims: dict[str, Any] = {"jti": jti or str(uuid.uuid4()), "htm": htm, "htu": htu,
                                  "iat": iat if iat is not None else int(time.time()) + iat_offset}
        if access_token is not None:
            claims["ath"] = ath_of(access_token)
        if ath is not None:
            claims["ath"] = ath
        if nonce is not None:
            claims["nonce"] = nonce
        if extra:
            claims.update(extra)
        for k in drop:
            claims.pop(k, None)
        signing_input = (b64url_json(header) + "." + b64url_json(claims)).encode("ascii")
        if alg == "none":
            signature = b""
        elif alg.startswith("HS"):
            signature = hmac.new(hmac_secret or os.urandom(32), signing_input, hashlib.sha256).digest()
        else:
            signature = (signer or self).sign(signing_input, alg)
        return signing_input.decode("ascii") + "." + b64url(signature)


# ----------------------------------------------------------------------------------------------
# Requests with proofs
# ----------------------------------------------------------------------------------------------

def endpoint_url(client: Client, name: str) -> str:
    """The URL `Client.backchannel` posts `name` to (the mTLS alias when the client has a certificate):
    the URL a proof for that request must name in htu."""
    return client.server.endpoint(name, mtls=client.cert is not None)


def dpop_backchannel(client: Client, name: str, data: dict, key: DPoPKey | None, *, proof: str | None = None,
                     **kw) -> requests.Response:
    """`client.backchannel(name, data)` with a DPoP header: `proof` as given, else a fresh valid one
    made with `key` (none at all when both are None)."""
    headers = dict(kw.pop("headers", None) or {})
    if proof is None and key is not None:
        proof = key.proof("POST", endpoint_url(client, name))
    if proof is not None:
        headers["DPoP"] = proof
    return client.backchannel(name, data, headers=headers, **kw)


def resource_url(server, path: str, *, mtls: bool = False) -> str:
    return server.mtls_url(path) if mtls else server.url(path)


def call_resource(server, method: str, url: str, token: str, *, key: DPoPKey | None = None, proof: str | None = None,
                  scheme: str = "DPoP", cert=None, nonce: str | None = None, **kw) -> requests.Response:
    """`method url` with `Authorization: <scheme> <token>` and, with `key` (or `proof`), a DPoP header:
    a valid proof with ath unless `proof` is given."""
    headers = dict(kw.pop("headers", None) or {})
    headers["Authorization"] = f"{scheme} {token}"
    if proof is None and key is not None:
        proof = key.proof(method, url, access_token=token, nonce=nonce)
    if proof is not None:
        headers["DPoP"] = proof
    return server.request(method, url, headers=headers, cert=cert, **kw)


# ----------------------------------------------------------------------------------------------
# WWW-Authenticate (RFC 9110 §11.6.1)
# ----------------------------------------------------------------------------------------------

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAM = re.compile(rf'({_TOKEN})[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|{_TOKEN})')
_SCHEME = re.compile(rf"({_TOKEN})")
_SEP = re.compile(r"[\s,]+")


def parse_challenges(value: str) -> dict[str, dict[str, str]]:
    """{scheme (lower case): {param (lower case): value}} of a WWW-Authenticate value, several
    challenges allowed (requests joins repeated headers with ", ")."""
    out: dict[str, dict[str, str]] = {}
    current: str | None = None
    pos = 0
    while pos < len(value):
        m = _SEP.match(value, pos)
        if m:
            pos = m.end()
            continue
        m = _PARAM.match(value, pos)
        if m and current is not None:
            v = m.group(2)
            if v.startswith('"'):
                v = re.sub(r"\\(.)", r"\1", v[1:-1])
            out[current][m.group(1).lower()] = v
            pos = m.end()
            continue
        m = _SCHEME.match(value, pos)
        if not m:
            raise AssertionError(f"unparseable WWW-Authenticate {value!r} at {pos}")
        current = m.group(1).lower()
        out.setdefault(current, {})
        pos = m.end()
    return out


def dpop_challenge(r: requests.Response) -> dict[str, str]:
    """The DPoP challenge's parameters of a response (fails when there is none)."""
    value = r.headers.get("WWW-Authenticate")
    assert value, f"HTTP {r.status_code} without WWW-Authenticate: {r.text[:300]}"
    challenges = parse_challenges(value)
    assert "dpop" in challenges, f"no DPoP challenge in WWW-Authenticate: {value!r}"
    return challenges["dpop"]
