#!/usr/bin/env bash
# The benchmark, one command:   bash bench/run.sh [bench.py options]
#   e.g. bash bench/run.sh --servers yimmo,bjoern,nginx --scenarios hello,echo --duration 5 --rounds 3
# Installs Debian's wrk, nginx-light and libev-dev if missing (root), builds bench/.venv from
# /usr/bin/python3 with the peer servers, builds yimmo-wsgi (release), then runs bench/bench.py.
# Results: bench/results/<date>.md and .csv. Loopback only; every run is bounded by --duration.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# util-linux: taskset. Any installed nginx will do as the floor.
packages=(wrk libev-dev python3-venv python3-dev util-linux)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || packages+=(nginx-light)
bash ci/apt-install-missing.sh "${packages[@]}"

if [ ! -x bench/.venv/bin/python ] || [ "$(bench/.venv/bin/python -c 'import sys; print(sys.base_prefix)')" != /usr ]; then
    rm -rf bench/.venv
    /usr/bin/python3 -m venv bench/.venv
fi
req_sum=$(sha256sum bench/requirements.txt | cut -d' ' -f1)
if [ "$(cat bench/.venv/.requirements.sha256 2>/dev/null || true)" != "$req_sum" ]; then
    bench/.venv/bin/pip install --quiet --disable-pip-version-check "setuptools<81" wheel
    bench/.venv/bin/pip install --quiet --disable-pip-version-check --no-build-isolation -r bench/requirements.txt
    echo "$req_sum" > bench/.venv/.requirements.sha256
fi

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
    if ! command -v swift >/dev/null && [ -x /opt/swift/usr/bin/swift ]; then
        export PATH="$PATH:/opt/swift/usr/bin"
    fi
    swift build -c release --static-swift-stdlib || echo "warning: swift build failed; benchmarking the existing binary, if any" >&2
fi

exec bench/.venv/bin/python bench/bench.py "$@"
