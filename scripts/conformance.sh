#!/usr/bin/env bash
# moto's cognito-idp / cognito-identity test suites against a fresh `idpool serve --dev`.
#
#   scripts/conformance.sh [--update] [--endpoint URL]
#
# Builds the debug binary (cargo build -p idpool-server; skipped when IDPOOL_BIN is set or NO_BUILD=1),
# starts it on a free port with a fresh temporary data directory, runs
# <shared>/conformance/run_moto_suite.sh with DESELECT_FILE=<shared>/conformance/excluded.txt, and
# compares the failures in the junit XML with tests/conformance/known-failures.txt:
#   * a failing (or erroring) test that is not listed there is a regression -> exit 1;
#   * a listed test that now passes is printed as "fixed: remove from known-failures";
#   * the pass-count line is printed.
# --update       rewrite known-failures.txt from this run's failures (comments are kept; listed tests
#                that did not run at all, e.g. under EXTRA_PYTEST_ARGS=-k..., are kept too).
# --endpoint URL test an already running server instead of building and starting one.
#
# Environment:
#   IDPOOL_BIN          server binary                          [target/debug/idpool]
#   IDPOOL_SHARED_DIR   the shared dir holding conformance/     [<parent of repo>/shared]
#   WORKDIR             moto venv + suite + results (reused)    [target/conformance]
#   KEEP_DATA=1         keep the server's data directory
#   EXTRA_PYTEST_ARGS, PYTEST_TIMEOUT, MOTO_VERSION: passed to run_moto_suite.sh (it word-splits
#                       EXTRA_PYTEST_ARGS unquoted: write -k expressions without spaces, e.g. "-k totp")
# Exit status: 0 no regression, 1 regression, 2 setup problem.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=SCRIPTDIR/lib/server.sh
source "$REPO/scripts/lib/server.sh"

UPDATE=0
ENDPOINT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --update) UPDATE=1 ;;
    --endpoint) [[ $# -ge 2 ]] || die "--endpoint needs a URL"; ENDPOINT="${2%/}"; shift ;;
    --endpoint=*) ENDPOINT="${1#--endpoint=}"; ENDPOINT="${ENDPOINT%/}" ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done

SHARED="$(shared_dir)"
SUITE_SH="$SHARED/conformance/run_moto_suite.sh"
EXCLUDED="$SHARED/conformance/excluded.txt"
KNOWN="$REPO/tests/conformance/known-failures.txt"
[[ -f "$SUITE_SH" ]] || die "$SUITE_SH not found"
[[ -f "$EXCLUDED" ]] || die "$EXCLUDED not found"
[[ -f "$KNOWN" ]] || die "$KNOWN not found"
export WORKDIR="${WORKDIR:-$REPO/target/conformance}"
mkdir -p "$WORKDIR/results"
WORKDIR="$(cd "$WORKDIR" && pwd)"
RESULTS="$WORKDIR/results"
STAMP="$(date +%Y%m%d-%H%M%S)"

DATA=""
# shellcheck disable=SC2317,SC2329  # invoked by the EXIT trap
cleanup() {
  local rc=$?
  stop_server
  if [[ -n "$DATA" && "${KEEP_DATA:-0}" != 1 ]]; then rm -rf "$DATA"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "$ENDPOINT" ]]; then
  if [[ -n "${IDPOOL_BIN:-}" ]]; then
    BIN="$IDPOOL_BIN"
  else
    if [[ "${NO_BUILD:-0}" != 1 ]]; then
      note "cargo build -p idpool-server"
      (cd "$REPO" && cargo build -p idpool-server)
    fi
    BIN="$REPO/target/debug/idpool"
  fi
  DATA="$(mktemp -d "${TMPDIR:-/tmp}/idpool-conformance.XXXXXX")"
  start_server "$BIN" "$DATA" "$RESULTS/server-$STAMP.log"
  ENDPOINT="$SERVER_URL"
fi

# ---- run the suite ---------------------------------------------------------------------------------
MARK="$RESULTS/.started-$STAMP-$$"
touch "$MARK"
sleep 1   # junit names have 1 s resolution; make "newer than MARK" unambiguous
rc=0
DESELECT_FILE="$EXCLUDED" bash "$SUITE_SH" "$ENDPOINT" | tee "$RESULTS/conformance-$STAMP.out" || rc=$?
stop_server
XML="$(find "$RESULTS" -maxdepth 1 -name 'junit-*.xml' -newer "$MARK" -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)"
rm -f "$MARK"
if [[ "$rc" == 2 || -z "$XML" ]]; then
  die "run_moto_suite.sh did not run the suite (status $rc, junit: ${XML:-none}); see above"
