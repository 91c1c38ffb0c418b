"""Response-side PEP 3333 behaviour (apps/wsgi_responses.py): exc_info, write(), close()
(also when the client goes away mid-stream), wsgi.file_wrapper, wsgi.errors, application
errors before and after the head, and worker threads."""

import json
import socket
import threading
import time

import pytest

from harness import request_bytes

FILE_DATA = bytes(range(256)) * 4096 + b"tail"


@pytest.fixture(scope="module")
def responses(start_module_server):
    return start_module_server(app="wsgi_responses:application")


def _closed(server):
    return json.loads(server.request("GET", "/stats").body)["closed"]


def _wait_closed(server, name, at_least, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = _closed(server).get(name, 0)
        if count >= at_least:
            return count
        time.sleep(0.05)
    return _closed(server).get(name, 0)


def test_close_called_once_for_iterable_with_close(responses):
    before = _closed(responses).get("list-close", 0)
    resp = responses.request("GET", "/list-close")
    assert (resp.status, resp.body) == (200, b"first,second")
    assert _closed(responses).get("list-close", 0) == before + 1


def test_close_called_when_client_disconnects_mid_stream(responses):
    before = _closed(responses).get("stream-forever", 0)
    s = socket.create_connection((responses.host, responses.port), timeout=5)
    s.sendall(request_bytes("GET", "/stream-forever"))
    got = b""
    while len(got) < 300_000:
        got += s.recv(65536)
    assert got.startswith(b"HTTP/1.1 200 OK")
    s.close()
    assert _wait_closed(responses, "stream-forever", before + 1) == before + 1
    assert responses.request("GET", "/fast").body == b"fast"


def test_exception_before_headers_is_500_and_logged(responses):
    resp = responses.request("GET", "/raise-before")
    assert resp.status == 500
    assert responses.wait_for_log("failure before start_response")
    assert "Traceback" in responses.log()
    assert responses.request("GET", "/fast").body == b"fast"


def test_exception_in_first_item_is_500_and_close_called(responses):
    before = _closed(responses).get("raise-first-item", 0)
    resp = responses.request("GET", "/raise-first-item")
    assert resp.status == 500
    assert _closed(responses).get("raise-first-item", 0) == before + 1


def test_exception_after_headers_aborts_connection(responses):
    before = _closed(responses).get("raise-in-iter", 0)
    with responses.connect() as c:
        c.send(request_bytes("GET", "/raise-in-iter"))
        raw = c.read_until_eof()
    assert raw.startswith(b"HTTP/1.1 200 OK")
    assert b"partial" in raw
    assert not raw.endswith(b"0\r\n\r\n"), "an aborted chunked body must not look complete"
    assert _closed(responses).get("raise-in-iter", 0) == before + 1
    assert responses.wait_for_log("failure after the head went out")
    assert responses.request("GET", "/fast").body == b"fast"


@pytest.mark.parametrize("path", ["/non-bytes", "/no-start", "/start-twice", "/bad-header", "/bad-status"])
def test_app_mistakes_become_500(responses, path):
    resp = responses.request("GET", path)
    assert resp.status == 500, resp
    assert b"must not be sent" not in resp.body
    assert resp.header("X-Evil") is None and resp.header("Injected") is None
    assert responses.request("GET", "/fast").body == b"fast"


def test_exc_info_replaces_headers_before_commit(responses):
    resp = responses.request("GET", "/exc-info-replace")
    assert resp.status == 500
    assert resp.header("X-Replaced") == "1"
    assert resp.header("X-First") is None
    assert resp.body == b"replaced"


def test_exc_info_reraises_after_commit(responses):
    with responses.connect() as c:
        c.send(request_bytes("GET", "/exc-info-late"))
        raw = c.read_until_eof()
    assert raw.startswith(b"HTTP/1.1 200 OK")
    assert b"head is out;" in raw
    assert _closed(responses).get("exc-info-reraised", 0) >= 1
    assert responses.wait_for_log("raised after the head went out")


def test_write_callable(responses):
    resp = responses.request("GET", "/write")
    assert (resp.status, resp.body) == (200, b"one,two,three")
    assert resp.framing == "chunked"
    resp = responses.request("GET", "/write", version="HTTP/1.0")
    assert resp.body == b"one,two,three"


def test_empty_items_skipped_and_close_called(responses):
    before = _closed(responses).get("empty-items", 0)
    resp = responses.request("GET", "/empty-items")
    assert (resp.status, resp.body) == (200, b"only")
    assert _closed(responses).get("empty-items", 0) == before + 1
    assert "close() of the application's response raised" not in responses.log()


def test_one_item_list_gets_content_length(responses):
    resp = responses.request("GET", "/big-list")
    assert resp.framing == "length"
    assert resp.header("Content-Length") == str(1 << 20)
    assert resp.body == b"y" * (1 << 20)


def test_file_wrapper_real_file_uses_content_length(responses):
    resp = responses.request("GET", "/file")
    assert resp.status == 200
    assert resp.header("Content-Length") == str(len(FILE_DATA))
    assert resp.body == FILE_DATA


def test_file_wrapper_real_file_from_current_position(responses):
    resp = responses.request("GET", "/file?skip=1000")
    assert resp.header("Content-Length") == str(len(FILE_DATA) - 1000)
    assert resp.body == FILE_DATA[1000:]


def test_file_wrapper_real_file_with_app_content_length(responses):
    resp = responses.request("GET", "/file?cl=5000")
    assert resp.header("Content-Length") == "5000"
    assert resp.body == FILE_DATA[:5000]


def test_file_wrapper_head_request(responses):
    resp = responses.request("HEAD", "/file")
    assert resp.header("Content-Length") == str(len(FILE_DATA))
    assert resp.body == b""


def test_file_wrapper_bytesio(responses):
    resp = responses.request("GET", "/bytesio")
    assert (resp.status, resp.body) == (200, FILE_DATA)


def test_wsgi_errors_go_to_log_at_error(responses):
    assert responses.request("GET", "/errors").body == b"logged"
    assert responses.wait_for_log("third error line")
    lines = [ln for ln in responses.log().splitlines() if "error line" in ln]
    assert len(lines) == 3
    assert all("[ERROR]" in ln for ln in lines), lines
    assert any(ln.endswith("second error line") for ln in lines)


def test_slow_request_does_not_hold_up_fast_ones(start_server):
    srv = start_server("--threads", "4", app="wsgi_responses:application")
    slow_result = {}

    def slow():
        slow_result["resp"] = srv.request("GET", "/slow?s=3", timeout=10)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    started = time.monotonic()
    fast = []
    lock = threading.Lock()

    def one_fast():
        r = srv.request("GET", "/fast")
        with lock:
            fast.append((r.body, time.monotonic() - started))

    threads = [threading.Thread(target=one_fast) for _ in range(30)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert len(fast) == 30 and all(body == b"fast" for body, _ in fast)
    assert max(elapsed for _, elapsed in fast) < 2.0, fast
    t.join(10)
    assert slow_result["resp"].body == b"slow"


def _lent_alive(server):
    return json.loads(server.request("GET", "/lent-stats").body)["alive"]


@pytest.mark.parametrize("size", [40_000, 1 << 20])
def test_lent_body_arrives_whole_and_is_freed(responses, size):
    resp = responses.request("GET", f"/lent?n={size}")
    assert resp.status == 200
    assert resp.header("Content-Length") == str(size)
    assert resp.body == b"z" * size
    # Freed by a worker before it serves the next request (this one).
    assert _lent_alive(responses) == 0


def test_lent_bodies_of_clients_that_vanish_are_freed(responses):
    """Clients that read a few bytes of a 1 MiB lent body and close: the server drops each
    body when the connection goes, and a worker frees it; nothing accumulates."""
    for _ in range(40):
        s = socket.create_connection((responses.host, responses.port), timeout=5)
        s.sendall(request_bytes("GET", "/lent"))
        assert s.recv(4096).startswith(b"HTTP/1.1 200 OK")
        s.close()
    deadline = time.monotonic() + 10
    alive = _lent_alive(responses)
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = _lent_alive(responses)
    assert alive == 0
    assert responses.request("GET", "/fast").body == b"fast"


def test_many_lent_bodies_on_keep_alive_connections(responses):
    conns = [responses.connect() for _ in range(8)]
    for _ in range(5):
        for c in conns:
            c.send(request_bytes("GET", "/lent?n=300000"))
        for c in conns:
            resp = c.read_response()
            assert resp.status == 200 and resp.body == b"z" * 300000
    for c in conns:
        c.close()
    assert _lent_alive(responses) == 0


def test_head_and_lent_body_are_not_held_back_by_nagle(responses):
    """The head and a lent body go out in two writes; without TCP_NODELAY on the accepted
    socket the body's last segment would wait for the client's delayed ACK (~40 ms) each
    time. 30 sequential responses on one connection must take well under that per request."""
    c = responses.connect()
    c.send(request_bytes("GET", "/lent?n=40000"))
    assert c.read_response().status == 200  # warm-up
    start = time.monotonic()
    for _ in range(30):
        c.send(request_bytes("GET", "/lent?n=40000"))
        resp = c.read_response()
        assert resp.status == 200 and len(resp.body) == 40000
    elapsed = time.monotonic() - start
    c.close()
    assert elapsed < 0.6, f"30 responses took {elapsed:.3f} s"


def test_small_items_to_a_client_that_stopped_reading_do_not_hold_the_gil(start_server):
    # Small streamed items are queued with the GIL held; the wait for a stalled client to
    # drain must still release it, or every other thread's request would hang behind it.
    srv = start_server("--threads", "2", app="wsgi_responses:application")
    stalled = socket.create_connection((srv.host, srv.port), timeout=5)
    try:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        stalled.sendall(request_bytes("GET", "/small-forever"))
        time.sleep(1.0)  # the socket and the exchange fill up: the worker waits for drain
        for _ in range(5):
            t0 = time.monotonic()
            resp = srv.request("GET", "/fast", timeout=5)
            assert resp.body == b"fast"
            assert time.monotonic() - t0 < 1.0
        # Reading resumes the stream where it stopped: the bytes are the app's, in order.
        stalled.settimeout(5)
        data = b""
        while len(data) < 1_000_000:
            data += stalled.recv(1 << 16)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert b"Transfer-Encoding: chunked" in head
        first = body.split(b"\r\n", 2)
        assert first[0] == b"64" and first[1] == b"y" * 100
    finally:
        stalled.close()
    assert _wait_closed(srv, "small-forever", 1) == 1
