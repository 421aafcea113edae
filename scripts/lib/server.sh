# shellcheck shell=bash
# Helpers shared by scripts/bench.sh and scripts/conformance.sh (sourced, not run).
#
#   REPO            repo root (set by the caller)
#   shared_dir      -> prints the shared/ dir: $IDPOOL_SHARED_DIR or <parent of repo>/shared
#   start_server BIN DATADIR LOG [EXTRA ARGS...]
#                   starts `BIN serve --dev --listen 127.0.0.1:<free port> --data-dir DATADIR EXTRA...`
#                   in the background with stdout+stderr in LOG, waits for the
#                   "idpool listening on URL" line and GET /health == 200, and sets
#                   SERVER_PID and SERVER_URL.  Dies (exit 2) with the log tail if the server
#                   exits or is not ready within $SERVER_START_TIMEOUT seconds [60].
#   stop_server     TERM (then KILL after 10 s) the server started by start_server; idempotent.

SERVER_PID=""
SERVER_URL=""

die() { echo "scripts/${0##*/}: FATAL: $*" >&2; exit 2; }
note() { echo "scripts/${0##*/}: $*" >&2; }

shared_dir() {
  local d="${IDPOOL_SHARED_DIR:-$(dirname "$REPO")/shared}"
  [[ -d "$d" ]] || die "shared dir $d not found (set IDPOOL_SHARED_DIR)"
  (cd "$d" && pwd)
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_server() {
  local bin="$1" datadir="$2" log="$3"; shift 3
  [[ -x "$bin" ]] || die "server binary $bin not found or not executable (build it, or set IDPOOL_BIN)"
  local port; port="$(free_port)"
  "$bin" serve --dev --listen "127.0.0.1:$port" --data-dir "$datadir" "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  local deadline=$((SECONDS + ${SERVER_START_TIMEOUT:-60})) line
  while :; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      local rc=0
      wait "$SERVER_PID" 2>/dev/null || rc=$?
      SERVER_PID=""
      tail -n 30 "$log" >&2
      die "server exited (status $rc) before it was ready; log: $log"
    fi
    if [[ -z "$SERVER_URL" ]]; then
      line="$(grep -m1 -oE 'idpool listening on https?://[^[:space:]]+' "$log" || true)"
      if [[ -n "$line" ]]; then SERVER_URL="${line#idpool listening on }"; SERVER_URL="${SERVER_URL%/}"; fi
    fi
    if [[ -n "$SERVER_URL" ]] \
        && [[ "$(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/health" || true)" == 200 ]]; then
      note "server pid $SERVER_PID ready at $SERVER_URL (log: $log)"
      return 0
    fi
    if (( SECONDS >= deadline )); then
      tail -n 30 "$log" >&2
      stop_server
      die "server not ready after ${SERVER_START_TIMEOUT:-60}s (no 'idpool listening on' line or /health != 200); log: $log"
    fi
    sleep 0.2
  done
}

stop_server() {
  [[ -n "$SERVER_PID" ]] || return 0
  local pid="$SERVER_PID" i
  SERVER_PID=""
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    note "server pid $pid ignored SIGTERM for 10 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
