"""A WSGI app for the HTTP/1.1 framing tests (test_http11.py), routed by PATH_INFO.

    yimmo-wsgi http_probe app

/__probe__   b"http_probe" (tells the tests the WSGI bridge, not the static page, answered)
/echo        the request body, read whole from wsgi.input, with Content-Length
/nolength    b"one,two,three" from a generator, without Content-Length (chunked on 1.1,
             close-delimited on 1.0)
/sleep?MS    sleeps MS milliseconds, then b"slept"
/big?N       N bytes (bytes(range(256)) repeated) as 64 KiB pieces, with Content-Length
anything else  PATH_INFO + "?" + QUERY_STRING, with Content-Length (tells pipelined requests apart);
             the request body is read whole first, so a malformed body is found before answering
"""

import time


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/__probe__":
        body = b"http_probe"
    elif path == "/echo":
        body = environ["wsgi.input"].read()
    elif path == "/sleep":
        time.sleep(int(environ.get("QUERY_STRING") or 0) / 1000)
        body = b"slept"
    elif path == "/big":
        n = int(environ.get("QUERY_STRING") or 0)
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(n))])
        return _big(n)
    elif path == "/nolength":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _pieces()
    else:
        environ["wsgi.input"].read()
        body = (path + "?" + environ.get("QUERY_STRING", "")).encode("latin-1")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _pieces():
    yield b"one,"
    yield b"two,"
    yield b"three"


def big_body(n):
    """What /big?n sends."""
    return (bytes(range(256)) * (n // 256 + 1))[:n]


def _big(n):
    data = big_body(n)
    for i in range(0, n, 65536):
        yield data[i:i + 65536]
