#!/usr/bin/env bash
# Weir's whole test suite, from a fresh Debian machine with only Rust on it.
#
#   scripts/test.sh                 everything: deps, fmt, clippy, build, cargo tests, e2e
#   scripts/test.sh --e2e-only      deps, release build and the end-to-end tests only
#   scripts/test.sh -- -k kcat      extra arguments after `--` go to pytest
#
# Installs what is missing, idempotently: Debian packages (kcat, redis-server, postgresql, mariadb-server,
# python3-venv, a C toolchain, nodejs and npm) with one `apt-get update` only when something
# is missing, a Python virtualenv at .venv from tests/python/requirements.txt (with osmem-server,
# the Elasticsearch sink tests' search server), and kafkajs into
# tests/js/node_modules from tests/js/package-lock.json (`npm ci`). Stops at the first failure
# with a line saying which step failed. The last line printed is a summary.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
VENV="$ROOT/.venv"
REQUIREMENTS="$ROOT/tests/python/requirements.txt"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

E2E_ONLY=0
PYTEST_ARGS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --e2e-only) E2E_ONLY=1 ;;
        --) shift; PYTEST_ARGS=("$@"); break ;;
        -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "test.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

step() { printf '\n==> %s\n' "$*"; }
fail() {
    printf '\ntest.sh: FAILED: %s\n' "$*"
    exit 1
}

# --- Debian packages -------------------------------------------------------------

APT_UPDATED=0
apt_install() {
    # Installs the given Debian packages; runs `apt-get update` at most once per run.
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || fail "need root (or sudo) to install: $*"
        sudo=(sudo -n)
    fi
    if [[ $APT_UPDATED -eq 0 ]]; then
        echo "    apt-get update"
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
            || fail "apt-get update failed"
        APT_UPDATED=1
    fi
    echo "    apt-get install $*"
    local out
    if ! out="$("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "$@" 2>&1)"; then
        echo "$out" | tail -20
        fail "apt-get install $* failed"
    fi
}

