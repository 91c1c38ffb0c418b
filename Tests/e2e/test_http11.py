"""HTTP/1.1 behaviour of the real binary, seen from the client side.

Most tests talk to one shared ``--static-response`` server (``static_server``), which answers
every request with ``200``, ``text/plain``, ``Hello, world!\\n``. Tests that need other flags start
their own server. The last section needs the WSGI bridge (``apps/http_probe.py``) and skips while
the binary still answers apps with the static page.
"""

from __future__ import annotations

import email.utils
import http.client
import re
import signal
import socket
import time

import pytest
import requests

from harness import STATIC_BODY, chunked, free_port, request_bytes, run_cli, start_probe_server


def assert_static_ok(resp, method="GET"):
    assert resp.status == 200, resp
    assert (resp.header("Content-Type") or "").startswith("text/plain"), resp
    assert resp.header("Content-Length") == str(len(STATIC_BODY)), resp
    if method == "HEAD":
        assert resp.body == b"", resp
    else:
        assert resp.body == STATIC_BODY, resp


def assert_serves(server):
    """The server is still up and answers a new client correctly."""
    assert server.is_running(), f"server exited with {server.returncode}"
    assert_static_ok(server.request("GET", "/still-alive"))


# ------------------------------------------------------------------------------------------------
# Basics: one request, required headers
# ------------------------------------------------------------------------------------------------

def test_get_returns_static_page(static_server):
    resp = static_server.request("GET", "/")
    assert resp.version == "HTTP/1.1"
    assert resp.reason == "OK"
    assert resp.framing == "length"
    assert_static_ok(resp)


def test_date_and_server_headers(static_server):
    resp = static_server.request("GET", "/")
    date = resp.header("Date")
    assert date is not None, resp
    # IMF-fixdate, RFC 9110 §5.6.7: "Sun, 06 Nov 1994 08:49:37 GMT"
    assert re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                        r"\d{4} \d\d:\d\d:\d\d GMT", date), date
    when = email.utils.parsedate_to_datetime(date).timestamp()
    assert abs(when - time.time()) < 5, f"Date {date!r} is not now"
    assert len(resp.header_all("Date")) == 1
    server = resp.header("Server")
    assert server is not None and server.startswith("yimmo-wsgi/"), resp


def test_requests_library_get(static_server):
    r = requests.get(static_server.url("/hello?x=1"), timeout=5)
    assert r.status_code == 200
    assert r.content == STATIC_BODY
    assert r.headers["Content-Type"].startswith("text/plain")


# ------------------------------------------------------------------------------------------------
# Persistent connections
# ------------------------------------------------------------------------------------------------

def test_keep_alive_several_requests_one_socket(static_server, connect):
    c = connect(static_server)
    for i in range(5):
        c.send(request_bytes("GET", f"/keep/{i}"))
        resp = c.read_response()
        assert_static_ok(resp)
        assert not resp.has_token("Connection", "close"), resp
    assert c.is_open(0.3), "server closed a keep-alive connection"


def test_connection_close_is_honoured(static_server, connect):
    c = connect(static_server)
    c.send(request_bytes("GET", "/", headers=[("Connection", "close")]))
    assert_static_ok(c.read_response())
    c.assert_eof(timeout=3)


def test_connection_close_after_keep_alive_requests(static_server, connect):
    c = connect(static_server)
    c.send(request_bytes("GET", "/1"))
    assert_static_ok(c.read_response())
    c.send(request_bytes("GET", "/2", headers=[("Connection", "close")]))
    assert_static_ok(c.read_response())
    c.assert_eof(timeout=3)


