"""Worker processes and their lifecycle, end to end: the supervisor, its workers, signals,
reloads, recycling, the stuck-request watchdog, and the ways of binding.

Most tests use ``--static-response`` (no Python). Those marked "needs the WSGI bridge" use
``apps/proc_app.py`` and skip while the binary still answers apps with the static page. Load is
bounded (seconds and connections), 127.0.0.1 only, with wrk when installed (.ci/run installs it)
and a Python thread pool otherwise. Only processes these tests started are signalled: a server's
workers are found as its children in /proc.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import STATIC_BODY, free_port, port_accepts, request_bytes, run_cli, server_env, yimmo_bin
from procutil import (Load, children, cmdline, comm, log_time, ready_workers, served_per_pid, unix_request,
                      wait_for, wait_workers_ready)

APPS = Path(__file__).resolve().parent / "apps"
PY_ENV = {"PYTHONPATH": str(APPS)}


def static(start_server, *args, **kwargs):
    return start_server("--static-response", *args, **kwargs)


def get(server, path="/"):
    return server.request("GET", path)


def proc_app_server(start_server, *args, env=None, **kwargs):
    """A server running apps/proc_app.py; skips the test while there is no WSGI bridge."""
    srv = start_server(*args, app="proc_app:app", env={**PY_ENV, **(env or {})}, **kwargs)
    if get(srv, "/pid").body == STATIC_BODY:
        pytest.skip("needs the WSGI bridge (this binary answers apps with the static page)")
    return srv


# ------------------------------------------------------------------------------------------------
# Several workers
# ------------------------------------------------------------------------------------------------

def test_two_workers_are_children_with_titles(start_server):
    srv = static(start_server, "--processes", "2")
    pids = wait_workers_ready(srv, 2)
    assert sorted(children(srv.pid)) == pids
    numbers = ready_workers(srv.log())
    for pid in pids:
        n = numbers[pid]
        assert cmdline(pid).startswith(f"yimmo-wsgi: worker {n}"), cmdline(pid)
        assert comm(pid) == f"yimmo-worker-{n}"
    assert sorted(numbers[p] for p in pids) == [1, 2]
    # The supervisor keeps its own command line.
    assert "--processes" in cmdline(srv.pid)


def test_two_workers_share_the_load(start_server):
    """New connections go to both workers. (Which worker takes a burst of keep-alive connections
    depends on which one the scheduler runs first; a new connection per request removes that
    luck: each arrival wakes a worker that is waiting.)"""
    srv = static(start_server, "--processes", "2")
    wait_workers_ready(srv, 2)
    result = Load(srv.host, srv.port, seconds=2, connections=16, close=True).start().result()
    assert result.requests > 0 and result.socket_errors == 0 and result.non_2xx == 0, result
    assert srv.stop() == 0, srv.log()
    served = served_per_pid(srv.log())
    assert len(served) == 2, srv.log()
    assert all(n > 0 for n in served.values()), f"each worker should have served some requests: {served}"


def test_sigttin_and_sigttou_change_the_worker_count(start_server):
    srv = static(start_server, "--processes", "2")
    first = set(wait_workers_ready(srv, 2))
    srv.send_signal(signal.SIGTTIN)
    added = set(wait_workers_ready(srv, 3)) - first
    assert len(added) == 1 and ready_workers(srv.log())[added.pop()] == 3
    srv.send_signal(signal.SIGTTOU)
    assert wait_for(lambda: len(children(srv.pid)) == 2, 5), children(srv.pid)
    assert sorted(ready_workers(srv.log())[p] for p in children(srv.pid)) == [1, 2]
    assert get(srv).status == 200
    srv.send_signal(signal.SIGTTOU)
    srv.send_signal(signal.SIGTTOU)  # never below one
    assert wait_for(lambda: len(children(srv.pid)) == 1, 5), children(srv.pid)
    time.sleep(0.3)
    assert len(children(srv.pid)) == 1
    assert srv.stop() == 0


def test_env_var_sets_the_process_count(start_server):
    srv = static(start_server, env={"YIMMO_WSGI_NO_PROC": "3"})
    assert len(wait_workers_ready(srv, 3)) == 3


def test_two_workers_answer_from_two_pids(start_server):
    """Needs the WSGI bridge: the response carries the pid of the worker that served it."""
    srv = proc_app_server(start_server, "--processes", "2")
    workers = set(wait_workers_ready(srv, 2))
    seen = set()
    # Slow requests keep one worker's only Python thread busy, so the other one gets some.
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for _ in range(5):
            seen |= set(pool.map(lambda _: int(get(srv, "/pid").body), range(16)))
            list(pool.map(lambda _: get(srv, "/sleep?0.05"), range(8)))
            if len(seen) == 2:
                break
    assert seen == workers, f"answered by {seen}, workers {workers}"
    assert get(srv, "/multiprocess").body.startswith(b"multiprocess=True")


# ------------------------------------------------------------------------------------------------
# Deaths and replacements
# ------------------------------------------------------------------------------------------------

@pytest.mark.worker_deaths_expected
def test_sigkilled_worker_under_load_is_replaced_without_refusing(start_server):
    srv = static(start_server, "--processes", "2")
    before = wait_workers_ready(srv, 2)
    load = Load(srv.host, srv.port, seconds=3, connections=16).start()
    time.sleep(1.0)
    victim = before[0]
    killed_at = time.time()
    os.kill(victim, signal.SIGKILL)
    replaced = wait_workers_ready(srv, 2, exclude={victim}, timeout=5)
    result = load.result()
    assert victim not in replaced
    # Connections on the killed worker may be reset; a new connection is never refused.
    assert result.connect_errors == 0, result
    assert result.requests > 0 and result.non_2xx == 0, result
    lines = srv.log().splitlines()
    death = next(ln for ln in lines if f"pid {victim})" in ln and "SIGKILL" in ln)
    assert "replaced by pid" in death and "ERROR" in death, death
    successor = int(death.rsplit("replaced by pid ", 1)[1].split()[0])
    ready = next(ln for ln in lines if f"(pid {successor}) is ready" in ln)
    forked_ms = (log_time(death) - killed_at) * 1000
    ready_ms = (log_time(ready) - killed_at) * 1000
    print(f"\nSIGKILL -> replacement forked {forked_ms:.0f} ms, accepting {ready_ms:.0f} ms; load meanwhile: {result}")
    assert ready_ms < 2000, f"replacement took {ready_ms:.0f} ms"
    assert get(srv).status == 200


@pytest.mark.worker_deaths_expected
def test_only_worker_killed_listening_socket_keeps_answering(start_server):
    """With one worker and none alive for a moment, connections wait in the shared backlog."""
    srv = static(start_server)
    (victim,) = wait_workers_ready(srv, 1)
    os.kill(victim, signal.SIGKILL)
    for _ in range(20):
        assert get(srv).status == 200  # never ECONNREFUSED
    assert wait_workers_ready(srv, 1, exclude={victim})


@pytest.mark.worker_deaths_expected
def test_worker_exiting_mid_request_is_replaced(start_server):
    """Needs the WSGI bridge: os._exit in the application."""
    srv = proc_app_server(start_server)
    (victim,) = wait_workers_ready(srv, 1)
    with pytest.raises(AssertionError):
        get(srv, "/exit")  # the connection dies with the worker
    wait_workers_ready(srv, 1, exclude={victim})
    assert "exited with status 1" in srv.log()
    assert get(srv, "/pid").status == 200


@pytest.mark.worker_deaths_expected
def test_crashing_at_start_backs_off_and_never_gives_up(start_server, tmp_path):
    """Needs the WSGI bridge. A reload whose workers die at import: the old worker keeps
    serving, restarts slow down, and once the cause is gone the reload completes."""
    marker = tmp_path / "crash"
    srv = proc_app_server(start_server, env={"PROC_APP_CRASH_MARKER": str(marker)})
    (old,) = wait_workers_ready(srv, 1)
    marker.write_text("x")
    srv.send_signal(signal.SIGHUP)
    assert srv.wait_for_log("failed starts in a row", timeout=5), srv.log()
    assert int(get(srv, "/pid").body) == old  # still served by the old generation
    delays = [ln for ln in srv.log().splitlines() if "restarting it in" in ln]
    assert delays, srv.log()
    marker.unlink()
    (new,) = wait_workers_ready(srv, 1, exclude={old}, timeout=15)
    assert wait_for(lambda: old not in children(srv.pid), 5)
    assert int(get(srv, "/pid").body) == new


# ------------------------------------------------------------------------------------------------
# Stopping
# ------------------------------------------------------------------------------------------------

def test_sigterm_stops_supervisor_and_workers(start_server):
    srv = static(start_server, "--processes", "2")
    workers = wait_workers_ready(srv, 2)
    assert srv.stop(signal.SIGTERM, timeout=5) == 0, srv.log()
    for pid in workers:
        assert wait_for(lambda: not Path(f"/proc/{pid}").exists(), 2), f"worker {pid} outlived the supervisor"
    assert not port_accepts(srv.host, srv.port)


def test_sigterm_finishes_a_two_second_request_then_exits_0(start_server):
    """Needs the WSGI bridge."""
    srv = proc_app_server(start_server, "--graceful-timeout", "10")
    c = srv.connect(timeout=10)
    try:
        c.send(request_bytes("GET", "/sleep?2"))
        time.sleep(0.3)
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        resp = c.read_response()
        assert resp.status == 200 and resp.body == b"slept 2.0", resp
        assert resp.has_token("Connection", "close"), resp
        assert srv.wait(5) == 0, srv.log()
        assert 1.0 < time.monotonic() - t0 < 5
        assert not port_accepts(srv.host, srv.port)
    finally:
        c.close()


def test_graceful_timeout_kills_what_is_left(start_server):
    """Needs the WSGI bridge."""
    srv = proc_app_server(start_server, "--graceful-timeout", "1")
    c = srv.connect(timeout=10)
    try:
        c.send(request_bytes("GET", "/sleep?30"))
        time.sleep(0.3)
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        assert srv.wait(6) == 0, srv.log()
        assert time.monotonic() - t0 < 4
    finally:
        c.close()


def test_supervisor_killed_workers_follow(start_server):
    srv = static(start_server, "--processes", "2")
    workers = wait_workers_ready(srv, 2)
    srv.stop(signal.SIGKILL)
    for pid in workers:
        assert wait_for(lambda: not Path(f"/proc/{pid}").exists(), 5), f"worker {pid} outlived a killed supervisor"


# ------------------------------------------------------------------------------------------------
# Reload
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("processes", [1, 2])
def test_sighup_under_load_loses_no_request(start_server, processes):
    srv = static(start_server, "--processes", str(processes))
    first = set(wait_workers_ready(srv, processes))
    load = Load(srv.host, srv.port, seconds=4, connections=50).start()
    time.sleep(1.0)
    srv.send_signal(signal.SIGHUP)
    second = set(wait_workers_ready(srv, processes, exclude=first))
    assert wait_for(lambda: not (first & set(children(srv.pid))), 5), "old workers did not stop"
    time.sleep(0.5)
    srv.send_signal(signal.SIGHUP)
    third = set(wait_workers_ready(srv, processes, exclude=first | second))
    result = load.result()
    print(f"\nreload under load (--processes {processes}, 2 SIGHUPs): {result}")
    assert result.requests > 1000, result
    assert result.socket_errors == 0, result
    assert result.non_2xx == 0, result
    assert wait_for(lambda: set(children(srv.pid)) == third, 5), srv.log()
    assert srv.stop() == 0


def test_sighup_reimports_the_application(start_server, tmp_path):
    """Needs the WSGI bridge."""
    version = tmp_path / "version"
    version.write_text("one")
    srv = proc_app_server(start_server, "--processes", "2", env={"PROC_APP_VERSION_FILE": str(version)})
    old = set(wait_workers_ready(srv, 2))
    assert get(srv, "/version").body == b"one"
    version.write_text("two")
    load = Load(srv.host, srv.port, path="/version", seconds=3, connections=16).start()
    time.sleep(0.5)
    srv.send_signal(signal.SIGHUP)
    wait_workers_ready(srv, 2, exclude=old)
    assert wait_for(lambda: not (old & set(children(srv.pid))), 5)
    result = load.result()
    print(f"\nreload of a Python app under load: {result}")
    assert result.socket_errors == 0 and result.non_2xx == 0, result
    assert get(srv, "/version").body == b"two"


# ------------------------------------------------------------------------------------------------
# Recycling and the watchdog
# ------------------------------------------------------------------------------------------------

def test_max_requests_recycles_the_worker(start_server):
    srv = static(start_server, "--max-requests", "20")
    (first,) = wait_workers_ready(srv, 1)
    for _ in range(50):
        assert get(srv).status == 200
    assert wait_for(lambda: srv.log().count("reached --max-requests") >= 2, 5), srv.log()
    assert first not in children(srv.pid)
    served = served_per_pid(srv.log())
    assert served.get(first) == 20, served


def test_max_requests_under_load_loses_no_request(start_server):
    srv = static(start_server, "--processes", "2", "--max-requests", "2000", "--max-requests-jitter", "500")
    wait_workers_ready(srv, 2)
    result = Load(srv.host, srv.port, seconds=3, connections=32).start().result()
    recycles = srv.log().count("reached --max-requests")
    print(f"\nrecycling under load ({recycles} recycles): {result}")
    assert recycles >= 2, srv.log()
    assert result.socket_errors == 0 and result.non_2xx == 0, result


def test_max_requests_last_response_says_close(start_server):
    srv = static(start_server, "--max-requests", "5")
    wait_workers_ready(srv, 1)
    with srv.connect() as c:
        for i in range(5):
            c.send(request_bytes("GET", f"/{i}"))
            resp = c.read_response()
            assert resp.status == 200
            assert resp.has_token("Connection", "close") == (i == 4), (i, resp)
        c.assert_eof(timeout=3)
    assert get(srv).status == 200


def test_max_requests_jitter(start_server):
    srv = static(start_server, "--max-requests", "10", "--max-requests-jitter", "5",
                 env={"YIMMO_LOG_LEVEL": "INFO"})
    wait_workers_ready(srv, 1)
    for _ in range(80):
        assert get(srv).status == 200
    srv.stop()
    served = list(served_per_pid(srv.log()).values())  # in exit order: the last one was stopped
    assert len(served) >= 5, served
    assert all(10 <= n <= 15 for n in served[:-1]), served
    assert len(set(served[:-1])) > 1, f"jitter should vary the limits: {served}"


def test_env_max_requests(start_server):
    srv = static(start_server, env={"YIMMO_WSGI_MAX_REQUESTS": "3"})
    wait_workers_ready(srv, 1)
    for _ in range(7):
        assert get(srv).status == 200
    assert wait_for(lambda: srv.log().count("reached --max-requests") >= 2, 5), srv.log()


@pytest.mark.worker_deaths_expected
def test_timeout_replaces_a_stuck_worker(start_server):
    """Needs the WSGI bridge."""
    srv = proc_app_server(start_server, "--timeout", "1", "--processes", "2")
    before = set(wait_workers_ready(srv, 2))
    c = srv.connect(timeout=10)
    try:
        c.send(request_bytes("GET", "/sleep?30"))
        assert srv.wait_for_log("longer than --timeout", timeout=5), srv.log()
        line = next(ln for ln in srv.log().splitlines() if "longer than --timeout" in ln)
        assert '"GET /sleep?30"' in line, line
        with pytest.raises(AssertionError):
            c.read_response()  # the worker was killed with the request
    finally:
        c.close()
    wait_workers_ready(srv, 2, exclude=before - set(children(srv.pid)))
    assert len(children(srv.pid)) == 2
    assert get(srv, "/pid").status == 200


def test_timeout_spares_a_busy_but_healthy_worker(start_server):
    """Needs the WSGI bridge: many short overlapping requests never look stuck."""
    srv = proc_app_server(start_server, "--timeout", "1", "--threads", "4")
    (pid,) = wait_workers_ready(srv, 1)
    result = Load(srv.host, srv.port, path="/sleep?0.05", seconds=3, connections=8).start().result()
    assert result.socket_errors == 0 and result.non_2xx == 0, result
    assert children(srv.pid) == [pid]
    assert "longer than --timeout" not in srv.log()


# ------------------------------------------------------------------------------------------------
# Binding
# ------------------------------------------------------------------------------------------------

def _unix_ready(path: str, timeout: float = 10) -> None:
    def ok():
        try:
            return unix_request(path).startswith(b"HTTP/1.1 200")
        except OSError:
            return False
    assert wait_for(ok, timeout), f"nothing answers on {path}"


def test_unix_socket_bind_with_mode(start_server, tmp_path):
    path = str(tmp_path / "yimmo.sock")
    srv = static(start_server, "--bind", f"unix:{path}:600", bind_flags=False, port=free_port(), wait=False)
    _unix_ready(path)
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert unix_request(path).endswith(STATIC_BODY)
    assert srv.stop() == 0
    assert not os.path.exists(path), "the socket file is removed at exit"


def test_unix_socket_replaces_a_stale_file_but_not_a_live_one(start_server, tmp_path):
    path = str(tmp_path / "stale.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # leaves the file behind, as a crashed server does
    srv = static(start_server, "--bind", f"unix:{path}", bind_flags=False, port=free_port(), wait=False)
    _unix_ready(path)
    r = run_cli("--static-response", "--bind", f"unix:{path}")
    assert r.returncode not in (0, None) and len(r.lines_with("FATAL")) == 1, r.output
    assert "another server" in r.output
    assert unix_request(path).endswith(STATIC_BODY)
    srv.stop()


def test_tcp_and_unix_and_ipv6_at_once(start_server, tmp_path):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    path = str(tmp_path / "multi.sock")
    v6 = free_port("127.0.0.1")
    srv = static(start_server, "--bind", f"unix:{path}", "--bind", f"[::1]:{v6}")
    assert get(srv).status == 200  # --host/--port given explicitly: bound as well
    _unix_ready(path)
    with socket.create_connection(("::1", v6), timeout=5) as s:
        s.sendall(request_bytes("GET", "/", headers=[("Connection", "close")]))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(STATIC_BODY)
    line = next(ln for ln in srv.log().splitlines() if "listening on" in ln)
    assert f"http://[::1]:{v6}" in line and f"unix:{path}" in line, line


def test_ipv6_any_and_ipv4_any_share_a_port(start_server):
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    port = free_port()
    srv = static(start_server, "--bind", f"0.0.0.0:{port}", "--bind", f"[::]:{port}",
                 bind_flags=False, port=port)
    assert get(srv).status == 200
    with socket.create_connection(("::1", port), timeout=5) as s:
        s.sendall(request_bytes("GET", "/", headers=[("Connection", "close")]))
        assert s.recv(12) == b"HTTP/1.1 200"


def test_env_bind_list(start_server, tmp_path):
    a, b = free_port(), free_port()
    srv = static(start_server, bind_flags=False, port=a,
                 env={"YIMMO_WSGI_BIND": f"127.0.0.1:{a}, 127.0.0.1:{b}"})
    assert get(srv).status == 200
    assert port_accepts("127.0.0.1", b)


def _spawn_with_listener(args, sock: socket.socket, systemd: bool, log_path: Path) -> subprocess.Popen:
    """Starts the binary with ``sock`` inherited: as fd://N, or as systemd fd 3 with LISTEN_*."""
    fd = sock.fileno()
    if systemd:
        # LISTEN_PID must be the server's own pid: a wrapper puts the socket on fd 3, sets the
        # variables to its own pid and execs the server in its place.
        wrapper = ("import os, sys; os.dup2(int(sys.argv[1]), 3); "
                   "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1'); "
                   "os.execv(sys.argv[2], sys.argv[2:])")
        argv = [sys.executable, "-c", wrapper, str(fd), yimmo_bin(), *args]
    else:
        argv = [yimmo_bin(), *args]
    log = open(log_path, "wb")
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=server_env(None), pass_fds=(fd,))
    finally:
        log.close()


