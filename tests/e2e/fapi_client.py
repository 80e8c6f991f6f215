"""An independent OAuth 2.0 / OpenID Connect / FAPI 1.0 client for the end-to-end suite.

Written against joserfc + cryptography + requests, so that nothing here shares code with the
server's JOSE layer (swift-crypto). Everything a conformance-suite client does is here:
PKCE, request objects, client assertions, a browser-like driver for the login and consent pages,
parsers for query / fragment / form_post / JARM responses, and ID token verification with
c_hash / s_hash / at_hash computed independently.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

# Every algorithm joserfc may need; the server decides what it accepts.
ALL_ALGORITHMS = ["PS256", "PS384", "PS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512"]
SERVER_SIGNING_ALGORITHMS = ["PS256", "ES256"]
ACR_SILVER = "urn:mace:incommon:iap:silver"
FAPI_ACR_CLAIMS = {"id_token": {"acr": {"essential": True, "values": [ACR_SILVER]}}}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


# ----------------------------------------------------------------------------------------------
# Encoding helpers
# ----------------------------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636 §4.1-4.2."""
    verifier = b64url(secrets.token_bytes(48))  # 64 characters of the unreserved set
    challenge = b64url(hashlib.sha256(verifier.encode("ascii")).digest())
    return verifier, challenge