step "checking system dependencies"
missing=()
command -v kcat >/dev/null || missing+=(kcat)
# The Redis sink's tests start their own redis-server on a free port.
command -v redis-server >/dev/null || missing+=(redis-server)
# The PostgreSQL CDC source's tests initdb and start their own servers on free ports, so
# they need the server binaries, which are not on PATH. The package also starts a cluster
# on 5432; the tests neither use nor stop it.
pg_bindir() {
    local dir
    dir="$(pg_config --bindir 2>/dev/null)" && [[ -x "$dir/initdb" ]] && return 0
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}
pg_bindir || missing+=(postgresql)
# The database sink's tests install and start their own MariaDB server (mariadb-install-db,
# mariadbd as the `mysql` user) on a free port. The package also starts a server on 3306;
# the tests neither use nor stop it.
mariadb_bins() {
    command -v mariadbd >/dev/null || [[ -x /usr/sbin/mariadbd ]] || return 1
    command -v mariadb-install-db >/dev/null && command -v mariadb >/dev/null
}
mariadb_bins || missing+=(mariadb-server mariadb-client)
command -v cc >/dev/null || missing+=(build-essential)
command -v make >/dev/null || missing+=(make)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v python3 >/dev/null || missing+=(python3 python3-venv)
# The kafkajs tests (tests/js, run from tests/python/test_kafkajs.py).
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [[ ${#missing[@]} -gt 0 ]]; then
    apt_install "${missing[@]}"
fi
command -v kcat >/dev/null || fail "kcat is still missing after apt-get install kcat"
command -v redis-server >/dev/null || fail "redis-server is still missing after apt-get install redis-server"
pg_bindir || fail "PostgreSQL's initdb is still missing after apt-get install postgresql"
mariadb_bins || fail "mariadbd is still missing after apt-get install mariadb-server"
command -v node >/dev/null || fail "node is still missing after apt-get install nodejs"
command -v npm >/dev/null || fail "npm is still missing after apt-get install npm"
command -v cargo >/dev/null || fail "cargo is missing: install Rust (rustup) first"

# --- Python virtualenv -----------------------------------------------------------

step "checking Python virtualenv at .venv"
make_venv() {
    rm -rf "$VENV"
    python3 -m venv "$VENV" 2>/dev/null
}
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    if ! make_venv; then
        # Debian's python3 ships venv support separately (python3.X-venv).
        pyver="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
        apt_install python3-venv "python${pyver}-venv"
        make_venv || fail "python3 -m venv .venv failed even with python3-venv installed"
    fi
fi
req_hash="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
stamp="$VENV/.requirements.sha256"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$req_hash" ]]; then
    echo "    pip install -r tests/python/requirements.txt"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS" \
        || fail "pip install -r tests/python/requirements.txt failed"
    echo "$req_hash" >"$stamp"
fi
"$VENV/bin/python" - <<'EOF' || fail "the .venv is incomplete: delete .venv and run scripts/test.sh again"
import aiokafka, confluent_kafka, kafka, pytest, snappy, lz4.frame, zstandard  # noqa: F401
import osmem_server
osmem_server.resolve_binary()  # the Elasticsearch sink tests' server
from kafka.codec import has_gzip, has_snappy, has_lz4, has_zstd
assert has_gzip() and has_snappy() and has_lz4() and has_zstd(), "kafka-python codecs missing"
EOF

# The Elasticsearch sink's tests find osmem-server here (or at $OSMEM_SERVER_BIN).
OSMEM_SERVER_BIN="${OSMEM_SERVER_BIN:-$("$VENV/bin/python" -c 'import osmem_server; print(osmem_server.resolve_binary())')}"
export OSMEM_SERVER_BIN

# --- kafkajs ---------------------------------------------------------------------

step "checking kafkajs in tests/js/node_modules"
JS_DIR="$ROOT/tests/js"
lock_hash="$(sha256sum "$JS_DIR/package-lock.json" | cut -d' ' -f1)"
js_stamp="$JS_DIR/node_modules/.package-lock.sha256"
if [[ "$(cat "$js_stamp" 2>/dev/null)" != "$lock_hash" ]]; then
    echo "    npm ci (tests/js)"
    (cd "$JS_DIR" && npm ci --no-audit --no-fund --loglevel=error) \
        || fail "npm ci in tests/js failed"
    echo "$lock_hash" >"$js_stamp"
fi
(cd "$JS_DIR" && node -e 'require("kafkajs")') \
    || fail "kafkajs is not loadable from tests/js: delete tests/js/node_modules and run scripts/test.sh again"

# --- Rust ------------------------------------------------------------------------

if [[ $E2E_ONLY -eq 0 ]]; then
    step "cargo fmt --all -- --check"
    cargo fmt --all -- --check || fail "code is not formatted: run 'cargo fmt --all'"

    step "cargo clippy --all-targets -- -D warnings"
    cargo clippy --workspace --all-targets --quiet -- -D warnings || fail "clippy found warnings"
fi

step "cargo build --release"
cargo build --release --quiet || fail "cargo build --release failed"
WEIR_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/weir"
[[ -x "$WEIR_BIN" ]] || fail "no binary at $WEIR_BIN after cargo build --release"
export WEIR_BIN

if [[ $E2E_ONLY -eq 0 ]]; then
    # The tests build with the release profile too: one build of every dependency
    # instead of a debug one beside the release binary's.
    step "cargo test --workspace --release"
    cargo test --workspace --release --quiet \
        || fail "Rust tests failed (cargo test --workspace --release)"
fi

# --- End-to-end tests ------------------------------------------------------------

step "pytest tests/python (broker: $WEIR_BIN)"
set +e
"$VENV/bin/python" -m pytest "$ROOT/tests/python" "${PYTEST_ARGS[@]}"
rc=$?
set -e
case $rc in
    0) ;;
    5) fail "pytest collected no tests from tests/python" ;;
    *) exit "$rc" ;;  # pytest's own summary line is the last line printed
esac