def test_http10_closes_by_default(static_server, connect):
    c = connect(static_server)
    c.send(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
    resp = c.read_response()
    assert_static_ok(resp)
    c.assert_eof(timeout=3)


def test_http10_without_host_is_served(static_server, connect):
    c = connect(static_server)
    c.send(b"GET / HTTP/1.0\r\n\r\n")
    assert_static_ok(c.read_response())
    c.assert_eof(timeout=3)


def test_http10_keep_alive_when_asked(static_server, connect):
    c = connect(static_server)
    c.send(b"GET /a HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n")
    first = c.read_response()
    assert_static_ok(first)
    # A 1.0 client only knows the connection persists if the response says so.
    assert first.has_token("Connection", "keep-alive"), first
    c.send(b"GET /b HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n")
    assert_static_ok(c.read_response())
    assert c.is_open(0.3)
    # A 1.0 request without keep-alive on the same connection ends it.
    c.send(b"GET /c HTTP/1.0\r\nHost: localhost\r\n\r\n")
    assert_static_ok(c.read_response())
    c.assert_eof(timeout=3)


# ------------------------------------------------------------------------------------------------
# Pipelining and body consumption
# ------------------------------------------------------------------------------------------------

PIPELINE_PATHS = [f"/pipe/{i}?n={i}" for i in range(10)]


def test_pipelining_ten_requests_in_one_write(static_server, connect):
    c = connect(static_server)
    c.send(b"".join(request_bytes("GET", p) for p in PIPELINE_PATHS))
    for resp in c.read_responses(10):
        assert_static_ok(resp)
    # Exactly ten: nothing more arrives and the connection stays usable.
    assert c.is_open(0.3)
    c.send(request_bytes("GET", "/after"))
    assert_static_ok(c.read_response())


def test_pipelining_last_request_closes(static_server, connect):
    c = connect(static_server)
    reqs = [request_bytes("GET", p) for p in PIPELINE_PATHS[:-1]]
    reqs.append(request_bytes("GET", PIPELINE_PATHS[-1], headers=[("Connection", "close")]))
    c.send(b"".join(reqs))
    responses, tail = c.read_all_responses(timeout=5)
    assert tail == b""
    assert len(responses) == 10, responses
    for resp in responses:
        assert_static_ok(resp)


def test_pipelined_requests_sent_one_byte_at_a_time(static_server, connect):
    c = connect(static_server)
    data = b"".join(request_bytes("GET", p) for p in PIPELINE_PATHS[:4])
    data += request_bytes("POST", "/body", body=b"0123456789")
    c.send_slowly(data, step=1)
    for resp in c.read_responses(5):
        assert_static_ok(resp)
    assert c.is_open(0.2)


def test_hundred_pipelined_requests_in_odd_splits(static_server, connect):
    c = connect(static_server)
    data = b"".join(request_bytes("GET", f"/many/{i}") for i in range(100))
    # Writes of 7, 13, 1, 250 bytes... so heads straddle every kind of boundary.
    sizes, i = [7, 13, 1, 250, 3, 64, 2], 0
    pos = 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        c.send(data[pos:pos + n])
        pos += n
        i += 1
    for resp in c.read_responses(100):
        assert_static_ok(resp)
    assert c.is_open(0.2)


def test_content_length_body_then_pipelined_request(static_server, connect):
    c = connect(static_server)
    body = b"x" * 11
    c.send(request_bytes("POST", "/upload", body=body) + request_bytes("GET", "/next"))
    assert_static_ok(c.read_response())
    assert_static_ok(c.read_response())
    assert c.is_open(0.2)


def test_body_that_looks_like_a_request_is_not_parsed(static_server, connect):
    # The body is exactly one complete request: if the server ignored Content-Length it would
    # answer three times.
    c = connect(static_server)
    inner = request_bytes("GET", "/smuggled")
    c.send(request_bytes("POST", "/upload", body=inner) + request_bytes("GET", "/next", headers=[("Connection", "close")]))
    responses, tail = c.read_all_responses()
    assert tail == b""
    assert len(responses) == 2, responses


def test_large_content_length_body_then_pipelined_request(static_server, connect):
    c = connect(static_server, timeout=10)
    body = bytes(range(256)) * 4096  # 1 MiB
    c.send(request_bytes("POST", "/big", body=body) + request_bytes("GET", "/next", headers=[("Connection", "close")]))
    responses, tail = c.read_all_responses(timeout=10)
    assert tail == b""
    assert len(responses) == 2, responses
    for r in responses:
        assert_static_ok(r)


def test_chunked_body_then_pipelined_request(static_server, connect):
    c = connect(static_server)
    body = chunked(b"hello", b" ", b"world")
    c.send(request_bytes("POST", "/chunked", headers=[("Transfer-Encoding", "chunked")], body=body)
           + request_bytes("GET", "/next"))
    assert_static_ok(c.read_response())
    assert_static_ok(c.read_response())
    assert c.is_open(0.2)


def test_chunked_body_with_extensions_trailers_and_uppercase_hex(static_server, connect):
    c = connect(static_server)
    body = (b"A;name=value\r\n0123456789\r\n"
            b"1a\r\nabcdefghijklmnopqrstuvwxyz\r\n"
            b"0\r\nX-Trailer: done\r\n\r\n")
    c.send(request_bytes("POST", "/chunked", headers=[("Transfer-Encoding", "chunked")], body=body)
           + request_bytes("GET", "/next", headers=[("Connection", "close")]))
    responses, tail = c.read_all_responses()
    assert tail == b""
    assert len(responses) == 2, responses
    for r in responses:
        assert_static_ok(r)


def test_many_small_chunks_then_pipelined_request(static_server, connect):
    c = connect(static_server, timeout=10)
    body = chunked(*[b"%03d" % i * 33 for i in range(1000)])
    c.send(request_bytes("POST", "/chunks", headers=[("Transfer-Encoding", "chunked")], body=body)
           + request_bytes("GET", "/next", headers=[("Connection", "close")]))
    responses, tail = c.read_all_responses(timeout=10)
    assert tail == b""
    assert len(responses) == 2, responses


def test_chunked_body_sent_one_byte_at_a_time(static_server, connect):
    c = connect(static_server)
    data = request_bytes("POST", "/slow", headers=[("Transfer-Encoding", "chunked")],
                         body=chunked(b"abc", b"defgh", trailers=[("T", "1")]))
    c.send_slowly(data + request_bytes("GET", "/next"), step=1)
    assert_static_ok(c.read_response())
    assert_static_ok(c.read_response())


# ------------------------------------------------------------------------------------------------
# Expect: 100-continue
# ------------------------------------------------------------------------------------------------

def test_expect_100_continue_client_waits(static_server, connect):
    c = connect(static_server)
    c.send(b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    first = c.read_response(method="POST")  # the server must answer without the body
    if first.status == 100:
        assert first.body == b""
        c.send(b"hello" + request_bytes("GET", "/after"))
        assert_static_ok(c.read_response(method="POST"))
        assert_static_ok(c.read_response())
    else:
        # The static responder may answer at once; then it must either close or read the body.
        assert_static_ok(first)
        if first.has_token("Connection", "close"):
            c.assert_eof(timeout=3)
        else:
            c.send(b"hello" + request_bytes("GET", "/after"))
            assert_static_ok(c.read_response())
            assert c.is_open(0.2)


def test_expect_100_continue_client_sends_body_at_once(static_server, connect):
    c = connect(static_server)
    c.send(b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello"
           + request_bytes("GET", "/after", headers=[("Connection", "close")]))
    responses, tail = c.read_all_responses()
    assert tail == b""
    interim = [r for r in responses if r.status == 100]
    final = [r for r in responses if r.status != 100]
    assert len(interim) <= 1, responses
    if interim:
        assert responses[0].status == 100, "100 Continue must precede the final response"
    assert final, responses
    assert_static_ok(final[0])
    if final[0].has_token("Connection", "close"):
        # Answered before reading the body and chose to close: nothing may follow.
        assert len(final) == 1, responses
    else:
        # Kept the connection: it must have consumed the 5 body bytes and answered the GET.
        assert len(final) == 2, responses
        assert_static_ok(final[1])


def test_expect_100_continue_ignored_for_http10(static_server, connect):
    # RFC 9110 §10.1.1: a server MUST ignore 100-continue in an HTTP/1.0 request.
    c = connect(static_server)
    c.send(b"POST /upload HTTP/1.0\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello")
    responses, tail = c.read_all_responses()
    assert tail == b""
    assert [r.status for r in responses] == [200], responses


# ------------------------------------------------------------------------------------------------
# HEAD
# ------------------------------------------------------------------------------------------------

def test_head_has_headers_but_no_body(static_server, connect):
    c = connect(static_server)
    # If the HEAD response carried a body, the GET's status line would not come next.
    c.send(request_bytes("HEAD", "/") + request_bytes("GET", "/"))
    head = c.read_response(method="HEAD")
    assert_static_ok(head, method="HEAD")
    assert head.header("Date") and head.header("Server").startswith("yimmo-wsgi/")
    get = c.read_response()
    assert_static_ok(get)
    assert c.is_open(0.2)


def test_head_http10_then_close(static_server, connect):
    c = connect(static_server)
    c.send(b"HEAD / HTTP/1.0\r\n\r\n")
    head = c.read_response(method="HEAD")
    assert_static_ok(head, method="HEAD")
    c.assert_eof(timeout=3)


# ------------------------------------------------------------------------------------------------
# Clients that go away
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("partial", [
    pytest.param(b"GET / HTTP/1.1\r\nHost: loc", id="half-head"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n" + b"x" * 50,
                 id="head-and-half-body"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
                 id="half-chunk"),
])
@pytest.mark.parametrize("how", ["close", "reset", "half-close"])
def test_client_disconnects_mid_request(static_server, partial, how):
    c = static_server.connect()
    c.send(partial)
    time.sleep(0.05)
    if how == "close":
        c.close()
    elif how == "reset":
        c.reset()
    else:
        c.shutdown_write()
        # The request can never complete: the server must close. An incomplete head gets no
        # 200; a complete head may already have been answered (the static page does not wait
        # for the body).
        extra = c.read_until_eof(timeout=5)
        if b"\r\n\r\n" not in partial:
            assert b"HTTP/1.1 200" not in extra, extra
        c.close()
    assert_serves(static_server)


def test_client_resets_with_unread_pipelined_responses(static_server):
    # The client asks for many responses and vanishes without reading: the server's writes fail
    # (EPIPE/ECONNRESET). It must not die of SIGPIPE or spin.
    for _ in range(3):
        c = static_server.connect()
        c.send(b"".join(request_bytes("GET", f"/gone/{i}") for i in range(2000)))
        c.reset()
    time.sleep(0.2)
    assert_serves(static_server)


def test_many_connections_at_once(static_server):
    conns = [static_server.connect() for _ in range(100)]
    try:
        for i, c in enumerate(conns):
            c.send(request_bytes("GET", f"/conn/{i}"))
        for c in conns:
            assert_static_ok(c.read_response())
    finally:
        for c in conns:
            c.close()


# ------------------------------------------------------------------------------------------------
# Malformed requests: 400, Connection: close, EOF, and the server keeps serving others
# ------------------------------------------------------------------------------------------------

BAD_REQUESTS = [
    pytest.param(b"GARBAGE\r\n\r\n", id="garbage-line"),
    pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\r\n\r\n", id="tls-hello"),
    pytest.param(b"GET / HTTP/1.1\r\n\r\n", id="missing-host-1.1"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", id="two-hosts"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", id="two-identical-hosts"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", id="cl-not-a-number"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", id="cl-negative"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", id="cl-plus-sign"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                 id="cl-conflicting"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                 id="cl-overflow"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
                 id="te-and-cl"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                 id="cl-and-te"),
    # RFC 9112 §6.3: chunked not last in a request is a 400; an unknown coding may also be a 501.
    pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
                 id="te-chunked-not-last", marks=pytest.mark.allow_501),
    pytest.param(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", id="space-before-colon"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nX-Bad: a\x00b\r\n\r\n", id="nul-in-value"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nNo colon here\r\n\r\n", id="header-without-colon"),
    pytest.param(b"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", id="control-char-in-target"),
    pytest.param(b"GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n", id="junk-after-version"),
    pytest.param(b"GET / HTTX/1.1\r\nHost: a\r\n\r\n", id="bad-protocol-name"),
    pytest.param(b"G\x7fT / HTTP/1.1\r\nHost: a\r\n\r\n", id="bad-method-char"),
]


@pytest.mark.parametrize("raw", BAD_REQUESTS)
def test_malformed_request_gets_400_and_close(static_server, connect, raw, request):
    allowed = (400, 501) if request.node.get_closest_marker("allow_501") else (400,)
    c = connect(static_server)
    c.send(raw)
    resp = c.read_response()
    assert resp.status in allowed, f"sent {raw!r}, got {resp}"
    assert resp.has_token("Connection", "close"), resp
    assert 0 < len(resp.body) <= 1024, f"expected a short body, got {resp.body[:100]!r}"
    c.assert_eof(timeout=3)
    assert_serves(static_server)


def test_malformed_request_after_good_one_on_same_connection(static_server, connect):
    c = connect(static_server)
    c.send(request_bytes("GET", "/good") + b"NOT HTTP AT ALL\r\n\r\n")
    assert_static_ok(c.read_response())
    bad = c.read_response()
    assert bad.status == 400, bad
    assert bad.has_token("Connection", "close"), bad
    c.assert_eof(timeout=3)


def test_bad_chunk_size_never_serves_the_next_request(static_server, connect):
    # The body is invalid chunked; whatever the server answered for the POST, it must not take the
    # bytes after it as a new request (request smuggling), and it must close the connection.
    c = connect(static_server)
    c.send(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
           + request_bytes("GET", "/smuggled"))
    responses, tail = c.read_all_responses()
    statuses = [r.status for r in responses]
    assert statuses in ([400], [200], [200, 400]), f"got {responses} then {tail!r}"
    if statuses[-1] == 400:
        assert responses[-1].has_token("Connection", "close")
    assert_serves(static_server)


def test_oversized_header_is_rejected(static_server, connect):
    c = connect(static_server, timeout=10)
    try:
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * (1024 * 1024) + b"\r\n\r\n")
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server may stop reading (and close) once the head is too big; read its answer
    resp = c.read_response()
    assert resp.status in (400, 413, 431), resp
    c.assert_eof(timeout=3)
    assert_serves(static_server)


# ------------------------------------------------------------------------------------------------
# Idle timeout
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def idle1_server(start_module_server):
    return start_module_server("--static-response", "--idle-timeout", "1")


def _time_to_close(c, limit=5.0):
    t0 = time.monotonic()
    extra = c.read_until_eof(timeout=limit)
    return time.monotonic() - t0, extra


def test_idle_keep_alive_connection_closed_after_timeout(idle1_server, connect):
    c = connect(idle1_server)
    c.send(request_bytes("GET", "/"))
    assert_static_ok(c.read_response())
    elapsed, extra = _time_to_close(c)
    assert extra == b"", extra
    assert 0.5 <= elapsed <= 3.0, f"idle connection closed after {elapsed:.2f}s with --idle-timeout 1"


def test_idle_connection_without_request_closed(idle1_server, connect):
    c = connect(idle1_server)
    elapsed, extra = _time_to_close(c)
    assert extra == b"", extra
    assert 0.5 <= elapsed <= 3.0, f"silent connection closed after {elapsed:.2f}s with --idle-timeout 1"


@pytest.fixture(scope="module")
def header1_server(start_module_server):
    return start_module_server("--static-response", "--header-timeout", "1")


def test_stalled_partial_head_closed(header1_server, connect):
    c = connect(header1_server)
    c.send(b"GET / HTTP/1.1\r\nHost: loc")
    elapsed, extra = _time_to_close(c)
    # A 408 is allowed before closing; a 200 is not.
    assert extra == b"" or extra.startswith(b"HTTP/1.1 408"), extra
    assert 0.5 <= elapsed <= 3.0, f"stalled request closed after {elapsed:.2f}s with --header-timeout 1"


def test_busy_connection_outlives_idle_timeout(idle1_server, connect):
    c = connect(idle1_server)
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < 2.5:
        c.send(request_bytes("GET", f"/busy/{n}"))
        assert_static_ok(c.read_response())
        n += 1
        time.sleep(0.4)
    assert n >= 5


def test_default_idle_timeout_keeps_connection_for_two_seconds(static_server, connect):
    c = connect(static_server)
    c.send(request_bytes("GET", "/"))
    assert_static_ok(c.read_response())
    assert c.is_open(2.0), "connection closed before the default 5 s idle timeout"
    c.send(request_bytes("GET", "/again"))
    assert_static_ok(c.read_response())


# ------------------------------------------------------------------------------------------------
# A real client library: http.client on one keep-alive connection
# ------------------------------------------------------------------------------------------------

def test_http_client_get_post_head_on_one_connection(static_server):
    conn = http.client.HTTPConnection(static_server.host, static_server.port, timeout=5)
    try:
        conn.request("GET", "/one")
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, STATIC_BODY)
        sock = conn.sock
        assert sock is not None, "http.client saw the connection close after a keep-alive GET"

        conn.request("POST", "/two", body=b"a=1&b=2", headers={"Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, STATIC_BODY)
        assert conn.sock is sock, "POST did not reuse the connection"

        conn.request("HEAD", "/three")
        r = conn.getresponse()
        assert r.status == 200
        assert r.getheader("Content-Length") == str(len(STATIC_BODY))
        assert r.read() == b""
        assert conn.sock is sock, "HEAD did not reuse the connection"

        conn.request("GET", "/four")
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, STATIC_BODY)
        assert conn.sock is sock
    finally:
        conn.close()


def test_http_client_chunked_post(static_server):
    conn = http.client.HTTPConnection(static_server.host, static_server.port, timeout=5)
    try:
        conn.request("POST", "/chunked", body=iter([b"abc", b"defg"]), encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, STATIC_BODY)
        sock = conn.sock
        conn.request("GET", "/after")
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, STATIC_BODY)
        assert conn.sock is sock and sock is not None
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------------
# Command line, environment, signals, logging
# ------------------------------------------------------------------------------------------------

