#!/usr/bin/env bash
# A RabbitMQ cluster of private nodes on one machine, for trying failover and for the fault tests
# (tests/broker_restart.rs, tests/cluster.rs). Each node is its own Erlang VM with its own name,
# AMQP port, distribution port and data directory; all share the rabbitmq user's Erlang cookie.
# The machine's own broker (rabbit@localhost on 5672) is never touched.
#
#   cluster.sh up [N]    start N nodes (default 3) and join nodes 2..N to node 1; prints the
#                        AMQP URLs, one per line, in the order clients should try them
#   cluster.sh kill I    SIGKILL node I's Erlang VM (a crash, not `rabbitmqctl stop_app`)
#   cluster.sh start I   start node I again on its data and wait until it speaks AMQP
#   cluster.sh leader Q  the node number (1..N) leading quorum queue Q, from node 1's view
#                        (or the first node that answers)
#   cluster.sh down      stop every node and delete the cluster's data
#   cluster.sh urls      print the AMQP URLs again
#   cluster.sh tls-connections
#                        one line per client connection to node 1: `true` if it uses TLS
#   cluster.sh cert-user NAME
#                        a user NAME who logs in with a client certificate whose CN is NAME
#                        (EXTERNAL authentication, on nodes started with CASEBRIDGE_CLUSTER_TLS)
#
# Node I is ${CASEBRIDGE_CLUSTER_NAME}I@localhost, listening for AMQP on 127.0.0.1 port
# CASEBRIDGE_CLUSTER_PORT+I-1 and for Erlang distribution on that port + 20000. Environment:
#   CASEBRIDGE_CLUSTER_DIR   where the nodes keep their data (default /tmp/casebridge-cluster)
#   CASEBRIDGE_CLUSTER_PORT  the first node's AMQP port (default 5701)
#   CASEBRIDGE_CLUSTER_NAME  the node name prefix (default cbnode)
#   CASEBRIDGE_CLUSTER_TLS   a directory with ca.pem, server.pem and server.key: each node also
#                            listens for AMQP over TLS on its AMQP port + 50, asks clients for a
#                            certificate from that CA, accepts EXTERNAL authentication (the
#                            certificate's CN), and `up` prints amqps:// URLs
# Needs rabbitmq-server installed (deploy/local/services.sh installs it) and root or sudo, as
# the nodes run as the rabbitmq user like the packaged broker.
set -euo pipefail

PATH="$PATH:/usr/sbin:/sbin"
DIR="${CASEBRIDGE_CLUSTER_DIR:-/tmp/casebridge-cluster}"
PORT="${CASEBRIDGE_CLUSTER_PORT:-5701}"
NAME="${CASEBRIDGE_CLUSTER_NAME:-cbnode}"
TIMEOUT=60

die() { echo "cluster: error: $*" >&2; exit 1; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run '$*', and sudo is not installed"
    fi
}

TLS="${CASEBRIDGE_CLUSTER_TLS:-}"

node() { echo "$NAME$1@localhost"; }
amqp_port() { echo $((PORT + $1 - 1)); }
node_dir() { echo "$DIR/node$1"; }
url() {
    if [[ -n $TLS ]]; then
        echo "amqps://guest:guest@127.0.0.1:$(($(amqp_port "$1") + 50))/%2f"
    else
        echo "amqp://guest:guest@127.0.0.1:$(amqp_port "$1")/%2f"
    fi
}
count() { [[ -f $DIR/size ]] || die "no cluster in $DIR (run: cluster.sh up)"; cat "$DIR/size"; }

# True when the port answers the AMQP protocol header with a method frame (Connection.Start):
# a port that accepts connections but never answers belongs to a broker that is not usable.
speaks_amqp() {
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1; printf 'AMQP\x00\x00\x09\x01' >&3; head -c 1 <&3" \
        2>/dev/null | od -An -tx1 | grep -q 01
}

wait_for() {
    local deadline=$((SECONDS + TIMEOUT))
    until speaks_amqp "$(amqp_port "$1")"; do
        ((SECONDS < deadline)) || die "node $1 ($(node "$1")) does not speak AMQP after ${TIMEOUT}s; see $(node_dir "$1")/log"
        sleep 0.5
    done
}

ctl() {
    local i=$1
    shift
    as_root timeout "$TIMEOUT" rabbitmqctl -q -n "$(node "$i")" "$@"
}

port_taken() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

