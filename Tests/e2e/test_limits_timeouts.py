"""Request limits, stall timeouts, worker threads and graceful shutdown, as a client sees them.

Each flag named here is in ``yimmo-wsgi --help``; the WSGI-side tests use ``apps/http_probe.py``
(``/echo``, ``/sleep?MS``, ``/big?N``) and skip if the binary has no WSGI bridge.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

from harness import STATIC_BODY, request_bytes, start_probe_server


def _rejected(c, statuses):
    """The next response has one of ``statuses`` and Connection: close, then the server closes."""
    resp = c.read_response()
    assert resp.status in statuses, resp
    assert resp.has_token("Connection", "close"), resp
    c.assert_eof(timeout=3)
    return resp


# ------------------------------------------------------------------------------------------------
# Request head limits
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def limits_server(start_module_server):
    return start_module_server("--static-response", "--limit-request-line", "100",
                               "--limit-request-fields", "5", "--limit-request-field-size", "100")


def test_request_line_under_limit_is_served(limits_server, connect):
    c = connect(limits_server)
    c.send(request_bytes("GET", "/" + "a" * 40))
    assert c.read_response().body == STATIC_BODY


def test_request_line_over_limit_gets_414(limits_server, connect):
    c = connect(limits_server)
    c.send(request_bytes("GET", "/" + "a" * 300))
    _rejected(c, (414,))


def test_header_count_at_limit_is_served(limits_server, connect):
    c = connect(limits_server)
    c.send(request_bytes("GET", "/", headers=[(f"X-{i}", "v") for i in range(4)]))  # + Host = 5
    assert c.read_response().body == STATIC_BODY


def test_too_many_header_fields_get_431(limits_server, connect):
    c = connect(limits_server)
    c.send(request_bytes("GET", "/", headers=[(f"X-{i}", "v") for i in range(10)]))
    _rejected(c, (431,))


def test_header_field_over_limit_gets_431(limits_server, connect):
    c = connect(limits_server)
    c.send(request_bytes("GET", "/", headers=[("X-Long", "v" * 300)]))
    _rejected(c, (431,))


def test_limit_rejection_leaves_server_serving(limits_server):
    for _ in range(3):
        with limits_server.connect() as c:
            c.send(request_bytes("GET", "/" + "a" * 300))
            c.read_all_responses()
    assert limits_server.request("GET", "/").body == STATIC_BODY


# ------------------------------------------------------------------------------------------------
# Body limit and body stalls (WSGI: the app reads the body)
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_body_server(start_module_server):
    return start_probe_server(start_module_server, "--max-body", "10", "--body-timeout", "1")


def test_body_at_max_body_is_served(small_body_server, connect):
    c = connect(small_body_server)
    c.send(request_bytes("POST", "/echo", body=b"0123456789"))
    resp = c.read_response()
    assert (resp.status, resp.body) == (200, b"0123456789")


def test_content_length_over_max_body_gets_413(small_body_server, connect):
    c = connect(small_body_server)
    c.send(request_bytes("POST", "/echo", body=b"0123456789X"))
    resp = c.read_response()
    assert resp.status == 413, resp
    assert resp.has_token("Connection", "close"), resp
    c.assert_eof(timeout=3)


def test_chunked_body_over_max_body_is_refused(small_body_server, connect):
    c = connect(small_body_server)
    c.send(request_bytes("POST", "/echo", headers=[("Transfer-Encoding", "chunked")],
                         body=b"6\r\n012345\r\n6\r\n6789AB\r\n0\r\n\r\n"))
    responses, _ = c.read_all_responses()
    assert [r.status for r in responses] == [413], responses


def test_stalled_body_is_timed_out(small_body_server, connect):
    c = connect(small_body_server)
    c.send(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n01234")
    t0 = time.monotonic()
    responses, _ = c.read_all_responses(timeout=5)
    elapsed = time.monotonic() - t0
    assert elapsed <= 3.5, f"stalled body closed after {elapsed:.2f}s with --body-timeout 1"
    assert all(r.status >= 400 for r in responses), responses  # nothing may echo half a body
    assert small_body_server.request("POST", "/echo", body=b"ok").body == b"ok"


# ------------------------------------------------------------------------------------------------
# A client that stops reading
# ------------------------------------------------------------------------------------------------

def test_client_that_stops_reading_is_dropped_after_write_timeout(start_server):
    srv = start_probe_server(start_server, "--write-timeout", "1")
    n = 256 * 1024 * 1024
    c = srv.connect(timeout=10)
    try:
        c.send(request_bytes("GET", f"/big?{n}"))
        time.sleep(3.0)  # read nothing: the server's writes stall
        received = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                data = c.sock.recv(1 << 20)
            except ConnectionResetError:
                break
            if not data:
                break
            received += len(data)
        else:
            pytest.fail(f"server still sending after 13 s ({received} bytes read)")
        assert received < n, "the whole 256 MiB arrived: the stall was not timed out"
    finally:
        c.close()
    assert srv.request("GET", "/still").body == b"/still?"


# ------------------------------------------------------------------------------------------------
# Worker threads
# ------------------------------------------------------------------------------------------------

def _concurrent_sleeps(srv, n, ms):
    """n clients each GET /sleep?ms at once; returns the wall time until all are answered."""
    results, errors = [], []

    def one():
        try:
            results.append(srv.request("GET", f"/sleep?{ms}", timeout=10).body)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=one) for _ in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    elapsed = time.monotonic() - t0
    assert not errors, errors
    assert results == [b"slept"] * n
    return elapsed


@pytest.mark.parametrize("how", ["flag", "env"])
def test_threads_run_requests_concurrently(start_server, how):
    if how == "flag":
        srv = start_probe_server(start_server, "--threads", "4")
    else:
        srv = start_probe_server(start_server, env={"YIMMO_WSGI_NO_THREADS": "4"})
    elapsed = _concurrent_sleeps(srv, 4, 400)
    assert elapsed < 1.2, f"4 x 400 ms sleeps on 4 threads took {elapsed:.2f}s (serialised?)"


def test_one_thread_runs_requests_one_at_a_time(start_server):
    srv = start_probe_server(start_server, "--threads", "1")
    elapsed = _concurrent_sleeps(srv, 4, 200)
    assert elapsed >= 0.75, f"4 x 200 ms sleeps on 1 thread took only {elapsed:.2f}s"


# ------------------------------------------------------------------------------------------------
# Graceful shutdown
# ------------------------------------------------------------------------------------------------

def test_sigterm_lets_in_flight_request_finish(start_server):
    srv = start_probe_server(start_server)
    with srv.connect() as c:
        c.send(request_bytes("GET", "/sleep?700"))
        time.sleep(0.2)
        srv.send_signal(signal.SIGTERM)
        resp = c.read_response()
        assert (resp.status, resp.body) == (200, b"slept"), resp
    assert srv.wait(5) == 0, f"exit status {srv.returncode}\n{srv.log()}"


def test_graceful_timeout_bounds_shutdown(start_server):
    srv = start_probe_server(start_server, "--graceful-timeout", "1")
    c = srv.connect()
    try:
        c.send(request_bytes("GET", "/sleep?10000"))
        time.sleep(0.2)
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait(6)
        elapsed = time.monotonic() - t0
        assert rc is not None, "server still running 6 s after SIGTERM with --graceful-timeout 1"
        assert elapsed < 4, f"shutdown took {elapsed:.2f}s with --graceful-timeout 1"
    finally:
        c.close()
