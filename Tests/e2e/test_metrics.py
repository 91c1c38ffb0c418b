"""--metrics-bind: Prometheus metrics served by the supervisor, summed over its workers.

Each scrape is parsed with prometheus_client's text-format parser (and a few stricter checks of
our own: HELP and TYPE for every family, cumulative buckets, +Inf equal to _count). Requests go
to ``apps/metrics_app.py`` (statuses on demand, slow requests) or the static page.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness import free_port, port_accepts, recv_until_eof, run_cli
from procutil import wait_for, wait_workers_ready

APPS = Path(__file__).resolve().parent / "apps"
PY_ENV = {"PYTHONPATH": str(APPS)}
CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------

class Scrape:
    """One parsed scrape: ``value(name, **labels)``, ``requests(cls)``, ``buckets()``."""

    def __init__(self, text: str):
        self.text = text
        self.samples: dict[tuple[str, frozenset], float] = {}
        self.types: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        return self.samples[(name, frozenset(labels.items()))]

    def requests(self, cls: str) -> int:
        return int(self.value("yimmo_requests_total", **{"class": cls}))

    @property
    def total(self) -> int:
        return sum(int(v) for (name, _), v in self.samples.items() if name == "yimmo_requests_total")

    def buckets(self) -> list[tuple[float, int]]:
        found = [(float(dict(labels)["le"]), int(v)) for (name, labels), v in self.samples.items()
                 if name == "yimmo_request_duration_seconds_bucket"]
        return sorted(found)

    def bucket(self, le: float) -> int:
        return dict(self.buckets())[le]

    @property
    def count(self) -> int:
        return int(self.value("yimmo_request_duration_seconds_count"))

    @property
    def gauges(self) -> dict[str, int]:
        return {name: int(self.value(f"yimmo_{name}")) for name in
                ("requests_in_flight", "connections_open", "queue_depth", "workers")}


def check_format(text: str) -> None:
    """What the parser forgives: every sample's family has HELP and TYPE first, once each; the
    histogram's buckets are cumulative and end with +Inf == _count."""
    helped, typed = set(), {}
    for line in text.splitlines():
        assert line and not line.startswith(" "), f"blank or indented line in {text!r}"
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert name not in helped, f"HELP twice for {name}"
            helped.add(name)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name not in typed, f"TYPE twice for {name}"
            typed[name] = kind
        else:
            name = line.split("{")[0].split(" ")[0]
            family = next((f for f in typed if name == f or (typed[f] == "histogram" and name in
                           (f + "_bucket", f + "_sum", f + "_count"))), None)
            assert family, f"sample {line!r} before its TYPE"
            assert family in helped, f"no HELP for {family}"
    assert typed == {
        "yimmo_requests_total": "counter", "yimmo_request_duration_seconds": "histogram",
        "yimmo_requests_in_flight": "gauge", "yimmo_connections_open": "gauge", "yimmo_queue_depth": "gauge",
        "yimmo_workers": "gauge", "yimmo_worker_restarts_total": "counter"}, typed
    scrape = Scrape(text)
    buckets = scrape.buckets()
    assert buckets[-1][0] == float("inf")
    counts = [n for _, n in buckets]
    assert counts == sorted(counts), f"buckets not cumulative: {buckets}"
    assert counts[-1] == scrape.count
    assert scrape.value("yimmo_request_duration_seconds_sum") >= 0


def fetch(port: int, path: str = "/metrics", method: str = "GET", timeout: float = 3.0):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def scrape(port: int) -> Scrape:
    status, headers, body = fetch(port)
    assert status == 200, (status, body)
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    assert headers["Connection"] == "close"
    text = body.decode()
    check_format(text)
    return Scrape(text)


