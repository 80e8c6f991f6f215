"""The SQLite database's file system fills up while the server runs.

The database (and its WAL and shared-memory files) lives on a small file system of its own: a
tmpfs mounted for this module, or, where mounting a tmpfs is not permitted, an ext4 image on a
loop device; without either the module is skipped with both reasons. Once the server is serving,
a filler file takes every free byte. Then:

- every request that has to write is refused cleanly: 503 `temporarily_unavailable` with
  `Retry-After: 5` at the token endpoint, a redirect carrying `error=temporarily_unavailable` from
  `/authorize` (the client is known, so the error goes to its redirect URI) — never a 500, never
  a crash;
- what only reads still works: tokens issued before introspect `active: true`;
- a refused redemption has not spent its code;
- once the filler is deleted the same process serves writes again (no restart), the database
  passes `PRAGMA integrity_check`, every token issued before is still valid, and the code refused
  during the fill is redeemed.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from cluster import PLAIN, Node, authorize_code, basic, integrity, login, node_config, redeem_body
from conftest import free_ports, observe
from fapi_client import pkce_pair, random_state

FS_SIZE_MB = 16
CC_CLIENT = "disk-cc"
CC_SECRET = "disk-cc-secret-0123456789abcdef0123456789"


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def small_fs(tmp_path_factory):
    """A directory on a file system of FS_SIZE_MB megabytes: (path, how it was made)."""
    base = tmp_path_factory.mktemp("disk-full")
    mount_point = base / "fs"
    mount_point.mkdir()
    reasons = []
    r = _run(["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE_MB}m,mode=0755", "tmpfs", str(mount_point)])
    how = None
    if r.returncode == 0:
        how = f"tmpfs of {FS_SIZE_MB} MB"
    else:
        reasons.append(f"mount -t tmpfs: exit {r.returncode}: {r.stderr.strip()}")
        image = base / "fs.img"
        with open(image, "wb") as f:
            f.truncate(FS_SIZE_MB * 1024 * 1024)
        r = _run(["mkfs.ext4", "-q", "-F", str(image)])
        if r.returncode != 0:
            reasons.append(f"mkfs.ext4: exit {r.returncode}: {r.stderr.strip()}")
        else:
            r = _run(["mount", "-o", "loop", str(image), str(mount_point)])
            if r.returncode == 0:
                how = f"ext4 image of {FS_SIZE_MB} MB on a loop device"
            else:
                reasons.append(f"mount -o loop: exit {r.returncode}: {r.stderr.strip()}")
    if how is None:
        pytest.skip("no small file system can be mounted here: " + "; ".join(reasons))
    yield mount_point, how
    r = _run(["umount", str(mount_point)])
    if r.returncode != 0:
        _run(["umount", "-l", str(mount_point)])


@pytest.fixture(scope="module")
def disk_node(binary, kit, small_fs):
    mount_point, how = small_fs
    db = mount_point / "strongroom.sqlite"
    port, mtls = free_ports(2)
    node = Node(binary, kit, "disk-full", node_config(kit, port=port, mtls_port=mtls, database_url=f"sqlite:{db}",
                                                      lifetimes={"authorization_code": 600})).start()
    yield node, db, mount_point, how
    node.stop()


def fill(directory) -> tuple[str, int]:
    """Writes a filler file until the file system has no byte left; (its path, bytes written)."""
    path = os.path.join(directory, "filler")
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 4096, 512, 1):
            chunk = b"\0" * size
            while True:
                try:
                    n = os.write(fd, chunk)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    break
                written += n
                if n < size:
                    break
        try:
            os.fsync(fd)
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    return path, written


def test_full_disk_is_503_and_the_server_recovers_without_restart(disk_node):
    node, db, mount_point, how = disk_node
    conn = node.conn()
    admin = {"Authorization": f"Bearer {node.admin_token}", "Content-Type": "application/json"}
    r = conn.request("POST", "/admin/clients", admin, (
        '{"client_id":"%s","client_secret":"%s","token_endpoint_auth_method":"client_secret_basic",'
        '"grant_types":["client_credentials"],"response_types":[],"scope":"profile"}') % (CC_CLIENT, CC_SECRET))
    assert r.status == 201, r.describe()
    cc = basic(CC_CLIENT, CC_SECRET)
    plain = basic(PLAIN, node.client_secret(PLAIN))
    cookie = login(node)

    def client_credentials():
        return conn.request("POST", "/token", cc, {"grant_type": "client_credentials", "scope": "profile"})

    def active(token: str, auth: dict) -> bool:
        r = conn.request("POST", "/introspect", auth, {"token": token})
        assert r.status == 200, f"introspection: {r.describe()}"
        return r.json()["active"]

    # Before: tokens of both grants, and one code kept for later.
    before: list[tuple[str, dict]] = []
    for _ in range(10):
        r = client_credentials()
        assert r.status == 200, r.describe()
        before.append((r.json()["access_token"], cc))
    for _ in range(5):
        code, verifier = authorize_code(conn, cookie, node.callback)
        r = conn.request("POST", "/token", plain, redeem_body(code, verifier, node.callback))
        assert r.status == 200, r.describe()
        before += [(r.json()["access_token"], plain), (r.json()["refresh_token"], plain)]
    kept_code, kept_verifier = authorize_code(conn, cookie, node.callback)
    pid = node.proc.pid

    filler, filled = fill(mount_point)
    statvfs = os.statvfs(mount_point)
    assert statvfs.f_bavail == 0, f"the file system still has {statvfs.f_bavail} free blocks"
    try:
        refusals = 0
        answers: dict[tuple, int] = {}
        for _ in range(50):
            r = client_credentials()
            answers[(r.status, r.error)] = answers.get((r.status, r.error), 0) + 1
            if r.status == 200:
                continue  # a write that found room in space SQLite had already allocated
            assert (r.status, r.error) == (503, "temporarily_unavailable"), f"client_credentials on a full disk: {r.describe()}"
            assert r.headers.get("retry-after") == "5", r.headers
            assert "no-store" in r.headers.get("cache-control", ""), r.headers
            refusals += 1
        assert refusals > 0, f"the full disk never refused a write: {answers}"

        r = conn.request("POST", "/token", plain, redeem_body(kept_code, kept_verifier, node.callback))
        assert (r.status, r.error) == (503, "temporarily_unavailable"), f"code redemption on a full disk: {r.describe()}"
        assert r.headers.get("retry-after") == "5", r.headers

        verifier, challenge = pkce_pair()
        state = random_state()
        query = urlencode({"client_id": PLAIN, "response_type": "code", "scope": "openid offline_access", "redirect_uri": node.callback,
                           "state": state, "code_challenge": challenge, "code_challenge_method": "S256"})
        r = conn.request("GET", "/authorize?" + query, {"Cookie": f"strongroom_session={cookie}"})
        assert r.status in (302, 303), f"/authorize on a full disk: {r.describe()}"
        location = r.headers["location"]
        params = dict(parse_qsl(urlsplit(location).query))
        assert location.startswith(node.callback + "?") and params.get("error") == "temporarily_unavailable", location
        assert params.get("state") == state and "code" not in params, params

        for token, auth in before:
            assert active(token, auth) is True, "a token issued before the disk filled up is not active while it is full"
        assert node.alive() and node.proc.pid == pid, f"the server died on a full disk:\n{node.log_tail()}"
    finally:
        os.unlink(filler)

    # Space again: the same process writes again.
    deadline = time.time() + 10
    while True:
        r = client_credentials()
        if r.status == 200 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert r.status == 200, f"no token 10 s after the disk was freed: {r.describe()}"
    r = conn.request("POST", "/token", plain, redeem_body(kept_code, kept_verifier, node.callback))
    assert r.status == 200, f"the code refused during the full disk was spent: {r.describe()}"
    assert active(r.json()["access_token"], plain) is True
    code, verifier = authorize_code(conn, cookie, node.callback)
    assert conn.request("POST", "/token", plain, redeem_body(code, verifier, node.callback)).status == 200
    for token, auth in before:
        assert active(token, auth) is True, "a token issued before the disk filled up is gone"
    assert integrity(db) == [("ok",)]
    assert node.alive() and node.proc.pid == pid and node.starts == 1, "the server was restarted"
    log = node.log_text()
    assert "error=server_error" not in log, "a full disk was answered as server_error:\n" + "\n".join(
        line for line in log.splitlines() if "server_error" in line)[:3000]
    observe(f"disk full ({how}): filler of {filled // 1024} KB; {refusals} of 50 client_credentials requests refused with "
            f"503 temporarily_unavailable (answers {answers}); {len(before)} tokens issued before still active; "
            "served again without restart, integrity_check ok")
    conn.close()


def test_a_code_replayed_on_a_full_disk_still_revokes_its_tokens(disk_node):
    """RFC 6749 §4.1.2: a code used twice revokes what it gave. The replay's own refusal needs no
    room (the conditional UPDATE matches nothing), but the revocation does: it must not be lost.
    The node keeps it, refuses the tokens at once, and writes it once there is room."""
    node, db, mount_point, how = disk_node
    conn = node.conn()
    plain = basic(PLAIN, node.client_secret(PLAIN))
    cookie = login(node, consented=True)  # the first test of the module consented
    code, verifier = authorize_code(conn, cookie, node.callback)
    r = conn.request("POST", "/token", plain, redeem_body(code, verifier, node.callback))
    assert r.status == 200, r.describe()
    tokens = r.json()

    filler, _ = fill(mount_point)
    try:
        r = conn.request("POST", "/token", plain, redeem_body(code, verifier, node.callback))
        assert (r.status, r.error) == (400, "invalid_grant"), f"a replayed code on a full disk: {r.describe()}"
        # Refused at once on this node, while the revocation cannot be written yet.
        r = conn.request("POST", "/introspect", plain, {"token": tokens["access_token"]})
        assert r.status == 200 and r.json()["active"] is False, f"with the disk still full: {r.describe()}"
    finally:
        os.unlink(filler)
    # Once there is room, the next lineage check (a second after the last attempt) writes it.
    time.sleep(1.2)

    r = conn.request("POST", "/introspect", plain, {"token": tokens["access_token"]})
    assert r.status == 200, r.describe()
    assert r.json()["active"] is False, "the access token of a replayed code is still active"
    r = conn.request("POST", "/token", plain, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert (r.status, r.error) == (400, "invalid_grant"), f"the refresh token of a replayed code: {r.describe()}"
    conn.close()
    # Durable, for every node and a restart: the marker is in the database.
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as ro:
        markers = ro.execute("SELECT COUNT(*) FROM replay_cache WHERE namespace = 'revoked-lineage'").fetchone()[0]
    assert markers >= 1, "the pending revocation was never written"
