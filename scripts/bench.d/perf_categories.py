#!/usr/bin/env python3
"""Groups a `perf record` profile of the server by where the time goes.

    perf report -i perf-X.data --stdio --no-children --sort dso,symbol -g none --percent-limit 0 \
        | swift demangle --simplified | python3 scripts/bench.d/perf_categories.py

Reads perf's self-time lines (share, dso, symbol) and adds each share to the first category whose
pattern matches the dso or the symbol. Self time only: a retain or a malloc is counted as Swift
runtime or allocation wherever it was called from, which is why those rows are kept apart.
"""
import re
import sys

CATEGORIES = [
    ("kernel: scheduler (context switches, wake-ups)", r"\[kernel.*(finish_task_switch|schedule|irqentry_exit|_raw_spin_unlock_irq|try_to_wake_up|futex|select_task_rq|enqueue_task|dequeue_task|update_curr|psi_)"),
    ("kernel: network stack (loopback TCP)", r"\[kernel.*(tcp_|ip_|__ip|sock_|skb|net_|__dev_queue|dev_hard|loopback|napi|__netif|inet_|rcv|__tcp|copy_user|_copy_|memcpy_orig|clear_user)"),
    ("kernel: file system, fsync (SQLite WAL)", r"\[kernel.*(iowrite|virtqueue|vp_notify|posix_lock|fcntl|ext4|jbd2|blk|bio|fdatasync|vfs_fsync|filemap|iomap|file_|folio|mpage|writeback|submit|virtblk)"),
    ("kernel: random numbers (getrandom)", r"\[kernel.*(crng|getrandom|chacha)"),
    ("kernel: other system-call work", r"\[kernel"),
    ("TLS records (NIOSSL, BoringSSL AES-GCM)", r"NIOSSL|CNIOBoringSSL|NIOBoringSSL"),
    ("signatures and hashes (swift-crypto, OpenSSL)", r"CCryptoBoringSSL|libcrypto\.so|Crypto\.|HMAC|SHA256|_RSA|P256|SecretHasher|HashedAuthenticationCode"),
    ("SQLite (library, driver, row mapping, SQLKit)", r"libsqlite3|SQLite|SQLKit|SQLSerializer|SQLQuery|SQLDatabase|TableSchema|StoredRow|StoredJSON|Column\.|SQLStorage|GroupCommit"),
    ("HTTP/1 (llhttp, NIOHTTP1, Hummingbird, HTTPTypes)", r"llhttp|HTTPDecoder|HTTPResponseEncoder|HTTPServer|HTTP1|HTTPParser|BetterHTTPParser|Hummingbird|HTTPFields|HTTPField|HTTPRequest|HTTPResponse|HTTPTypes|NIOHTTP"),
    ("NIO channels, event loop, async bridges", r"NIO|Channel|EventLoop|Selector|ByteBuffer|PendingWrites|ByteToMessage"),
    ("JSON (JSONValue, Foundation JSON)", r"JSONValue|JSONDecoder|JSONEncoder|JSONScanner|JSONMap"),
    ("Swift concurrency and dispatch (task switches, job queues)", r"libswift_Concurrency|libdispatch|swift_task|swift_job|AsyncTask|swift::"),
    ("Swift runtime: retain/release, generics, casts", r"swift_retain|swift_release|swift_bridgeObject|getGenericMetadata|swift_getWitnessTable|tryCast|swift_dynamicCast|getCache|ConcurrentReadableHashMap|swift_isUniquelyReferenced|instantiateConcreteType|swift_allocObject|swift_deallocObject|_swift_release_dealloc|swift_arrayInit|swift_beginAccess|libswiftCore"),
    ("allocation and copying (malloc, free, memmove)", r"malloc|free|memmove|memcpy|memset|memcmp|_int_|tcache|libc\.so"),
    ("Foundation (strings, Data, dates)", r"Foundation"),
    ("Strongroom engine and HTTP layer", r"strongroom|Strongroom|Engine|Client|Token|Form|Base64URL|Param|Transport|Introspect|Route"),
]

def main() -> None:
    totals = {name: 0.0 for name, _ in CATEGORIES}
    other = 0.0
    line_re = re.compile(r"^\s*([0-9.]+)%\s+(.*)$")
    for line in sys.stdin:
        if line.startswith("#"):
            continue
        m = line_re.match(line)
        if not m:
            continue
        share, rest = float(m.group(1)), m.group(2)
        for name, pattern in CATEGORIES:
            if re.search(pattern, rest):
                totals[name] += share
                break
        else:
            other += share
    width = max(len(n) for n in totals)
    for name, _ in CATEGORIES:
        if totals[name] >= 0.05:
            print(f"{name:<{width}}  {totals[name]:5.1f} %")
    print(f"{'everything else':<{width}}  {other:5.1f} %")

if __name__ == "__main__":
    main()
