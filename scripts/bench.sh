#!/usr/bin/env bash
# Load benchmark of idpool with the shared harness.
#
#   scripts/bench.sh [DURATION]          DURATION = seconds per workload [20]
#
# 1. installs wrk (apt-get) if it is missing;
# 2. builds the release binary (cargo build --release -p idpool-server) unless IDPOOL_BIN is set;
# 3. starts `idpool serve --dev` on a free port with a fresh temporary data directory
#    (or, with BENCH_DATABASE_URL, on a fresh PostgreSQL database created for this run);
# 4. runs <shared>/bench/bench.sh against it with SERVER_PID set (CPU and memory of the server);
# 5. runs the USER_SRP_AUTH load generator (crates/testkit/src/bin/srp_load.rs) against it,
#    stops the server, runs <shared>/bench/crypto_floor.py (cost of the unavoidable crypto on this
#    machine) and prints one results table;
# 5b'. OAuth: client_credentials tokens and whole authorization-code sign-ins at the hosted pages
#    (crates/testkit/src/bin/oauth_load.rs);
# 5b''. access decisions: POST /_idpool/authorize with identity-pool credentials against the seed's
#    photo-app role (crates/testkit/src/bin/access_load.rs);
# 5b'''. threat protection: ADMIN_USER_PASSWORD_AUTH on a pool with it OFF, then ENFORCED (risk scored
#    from each user's event history, events recorded) (crates/testkit/src/bin/threat_load.rs);
# 5c. seeds a pool of BENCH_LISTUSERS_USERS users straight into the server's store and measures
#    ListUsers with prefix and exact filters (crates/testkit/src/bin/list_users_load.rs).
#
# Environment:
#   IDPOOL_BIN          server binary to bench; skips the build   [target/release/idpool, built]
#   IDPOOL_SHARED_DIR   the shared dir holding bench/              [<parent of repo>/shared]
#   BENCH_DATABASE_URL  PostgreSQL URL of a server where a fresh database may be created, e.g.
#                       postgres://postgres@127.0.0.1:5432/postgres; the run's database is
#                       idpool_bench_<time>_<pid> on that server, dropped afterwards unless BENCH_KEEP_DB=1
#   BENCH_OUT           where results go                           [target/bench]
#   BENCH_NO_CRYPTO=1   skip crypto_floor.py
#   BENCH_NO_SRP=1      skip the USER_SRP_AUTH workload (srp_load: SRP_CONCURRENCY [16], SRP_USERS [200])
#   BENCH_NO_OAUTH=1    skip the OAuth workloads (oauth_load: OAUTH_CONCURRENCY [32], half for sign-ins)
#   BENCH_NO_ACCESS=1   skip the access-decision workload (access_load: ACCESS_CONCURRENCY [32])
#   BENCH_NO_THREAT=1   skip the threat-protection workloads (threat_load: THREAT_CONCURRENCY [16],
#                       THREAT_USERS [200])
#   BENCH_NO_LISTUSERS=1  skip the ListUsers workload; BENCH_LISTUSERS_USERS pool size [1000000]
#                       (seeding a million users takes about 2 minutes and 1 GB of disk on SQLite)
#   any knob of the shared bench.sh (NUSERS, CONNS, THREADS, WORKLOADS, QUIET_WAIT, STRICT, LABEL, ...)
#
# Results: target/bench/results/<stamp>-<label>/ holds bench.sh's JSON + raw wrk output, the server
# log and crypto_floor.json. Exit status is bench.sh's (0 ok, 2 setup/verification failure, 3 STRICT).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=SCRIPTDIR/lib/server.sh
source "$REPO/scripts/lib/server.sh"

DURATION="${1:-20}"
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -gt 0 ]] || die "usage: $0 [DURATION-seconds]"
SHARED="$(shared_dir)"
BENCH="$SHARED/bench"
[[ -x "$BENCH/bench.sh" ]] || die "$BENCH/bench.sh not found"
OUT="${BENCH_OUT:-$REPO/target/bench}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

# ---- 1. wrk ----------------------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  note "installing wrk"
  SUDO=(); [[ "$(id -u)" == 0 ]] || SUDO=(sudo)
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq wrk >/dev/null
  command -v wrk >/dev/null || die "wrk still missing after apt-get install"