FLAGS_AND_ENV = [
    ("--host", "YIMMO_WSGI_HOST"),
    ("--port", "YIMMO_WSGI_PORT"),
    ("--log-level", "YIMMO_LOG_LEVEL"),
    ("--idle-timeout", "YIMMO_SERVER_IDLE_TIMEOUT"),
    ("--threads", "YIMMO_WSGI_NO_THREADS"),
]


def test_help_lists_flags_and_env_vars():
    r = run_cli("--help")
    assert r.returncode == 0, r
    for flag, env in FLAGS_AND_ENV:
        assert flag in r.output, f"--help does not mention {flag}:\n{r.output}"
        assert env in r.output, f"--help does not mention {env}:\n{r.output}"
    assert "--static-response" in r.output
    assert "--version" in r.output


def test_version_prints_a_version():
    r = run_cli("--version")
    assert r.returncode == 0, r
    assert re.search(r"\d+\.\d+", r.output), r.output
    assert r.stdout.strip(), "version goes to stdout"


def _assert_fatal_exit(r):
    assert not r.timed_out, f"{r.argv} did not exit within 10 s: {r.output}"
    assert r.returncode not in (0, None), f"{r.argv} exited 0: {r.output}"
    assert len(r.lines_with("FATAL")) == 1, f"expected exactly one FATAL line from {r.argv[1:]}:\n{r.output}"


