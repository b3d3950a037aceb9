#!/usr/bin/env bash
# Makes sure RabbitMQ and PostgreSQL are installed and answering on loopback, as the tests expect:
#   PostgreSQL  postgres://postgres@127.0.0.1:5432/postgres  (no password: trust auth for 127.0.0.1)
#   RabbitMQ    amqp://guest:guest@127.0.0.1:5672/%2f
# and that Debian's headless Chromium and its WebDriver are installed for the console's browser
# tests (chromium, chromium-driver: /usr/bin/chromium, /usr/bin/chromedriver), with a Chinese
# font (fonts-wqy-microhei) so the screenshots they save can be read; and that moto's S3-compatible
# server (from PyPI, in a virtual environment under ~/.cache/casebridge/moto) is there for the
# evidence store's S3 test, that libfaketime (faketime) is there for the whole-system runs at a
# fixed instant, that promtool (Debian's prometheus) checks the metrics, and systemd-analyze
# (Debian's systemd) the systemd units. Nothing of it listens until a test starts it on
# 127.0.0.1.
#
# Debian/Ubuntu only (apt-get, pg_ctlcluster). Idempotent and silent when both already answer;
# prints one line per action taken and exits non-zero with a reason when something fails.
# Runs as root, or through sudo when available. Environment:
#   CASEBRIDGE_SERVICES_TIMEOUT  seconds to wait for each service to answer (default 60)
set -euo pipefail

# rabbitmq-server and friends live in /usr/sbin, which is not on an ordinary user's PATH.
PATH="$PATH:/usr/sbin:/sbin"
TIMEOUT="${CASEBRIDGE_SERVICES_TIMEOUT:-60}"
PG_URL="postgres://postgres@127.0.0.1:5432/postgres"
PG_TRUST_LINE="host all all 127.0.0.1/32 trust"

say() { echo "services: $*" >&2; }
die() { echo "services: error: $*" >&2; exit 1; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "services: error: need root to run '$*', and sudo is not installed" >&2
        return 126
    fi
}

# Runs a command with its output captured; shows the output only if it fails. The subshell keeps
# a `die` inside the command (as_root without sudo) from exiting before its message is shown.
quietly() {
    local log
    log=$(mktemp)
    if ("$@") >"$log" 2>&1; then
        rm -f "$log"
    else
        local rc=$?
        tail -n 40 "$log" >&2
        rm -f "$log"
        return "$rc"
    fi
}

# Polls `check` (a command) once a second until it succeeds or TIMEOUT seconds pass.
eventually() {
    local deadline=$((SECONDS + TIMEOUT))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 1
    done
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# Installation

apt_updated=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "$1 is not installed and apt-get is not available; install it by hand"
    if ((apt_updated == 0)); then
        say "apt-get update"
        quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
            die "apt-get update failed"
        apt_updated=1
    fi
    say "installing $*"
    # confold: keep the loopback configuration written before installing.
    quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" ||
        die "apt-get install $* failed"
}

rabbitmq_installed() { command -v rabbitmq-server >/dev/null 2>&1 && command -v rabbitmqctl >/dev/null 2>&1; }

# Before a fresh install only: bind AMQP, the Erlang distribution port and epmd to loopback, and
# name the node rabbit@localhost so it does not depend on the host name resolving. An existing
# installation's configuration is left alone (renaming a node orphans its data).
rabbitmq_loopback_config() {
    as_root mkdir -p /etc/rabbitmq
    if [[ ! -e /etc/rabbitmq/rabbitmq-env.conf ]]; then
        printf '%s\n' 'NODENAME=rabbit@localhost' 'ERL_EPMD_ADDRESS=127.0.0.1' \
            'export ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}"' |
            as_root tee /etc/rabbitmq/rabbitmq-env.conf >/dev/null
    fi
    if [[ ! -e /etc/rabbitmq/rabbitmq.conf ]]; then
        echo 'listeners.tcp.local = 127.0.0.1:5672' | as_root tee /etc/rabbitmq/rabbitmq.conf >/dev/null
    fi
}