@pytest.mark.parametrize("how", ["fd", "systemd"])
def test_inherited_listening_socket(tmp_path, how):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    args = ["--static-response", "--processes", "2"]
    if how == "fd":
        args += ["--bind", f"fd://{listener.fileno()}"]
    log_path = tmp_path / "server.log"
    proc = _spawn_with_listener(args, listener, systemd=(how == "systemd"), log_path=log_path)
    listener.close()  # only the server holds it now
    try:
        assert wait_for(lambda: port_accepts("127.0.0.1", port) or proc.poll() is not None, 10)
        assert proc.poll() is None, log_path.read_text()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(request_bytes("GET", "/", headers=[("Connection", "close")]))
            assert s.recv(12) == b"HTTP/1.1 200"
        log = log_path.read_text()
        assert f"127.0.0.1:{port} ({'fd://' if how == 'fd' else 'systemd fd 3'}" in log, log
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0, log_path.read_text()


def test_fd_that_is_not_a_listening_socket_is_fatal(tmp_path):
    r = run_cli("--static-response", "--bind", "fd://0")
    assert r.returncode not in (0, None) and len(r.lines_with("FATAL")) == 1, r.output
    assert "fd://0" in r.output


def test_systemd_without_activation_is_fatal():
    r = run_cli("--static-response", "--bind", "systemd")
    assert r.returncode not in (0, None) and len(r.lines_with("FATAL")) == 1, r.output