def wait_scrape(port: int, predicate, timeout: float = 5.0) -> Scrape:
    """Scrape until ``predicate(scrape)`` holds; returns that scrape (asserts it does in time)."""
    last = None

    def attempt():
        nonlocal last
        last = scrape(port)
        return predicate(last)
    assert wait_for(attempt, timeout, interval=0.05), f"condition never held; last scrape:\n{last.text if last else ''}"
    return last


def metrics_server(start_server, *args, app: str | None = "metrics_app:app", **kwargs):
    """A server with --metrics-bind on a free port; returns (server, metrics port)."""
    port = free_port()
    extra = ("--static-response",) if app is None else ()
    srv = start_server(*extra, "--metrics-bind", f"127.0.0.1:{port}", *args, app=app,
                       env={**PY_ENV, **kwargs.pop("env", {})}, **kwargs)
    assert wait_for(lambda: port_accepts("127.0.0.1", port), 5), srv.log()
    return srv, port


def get(srv, path: str):
    return srv.request("GET", path)


def listening_ports(pid: int) -> set[int]:
    """TCP ports a process listens on (its socket descriptors matched against /proc/net/tcp*)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


# ------------------------------------------------------------------------------------------------
# Configuration
# ------------------------------------------------------------------------------------------------

def test_off_by_default_nothing_else_listens(start_server):
    srv = start_server("--static-response", "--processes", "2")
    workers = wait_workers_ready(srv, 2)
    for pid in [srv.pid, *workers]:
        assert listening_ports(pid) == {srv.port}, pid
    assert "metrics" not in srv.log().lower()


@pytest.mark.parametrize("value", ["nope", "9100", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:-1", "unix:/tmp/m.sock",
                                   "fd://3", "systemd", "::1:9100", "[::1]"])
def test_invalid_metrics_bind_is_fatal(value):
    for args, env, name in (((f"--metrics-bind={value}",), None, "--metrics-bind"),
                            ((), {"YIMMO_WSGI_METRICS_BIND": value}, "YIMMO_WSGI_METRICS_BIND")):
        res = run_cli("--static-response", "--port", "0", *args, env=env)
        assert res.returncode not in (0, None), res.output
        fatal = res.lines_with("FATAL")
        assert len(fatal) == 1 and f"invalid {name} '{value}'" in fatal[0], res.output


def test_metrics_port_in_use_is_fatal():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = run_cli("--static-response", "--host", "127.0.0.1", "--port", "0", "--metrics-bind", f"127.0.0.1:{port}")
    assert res.returncode == 1, res.output
    fatal = res.lines_with("FATAL")
    assert len(fatal) == 1 and "metrics endpoint" in fatal[0] and str(port) in fatal[0], res.output


def test_env_var_turns_it_on_and_the_port_belongs_to_the_supervisor(start_server):
    port = free_port()
    srv = start_server("--static-response", "--processes", "2", env={"YIMMO_WSGI_METRICS_BIND": f"127.0.0.1:{port}"})
    workers = wait_workers_ready(srv, 2)
    assert f"metrics for Prometheus at http://127.0.0.1:{port}/metrics" in srv.log()
    assert listening_ports(srv.pid) == {srv.port, port}
    for pid in workers:
        assert listening_ports(pid) == {srv.port}, "workers close their copy of the metrics socket"
    s = wait_scrape(port, lambda s: s.gauges["workers"] == 2)
    assert s.total == 0 and s.count == 0


# ------------------------------------------------------------------------------------------------
# Counting
# ------------------------------------------------------------------------------------------------

def test_counts_by_class_summed_over_two_processes(start_server):
    """N responses of each of 200, 404 and 500, spread over both workers: the scrape counts N per
    class, the histogram counts them all, and its own requests are not counted."""
    srv, port = metrics_server(start_server, "--processes", "2", "--threads", "1")
    wait_workers_ready(srv, 2)
    n = 20
    served_by = set()
    sent = {"2xx": 0, "4xx": 0, "5xx": 0}

    def one(path):
        resp = get(srv, path)
        return resp.status, int(resp.header("X-Worker-Pid"))

    # Concurrent slow-ish requests: a worker busy with its one thread leaves new connections to
    # the other, so both serve some.
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        for code, cls in ((200, "2xx"), (404, "4xx"), (500, "5xx")):
            for status, pid in pool.map(one, [f"/status/{code}"] * n):
                assert status == code
                served_by.add(pid)
                sent[cls] += 1
        for _ in range(20):
            if len(served_by) == 2:
                break
            for status, pid in pool.map(one, ["/sleep?0.05"] * 6):
                assert status == 200
                served_by.add(pid)
                sent["2xx"] += 1
    assert len(served_by) == 2, f"only {served_by} served"
    s = wait_scrape(port, lambda s: s.gauges["connections_open"] == 0)
    assert {cls: s.requests(cls) for cls in CLASSES} == {"1xx": 0, **sent, "3xx": 0}
    assert s.count == s.total == sum(sent.values())
    assert s.value("yimmo_request_duration_seconds_sum") > 0
    assert s.gauges == {"requests_in_flight": 0, "connections_open": 0, "queue_depth": 0, "workers": 2}
    assert s.value("yimmo_worker_restarts_total") == 0
    again = scrape(port)
    assert again.total == s.total, "scrapes are not requests"


def test_server_refusals_count_as_4xx(start_server):
    srv, port = metrics_server(start_server, app=None)
    with srv.connect() as c:
        c.send(b"GARBAGE\r\n\r\n")
        assert c.read_response().status == 400
    assert get(srv, "/").status == 200
    s = wait_scrape(port, lambda s: s.total == 2)
    assert (s.requests("2xx"), s.requests("4xx"), s.count) == (1, 1, 2)


def test_in_flight_queue_and_connections_while_requests_run(start_server):
    """One process, one thread, three slow requests at once: one runs, two wait in the queue."""
    srv, port = metrics_server(start_server, "--threads", "1")
    results = []

    def slow():
        results.append(get(srv, "/sleep?0.6").status)
    threads = [threading.Thread(target=slow) for _ in range(3)]
    for t in threads:
        t.start()
    # The worker thread takes up the first request at once; the other two wait 0.6 s each.
    s = wait_scrape(port, lambda s: s.gauges["requests_in_flight"] == 3 and s.gauges["queue_depth"] == 2)
    assert s.gauges["connections_open"] == 3
    for t in threads:
        t.join(10)
    assert results == [200, 200, 200]
    s = wait_scrape(port, lambda s: s.gauges["connections_open"] == 0)
    assert s.gauges == {"requests_in_flight": 0, "connections_open": 0, "queue_depth": 0, "workers": 1}
    # Run one after another: about 0.6, 1.2 and 1.8 s.
    assert s.requests("2xx") == 3 and s.count == 3
    assert s.bucket(0.5) == 0 and s.bucket(2.5) == 3
    assert 3.4 <= s.value("yimmo_request_duration_seconds_sum") < 6


@pytest.mark.worker_deaths_expected
def test_killed_worker_counts_a_restart_and_totals_never_go_back(start_server):
    srv, port = metrics_server(start_server, "--processes", "2", "--threads", "1")
    wait_workers_ready(srv, 2)
    by_pid: dict[int, int] = {}
    for _ in range(30):
        resp = get(srv, "/status/201")
        by_pid[int(resp.header("X-Worker-Pid"))] = by_pid.get(int(resp.header("X-Worker-Pid")), 0) + 1
    before = wait_scrape(port, lambda s: s.total == 30)
    victim = max(by_pid, key=by_pid.get)  # one that served some: its counters must survive it
    os.kill(victim, signal.SIGKILL)
    after = wait_scrape(port, lambda s: s.value("yimmo_worker_restarts_total") == 1 and s.gauges["workers"] == 2)
    assert after.requests("2xx") == before.requests("2xx") == 30
    assert after.count == 30 and after.buckets() == before.buckets()
    assert after.value("yimmo_request_duration_seconds_sum") == before.value("yimmo_request_duration_seconds_sum")
    wait_workers_ready(srv, 2, exclude={victim})
    for _ in range(10):
        assert get(srv, "/").status == 200
    s = wait_scrape(port, lambda s: s.total == 40)
    assert s.count == 40 and s.value("yimmo_worker_restarts_total") == 1


def test_recycled_and_reloaded_workers_keep_their_counts_and_are_no_restarts(start_server):
    srv, port = metrics_server(start_server, "--max-requests", "5", app=None)
    for i in range(12):
        assert get(srv, "/").status == 200, i
    s = wait_scrape(port, lambda s: s.total == 12)
    assert s.count == 12
    assert wait_for(lambda: srv.log().count("reached --max-requests") >= 2, 5), srv.log()
    srv.send_signal(signal.SIGHUP)
    srv.exit_expected = False
    assert srv.wait_for_log("old worker(s) drain and stop", 10), srv.log()
    for _ in range(2):
        assert get(srv, "/").status == 200
    s = wait_scrape(port, lambda s: s.total == 14)
    assert s.value("yimmo_worker_restarts_total") == 0 and s.gauges["workers"] >= 1


# ------------------------------------------------------------------------------------------------
# The endpoint
# ------------------------------------------------------------------------------------------------

def raw(port: int, data: bytes, timeout: float = 3.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return recv_until_eof(s)


def test_endpoint_answers_404_405_400_and_head(start_server):
    srv, port = metrics_server(start_server, app=None)
    status, _, body = fetch(port, "/")
    assert status == 404 and b"/metrics" in body
    assert fetch(port, "/metrics/x")[0] == 404
    status, headers, _ = fetch(port, "/metrics", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert fetch(port, "/metrics?name[]=yimmo_workers")[0] == 200
    status, headers, body = fetch(port, "/metrics", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 500
    for garbage in (b"hello\r\n\r\n", b"GET /metrics HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\n",
                    b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
                    b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 5000 + b"\r\n\r\n"):
        answer = raw(port, garbage)
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"Connection: close\r\n" in answer, garbage[:40]
    answer = raw(port, b"GET /metrics HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\n")
    assert srv.is_running()


def test_stalled_clients_never_block_the_supervisor(start_server):
    """Clients that connect and send nothing (or half a head): scrapes are still answered at
    once, signals still handled, and the stalled connections are closed within seconds."""
    srv, port = metrics_server(start_server, app=None)
    stalled = []
    for i in range(20):  # more than the endpoint keeps at once
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if i % 2:
            s.sendall(b"GET /metr")
        stalled.append(s)
    try:
        t0 = time.monotonic()
        s = scrape(port)
        assert time.monotonic() - t0 < 1.0
        assert s.gauges["workers"] == 1
        srv.send_signal(signal.SIGTTIN)
        srv.exit_expected = False
        wait_workers_ready(srv, 2)
        wait_scrape(port, lambda s: s.gauges["workers"] == 2, timeout=2)
        # Every stalled connection is closed by the server (evicted or timed out after 3 s).
        for s in stalled:
            s.settimeout(6)
            assert s.recv(100) == b""
    finally:
        for s in stalled:
            s.close()
    assert srv.stop() == 0
    assert not port_accepts("127.0.0.1", port), "the supervisor closed the metrics socket"


def test_client_connected_across_a_fork_still_sees_its_close(start_server):
    """A worker forked while a metrics client is connected must not hold the connection open."""
    srv, port = metrics_server(start_server, app=None)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        srv.send_signal(signal.SIGTTIN)  # forks a worker while `c` is open in the supervisor
        srv.exit_expected = False
        wait_workers_ready(srv, 2)
        c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        data = recv_until_eof(c)
        assert data.startswith(b"HTTP/1.1 200 OK") and b"yimmo_workers 2\n" in data