@pytest.mark.parametrize("args", [
    pytest.param(["--log-level", "LOUD"], id="log-level-unknown"),
    pytest.param(["--port", "70000"], id="port-too-big"),
    pytest.param(["--port", "abc"], id="port-not-a-number"),
    pytest.param(["--port=-1"], id="port-negative"),
    pytest.param(["--idle-timeout", "soon"], id="idle-timeout-not-a-number"),
    pytest.param(["--threads", "many"], id="threads-not-a-number"),
])
def test_bad_flag_value_is_fatal(args):
    _assert_fatal_exit(run_cli("--host", "127.0.0.1", *args, "--static-response"))


@pytest.mark.parametrize("env", [
    pytest.param({"YIMMO_LOG_LEVEL": "LOUD"}, id="YIMMO_LOG_LEVEL"),
    pytest.param({"YIMMO_WSGI_PORT": "abc"}, id="YIMMO_WSGI_PORT"),
])
def test_bad_env_value_is_fatal(env):
    _assert_fatal_exit(run_cli("--host", "127.0.0.1", "--static-response", env=env))


def test_unknown_flag_exits_non_zero():
    r = run_cli("--no-such-flag")
    assert not r.timed_out and r.returncode not in (0, None), r


def test_port_in_use_is_fatal():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        _assert_fatal_exit(run_cli("--host", "127.0.0.1", "--port", str(port), "--static-response"))


