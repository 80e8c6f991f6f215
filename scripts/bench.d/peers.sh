# The peers of `scripts/bench --peers`: sourced by scripts/bench after Strongroom's own runs, with
# its functions (log, die, expect, field, scenario, stop_pid, ...) and variables (WORK, KIT, CURL,
# the client secrets, T/T_PID/T_CORES/W_CORES, R) at hand.
#
# Each peer is installed once into $ROOT/.bench-peers/ (git-ignored), started pinned to the server
# core on a free port of 127.0.0.1 with the kit's TLS certificate, checked once with curl, measured
# with the same wrk scripts, connections and durations as Strongroom, and stopped before the next
# one starts (its PID is in PEER_PIDS until then, so the exit trap stops it whatever happens).
#
# BENCH_GUNICORN_AUTHLIB and BENCH_GUNICORN_DOT override the gunicorn worker options (to compare
# worker settings; the defaults are the best ones found, see docs/benchmarks.md).

PEERS_DIR="$ROOT/.bench-peers"
VENV="$PEERS_DIR/venv"
GUNICORN_AUTHLIB="${BENCH_GUNICORN_AUTHLIB:--w 2 -k gthread --threads 4}"
GUNICORN_DOT="${BENCH_GUNICORN_DOT:--w 2 -k gthread --threads 4}"
declare -A PEER_SETUP PEER_SKIPPED

