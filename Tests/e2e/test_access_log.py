"""--access-log / --access-log-format: one line per completed request, every value escaped."""

import json
import re
import time

from harness import request_bytes

# host ident user [time] "request" status bytes ["referer" "user-agent"]
COMMON = re.compile(r'^(\S+) - - \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "([^"]*)" (\d{3}) (\d+)$')
COMBINED = re.compile(r'^(\S+) - - \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "([^"]*)" (\d{3}) (\d+) "([^"]*)" "([^"]*)"$')

# Bytes that would end a quoted field, or confuse a reader, if written raw. The parser itself
# refuses CR, LF and other control bytes in a field value; tab and obs-text (0x80-0xFF) pass.
HOSTILE_AGENT = b'evil" 200 0 "-" "forged\\\t\xff end'


def _get(server, path="/", headers=(), raw=None):
    with server.connect() as c:
        c.send(raw if raw is not None else request_bytes("GET", path, headers=list(headers) + [("Connection", "close")]))
        return c.read_response()


def _lines(path, count, timeout=5.0):
    """The log's lines once it has `count` of them (the server flushes at least once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_bytes().decode("ascii").splitlines() if path.exists() else []
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_combined_is_the_default_and_flushes_within_a_second(start_server, tmp_path):
    log = tmp_path / "access.log"
    srv = start_server("--access-log", str(log), app="wsgi_environ:application")
    assert _get(srv, "/hello?x=1", [("Referer", "http://ref.example/"), ("User-Agent", "pytest/1")]).status == 200
    lines = _lines(log, 1, timeout=3.0)  # the server is still running: the timer flushed it
    assert len(lines) == 1, lines
    m = COMBINED.match(lines[0])
    assert m, lines[0]
    assert m.group(1) == "127.0.0.1"
    assert m.group(3) == "GET /hello?x=1 HTTP/1.1"
    assert m.group(4) == "200"
    assert int(m.group(5)) > 0
    assert (m.group(6), m.group(7)) == ("http://ref.example/", "pytest/1")


def test_common_format_and_status_and_bytes(start_server, tmp_path):
    log = tmp_path / "access.log"
    srv = start_server("--access-log", str(log), "--access-log-format", "common", app="wsgi_environ:application")
    resp = _get(srv, "/a")
    head = srv.request("HEAD", "/b")
    srv.stop()  # shutdown flushes
    lines = _lines(log, 2)
    assert len(lines) == 2, lines
    a, b = (COMMON.match(line) for line in lines)
    assert a and b, lines
    assert (a.group(3), a.group(4), int(a.group(5))) == ("GET /a HTTP/1.1", "200", len(resp.body))
    assert (b.group(3), b.group(4), b.group(5)) == ("HEAD /b HTTP/1.1", "200", "0")
    assert head.status == 200


def test_json_format(start_server, tmp_path):
    log = tmp_path / "access.log"
    srv = start_server("--access-log", str(log), app="wsgi_environ:application",
                       env={"YIMMO_WSGI_ACCESS_LOG_FORMAT": "json"})
    resp = _get(srv, "/j?q=%22", [("User-Agent", "json-agent"), ("X-Forwarded-For", "198.51.100.4")])
    _get(srv, raw=request_bytes("GET", "/hostile", headers=[("Connection", "close")])
         .replace(b"\r\n\r\n", b"\r\nUser-Agent: " + HOSTILE_AGENT + b"\r\n\r\n"))
    srv.stop()
    lines = _lines(log, 2)
    assert len(lines) == 2, lines
    first, second = (json.loads(line) for line in lines)
    assert first["remote_addr"] == "198.51.100.4"  # a trusted proxy's client
    assert (first["method"], first["target"], first["protocol"]) == ("GET", "/j?q=%22", "HTTP/1.1")
    assert (first["status"], first["bytes"]) == (200, len(resp.body))
    assert first["user_agent"] == "json-agent" and first["referer"] == ""
    assert isinstance(first["duration_us"], int) and first["duration_us"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["time"])
    assert second["user_agent"] == HOSTILE_AGENT.decode("latin-1")


def test_hostile_header_cannot_forge_a_line(start_server, tmp_path):
    log = tmp_path / "access.log"
    srv = start_server("--access-log", str(log), app="wsgi_environ:application")
    raw = request_bytes("GET", "/x", headers=[("Connection", "close"), ("Referer", 'a"b')])
    raw = raw.replace(b"\r\n\r\n", b"\r\nUser-Agent: " + HOSTILE_AGENT + b"\r\n\r\n")
    assert _get(srv, raw=raw).status == 200
    srv.stop()
    lines = _lines(log, 1)
    assert len(lines) == 1, lines
    m = COMBINED.match(lines[0])
    assert m, lines[0]
    assert m.group(4) == "200"
    assert m.group(6) == r"a\x22b"
    assert m.group(7) == r"evil\x22 200 0 \x22-\x22 \x22forged\x5c\x09\xff end"


def test_stdout_and_off_by_default(start_server):
    quiet = start_server(app="wsgi_environ:application")
    loud = start_server("--access-log", "-", app="wsgi_environ:application")
    for srv in (quiet, loud):
        assert _get(srv, "/seen-in-log").status == 200
    quiet.stop()
    loud.stop()
    assert "/seen-in-log" not in quiet.log()
    assert [line for line in loud.log().splitlines() if COMBINED.match(line) and "/seen-in-log" in line]


def test_bad_format_and_unwritable_path_are_fatal(start_server, tmp_path):
    bad = start_server("--access-log", "-", "--access-log-format", "apache", wait=False)
    assert bad.wait(10) == 2 and "apache" in bad.log()
    nowhere = start_server("--access-log", str(tmp_path / "missing" / "a.log"), wait=False)
    assert nowhere.wait(10) == 1 and "access log" in nowhere.log()


def test_requests_the_server_refuses_are_logged(start_server, tmp_path):
    log = tmp_path / "access.log"
    srv = start_server("--access-log", str(log), "--max-body", "10", app="wsgi_environ:application")
    with srv.connect() as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        assert c.read_response().status == 400
    with srv.connect() as c:
        c.send(request_bytes("POST", "/", body=b"x" * 11))
        assert c.read_response().status == 413
    srv.stop()
    lines = _lines(log, 2)
    assert len(lines) == 2, lines
    for line, status in zip(lines, ("400", "413")):
        m = COMBINED.match(line)
        assert m, line
        assert (m.group(1), m.group(3), m.group(4), m.group(6), m.group(7)) == ("127.0.0.1", "-", status, "-", "-")
        assert int(m.group(5)) > 0