def test_second_server_on_same_port_is_fatal(start_server):
    first = start_server("--static-response")
    r = run_cli("--host", "127.0.0.1", "--port", str(first.port), "--static-response")
    _assert_fatal_exit(r)
    assert_serves(first)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly(start_server, sig):
    srv = start_server("--static-response")
    assert_static_ok(srv.request("GET", "/"))
    t0 = time.monotonic()
    assert srv.stop(sig, timeout=5) == 0, srv.log()
    assert time.monotonic() - t0 < 5
    assert "FATAL" not in srv.log()


def test_sigterm_with_idle_keep_alive_connection(start_server):
    srv = start_server("--static-response")
    c = srv.connect()
    try:
        c.send(request_bytes("GET", "/"))
        assert_static_ok(c.read_response())
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        assert srv.wait(5) == 0, f"exit status {srv.returncode}\n{srv.log()}"
        assert time.monotonic() - t0 < 5
        c.assert_eof(timeout=3)
    finally:
        c.close()


def test_listening_line_logged_at_notice(start_server):
    srv = start_server("--static-response")
    assert srv.wait_for_log("listening on", timeout=3), srv.log()
    line = next(ln for ln in srv.log().splitlines() if "listening on" in ln)
    assert "NOTICE" in line, line
    assert str(srv.pid) in line, f"log line lacks the pid {srv.pid}: {line}"
    assert str(srv.port) in line, line
    assert re.search(r"\d{4}-\d\d-\d\d|\d\d:\d\d:\d\d", line), f"log line lacks a timestamp: {line}"


