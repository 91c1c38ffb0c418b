"""PEP 3333 conformance under wsgiref.validate.validator (apps/wsgi_validated.py).

The validator raises AssertionError inside the app for any server-side violation (environ
types, wsgi.input/wsgi.errors interfaces, start_response and write() contracts, close() being
called); the server would log it with a traceback. After many request shapes the log must have
no AssertionError, traceback or WSGIWarning, and every response must be right.
"""

from pathlib import Path

import pytest

from harness import chunked, request_bytes

APPS = Path(__file__).resolve().parent / "apps"
BODY = b"".join(b"line %d of the request body\n" % i for i in range(2000)) + b"no newline at the end"


@pytest.fixture(scope="module")
def validated(start_module_server):
    return start_module_server(app="wsgi_validated:application")


def _roundtrip(server, method, path, headers=(), body=b"", version="HTTP/1.1", raw_body=None):
    with server.connect() as c:
        hdrs = list(headers) + [("Connection", "close")]
        if raw_body is not None:
            c.send(request_bytes(method, path, headers=hdrs, version=version, content_length=False) + raw_body)
        else:
            c.send(request_bytes(method, path, headers=hdrs, body=body, version=version))
        return c.read_response(method=method)


CASES = [
    # (method, path, headers, body, version, expected status, expected body or None)
    ("GET", "/hello", [], b"", "HTTP/1.1", 200, b"hello GET"),
    ("GET", "/hello?a=1&b=%20x", [("Accept", "*/*"), ("X-Repeat", "1"), ("X-Repeat", "2")], b"", "HTTP/1.1", 200, b"hello GET"),
    ("GET", "/hello", [], b"", "HTTP/1.0", 200, b"hello GET"),
    ("HEAD", "/hello", [], b"", "HTTP/1.1", 200, b""),
    ("HEAD", "/generator", [], b"", "HTTP/1.1", 200, b""),
    ("DELETE", "/hello", [], b"", "HTTP/1.1", 200, b"hello DELETE"),
    ("OPTIONS", "/hello", [], b"", "HTTP/1.1", 200, b"hello OPTIONS"),
    ("PUT", "/echo", [("Content-Type", "application/octet-stream")], BODY, "HTTP/1.1", 200, BODY),
    ("POST", "/echo", [], BODY, "HTTP/1.0", 200, BODY),
    ("POST", "/echo", [], b"", "HTTP/1.1", 200, b""),
    ("POST", "/lines", [], BODY, "HTTP/1.1", 200, BODY),
    ("POST", "/readlines", [], BODY, "HTTP/1.1", 200, BODY),
    ("GET", "/write", [], b"", "HTTP/1.1", 200, b"written twice"),
    ("GET", "/write", [], b"", "HTTP/1.0", 200, b"written twice"),
    ("GET", "/empty", [], b"", "HTTP/1.1", 204, b""),
    ("GET", "/generator", [], b"", "HTTP/1.1", 200, b"lazy generator"),
    ("GET", "/file", [], b"", "HTTP/1.1", 200, (APPS / "wsgi_validated.py").read_bytes()),
    ("GET", "/bytesio", [], b"", "HTTP/1.1", 200, b"from a BytesIO" * 100),
    ("GET", "/%7Euser/a%2Fb", [], b"", "HTTP/1.1", 200, b"hello GET"),
    ("PATCH", "/hello", [("Content-Type", "text/plain"), ("Cookie", "a=1"), ("Cookie", "b=2")], b"", "HTTP/1.1", 200, b"hello PATCH"),
]


@pytest.mark.parametrize("method,path,headers,body,version,status,expected", CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[4]}" for c in CASES])
def test_validator_shape(validated, method, path, headers, body, version, status, expected):
    resp = _roundtrip(validated, method, path, headers, body, version)
    assert resp.status == status, resp
    if expected is not None:
        assert resp.body == expected


def test_validator_chunked_upload(validated):
    pieces = [BODY[i:i + 1000] for i in range(0, len(BODY), 1000)]
    resp = _roundtrip(validated, "POST", "/echo", headers=[("Transfer-Encoding", "chunked")],
                      raw_body=chunked(*pieces))
    assert (resp.status, resp.body) == (200, BODY)


def test_validator_keep_alive_sequence(validated):
    with validated.connect() as c:
        for path in ["/hello", "/write", "/generator", "/empty", "/bytesio", "/hello"]:
            c.send(request_bytes("GET", path))
            resp = c.read_response()
            assert resp.status in (200, 204), (path, resp)


def test_validator_logged_nothing(validated):
    # Runs last in this module (pytest keeps file order): every shape above went through.
    resp = _roundtrip(validated, "GET", "/hello")
    assert resp.status == 200
    log = validated.log()
    for marker in ("AssertionError", "Traceback", "WSGIWarning", "[ERROR]"):
        assert marker not in log, log