fi

# ---- 2. binary -------------------------------------------------------------------------------------
if [[ -n "${IDPOOL_BIN:-}" ]]; then
  BIN="$IDPOOL_BIN"
else
  note "cargo build --release -p idpool-server"
  (cd "$REPO" && cargo build --release -p idpool-server)
  BIN="$REPO/target/release/idpool"
fi
[[ -x "$BIN" ]] || die "server binary $BIN not found"

# ---- 3. python venv for crypto_floor.py (cryptography, argon2-cffi, gmpy2) ---------------------------
VENV="$OUT/venv"
CRYPTO=1
if [[ "${BENCH_NO_CRYPTO:-0}" == 1 ]]; then
  CRYPTO=0
elif ! "$VENV/bin/python" -c 'import cryptography, argon2, gmpy2' 2>/dev/null; then
  note "creating $VENV for crypto_floor.py"
  if ! { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check \
           cryptography argon2-cffi gmpy2; }; then
    note "WARNING: could not set up $VENV; crypto floor will be skipped"
    CRYPTO=0
  fi
fi

# ---- 4. storage + server ---------------------------------------------------------------------------
BACKEND=sqlite
DB_ARGS=()
DB_NAME=""
if [[ -n "${BENCH_DATABASE_URL:-}" ]]; then
  command -v psql >/dev/null || die "BENCH_DATABASE_URL is set but psql is not installed"
  BACKEND=postgres
  DB_NAME="idpool_bench_$(date +%Y%m%d%H%M%S)_$$"
  DB_URL="$(python3 - "$BENCH_DATABASE_URL" "$DB_NAME" <<'EOF'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
if u.scheme not in ("postgres", "postgresql"):
    sys.exit(f"BENCH_DATABASE_URL must be postgres://..., got {sys.argv[1]!r}")
print(urllib.parse.urlunsplit(u._replace(path="/" + sys.argv[2])))
EOF
)" || die "bad BENCH_DATABASE_URL"
  psql "$BENCH_DATABASE_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$DB_NAME\"" \
    || die "cannot create database $DB_NAME via $BENCH_DATABASE_URL"
  note "created database $DB_NAME"
  DB_ARGS=(--database-url "$DB_URL")
fi
LABEL="${LABEL:-idpool-$BACKEND}"
RUN="$OUT/results/$(date -u +%Y%m%dT%H%M%SZ)-$LABEL"
mkdir -p "$RUN"
DATA="$(mktemp -d "${TMPDIR:-/tmp}/idpool-bench.XXXXXX")"

