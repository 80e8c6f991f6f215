"""Surfaces that are off unless a configuration turns them on: the demo callback page
(`server.demo_pages`), an open `/metrics` (`metrics.public`), and the main listener asking for a
client certificate (`server.request_client_certificate`).

`srv` is the demo kit as written (demo pages on, certificate not asked for on the main listener,
metrics behind the admin token). `production` is the same kit with those keys removed, i.e. the
defaults of `strongroom serve`, and without an admin token. `open_metrics` adds `metrics.public: true`.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import requests

from conftest import RunningServer, configure, free_ports

METRICS_DENIED = {"error": "invalid_token", "error_description": "the metrics endpoint needs the admin credential"}


def production_config(kit: dict, port: int, mtls_port: int, database: str) -> dict:
    cfg = configure(kit["written"], port, mtls_port, database)
    cfg["server"].pop("demo_pages", None)
    cfg["server"].pop("request_client_certificate", None)
    cfg.pop("metrics", None)
    cfg["admin"] = {}
    return cfg


@pytest.fixture(scope="module")
def production(binary, kit):
    port, mtls_port = free_ports(2)
    s = RunningServer(binary, kit["dir"], "e2e-production.yaml", production_config(kit, port, mtls_port, "e2e-production.sqlite"),
                      port, mtls_port)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def open_metrics(binary, kit):
    port, mtls_port = free_ports(2)
    cfg = production_config(kit, port, mtls_port, "e2e-open-metrics.sqlite")
    cfg["metrics"] = {"public": True}
    s = RunningServer(binary, kit["dir"], "e2e-open-metrics.yaml", cfg, port, mtls_port)
    yield s
    s.stop()


def test_demo_kit_writes_the_demo_settings(kit):
    server = kit["written"]["server"]
    assert server.get("demo_pages") is True
    assert server.get("request_client_certificate") is False
    assert kit["written"].get("metrics") == {"public": False}


# --- /demo/callback ---------------------------------------------------------------------------

def test_demo_callback_is_served_by_the_demo_kit(srv):
    r = srv.api.get("/demo/callback", params={"code": "abc", "state": "xyz"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/html")


def test_demo_callback_is_404_without_demo_pages(production):
    for method in ("GET", "POST"):
        r = production.api.request(method, "/demo/callback", params={"code": "abc", "state": "xyz"})
        assert r.status_code == 404, f"{method} /demo/callback: HTTP {r.status_code}"
        assert r.json() == {"error": "not_found"}


# --- /metrics ---------------------------------------------------------------------------------

def test_metrics_from_loopback_without_the_admin_token_is_401(srv):
    r = srv.api.get("/metrics")
    assert r.status_code == 401
    assert r.json() == METRICS_DENIED
    r = srv.api.get("/metrics", headers={"Authorization": f"Bearer {srv.admin_token}"})
    assert r.status_code == 200
    assert "strongroom_requests_total" in r.text


def test_metrics_without_any_admin_token_configured_is_401_even_from_loopback(production):
    """No admin token and no `metrics.public`: nobody reads the metrics, loopback peers included."""
    r = production.api.get("/metrics")
    assert r.status_code == 401
    assert r.json() == METRICS_DENIED
    assert r.headers.get("WWW-Authenticate") == 'Bearer realm="strongroom"'


def test_metrics_public_opens_the_exposition(open_metrics):
    r = open_metrics.api.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")


# --- the main listener and client certificates -------------------------------------------------

def handshake_messages(port: int, ca: str, cert: tuple[str, str]) -> str:
    """`openssl s_client -msg` against a listener, offering a client certificate: the handshake trace."""
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", "-CAfile", ca,
                        "-cert", cert[0], "-key", cert[1], "-msg"],
                       input=b"", capture_output=True, timeout=30)
    out = r.stdout.decode(errors="replace")
    assert "Verify return code: 0 (ok)" in out, f"s_client did not complete the handshake:\n{out[-2000:]}\n{r.stderr.decode()[-1000:]}"
    return out


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")


@needs_openssl
def test_demo_main_listener_does_not_request_a_client_certificate(srv):
    kit = srv.kit
    cert = (str(kit / "client2.pem"), str(kit / "client2.key.pem"))
    assert "CertificateRequest" not in handshake_messages(srv.port, srv.api.ca, cert)
    # The alias does (and requires one).
    assert "CertificateRequest" in handshake_messages(srv.mtls_port, srv.api.ca, cert)


@needs_openssl
def test_main_listener_requests_a_client_certificate_by_default(production):
    kit = production.kit
    cert = (str(kit / "client2.pem"), str(kit / "client2.key.pem"))
    assert "CertificateRequest" in handshake_messages(production.port, production.api.ca, cert)


def test_certificate_offered_to_a_listener_that_does_not_ask_is_not_sent(srv, production):
    """The same tls_client_auth token request with client2's certificate on each main listener: the demo
    kit's does not ask for it (refused as without a certificate), the default one does (accepted)."""
    kit = srv.kit
    cert = (str(kit / "client2.pem"), str(kit / "client2.key.pem"))
    data = {"grant_type": "client_credentials", "client_id": "demo-fapi-2", "scope": "accounts"}
    r = requests.post(srv.issuer + "/token", data=data, cert=cert, verify=srv.api.ca, timeout=30)
    assert (r.status_code, r.json().get("error")) == (401, "invalid_client"), r.text
    r = requests.post(production.issuer + "/token", data=data, cert=cert, verify=production.api.ca, timeout=30)
    assert r.status_code == 200, r.text
