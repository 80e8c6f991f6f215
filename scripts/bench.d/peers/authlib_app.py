"""The Authlib peer of `scripts/bench --peers`: a small Flask app on Authlib's OAuth 2.0 server.

It does the work of Strongroom's scenarios a-d and nothing else:

  POST /token       client_credentials; clients authenticate with client_secret_basic (a, c) or
                    with a private_key_jwt ES256 assertion (b, RFC 7523) whose jti is refused when
                    seen before. Access tokens are opaque random strings (a, b) or RFC 9068 JWTs
                    signed PS256 with an RSA-2048 key (c).
  POST /introspect  RFC 7662 through Authlib's IntrospectionEndpoint (d); the caller authenticates
                    with client_secret_basic and must be the resource-server client.

Storage: every issued token and every assertion jti is a row in one SQLite file on disk (WAL,
synchronous=FULL, one commit per request, so a token is durable before it is returned, as in
Strongroom). The four clients are read once at start from clients.json, and their secrets are
compared as plain strings (constant time).

Environment: BENCH_PEER_DATA (a folder with clients.json and signing.key.pem, the database is
created there) and BENCH_PEER_AUDIENCE (the value client assertions must name in aud).
Run with: gunicorn --chdir scripts/bench.d/peers authlib_app:app
"""
import json
import os
import secrets
import sqlite3
import threading
import time

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from flask import Flask
from joserfc.jwk import KeySet, RSAKey
from joserfc.jws import JWSRegistry

DATA = os.environ["BENCH_PEER_DATA"]
AUDIENCE = os.environ["BENCH_PEER_AUDIENCE"]
DATABASE = os.path.join(DATA, "authlib.sqlite")
LIFETIME = 3600

_local = threading.local()


def db():
    """One SQLite connection per thread (gthread workers serve requests on several threads)."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(DATABASE, timeout=10, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        _local.conn = conn
    return conn


def create_schema():
    conn = db()
    conn.execute("CREATE TABLE IF NOT EXISTS token (access_token TEXT PRIMARY KEY, client_id TEXT NOT NULL,"
                 " scope TEXT, issued_at INTEGER NOT NULL, expires_in INTEGER NOT NULL,"
                 " revoked INTEGER NOT NULL DEFAULT 0)")
    conn.execute("CREATE TABLE IF NOT EXISTS assertion_jti (client_id TEXT NOT NULL, jti TEXT NOT NULL,"
                 " expires_at INTEGER NOT NULL, PRIMARY KEY (client_id, jti))")


class Client(ClientMixin):
    def __init__(self, record):
        self.client_id = record["client_id"]
        self.secret = record.get("client_secret")
        self.auth_method = record["token_endpoint_auth_method"]
        self.scope = record["scope"]
        self.jwt_access_token = record.get("access_token_format") == "jwt"
        self.resource_server = bool(record.get("resource_server"))
        self.jwks = KeySet.import_key_set(record["jwks"]) if "jwks" in record else None

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        allowed = set(self.scope.split())
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return self.secret is not None and secrets.compare_digest(self.secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        # Authlib calls private_key_jwt "client_assertion_jwt".
        wanted = "client_assertion_jwt" if self.auth_method == "private_key_jwt" else self.auth_method
        return method == wanted

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type == "client_credentials"


class Token(TokenMixin):
    def __init__(self, row):
        self.access_token, self.client_id, self.scope, self.issued_at, self.expires_in, self.revoked = row

    def check_client(self, client):
        return client.client_id == self.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return self.issued_at + self.expires_in < time.time()

    def is_revoked(self):
        return bool(self.revoked)


with open(os.path.join(DATA, "clients.json")) as f:
    CLIENTS = {r["client_id"]: Client(r) for r in json.load(f)}
with open(os.path.join(DATA, "signing.key.pem")) as f:
    SIGNING_KEY = RSAKey.import_key(f.read(), {"kid": "bench-ps256", "use": "sig", "alg": "PS256"})


def query_client(client_id):
    return CLIENTS.get(client_id)


def save_token(token, request):
    db().execute("INSERT INTO token (access_token, client_id, scope, issued_at, expires_in) VALUES (?, ?, ?, ?, ?)",
                 (token["access_token"], request.client.client_id, token.get("scope"), int(time.time()),
                  token["expires_in"]))


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_assertion_jwt"]


class ClientAssertion(JWTBearerClientAssertion):
    def get_audiences(self):
        return [AUDIENCE]

    def resolve_client_public_key(self, client):
        return client.jwks

    def validate_jti(self, claims, jti):
        try:
            db().execute("INSERT INTO assertion_jti (client_id, jti, expires_at) VALUES (?, ?, ?)",
                         (claims["sub"], jti, int(claims["exp"])))
        except sqlite3.IntegrityError:
            return False
        return True


# joserfc signs only with its "recommended" algorithms unless told otherwise, and PS256 is not one
# of them; Authlib's RFC 9068 generator does not pass a list, so PS256 is added to the defaults.
if "PS256" not in JWSRegistry.recommended:
    JWSRegistry.recommended.append("PS256")


class PS256TokenGenerator(JWTBearerTokenGenerator):
    def get_jwks(self):
        return SIGNING_KEY


class TokenGenerator:
    """Opaque tokens, or PS256 JWTs for the clients registered for them (Authlib picks a
    generator by grant type only, so the choice per client is made here)."""

    def __init__(self):
        self.opaque = BearerTokenGenerator(lambda **kwargs: secrets.token_urlsafe(32))
        self.jwt = PS256TokenGenerator(issuer=AUDIENCE, alg="PS256")

    def __call__(self, grant_type, client, user=None, scope=None, expires_in=None, include_refresh_token=True):
        generator = self.jwt if client.jwt_access_token else self.opaque
        return generator(grant_type, client, user=user, scope=scope, expires_in=LIFETIME,
                         include_refresh_token=False)


class Introspection(IntrospectionEndpoint):
    def query_token(self, token_string, token_type_hint):
        row = db().execute("SELECT access_token, client_id, scope, issued_at, expires_in, revoked FROM token"
                           " WHERE access_token = ?", (token_string,)).fetchone()
        return Token(row) if row else None

    def check_permission(self, token, client, request):
        return client.resource_server or token.check_client(client)

    def introspect_token(self, token):
        return {"active": True, "client_id": token.client_id, "token_type": "Bearer", "scope": token.scope,
                "iat": token.issued_at, "exp": token.issued_at + token.expires_in, "iss": AUDIENCE}


create_schema()
app = Flask(__name__)
server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
server.register_token_generator("default", TokenGenerator())
server.register_client_auth_method(ClientAssertion.CLIENT_AUTH_METHOD, ClientAssertion())
server.register_grant(ClientCredentialsGrant)
server.register_endpoint(Introspection)


@app.post("/token")
def token():
    return server.create_token_response()


@app.post("/introspect")
def introspect():
    return server.create_endpoint_response(Introspection.ENDPOINT_NAME)
