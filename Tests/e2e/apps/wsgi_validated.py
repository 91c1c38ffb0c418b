"""An app wrapped in wsgiref.validate.validator, answering many request shapes (test_wsgi_pep3333).

    yimmo-wsgi wsgi_validated:application

Any PEP 3333 violation by the server raises AssertionError inside the validator, which the
server logs with a traceback; the tests assert the log has none. Routes by PATH_INFO:

/hello        one-item list with Content-Length
/echo         the body via read(n) loop, streamed back as a generator
/lines        the body via readline() and iteration, returned as a list of lines
/readlines    the body via readlines()
/write        the write() callable, then an empty iterable
/empty        start_response only, empty list
/generator    a lazy generator that calls start_response on first next()
/file         wsgi.file_wrapper over this source file
/bytesio      wsgi.file_wrapper over a BytesIO
/head-ok      a body the server must drop for HEAD
"""

import io
from wsgiref.validate import validator


def _text(body, status="200 OK", extra=()):
    return status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))] + list(extra), body


def _app(environ, start_response):
    path = environ["PATH_INFO"]
    stream = environ["wsgi.input"]
    if path == "/echo":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])

        def pieces():
            while True:
                block = stream.read(4096)
                if not block:
                    return
                yield block

        return pieces()
    if path == "/lines":
        first = stream.readline()
        rest = [line for line in stream]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [first] + rest
    if path == "/readlines":
        lines = stream.readlines()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return lines
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        write(b"twice")
        return []
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    if path == "/generator":
        def lazy():
            start_response("200 OK", [("Content-Type", "text/plain")])
            yield b""
            yield b"lazy "
            yield b"generator"
        return lazy()
    if path == "/file":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](open(__file__, "rb"), 1024)
    if path == "/bytesio":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"from a BytesIO" * 100), 333)
    status, headers, body = _text(b"hello " + environ["REQUEST_METHOD"].encode())
    start_response(status, headers)
    return [body]


application = validator(_app)