def half_hash(value: str, alg: str) -> str:
    """OIDC Core §3.3.2.11 c_hash / at_hash / FAPI s_hash: left half of the hash of the ASCII value."""
    bits = int(alg[-3:])
    digest = {256: hashlib.sha256, 384: hashlib.sha384, 512: hashlib.sha512}[bits](value.encode("ascii")).digest()
    return b64url(digest[: len(digest) // 2])


def pem_bytes(path) -> bytes:
    """A PEM file's PEM blocks, without the explanatory text the demo kit puts in front."""
    text = open(path, "rb").read()
    start = text.find(b"-----BEGIN")
    return text[start:] if start >= 0 else text


def cert_thumbprint(pem_path) -> str:
    """RFC 8705 §3.1 x5t#S256: base64url SHA-256 of the DER certificate."""
    cert = x509.load_pem_x509_certificate(pem_bytes(pem_path))
    return b64url(hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest())


def random_state() -> str:
    return b64url(secrets.token_bytes(16))


# ----------------------------------------------------------------------------------------------
# JOSE helpers (joserfc)
# ----------------------------------------------------------------------------------------------

def import_jwk(d: dict):
    kty = d["kty"]
    if kty == "RSA":
        return RSAKey.import_key(d)
    if kty == "EC":
        return ECKey.import_key(d)
    if kty == "oct":
        return OctKey.import_key(d)
    raise ValueError(f"unsupported kty {kty}")


def load_private_jwk(jwks_path):
    """The first key of a private JWK Set file (the demo kit's clientN.jwks.json)."""
    data = json.load(open(jwks_path))
    return import_jwk(data["keys"][0])


def sign_jwt(claims: dict, key, alg: str, *, kid: str | None = None, typ: str | None = None, header: dict | None = None) -> str:
    h: dict[str, Any] = {"alg": alg}
    k = kid if kid is not None else _kid_of(key)
    if k:
        h["kid"] = k
    if typ:
        h["typ"] = typ
    if header:
        h.update(header)
    designed = key.get("alg") if hasattr(key, "get") else None
    if designed and designed != alg:
        # Deliberately sign with another algorithm than the key's (negative tests): drop the key's "alg".
        d = key.as_dict(private=True)
        d.pop("alg", None)
        key = import_jwk(d)
    return jwt.encode(h, claims, key, algorithms=[alg])


def _kid_of(key) -> str | None:
    try:
        return key.kid
    except Exception:  # pragma: no cover - joserfc keys always have .kid
        return None


def unsigned_jwt(claims: dict) -> str:
    """An `alg: none` JWT (RFC 7519 §6), built by hand: joserfc refuses to make one."""
    return b64url_json({"alg": "none", "typ": "JWT"}) + "." + b64url_json(claims) + "."


def tamper_signature(token: str) -> str:
    """Same header and payload, a signature that no longer verifies."""
    head, payload, sig = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{payload}.{b64url(bytes(raw))}"


def unverified_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def unverified_header(token: str) -> dict:
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def verify_server_jwt(token: str, server: "Server", algorithms=SERVER_SIGNING_ALGORITHMS) -> tuple[dict, dict]:
    """Verifies a server-signed JWT with the server's published JWKS: (header, claims)."""
    header = unverified_header(token)
    assert header.get("alg") in algorithms, f"server JWT signed with {header.get('alg')}, expected one of {algorithms}"
    assert "kid" in header, f"server JWT has no kid: {header}"
    tok = jwt.decode(token, server.jwks(), algorithms=algorithms)
    return dict(tok.header), dict(tok.claims)


def verify_id_token(token: str, server: "Server", client_id: str, *, nonce: str | None = None, code: str | None = None,
                    state: str | None = None, access_token: str | None = None, expected_alg: str | None = None,
                    require_c_hash: bool = False, require_s_hash: bool = False) -> dict:
    """OIDC Core §3.1.3.7 / §3.3.2.12 ID token validation, hashes computed here."""
    header, claims = verify_server_jwt(token, server)
    alg = header["alg"]
    if expected_alg:
        assert alg == expected_alg, f"ID token alg {alg}, client registered {expected_alg}"
    now = time.time()
    assert claims.get("iss") == server.issuer, f"ID token iss {claims.get('iss')!r} != {server.issuer!r}"
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    assert client_id in auds, f"ID token aud {aud!r} does not contain {client_id!r}"
    if isinstance(aud, list) and len(aud) > 1:
        assert claims.get("azp") == client_id, "multi-audience ID token without azp"
    assert isinstance(claims.get("exp"), (int, float)) and claims["exp"] > now - 5, f"ID token expired: {claims.get('exp')}"
    assert isinstance(claims.get("iat"), (int, float)) and claims["iat"] <= now + 30, f"ID token iat in the future: {claims.get('iat')}"
    assert claims.get("sub"), "ID token has no sub"
    if nonce is not None:
        assert claims.get("nonce") == nonce, f"ID token nonce {claims.get('nonce')!r} != {nonce!r}"
    if code is not None and (require_c_hash or "c_hash" in claims):
        assert claims.get("c_hash") == half_hash(code, alg), f"c_hash {claims.get('c_hash')!r} != {half_hash(code, alg)!r}"
    if state is not None and (require_s_hash or "s_hash" in claims):
        assert claims.get("s_hash") == half_hash(state, alg), f"s_hash {claims.get('s_hash')!r} != {half_hash(state, alg)!r}"
    if access_token is not None and "at_hash" in claims:
        assert claims["at_hash"] == half_hash(access_token, alg), "at_hash does not match the access token"
    return claims


# ----------------------------------------------------------------------------------------------
# Request objects and client assertions
# ----------------------------------------------------------------------------------------------

def request_object(client_id: str, issuer: str, key, alg: str, params: dict, *, lifetime: int = 300,
                   nbf_offset: int = 0, include_exp: bool = True, include_nbf: bool = True, aud: Any = "__issuer__",
                   iss: Any = "__client__", extra: dict | None = None, signed: bool = True, kid: str | None = None) -> str:
    """A FAPI 1.0 Advanced request object (RFC 9101): all parameters inside, exp/nbf/aud/iss."""
    now = int(time.time())
    claims: dict[str, Any] = dict(params)
    claims.setdefault("client_id", client_id)
    if iss == "__client__":
        claims["iss"] = client_id
    elif iss is not None:
        claims["iss"] = iss
    if aud == "__issuer__":
        claims["aud"] = issuer
    elif aud is not None:
        claims["aud"] = aud
    nbf = now + nbf_offset
    if include_nbf:
        claims["nbf"] = nbf
    if include_exp:
        claims["exp"] = nbf + lifetime
    claims["iat"] = now
    claims["jti"] = str(uuid.uuid4())
    if extra:
        claims.update(extra)
    if not signed:
        return unsigned_jwt(claims)
    return sign_jwt(claims, key, alg, kid=kid)


def client_assertion(client_id: str, aud: Any, key, alg: str, *, lifetime: int = 60, iat_offset: int = 0,
                     jti: str | None = None, extra: dict | None = None, drop: tuple = ()) -> str:
    """RFC 7523 §3 / OIDC Core §9 client assertion (private_key_jwt or client_secret_jwt)."""
    now = int(time.time()) + iat_offset
    claims: dict[str, Any] = {
        "iss": client_id, "sub": client_id, "aud": aud, "jti": jti or str(uuid.uuid4()),
        "iat": now, "exp": now + lifetime,
    }
    if extra:
        claims.update(extra)
    for k in drop:
        claims.pop(k, None)
    if alg == "none":
        return unsigned_jwt(claims)
    return sign_jwt(claims, key, alg)


# ----------------------------------------------------------------------------------------------
# The server and its clients
# ----------------------------------------------------------------------------------------------

class Server:
    """The running server as a client sees it: discovery, JWKS, endpoint URLs, TLS trust."""

    def __init__(self, issuer: str, ca_path: str, mtls_port: int | None = None):
        self.issuer = issuer.rstrip("/")
        self.ca = str(ca_path)
        self.mtls_port = mtls_port
        self._metadata: dict | None = None
        self._jwks: KeySet | None = None

    def url(self, path: str) -> str:
        return self.issuer + path

    def mtls_url(self, path: str) -> str:
        """`path` on the mutual-TLS alias listener (same routes, same issuer path, port `mtls_port`)."""
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.hostname}:{self.mtls_port}{parts.path.rstrip('/')}{path}"

    def _resolve(self, path_or_url: str, kw: dict) -> str:
        """A full URL is used as it is. A path goes to the mutual-TLS alias when a client certificate is
        sent (the demo kit's main listener does not ask for one, so it would never be presented there),
        otherwise to the main listener."""
        if path_or_url.startswith("https://"):
            return path_or_url
        if kw.get("cert") and self.mtls_port:
            return self.mtls_url(path_or_url)
        return self.url(path_or_url)

    @property
    def base_path(self) -> str:
        return urlsplit(self.issuer).path.rstrip("/")

    def get(self, path_or_url: str, **kw) -> requests.Response:
        url = self._resolve(path_or_url, kw)
        kw.setdefault("verify", self.ca)
        kw.setdefault("timeout", 30)
        kw.setdefault("allow_redirects", False)
        return requests.get(url, **kw)

    def post(self, path_or_url: str, **kw) -> requests.Response:
        url = self._resolve(path_or_url, kw)
        kw.setdefault("verify", self.ca)
        kw.setdefault("timeout", 30)
        kw.setdefault("allow_redirects", False)
        return requests.post(url, **kw)

    def request(self, method: str, path_or_url: str, **kw) -> requests.Response:
        url = self._resolve(path_or_url, kw)
        kw.setdefault("verify", self.ca)
        kw.setdefault("timeout", 30)
        kw.setdefault("allow_redirects", False)
        return requests.request(method, url, **kw)

    @property
    def metadata(self) -> dict:
        if self._metadata is None:
            r = self.get("/.well-known/openid-configuration")
            assert r.status_code == 200, f"discovery: HTTP {r.status_code} {r.text[:300]}"
            self._metadata = r.json()
        return self._metadata

    def jwks(self, refresh: bool = False) -> KeySet:
        if self._jwks is None or refresh:
            r = self.get(self.metadata["jwks_uri"])
            assert r.status_code == 200, f"jwks: HTTP {r.status_code}"
            self._jwks = KeySet.import_key_set(r.json())
        return self._jwks

    def endpoint(self, name: str, mtls: bool = False) -> str:
        """An endpoint URL from discovery; its mutual-TLS alias when `mtls` (RFC 8705 §5)."""
        if mtls:
            alias = self.metadata.get("mtls_endpoint_aliases", {}).get(name)
            if alias:
                return alias
        return self.metadata[name]


@dataclass
class Client:
    """A registered client and how it authenticates at the back-channel endpoints."""

    server: Server
    client_id: str
    auth_method: str
    key: Any = None  # joserfc key for private_key_jwt / request objects
    alg: str | None = None  # private_key_jwt / client_secret_jwt / request object algorithm
    secret: str | None = None
    cert: tuple[str, str] | None = None  # (cert.pem, key.pem) presented in TLS
    redirect_uri: str = ""
    request_object_key: Any = None
    request_object_alg: str | None = None
    id_token_alg: str | None = None

    @property
    def ro_key(self):
        return self.request_object_key or self.key

    @property
    def ro_alg(self) -> str | None:
        return self.request_object_alg or self.alg

    def with_cert(self, cert: tuple[str, str] | None) -> "Client":
        c = Client(**{k: getattr(self, k) for k in self.__dataclass_fields__})
        c.cert = cert
        return c

    def assertion(self, aud: Any | None = None, **kw) -> str:
        aud = aud if aud is not None else self.server.issuer
        if self.auth_method == "client_secret_jwt":
            key = OctKey.import_key(self.secret.encode())
            return client_assertion(self.client_id, aud, key, kw.pop("alg", self.alg or "HS256"), **kw)
        return client_assertion(self.client_id, aud, self.key, kw.pop("alg", self.alg), **kw)

    def authenticate(self, data: dict, headers: dict, *, assertion: str | None = None) -> None:
        """Adds this client's credentials to a form body / headers (RFC 6749 §2.3, RFC 7523, RFC 8705)."""
        m = self.auth_method
        if m == "client_secret_basic":
            from urllib.parse import quote
            cred = f"{quote(self.client_id, safe='')}:{quote(self.secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
        elif m == "client_secret_post":
            data["client_id"] = self.client_id
            data["client_secret"] = self.secret
        elif m in ("client_secret_jwt", "private_key_jwt"):
            data["client_id"] = self.client_id
            data["client_assertion_type"] = ASSERTION_TYPE
            data["client_assertion"] = assertion or self.assertion()
        else:  # tls_client_auth, self_signed_tls_client_auth, none
            data["client_id"] = self.client_id

    def backchannel(self, endpoint_name: str, data: dict, *, authenticate: bool = True, assertion: str | None = None,
                    headers: dict | None = None, mtls: bool | None = None) -> requests.Response:
        """POSTs a form to a back-channel endpoint; through the mTLS alias when this client has a certificate."""
        data = dict(data)
        headers = dict(headers or {})
        if authenticate:
            self.authenticate(data, headers, assertion=assertion)
        use_mtls = (self.cert is not None) if mtls is None else mtls
        url = self.server.endpoint(endpoint_name, mtls=use_mtls)
        return self.server.post(url, data=data, headers=headers, cert=self.cert)

    def token(self, data: dict, **kw) -> requests.Response:
        return self.backchannel("token_endpoint", data, **kw)

    def par(self, data: dict, **kw) -> requests.Response:
        return self.backchannel("pushed_authorization_request_endpoint", data, **kw)

    def introspect(self, token: str, **kw) -> dict:
        r = self.backchannel("introspection_endpoint", {"token": token}, **kw)
        assert r.status_code == 200, f"introspection: HTTP {r.status_code} {r.text[:300]}"
        return r.json()

    def revoke(self, token: str, hint: str | None = None, **kw) -> requests.Response:
        data = {"token": token}
        if hint:
            data["token_type_hint"] = hint
        return self.backchannel("revocation_endpoint", data, **kw)

    def redeem(self, code: str, verifier: str | None = None, redirect_uri: str | None = None, **kw) -> requests.Response:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri or self.redirect_uri}
        if verifier is not None:
            data["code_verifier"] = verifier
        return self.token(data, **kw)

    def request_object(self, params: dict, **kw) -> str:
        return request_object(self.client_id, self.server.issuer, self.ro_key, self.ro_alg, params, **kw)