fi
SUMMARY_LINE="$(grep -E '^[0-9]+ passed, [0-9]+ failed, ' "$RESULTS/conformance-$STAMP.out" | tail -n 1 || true)"

# ---- compare with known failures -------------------------------------------------------------------
python3 - "$XML" "$KNOWN" "$UPDATE" "$WORKDIR" "${SUMMARY_LINE:-}" <<'EOF'
import glob, os, sys, time, traceback
import xml.etree.ElementTree as ET

# a crash here is a setup problem (2), not a regression (1)
sys.excepthook = lambda t, v, tb: (traceback.print_exception(t, v, tb), sys.stderr.flush(), os._exit(2))

xml, known_path, update, workdir, summary_line = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4], sys.argv[5]
suites = sorted(glob.glob(os.path.join(workdir, "suite-*")), key=os.path.getmtime)
suite = suites[-1] if suites else None


def node_id(classname, name):
    """junit classname 'tests.test_x.test_y[.TestCls]' + name -> pytest node id 'tests/test_x/test_y.py[::TestCls]::name'."""
    parts = classname.split(".") if classname else []
    cut = None
    if suite:  # the longest dotted prefix that is a .py file of the suite is the module
        for i in range(len(parts), 0, -1):
            if os.path.isfile(os.path.join(suite, *parts[:i]) + ".py"):
                cut = i
                break
    if cut is None:  # pytest's default: classes are Test*
        cut = next((i for i, p in enumerate(parts) if p.startswith("Test")), len(parts))
    mod = "/".join(parts[:cut]) + ".py"
    return "::".join([mod] + parts[cut:] + [name])


status = {}  # node id -> passed | failed | skipped   (failed wins over anything, e.g. a teardown error)
for tc in ET.parse(xml).getroot().iter("testcase"):
    nid = node_id(tc.get("classname", ""), tc.get("name", ""))
    kids = {c.tag for c in tc}
    s = "failed" if kids & {"failure", "error"} else "skipped" if "skipped" in kids else "passed"
    if status.get(nid) != "failed":
        status[nid] = s

if not status:
    print(f"no test ran (junit {xml} is empty); see the pytest log next to it", file=sys.stderr)
    sys.exit(2)

lines = open(known_path).read().splitlines()
known = [l.strip() for l in lines if l.strip() and not l.strip().startswith("#")]
known_set = set(known)
failed = sorted(n for n, s in status.items() if s == "failed")
regressions = [n for n in failed if n not in known_set]
fixed = [n for n in known if status.get(n) == "passed"]
now_skipped = [n for n in known if status.get(n) == "skipped"]
not_run = [n for n in known if n not in status]

counts = {k: sum(1 for s in status.values() if s == k) for k in ("passed", "failed", "skipped")}
if summary_line:
    print(summary_line)
print(f"conformance: {counts['passed']} passed, {counts['failed']} failed "
      f"({len(failed) - len(regressions)} known, {len(regressions)} new), {counts['skipped']} skipped; "
      f"junit: {xml}")
for n in not_run:
    print(f"not run: {n} (listed in known-failures)")

if update:
    drop = set(fixed) | set(now_skipped)
    out = [l for l in lines if l.strip() not in drop]
    if regressions:
        while out and not out[-1].strip():
            out.pop()
        out += ["", f"# added by scripts/conformance.sh --update on {time.strftime('%Y-%m-%d')}"] + regressions
    open(known_path, "w").write("\n".join(out) + "\n")
    print(f"updated {known_path}: {len(drop)} removed, {len(regressions)} added")
    sys.exit(0)

for n in fixed:
    print(f"fixed: remove from known-failures: {n}")
for n in now_skipped:
    print(f"skipped now: remove from known-failures: {n}")
for n in regressions:
    print(f"REGRESSION (fails, not in known-failures): {n}")
if regressions:
    print(f"{len(regressions)} regression(s); fix them, or list them in {known_path} (--update)")
    sys.exit(1)
EOF
