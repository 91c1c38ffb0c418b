#!/usr/bin/env python3
"""Benchmark driver: yimmo-wsgi against peer WSGI servers and nginx, on loopback, with wrk.

Run it through ``bash bench/run.sh [options]`` (installs what it needs first). Each server runs
pinned to core 0 (``taskset -c 0``; its worker processes and threads inherit that), wrk pinned to
core 1 with one thread and 50 connections. For every round, every server is started, each scenario
is checked once for a correct response, warmed up, then measured; rounds are interleaved (server
order rotates each round) so drift on the machine hits all servers alike. Reported: medians over
rounds of req/s, p50/p99 latency and server CPU time per request (utime+stime of the server and all
its descendant processes from /proc, before and after the run, divided by the requests wrk
completed), plus summed socket errors and non-2xx responses. The ``rss`` pseudo-scenario starts the
server afresh and measures its memory instead: the process tree's RSS once it has answered one
request and settled, then again with N idle keep-alive connections open (default 1,000).
Results: ``bench/results/<name>.md``, ``<name>.csv`` and ``<name>-rss.csv``.

Everything targets 127.0.0.1 only, every load run is bounded by its duration, and only the
processes this script started are stopped (by PID).
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import datetime
import http.client
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV_BIN = BENCH / ".venv" / "bin"
YIMMO_BIN = Path(os.environ.get("YIMMO_BIN", REPO / ".build" / "release" / "yimmo-wsgi"))
HOST = "127.0.0.1"
SERVER_CORE = "0"
CLIENT_CORE = "1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
HELLO = b"Hello, World!"
STATIC_HELLO = b"Hello, world!\n"  # yimmo-wsgi --static-response's fixed page
RSS = "rss"  # the memory pseudo-scenario
# The memory run's limits below (idle timeouts, gunicorn/granian connection caps, nginx
# worker_connections) leave room for this many idle connections.
MAX_IDLE_CONNECTIONS = 4000

# ------------------------------------------------------------------------------------------------
# Scenarios
# ------------------------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    path: str
    check: Callable[[bytes], bool]
    method: str = "GET"
    body: bytes = b""
    lua: str | None = None
    #: Request headers, sent by wrk (-H) and by the correctness check.
    headers: dict[str, str] = field(default_factory=dict)
    #: The server must answer `Connection: close` and close: wrk only reconnects when the
    #: response says so, otherwise the run would quietly measure keep-alive again.
    closes: bool = False


SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("hello", "/hello", lambda b: b == HELLO),
    Scenario("hello-close", "/hello", lambda b: b == HELLO, headers={"Connection": "close"}, closes=True),
    Scenario("chunked", "/chunked", lambda b: len(b) == 8 * 128),
    Scenario("big", "/big", lambda b: len(b) == 1 << 20),
    Scenario("echo", "/echo", lambda b: b == b"65536", method="POST", body=b"x" * 65536,
             lua=str(BENCH / "post64k.lua")),
    Scenario("sleepy", "/sleepy", lambda b: b == b"slept"),
    Scenario("cpu", "/cpu", lambda b: b.isdigit()),
    Scenario("file", "/file", lambda b: len(b) == 1 << 20),
]}
ALL_SCENARIOS = list(SCENARIOS) + [RSS]

# ------------------------------------------------------------------------------------------------
# Servers
# ------------------------------------------------------------------------------------------------

# argv builders get (port, temp dir, extra options); the extra options are the memory run's
# `idle_options`, placed where the server's command line takes options.
Argv = Callable[[int, Path, list[str]], list[str]]


@dataclass
class ServerSpec:
    name: str
    argv: Argv
    description: str
    scenarios: list[str] | None = None  # what it can serve (RSS included); None: everything
    suite: list[str] | None = None  # what a run without --scenarios measures; None: all it can
    checks: dict[str, Callable[[bytes], bool]] = field(default_factory=dict)
    needs: Callable[[], str | None] = lambda: None  # returns why it cannot run, or None
    #: Options for the memory run only, so that idle keep-alive connections stay open while
    #: they are counted (the throughput runs keep each server's defaults).
    idle_options: list[str] = field(default_factory=list)


def _need_file(path: Path) -> Callable[[], str | None]:
    return lambda: None if path.exists() else f"{path} not found"


def _nginx_argv(port: int, tmp: Path, extra: list[str]) -> list[str]:
    # worker_connections has room for the memory run's idle connections, which the default
    # keepalive_timeout (75 s) keeps open: nginx needs no idle_options.
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log stderr error;
events {{ worker_connections {MAX_IDLE_CONNECTIONS + 96}; }}
http {{
    access_log off;
    client_body_temp_path {tmp};
    proxy_temp_path {tmp};
    fastcgi_temp_path {tmp};
    uwsgi_temp_path {tmp};
    scgi_temp_path {tmp};
    server {{
        listen {HOST}:{port};
        location = /hello {{ default_type text/plain; return 200 "Hello, World!"; }}
    }}
}}
""")
    return [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(tmp), "-c", str(conf), "-e", "stderr", *extra]