# ----------------------------------------------------------------------------------------------
# Authorization responses
# ----------------------------------------------------------------------------------------------

_INPUT_RE = re.compile(r"<input\b[^>]*>", re.I | re.S)
_ATTR_RE = re.compile(r'([a-zA-Z_:-]+)\s*=\s*"([^"]*)"')
_FORM_RE = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.I | re.S)


def parse_forms(page: str) -> list[dict]:
    """Forms of an HTML page: [{'action', 'method', 'fields': {name: value}}] (hidden inputs and buttons)."""
    forms = []
    for attrs_text, body in _FORM_RE.findall(page):
        attrs = {k.lower(): html.unescape(v) for k, v in _ATTR_RE.findall(attrs_text)}
        fields = {}
        for tag in _INPUT_RE.findall(body):
            a = {k.lower(): html.unescape(v) for k, v in _ATTR_RE.findall(tag)}
            if "name" in a and a.get("type", "text").lower() in ("hidden",):
                fields[a["name"]] = a.get("value", "")
        forms.append({"action": attrs.get("action", ""), "method": attrs.get("method", "get").lower(), "fields": fields})
    return forms


@dataclass
class AuthResult:
    """What came back from the authorization endpoint after the browser finished."""

    kind: str  # "redirect", "form_post" or "page" (an error page shown to the user)
    status: int
    location: str | None = None
    params: dict = field(default_factory=dict)  # query+fragment or form_post fields, or JARM claims
    raw_params: dict = field(default_factory=dict)  # before JARM decoding
    mode: str | None = None  # "query", "fragment", "form_post"
    jarm: bool = False
    jarm_header: dict | None = None
    text: str = ""
    headers: dict = field(default_factory=dict)
    steps: list = field(default_factory=list)

    def __getitem__(self, k):
        return self.params[k]

    def get(self, k, default=None):
        return self.params.get(k, default)

    @property
    def error(self) -> str | None:
        return self.params.get("error")

    def describe(self) -> str:
        if self.kind == "page":
            text = re.sub(r"<[^>]+>", " ", self.text)
            text = re.sub(r"\s+", " ", text).strip()
            return f"error page HTTP {self.status}: {text[:400]}"
        return f"{self.kind} ({self.mode}{', JARM' if self.jarm else ''}) HTTP {self.status}: {self.params}"