# ------------------------------------------------------------------------------------------------
# Pid file and flags
# ------------------------------------------------------------------------------------------------

def test_pid_file_written_and_removed(start_server, tmp_path):
    pid_file = tmp_path / "yimmo.pid"
    srv = static(start_server, "--pid", str(pid_file))
    assert pid_file.read_text().strip() == str(srv.pid)
    r = run_cli("--static-response", "--port", str(free_port()), "--pid", str(pid_file))
    assert r.returncode not in (0, None) and len(r.lines_with("FATAL")) == 1, r.output
    assert "is another server using it" in r.output
    assert srv.stop() == 0
    assert not pid_file.exists()


def test_stale_pid_file_is_replaced(start_server, tmp_path):
    pid_file = tmp_path / "yimmo.pid"
    pid_file.write_text("999999999\n")
    srv = static(start_server, env={"YIMMO_WSGI_PID_FILE": str(pid_file)})
    assert pid_file.read_text().strip() == str(srv.pid)


PROCESS_FLAGS = [
    ("--processes", "YIMMO_WSGI_NO_PROC"),
    ("--bind", "YIMMO_WSGI_BIND"),
    ("--pid", "YIMMO_WSGI_PID_FILE"),
    ("--max-requests", "YIMMO_WSGI_MAX_REQUESTS"),
    ("--max-requests-jitter", "YIMMO_WSGI_MAX_REQUESTS_JITTER"),
    ("--timeout", "YIMMO_WSGI_TIMEOUT"),
    ("--graceful-timeout", "YIMMO_WSGI_GRACEFUL_TIMEOUT"),
]