start_node() {
    local i=$1 dir
    dir=$(node_dir "$i")
    # Another broker on the port would answer in this node's place.
    ! port_taken "$(amqp_port "$i")" ||
        die "port $(amqp_port "$i") is already taken (another cluster.sh node, with another CASEBRIDGE_CLUSTER_DIR?)"
    if [[ ! -d $dir ]]; then
        as_root mkdir -p "$dir/mnesia" "$dir/log"
        # No plugins: the packaged broker's management listener already holds its port.
        echo '[].' | as_root tee "$dir/enabled_plugins" >/dev/null
        # guest may log in over loopback only, which is where every client of these nodes is.
        printf 'listeners.tcp.local = 127.0.0.1:%s\n' "$(amqp_port "$i")" |
            as_root tee "$dir/rabbitmq.conf" >/dev/null
        if [[ -n $TLS ]]; then
            as_root mkdir -p "$dir/tls"
            as_root cp "$TLS/ca.pem" "$TLS/server.pem" "$TLS/server.key" "$dir/tls/"
            # EXTERNAL authentication: the client certificate's CN is the user name.
            echo '[rabbitmq_auth_mechanism_ssl].' | as_root tee "$dir/enabled_plugins" >/dev/null
            printf '%s\n' "listeners.ssl.local = 127.0.0.1:$(($(amqp_port "$i") + 50))" \
                "ssl_options.cacertfile = $dir/tls/ca.pem" \
                "ssl_options.certfile = $dir/tls/server.pem" \
                "ssl_options.keyfile = $dir/tls/server.key" \
                "ssl_options.verify = verify_peer" \
                "ssl_options.fail_if_no_peer_cert = true" \
                "auth_mechanisms.1 = PLAIN" \
                "auth_mechanisms.2 = EXTERNAL" \
                "ssl_cert_login_from = common_name" |
                as_root tee -a "$dir/rabbitmq.conf" >/dev/null
        fi
        as_root chown -R rabbitmq: "$dir"
    fi
    # The packaged wrapper switches to the rabbitmq user and keeps these variables.
    as_root env RABBITMQ_NODENAME="$(node "$i")" \
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT="$(amqp_port "$i")" \
        RABBITMQ_DIST_PORT=$(($(amqp_port "$i") + 20000)) \
        RABBITMQ_MNESIA_BASE="$dir/mnesia" \
        RABBITMQ_LOG_BASE="$dir/log" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
        RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
        RABBITMQ_PID_FILE="$dir/pid" \
        rabbitmq-server -detached >/dev/null
    wait_for "$i"
}

kill_node() {
    local pid_file
    pid_file="$(node_dir "$1")/pid"
    as_root test -f "$pid_file" || die "node $1 has no pid file; is it running?"
    as_root kill -KILL "$(as_root cat "$pid_file")" 2>/dev/null || true
    as_root rm -f "$pid_file"
    # Until the VM is gone its port may still accept connections.
    local deadline=$((SECONDS + TIMEOUT))
    while speaks_amqp "$(amqp_port "$1")"; do
        ((SECONDS < deadline)) || die "node $1 still answers after SIGKILL"
        sleep 0.2
    done
}

case "${1:-}" in
up)
    size="${2:-3}"
    [[ $size =~ ^[1-9]$ ]] || die "cluster size must be 1..9, not '$size'"
    [[ ! -e $DIR/size ]] || die "a cluster already runs in $DIR (run: cluster.sh down)"
    as_root mkdir -p "$DIR"
    echo "$size" | as_root tee "$DIR/size" >/dev/null
    for ((i = 1; i <= size; i++)); do start_node "$i"; done
    for ((i = 2; i <= size; i++)); do
        ctl "$i" stop_app
        ctl "$i" join_cluster "$(node 1)"
        ctl "$i" start_app
        wait_for "$i"
    done
    for ((i = 1; i <= size; i++)); do url "$i"; done
    ;;
kill)
    [[ -n ${2:-} ]] || die "usage: cluster.sh kill NODE_NUMBER"
    count >/dev/null
    kill_node "$2"
    ;;
start)
    [[ -n ${2:-} ]] || die "usage: cluster.sh start NODE_NUMBER"
    count >/dev/null
    start_node "$2"
    ;;
leader)
    [[ -n ${2:-} ]] || die "usage: cluster.sh leader QUEUE"
    size=$(count)
    for ((i = 1; i <= size; i++)); do
        if leader=$(ctl "$i" list_queues name leader --no-table-headers 2>/dev/null |
            awk -v q="$2" '$1 == q { print $2 }'); then
            for ((j = 1; j <= size; j++)); do
                [[ $leader != "$(node "$j")" ]] || { echo "$j"; exit 0; }
            done
            die "queue $2 has no leader among the nodes (got '$leader')"
        fi
    done
    die "no node answers"
    ;;
down)
    if [[ -f $DIR/size ]]; then
        size=$(cat "$DIR/size")
        for ((i = 1; i <= size; i++)); do
            pid_file="$(node_dir "$i")/pid"
            if as_root test -f "$pid_file"; then
                as_root kill -KILL "$(as_root cat "$pid_file")" 2>/dev/null || true
            fi
        done
    fi
    as_root rm -rf "$DIR"
    ;;
tls-connections)
    count >/dev/null
    ctl 1 list_connections ssl --no-table-headers
    ;;
cert-user)
    [[ -n ${2:-} ]] || die "usage: cluster.sh cert-user NAME"
    count >/dev/null
    # A user who logs in by certificate (EXTERNAL): its password is never used.
    ctl 1 add_user "$2" "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >/dev/null
    ctl 1 set_permissions -p / "$2" '.*' '.*' '.*' >/dev/null
    ;;
urls)
    size=$(count)
    for ((i = 1; i <= size; i++)); do url "$i"; done
    ;;
*)
    sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
