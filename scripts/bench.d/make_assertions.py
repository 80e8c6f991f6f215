#!/usr/bin/env python3
"""Pre-generates private_key_jwt client assertions (ES256) for the benchmark.

Writes one complete token-request body per line (grant_type=client_credentials, the scope and
a fresh client_assertion with a unique jti), so that wrk's Lua script only has to read a line
per request: the load generator does no signing while the server is measured.

Usage: make_assertions.py KEY.pem KID CLIENT_ID AUDIENCE SCOPE COUNT OUT [--lifetime S] [--jobs N]
"""
import argparse
import base64
import json
import multiprocessing
import os
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ASSERTION_TYPE = "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def work(job):
    key_path, kid, client_id, audience, scope, start, count, iat, exp, prefix = job
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise SystemExit("the key must be an EC P-256 key (ES256)")
    header = b64(json.dumps({"alg": "ES256", "kid": kid, "typ": "JWT"}, separators=(",", ":")).encode())
    # Everything but jti is the same: build the payload around a placeholder once.
    template = json.dumps({"iss": client_id, "sub": client_id, "aud": audience, "iat": iat, "exp": exp, "jti": "@@"},
                          separators=(",", ":"))
    before, after = template.split('"@@"')
    lines = []
    algorithm = ec.ECDSA(hashes.SHA256())
    prefix_body = f"grant_type=client_credentials&scope={scope}&client_assertion_type={ASSERTION_TYPE}&client_assertion="
    for i in range(start, start + count):
        payload = b64(f'{before}"{prefix}-{i}"{after}'.encode())
        signing_input = f"{header}.{payload}".encode("ascii")
        r, s = decode_dss_signature(key.sign(signing_input, algorithm))
        signature = b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        lines.append(f"{prefix_body}{header}.{payload}.{signature}\n")
    return "".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("key"); p.add_argument("kid"); p.add_argument("client_id"); p.add_argument("audience")
    p.add_argument("scope"); p.add_argument("count", type=int); p.add_argument("out")
    p.add_argument("--lifetime", type=int, default=300)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = p.parse_args()
    now = int(time.time())
    prefix = f"bench-{now}-{os.getpid()}"
    chunk = 5000
    jobs = [(a.key, a.kid, a.client_id, a.audience, a.scope, s, min(chunk, a.count - s), now, now + a.lifetime, prefix)
            for s in range(0, a.count, chunk)]
    with multiprocessing.Pool(a.jobs) as pool, open(a.out, "w") as out:
        for text in pool.imap(work, jobs):
            out.write(text)


if __name__ == "__main__":
    main()
