#!/usr/bin/env python3
"""Benchmark driver: yimmo-wsgi against peer WSGI servers and nginx, on loopback, with wrk.

Run it through ``bash bench/run.sh [options]`` (installs what it needs first). Each server runs
pinned to core 0 (``taskset -c 0``), wrk pinned to core 1 with one thread and 50 connections.
For every round, every server is started, each scenario is checked once for a correct response,
warmed up, then measured; rounds are interleaved (server order rotates each round) so drift on
the machine hits all servers alike. Reported: medians over rounds of req/s, p50/p99 latency and
server CPU time per request (utime+stime of the server and all its descendant processes from
/proc, before and after the run, divided by the requests wrk completed), plus summed socket
errors and non-2xx responses. Results: ``bench/results/<date>.md`` and ``.csv``.

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


SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("hello", "/hello", lambda b: b == b"Hello, World!"),
    Scenario("chunked", "/chunked", lambda b: len(b) == 8 * 128),
    Scenario("big", "/big", lambda b: len(b) == 1 << 20),
    Scenario("echo", "/echo", lambda b: b == b"65536", method="POST", body=b"x" * 65536,
             lua=str(BENCH / "post64k.lua")),
    Scenario("sleepy", "/sleepy", lambda b: b == b"slept"),
    Scenario("cpu", "/cpu", lambda b: b.isdigit()),
    Scenario("file", "/file", lambda b: len(b) == 1 << 20),
]}

# ------------------------------------------------------------------------------------------------
# Servers
# ------------------------------------------------------------------------------------------------


@dataclass
class ServerSpec:
    name: str
    argv: Callable[[int, Path], list[str]]
    description: str
    scenarios: list[str] | None = None  # None: all
    checks: dict[str, Callable[[bytes], bool]] = field(default_factory=dict)
    needs: Callable[[], str | None] = lambda: None  # returns why it cannot run, or None


def _need_file(path: Path) -> Callable[[], str | None]:
    return lambda: None if path.exists() else f"{path} not found"


def _nginx_argv(port: int, tmp: Path) -> list[str]:
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log stderr error;
events {{ worker_connections 4096; }}
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
    return [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(tmp), "-c", str(conf), "-e", "stderr"]


SERVERS: dict[str, ServerSpec] = {s.name: s for s in [
    ServerSpec("yimmo",
               lambda port, tmp: [str(YIMMO_BIN), "--host", HOST, "--port", str(port), "--log-level", "WARNING",
                                  "app", "app"],
               "yimmo-wsgi app app (1 Python thread)", needs=_need_file(YIMMO_BIN)),
    ServerSpec("yimmo-static",
               lambda port, tmp: [str(YIMMO_BIN), "--host", HOST, "--port", str(port), "--log-level", "WARNING",
                                  "--static-response"],
               "yimmo-wsgi --static-response (no Python; 14-byte body)", scenarios=["hello"],
               checks={"hello": lambda b: b == b"Hello, world!\n"}, needs=_need_file(YIMMO_BIN)),
    ServerSpec("bjoern",
               lambda port, tmp: [str(VENV_BIN / "python"), str(BENCH / "run_peer.py"), "bjoern", HOST, str(port)],
               "bjoern.run(app)", needs=_need_file(VENV_BIN / "python")),
    ServerSpec("fastwsgi",
               lambda port, tmp: [str(VENV_BIN / "python"), str(BENCH / "run_peer.py"), "fastwsgi", HOST, str(port)],
               "fastwsgi.run(app)", needs=_need_file(VENV_BIN / "python")),
    ServerSpec("granian",
               lambda port, tmp: [str(VENV_BIN / "granian"), "--interface", "wsgi", "--workers", "1",
                                  "--blocking-threads", "1", "--host", HOST, "--port", str(port),
                                  "--log-level", "warning", "app:app"],
               "granian --interface wsgi --workers 1 --blocking-threads 1", needs=_need_file(VENV_BIN / "granian")),
    ServerSpec("gunicorn",
               lambda port, tmp: [str(VENV_BIN / "gunicorn"), "-k", "gthread", "--threads", "1", "-w", "1",
                                  "-b", f"{HOST}:{port}", "--log-level", "warning", "app:app"],
               "gunicorn -k gthread --threads 1 -w 1", needs=_need_file(VENV_BIN / "gunicorn")),
    ServerSpec("nginx", _nginx_argv, 'nginx `return 200 "Hello, World!"` (no Python: the floor)',
               scenarios=["hello"], needs=lambda: None if shutil.which("nginx") or Path("/usr/sbin/nginx").exists()
               else "nginx not installed"),
]}

# ------------------------------------------------------------------------------------------------
# Processes
# ------------------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


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


class RunningServer:
    def __init__(self, spec: ServerSpec, tmp: Path):
        self.spec = spec
        self.port = free_port()
        self.tmp = tmp
        self.log_path = tmp / f"{spec.name}.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = str(BENCH) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.pop("VIRTUAL_ENV", None)
        env = {k: v for k, v in env.items() if not k.startswith("YIMMO_")}
        argv = ["taskset", "-c", SERVER_CORE] + spec.argv(self.port, tmp)
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


# ------------------------------------------------------------------------------------------------
# Measurement
# ------------------------------------------------------------------------------------------------


def check_response(srv: RunningServer, sc: Scenario) -> str | None:
    """None if the scenario answers correctly, else what was wrong."""
    check = srv.spec.checks.get(sc.name, sc.check)
    try:
        conn = http.client.HTTPConnection(HOST, srv.port, timeout=10)
        conn.request(sc.method, sc.path, body=sc.body or None)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
    except (OSError, http.client.HTTPException) as e:
        return f"request failed: {e!r}"
    if resp.status != 200:
        return f"status {resp.status}"
    if not check(body):
        return f"unexpected body ({len(body)} bytes: {body[:40]!r})"
    return None


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


def measure(spec: ServerSpec, scenarios: list[str], rnd: int, args, tmp: Path) -> list[Sample]:
    samples = []
    why = spec.needs()
    if why:
        return [Sample(rnd, spec.name, s, note=f"skipped: {why}") for s in scenarios]
    srv = RunningServer(spec, tmp)
    try:
        try:
            srv.wait_ready()
        except RuntimeError as e:
            return [Sample(rnd, spec.name, s, note=f"did not start: {e}") for s in scenarios]
        for name in scenarios:
            sc = SCENARIOS[name]
            sample = Sample(rnd, spec.name, name)
            samples.append(sample)
            bad = check_response(srv, sc)
            if bad:
                sample.note = f"wrong response: {bad}"
                print(f"  {spec.name:13} {name:8} {sample.note}", flush=True)
                continue
            if args.warmup > 0:
                run_wrk(srv, sc, args.warmup, args.connections)
            pids = srv.pids()
            cpu0 = cpu_seconds(pids)
            res, raw = run_wrk(srv, sc, args.duration, args.connections)
            cpu1 = cpu_seconds(pids | srv.pids())
            sample.rps, sample.p50_ms, sample.p99_ms = res["rps"], res["p50_ms"], res["p99_ms"]
            sample.requests, sample.socket_errors, sample.non_2xx = res["requests"], res["socket_errors"], res["non_2xx"]
            if res["requests"]:
                sample.cpu_us_per_req = (cpu1 - cpu0) / res["requests"] * 1e6
                sample.core_pct = (cpu1 - cpu0) / args.duration * 100
            else:
                sample.note = "wrk completed no request: " + raw.strip().replace("\n", " | ")[:300]
            if srv.proc.poll() is not None:
                sample.note = f"server exited with {srv.proc.returncode} during the run"
            print(f"  {spec.name:13} {name:8} {sample.rps or 0:10.0f} req/s  p50 {fmt(sample.p50_ms)} ms  "
                  f"p99 {fmt(sample.p99_ms)} ms  cpu {fmt(sample.cpu_us_per_req, 1)} us/req "
                  f"({fmt(sample.core_pct, 0)}% core)  "
                  f"err {sample.socket_errors}  non2xx {sample.non_2xx} {sample.note}", flush=True)
            if srv.proc.poll() is not None:
                break
    finally:
        srv.stop()
        log = srv.log()
        if log.strip():
            (tmp / f"{spec.name}-round{rnd}.log").write_text(log)
    return samples


def fmt(x, digits=2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------


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


def write_reports(samples: list[Sample], args, servers: list[str], scenarios: list[str], stem: str) -> tuple[Path, Path]:
    out_dir = BENCH / "results"
    out_dir.mkdir(exist_ok=True)
    csv_path, md_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.md"
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["round", "server", "scenario", "rps", "p50_ms", "p99_ms", "cpu_us_per_req", "core_pct",
                    "requests", "socket_errors", "non_2xx", "note"])
        for s in samples:
            w.writerow([s.round, s.server, s.scenario, fmt(s.rps, 1), fmt(s.p50_ms, 3), fmt(s.p99_ms, 3),
                        fmt(s.cpu_us_per_req, 2), fmt(s.core_pct, 1), s.requests, s.socket_errors, s.non_2xx,
                        s.note])

    lines = [f"# yimmo-wsgi benchmark {stem}", ""]
    lines += [f"- wrk: 1 thread, {args.connections} connections, {args.duration:g} s per run after a "
              f"{args.warmup:g} s warm-up, {args.rounds} interleaved round(s); medians over rounds",
              f"- server pinned to core {SERVER_CORE} (`taskset`), wrk to core {CLIENT_CORE}; loopback; "
              f"{os.cpu_count()} cores: {cpu_model()}; kernel {platform.release()}",
              "- CPU/req: user+system CPU time of the server's processes during the run / requests completed;"
              " core %: that CPU time / run time (a CPU-bound server near 100% had its core to itself)",
              f"- load average before the run: {args.load_before}",
              ""]
    lines += [f"- {k}: {v}" for k, v in versions().items()]
    lines += ["", "Servers:", ""]
    lines += [f"- **{n}**: {SERVERS[n].description}" for n in servers]
    lines.append("")
    for sc in scenarios:
        lines += [f"## {sc}", "",
                  "| server | req/s | p50 ms | p99 ms | CPU µs/req | core % | socket errors | non-2xx | note |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        rows = []
        for srv in servers:
            mine = [s for s in samples if s.server == srv and s.scenario == sc]
            if not mine:
                continue
            notes = sorted({s.note for s in mine if s.note})
            rows.append((median([s.rps for s in mine]) or 0, srv, mine, notes))
        for rps, srv, mine, notes in sorted(rows, key=lambda r: -r[0]):
            lines.append(f"| {srv} | {fmt(median([s.rps for s in mine]), 0)} | {fmt(median([s.p50_ms for s in mine]))} "
                         f"| {fmt(median([s.p99_ms for s in mine]))} | {fmt(median([s.cpu_us_per_req for s in mine]), 1)} "
                         f"| {fmt(median([s.core_pct for s in mine]), 0)} "
                         f"| {sum(s.socket_errors for s in mine)} | {sum(s.non_2xx for s in mine)} "
                         f"| {'; '.join(notes)[:200]} |")
        lines.append("")
    md_path.write_text("\n".join(lines))
    return md_path, csv_path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--servers", default=",".join(SERVERS), help=f"comma-separated, from {','.join(SERVERS)}")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated, from {','.join(SCENARIOS)}")
    ap.add_argument("--duration", type=float, default=5, help="seconds per measured wrk run (default 5)")
    ap.add_argument("--warmup", type=float, default=1, help="seconds of warm-up before each run (default 1)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported (default 3)")
    ap.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    ap.add_argument("--name", default=None, help="results file name (default: date and time)")
    args = ap.parse_args()

    servers = [s for s in args.servers.split(",") if s]
    scenarios = [s for s in args.scenarios.split(",") if s]
    for s in servers:
        if s not in SERVERS:
            ap.error(f"unknown server {s!r}")
    for s in scenarios:
        if s not in SCENARIOS:
            ap.error(f"unknown scenario {s!r}")
    if args.duration <= 0 or args.duration > 600 or args.rounds < 1:
        ap.error("--duration must be in (0, 600] and --rounds >= 1")
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run bench/run.sh, which installs it")
    if (os.cpu_count() or 1) < 2:
        print("warning: fewer than 2 cores; server and wrk share one", file=sys.stderr)

    load = os.getloadavg()
    args.load_before = " / ".join(f"{x:.2f}" for x in load) + " (1/5/15 min)"
    if load[0] > 0.5:
        print(f"warning: load average {load[0]:.2f} before the run: other work on this machine will skew "
              "req/s (CPU per request is the steadier figure)", file=sys.stderr)
    stem = args.name or datetime.datetime.now().strftime("%Y-%m-%d-%H%M")
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="yimmo-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for rnd in range(1, args.rounds + 1):
            order = servers[(rnd - 1) % len(servers):] + servers[:(rnd - 1) % len(servers)]
            print(f"round {rnd}/{args.rounds}", flush=True)
            for name in order:
                spec = SERVERS[name]
                mine = [s for s in scenarios if spec.scenarios is None or s in spec.scenarios]
                if mine:
                    samples += measure(spec, mine, rnd, args, tmp)
        md, csv_path = write_reports(samples, args, servers, scenarios, stem)
        logs = sorted(tmp.glob("*-round*.log"))
        if logs:
            log_dir = BENCH / "results" / f"{stem}-logs"
            log_dir.mkdir(exist_ok=True)
            for log in logs:
                shutil.copy(log, log_dir / log.name)
    print(f"\nwrote {md.relative_to(REPO)} and {csv_path.relative_to(REPO)}")
    print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
