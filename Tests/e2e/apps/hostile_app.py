"""A WSGI app for the hostile-input, timeout and stress tests (test_hostile.py, test_stress.py),
routed by PATH_INFO.

    yimmo-wsgi hostile_app app

/hello          b"hello", with Content-Length (any OPTIONS request: b"options")
/read           reads wsgi.input whole; answers "ok <n>" or, if the read raised, "error <Type>"
                (and logs "hostile_app: body read raised <Type>" to wsgi.errors)
/consume        reads wsgi.input whole and answers "ok <n>"; a failed read propagates (the server
                answers for the app: a 400 for a malformed body, 413 for one over --max-body)
/stream?N       N bytes in 64 KiB pieces from a generator, without Content-Length (chunked)
/inject/<case>  calls start_response with CR, LF or NUL in a status, header name or value (see
                INJECTIONS); the server must refuse it, so the client gets a 500
anything else   404
"""

#: start_response arguments that try to put a raw CR, LF or NUL on the wire.
INJECTIONS = {
    "value-crlf": ("200 OK", [("X-Test", "a\r\nX-Injected: 1")]),
    "value-lf": ("200 OK", [("X-Test", "a\nX-Injected: 1")]),
    "value-cr": ("200 OK", [("X-Test", "a\rX-Injected: 1")]),
    "value-nul": ("200 OK", [("X-Test", "a\x00X-Injected: 1")]),
    "name-crlf": ("200 OK", [("X-Injected: 1\r\nX-Test", "a")]),
    "name-lf": ("200 OK", [("X-Injected: 1\nX-Test", "a")]),
    "name-cr": ("200 OK", [("X-Test\r", "a")]),
    "name-nul": ("200 OK", [("X-Test\x00X-Injected", "1")]),
    "status-crlf": ("200 OK\r\nX-Injected: 1", []),
    "status-nul": ("200 OK\x00X-Injected: 1", []),
}


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if environ["REQUEST_METHOD"] == "OPTIONS":
        return _reply(start_response, b"options")
    if path == "/hello":
        return _reply(start_response, b"hello")
    if path == "/read":
        try:
            n = len(environ["wsgi.input"].read())
        except Exception as e:  # noqa: BLE001 - the point is to report what the server raised
            name = type(e).__name__
            environ["wsgi.errors"].write(f"hostile_app: body read raised {name}: {e}\n")
            environ["wsgi.errors"].flush()
            return _reply(start_response, f"error {name}".encode())
        return _reply(start_response, f"ok {n}".encode())
    if path == "/consume":
        return _reply(start_response, b"ok %d" % len(environ["wsgi.input"].read()))
    if path == "/stream":
        n = int(environ.get("QUERY_STRING") or 0)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _stream(n)
    if path.startswith("/inject/"):
        status, headers = INJECTIONS[path[len("/inject/"):]]
        start_response(status, [("Content-Type", "text/plain")] + headers)
        return [b"injected"]
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "0")])
    return [b""]


def _reply(start_response, body):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _stream(n):
    piece = b"x" * 65536
    while n > 0:
        yield piece[:n]
        n -= len(piece)
