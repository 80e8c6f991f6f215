"""Hostile transport input against the real binary (issue items 0 and 1): an empty or parameter-only
Content-Type on every POST endpoint, CONNECT and other odd methods, an update racing a delete of
the same client. The server must answer each with a framed OAuth error and stay up."""

from __future__ import annotations

import socket
import ssl
import threading
from urllib.parse import urlsplit

import pytest
import requests

POST_PATHS = ["/authorize", "/par", "/token", "/introspect", "/revoke", "/userinfo", "/register", "/login", "/consent"]
ALLOWED = set(range(0x20, 0x22)) | set(range(0x23, 0x5C)) | set(range(0x5D, 0x7F))


def raw_request(srv, head: str, body: bytes = b"", timeout: float = 5.0) -> tuple[int, dict, bytes, bool]:
    """Sends one HTTP/1.1 request over TLS; returns status, headers, body and whether the server
    closed the connection after the response (False if it left it open)."""
    parts = urlsplit(srv.issuer)
    ctx = ssl.create_default_context(cafile=srv.api.ca)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=parts.hostname) as s:
            s.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            header_blob, _, rest = data.partition(b"\r\n\r\n")
            lines = header_blob.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length", "-1"))
            while length >= 0 and len(rest) < length:
                chunk = s.recv(65536)
                if not chunk:
                    break
                rest += chunk
            closed = False
            if length < 0 or headers.get("connection", "").lower() == "close":
                s.settimeout(2.0)
                try:
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            closed = True
                            break
                        rest += chunk
                except (socket.timeout, ssl.SSLError, ConnectionError):
                    pass
            return status, headers, rest, closed


def host_line(srv) -> str:
    parts = urlsplit(srv.issuer)
    return f"Host: {parts.hostname}:{parts.port}"


@pytest.mark.parametrize("content_type", ["", ";", " ; ;"])
@pytest.mark.parametrize("path", POST_PATHS)
def test_empty_content_type_is_an_error_not_a_crash(srv, path, content_type):
    body = b"grant_type=client_credentials"
    status, headers, payload, _ = raw_request(
        srv, f"POST {srv.api.base_path}{path} HTTP/1.1\r\n{host_line(srv)}\r\nContent-Type:{content_type}\r\n"
             f"Content-Length: {len(body)}\r\nConnection: close", body)
    assert 400 <= status < 500, (path, status, payload[:200])
    assert requests.get(srv.issuer + "/healthz", verify=srv.api.ca, timeout=5).status_code == 200


def test_connect_gets_a_framed_405_and_the_connection_is_closed(srv):
    status, headers, payload, closed = raw_request(srv, f"CONNECT {srv.api.base_path}/token HTTP/1.1\r\n{host_line(srv)}")
    assert status == 405
    assert headers.get("connection", "").lower() == "close"
    assert closed, "the server must close the connection after refusing CONNECT, not wait for the idle timeout"
    assert requests.get(srv.issuer + "/healthz", verify=srv.api.ca, timeout=5).status_code == 200


def test_error_descriptions_use_only_the_allowed_characters(server, clients):
    c = clients.plain
    r = server.request("POST", "/token", data={"grant_type": "x\t\x0b\x0c\"\\\u00e9"}, auth=(c.client_id, c.secret))
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "unsupported_grant_type"
    assert all(ord(ch) in ALLOWED for ch in body["error_description"]), body["error_description"]
    assert body["error_description"] == "grant_type 'x??????' is not supported"


def test_update_racing_delete_never_answers_500(srv, server):
    for i in range(15):
        reg = server.request("POST", "/register", json={
            "redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "client_secret_basic", "scope": "openid",
        }, headers={"Authorization": f"Bearer {srv.initial_access_token}"})
        assert reg.status_code == 201, reg.text
        body = reg.json()
        uri, rat = body["registration_client_uri"], body["registration_access_token"]
        results: list[int] = []

        def put():
            r = server.request("PUT", uri, json={"client_id": body["client_id"], "redirect_uris": ["https://rp.example/cb2"],
                                                 "token_endpoint_auth_method": "client_secret_basic", "scope": "openid"},
                               headers={"Authorization": f"Bearer {rat}"})
            results.append(r.status_code)

        def delete():
            r = server.request("DELETE", uri, headers={"Authorization": f"Bearer {rat}"})
            results.append(r.status_code)

        threads = [threading.Thread(target=put), threading.Thread(target=delete)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(s < 500 for s in results), results
        assert server.request("GET", uri, headers={"Authorization": f"Bearer {rat}"}).status_code == 401