def split_redirect(location: str) -> tuple[str, dict, str]:
    """(mode, params, base) of a redirect to the client: fragment wins when present."""
    parts = urlsplit(location)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    if parts.fragment:
        return "fragment", dict(parse_qsl(parts.fragment, keep_blank_values=True)), base
    return "query", dict(parse_qsl(parts.query, keep_blank_values=True)), base


def decode_jarm(result: AuthResult, server: Server, client_id: str | None) -> None:
    """JARM §4.4: verify the response JWT with the server's JWKS and expose its claims as params."""
    token = result.raw_params["response"]
    header, claims = verify_server_jwt(token, server)
    assert claims.get("iss") == server.issuer, f"JARM iss {claims.get('iss')!r}"
    if client_id:
        aud = claims.get("aud")
        assert aud == client_id or (isinstance(aud, list) and client_id in aud), f"JARM aud {aud!r} != {client_id!r}"
    assert claims.get("exp", 0) > time.time() - 5, "JARM response expired"
    result.jarm = True
    result.jarm_header = header
    result.params = claims


class Browser:
    """A user agent that follows the server's login and consent pages the way a browser would.

    It keeps the session cookie itself (it is `Secure` and scoped to `localhost`), submits the
    forms' hidden fields, and stops at the first response addressed to the client: a redirect to
    the redirect URI (read from `Location`, never followed) or a form_post page.
    """

    def __init__(self, server: Server, username: str = "alice", password: str = "wonderland-demo"):
        self.server = server
        self.username = username
        self.password = password
        self.http = requests.Session()
        self.http.verify = server.ca
        self.cookie: str | None = None

    def _send(self, method: str, url: str, **kw) -> requests.Response:
        headers = kw.pop("headers", {}) or {}
        if self.cookie:
            headers["Cookie"] = f"strongroom_session={self.cookie}"
        r = self.http.request(method, url, headers=headers, allow_redirects=False, timeout=30, verify=self.server.ca, **kw)
        for value in _set_cookie_values(r):
            m = re.match(r"\s*strongroom_session=([^;]*)", value)
            if m:
                self.cookie = m.group(1) or None
        return r

    def authorize(self, params: dict | None = None, *, method: str = "GET", decision: str = "approve",
                  client_id: str | None = None, password: str | None = None, url: str | None = None,
                  raw_query: str | None = None) -> AuthResult:
        endpoint = url or self.server.metadata["authorization_endpoint"]
        if raw_query is not None:
            r = self._send("GET", endpoint + "?" + raw_query)
        elif method == "GET":
            r = self._send("GET", endpoint, params=params)
        else:
            r = self._send("POST", endpoint, data=params)
        if client_id is None and params:
            client_id = params.get("client_id")
        steps = []
        base = self.server.base_path
        for _ in range(6):
            result = self._classify(r, client_id)
            if result.kind != "interaction":
                result.steps = steps
                return result
            forms = parse_forms(r.text)
            login = next((f for f in forms if f["action"].endswith("/login")), None)
            consent = next((f for f in forms if f["action"].endswith("/consent")), None)
            if login:
                steps.append("login")
                data = dict(login["fields"])
                data.update(username=self.username, password=password or self.password)
                r = self._send("POST", self.server.issuer + login["action"][len(base):] if login["action"].startswith("/") else login["action"], data=data)
            elif consent:
                steps.append("consent")
                data = dict(consent["fields"])
                data["decision"] = decision
                action = consent["action"]
                r = self._send("POST", self.server.issuer + action[len(base):] if action.startswith("/") else action, data=data)
            else:  # pragma: no cover - classify returns interaction only with a form
                raise AssertionError(f"unexpected page: {r.text[:500]}")
        raise AssertionError("too many interaction steps")

    def _classify(self, r: requests.Response, client_id: str | None) -> AuthResult:
        headers = {k.lower(): v for k, v in r.headers.items()}
        if r.status_code in (301, 302, 303, 307, 308):
            location = r.headers.get("Location", "")
            mode, params, _ = split_redirect(location)
            res = AuthResult(kind="redirect", status=r.status_code, location=location, params=dict(params),
                             raw_params=dict(params), mode=mode, headers=headers, text=r.text)
            if "response" in params:
                decode_jarm(res, self.server, client_id)
            return res
        if r.status_code == 200 and "text/html" in headers.get("content-type", ""):
            forms = parse_forms(r.text)
            if any(f["action"].endswith("/login") or f["action"].endswith("/consent") for f in forms):
                return AuthResult(kind="interaction", status=200, text=r.text, headers=headers)
            post = next((f for f in forms if f["method"] == "post" and f["action"].startswith("https://")), None)
            if post is not None:
                res = AuthResult(kind="form_post", status=200, location=post["action"], params=dict(post["fields"]),
                                 raw_params=dict(post["fields"]), mode="form_post", headers=headers, text=r.text)
                if "response" in post["fields"]:
                    decode_jarm(res, self.server, client_id)
                return res
        return AuthResult(kind="page", status=r.status_code, text=r.text, headers=headers,
                          location=r.headers.get("Location"))


