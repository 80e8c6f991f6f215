#!/bin/sh
# Installs (if needed) and starts a local PostgreSQL for the storage test suite, idempotently.
#
# Runs as root on a fresh Debian machine without systemd (uses pg_ctlcluster). Afterwards:
#   export STRONGROOM_TEST_POSTGRES_URL=postgres://strongroom:strongroom@127.0.0.1:5432/strongroom_test
#
# TLS is switched off for this throwaway cluster: the Debian default is a self-signed "snakeoil"
# certificate that PostgresKit's `tlsmode=prefer` would try and then reject (it always verifies).
set -eu

PG_USER="${STRONGROOM_PG_USER:-strongroom}"
PG_PASSWORD="${STRONGROOM_PG_PASSWORD:-strongroom}"
PG_DB="${STRONGROOM_PG_DB:-strongroom_test}"
PG_PORT="${STRONGROOM_PG_PORT:-5432}"

if [ "$(id -u)" -ne 0 ]; then
    echo "ci-postgres.sh: must run as root" >&2
    exit 1
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
fi

# The newest installed major version.
PG_VERSION="$(ls /usr/lib/postgresql | sort -n | tail -n 1)"
CLUSTER=main

if ! pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$CLUSTER" '$1 == v && $2 == c { found = 1 } END { exit !found }'; then
    pg_createcluster "$PG_VERSION" "$CLUSTER" --port "$PG_PORT"
fi

CONF_DIR="/etc/postgresql/$PG_VERSION/$CLUSTER"
# Settings in a conf.d file so re-runs replace rather than append.
mkdir -p "$CONF_DIR/conf.d"
cat > "$CONF_DIR/conf.d/strongroom-ci.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
ssl = off
max_connections = 200
EOF
if ! grep -q "^include_dir = 'conf.d'" "$CONF_DIR/postgresql.conf"; then
    echo "include_dir = 'conf.d'" >> "$CONF_DIR/postgresql.conf"
fi
# Password authentication over TCP from localhost (scram-sha-256 is the Debian 12 default).
if ! grep -q "strongroom-ci" "$CONF_DIR/pg_hba.conf"; then
    printf '%s\n' "# strongroom-ci" "host all all 127.0.0.1/32 scram-sha-256" >> "$CONF_DIR/pg_hba.conf"
fi

status=0
pg_ctlcluster "$PG_VERSION" "$CLUSTER" status >/dev/null 2>&1 || status=$?
if [ "$status" -eq 0 ]; then
    pg_ctlcluster "$PG_VERSION" "$CLUSTER" reload
else
    pg_ctlcluster "$PG_VERSION" "$CLUSTER" start
fi

# Wait until it accepts connections.
i=0
until su postgres -c "psql -p $PG_PORT -tAc 'SELECT 1'" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -ge 30 ]; then
        echo "ci-postgres.sh: PostgreSQL did not start" >&2
        tail -n 50 "/var/log/postgresql/postgresql-$PG_VERSION-$CLUSTER.log" >&2 || true
        exit 1
    fi
    sleep 1
done

psql_admin() { su postgres -c "psql -p $PG_PORT -v ON_ERROR_STOP=1 -tAc \"$1\""; }

if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'")" != "1" ]; then
    psql_admin "CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD'"
else
    psql_admin "ALTER ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD'"
fi
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != "1" ]; then
    psql_admin "CREATE DATABASE $PG_DB OWNER $PG_USER"
fi

echo "PostgreSQL $PG_VERSION ready: postgres://$PG_USER:***@127.0.0.1:$PG_PORT/$PG_DB"