@pytest.mark.parametrize("how", ["flag", "env"])
def test_log_level_error_hides_notice(start_server, how):
    if how == "flag":
        srv = start_server("--static-response", "--log-level", "ERROR")
    else:
        srv = start_server("--static-response", env={"YIMMO_LOG_LEVEL": "ERROR"})
    assert_static_ok(srv.request("GET", "/"))
    assert srv.stop() == 0
    assert "listening on" not in srv.log(), srv.log()
    assert "NOTICE" not in srv.log(), srv.log()


def test_env_port_and_host_are_honoured(start_server):
    port = free_port()
    srv = start_server("--static-response", bind_flags=False, port=port,
                       env={"YIMMO_WSGI_PORT": str(port), "YIMMO_WSGI_HOST": "127.0.0.1"})
    assert_static_ok(srv.request("GET", "/"))


def test_port_flag_overrides_env(start_server):
    env_port = free_port()
    srv = start_server("--static-response", env={"YIMMO_WSGI_PORT": str(env_port)})
    assert srv.port != env_port
    assert_static_ok(srv.request("GET", "/"))
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", env_port), timeout=1).close()


def test_idle_timeout_from_env(start_server, connect):
    srv = start_server("--static-response", env={"YIMMO_SERVER_IDLE_TIMEOUT": "1"})
    c = connect(srv)
    c.send(request_bytes("GET", "/"))
    assert_static_ok(c.read_response())
    elapsed, extra = _time_to_close(c)
    assert extra == b""
    assert 0.5 <= elapsed <= 3.0, f"closed after {elapsed:.2f}s with YIMMO_SERVER_IDLE_TIMEOUT=1"