def _set_cookie_values(r: requests.Response) -> list[str]:
    raw = getattr(r.raw, "headers", None)
    if raw is not None and hasattr(raw, "getlist"):
        return raw.getlist("Set-Cookie")
    v = r.headers.get("Set-Cookie")
    return [v] if v else []


# ----------------------------------------------------------------------------------------------
# Flows
# ----------------------------------------------------------------------------------------------

@dataclass
class CodeFlow:
    """The state a client keeps across one authorization: what it sent and what came back."""

    client: Client
    params: dict
    verifier: str | None
    state: str | None
    nonce: str | None
    result: AuthResult | None = None

    @property
    def code(self) -> str:
        assert self.result is not None and "code" in self.result.params, (
            f"no authorization code: {self.result.describe() if self.result else None}")
        return self.result.params["code"]

    def redeem(self, **kw) -> requests.Response:
        return self.client.redeem(self.code, self.verifier, self.params.get("redirect_uri"), **kw)

    def tokens(self, **kw) -> dict:
        r = self.redeem(**kw)
        assert r.status_code == 200, f"token request failed: HTTP {r.status_code} {r.text[:500]}"
        assert r.headers.get("Cache-Control", "").lower().find("no-store") >= 0, "token response without Cache-Control: no-store"
        return r.json()


