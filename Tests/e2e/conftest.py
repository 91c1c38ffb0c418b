"""pytest harness for yimmo-wsgi end-to-end tests: the real binary, real sockets, real clients.

Run everything with ``bash ci/test.sh``; just these tests (after ``swift build -c release``) with
``.venv/bin/python -m pytest Tests/e2e -q``. The binary is ``$YIMMO_BIN`` if set, else
``<repo>/.build/release/yimmo-wsgi``. Every test has a 60 s pytest-timeout backstop (pytest.ini)
and every socket read its own timeout, so nothing hangs.

Fixtures
--------
``start_server(*args, env=None, cwd=None, app=None, host="127.0.0.1", port=None,
bind_flags=True, wait=True, ready_timeout=10) -> Server``
    Starts ``yimmo-wsgi --host HOST --port PORT *args [APP]`` and, with ``wait``, returns once
    the port accepts connections (raises ``ServerStartError`` with the server's log if it exits
    or is not ready within ``ready_timeout`` s). Stopped at the end of the test (SIGTERM, 10 s,
    then SIGKILL; only the PID it started).

    - ``args``: extra flags, e.g. ``"--idle-timeout", "1"`` or ``"--static-response"``.
    - ``app``: ``"module:callable"`` (one argument) or ``("module", "callable")`` (two),
      appended after the flags. Modules in ``Tests/e2e/apps/`` are importable: PYTHONPATH is
      ``env["PYTHONPATH"]`` (if given) + ``Tests/e2e/apps`` + the inherited PYTHONPATH.
    - ``env``: variables added to the server's environment. Inherited ``YIMMO_*`` variables are
      removed first, so tests are hermetic. If pytest runs in a venv (``.venv``) and ``env`` has
      no VIRTUAL_ENV, VIRTUAL_ENV is set to it, so apps can import the test requirements.
    - ``port``: fixed port (default: a free one, retried if another process grabs it first).
    - ``bind_flags=False``: do not pass ``--host``/``--port`` (to test YIMMO_WSGI_PORT etc.);
      pass ``port=`` so the harness knows where to poll.
    - ``wait=False``: return right after spawning (for tests of startup failures); such a
      server's exit is the caller's to check (``.wait(t)``, ``.returncode``), not a crash.

``start_module_server`` (module scope)
    The same factory, but its servers live until the end of the test module. For module
    fixtures: ``@pytest.fixture(scope="module")
    def idle_server(start_module_server): return start_module_server("--idle-timeout", "1")``.

``static_server`` (module scope, parametrized: ``[epoll]`` and ``[select]``) -> Server
    One ``--static-response --poller P`` server shared by a test module, for each readiness
    backend (so each test using it runs twice): every request gets
    ``200``, ``Content-Type: text/plain``, body ``Hello, world!\\n`` (``harness.STATIC_BODY``).

``connect(server, timeout=5) -> RawConnection`` (function fixture, closes at teardown)
    Same as ``server.connect()`` but closed for you.

``run_cli(*args, env=None, timeout=10) -> CLIResult``  (plain function, importable)
    Runs the binary to completion; ``.returncode`` (None if it had to be killed after ``timeout``),
    ``.stdout``, ``.stderr``, ``.output``, ``.lines_with("FATAL")``.

``Server``
    ``.host``, ``.port``, ``.pid``, ``.proc`` (Popen), ``.argv``, ``.url(path)``, ``.log()``
    (stderr so far), ``.wait_for_log(text, timeout)``, ``.is_running()``, ``.returncode``,
    ``.connect()``, ``.request(method, path, headers, body, version)`` (one request on a fresh
    ``Connection: close`` socket), ``.send_signal(sig)``, ``.wait(timeout)``,
    ``.stop(sig=SIGTERM, timeout=10) -> returncode`` (``-9`` means it had to be SIGKILLed).

``RawConnection`` (from ``harness``)
    ``.send(bytes)``, ``.send_slowly(bytes, step, pause)``, ``.shutdown_write()``, ``.reset()``,
    ``.read_response(method="GET", skip_informational=False) -> Response`` (one full response:
    Content-Length, chunked or close-delimited body; no body for HEAD/1xx/204/304; pass the
    request's method), ``.read_responses(n)``, ``.read_all_responses()`` (until EOF),
    ``.read_until_eof(timeout)``, ``.assert_eof(timeout)``, ``.is_open(wait)``,
    ``.read_available(wait)``. Raises ``HTTPTimeout``, ``PeerClosed`` or ``HTTPProtocolError``
    (all AssertionErrors carrying the bytes seen) instead of hanging or guessing.

``Response``
    ``.version``, ``.status``, ``.reason``, ``.headers`` (list of (name, value) in wire order),
    ``.header(name)``, ``.header_all(name)``, ``.has_token(name, token)``, ``.body``,
    ``.framing`` ("none" | "length" | "chunked" | "close"), ``.trailers``, ``.raw_head``.

Helpers (from ``harness``): ``request_bytes(method, path, headers, body, version, host)`` builds
one request (adds ``Host: localhost`` and Content-Length for a body), ``chunked(*pieces,
trailers=())`` builds a chunked body, ``STATIC_BODY``, ``free_port()``, ``yimmo_bin()``,
``start_probe_server(factory, *args)`` (``apps/http_probe.py``: echo, sleep, big bodies...;
skips the test if the binary has no WSGI bridge).

On a failing test, the log of every server still running is attached to the report. A server
that dies without being stopped or signalled (a crash) makes the running test error at teardown
with the crash log; a module-scoped server is then restarted on the same port for the next test.

Example::

    from harness import request_bytes

    def test_pipelined(start_server):
        srv = start_server(app="hello:app")        # Tests/e2e/apps/hello.py
        with srv.connect() as c:
            c.send(request_bytes("GET", "/a") + request_bytes("GET", "/b"))
            a, b = c.read_responses(2)
            assert (a.status, b.status) == (200, 200)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import LIVE_SERVERS, RawConnection, Server, ServerFactory  # noqa: E402

@pytest.fixture
def start_server(tmp_path_factory):
    factory = ServerFactory(tmp_path_factory.mktemp("yimmo-logs"))
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def start_module_server(tmp_path_factory):
    factory = ServerFactory(tmp_path_factory.mktemp("yimmo-module"))
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module", params=["epoll", "select"])
def static_server(request, start_module_server):
    """The static page, once per readiness backend: every test using it runs on both."""
    return start_module_server("--static-response", "--poller", request.param)


@pytest.fixture
def connect():
    conns: list[RawConnection] = []

    def _connect(server: Server, timeout: float = 5.0) -> RawConnection:
        c = server.connect(timeout=timeout)
        conns.append(c)
        return c

    yield _connect
    for c in conns:
        c.close()


@pytest.fixture(autouse=True)
def _yimmo_crash_guard(request):
    """Attribute a server crash to the test during which it happened, then revive the server.

    A module-scoped server that dies would otherwise fail every later test in the module with
    "connection refused". Instead the test that was running errors at teardown with the crash
    log, and the next test gets the same server restarted on the same port.

    The server's supervisor replaces a worker process that dies, so a worker crash does not end
    the server: the supervisor's log line for it does. Such a line logged during a test fails
    it the same way, unless the test is marked ``worker_deaths_expected`` (it kills workers).
    """
    for s in list(LIVE_SERVERS):
        if s.crashed() and s.crash_reported:
            s.restart()
    log_offsets = {id(s): len(s.log()) for s in LIVE_SERVERS}
    yield
    for s in list(LIVE_SERVERS):
        if s.crashed() and not s.crash_reported:
            s.crash_reported = True
            pytest.fail(f"yimmo-wsgi pid {s.pid} ({' '.join(s.argv[1:])}) died during this test with status "
                        f"{s.returncode}\n--- log (tail) ---\n{s.log()[-4000:]}", pytrace=False)
    if request.node.get_closest_marker("worker_deaths_expected"):
        return
    for s in list(LIVE_SERVERS):
        deaths = [ln for ln in s.log()[log_offsets.get(id(s), 0):].splitlines() if WORKER_DEATH.search(ln)]
        if deaths:
            pytest.fail(f"a worker of yimmo-wsgi pid {s.pid} ({' '.join(s.argv[1:])}) died during this test:\n"
                        + "\n".join(deaths) + f"\n--- log (tail) ---\n{s.log()[-4000:]}", pytrace=False)


#: The supervisor's line for a worker that died unexpectedly (it then replaces the worker).
WORKER_DEATH = re.compile(r"\[ERROR\].* worker \d+ \(pid \d+[^)]*\) (was killed by|exited with status [1-9])")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and LIVE_SERVERS:
        for s in list(LIVE_SERVERS):
            log = s.log()
            tail = log[-6000:]
            state = "running" if s.is_running() else f"exited {s.returncode}"
            report.sections.append((f"yimmo-wsgi log pid {s.pid} :{s.port} ({state})",
                                    ("...\n" if len(log) > len(tail) else "") + tail))
