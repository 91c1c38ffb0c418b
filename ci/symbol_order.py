#!/usr/bin/env python3
"""Regenerate Sources/yimmo-wsgi/symbol-order.txt, the link order of the executable's functions.

    swift build -c release --static-swift-stdlib && python3 ci/symbol_order.py

Why: the kernel maps a file page in with its neighbours (fault-around, 64 KiB), so a process that
runs 500 small functions scattered over 9 MiB of text keeps most of that text resident. lld
places the listed functions first, together: the functions a worker runs after fork (ordered by
their instruction count), then those only the supervisor runs. Measured with the bench app, idle
after one request: supervisor 12.8 -> 11.3 MiB RSS, worker 17.3 -> 16.5 MiB.

How: runs the release binary under callgrind (costs zeroed in the worker when it enters
runWorker), serves the bench app every kind of request once or twice, stops it, and lists the
executable's functions with a non-zero own cost. Names that no longer exist are ignored by the
linker, so a stale list only costs memory, never correctness; regenerate it after large changes.
"""

from __future__ import annotations

import collections
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / ".build" / "release" / "yimmo-wsgi"
OUTPUT = ROOT / "Sources" / "yimmo-wsgi" / "symbol-order.txt"
PORT = 18391
ENTRY = "runWorker8settings"  # part of the worker entry point's mangled name
PATHS = ["/hello", "/chunked", "/big", "/sleepy", "/file", "/cpu", "/missing"]
_NAMED = re.compile(r"^(c?ob|c?fn|fl|fi|fe|cfi|cfl)=\((\d+)\)(?: (.*))?$")


def main() -> None:
    if not BINARY.exists():
        sys.exit(f"{BINARY} not found: build it first (swift build -c release --static-swift-stdlib)")
    with tempfile.TemporaryDirectory(prefix="yimmo-order-") as tmp:
        # valgrind cannot read the DWARF this toolchain writes; the symbol table is enough.
        binary = Path(tmp) / "yimmo-wsgi"
        subprocess.run(["objcopy", "--strip-debug", str(BINARY), str(binary)], check=True)
        worker, supervisor = profile(binary, worker_entry(binary), Path(tmp))
        names = own_cost_functions(worker, binary.name) + own_cost_functions(supervisor, binary.name)
    unique = list(dict.fromkeys(names))
    OUTPUT.write_text("\n".join(unique) + "\n")
    # SwiftPM does not know the linker reads this file: an incremental build would keep the old link.
    print(f"{OUTPUT.relative_to(ROOT)}: {len(unique)} functions; "
          f"remove {BINARY.relative_to(ROOT)} before the next build to relink with it")


def worker_entry(binary: Path) -> str:
    symbols = subprocess.run(["nm", str(binary)], check=True, capture_output=True, text=True).stdout
    for line in symbols.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tT" and ENTRY in parts[2] and "yimmo_wsgi" in parts[2]:
            return parts[2]
    sys.exit(f"no function matching {ENTRY!r} in {binary}")


def profile(binary: Path, entry: str, tmp: Path) -> tuple[Path, Path]:
    """Runs the server under callgrind; returns the worker's and the supervisor's profiles."""
    command = ["valgrind", "--tool=callgrind", "--demangle=no", f"--zero-before={entry}",
               f"--callgrind-out-file={tmp}/callgrind.%p", str(binary), "--host", "127.0.0.1",
               "--port", str(PORT), "--log-level", "WARNING", "app", "app"]
    server = subprocess.Popen(command, cwd=ROOT / "bench", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_serving()
        for _ in range(2):
            for path in PATHS:
                fetch(path)
            fetch("/echo", body=b"x" * 65536)
        pipelined_and_chunked()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)
    supervisor = tmp / f"callgrind.{server.pid}"
    workers = [p for p in tmp.glob("callgrind.*") if p != supervisor]
    if not supervisor.exists() or len(workers) != 1:
        sys.exit(f"expected the supervisor's and one worker's profile in {tmp}")
    return workers[0], supervisor


def wait_until_serving() -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            fetch("/hello")
            return
        except OSError:
            time.sleep(0.5)
    sys.exit("the server under callgrind did not answer within 120 s")


def fetch(path: str, body: bytes | None = None) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", data=body)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
    except urllib.error.HTTPError as error:
        error.read()


def pipelined_and_chunked() -> None:
    with socket.create_connection(("127.0.0.1", PORT), timeout=60) as s:
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                  b"GET /hello HTTP/1.0\r\n\r\n")
        while s.recv(65536):
            pass


def own_cost_functions(callgrind_out: Path, object_name: str) -> list[str]:
    """The object's functions with a non-zero own (exclusive) cost, most expensive first."""
    objects: dict[str, str] = {}
    functions: dict[str, str] = {}
    current_object = current_function = None
    after_calls = False
    cost: collections.Counter[str] = collections.Counter()
    for line in callgrind_out.read_text(errors="replace").splitlines():
        named = _NAMED.match(line)
        if named:
            kind, index, name = named.groups()
            table = objects if kind in ("ob", "cob") else functions if kind in ("fn", "cfn") else None
            if table is not None and name:
                table[index] = name
            if kind == "ob":
                current_object = objects[index]
            elif kind == "fn":
                current_function = functions[index]
            continue
        if line.startswith("calls="):
            after_calls = True  # the next cost line is the call's inclusive cost
            continue
        if not line or not (line[0].isdigit() or line[0] in "+-*"):
            continue
        if after_calls:
            after_calls = False
            continue
        fields = line.split()
        if (len(fields) >= 2 and current_function and current_object
                and os.path.basename(current_object) == object_name and fields[1].isdigit()):
            cost[re.sub(r"'\d+$", "", current_function)] += int(fields[1])
    # Unnamed code ("0x...") and valgrind's "(below main)" are not symbols the linker knows.
    return [name for name, n in cost.most_common() if n > 0 and not name.startswith(("0x", "("))]


if __name__ == "__main__":
    main()
