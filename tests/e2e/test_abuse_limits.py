"""Abuse limits (`limits` in the configuration) against the real binary: a server on the same kit
with low limits of its own, so the bursts here never touch the main server's buckets.

The limits are token buckets per node: `burst` requests at once, refilled at `per_minute`. At
6 per minute a bucket takes 10 s to regain one request, so a burst sent in well under a second
is refused with a `Retry-After` of at most 10 seconds.
"""

from __future__ import annotations

import pytest
import requests

from conftest import RunningServer, configure, free_ports
from fapi_client import Client, load_private_jwk

BURST = 3


@pytest.fixture(scope="module")
def limited(binary, kit):
    port, mtls_port = free_ports(2)
    cfg = configure(kit["written"], port, mtls_port, "e2e-limits.sqlite")
    cfg["limits"] = {
        "token": {"per_client": {"per_minute": 6, "burst": BURST}, "per_address": {"per_minute": 6, "burst": BURST}},
        "authorize": {"per_address": {"per_minute": 6, "burst": BURST}},
    }
    s = RunningServer(binary, kit["dir"], "e2e-limits.yaml", cfg, port, mtls_port)
    yield s
    s.stop()


def assert_too_many(r: requests.Response, subject: str) -> None:
    assert r.status_code == 429, f"HTTP {r.status_code} {r.text[:300]}"
    retry_after = r.headers.get("Retry-After", "")
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 10, f"Retry-After {retry_after!r}"
    assert r.headers.get("Content-Type") == "application/json"
    assert r.headers.get("Cache-Control") == "no-store"
    body = r.json()
    assert body["error"] == "temporarily_unavailable"
    assert f"too many requests from this {subject}" in body["error_description"]


def test_token_burst_from_one_client_gets_429_with_retry_after(limited):
    k = limited.kit
    c = Client(limited.api, "demo-fapi-2", "tls_client_auth", key=load_private_jwk(k / "client2.jwks.json"), alg="ES256",
               cert=(str(k / "client2.pem"), str(k / "client2.key.pem")), redirect_uri=limited.callback)
    for i in range(BURST):
        r = c.token({"grant_type": "client_credentials", "scope": "accounts"})
        assert r.status_code == 200, f"request {i + 1} of the burst: HTTP {r.status_code} {r.text[:300]}"
        assert "access_token" in r.json()
    assert_too_many(c.token({"grant_type": "client_credentials", "scope": "accounts"}), "client")


def test_failed_client_authentication_is_limited_per_address(limited):
    plain = limited.client_config("demo-plain")
    url = limited.api.url("/token")
    wrong = requests.auth.HTTPBasicAuth(plain["client_id"], "not-the-secret")
    for i in range(BURST):
        r = requests.post(url, data={"grant_type": "refresh_token", "refresh_token": "x"}, auth=wrong, verify=limited.api.ca, timeout=10)
        assert r.status_code == 401, f"request {i + 1}: HTTP {r.status_code} {r.text[:300]}"
        assert r.json()["error"] == "invalid_client"
    assert_too_many(requests.post(url, data={"grant_type": "refresh_token", "refresh_token": "x"}, auth=wrong,
                                  verify=limited.api.ca, timeout=10), "address")


def test_authorize_burst_from_one_address_gets_an_error_page_with_429(limited):
    url = limited.api.url("/authorize")
    query = {"client_id": "demo-plain", "redirect_uri": limited.callback, "response_type": "code", "scope": "openid"}
    for i in range(BURST):
        r = requests.get(url, params=query, verify=limited.api.ca, timeout=10, allow_redirects=False)
        assert r.status_code == 200 and 'action="' in r.text, f"request {i + 1}: HTTP {r.status_code} {r.text[:300]}"
    r = requests.get(url, params=query, verify=limited.api.ca, timeout=10, allow_redirects=False)
    assert r.status_code == 429, f"HTTP {r.status_code} {r.text[:300]}"
    assert "Location" not in r.headers
    assert r.headers.get("Content-Type", "").startswith("text/html")
    retry_after = r.headers.get("Retry-After", "")
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 10, f"Retry-After {retry_after!r}"
    assert "temporarily_unavailable" in r.text
    assert "then go back and try again" in r.text