def test_no_app_serves_a_page(start_server):
    # With no MODULE APP the server serves the built-in demo page (or, before the Python bridge,
    # the static page).
    srv = start_server()
    resp = srv.request("GET", "/")
    assert resp.status == 200, resp
    ctype = resp.header("Content-Type") or ""
    if ctype.startswith("text/html"):
        assert b"yimmo" in resp.body.lower(), resp
    else:
        assert resp.body == STATIC_BODY, resp


# ------------------------------------------------------------------------------------------------
# Response framing decided by the server for WSGI apps (needs the WSGI bridge)
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def probe_server(start_module_server):
    return start_probe_server(start_module_server)


def test_wsgi_pipelined_responses_in_order(probe_server, connect):
    c = connect(probe_server)
    c.send(b"".join(request_bytes("GET", p) for p in PIPELINE_PATHS))
    bodies = [r.body.decode() for r in c.read_responses(10)]
    assert bodies == PIPELINE_PATHS


def test_wsgi_chunked_upload_is_decoded(probe_server, connect):
    c = connect(probe_server)
    c.send(request_bytes("POST", "/echo", headers=[("Transfer-Encoding", "chunked")],
                         body=b"5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n")
           + request_bytes("GET", "/next"))
    echo, nxt = c.read_responses(2)
    assert echo.body == b"hello 0123456789"
    assert nxt.body == b"/next?"


