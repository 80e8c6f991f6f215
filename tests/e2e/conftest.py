"""Fixtures of the end-to-end suite: a demo kit, the REAL server binary serving it over TLS and
mutual TLS, and the clients (demo ones and ones registered here through the admin API with keys
and certificates made in Python).

Binary: $STRONGROOM_BIN, else `swift build --product strongroom` (skip the build with
STRONGROOM_E2E_NO_BUILD=1) and `$(swift build --show-bin-path)/strongroom`.
"""

from __future__ import annotations

import copy
import datetime
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from joserfc.jwk import ECKey, RSAKey

from fapi_client import Browser, Client, Server, load_private_jwk, pem_bytes

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0

# Observations the summary prints (e.g. which channel each invalid request object was refused on).
OBSERVATIONS: list[str] = []


def observe(line: str) -> None:
    OBSERVATIONS.append(line)


def pytest_terminal_summary(terminalreporter):
    if OBSERVATIONS:
        terminalreporter.section("strongroom e2e observations")
        for line in OBSERVATIONS:
            terminalreporter.write_line(line)


# ----------------------------------------------------------------------------------------------
# Binary and processes
# ----------------------------------------------------------------------------------------------

def strongroom_binary() -> str:
    env = os.environ.get("STRONGROOM_BIN")
    if env:
        if not os.access(env, os.X_OK):
            pytest.exit(f"STRONGROOM_BIN={env} is not executable", returncode=2)
        return env
    if shutil.which("swift") is None:
        pytest.exit("swift not found: set STRONGROOM_BIN to a built strongroom binary", returncode=2)
    if os.environ.get("STRONGROOM_E2E_NO_BUILD") != "1":
        b = subprocess.run(["swift", "build", "--product", "strongroom"], cwd=REPO, capture_output=True, text=True)
        if b.returncode != 0:
            pytest.exit("swift build --product strongroom failed:\n" + (b.stdout + b.stderr)[-4000:], returncode=2)
    path = subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    binary = os.path.join(path, "strongroom")
    if not os.access(binary, os.X_OK):
        pytest.exit(f"no strongroom binary at {binary}", returncode=2)
    return binary


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def stop_process(proc: subprocess.Popen | None) -> None:
    """Stops one process a test started, by its PID: SIGTERM, then SIGKILL after 10 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class ConfiguredServer:
    """What a test reads from the configuration a server (or a bed of nodes) runs with: needs
    `self.config` and `self.issuer`."""

    config: dict
    issuer: str

    @property
    def admin_token(self) -> str:
        return self.config["admin"]["token"]

    @property
    def initial_access_token(self) -> str:
        return self.config["service"]["registration"]["initial_access_tokens"][0]

    @property
    def callback(self) -> str:
        return self.issuer + "/demo/callback"

    def client_config(self, client_id: str) -> dict:
        return next(c for c in self.config["clients"] if c["client_id"] == client_id)


class RunningServer(ConfiguredServer):
    """One `strongroom serve` process and what a test needs to talk to it."""

    def __init__(self, binary: str, kit: Path, config_name: str, config: dict, port: int, mtls_port: int,
                 command_prefix: tuple[str, ...] = ()):
        self.kit = kit
        self.port = port
        self.mtls_port = mtls_port
        self.config = config
        self.config_path = kit / config_name
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log_path = kit / (config_name + ".log")
        self.issuer = config["service"]["issuer"]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([*command_prefix, binary, "serve", "--config", str(self.config_path)], cwd=kit,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.api = Server(self.issuer, str(kit / "ca.pem"), mtls_port)
        self._wait()

    def _wait(self) -> None:
        deadline = time.time() + START_TIMEOUT
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail(f"strongroom serve exited with status {self.proc.returncode}:\n{self.log_tail()}")
            try:
                r = requests.get(self.issuer + "/healthz", verify=self.api.ca, timeout=2)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}"
            except requests.RequestException as e:  # not listening yet
                last = repr(e)
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"strongroom did not become healthy in {START_TIMEOUT}s ({last}):\n{self.log_tail()}")

    def log_tail(self, n: int = 60) -> str:
        try:
            self.log.flush()
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()

    def admin(self, method: str, path: str, body=None) -> requests.Response:
        return self.api.request(method, "/admin" + path, json=body, headers={"Authorization": f"Bearer {self.admin_token}"})


@pytest.fixture(scope="session")
def binary(tmp_path_factory) -> str:
    """A private copy of the binary: others may relink .build/.../strongroom while the suite runs
    (exec of a file being written fails with ETXTBSY)."""
    source = strongroom_binary()
    target = tmp_path_factory.mktemp("bin") / "strongroom"
    last = None
    for _ in range(40):
        try:
            shutil.copy2(source, target)
            r = subprocess.run([str(target), "--help"], capture_output=True, text=True, timeout=30)
            if r.returncode == 0:
                return str(target)
            last = f"--help exited {r.returncode}: {r.stderr[-500:]}"
        except OSError as e:  # ETXTBSY / partially written while being relinked
            last = repr(e)
        time.sleep(0.5)
    pytest.exit(f"cannot run {source}: {last}", returncode=2)


@pytest.fixture(scope="session")
def kit(binary, tmp_path_factory):
    """A fresh demo kit from `strongroom demo init DIR --port P --mtls-port Q` (ports chosen free)."""
    d = tmp_path_factory.mktemp("strongroom-kit")
    port, mtls_port = free_ports(2)
    r = subprocess.run([binary, "demo", "init", str(d), "--port", str(port), "--mtls-port", str(mtls_port), "--force"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.exit(f"strongroom demo init failed ({r.returncode}):\n{r.stdout}\n{r.stderr}", returncode=2)
    written = yaml.safe_load((d / "strongroom.yaml").read_text())
    return {"dir": d, "port": port, "mtls_port": mtls_port, "written": written, "stdout": r.stdout}


def configure(written: dict, port: int, mtls_port: int, database: str, **service_overrides) -> dict:
    """The kit's configuration for the given ports. Rewrites issuer/ports/redirect URIs even if
    `demo init` already did (it did not honour --port at the time of writing: see
    test_discovery.py::test_demo_init_honours_ports)."""
    c = copy.deepcopy(written)
    old_issuer = c["service"]["issuer"]
    issuer = f"https://localhost:{port}"
    c["service"]["issuer"] = issuer
    c["server"]["port"] = port
    c["server"]["host"] = "127.0.0.1"
    c["server"]["mtls_alias"] = {"host": "127.0.0.1", "port": mtls_port, "base_url": f"https://localhost:{mtls_port}"}
    c["database"]["url"] = f"sqlite:{database}"
    c["log_level"] = "debug" if os.environ.get("STRONGROOM_E2E_DEBUG") else "info"
    for client in c.get("clients", []):
        client["redirect_uris"] = [u.replace(old_issuer, issuer) for u in client.get("redirect_uris", [])]
    lifetimes = service_overrides.pop("lifetimes", None)
    if lifetimes:
        c["service"].setdefault("lifetimes", {}).update(lifetimes)
    c["service"].update(service_overrides)
    return c


@pytest.fixture(scope="session")
def srv(binary, kit):
    """The main server: the demo kit as written, on free ports."""
    cfg = configure(kit["written"], kit["port"], kit["mtls_port"], "e2e-main.sqlite")
    s = RunningServer(binary, kit["dir"], "e2e-main.yaml", cfg, kit["port"], kit["mtls_port"])
    yield s
    s.stop()


@pytest.fixture(scope="session")
def short_srv(binary, kit):
    """A second server on the same kit with very short lifetimes, for expiry tests."""
    port, mtls_port = free_ports(2)
    cfg = configure(kit["written"], port, mtls_port, "e2e-short.sqlite",
                    lifetimes={"pushed_request": 1, "authorization_code": 1, "access_token": 1})
    s = RunningServer(binary, kit["dir"], "e2e-short.yaml", cfg, port, mtls_port)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def server(srv) -> Server:
    return srv.api


@pytest.fixture
def browser(server) -> Browser:
    return Browser(server)


# ----------------------------------------------------------------------------------------------
# Keys and certificates made here
# ----------------------------------------------------------------------------------------------

def write_key(path: Path, key) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def write_cert(path: Path, cert) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def make_cert(subject_cn: str, key, issuer_name=None, issuer_key=None, org: str = "Strongroom E2E") -> x509.Certificate:
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, subject_cn),
    ])
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder()
         .subject_name(subject)
         .issuer_name(issuer_name or subject)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=2))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                      data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                      crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    return b.sign(issuer_key or key, hashes.SHA256())


def public_jwk(key, alg: str) -> tuple[dict, object]:
    """(public JWK dict with kid/use/alg, joserfc private key) for a cryptography private key."""
    jk = RSAKey.import_key(key) if isinstance(key, rsa.RSAPrivateKey) else ECKey.import_key(key)
    jk.ensure_kid()
    pub = jk.as_dict(private=False)
    pub.update(use="sig", alg=alg)
    priv = (RSAKey if isinstance(key, rsa.RSAPrivateKey) else ECKey).import_key(
        jk.as_dict(private=True), {"kid": pub["kid"], "use": "sig", "alg": alg})
    return pub, priv


# ----------------------------------------------------------------------------------------------
# Clients
# ----------------------------------------------------------------------------------------------

PLAIN_SCOPE = "openid profile email offline_access"


class Clients:
    """Every client the suite uses, by name."""

    def __init__(self, srv: RunningServer, material: Path):
        self.srv = srv
        self.server = srv.api
        self.material = material
        self.kit = srv.kit
        k = srv.kit
        cb = srv.callback
        self.fapi1 = Client(self.server, "demo-fapi-1", "private_key_jwt", key=load_private_jwk(k / "client1.jwks.json"),
                            alg="PS256", cert=(str(k / "client1.pem"), str(k / "client1.key.pem")), redirect_uri=cb,
                            id_token_alg="PS256")
        self.fapi2 = Client(self.server, "demo-fapi-2", "tls_client_auth", key=load_private_jwk(k / "client2.jwks.json"),
                            alg="ES256", cert=(str(k / "client2.pem"), str(k / "client2.key.pem")), redirect_uri=cb,
                            id_token_alg="ES256")
        self.plain = Client(self.server, "demo-plain", "client_secret_basic",
                            secret=srv.client_config("demo-plain")["client_secret"], redirect_uri=cb)
        self.cert1 = self.fapi1.cert
        self.cert2 = self.fapi2.cert

    def register(self, body: dict) -> dict:
        r = self.srv.admin("POST", "/clients", body)
        assert r.status_code == 201, f"admin registration of {body.get('client_id')} refused: HTTP {r.status_code} {r.text[:800]}"
        return r.json()


@pytest.fixture(scope="session")
def clients(srv, tmp_path_factory) -> Clients:
    material = tmp_path_factory.mktemp("client-material")
    c = Clients(srv, material)
    cb = srv.callback
    base = {"redirect_uris": [cb], "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "response_types": ["code"], "scope": PLAIN_SCOPE}

    # client_secret_post
    c.post = Client(c.server, "e2e-secret-post", "client_secret_post", secret="post-" + os.urandom(24).hex(), redirect_uri=cb)
    c.register({**base, "client_id": c.post.client_id, "client_secret": c.post.secret, "token_endpoint_auth_method": "client_secret_post"})

    # client_secret_jwt (HS256, secret of 48 bytes)
    c.secret_jwt = Client(c.server, "e2e-secret-jwt", "client_secret_jwt", secret=os.urandom(24).hex() * 2, alg="HS256", redirect_uri=cb)
    c.register({**base, "client_id": c.secret_jwt.client_id, "client_secret": c.secret_jwt.secret,
                "token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "HS256"})

    # private_key_jwt with a Python-generated P-256 key (plain OAuth: no certificate binding)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pub, priv = public_jwk(ec_key, "ES256")
    c.pkjwt = Client(c.server, "e2e-private-key-jwt", "private_key_jwt", key=priv, alg="ES256", redirect_uri=cb)
    c.register({**base, "client_id": c.pkjwt.client_id, "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_signing_alg": "ES256", "jwks": {"keys": [pub]}})

    # private_key_jwt, PS256, RSA key made here — used for the "RS256 assertion" negative case
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rpub, rpriv = public_jwk(rsa_key, "PS256")
    c.pkjwt_rsa = Client(c.server, "e2e-private-key-jwt-rsa", "private_key_jwt", key=rpriv, alg="PS256", redirect_uri=cb)
    c.register({**base, "client_id": c.pkjwt_rsa.client_id, "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_signing_alg": "PS256", "jwks": {"keys": [rpub]}})

    # tls_client_auth with a certificate issued by the demo CA
    ca_key = serialization.load_pem_private_key(pem_bytes(c.kit / "ca.key.pem"), None)
    ca_cert = x509.load_pem_x509_certificate(pem_bytes(c.kit / "ca.pem"))
    tls_key = ec.generate_private_key(ec.SECP256R1())
    tls_cert = make_cert("e2e-tls-client", tls_key, issuer_name=ca_cert.subject, issuer_key=ca_key)
    write_key(material / "tls.key.pem", tls_key)
    write_cert(material / "tls.pem", tls_cert)
    c.tls = Client(c.server, "e2e-tls-client-auth", "tls_client_auth", cert=(str(material / "tls.pem"), str(material / "tls.key.pem")),
                   redirect_uri=cb)
    c.tls_subject = tls_cert.subject.rfc4514_string()
    c.register({**base, "client_id": c.tls.client_id, "token_endpoint_auth_method": "tls_client_auth",
                "tls_client_auth_subject_dn": c.tls_subject})

    # self_signed_tls_client_auth: a self-signed certificate whose key is in the client's jwks
    ss_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ss_cert = make_cert("e2e-self-signed", ss_key)
    write_key(material / "selfsigned.key.pem", ss_key)
    write_cert(material / "selfsigned.pem", ss_cert)
    ss_pub, _ = public_jwk(ss_key, "PS256")
    c.self_signed = Client(c.server, "e2e-self-signed-tls", "self_signed_tls_client_auth",
                           cert=(str(material / "selfsigned.pem"), str(material / "selfsigned.key.pem")), redirect_uri=cb)
    c.register({**base, "client_id": c.self_signed.client_id, "token_endpoint_auth_method": "self_signed_tls_client_auth",
                "jwks": {"keys": [ss_pub]}})
    # a second self-signed certificate that is NOT registered
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write_key(material / "stranger.key.pem", other_key)
    write_cert(material / "stranger.pem", make_cert("e2e-stranger", other_key))
    c.stranger_cert = (str(material / "stranger.pem"), str(material / "stranger.key.pem"))

    # public client (none), plain OAuth
    c.public = Client(c.server, "e2e-public", "none", redirect_uri=cb)
    c.register({"client_id": c.public.client_id, "redirect_uris": [cb], "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"], "scope": PLAIN_SCOPE, "token_endpoint_auth_method": "none"})

    # public client for FAPI 1.0 Baseline (accounts)
    c.public_fapi = Client(c.server, "e2e-public-baseline", "none", redirect_uri=cb)
    c.register({"client_id": c.public_fapi.client_id, "redirect_uris": [cb], "grant_types": ["authorization_code"],
                "response_types": ["code"], "scope": "openid accounts", "token_endpoint_auth_method": "none"})
    return c