def _yimmo(*options: str, app: bool = True) -> Argv:
    target = ["app", "app"] if app else []
    return lambda port, tmp, extra: [str(YIMMO_BIN), "--host", HOST, "--port", str(port), "--log-level", "WARNING",
                                     *options, *extra, *target]


def _granian(workers: int, threads: int) -> Argv:
    return lambda port, tmp, extra: [str(VENV_BIN / "granian"), "--interface", "wsgi", "--workers", str(workers),
                                     "--blocking-threads", str(threads), "--host", HOST, "--port", str(port),
                                     "--log-level", "warning", *extra, "app:app"]


def _gunicorn(workers: int, threads: int) -> Argv:
    return lambda port, tmp, extra: [str(VENV_BIN / "gunicorn"), "-k", "gthread", "--threads", str(threads),
                                     "-w", str(workers), "-b", f"{HOST}:{port}", "--log-level", "warning",
                                     *extra, "app:app"]


def _peer(server: str) -> Argv:
    return lambda port, tmp, extra: [str(VENV_BIN / "python"), str(BENCH / "run_peer.py"), server, HOST, str(port)]


# yimmo closes idle keep-alive connections after 5 s by default, gunicorn after 2 s, and
# gunicorn gthread stops keeping connections alive past worker_connections (1000); granian
# limits concurrent connections per worker to backlog/workers (1024). bjoern and fastwsgi have
# no idle timeout.
_YIMMO_IDLE = ["--idle-timeout", "600"]
_GRANIAN_IDLE = ["--backpressure", str(MAX_IDLE_CONNECTIONS + 96)]
_GUNICORN_IDLE = ["--keep-alive", "600", "--worker-connections", str(MAX_IDLE_CONNECTIONS + 96)]
_NO_PYTHON = ["hello", "hello-close", RSS]  # nginx and yimmo-static only serve /hello
_VARIANT_SUITE = ["hello", "hello-close", "sleepy", RSS]  # what issue #7 asks of the thread/process variants
_static_checks = {"hello": lambda b: b == STATIC_HELLO, "hello-close": lambda b: b == STATIC_HELLO}
_yimmo_needs, _venv_needs = _need_file(YIMMO_BIN), _need_file(VENV_BIN / "python")
_granian_needs, _gunicorn_needs = _need_file(VENV_BIN / "granian"), _need_file(VENV_BIN / "gunicorn")

SERVERS: dict[str, ServerSpec] = {s.name: s for s in [
    ServerSpec("yimmo", _yimmo(), "yimmo-wsgi app app (1 process, 1 Python thread)",
               needs=_yimmo_needs, idle_options=_YIMMO_IDLE),
    ServerSpec("yimmo-t4", _yimmo("--threads", "4"), "yimmo-wsgi --threads 4",
               suite=_VARIANT_SUITE, needs=_yimmo_needs, idle_options=_YIMMO_IDLE),
    ServerSpec("yimmo-p2", _yimmo("--processes", "2"), "yimmo-wsgi --processes 2 (1 thread each)",
               suite=_VARIANT_SUITE, needs=_yimmo_needs, idle_options=_YIMMO_IDLE),
    ServerSpec("yimmo-static", _yimmo("--static-response", app=False),
               "yimmo-wsgi --static-response (no Python; 14-byte body)", scenarios=_NO_PYTHON,
               checks=_static_checks, needs=_yimmo_needs, idle_options=_YIMMO_IDLE),
    ServerSpec("bjoern", _peer("bjoern"), "bjoern.run(app) (single-threaded, no thread option)",
               needs=_venv_needs),
    ServerSpec("fastwsgi", _peer("fastwsgi"), "fastwsgi.run(app) (single-threaded, no thread option)",
               needs=_venv_needs),
    ServerSpec("granian", _granian(1, 1), "granian --interface wsgi --workers 1 --blocking-threads 1",
               needs=_granian_needs, idle_options=_GRANIAN_IDLE),
    ServerSpec("granian-t4", _granian(1, 4), "granian --interface wsgi --workers 1 --blocking-threads 4",
               suite=_VARIANT_SUITE, needs=_granian_needs, idle_options=_GRANIAN_IDLE),
    ServerSpec("granian-p2", _granian(2, 1), "granian --interface wsgi --workers 2 --blocking-threads 1",
               suite=_VARIANT_SUITE, needs=_granian_needs, idle_options=_GRANIAN_IDLE),
    ServerSpec("gunicorn", _gunicorn(1, 1), "gunicorn -k gthread --threads 1 -w 1",
               needs=_gunicorn_needs, idle_options=_GUNICORN_IDLE),
    ServerSpec("gunicorn-t4", _gunicorn(1, 4), "gunicorn -k gthread --threads 4 -w 1",
               suite=_VARIANT_SUITE, needs=_gunicorn_needs, idle_options=_GUNICORN_IDLE),
    ServerSpec("gunicorn-p2", _gunicorn(2, 1), "gunicorn -k gthread --threads 1 -w 2",
               suite=_VARIANT_SUITE, needs=_gunicorn_needs, idle_options=_GUNICORN_IDLE),
    ServerSpec("nginx", _nginx_argv, 'nginx `return 200 "Hello, World!"` (no Python: the floor; 1 process)',
               scenarios=_NO_PYTHON, needs=lambda: None if shutil.which("nginx") or Path("/usr/sbin/nginx").exists()
               else "nginx not installed"),
]}


