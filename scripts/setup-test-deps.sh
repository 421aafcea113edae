#!/usr/bin/env bash
# Installs what the out-of-process test harness needs:
#   - ./.venv (python3 -m venv) with tests/python/requirements.txt
#     (boto3, awscli, pytest, pytest-timeout, aiosmtpd, requests, pycognito, pyotp)
#   - tests/node/node_modules (aws-jwt-verify, amazon-cognito-identity-js, aws-amplify), from package-lock.json
#   - psql (Debian's postgresql-client) when missing: the PostgreSQL fixtures use it
#   - chromium (Debian's) when missing: the hosted-UI browser tests drive it
#   - libfaketime (Debian's faketime) when missing: the credential-expiry test uses it
#   - wrk, only with --bench
#
# Idempotent and non-interactive: a re-run with nothing changed only checks stamps
# and returns in well under a second. Works as root on a fresh Debian machine.
#
# Usage: scripts/setup-test-deps.sh [--bench]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BENCH=0
for arg in "$@"; do
    case "$arg" in
        --bench) BENCH=1 ;;
        -h|--help)
            sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) echo "setup-test-deps: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_INPUT=1
export npm_config_fund=false
export npm_config_audit=false
export npm_config_update_notifier=false

log() { printf '[setup-test-deps] %s\n' "$*"; }

hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

APT_UPDATED=0
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup-test-deps: apt-get not available; install $* by hand" >&2
        return 1
    fi
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        $sudo apt-get update -qq
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ---------------------------------------------------------------- python venv
PY="${PYTHON:-python3}"
if ! command -v "$PY" >/dev/null 2>&1; then
    apt_install python3 python3-venv python3-pip
fi

VENV="$ROOT/.venv"
REQ="$ROOT/tests/python/requirements.txt"
STAMP="$VENV/.idpool-deps-stamp"
want="$(hash_of "$REQ")"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "creating $VENV"
    rm -rf "$VENV"
    if ! "$PY" -m venv "$VENV" 2>/dev/null; then
        # Debian's python3 without ensurepip: python3-venv provides it.
        rm -rf "$VENV"
        apt_install python3-venv
        "$PY" -m venv "$VENV"
    fi
fi

if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]; then
    log "pip install -r tests/python/requirements.txt"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -r "$REQ"
    # Sanity: everything the suite imports, and the aws CLI entry point.
    "$VENV/bin/python" -c 'import boto3, botocore, pytest, pytest_timeout, aiosmtpd, requests, pycognito, pyotp'
    "$VENV/bin/aws" --version >/dev/null
    echo "$want" > "$STAMP"
else
    log "python deps up to date (.venv)"
fi

# ---------------------------------------------------------------- node
NODE_DIR="$ROOT/tests/node"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
fi
NSTAMP="$NODE_DIR/node_modules/.idpool-deps-stamp"
nwant="$(hash_of "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json")"
if [ "$(cat "$NSTAMP" 2>/dev/null || true)" != "$nwant" ] || [ ! -d "$NODE_DIR/node_modules/aws-jwt-verify" ] || [ ! -d "$NODE_DIR/node_modules/amazon-cognito-identity-js" ] || [ ! -d "$NODE_DIR/node_modules/aws-amplify" ] || [ ! -d "$NODE_DIR/node_modules/playwright-core" ] || [ ! -d "$NODE_DIR/node_modules/openid-client" ]; then
    if [ -f "$NODE_DIR/package-lock.json" ]; then
        log "npm ci (tests/node)"
        (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    else
        log "npm install (tests/node)"
        (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error)
        nwant="$(hash_of "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json")"
    fi
    echo "$nwant" > "$NSTAMP"
else
    log "node deps up to date (tests/node/node_modules)"
fi

# ---------------------------------------------------------------- psql
if ! command -v psql >/dev/null 2>&1; then
    apt_install postgresql-client
fi

# ---------------------------------------------------------------- chromium
# The hosted pages are tested in a real browser: Debian's Chromium, driven by
# playwright-core (no browser download from the npm package).
if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
fi

# ---------------------------------------------------------------- libfaketime
# Credential expiry is tested end to end by a second server whose clock runs ahead
# (LD_PRELOAD libfaketime): no test hook in idpool itself.
if ! ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1; then
    apt_install faketime
fi

# ---------------------------------------------------------------- wrk (bench only)
if [ "$BENCH" = 1 ]; then
    if command -v wrk >/dev/null 2>&1; then
        log "wrk already installed"
    else
        apt_install wrk
    fi
fi

log "done"
