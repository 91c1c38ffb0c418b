#!/usr/bin/env bash
# Container test: build the Containerfile's runtime stage, run the image, serve a request from the
# app in /app, stop it with SIGTERM within a second. Run as root: `bash ci/container-test.sh`.
#
# No container engine service or registry is needed (docs/deployment.md, "Testing the image"):
#   - the binary (ci/test.sh's, or one built here with --static-swift-stdlib) is handed to
#     buildah as the `build` stage (--build-context build=DIR), so no Swift image is pulled;
#   - mmdebstrap makes a bookworm minbase root filesystem that is imported as
#     docker.io/library/debian:bookworm-slim (cached in .container-cache/; delete it to refresh);
#   - podman and buildah keep their storage and state in a scratch folder removed at the end.
# The app is Tests/container/app (stdlib only), so the deps stage installs nothing from PyPI.
# Exits 0 with "SKIP: ..." when not root; non-zero with "FAIL: ..." when the image misbehaves.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: container test needs root (mmdebstrap, buildah and podman run rootful here)"
    exit 0
fi
if ! command -v swift >/dev/null && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="$PATH:/opt/swift/usr/bin"
fi

IMAGE="localhost/yimmo-wsgi-container-test:$$"
NAME="yimmo-wsgi-container-test-$$"
start=$(date +%s)
phase() { printf -- '--- [%3ds] %s\n' "$(($(date +%s) - start))" "$*"; }
fail() { echo "FAIL: $*"; failed=1; exit 1; }
failed=""
scratch=""
on_exit() {
    local rc=$?
    # Only once podman and buildah point at the scratch storage: never touch the machine's.
    # The container goes first (podman unmounts what it mounted), then the folder with the rest.
    if [ -n "$scratch" ]; then
        podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
        buildah rm --all >/dev/null 2>&1 || true
        rm -rf "$scratch"
    fi
    if [ "$rc" != 0 ] && [ -z "$failed" ]; then echo "FAIL: a step above exited with status $rc"; fi
}
trap on_exit EXIT

phase "Debian packages: mmdebstrap podman buildah runc curl"
bash ci/apt-install-missing.sh mmdebstrap podman buildah runc curl

CACHE="$ROOT/.container-cache"
mkdir -p "$CACHE"
WORK=$(mktemp -d "$CACHE/run.XXXXXX")
# The sandbox cannot raise rlimits (podman's default is to) and has a hybrid cgroup layout.
# Everything podman and buildah write stays under $WORK. overlay when the kernel can mount it
# there (about 70 s faster than vfs, which copies the whole root filesystem for every layer).
mkdir -p "$WORK/ctx/out" "$WORK/tmp" "$WORK/probe/"{lower,upper,work,merged}
driver=vfs
if mount -t overlay overlay -o "lowerdir=$WORK/probe/lower,upperdir=$WORK/probe/upper,workdir=$WORK/probe/work" \
        "$WORK/probe/merged" 2>/dev/null; then
    umount "$WORK/probe/merged"
    driver=overlay
fi
rm -rf "$WORK/probe"
cat > "$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$WORK/tmp"
EOF
cat > "$WORK/storage.conf" <<EOF
[storage]
driver = "$driver"
graphroot = "$WORK/storage"
runroot = "$WORK/run"
EOF
export CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf"

scratch=$WORK

# ci/test.sh builds .build/release with --static-swift-stdlib already: use that binary when it
# needs no Swift runtime library, else build one (its own scratch path, so .build is untouched).
binary=.build/release/yimmo-wsgi
if [ ! -x "$binary" ] || ldd "$binary" | grep -q libswiftCore; then
    phase "swift build -c release --static-swift-stdlib (.build-static)"
    swift build -c release --static-swift-stdlib --product yimmo-wsgi --scratch-path .build-static
    binary=.build-static/release/yimmo-wsgi
fi
install -m 755 "$binary" "$WORK/ctx/out/yimmo-wsgi"

