#!/usr/bin/env bash
# `bash ci/apt-install-missing.sh PACKAGE...`: installs, with apt, those of the Debian packages
# named that are not installed yet; does nothing (and needs no network) when all of them are.
# Shared by .ci/run, bench/run.sh and ci/container-test.sh.
set -euo pipefail
missing=()
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