# shellcheck disable=SC2317,SC2329  # invoked by the EXIT trap
cleanup() {
  local rc=$?
  stop_server
  rm -rf "$DATA"
  if [[ -n "$DB_NAME" && "${BENCH_KEEP_DB:-0}" != 1 ]]; then
    psql "$BENCH_DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 \
      || note "WARNING: could not drop database $DB_NAME"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_server "$BIN" "$DATA" "$RUN/server.log" "${DB_ARGS[@]}"

# ---- 5. the shared harness -------------------------------------------------------------------------
rc=0
SERVER_PID="$SERVER_PID" OUTDIR="$RUN" LABEL="$LABEL" "$BENCH/bench.sh" "$SERVER_URL" "$DURATION" \
  | tee "$RUN/bench.stdout" || rc=$?
# ---- 5b. USER_SRP_AUTH, both round trips (the shared harness has no SRP client) -------------------------
if [[ "$rc" == 0 || "$rc" == 3 ]] && [[ "${BENCH_NO_SRP:-0}" != 1 ]]; then
  SRP_LOAD="${SRP_LOAD_BIN:-$(dirname "$BIN")/srp_load}"
  if [[ ! -x "$SRP_LOAD" ]]; then
    note "cargo build --release -p idpool-testkit --bin srp_load"
    (cd "$REPO" && cargo build --release -p idpool-testkit --bin srp_load)
    SRP_LOAD="$REPO/target/release/srp_load"
  fi
  note "srp_load: USER_SRP_AUTH for ${DURATION}s"
  "$SRP_LOAD" "$SERVER_URL" "$DURATION" "${SRP_CONCURRENCY:-16}" "${SRP_USERS:-200}" "$SERVER_PID" \
    >"$RUN/srp.json" 2>"$RUN/srp.stderr" || { cat "$RUN/srp.stderr" >&2; note "WARNING: srp_load failed"; }
fi
# ---- 5b'. OAuth token endpoint and hosted sign-in -----------------------------------------------------
if [[ "$rc" == 0 || "$rc" == 3 ]] && [[ "${BENCH_NO_OAUTH:-0}" != 1 ]]; then
  OAUTH_LOAD="${OAUTH_LOAD_BIN:-$(dirname "$BIN")/oauth_load}"
  if [[ ! -x "$OAUTH_LOAD" ]]; then
    note "cargo build --release -p idpool-testkit --bin oauth_load"
    (cd "$REPO" && cargo build --release -p idpool-testkit --bin oauth_load)
    OAUTH_LOAD="$REPO/target/release/oauth_load"
  fi
  note "oauth_load: client_credentials and authorization_code for ${DURATION}s each"
  "$OAUTH_LOAD" "$SERVER_URL" "$DURATION" "${OAUTH_CONCURRENCY:-32}" "$SERVER_PID" \
    >"$RUN/oauth.jsonl" 2>"$RUN/oauth.stderr" || { cat "$RUN/oauth.stderr" >&2; note "WARNING: oauth_load failed"; }
fi
# ---- 5b''. access decisions (POST /_idpool/authorize) --------------------------------------------------
if [[ "$rc" == 0 || "$rc" == 3 ]] && [[ "${BENCH_NO_ACCESS:-0}" != 1 ]]; then
  ACCESS_LOAD="${ACCESS_LOAD_BIN:-$(dirname "$BIN")/access_load}"
  if [[ ! -x "$ACCESS_LOAD" ]]; then
    note "cargo build --release -p idpool-testkit --bin access_load"
    (cd "$REPO" && cargo build --release -p idpool-testkit --bin access_load)
    ACCESS_LOAD="$REPO/target/release/access_load"
  fi
  note "access_load: /_idpool/authorize decisions for ${DURATION}s"
  "$ACCESS_LOAD" "$SERVER_URL" "$DURATION" "${ACCESS_CONCURRENCY:-32}" "$SERVER_PID" \
    >"$RUN/access.jsonl" 2>"$RUN/access.stderr" || { cat "$RUN/access.stderr" >&2; note "WARNING: access_load failed"; }
fi
# ---- 5b'''. threat protection's cost per sign-in ---------------------------------------------------------
if [[ "$rc" == 0 || "$rc" == 3 ]] && [[ "${BENCH_NO_THREAT:-0}" != 1 ]]; then
  THREAT_LOAD="${THREAT_LOAD_BIN:-$(dirname "$BIN")/threat_load}"
  if [[ ! -x "$THREAT_LOAD" ]]; then
    note "cargo build --release -p idpool-testkit --bin threat_load"
    (cd "$REPO" && cargo build --release -p idpool-testkit --bin threat_load)
    THREAT_LOAD="$REPO/target/release/threat_load"
  fi
  note "threat_load: admin password sign-ins, threat protection OFF then ENFORCED, ${DURATION}s each"
  "$THREAT_LOAD" "$SERVER_URL" "$DURATION" "${THREAT_CONCURRENCY:-16}" "${THREAT_USERS:-200}" "$SERVER_PID" \
    >"$RUN/threat.jsonl" 2>"$RUN/threat.stderr" || { cat "$RUN/threat.stderr" >&2; note "WARNING: threat_load failed"; }
fi
# ---- 5c. ListUsers on a large pool --------------------------------------------------------------------
if [[ "$rc" == 0 || "$rc" == 3 ]] && [[ "${BENCH_NO_LISTUSERS:-0}" != 1 ]]; then
  LU_LOAD="${LISTUSERS_LOAD_BIN:-$(dirname "$BIN")/list_users_load}"
  if [[ ! -x "$LU_LOAD" ]]; then
    note "cargo build --release -p idpool-testkit --bin list_users_load"
    (cd "$REPO" && cargo build --release -p idpool-testkit --bin list_users_load)
    LU_LOAD="$REPO/target/release/list_users_load"
  fi
  if [[ "$BACKEND" == postgres ]]; then LU_DB="$DB_URL"; else LU_DB="sqlite://$DATA/idpool.db"; fi
  note "list_users_load: ${BENCH_LISTUSERS_USERS:-1000000} users, ${DURATION}s per filter"
  "$LU_LOAD" "$SERVER_URL" "$LU_DB" "${BENCH_LISTUSERS_USERS:-1000000}" "$DURATION" 4 \
    >"$RUN/listusers.jsonl" 2>"$RUN/listusers.stderr" \
    || { cat "$RUN/listusers.stderr" >&2; note "WARNING: list_users_load failed"; }
fi
stop_server
if [[ "$rc" != 0 && "$rc" != 3 ]]; then
  tail -n 20 "$RUN/server.log" >&2
  die "bench.sh failed (status $rc); server log: $RUN/server.log"
fi

# ---- 6. crypto floor (server stopped, so it measures a quiet machine) --------------------------------
if [[ "$CRYPTO" == 1 ]]; then
  note "running crypto_floor.py"
  cp "$BENCH/crypto_floor.py" "$RUN/crypto_floor.py"   # it writes crypto_floor.json next to itself
  "$VENV/bin/python" "$RUN/crypto_floor.py" >"$RUN/crypto_floor.txt" 2>&1 \
    || { cat "$RUN/crypto_floor.txt" >&2; note "WARNING: crypto_floor.py failed"; }
fi

# ---- 7. table --------------------------------------------------------------------------------------
echo
python3 - "$RUN" "$BACKEND" <<'EOF'
import glob, json, os, sys
run, backend = sys.argv[1:3]
res = [p for p in glob.glob(os.path.join(run, "*.json")) if os.path.basename(p) not in ("crypto_floor.json", "srp.json")]
b = json.load(open(res[0])) if res else None
if b:
    c = b["config"]
    print(f"idpool ({backend}) {b['endpoint']}  users={c.get('users')} duration={c.get('duration_s')}s "
          f"conns={c.get('connections')} threads={c.get('threads')} cpus={c.get('host_cpus')}")
    fmt = "{:<10} {:>10} {:>8} {:>8} {:>7} {:>11} {:>10} {:>9} {:>9}"
    print(fmt.format("workload", "rps", "p50_ms", "p99_ms", "errors", "server_cpu%", "cpu_ms/req",
                     "rss_MB", "foreign%"))
    for cr in b.get("create") or []:
        print(fmt.format("create", f"{cr['users_per_s']} u/s", "-", "-", "0", str(cr.get("server_cpu_pct")),
                         str(cr.get("server_cpu_ms_per_user")), "-", str(cr.get("foreign_cpu_pct"))))
    for name, w in b["workloads"].items():
        if w.get("skipped"):
            print(fmt.format(name, "skipped", "", "", "", "", "", "", ""))
            continue
        rss = w.get("rss_kb_after")
        print(fmt.format(name, f"{w['rps']:.1f}", f"{w['p50_ms']:.2f}", f"{w['p99_ms']:.2f}", w["errors"],
                         str(w.get("server_cpu_pct")), str(w.get("server_cpu_ms_per_req")),
                         "-" if rss is None else f"{rss / 1024:.0f}", str(w.get("foreign_cpu_pct"))))
    rss = b.get("rss_kb") or {}
    if rss:
        print("server VmRSS (MB): " + "  ".join(f"{k}={v / 1024:.0f}" for k, v in rss.items()))
    facts = b.get("facts") or {}
    for k in ("wrong_password", "getuser_tampered_signature", "refresh_tampered_token", "signup_weak_password"):
        if k in facts:
            print(f"check {k}: {facts[k]}")
    srp_path = os.path.join(run, "srp.json")
    if os.path.exists(srp_path) and os.path.getsize(srp_path):
        srp = json.load(open(srp_path))
        print(fmt.format("srp", f"{srp['rps']:.1f}", f"{srp['p50_ms']:.2f}", f"{srp['p99_ms']:.2f}", srp["errors"],
                         "-", f"{srp['server_cpu_ms_per_sign_in'] or 0:.2f}", "-", "-"))
        if srp.get("server_capacity_rps_2_cores"):
            print(f"srp: a whole sign-in is 2 round trips; the load generator shares the cores, so the server "
                  f"alone would do {srp['server_capacity_rps_2_cores']:.0f}/s on 2 cores")
    oauth_path = os.path.join(run, "oauth.jsonl")
    if os.path.exists(oauth_path):
        for line in open(oauth_path):
            o = json.loads(line)
            label = {"oauth_client_credentials": "oauth_m2m", "oauth_authorization_code": "oauth_code"}.get(o["workload"], o["workload"][:10])
            print(fmt.format(label, f"{o['rps']:.1f}", f"{o['p50_ms']:.2f}", f"{o['p99_ms']:.2f}", o["errors"],
                             "-", f"{o['server_cpu_ms_per_req'] or 0:.2f}", "-", "-"))
        print("oauth_code: a whole sign-in at the hosted pages (authorize, page, form, code exchange)")
    access_path = os.path.join(run, "access.jsonl")
    if os.path.exists(access_path):
        for line in open(access_path):
            a = json.loads(line)
            print(fmt.format("authorize", f"{a['rps']:.1f}", f"{a['p50_ms']:.2f}", f"{a['p99_ms']:.2f}", a["errors"],
                             "-", f"{a['server_cpu_ms_per_req'] or 0:.2f}", "-", "-"))
    threat_path = os.path.join(run, "threat.jsonl")
    if os.path.exists(threat_path):
        for line in open(threat_path):
            t = json.loads(line)
            label = {"signin_threat_off": "tp_off", "signin_threat_enforced": "tp_enforce"}.get(t["workload"], t["workload"][:10])
            print(fmt.format(label, f"{t['rps']:.1f}", f"{t['p50_ms']:.2f}", f"{t['p99_ms']:.2f}", t["errors"],
                             "-", f"{t['server_cpu_ms_per_req'] or 0:.2f}", "-", "-"))
        print("tp_off / tp_enforce: ADMIN_USER_PASSWORD_AUTH with threat protection OFF / ENFORCED")
    lu_path = os.path.join(run, "listusers.jsonl")
    if os.path.exists(lu_path):
        for line in open(lu_path):
            lu = json.loads(line)
            print(fmt.format(lu["workload"].replace("list_users_", "lu_")[:10], f"{lu['rps']:.1f}",
                             f"{lu['p50_ms']:.2f}", f"{lu['p99_ms']:.2f}", lu["errors"], "-", "-", "-", "-"))
            print(f"  {lu['workload']}: {lu['users']} users, 60 per page, {lu['pages']} pages "
                  f"(seeded in {lu['seed_seconds']:.0f} s)")
    print(f"results: {res[0]}")
else:
    print(f"no bench results in {run}")

cf = os.path.join(run, "crypto_floor.json")
if os.path.exists(cf):
    f = json.load(open(cf))
    r = f["results_us"]
    print(f"\ncrypto floor, one core of {f['cpu']} ({f['ncpu']} cpus), min batch mean:")
    for k, v in r.items():
        print(f"  {k:55s} {v['min_us']:10.1f} us")
    def us(*keys):
        for k in keys:
            if k in r:
                return r[k]["min_us"]
        return None
    sign = us("RS256 sign (RSA-2048) -> complete JWT")
    verify = us("RS256 verify (RSA-2048, e=65537)")
    modexp = us("modexp 3072-bit, 256-bit exp  [OpenSSL consttime]", "modexp 3072-bit, 256-bit exp  [GMP powmod_sec]",
                "modexp 3072-bit, 256-bit exp  [Python pow]")
    n = f["ncpu"]
    # what each workload cannot avoid: password check = recompute the SRP verifier g^x mod N (x: 256-bit hash);
    # a sign-in or refresh signs an access and an id token; GetUser verifies one signature.
    # SRP: B = k*v + g^b, then S = (A * v^u)^b: three modexps, and the two token signatures.
    need = {"auth": (modexp, sign, sign), "refresh": (sign, sign), "getuser": (verify,), "signup": (modexp,),
            "srp": (modexp, modexp, modexp, sign, sign)}
    parts = []
    for wl, costs in need.items():
        if all(x is not None for x in costs):
            parts.append(f"{wl} {n * 1e6 / sum(costs):,.0f}")
    if parts:
        print(f"crypto-only ceiling on {n} cores (rps, nothing but that crypto): " + ", ".join(parts))
EOF
exit "$rc"