peer_wanted() { [[ ",$PEER_LIST," == *",$1,"* ]]; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- Installing --------------------------------------------------------------------------------

peers_install() {
    mkdir -p "$PEERS_DIR"
    local missing=()
    peer_wanted nginx && ! command -v nginx >/dev/null && missing+=(nginx)
    if peer_wanted glewlwyd && ! command -v glewlwyd >/dev/null; then
        # The package asks how to configure itself; "No configuration" leaves the database and the
        # service alone (the benchmark writes its own configuration and SQLite file).
        echo 'glewlwyd glewlwyd/config_type select No configuration' | debconf-set-selections
        missing+=(glewlwyd)
    fi
    if (( ${#missing[@]} )); then
        log "installing ${missing[*]} (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$PEERS_DIR/apt.log" 2>&1 \
            || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$PEERS_DIR/apt.log" 2>&1; } \
            || die "apt-get install ${missing[*]} failed (see $PEERS_DIR/apt.log)"
        # Where systemd runs, the packages' own services would start; the benchmark starts its own.
        if [[ -d /run/systemd/system ]]; then
            for unit in "${missing[@]}"; do systemctl disable --now "$unit" >/dev/null 2>&1 || true; done
        fi
    fi
    if peer_wanted authlib || peer_wanted dot; then
        local requirements="$HERE/peers/requirements.txt"
        if ! cmp -s "$requirements" "$VENV/installed.txt" 2>/dev/null; then
            log "installing the Python peers into $VENV (pip)"
            [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV" || die "python3 -m venv failed"
            "$VENV/bin/pip" install -q --disable-pip-version-check -r "$requirements" >"$PEERS_DIR/pip.log" 2>&1 \
                || die "pip install failed (see $PEERS_DIR/pip.log)"
            cp "$requirements" "$VENV/installed.txt"
        fi
    fi
}

# --- Starting and stopping ---------------------------------------------------------------------

peer_start() { # NAME URL COMMAND... : starts COMMAND on the server core, waits until URL answers
    local name="$1" url="$2"; shift 2
    log "starting $name on core $SERVER_CORE ($url)"
    taskset -c "$SERVER_CORE" "$@" >>"$WORK/peer-$name.log" 2>&1 &
    T_PID=$!
    PEER_PIDS+=("$T_PID")
    local i
    for i in $(seq 150); do
        "${CURL[@]}" -o /dev/null "$url" 2>/dev/null && return 0
        kill -0 "$T_PID" 2>/dev/null || { tail -20 "$WORK/peer-$name.log" >&2; die "$name exited"; }
        (( i < 150 )) || die "$name did not answer within 30 s"
        sleep 0.2
    done
}

peer_stop() {
    stop_pid "$T_PID"
    local kept=() pid
    for pid in "${PEER_PIDS[@]}"; do [[ "$pid" == "$T_PID" ]] || kept+=("$pid"); done
    PEER_PIDS=("${kept[@]}")
    T_PID=""
}

# The clients every peer gets: the same ids, secrets and key as Strongroom's bench clients.
write_clients() { # FILE
    python3 - "$1" "$KIT/client2.public.jwks.json" "$SCOPE" "$BASIC_SECRET" "$JWT_SECRET" "$RS_SECRET" <<'PY'
import json, sys
out, jwks, scope, basic, jwt_at, rs = sys.argv[1:]
clients = [
    {"client_id": "bench-basic", "client_secret": basic, "token_endpoint_auth_method": "client_secret_basic", "scope": scope},
    {"client_id": "bench-jwt-at", "client_secret": jwt_at, "token_endpoint_auth_method": "client_secret_basic", "scope": scope,
     "access_token_format": "jwt"},
    {"client_id": "bench-pkjwt", "token_endpoint_auth_method": "private_key_jwt", "scope": scope, "jwks": json.load(open(jwks))},
    {"client_id": "bench-rs", "client_secret": rs, "token_endpoint_auth_method": "client_secret_basic", "scope": scope,
     "resource_server": True},
]
json.dump(clients, open(out, "w"), indent=1)
PY
}

jwt_alg() { python3 -c 'import base64,json,sys; h=sys.argv[1].split(".")[0]; print(json.loads(base64.urlsafe_b64decode(h+"="*(-len(h)%4)))["alg"])' "$1"; }

# --- The peers ---------------------------------------------------------------------------------

peer_nginx() {
    local dir="$WORK/peer-nginx" port; port="$(free_port)"
    mkdir -p "$dir/tmp"
    cp "$WORK/jwks.json" "$dir/jwks.json"
    sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@CERT@|$KIT/server.pem|g" -e "s|@KEY@|$KIT/server.key.pem|g" -e "s|@USER@|$(id -un)|g" \
        "$HERE/peers/nginx.conf.in" >"$dir/nginx.conf"
    local url="https://127.0.0.1:$port/jwks"
    T=nginx
    peer_start nginx "$url" nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf"
    expect "nginx check e" '"keys"' "$url" >/dev/null
    PEER_SETUP[nginx]="nginx $(nginx -v 2>&1 | sed 's|.*/||'), worker_processes 1, TLS (kit certificate), keep-alive; a static copy of /jwks ($(wc -c <"$dir/jwks.json") bytes)"
    wants e && scenario e "$url" static.lua BENCH_METHOD=GET BENCH_CHECK=length BENCH_EXPECT_BYTES="$(answer_bytes "$url")"
    peer_stop
}

peer_authlib() {
    local dir="$WORK/peer-authlib" port; port="$(free_port)"
    mkdir -p "$dir"
    write_clients "$dir/clients.json"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/signing.key.pem" 2>/dev/null
    local base="https://127.0.0.1:$port"
    T=authlib
    # shellcheck disable=SC2086  # the worker options are words
    peer_start authlib "$base/token" env PYTHONDONTWRITEBYTECODE=1 BENCH_PEER_DATA="$dir" BENCH_PEER_AUDIENCE="$base/token" \
        "$VENV/bin/gunicorn" --chdir "$HERE/peers" -b "127.0.0.1:$port" $GUNICORN_AUTHLIB \
        --certfile "$KIT/server.pem" --keyfile "$KIT/server.key.pem" --log-level warning authlib_app:app
    local token_a token_c
    token_a="$(field "$(expect "authlib check a" '"access_token"' -X POST "$base/token" -H "Authorization: $AUTH_A" --data "$TOKEN_BODY")" access_token)"
    token_c="$(field "$(expect "authlib check c" '"access_token"' -X POST "$base/token" -H "Authorization: $AUTH_C" --data "$TOKEN_BODY")" access_token)"
    [[ "$(jwt_alg "$token_c")" == PS256 ]] || die "authlib check c: the access token is not signed with PS256"
    expect "authlib check d" '"active": true' -X POST "$base/introspect" -H "Authorization: $AUTH_D" --data "token=$token_a" >/dev/null
    if wants b; then
        python3 "$HERE/make_assertions.py" --lifetime 600 -- "$KIT/client2.key.pem" "$KID" bench-pkjwt "$base/token" "$SCOPE" 1 "$dir/check-b.txt"
        expect "authlib check b" '"access_token"' -X POST "$base/token" --data @"$dir/check-b.txt" >/dev/null
        local status
        status="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -X POST "$base/token" --data @"$dir/check-b.txt")"
        [[ "$status" != 200 ]] || die "authlib check b: a replayed client assertion got 200"
        python3 "$HERE/make_assertions.py" --lifetime 600 -- "$KIT/client2.key.pem" "$KID" bench-pkjwt "$base/token" "$SCOPE" $((POOL / 20)) "$dir/warm-b.txt"
        python3 "$HERE/make_assertions.py" --lifetime 600 -- "$KIT/client2.key.pem" "$KID" bench-pkjwt "$base/token" "$SCOPE" $((POOL / 4)) "$dir/pool-b.txt"
    fi
    PEER_SETUP[authlib]="Authlib $("$VENV/bin/python" -c 'import authlib; print(authlib.__version__)'), Flask $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("flask"))'), gunicorn $("$VENV/bin/gunicorn" --version 2>&1 | awk '{print $NF}' | tr -d '()') ($GUNICORN_AUTHLIB), TLS (kit certificate, no client certificate); tokens and assertion jti in SQLite on disk (WAL, synchronous=FULL, a commit per request), clients in memory"
    wants a && scenario a "$base/token" static.lua BENCH_METHOD=POST BENCH_BODY="$TOKEN_BODY" BENCH_AUTHORIZATION="$AUTH_A" BENCH_EXPECT='"access_token"'
    if wants b; then
        POOL_WARM="$dir/warm-b.txt" POOL_RUN="$dir/pool-b.txt" scenario b "$base/token" pool.lua BENCH_EXPECT='"access_token"'
    fi
    wants c && scenario c "$base/token" static.lua BENCH_METHOD=POST BENCH_BODY="$TOKEN_BODY" BENCH_AUTHORIZATION="$AUTH_C" BENCH_EXPECT='"access_token"'
    wants d && scenario d "$base/introspect" static.lua BENCH_METHOD=POST BENCH_BODY="token=$token_a" BENCH_AUTHORIZATION="$AUTH_D" BENCH_EXPECT='"active": true'
    peer_stop
}

peer_dot() { # [plain]: the "dot-plain" variant, client secrets stored in clear (hash_client_secret off)
    local name=dot plain=0
    [[ "${1:-}" == plain ]] && { name=dot-plain; plain=1; }
    local dir="$WORK/peer-$name" port; port="$(free_port)"
    mkdir -p "$dir"
    python3 - "$dir/clients.json" bench-basic "$BASIC_SECRET" bench-rs "$RS_SECRET" <<'PY'
import json, sys
out, *pairs = sys.argv[1:]
json.dump([{"client_id": i, "client_secret": s} for i, s in zip(pairs[::2], pairs[1::2])], open(out, "w"))
PY
    local base="https://127.0.0.1:$port"
    (cd "$HERE/peers/dot" && PYTHONDONTWRITEBYTECODE=1 BENCH_PEER_DATA="$dir" BENCH_DOT_PLAIN_SECRETS="$plain" "$VENV/bin/python" wsgi.py setup "$dir/clients.json") \
        >>"$WORK/peer-$name.log" 2>&1 || { tail -20 "$WORK/peer-$name.log" >&2; die "$name: set-up failed"; }
    T=$name
    # shellcheck disable=SC2086
    peer_start "$name" "$base/token" env PYTHONDONTWRITEBYTECODE=1 BENCH_PEER_DATA="$dir" \
        "$VENV/bin/gunicorn" --chdir "$HERE/peers/dot" -b "127.0.0.1:$port" $GUNICORN_DOT \
        --certfile "$KIT/server.pem" --keyfile "$KIT/server.key.pem" --log-level warning wsgi:application
    local token_a
    token_a="$(field "$(expect "$name check a" '"access_token"' -X POST "$base/token" -H "Authorization: $AUTH_A" --data "$TOKEN_BODY")" access_token)"
    expect "$name check d" '"active": true' -X POST "$base/introspect" -H "Authorization: $AUTH_D" --data "token=$token_a" >/dev/null
    local v="$VENV/bin/python -c"
    PEER_SETUP[$name]="django-oauth-toolkit $($v 'import importlib.metadata as m; print(m.version("django-oauth-toolkit"))'), Django $($v 'import django; print(django.get_version())'), gunicorn ($GUNICORN_DOT), TLS (kit certificate); SQLite on disk (WAL, synchronous=FULL); client secrets hashed with PBKDF2-SHA256 as shipped ($(cd "$HERE/peers/dot" && BENCH_PEER_DATA="$dir" $v 'import wsgi; from django.contrib.auth.hashers import get_hasher; print(get_hasher().iterations)' 2>/dev/null) iterations, checked on every request)"
    (( plain )) && PEER_SETUP[$name]="as dot, but the applications are saved with hash_client_secret=False (secrets stored and compared in clear); for information, not a yardstick"
    wants a && scenario a "$base/token" static.lua BENCH_METHOD=POST BENCH_BODY="$TOKEN_BODY" BENCH_AUTHORIZATION="$AUTH_A" BENCH_EXPECT='"access_token"'
    wants d && scenario d "$base/introspect" static.lua BENCH_METHOD=POST BENCH_BODY="token=$token_a" BENCH_AUTHORIZATION="$AUTH_D" BENCH_EXPECT='"active": true'
    peer_stop
}

peer_glewlwyd() {
    local dir="$WORK/peer-glewlwyd" port; port="$(free_port)"
    local init=/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz
    mkdir -p "$dir"
    if [[ ! -r "$init" ]] || ! command -v sqlite3 >/dev/null; then
        PEER_SKIPPED[glewlwyd]="not measured because its SQLite schema ($init) or the sqlite3 command is missing"
        return 0
    fi
    # glewlwyd's own initialisation script (all tables, the admin user), then the one change the
    # set-up needs before the server reads its module list.
    zcat "$init" | sqlite3 "$dir/glewlwyd.db"
    # WAL (kept in the file) with SQLite's default synchronous=FULL: the same durability as
    # Strongroom's and the other peers' databases, and far fewer fsyncs than the rollback journal.
    sqlite3 "$dir/glewlwyd.db" 'PRAGMA journal_mode=WAL;' >/dev/null
    python3 "$HERE/peers/glewlwyd/setup.py" prepare "$dir/glewlwyd.db"
    sed -e "s|@PORT@|$port|g" -e "s|@CERT@|$KIT/server.pem|g" -e "s|@KEY@|$KIT/server.key.pem|g" -e "s|@DB@|$dir/glewlwyd.db|g" \
        "$HERE/peers/glewlwyd/glewlwyd.conf.in" >"$dir/glewlwyd.conf"
    write_clients "$dir/clients.json"
    local base="https://127.0.0.1:$port"
    T=glewlwyd
    peer_start glewlwyd "$base/config.json" glewlwyd --config-file "$dir/glewlwyd.conf"
    if ! python3 "$HERE/peers/glewlwyd/setup.py" api "$base" "$KIT/ca.pem" "$dir/clients.json" >>"$WORK/peer-glewlwyd.log" 2>&1; then
        PEER_SKIPPED[glewlwyd]="not measured because its set-up through the admin API failed: $(tail -1 "$WORK/peer-glewlwyd.log")"
        peer_stop
        return 0
    fi
    local token_a token_c
    token_a="$(field "$(expect "glewlwyd check a" '"access_token"' -X POST "$base/api/oidc/token" -H "Authorization: $AUTH_A" --data "$TOKEN_BODY")" access_token)"
    token_c="$(field "$(expect "glewlwyd check c" '"access_token"' -X POST "$base/api/oidc/token" -H "Authorization: $AUTH_C" --data "$TOKEN_BODY")" access_token)"
    [[ "$(jwt_alg "$token_a")" == ES256 ]] || die "glewlwyd check a: the access token is not signed with ES256"
    [[ "$(jwt_alg "$token_c")" == PS256 ]] || die "glewlwyd check c: the access token is not signed with PS256"
    PEER_SETUP[glewlwyd]="glewlwyd $(dpkg-query -W -f '${Version}' glewlwyd 2>/dev/null) (Debian), its OpenID Connect plugin, client_credentials with client_secret_basic, TLS (kit certificate); SQLite on disk (glewlwyd's schema, WAL, synchronous=FULL); its access tokens are always JWTs: a signed ES256 (the plugin's default key), c PS256 with an RSA-2048 key (the client's sign_kid); client secrets stored and compared in clear"
    wants a && scenario a "$base/api/oidc/token" static.lua BENCH_METHOD=POST BENCH_BODY="$TOKEN_BODY" BENCH_AUTHORIZATION="$AUTH_A" BENCH_EXPECT='"access_token"'
    wants c && scenario c "$base/api/oidc/token" static.lua BENCH_METHOD=POST BENCH_BODY="$TOKEN_BODY" BENCH_AUTHORIZATION="$AUTH_C" BENCH_EXPECT='"access_token"'
    peer_stop
}

peers_run() {
    peers_install
    local peer
    for peer in nginx authlib dot dot-plain glewlwyd; do
        peer_wanted "$peer" || continue
        case "$peer" in
            dot-plain) peer_dot plain ;;
            *) "peer_$peer" ;;
        esac
    done
    T=""; T_PID=""
}

# --- Report ------------------------------------------------------------------------------------

# Which peers do the same work as each scenario (e: only nginx's static file is the same work).
declare -A SAME_WORK=([a]="authlib dot glewlwyd" [b]="authlib" [c]="authlib glewlwyd" [d]="authlib dot" [e]="nginx")

best_peer() { # KEY -> "NAME REQ/S" of the fastest peer measured on that work (nothing if none)
    local p best="" rps=0
    for p in ${SAME_WORK[$1]}; do
        [[ -n "${R[$p.$1.rps]:-}" ]] || continue
        if [[ -z "$best" ]] || awk -v a="${R[$p.$1.rps]}" -v b="$rps" 'BEGIN {exit !(a > b)}'; then best="$p"; rps="${R[$p.$1.rps]}"; fi
    done
    [[ -n "$best" ]] && echo "$best $rps"
    true
}

peers_report() {
    local p k
    echo "peers: same cores (server on core $SERVER_CORE, wrk on core $CLIENT_CORE), connections, durations and wrk scripts; every answer checked"
    for p in nginx authlib dot dot-plain glewlwyd; do
        peer_wanted "$p" || continue
        if [[ -n "${PEER_SKIPPED[$p]:-}" ]]; then printf '  %-9s %s\n' "$p:" "${PEER_SKIPPED[$p]}"
        else printf '  %-9s %s\n' "$p:" "${PEER_SETUP[$p]:-?}"; fi
    done
    echo
    printf '%-10s %-44s %8s %7s %7s %6s %7s %6s %7s %7s %7s %7s\n' peer scenario "req/s" "p50 ms" "p99 ms" errors "RSS MiB" "us/req" "server" "other" "wrk" "core $CLIENT_CORE"
    for p in nginx authlib dot dot-plain glewlwyd; do
        for k in a b c d e; do
            [[ -n "${R[$p.$k.rps]:-}" ]] || continue
            printf '%-10s %-44s %8s %7s %7s %6s %7s %6s %6s%% %6s%% %6s%% %6s%%\n' "$p" "${NAME[$k]}" "${R[$p.$k.rps]}" "${R[$p.$k.p50]}" "${R[$p.$k.p99]}" \
                "${R[$p.$k.errors]}" "${R[$p.$k.rss]}" "${R[$p.$k.cpureq]}" "${R[$p.$k.srvcpu]}" "${R[$p.$k.other]}" "${R[$p.$k.wrkcpu]}" "${R[$p.$k.core1]}"
        done
    done
    echo "(RSS here: the resident memory of the peer's processes together after the scenario; e is checked by status and"
    echo "exact answer length, for Strongroom too, as wrk's per-answer Lua check would cost it more than nginx spends)"
    echo
    printf '%-44s %10s %8s %8s %8s %9s %10s %7s\n' "req/s, same work" strongroom nginx authlib dot glewlwyd "best peer" ratio
    for k in a b c d e; do
        wants "$k" || continue
        local row=() best best_rps
        for p in nginx authlib dot glewlwyd; do
            if [[ " ${SAME_WORK[$k]} " == *" $p "* && -n "${R[$p.$k.rps]:-}" ]]; then row+=("${R[$p.$k.rps]}"); else row+=("-"); fi
        done
        read -r best best_rps < <(best_peer "$k") || true
        printf '%-44s %10s %8s %8s %8s %9s %10s %7s\n' "${NAME[$k]}" "${R[sr.$k.rps]}" "${row[@]}" "${best:--}" \
            "$( [[ -n "$best" ]] && awk -v a="${R[sr.$k.rps]}" -v b="$best_rps" 'BEGIN {printf "%.1fx", b ? a / b : 0}' || echo -)"
    done
}
