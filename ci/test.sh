#!/usr/bin/env bash
# The single test command: `bash ci/test.sh` from anywhere.
#   1. swift build -c release --static-swift-stdlib   the binary the end-to-end tests run
#   2. swift test               unit tests (Tests/ReactorTests, Tests/WSGIServerTests)
#   3. fuzz/run.sh 60           the parser under libFuzzer + ASan for a bounded time
#                               (YIMMO_FUZZ_SECONDS, default 60; 0 skips); a crash fails CI
#   4. .venv from /usr/bin/python3 + ci/requirements-test.txt
#   5. pytest Tests/e2e         the real binary against real clients, on epoll then on select
#   6. ci/container-test.sh     the container image, built and run (root; YIMMO_CONTAINER_TEST=0 skips)
# Exits non-zero on the first failing step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

if ! command -v swift >/dev/null && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="$PATH:/opt/swift/usr/bin"
fi

step() { printf '\n=== %s\n' "$*"; }

step "swift build -c release --static-swift-stdlib"
# The Swift runtime linked in, as it ships (Containerfile, docs/deployment.md): each process maps
# only what it uses (~3.5 MiB less RSS per process than with the shared runtime libraries).
swift build -c release --static-swift-stdlib

step "swift test"
swift test

fuzz_seconds="${YIMMO_FUZZ_SECONDS:-60}"
if [ "$fuzz_seconds" != 0 ]; then
    step "fuzz/run.sh $fuzz_seconds"
    bash fuzz/run.sh "$fuzz_seconds"
fi

step "test venv (.venv from /usr/bin/python3)"
# A venv made from another Python (e.g. pyenv's python3 first on PATH) would not match the
# interpreter the server embeds: recreate it.
if [ ! -x .venv/bin/python ] || [ "$(.venv/bin/python -c 'import sys; print(sys.base_prefix)')" != /usr ]; then
    rm -rf .venv
    /usr/bin/python3 -m venv .venv
fi
req_sum=$(sha256sum ci/requirements-test.txt | cut -d' ' -f1)
if [ "$(cat .venv/.requirements-test.sha256 2>/dev/null || true)" != "$req_sum" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r ci/requirements-test.txt
    echo "$req_sum" > .venv/.requirements-test.sha256
fi

step "pytest Tests/e2e"
export YIMMO_BIN="$ROOT/.build/release/yimmo-wsgi"
.venv/bin/python -m pytest Tests/e2e -q

step "pytest Tests/e2e again on the select() backend"
# The stress tests hold 10,000 connections, past what select() can watch (FD_SETSIZE 1024).
E2E_POLLER=select .venv/bin/python -m pytest Tests/e2e -q -m "not stress"

if [ "${YIMMO_CONTAINER_TEST:-1}" != 0 ]; then
    step "ci/container-test.sh (YIMMO_CONTAINER_TEST=0 skips)"
    bash ci/container-test.sh
fi
