"""Every environ key PEP 3333 and the brief ask for (apps/wsgi_environ.py)."""

import json
import socket
import time

import pytest

from harness import chunked, free_port, recv_until_eof, request_bytes


@pytest.fixture(scope="module")
def environ_server(start_module_server):
    return start_module_server(app="wsgi_environ:application")


def _environ(server, method="GET", path="/", headers=(), body=b"", version="HTTP/1.1", raw_body=None):
    with server.connect() as c:
        hdrs = list(headers) + [("Connection", "close")]
        if raw_body is None:
            c.send(request_bytes(method, path, headers=hdrs, body=body, version=version))
        else:
            c.send(request_bytes(method, path, headers=hdrs, version=version, content_length=False) + raw_body)
        resp = c.read_response(method=method)
    assert resp.status == 200, resp
    return json.loads(resp.body)


def test_required_keys_and_types(environ_server):
    env = _environ(environ_server, path="/some/path?x=1&y=%41")
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/some/path"
    assert env["QUERY_STRING"] == "x=1&y=%41"
    assert env["SERVER_NAME"]
    assert env["SERVER_PORT"] == str(environ_server.port)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"].isdigit()
    assert env["HTTP_HOST"] == "localhost"
    assert env["wsgi.version"] == [1, 0]
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.multithread"] is False
    assert env["wsgi.multiprocess"] is False
    assert env["wsgi.run_once"] is False
    assert env["wsgi.input_terminated"] is True
    assert env["_file_wrapper_callable"] is True
    assert env["_input_methods"] == ["read", "readline", "readlines", "__iter__"]
    assert env["_errors_methods"] == ["write", "writelines", "flush"]
    types = env["_types"]
    for key, value in types.items():
        if "." not in key:
            assert value == "str", (key, value)
    assert types["wsgi.version"] == "tuple"
    assert "CONTENT_TYPE" not in env and "CONTENT_LENGTH" not in env


def test_query_string_always_present(environ_server):
    env = _environ(environ_server, path="/nothing")
    assert env["QUERY_STRING"] == ""
    env = _environ(environ_server, path="/empty?")
    assert env["QUERY_STRING"] == ""


def test_http10_protocol(environ_server):
    env = _environ(environ_server, version="HTTP/1.0")
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0"


def test_later_http1_minor_versions_are_served_as_http11(environ_server):
    # RFC 9110 §2.5: processed as the highest 1.x the server conforms to, keep-alive included.
    with environ_server.connect() as c:
        for version in ("HTTP/1.2", "HTTP/1.9"):
            c.send(request_bytes("GET", "/", version=version))
            resp = c.read_response()
            assert resp.status == 200, resp
            assert resp.version == "HTTP/1.1"
            assert json.loads(resp.body)["SERVER_PROTOCOL"] == "HTTP/1.1"


