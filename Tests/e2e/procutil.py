"""Helpers for the process and lifecycle tests (test_processes.py): finding a server's worker
processes, waiting on its log, and bounded load generation (wrk if installed, else threads).

Everything here is bounded in time; nothing signals a process the caller did not start or that
is not a child of a server the caller started.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

READY_RE = re.compile(r"worker (\d+) \(pid (\d+)(?:, generation \d+)?\) is ready")
EXITED_RE = re.compile(r"worker (\d+) \(pid (\d+)[^)]*\) (?:exited with status \d+|was killed by \w+)[^\n]* and (\d+) request")


def children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (scans /proc; zombies excluded)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # Fields after the command, which is in parentheses and may contain spaces.
        rest = stat[stat.rfind(")") + 2:].split()
        state, ppid = rest[0], int(rest[1])
        if ppid == pid and state != "Z":
            found.append(int(entry))
    return sorted(found)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def ready_workers(log: str) -> dict[int, int]:
    """pid -> worker number, for every worker the supervisor logged as ready."""
    return {int(m.group(2)): int(m.group(1)) for m in READY_RE.finditer(log)}


def wait_for(predicate, timeout: float, interval: float = 0.02):
    """Poll ``predicate`` until it returns something truthy; return that (or the last falsy)."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def wait_workers_ready(server, count: int, exclude: set[int] = frozenset(), timeout: float = 10.0) -> list[int]:
    """Wait until ``count`` live children of ``server`` (not in ``exclude``) were logged ready."""
    def ready():
        live = set(children(server.pid)) - set(exclude)
        pids = [p for p in ready_workers(server.log()) if p in live]
        return sorted(pids) if len(pids) >= count else None
    pids = wait_for(ready, timeout)
    assert pids, f"{count} ready worker(s) expected within {timeout}s; children {children(server.pid)}\n{server.log()}"
    return pids


def log_time(line: str) -> float:
    """The Unix time of a log line's timestamp (2026-11-29T09:04:05.706Z)."""
    import datetime
    stamp = line.split(" ", 1)[0]
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def served_per_pid(log: str) -> dict[int, int]:
    """pid -> requests served, from the supervisor's exit lines."""
    return {int(m.group(2)): int(m.group(3)) for m in EXITED_RE.finditer(log)}


# ------------------------------------------------------------------------------------------------
# Load
# ------------------------------------------------------------------------------------------------

@dataclass
class LoadResult:
    requests: int
    connect_errors: int = 0
    read_errors: int = 0
    write_errors: int = 0
    timeouts: int = 0
    non_2xx: int = 0
    tool: str = ""
    output: str = ""

    @property
    def socket_errors(self) -> int:
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts

    def __str__(self) -> str:
        return (f"{self.tool}: {self.requests} requests, socket errors connect {self.connect_errors} read "
                f"{self.read_errors} write {self.write_errors} timeout {self.timeouts}, non-2xx {self.non_2xx}")


def have_wrk() -> bool:
    """wrk is used when installed, unless PROC_TESTS_NO_WRK=1 asks for the Python fallback."""
    return shutil.which("wrk") is not None and os.environ.get("PROC_TESTS_NO_WRK") != "1"


class Load:
    """Bounded load against ``url`` for ``seconds`` with ``connections`` keep-alive connections,
    in the background: ``start()``, then ``result()`` (waits). Uses wrk when installed."""

    def __init__(self, host: str, port: int, path: str = "/", seconds: float = 3.0, connections: int = 16,
                 close: bool = False):
        self.host, self.port, self.path = host, port, path
        self.seconds, self.connections = seconds, connections
        #: Send `Connection: close`: a new connection for every request.
        self.close = close
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._result: LoadResult | None = None

    def start(self) -> "Load":
        if have_wrk():
            url = f"http://{self.host}:{self.port}{self.path}"
            threads = max(1, min(2, self.connections))
            self._proc = subprocess.Popen(
                ["wrk", "-t", str(threads), "-c", str(self.connections), "-d", f"{self.seconds}s",
                 "--timeout", "5s", *(["-H", "Connection: close"] if self.close else []), url],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        else:
            self._thread = threading.Thread(target=self._python_load, daemon=True)
            self._thread.start()
        return self

    def result(self) -> LoadResult:
        if self._proc is not None:
            out, _ = self._proc.communicate(timeout=self.seconds + 30)
            self._result = parse_wrk(out.decode("utf-8", "replace"))
        elif self._thread is not None:
            self._thread.join(self.seconds + 30)
        assert self._result is not None, "load generator produced no result"
        return self._result

    def _python_load(self) -> None:
        deadline = time.monotonic() + self.seconds
        lock = threading.Lock()
        totals = LoadResult(requests=0, tool="python threads")

        def one_connection():
            conn = None
            while time.monotonic() < deadline:
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
                        conn.connect()
                except OSError:
                    with lock:
                        totals.connect_errors += 1
                    conn = None
                    time.sleep(0.01)
                    continue
                try:
                    conn.request("GET", self.path, headers={"Connection": "close"} if self.close else {})
                    resp = conn.getresponse()
                    resp.read()
                    with lock:
                        totals.requests += 1
                        if not 200 <= resp.status < 300:
                            totals.non_2xx += 1
                    if resp.will_close:
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException):
                    with lock:
                        totals.read_errors += 1
                    conn.close()
                    conn = None
            if conn is not None:
                conn.close()

        with concurrent.futures.ThreadPoolExecutor(self.connections) as pool:
            for f in [pool.submit(one_connection) for _ in range(self.connections)]:
                f.result()
        self._result = totals


def parse_wrk(text: str) -> LoadResult:
    m = re.search(r"(\d+) requests in", text)
    assert m, f"unexpected wrk output:\n{text}"
    r = LoadResult(requests=int(m.group(1)), tool="wrk", output=text)
    s = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if s:
        r.connect_errors, r.read_errors, r.write_errors, r.timeouts = map(int, s.groups())
    n = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if n:
        r.non_2xx = int(n.group(1))
    return r


def unix_request(path: str, target: str = "/", timeout: float = 5.0) -> bytes:
    """One HTTP/1.1 request over a unix socket; returns the raw response."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)