def code_params(client: Client, scope: str, *, pkce: bool = True, state: bool = True, nonce: bool = True,
                response_type: str = "code", **extra) -> tuple[dict, str | None]:
    params = {"client_id": client.client_id, "response_type": response_type, "scope": scope,
              "redirect_uri": client.redirect_uri}
    verifier = None
    if pkce:
        verifier, challenge = pkce_pair()
        params.update(code_challenge=challenge, code_challenge_method="S256")
    if state:
        params["state"] = random_state()
    if nonce:
        params["nonce"] = random_state()
    params.update(extra)
    return params, verifier


def run_code_flow(browser: Browser, client: Client, scope: str = "openid", **kw) -> CodeFlow:
    """A plain authorization code flow with PKCE (unless pkce=False)."""
    params, verifier = code_params(client, scope, **kw)
    flow = CodeFlow(client, params, verifier, params.get("state"), params.get("nonce"))
    flow.result = browser.authorize(params)
    return flow


def fapi_params(client: Client, *, scope: str = "openid payments", response_type: str = "code id_token",
                response_mode: str | None = None, pkce: bool = True, claims: dict | None = FAPI_ACR_CLAIMS,
                **extra) -> tuple[dict, str | None]:
    params: dict[str, Any] = {"client_id": client.client_id, "response_type": response_type, "scope": scope,
                              "redirect_uri": client.redirect_uri, "state": random_state(), "nonce": random_state()}
    if response_mode:
        params["response_mode"] = response_mode
    if claims is not None:
        params["claims"] = claims
    verifier = None
    if pkce:
        verifier, challenge = pkce_pair()
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return params, verifier