to_install=()
if ! rabbitmq_installed; then
    rabbitmq_loopback_config
    to_install+=(rabbitmq-server)
fi
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v pg_isready >/dev/null 2>&1 ||
    ! command -v psql >/dev/null 2>&1; then
    to_install+=(postgresql)
fi
if ((${#to_install[@]} > 0)); then
    apt_install "${to_install[@]}"
fi
rabbitmq_installed || die "rabbitmq-server is still missing after installing it"
command -v pg_ctlcluster >/dev/null 2>&1 || die "pg_ctlcluster is still missing after installing postgresql"

# ---------------------------------------------------------------------------------------------
# RabbitMQ

# Ready means the port answers the AMQP protocol header with a method frame (Connection.Start).
# An open port alone is not enough: a wedged node accepts connections and never answers them.
rabbitmq_ready() {
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/5672; printf 'AMQP\x00\x00\x09\x01' >&3; head -c 1 <&3" \
        2>/dev/null | od -An -tx1 | grep -q 01
}

# The packaged node's VM, from the pid file it writes on start (empty when it never started).
rabbitmq_pid() {
    as_root sh -c 'cat /var/lib/rabbitmq/mnesia/*.pid 2>/dev/null' | head -n 1 || true
}

rabbitmq_start() {
    say "starting RabbitMQ"
    quietly as_root rabbitmq-server -detached ||
        die "rabbitmq-server -detached failed; see /var/log/rabbitmq/"
    # await_startup fails while the node is still coming up, so poll it as well as the port.
    as_root timeout "$TIMEOUT" rabbitmqctl -q await_startup --timeout "$TIMEOUT" >/dev/null 2>&1 || true
    eventually rabbitmq_ready
}

# A node that is up but does not serve (its application stopped and not restarting, or hung) is
# stopped, killed if it will not stop, and started again: the tests cannot use it as it is.
rabbitmq_restart() {
    say "RabbitMQ runs but does not answer AMQP on 127.0.0.1:5672; restarting it"
    if ! as_root timeout 30 rabbitmqctl -q stop >/dev/null 2>&1; then
        local pid
        pid=$(rabbitmq_pid)
        [[ -z $pid ]] || as_root kill -KILL "$pid" 2>/dev/null || true
        sleep 1
    fi
    rabbitmq_start
}

if ! rabbitmq_ready; then
    if port_open 5672; then
        # Open but silent: a node still booting answers within seconds, a wedged one never.
        eventually rabbitmq_ready || rabbitmq_restart ||
            die "RabbitMQ does not answer AMQP on 127.0.0.1:5672 even after a restart; see /var/log/rabbitmq/"
    elif as_root timeout 10 rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
        # The Erlang node is up but the broker application is stopped (`rabbitmqctl stop_app`).
        say "starting the RabbitMQ application"
        { as_root timeout "$TIMEOUT" rabbitmqctl -q start_app >/dev/null 2>&1 && eventually rabbitmq_ready; } ||
            rabbitmq_restart ||
            die "RabbitMQ does not answer AMQP on 127.0.0.1:5672 even after a restart; see /var/log/rabbitmq/"
    else
        rabbitmq_start ||
            die "RabbitMQ is not answering AMQP on 127.0.0.1:5672 after ${TIMEOUT}s; see /var/log/rabbitmq/"
    fi
fi

# ---------------------------------------------------------------------------------------------
# PostgreSQL

# Newest version directory under $1 (e.g. 15), or nothing; version names are plain numbers.
# shellcheck disable=SC2012
newest() { { ls "$1" 2>/dev/null || true; } | sort -V | tail -n 1; }
pg_version() { newest /etc/postgresql; }
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432; }
# No password may be needed: ignore any ~/.pgpass and PGPASSWORD so the check is honest.
pg_connects() {
    env -u PGPASSWORD PGPASSFILE=/dev/null PGCONNECT_TIMEOUT=5 \
        psql "$PG_URL" -w -X -q -t -c 'select 1' >/dev/null 2>&1
}

version=$(pg_version)
if [[ -z $version ]]; then
    # The package normally creates a cluster; some images disable that (create_main_cluster).
    server=$(newest /usr/lib/postgresql)
    [[ -n $server ]] || die "no PostgreSQL server under /usr/lib/postgresql"
    say "creating PostgreSQL cluster $server/main"
    quietly as_root pg_createcluster --port 5432 "$server" main || die "pg_createcluster failed"
    version=$server
fi
cluster_dir="/etc/postgresql/$version/main"

if ! pg_ready; then
    say "starting PostgreSQL $version/main"
    quietly as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
        die "pg_ctlcluster $version main start failed; see /var/log/postgresql/"
    eventually pg_ready ||
        die "PostgreSQL is not accepting connections on 127.0.0.1:5432 after ${TIMEOUT}s (is cluster $version/main on port 5432?)"
fi

if ! pg_connects; then
    hba="$cluster_dir/pg_hba.conf"
    as_root test -f "$hba" || die "cannot find $hba"
    # The first matching line wins, so the trust line must come before Debian's scram-sha-256 one.
    first_rule=$( (as_root grep -v -E '^[[:space:]]*(#|$)' "$hba" || true) | head -n 1 | tr -s ' \t' ' ')
    if [[ $first_rule != "$PG_TRUST_LINE" ]]; then
        say "allowing passwordless connections from 127.0.0.1 in $hba"
        as_root sed -i "1i $PG_TRUST_LINE" "$hba" || die "cannot edit $hba"
    fi
    quietly as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload ||
        die "pg_ctlcluster $version main reload failed"
    eventually pg_connects ||
        die "cannot connect to $PG_URL without a password even after adding '$PG_TRUST_LINE' to $hba"
fi

# ---------------------------------------------------------------------------------------------
# The tools deploy/backup.sh and deploy/restore.sh use (tests/backup_restore.rs): sqlite3 for
# the embedded databases; pg_dump and pg_restore come with postgresql.

if ! command -v sqlite3 >/dev/null 2>&1; then
    apt_install sqlite3
fi

# ---------------------------------------------------------------------------------------------
# Chromium for the console's browser tests (tests/console.rs); nothing to start.

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1 ||
    [[ ! -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]]; then
    apt_install chromium chromium-driver fonts-wqy-microhei
    command -v chromedriver >/dev/null 2>&1 || die "chromedriver is still missing after installing chromium-driver"
fi

# ---------------------------------------------------------------------------------------------
# libfaketime (Debian's faketime) for the whole-system runs at a chosen instant (scripts/test):
# a year end, and a year without an official holiday schedule.

if [[ ! -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ]] &&
    ! compgen -G "/usr/lib/*/faketime/libfaketime.so.1" >/dev/null; then
    apt_install faketime
fi
# jq lists the test executables cargo built for those runs.
command -v jq >/dev/null 2>&1 || apt_install jq

# promtool (Debian's prometheus package; only its checker is used, no Prometheus server is
# started) for the test that checks every process's metrics (tests/observability.rs).
if ! command -v promtool >/dev/null 2>&1; then
    apt_install prometheus
    # On a machine run by systemd the package also starts a Prometheus server: not ours to run.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
        say "stopping the Prometheus server the prometheus package started (only promtool is needed)"
        quietly as_root systemctl disable --now prometheus || true
    fi
fi

# systemd-analyze (Debian's systemd) verifies the units of deploy/systemd (tests/packaging.rs);
# nothing is started with it.
[[ -x /usr/bin/systemd-analyze ]] || apt_install systemd

# ---------------------------------------------------------------------------------------------
# An S3-compatible server for services/evidence/tests/s3.rs (moto, started by the test itself).

MOTO_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/casebridge/moto"
if [[ ! -x $MOTO_DIR/bin/moto_server ]]; then
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" >/dev/null 2>&1; then
        apt_install python3-venv
    fi
    say "installing moto[server] (an S3-compatible test server) from PyPI into $MOTO_DIR"
    quietly python3 -m venv "$MOTO_DIR" || die "cannot create a Python virtual environment in $MOTO_DIR"
    quietly "$MOTO_DIR/bin/pip" install -q 'moto[server]' || die "pip install moto[server] failed"
fi