def scenarios_for(spec: ServerSpec, requested: list[str], explicit: bool) -> list[str]:
    """What this server measures: the requested scenarios it can serve; without an explicit
    --scenarios, only those in its suite (the variants skip what the issue does not ask of them)."""
    wanted = requested if explicit or spec.suite is None else spec.suite
    return [s for s in requested if s in wanted and (spec.scenarios is None or s in spec.scenarios)]


# ------------------------------------------------------------------------------------------------
# Processes
# ------------------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def raise_fd_limit(needed: int) -> None:
    """The memory run holds `needed` client sockets here and as many server sockets in the servers,
    which inherit this limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed + 1024
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        if new < want:
            print(f"warning: open-file limit {new} (hard) is below the {want} the memory run needs",
                  file=sys.stderr)


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def descendants(root: int) -> set[int]:
    """root and every process below it (from the ppid in /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            f = _stat_fields(int(entry))
            if f:
                children.setdefault(int(f[1]), []).append(int(entry))
    out, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.add(pid)
            todo += children.get(pid, [])
    return out


def cpu_seconds(pids: set[int]) -> float:
    """utime + stime of these processes (each includes all its threads)."""
    ticks = 0
    for pid in pids:
        f = _stat_fields(pid)
        if f:
            ticks += int(f[11]) + int(f[12])
    return ticks / CLK_TCK


def _proc_kib(path: str, key: str) -> int | None:
    """A `Key:   123 kB` line of a /proc file, in KiB."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass
class MemorySnapshot:
    rss_kib: dict[int, int]  # pid -> resident set size
    #: Private (USS: pages mapped by that process alone), summed: what the server's exit would free.
    #: Not PSS, which splits shared pages with every other process mapping them (libpython, the
    #: Swift runtime), so it moves with whatever else runs on the machine.
    uss_kib: int

    @property
    def total_rss(self) -> int:
        return sum(self.rss_kib.values())


def memory_snapshot(pids: set[int]) -> MemorySnapshot:
    rss: dict[int, int] = {}
    uss = 0
    for pid in pids:
        kib = _proc_kib(f"/proc/{pid}/status", "VmRSS")
        if kib is not None:  # None: exited, or a zombie
            rss[pid] = kib
            rollup = f"/proc/{pid}/smaps_rollup"
            uss += (_proc_kib(rollup, "Private_Clean") or 0) + (_proc_kib(rollup, "Private_Dirty") or 0)
    return MemorySnapshot(rss, uss)


class RunningServer:
    def __init__(self, spec: ServerSpec, tmp: Path, extra: list[str] | None = None):
        self.spec = spec
        self.port = free_port()
        self.tmp = tmp
        self.log_path = tmp / f"{spec.name}.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = str(BENCH) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.pop("VIRTUAL_ENV", None)
        env = {k: v for k, v in env.items() if not k.startswith("YIMMO_")}
        argv = ["taskset", "-c", SERVER_CORE] + spec.argv(self.port, tmp, extra or [])
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, cwd=BENCH, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        self.pid = self.proc.pid
        # pid -> start time (jiffies since boot), so a reused PID is never mistaken for ours.
        self.known: dict[int, str] = {}

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with {self.proc.returncode}: {self.log()[-1500:]}")
            try:
                socket.create_connection((HOST, self.port), timeout=0.2).close()
                self.pids()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"not accepting on port {self.port} after {timeout}s: {self.log()[-1500:]}")

    def pids(self) -> set[int]:
        now = descendants(self.pid) if self.proc.poll() is None else set()
        for pid in now:
            f = _stat_fields(pid)
            if f and pid not in self.known:
                self.known[pid] = f[19]
        return now

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.pids()
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # Workers this server forked and that outlived it: only PIDs we saw under it.
        for pid, started in self.known.items():
            f = _stat_fields(pid)
            if pid != self.pid and f is not None and f[19] == started and f[0] != "Z":
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def save_log(self, rnd: int, kind: str = "") -> None:
        log = self.log()
        if log.strip():
            (self.tmp / f"{self.spec.name}{kind}-round{rnd}.log").write_text(log)


# ------------------------------------------------------------------------------------------------
# HTTP checks
# ------------------------------------------------------------------------------------------------


def request_bytes(sc: Scenario, port: int) -> bytes:
    head = [f"{sc.method} {sc.path} HTTP/1.1", f"Host: {HOST}:{port}"]
    head += [f"{k}: {v}" for k, v in sc.headers.items()]
    if sc.body:
        head.append(f"Content-Length: {len(sc.body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + sc.body


def exchange(sock: socket.socket, sc: Scenario, port: int) -> tuple[http.client.HTTPResponse, bytes]:
    """One request on an open socket; the socket stays usable (and open) afterwards."""
    sock.sendall(request_bytes(sc, port))
    resp = http.client.HTTPResponse(sock, method=sc.method)
    resp.begin()
    return resp, resp.read()


def _closed_by_server(sock: socket.socket, wait: float) -> bool:
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except OSError:  # timeout: still open
        return False


def check_response(srv: RunningServer, sc: Scenario) -> str | None:
    """None if the scenario answers correctly, else what was wrong."""
    check = srv.spec.checks.get(sc.name, sc.check)
    try:
        with socket.create_connection((HOST, srv.port), timeout=10) as sock:
            resp, body = exchange(sock, sc, srv.port)
            if resp.status != 200:
                return f"status {resp.status}"
            if not check(body):
                return f"unexpected body ({len(body)} bytes: {body[:40]!r})"
            if sc.closes and (resp.getheader("Connection") or "").lower() != "close":
                return f"no `Connection: close` in the response (Connection: {resp.getheader('Connection')!r})"
            if sc.closes and not _closed_by_server(sock, 2.0):
                return "server kept the connection open after `Connection: close`"
    except (OSError, http.client.HTTPException) as e:
        return f"request failed: {e!r}"
    return None


# ------------------------------------------------------------------------------------------------
# Throughput
# ------------------------------------------------------------------------------------------------


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(out: str) -> dict:
    def num(pattern, default=None, conv=float):
        m = re.search(pattern, out)
        return conv(m.group(1)) if m else default

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        return float(m.group(1)) * _UNITS[m.group(2)] if m else None

    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests": num(r"(\d+) requests in", 0, int),
        "rps": num(r"Requests/sec:\s+([\d.]+)", 0.0),
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0,
        "non_2xx": num(r"Non-2xx or 3xx responses: (\d+)", 0, int),
    }


def run_wrk(srv: RunningServer, sc: Scenario, seconds: float, connections: int) -> tuple[dict, str]:
    argv = ["taskset", "-c", CLIENT_CORE, "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency",
            "--timeout", "5s"]
    for k, v in sc.headers.items():
        argv += ["-H", f"{k}: {v}"]
    if sc.lua:
        argv += ["-s", sc.lua]
    argv.append(f"http://{HOST}:{srv.port}{sc.path}")
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, stdin=subprocess.DEVNULL)
    return parse_wrk(proc.stdout), proc.stdout + proc.stderr


@dataclass
class Sample:
    round: int
    server: str
    scenario: str
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_us_per_req: float | None = None
    #: Share of one core the server used during the run (rps x CPU per request); well under 100%
    #: on a CPU-bound scenario means the server was starved (another load on its core).
    core_pct: float | None = None
    requests: int = 0
    socket_errors: int = 0
    non_2xx: int = 0
    note: str = ""


def measure_scenario(srv: RunningServer, sc: Scenario, rnd: int, args) -> Sample:
    sample = Sample(rnd, srv.spec.name, sc.name)
    bad = check_response(srv, sc)
    if bad:
        sample.note = f"wrong response: {bad}"
        print(f"  {srv.spec.name:13} {sc.name:11} {sample.note}", flush=True)
        return sample
    if args.warmup > 0:
        run_wrk(srv, sc, args.warmup, args.connections)
    pids = srv.pids()
    cpu0, t0 = cpu_seconds(pids), time.monotonic()
    res, raw = run_wrk(srv, sc, args.duration, args.connections)
    cpu1, t1 = cpu_seconds(pids | srv.pids()), time.monotonic()
    sample.rps, sample.p50_ms, sample.p99_ms = res["rps"], res["p50_ms"], res["p99_ms"]
    sample.requests, sample.socket_errors, sample.non_2xx = res["requests"], res["socket_errors"], res["non_2xx"]
    if res["requests"]:
        sample.cpu_us_per_req = (cpu1 - cpu0) / res["requests"] * 1e6
        sample.core_pct = (cpu1 - cpu0) / (t1 - t0) * 100  # wrk's own start and stop included
    else:
        sample.note = "wrk completed no request: " + raw.strip().replace("\n", " | ")[:300]
    if srv.proc.poll() is not None:
        sample.note = f"server exited with {srv.proc.returncode} during the run"
    print(f"  {srv.spec.name:13} {sc.name:11} {sample.rps or 0:10.0f} req/s  p50 {fmt(sample.p50_ms)} ms  "
          f"p99 {fmt(sample.p99_ms)} ms  cpu {fmt(sample.cpu_us_per_req, 1)} us/req "
          f"({fmt(sample.core_pct, 0)}% core)  "
          f"err {sample.socket_errors}  non2xx {sample.non_2xx} {sample.note}", flush=True)
    return sample


def measure(spec: ServerSpec, scenarios: list[str], rnd: int, args, tmp: Path) -> list[Sample]:
    why = spec.needs()
    if why:
        return [Sample(rnd, spec.name, s, note=f"skipped: {why}") for s in scenarios]
    srv = RunningServer(spec, tmp)
    samples = []
    try:
        try:
            srv.wait_ready()
        except RuntimeError as e:
            return [Sample(rnd, spec.name, s, note=f"did not start: {e}") for s in scenarios]
        for name in scenarios:
            samples.append(measure_scenario(srv, SCENARIOS[name], rnd, args))
            if srv.proc.poll() is not None:
                break
    finally:
        srv.stop()
        srv.save_log(rnd)
    return samples


# ------------------------------------------------------------------------------------------------
# Memory
# ------------------------------------------------------------------------------------------------


@dataclass
class MemorySample:
    round: int
    server: str
    processes: int = 0
    idle_rss_kib: int | None = None  # summed over the process tree
    idle_uss_kib: int | None = None  # private memory, summed
    per_process_kib: list[int] = field(default_factory=list)  # the started process first
    loaded_rss_kib: int | None = None  # with the idle connections open
    opened: int = 0
    kept_open: int = 0  # of those, still open when the loaded RSS was read
    note: str = ""

    @property
    def kib_per_connection(self) -> float | None:
        if self.loaded_rss_kib is None or self.idle_rss_kib is None or not self.opened:
            return None
        return (self.loaded_rss_kib - self.idle_rss_kib) / self.opened


def settled_memory(srv: RunningServer, timeout: float = 8.0) -> tuple[MemorySnapshot, bool]:
    """The process tree's memory once it stops changing: the same processes and a total RSS
    within 64 KiB over three polls 0.2 s apart (workers still importing the app, or threads still
    being started, would otherwise be caught half way). False if it never settled."""
    deadline = time.monotonic() + timeout
    history: list[MemorySnapshot] = []
    while True:
        history = (history + [memory_snapshot(srv.pids())])[-4:]
        if len(history) == 4:
            same_pids = all(h.rss_kib.keys() == history[-1].rss_kib.keys() for h in history)
            totals = [h.total_rss for h in history]
            if same_pids and max(totals) - min(totals) <= 64:
                return history[-1], True
        if time.monotonic() > deadline:
            return history[-1], False
        time.sleep(0.2)


def open_idle_connections(port: int, n: int, seconds: float) -> tuple[list[socket.socket], str]:
    """n keep-alive connections, one GET /hello answered on each, left open. Opened one after the
    other, so neither the listen backlog nor the accept rate is what is measured."""
    sc = SCENARIOS["hello"]
    socks: list[socket.socket] = []
    deadline = time.monotonic() + seconds
    for i in range(n):
        if time.monotonic() > deadline:
            return socks, f"only {i} connections opened in {seconds:g} s"
        try:
            sock = socket.create_connection((HOST, port), timeout=5)
        except OSError as e:
            return socks, f"connection {i + 1} failed: {e!r}"
        socks.append(sock)
        try:
            resp, _ = exchange(sock, sc, port)
        except (OSError, http.client.HTTPException) as e:
            return socks, f"request on connection {i + 1} failed: {e!r}"
        if resp.status != 200 or resp.will_close:
            return socks, f"connection {i + 1}: status {resp.status}, Connection: {resp.getheader('Connection')}"
    return socks, ""


def still_open(sock: socket.socket) -> bool:
    """Whether the server still holds the connection open, without waiting or consuming data."""
    sock.setblocking(False)  # a socket with a timeout would first wait that long for data
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True  # nothing to read and no EOF: open
    except OSError:
        return False


def _fill_idle(sample: MemorySample, snap: MemorySnapshot, root: int) -> None:
    sample.processes = len(snap.rss_kib)
    sample.idle_rss_kib, sample.idle_uss_kib = snap.total_rss, snap.uss_kib
    order = sorted(snap.rss_kib, key=lambda pid: (pid != root, pid))
    sample.per_process_kib = [snap.rss_kib[pid] for pid in order]


def measure_memory(spec: ServerSpec, rnd: int, args, tmp: Path) -> MemorySample:
    sample = MemorySample(rnd, spec.name)
    why = spec.needs()
    if why:
        sample.note = f"skipped: {why}"
        return sample
    srv = RunningServer(spec, tmp, spec.idle_options)
    socks: list[socket.socket] = []
    try:
        try:
            srv.wait_ready()
        except RuntimeError as e:
            sample.note = f"did not start: {e}"
            return sample
        bad = check_response(srv, SCENARIOS["hello"])  # the app is loaded and answering
        if bad:
            sample.note = f"wrong response: {bad}"
            return sample
        snap, settled = settled_memory(srv)
        _fill_idle(sample, snap, srv.pid)
        notes = [] if settled else ["idle RSS still changing"]
        socks, failure = open_idle_connections(srv.port, args.idle_connections, seconds=60)
        sample.opened = len(socks)
        loaded, settled = settled_memory(srv)
        sample.loaded_rss_kib = loaded.total_rss
        sample.kept_open = sum(still_open(s) for s in socks)
        notes += [failure] if failure else []
        notes += [] if settled else ["loaded RSS still changing"]
        sample.note = "; ".join(notes)
    finally:
        for s in socks:
            s.close()
        srv.stop()
        srv.save_log(rnd, "-rss")
    return sample


def print_memory(m: MemorySample) -> None:
    print(f"  {m.server:13} {RSS:11} idle {kib_mib(m.idle_rss_kib)} MiB in {m.processes} process(es)"
          f" ({' + '.join(kib_mib(k) for k in m.per_process_kib)}), private {kib_mib(m.idle_uss_kib)} MiB;"
          f" +{fmt(m.kib_per_connection, 1)} KiB per connection ({m.kept_open}/{m.opened} kept open)"
          f" {m.note}", flush=True)


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------


def fmt(x, digits=2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def kib_mib(kib: float | None) -> str:
    return fmt(None if kib is None else kib / 1024, 1)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def versions() -> dict[str, str]:
    def run(argv):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
            return (p.stdout + p.stderr).strip().splitlines()[0] if (p.stdout + p.stderr).strip() else "?"
        except (OSError, subprocess.TimeoutExpired):
            return "not available"

    v = {
        "yimmo-wsgi": run([str(YIMMO_BIN), "--version"]),
        "yimmo binary": str(YIMMO_BIN) + (" (from YIMMO_BIN)" if "YIMMO_BIN" in os.environ else ""),
        "checkout": run(["git", "-C", str(REPO), "describe", "--always", "--dirty"]),
        "python (embedded / venv)": run(["/usr/bin/python3", "--version"]),
        "nginx": run(["nginx", "-v"]),
        "wrk": run(["wrk", "-v"]),
    }
    py = VENV_BIN / "python"
    if py.exists():
        for pkg in ("bjoern", "fastwsgi", "granian", "gunicorn"):
            v[pkg] = run([str(py), "-c", f"import importlib.metadata as m; print(m.version({pkg!r}))"])
    return v


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def write_csv(samples: list[Sample], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["round", "server", "scenario", "rps", "p50_ms", "p99_ms", "cpu_us_per_req", "core_pct",
                    "requests", "socket_errors", "non_2xx", "note"])
        for s in samples:
            w.writerow([s.round, s.server, s.scenario, fmt(s.rps, 1), fmt(s.p50_ms, 3), fmt(s.p99_ms, 3),
                        fmt(s.cpu_us_per_req, 2), fmt(s.core_pct, 1), s.requests, s.socket_errors, s.non_2xx,
                        s.note])


def write_memory_csv(samples: list[MemorySample], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["round", "server", "processes", "idle_rss_kib", "idle_private_kib", "per_process_rss_kib",
                    "loaded_rss_kib", "connections_opened", "connections_kept_open", "kib_per_connection",
                    "note"])
        for m in samples:
            w.writerow([m.round, m.server, m.processes, m.idle_rss_kib, m.idle_uss_kib,
                        " ".join(map(str, m.per_process_kib)), m.loaded_rss_kib, m.opened, m.kept_open,
                        fmt(m.kib_per_connection, 2), m.note])


def header_lines(args, servers: list[str], stem: str) -> list[str]:
    lines = [f"# yimmo-wsgi benchmark {stem}", ""]
    lines += [f"- wrk: 1 thread, {args.connections} connections, {args.duration:g} s per run after a "
              f"{args.warmup:g} s warm-up, {args.rounds} interleaved round(s); medians over rounds",
              f"- server pinned to core {SERVER_CORE} (`taskset`; every worker process and thread of it too), wrk "
              f"to core {CLIENT_CORE}; loopback; {os.cpu_count()} cores: {cpu_model()}; kernel {platform.release()}",
              "- CPU/req: user+system CPU time of the server's processes during the run / requests completed;"
              " core %: that CPU time / run time (a CPU-bound server near 100% had its core to itself)",
              f"- load average before the run: {args.load_before}",
              ""]
    lines += [f"- {k}: {v}" for k, v in versions().items()]
    lines += ["", "Servers:", ""]
    lines += [f"- **{n}**: {SERVERS[n].description}" for n in servers]
    lines.append("")
    return lines


def scenario_table(samples: list[Sample], servers: list[str], sc: str) -> list[str]:
    lines = [f"## {sc}", "",
             "| server | req/s | p50 ms | p99 ms | CPU µs/req | core % | socket errors | non-2xx | note |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    rows = []
    for srv in servers:
        mine = [s for s in samples if s.server == srv and s.scenario == sc]
        if mine:
            rows.append((median([s.rps for s in mine]) or 0, srv, mine))
    for rps, srv, mine in sorted(rows, key=lambda r: -r[0]):
        notes = sorted({s.note for s in mine if s.note})
        lines.append(f"| {srv} | {fmt(rps, 0)} | {fmt(median([s.p50_ms for s in mine]))} "
                     f"| {fmt(median([s.p99_ms for s in mine]))} | {fmt(median([s.cpu_us_per_req for s in mine]), 1)} "
                     f"| {fmt(median([s.core_pct for s in mine]), 0)} "
                     f"| {sum(s.socket_errors for s in mine)} | {sum(s.non_2xx for s in mine)} "
                     f"| {'; '.join(notes)[:200]} |")
    return lines + [""]


def memory_table(samples: list[MemorySample], servers: list[str], n: int) -> list[str]:
    lines = [f"## {RSS}: memory idle and with {n:,} idle keep-alive connections", "",
             "RSS of the server's process tree once it has answered one request and settled (private: pages "
             "no other process maps, what its exit would free); then each of "
             f"{n:,} connections sends one GET /hello and stays open, and the growth is divided by the "
             "connections opened. Kernel socket buffers are not in RSS. Medians over rounds.", "",
             "| server | processes | idle RSS MiB | idle private MiB | RSS per process MiB (parent first) "
             f"| RSS with conns MiB | KiB / conn | kept open | note |",
             "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |"]
    rows = []
    for srv in servers:
        mine = [m for m in samples if m.server == srv]
        if mine:
            rows.append((median([m.idle_rss_kib for m in mine]), srv, mine))
    for idle, srv, mine in sorted(rows, key=lambda r: (r[0] is None, r[0] or 0)):
        first = next((m for m in mine if m.per_process_kib), mine[0])
        per_process = " + ".join(kib_mib(k) for k in first.per_process_kib) or "-"
        notes = sorted({m.note for m in mine if m.note})
        lines.append(f"| {srv} | {first.processes} | {kib_mib(idle)} | {kib_mib(median([m.idle_uss_kib for m in mine]))} "
                     f"| {per_process} | {kib_mib(median([m.loaded_rss_kib for m in mine]))} "
                     f"| {fmt(median([m.kib_per_connection for m in mine]), 1)} "
                     f"| {min(m.kept_open for m in mine)}/{max(m.opened for m in mine)} | {'; '.join(notes)[:200]} |")
    return lines + [""]


def variants_table(samples: list[Sample], sc: str) -> list[str]:
    """One row per server family, its 1-thread, 4-thread and 2-process variants side by side."""
    columns = [("", "1 process, 1 thread"), ("-t4", "4 threads"), ("-p2", "2 processes")]
    ran = {s.server for s in samples if s.scenario == sc}
    if not any(name.endswith(("-t4", "-p2")) for name in ran):
        return []
    families = [f for f in ("yimmo", "granian", "gunicorn", "bjoern", "fastwsgi")
                if ran & {f + suffix for suffix, _ in columns}]
    lines = [f"## {sc}: threads and processes (req/s, CPU µs/req)", "",
             "| server | " + " | ".join(title for _, title in columns) + " |",
             "| --- |" + " ---: |" * len(columns)]
    for family in families:
        cells = []
        for suffix, _ in columns:
            mine = [s for s in samples if s.server == family + suffix and s.scenario == sc]
            cells.append(f"{fmt(median([s.rps for s in mine]), 0)}, {fmt(median([s.cpu_us_per_req for s in mine]), 1)}"
                         if mine else "n/a")
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    return lines + ["", "bjoern and fastwsgi run one thread; the 2-process variants keep both processes on "
                        f"core {SERVER_CORE}, so CPU µs/req, not req/s, is what they compare.", ""]


def target_lines(samples: list[Sample]) -> list[str]:
    """Issue #7's target: with 4 threads, yimmo-wsgi serves sleepy at least as fast as granian
    and gunicorn gthread."""
    rps = {srv: median([s.rps for s in samples if s.server == srv and s.scenario == "sleepy"])
           for srv in ("yimmo-t4", "granian-t4", "gunicorn-t4")}
    if rps["yimmo-t4"] is None:
        return []
    peers = {k: v for k, v in rps.items() if k != "yimmo-t4" and v is not None}
    if not peers:
        return []
    met = all(rps["yimmo-t4"] >= v for v in peers.values())
    return ["## target: sleepy with 4 threads", "",
            f"yimmo-t4 {fmt(rps['yimmo-t4'], 0)} req/s; "
            + "; ".join(f"{k} {fmt(v, 0)} req/s" for k, v in peers.items())
            + f" — yimmo-wsgi ≥ each: **{'met' if met else 'not met'}**.", ""]


def write_reports(samples: list[Sample], memory: list[MemorySample], args, servers: list[str],
                  scenarios: list[str], stem: str) -> list[Path]:
    out_dir = BENCH / "results"
    out_dir.mkdir(exist_ok=True)
    md_path, csv_path, rss_csv = out_dir / f"{stem}.md", out_dir / f"{stem}.csv", out_dir / f"{stem}-rss.csv"
    write_csv(samples, csv_path)
    written = [md_path, csv_path]
    lines = header_lines(args, servers, stem)
    lines += target_lines(samples)
    for sc in scenarios:
        if sc != RSS:
            lines += variants_table(samples, sc)
            lines += scenario_table(samples, servers, sc)
    if memory:
        lines += memory_table(memory, servers, args.idle_connections)
        write_memory_csv(memory, rss_csv)
        written.append(rss_csv)
    md_path.write_text("\n".join(lines))
    return written


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--servers", default=",".join(SERVERS), help=f"comma-separated, from {','.join(SERVERS)}")
    ap.add_argument("--scenarios", default=None,
                    help=f"comma-separated, from {','.join(ALL_SCENARIOS)} (default: each server's suite: all "
                         "it can serve, but only hello, hello-close, sleepy and rss for the -t4/-p2 variants)")
    ap.add_argument("--duration", type=float, default=4, help="seconds per measured wrk run (default 4)")
    ap.add_argument("--warmup", type=float, default=1, help="seconds of warm-up before each run (default 1)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported (default 3)")
    ap.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    ap.add_argument("--idle-connections", type=int, default=1000,
                    help=f"idle keep-alive connections opened by the rss scenario (default 1000, at most "
                         f"{MAX_IDLE_CONNECTIONS})")
    ap.add_argument("--name", default=None, help="results file name (default: date and time)")
    args = ap.parse_args()

    args.explicit = args.scenarios is not None
    args.servers = [s for s in args.servers.split(",") if s]
    args.scenarios = [s for s in (args.scenarios or ",".join(ALL_SCENARIOS)).split(",") if s]
    for s in args.servers:
        if s not in SERVERS:
            ap.error(f"unknown server {s!r}")
    for s in args.scenarios:
        if s not in ALL_SCENARIOS:
            ap.error(f"unknown scenario {s!r}")
    if args.duration <= 0 or args.duration > 600 or args.rounds < 1:
        ap.error("--duration must be in (0, 600] and --rounds >= 1")
    if not 1 <= args.idle_connections <= MAX_IDLE_CONNECTIONS:
        ap.error(f"--idle-connections must be in [1, {MAX_IDLE_CONNECTIONS}]")
    return args


def preflight(args) -> None:
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run bench/run.sh, which installs it")
    if (os.cpu_count() or 1) < 2:
        print("warning: fewer than 2 cores; server and wrk share one", file=sys.stderr)
    if RSS in args.scenarios:
        raise_fd_limit(args.idle_connections)
    load = os.getloadavg()
    args.load_before = " / ".join(f"{x:.2f}" for x in load) + " (1/5/15 min)"
    if load[0] > 0.5:
        print(f"warning: load average {load[0]:.2f} before the run: other work on this machine will skew "
              "req/s (CPU per request is the steadier figure)", file=sys.stderr)


def run_round(rnd: int, args, tmp: Path) -> tuple[list[Sample], list[MemorySample]]:
    shift = (rnd - 1) % len(args.servers)
    order = args.servers[shift:] + args.servers[:shift]
    samples, memory = [], []
    print(f"round {rnd}/{args.rounds}", flush=True)
    for name in order:
        spec = SERVERS[name]
        mine = scenarios_for(spec, args.scenarios, args.explicit)
        if RSS in mine:  # its own server: idle RSS is read right after start, before any load
            memory.append(measure_memory(spec, rnd, args, tmp))
            print_memory(memory[-1])
        load = [s for s in mine if s != RSS]
        if load:
            samples += measure(spec, load, rnd, args, tmp)
    return samples, memory


def main() -> int:
    args = parse_args()
    preflight(args)
    stem = args.name or datetime.datetime.now().strftime("%Y-%m-%d-%H%M")
    samples: list[Sample] = []
    memory: list[MemorySample] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="yimmo-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for rnd in range(1, args.rounds + 1):
            got, mem = run_round(rnd, args, tmp)
            samples += got
            memory += mem
        written = write_reports(samples, memory, args, args.servers, args.scenarios, stem)
        logs = sorted(tmp.glob("*-round*.log"))
        if logs:
            log_dir = BENCH / "results" / f"{stem}-logs"
            log_dir.mkdir(exist_ok=True)
            for log in logs:
                shutil.copy(log, log_dir / log.name)
    print(f"\nwrote {', '.join(str(p.relative_to(REPO)) for p in written)} "
          f"in {(time.monotonic() - started) / 60:.1f} min")
    print(written[0].read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