def run_fapi_flow(browser: Browser, client: Client, *, via_par: bool = False, ro_kwargs: dict | None = None,
                  outer: dict | None = None, **kw) -> CodeFlow:
    """A FAPI 1.0 Advanced authorization: the parameters in a signed request object, sent by value
    (`request=`) or pushed (PAR) and referenced by `request_uri`."""
    params, verifier = fapi_params(client, **kw)
    ro = client.request_object(params, **(ro_kwargs or {}))
    flow = CodeFlow(client, params, verifier, params.get("state"), params.get("nonce"))
    if via_par:
        r = client.par({"request": ro})
        assert r.status_code == 201, f"PAR refused: HTTP {r.status_code} {r.text[:500]}"
        body = r.json()
        assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:"), body
        assert isinstance(body.get("expires_in"), (int, float)) and body["expires_in"] > 0, body
        query = {"client_id": client.client_id, "request_uri": body["request_uri"]}
        flow.request_uri = body["request_uri"]  # type: ignore[attr-defined]
    else:
        query = {"client_id": client.client_id, "request": ro}
        # Outer copies of the required OAuth parameters, as a FAPI client sends them (OIDC Core §6.1).
        query.update(response_type=params["response_type"], scope=params["scope"])
    if outer:
        query.update(outer)
    flow.result = browser.authorize(query, client_id=client.client_id)
    return flow


def bearer(token: str, scheme: str = "Bearer") -> dict:
    return {"Authorization": f"{scheme} {token}"}