def test_content_type_and_length_only_when_sent(environ_server):
    env = _environ(environ_server, "POST", "/form", headers=[("Content-Type", "application/x-www-form-urlencoded")],
                   body=b"a=1&b=2")
    assert env["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert env["CONTENT_LENGTH"] == "7"
    assert env["_body"] == "a=1&b=2"
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env


def test_chunked_body_has_no_content_length(environ_server):
    env = _environ(environ_server, "POST", "/chunked", headers=[("Transfer-Encoding", "chunked")],
                   raw_body=chunked(b"abc", b"def"))
    assert "CONTENT_LENGTH" not in env
    assert env["HTTP_TRANSFER_ENCODING"] == "chunked"
    assert env["_body"] == "abcdef"


def test_path_info_is_percent_decoded_latin1(environ_server):
    env = _environ(environ_server, path="/caf%C3%A9/a%20b/%2F/%zz?q=%C3%A9")
    # UTF-8 bytes carried as latin-1 characters, as PEP 3333 requires.
    assert env["PATH_INFO"] == "/caf\u00c3\u00a9/a b///%zz"
    assert env["PATH_INFO"].encode("latin-1").decode("utf-8") == "/café/a b///%zz"
    assert env["QUERY_STRING"] == "q=%C3%A9"


def test_header_names_mapped_and_joined(environ_server):
    env = _environ(environ_server, headers=[
        ("X-Custom-Thing", "one"), ("x-custom-thing", "two"),
        ("Cookie", "a=1"), ("Cookie", "b=2"),
        ("Accept-Language", "en"), ("X-Latin1", "caf\u00e9"),
    ])
    assert env["HTTP_X_CUSTOM_THING"] == "one, two"
    assert env["HTTP_COOKIE"] in ("a=1; b=2", "a=1, b=2")
    assert env["HTTP_ACCEPT_LANGUAGE"] == "en"
    assert env["HTTP_X_LATIN1"] == "caf\u00e9"


def test_underscore_header_names_dropped(environ_server):
    env = _environ(environ_server, headers=[("X_Forwarded_For", "6.6.6.6"), ("X-Forwarded-For", "1.2.3.4")])
    assert env["HTTP_X_FORWARDED_FOR"] == "1.2.3.4"
    assert not any("6.6.6.6" in str(v) for v in env.values())


def test_script_name_from_environment(start_server):
    srv = start_server(app="wsgi_environ:application", env={"SCRIPT_NAME": "/mount"})
    env = _environ(srv, path="/mount/inner/page?x=1")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/mount", "/inner/page")
    env = _environ(srv, path="/mount")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/mount", "")
    env = _environ(srv, path="/mountain")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/mount", "/mountain")


def test_multithread_flag_with_threads(start_server):
    srv = start_server("--threads", "3", app="wsgi_environ:application")
    env = _environ(srv)
    assert env["wsgi.multithread"] is True


def test_each_new_connection_sees_its_own_peer_and_body(environ_server):
    # The server recycles a closed connection's exchange for the next one: nothing of the
    # previous client (its port, its body, a large body's buffer) may show through.
    for i in range(40):
        size = (i * 7919) % 70000 if i % 3 else 0
        body = bytes([65 + i % 26]) * size
        with environ_server.connect() as c:
            port = c.sock.getsockname()[1]
            c.send(request_bytes("POST", f"/n{i}", headers=[("Connection", "close")], body=body))
            resp = c.read_response(method="POST")
        assert resp.status == 200, resp
        env = json.loads(resp.body)
        assert env["REMOTE_PORT"] == str(port)
        assert env["PATH_INFO"] == f"/n{i}"
        if size:
            assert env["CONTENT_LENGTH"] == str(size)
        assert env["_body"] == body.decode("latin-1")


def test_a_client_gone_mid_request_does_not_disturb_the_next_connections(start_module_server):
    # The abandoned request's exchange stays with its handler until the app returns, so it
    # must not be handed to a new connection before then.
    server = start_module_server(app="wsgi_environ:application")
    for _ in range(5):
        c = server.connect()
        c.send(request_bytes("POST", "/gone", headers=[("Content-Length", "100000")], content_length=False) + b"x" * 1000)
        c.close()
    for i in range(10):
        env = _environ(server, method="POST", path=f"/after{i}", body=b"y" * i)
        assert env["PATH_INFO"] == f"/after{i}"
        assert env["_body"] == "y" * i


def test_header_values_reused_between_requests_stay_exact(environ_server):
    # The server reuses the str of a field value a client repeats (Host, User-Agent...):
    # a changed value, a value of the same length, a repeat within one request and a
    # non-ASCII byte must each come through as sent.
    sequence = [
        [("X-Val", "alpha")],
        [("X-Val", "alpha")],
        [("X-Val", "alphb")],
        [("X-Val", "alpha"), ("X-Val", "alpha")],
        [("X-Val", "caf\xe9")],
        [("X-Val", "caf\xe9")],
        [("X-Val", "")],
        [("X-Val", "alpha")],
    ]
    expected = ["alpha", "alpha", "alphb", "alpha, alpha", "caf\xe9", "caf\xe9", "", "alpha"]
    for headers, want in zip(sequence, expected):
        env = _environ(environ_server, headers=headers)
        assert env["HTTP_X_VAL"] == want


def test_server_and_client_addresses_follow_each_connection(start_server):
    # SERVER_NAME, SERVER_PORT and REMOTE_ADDR are kept in the worker's base environ while
    # they stay the same: alternating listeners and client addresses on one worker thread must
    # still give every request its own.
    second = free_port("127.0.0.2")
    srv = start_server("--bind", f"127.0.0.2:{second}", app="wsgi_environ:application")
    routes = [("127.0.0.1", srv.port, "127.0.0.1"), ("127.0.0.2", second, "127.0.0.3"),
              ("127.0.0.2", second, "127.0.0.2"), ("127.0.0.1", srv.port, "127.0.0.4")]
    for host, port, source in routes * 3:
        with socket.create_connection((host, port), timeout=5, source_address=(source, 0)) as s:
            s.sendall(request_bytes("GET", "/", headers=[("Connection", "close")]))
            data = recv_until_eof(s)
        assert data.startswith(b"HTTP/1.1 200"), data[:200]
        env = json.loads(data.partition(b"\r\n\r\n")[2])
        assert (env["SERVER_NAME"], env["SERVER_PORT"], env["REMOTE_ADDR"]) == (host, str(port), source)


def test_a_connection_reused_after_any_ending_starts_clean(start_server):
    # Closed connections are reset and reused for new sockets, newest first: whatever state the
    # last one ended in (a refused head, a body cut off, a pending 100 Continue, pipelined
    # requests, a chunked body), the next connection must behave like a new one.
    srv = start_server("--threads", "1", app="wsgi_environ:application")

    def raw(data, wait=0.2):
        with socket.create_connection((srv.host, srv.port), timeout=5) as s:
            s.sendall(data)
            time.sleep(wait)

    endings = [
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        request_bytes("POST", "/cut", headers=[("Content-Length", "1000")], content_length=False) + b"z" * 10,
        request_bytes("POST", "/cont", headers=[("Content-Length", "5"), ("Expect", "100-continue")],
                      content_length=False),
        request_bytes("GET", "/p1") + request_bytes("GET", "/p2") + request_bytes("GET", "/p3"),
        request_bytes("POST", "/ch", headers=[("Transfer-Encoding", "chunked")], content_length=False)
        + chunked(b"abc", b"de"),
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
    ]
    for index, ending in enumerate(endings):
        raw(ending)
        with srv.connect() as c:
            for n in range(2):
                body = b"fresh%d-%d" % (index, n)
                c.send(request_bytes("POST", f"/after{index}", body=body))
                resp = c.read_response(method="POST")
                assert resp.status == 200, (index, resp)
                env = json.loads(resp.body)
                assert env["PATH_INFO"] == f"/after{index}"
                assert env["_body"] == body.decode()
                assert env["CONTENT_LENGTH"] == str(len(body))
                assert "HTTP_EXPECT" not in env and "HTTP_TRANSFER_ENCODING" not in env
