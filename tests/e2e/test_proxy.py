"""Behind a TLS-terminating reverse proxy (RFC 9440): a real nginx from Debian, started here on free
loopback ports, in front of Strongroom's mutual-TLS alias.

nginx terminates the client's TLS (`ssl_verify_client optional_no_ca`: any client certificate,
the engine judges it), then connects to Strongroom over TLS presenting ITS OWN client certificate
(`proxy_ssl_certificate`: the demo kit's client2 certificate, which would itself authenticate
demo-fapi-2). Two layouts:

- `forwarding`: the client's certificate goes upstream as `Client-Cert: :<base64 DER>:`.
- `silent`: nothing is forwarded.

From a trusted proxy only the header counts: the proxy's own TLS certificate is never the client's.

nginx has no variable holding the certificate as base64 DER; `$ssl_client_raw_cert` is the PEM
(64-character base64 lines between the BEGIN/END lines). A `map` with a regular expression whose
named captures take one PEM line each, joined between colons, yields exactly the RFC 9440
byte-sequence form (`:` base64 `:`) that Strongroom's parser accepts. Certificates of more than
MAX_PEM_LINES lines (about 3 KB of DER) do not match and are then not forwarded at all.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import RunningServer, configure, free_ports, make_cert, stop_process, write_cert, write_key
from fapi_client import cert_thumbprint, pem_bytes

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MAX_PEM_LINES = 48

pytestmark = pytest.mark.skipif(not os.access(NGINX, os.X_OK),
                                reason="nginx is not installed (Debian package nginx; .ci/run installs it)")


def rfc9440_map(source: str, target: str) -> str:
    """An nginx `map` turning a PEM certificate variable into `:<base64 DER>:` (empty when there is none)."""
    line = "[A-Za-z0-9+/=]+"
    groups = [f"(?<cc{i:02d}>{line})\\n" if i == 1 else f"(?:(?<cc{i:02d}>{line})\\n)?" for i in range(1, MAX_PEM_LINES + 1)]
    pattern = "~^-----BEGIN CERTIFICATE-----\\n" + "".join(groups) + "-----END CERTIFICATE-----"
    value = ":" + "".join(f"$cc{i:02d}" for i in range(1, MAX_PEM_LINES + 1)) + ":"
    return f'map {source} {target} {{\n    default "";\n    "{pattern}" "{value}";\n}}\n'


def nginx_conf(work: Path, kit: Path, upstream_port: int, forwarding_port: int, silent_port: int) -> str:
    def server_block(port: int, client_cert_header: str) -> str:
        return f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {kit / "server.pem"};
        ssl_certificate_key {kit / "server.key.pem"};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_verify_client optional_no_ca;

        location / {{
            proxy_pass https://127.0.0.1:{upstream_port};
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            # Replaces whatever the client sent under these names; an empty value sends no header.
            proxy_set_header Client-Cert {client_cert_header};
            proxy_set_header Client-Cert-Chain "";
            # The proxy's own certificate in its TLS connection to Strongroom.
            proxy_ssl_certificate {kit / "client2.pem"};
            proxy_ssl_certificate_key {kit / "client2.key.pem"};
            proxy_ssl_trusted_certificate {kit / "ca.pem"};
            proxy_ssl_verify on;
            proxy_ssl_name localhost;
            proxy_ssl_server_name on;
            proxy_ssl_protocols TLSv1.2 TLSv1.3;
            # A full handshake on every upstream connection, so the proxy's certificate is really presented
            # each time (a resumed TLS session carries no fresh certificate message).
            proxy_ssl_session_reuse off;
        }}
    }}
"""
    return nginx_conf_around(work, 64, server_block(forwarding_port, "$client_cert_rfc9440") + "\n" + server_block(silent_port, '""'))