BASE="$CACHE/bookworm-minbase.tar"
if [ ! -s "$BASE" ]; then
    phase "mmdebstrap bookworm minbase -> $BASE"
    # This machine's apt sources as the mirror: the rootfs reaches the same mirror the host does.
    mirror=/etc/apt/sources.list.d/debian.sources
    [ -f "$mirror" ] || mirror=http://deb.debian.org/debian
    # Trimmed like bookworm-slim: no man pages, docs or translations, no apt caches.
    rm -f "$BASE.part"
    mmdebstrap --mode=root --variant=minbase --format=tar \
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --customize-hook='rm -rf "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/*' \
        bookworm "$BASE.part" "$mirror"
    mv "$BASE.part" "$BASE"
fi

phase "podman import (stands in for docker.io/library/debian:bookworm-slim)"
podman import -q "$BASE" docker.io/library/debian:bookworm-slim >/dev/null

phase "buildah build --target runtime"
# --jobs 2: the deps and runtime stages are independent until the last COPY --from=deps.
buildah build --isolation chroot --pull=never --target runtime --jobs 2 \
    --build-context build="$WORK/ctx" --build-arg APP_DIR=Tests/container/app \
    -t "$IMAGE" -f Containerfile .

phase "image config"
config=$(podman image inspect --format '{{.Config.User}} {{.Config.StopSignal}} {{json .Config.ExposedPorts}}' "$IMAGE")
echo "$config"
[[ "$config" == 'yimmo SIGTERM {"8081/tcp":{}}' ]] || fail "image config is '$config'"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
phase "podman run on port $port"
# Host network: the default one adds a bridge and iptables rules this sandbox does not have.
podman run -d --name "$NAME" --network host -e YIMMO_WSGI_PORT="$port" "$IMAGE" container_app:app >/dev/null

probe="/probe-$$-$RANDOM"
body=""
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
    body=$(curl -sf --max-time 2 "http://127.0.0.1:$port$probe" 2>/dev/null) && break
    [ "$(podman inspect --format '{{.State.Running}}' "$NAME")" = true ] || break
    sleep 0.1
done
[ -n "$body" ] || { podman logs "$NAME" || true; fail "no answer on port $port within 60 s"; }
echo "response: $body"
python3 - "$body" "$probe" <<'EOF' || { podman logs "$NAME" || true; fail "unexpected response"; }
import json, sys
got, probe = json.loads(sys.argv[1]), sys.argv[2]
want = {"app_file": "/app/container_app.py", "uid": 10001, "user": "yimmo", "ppid": 1,
        "prefix": "/usr", "stdlib": "/usr/lib/python3.11", "version": [3, 11], "path": probe}
bad = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
if bad:
    sys.exit("mismatch (got, want): %r" % bad)
EOF

phase "podman stop (SIGTERM)"
# Timed until the container's PID 1 is gone: podman's own start-up and bookkeeping around it
# (100-700 ms on a busy machine) are not the server's. A 10 s stop timeout: a server that ignored
# SIGTERM would outlive the 1 s limit and then die of SIGKILL (exit status 137).
pid1=$(podman inspect --format '{{.State.Pid}}' "$NAME")
t0=$(date +%s%N)
podman stop -t 10 "$NAME" >/dev/null &
stopper=$!
while kill -0 "$pid1" 2>/dev/null; do sleep 0.005; done
exit_ms=$((($(date +%s%N) - t0) / 1000000))
wait "$stopper" || fail "podman stop failed"
stop_ms=$((($(date +%s%N) - t0) / 1000000))
status=$(podman inspect --format '{{.State.ExitCode}}' "$NAME")
logs=$(podman logs "$NAME" 2>&1)
grep -E 'SIGTERM|\[1\] stopped' <<<"$logs" || true
echo "PID 1 exited ${exit_ms} ms after podman stop began (podman stop returned after ${stop_ms} ms), status $status"
[ "$status" = 0 ] || fail "exit status $status after SIGTERM (want 0)"
grep -q 'SIGTERM: stopping' <<<"$logs" || fail "no graceful-stop line in the log"
[ "$exit_ms" -le 1000 ] || fail "the server took ${exit_ms} ms to stop (want <= 1000)"

phase "PASS: the image served /app and stopped on SIGTERM in ${exit_ms} ms"