def test_wsgi_content_length_upload(probe_server, connect):
    c = connect(probe_server)
    body = bytes(range(256)) * 256
    c.send(request_bytes("POST", "/echo", body=body) + request_bytes("GET", "/next"))
    echo, nxt = c.read_responses(2)
    assert echo.body == body
    assert nxt.body == b"/next?"


def test_wsgi_expect_100_continue_sent_before_body_is_read(probe_server, connect):
    c = connect(probe_server)
    c.send(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    interim = c.read_response(method="POST")
    assert interim.status == 100, interim
    c.send(b"hello")
    final = c.read_response(method="POST")
    assert (final.status, final.body) == (200, b"hello")


def test_wsgi_no_content_length_is_chunked_on_http11(probe_server, connect):
    c = connect(probe_server)
    c.send(request_bytes("GET", "/nolength") + request_bytes("GET", "/next"))
    resp, nxt = c.read_responses(2)
    assert resp.framing == "chunked", resp
    assert resp.body == b"one,two,three"
    assert nxt.body == b"/next?"


def test_wsgi_no_content_length_is_close_delimited_on_http10(probe_server, connect):
    c = connect(probe_server)
    c.send(b"GET /nolength HTTP/1.0\r\n\r\n")
    resp = c.read_response()
    assert resp.framing == "close", resp
    assert resp.body == b"one,two,three"
    assert resp.header("Transfer-Encoding") is None


def test_wsgi_no_content_length_http10_keep_alive_still_closes(probe_server, connect):
    # Without a length the only way to end the body on 1.0 is to close the connection.
    c = connect(probe_server)
    c.send(b"GET /nolength HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    resp = c.read_response()
    assert resp.body == b"one,two,three"
    assert resp.framing == "close", resp


def test_wsgi_head_with_content_length_has_no_body(probe_server, connect):
    # The app returns a body for HEAD too; the server must drop it but keep Content-Length.
    c = connect(probe_server)
    c.send(request_bytes("HEAD", "/some/path") + request_bytes("GET", "/next"))
    head = c.read_response(method="HEAD")
    assert head.status == 200
    assert head.header("Content-Length") == str(len(b"/some/path?")), head
    nxt = c.read_response()
    assert nxt.body == b"/next?", nxt


def test_wsgi_large_response_to_a_slow_reader(probe_server, connect):
    # 8 MiB is far more than the socket buffers: the server must wait for the client to read,
    # not drop or reorder bytes, and then serve the next pipelined request.
    n = 8 * 1024 * 1024
    expected = (bytes(range(256)) * (n // 256 + 1))[:n]  # what http_probe's /big?n sends
    c = connect(probe_server, timeout=10)
    c.send(request_bytes("GET", f"/big?{n}") + request_bytes("GET", "/next"))
    head = c.read_head()
    assert head.status == 200 and head.header("Content-Length") == str(n), head
    got = bytearray()
    while len(got) < n:
        time.sleep(0.002)
        got += c._read_exact(min(65536, n - len(got)))
    assert bytes(got) == expected
    assert c.read_response().body == b"/next?"


def test_wsgi_head_without_content_length_has_no_body(probe_server, connect):
    c = connect(probe_server)
    c.send(request_bytes("HEAD", "/nolength") + request_bytes("GET", "/next"))
    head = c.read_response(method="HEAD")
    assert head.status == 200
    nxt = c.read_response()
    assert nxt.body == b"/next?", nxt


def test_connection_close_with_more_input_behind_it_is_not_reset(static_server):
    """A client that asked for the close but sent more than that request: the server must not
    close with those bytes unread, which makes the kernel send a reset (that can destroy the
    response in flight on a real network) instead of a FIN. 256 KiB of trailing bytes, more
    than the server reads in one go, so some are still in the kernel when it answers."""
    s = socket.create_connection((static_server.host, static_server.port), timeout=5)
    try:
        s.sendall(request_bytes("GET", "/", headers=[("Connection", "close")]) + b"x" * (256 * 1024))
        time.sleep(0.2)  # the response is out and the server has decided how to close
        received = b""
        while True:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                pytest.fail(f"reset instead of a FIN after {len(received)} bytes")
            if not data:
                break
            received += data
    finally:
        s.close()
    assert received.startswith(b"HTTP/1.1 200 ") and received.endswith(b"Hello, world!\n")