def nginx_conf_around(work: Path, worker_connections: int, http_body: str) -> str:
    """A whole nginx configuration that keeps every file in `work` (one process, no daemon) and
    maps the TLS client certificate to `$client_cert_rfc9440`; `http_body` is the rest of `http`."""
    tmp = work / "tmp"
    return f"""daemon off;
master_process off;
worker_processes 1;
pid {work / "nginx.pid"};
error_log {work / "error.log"} info;
events {{ worker_connections {worker_connections}; }}
http {{
    access_log {work / "access.log"};
    client_body_temp_path {tmp / "body"};
    proxy_temp_path {tmp / "proxy"};
    fastcgi_temp_path {tmp / "fastcgi"};
    uwsgi_temp_path {tmp / "uwsgi"};
    scgi_temp_path {tmp / "scgi"};
    {rfc9440_map("$ssl_client_raw_cert", "$client_cert_rfc9440")}
{http_body}
}}
"""


class Nginx:
    """One nginx process (no daemon, no master), stopped by its PID."""

    def __init__(self, work: Path, conf: str, ports: list[int]):
        self.work = work
        (work / "tmp").mkdir(parents=True, exist_ok=True)
        self.conf_path = work / "nginx.conf"
        self.conf_path.write_text(conf)
        self.log = open(work / "nginx.out", "wb")
        test = subprocess.run([NGINX, "-t", "-p", str(work), "-e", str(work / "error.log"), "-c", str(self.conf_path)],
                              capture_output=True, text=True)
        if test.returncode != 0:
            pytest.fail(f"nginx -t refused the configuration:\n{test.stderr}")
        self.proc = subprocess.Popen([NGINX, "-p", str(work), "-e", str(work / "error.log"), "-c", str(self.conf_path)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        for port in ports:
            while True:
                if self.proc.poll() is not None:
                    pytest.fail(f"nginx exited with status {self.proc.returncode}:\n{self.error_log()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.time() > deadline:
                        self.stop()
                        pytest.fail(f"nginx did not listen on {port}:\n{self.error_log()}")
                    time.sleep(0.05)

    def error_log(self) -> str:
        p = self.work / "error.log"
        return p.read_text(errors="replace")[-4000:] if p.exists() else "(no error log)"

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


class Proxied:
    def __init__(self, srv: RunningServer, nginx: Nginx, forwarding_port: int, silent_port: int, client_cert: tuple[str, str]):
        self.srv = srv
        self.nginx = nginx
        self.ca = srv.api.ca
        self.forwarding = f"https://localhost:{forwarding_port}"
        self.silent = f"https://localhost:{silent_port}"
        self.client_cert = client_cert  # the registered tls_client_auth client's own certificate
        kit = srv.kit
        self.proxy_cert = (str(kit / "client2.pem"), str(kit / "client2.key.pem"))  # what nginx presents upstream

    def post(self, base: str, path: str, data: dict, cert=None) -> requests.Response:
        return requests.post(base + path, data=data, cert=cert, verify=self.ca, timeout=30, allow_redirects=False)


TLS_CLIENT = "e2e-proxied-tls-client"


@pytest.fixture(scope="module")
def proxied(binary, kit, tmp_path_factory):
    port, mtls_port, forwarding_port, silent_port = free_ports(4)
    cfg = configure(kit["written"], port, mtls_port, "e2e-proxy.sqlite")
    cfg["server"]["trusted_proxies"] = ["127.0.0.1"]
    cfg["server"]["client_certificate_header"] = "Client-Cert"
    srv = RunningServer(binary, kit["dir"], "e2e-proxy.yaml", cfg, port, mtls_port)
    nginx = None
    try:
        # A tls_client_auth client of its own, certificate issued by the demo CA (not client2's).
        material = tmp_path_factory.mktemp("proxy-client")
        ca_key = serialization.load_pem_private_key(pem_bytes(kit["dir"] / "ca.key.pem"), None)
        ca_cert = x509.load_pem_x509_certificate(pem_bytes(kit["dir"] / "ca.pem"))
        key = ec.generate_private_key(ec.SECP256R1())
        cert = make_cert("e2e-proxied-client", key, issuer_name=ca_cert.subject, issuer_key=ca_key)
        write_key(material / "client.key.pem", key)
        write_cert(material / "client.pem", cert)
        r = srv.admin("POST", "/clients", {
            "client_id": TLS_CLIENT, "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_subject_dn": cert.subject.rfc4514_string(),
            "tls_client_certificate_bound_access_tokens": True,
            "redirect_uris": [srv.callback], "grant_types": ["authorization_code", "client_credentials"], "response_types": ["code"],
            "scope": "openid profile"})
        assert r.status_code == 201, f"admin registration refused: HTTP {r.status_code} {r.text[:500]}"
        work = tmp_path_factory.mktemp("nginx")
        nginx = Nginx(work, nginx_conf(work, kit["dir"], mtls_port, forwarding_port, silent_port), [forwarding_port, silent_port])
        yield Proxied(srv, nginx, forwarding_port, silent_port, (str(material / "client.pem"), str(material / "client.key.pem")))
    finally:
        if nginx is not None:
            nginx.stop()
        srv.stop()


def client_credentials(client_id: str, scope: str) -> dict:
    return {"grant_type": "client_credentials", "client_id": client_id, "scope": scope}


def refusal(r: requests.Response) -> tuple[int, str | None]:
    try:
        return r.status_code, r.json().get("error")
    except ValueError:
        return r.status_code, None


def test_without_client_certificate_token_request_is_invalid_client(proxied):
    """The reference outcome: a tls_client_auth token request that carries no client certificate at all
    (straight to the main listener, which does not ask for one in the demo configuration)."""
    for client_id, scope in [(TLS_CLIENT, "profile"), ("demo-fapi-2", "accounts")]:
        r = proxied.post(proxied.srv.issuer, "/token", client_credentials(client_id, scope))
        assert refusal(r) == (401, "invalid_client"), f"{client_id}: HTTP {r.status_code} {r.text}"


def test_forwarded_certificate_authenticates_and_binds_the_clients_certificate(proxied):
    r = proxied.post(proxied.forwarding, "/token", client_credentials(TLS_CLIENT, "profile"), cert=proxied.client_cert)
    assert r.status_code == 200, f"token through the forwarding proxy: HTTP {r.status_code} {r.text}"
    token = r.json()["access_token"]
    assert r.json()["token_type"].lower() == "bearer"
    r = proxied.post(proxied.forwarding, "/introspect", {"token": token, "client_id": TLS_CLIENT}, cert=proxied.client_cert)
    assert r.status_code == 200, r.text
    cnf = r.json().get("cnf", {}).get("x5t#S256")
    assert cnf == cert_thumbprint(proxied.client_cert[0]), f"token bound to {cnf}, not to the client's certificate"
    assert cnf != cert_thumbprint(proxied.proxy_cert[0]), "token bound to the proxy's own certificate"


def test_forwarding_proxy_without_client_certificate_does_not_lend_its_own(proxied):
    """The client presents nothing to nginx; nginx's own certificate (client2's) authenticates nobody."""
    r = proxied.post(proxied.forwarding, "/token", client_credentials("demo-fapi-2", "accounts"))
    assert refusal(r) == (401, "invalid_client"), f"the proxy's certificate was taken as demo-fapi-2's: HTTP {r.status_code} {r.text}"


@pytest.mark.parametrize("who", ["registered-client", "demo-fapi-2"])
def test_silent_proxy_means_no_client_certificate(proxied, who):
    """The proxy forwards nothing: refused exactly as without a certificate, though the client presented one
    to nginx and nginx presented client2's certificate at TLS level."""
    if who == "demo-fapi-2":
        data, cert = client_credentials("demo-fapi-2", "accounts"), proxied.proxy_cert
    else:
        data, cert = client_credentials(TLS_CLIENT, "profile"), proxied.client_cert
    r = proxied.post(proxied.silent, "/token", data, cert=cert)
    assert refusal(r) == (401, "invalid_client"), f"{who} through the silent proxy: HTTP {r.status_code} {r.text}"


def test_client_supplied_client_cert_header_does_not_pass_the_silent_proxy(proxied):
    """A client cannot forge the header: nginx replaces it (here with nothing)."""
    der = x509.load_pem_x509_certificate(pem_bytes(proxied.proxy_cert[0])).public_bytes(serialization.Encoding.DER)
    forged = ":" + base64.b64encode(der).decode() + ":"
    r = requests.post(proxied.silent + "/token", data=client_credentials("demo-fapi-2", "accounts"),
                      headers={"Client-Cert": forged}, verify=proxied.ca, timeout=30)
    assert refusal(r) == (401, "invalid_client"), f"forged Client-Cert passed the proxy: HTTP {r.status_code} {r.text}"
