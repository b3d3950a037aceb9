#!/usr/bin/env bash
# A private PostgreSQL server on one machine, for the fault tests (tests/postgres_restart.rs):
# its own data directory and port, so restarting it never disturbs the machine's own server on
# 5432, which every other test uses.
#
#   postgres.sh up        initialise (trust authentication, 127.0.0.1 only) and start; prints
#                         the server's URL
#   postgres.sh restart   `pg_ctl restart -m immediate`: every backend is killed without a
#                         checkpoint, as in a crash, and the server recovers from its WAL
#   postgres.sh down      stop it and delete its data
#
# Environment:
#   CASEBRIDGE_PG_DIR   where the server keeps its data (default /tmp/casebridge-postgres)
#   CASEBRIDGE_PG_PORT  its port on 127.0.0.1 (default 5799)
#   CASEBRIDGE_PG_TLS   a directory with ca.pem, server.pem and server.key: the server then
#                       accepts TLS connections only, with a client certificate from that CA,
#                       and `up` prints a URL that verifies it (sslmode=verify-full,
#                       sslrootcert; add sslcert and sslkey)
# Needs PostgreSQL installed (deploy/local/services.sh installs it) and root or sudo: the server
# runs as the postgres user, like the packaged one.
set -euo pipefail

PATH="$PATH:/usr/sbin:/sbin"
DIR="${CASEBRIDGE_PG_DIR:-/tmp/casebridge-postgres}"
PORT="${CASEBRIDGE_PG_PORT:-5799}"
TIMEOUT=60
TLS="${CASEBRIDGE_PG_TLS:-}"

die() { echo "postgres: error: $*" >&2; exit 1; }

# Newest server version under /usr/lib/postgresql (version names are plain numbers).
# shellcheck disable=SC2012
BIN="/usr/lib/postgresql/$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)/bin"
[[ -x $BIN/pg_ctl ]] || die "no PostgreSQL server under /usr/lib/postgresql (run deploy/local/services.sh)"

as_postgres() {
    if [[ $(id -un) == postgres ]]; then
        "$@"
    elif [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -u postgres "$@"
    else
        die "need root or sudo to run the server as the postgres user"
    fi
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

pg_ctl() {
    local options="-p $PORT -k $DIR -c listen_addresses=127.0.0.1"
    if [[ -e $DIR/tls ]]; then
        options+=" -c ssl=on -c ssl_cert_file=$DIR/tls/server.pem -c ssl_key_file=$DIR/tls/server.key -c ssl_ca_file=$DIR/tls/ca.pem"
    fi
    as_postgres "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t "$TIMEOUT" \
        -o "$options" "$@" >/dev/null
}

case "${1:-}" in
up)
    [[ ! -e $DIR/data ]] || die "a server already has its data in $DIR (run: postgres.sh down)"
    as_root mkdir -p "$DIR"
    as_root chown postgres: "$DIR"
    as_postgres "$BIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync >/dev/null
    url="postgres://postgres@127.0.0.1:$PORT/postgres"
    if [[ -n $TLS ]]; then
        as_root mkdir -p "$DIR/tls"
        as_root cp "$TLS/ca.pem" "$TLS/server.pem" "$TLS/server.key" "$DIR/tls/"
        as_root chown -R postgres: "$DIR/tls"
        as_root chmod 600 "$DIR/tls/server.key"
        # TLS only over TCP, with a client certificate from the CA: every `host` line becomes
        # `hostssl … clientcert=verify-ca`.
        as_postgres sed -i -e 's/^host\([[:space:]].*\)trust[[:space:]]*$/hostssl\1trust clientcert=verify-ca/' \
            "$DIR/data/pg_hba.conf"
        url+="?sslmode=verify-full&sslrootcert=$DIR/tls/ca.pem"
    fi
    pg_ctl start
    echo "$url"
    ;;
restart)
    [[ -e $DIR/data ]] || die "no server in $DIR (run: postgres.sh up)"
    pg_ctl restart -m immediate
    ;;
down)
    if [[ -e $DIR/data/postmaster.pid ]]; then
        as_postgres "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    as_root rm -rf "$DIR"
    ;;
*)
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