def test_help_names_process_flags_and_env_vars():
    r = run_cli("--help")
    assert r.returncode == 0, r.output
    flat = " ".join(r.output.split())
    for flag, env in PROCESS_FLAGS:
        assert flag in flat and env in flat, f"{flag}/{env} missing from --help"


@pytest.mark.parametrize("args", [
    ["--processes", "0"], ["--processes", "two"], ["--max-requests=-1"],
    ["--max-requests-jitter", "x"], ["--timeout", "soon"], ["--timeout=-3"],
    ["--bind", "nonsense"], ["--bind", "[::1]"], ["--bind", "127.0.0.1:99999"],
], ids=lambda a: " ".join(a))
def test_bad_process_flag_is_fatal(args):
    r = run_cli("--static-response", *args)
    assert not r.timed_out and r.returncode not in (0, None), r.output
    assert len(r.lines_with("FATAL")) == 1, r.output


@pytest.mark.parametrize("env", [
    {"YIMMO_WSGI_NO_PROC": "many"}, {"YIMMO_WSGI_BIND": "localhost"}, {"YIMMO_WSGI_TIMEOUT": "x"},
    {"YIMMO_WSGI_MAX_REQUESTS": "1.5"},
], ids=lambda e: next(iter(e)))
def test_bad_process_env_is_fatal(env):
    r = run_cli("--static-response", env=env)
    assert not r.timed_out and r.returncode not in (0, None), r.output
    assert len(r.lines_with("FATAL")) == 1, r.output
