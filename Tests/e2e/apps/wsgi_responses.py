"""Response-side behaviour: exc_info, write(), close() counting, file_wrapper, errors, threads
(test_wsgi_responses). Routes by PATH_INFO:

/stats               JSON {"closed": {...}, "made": {...}}: close() calls per route name
/list-close          an iterable with close(), two items
/stream-forever      64 KiB items until the client goes away; counts close()
/small-forever       100-byte items until the client goes away; counts close()
/raise-in-iter       yields one item, then raises (after the head went out); counts close()
/raise-before        raises before start_response
/raise-first-item    a generator raising before its first item; counts close()
/non-bytes           start_response, then a str item
/no-start            returns a body without calling start_response
/start-twice         start_response twice without exc_info
/exc-info-replace    start_response, then an error caught and start_response(500, exc_info)
/exc-info-late       the head is out (write()), then start_response(..., exc_info) must re-raise
/bad-header          a header value with CR LF
/bad-status          a status without a reason phrase separator
/write               write() pieces, then returns more
/file                wsgi.file_wrapper over a real file (?skip=N reads N bytes first; ?cl=N sets Content-Length)
/bytesio             wsgi.file_wrapper over a BytesIO (read in blocks)
/errors              writes three lines to wsgi.errors
/slow                sleeps ?s= seconds (default 2), then answers
/fast                answers at once
/big-list            one 1 MiB item
/lent                one ?n= byte item (40000, 300000 or 1048576; default 1 MiB)
/lent-stats          JSON {"alive": N}: references to /lent bodies still held
/empty-items         b"" items around one real item
"""

import io
import json
import os
import sys
import tempfile
import time
from urllib.parse import parse_qs

CLOSED = {}
FILE_DATA = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4 bytes
_FILE = os.path.join(tempfile.gettempdir(), "yimmo-wsgi-file-%d.bin" % os.getpid())
with open(_FILE, "wb") as f:
    f.write(FILE_DATA)


class Counted:
    """An iterable whose close() is counted under a route name."""

    def __init__(self, name, items):
        self.name = name
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def close(self):
        CLOSED[self.name] = CLOSED.get(self.name, 0) + 1


class CountedGenerator:
    def __init__(self, name, generator):
        self.name = name
        self.generator = generator

    def __iter__(self):
        return self

    def __next__(self):
        return next(self.generator)

    def close(self):
        CLOSED[self.name] = CLOSED.get(self.name, 0) + 1
        getattr(self.generator, "close", lambda: None)()


def _query(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


# Large bodies are written from the app's bytes object itself, not a copy, and a worker drops
# the server's reference once the server is done with it. Exact bytes objects (subclasses take
# the streaming path), kept here: a reference still held shows in their reference counts.
LENT = {n: b"z" * n for n in (40_000, 300_000, 1 << 20)}
LENT_BASE_REFS = {n: sys.getrefcount(body) for n, body in LENT.items()}


def lent_alive():
    return sum(sys.getrefcount(body) - LENT_BASE_REFS[n] for n, body in LENT.items())


def application(environ, start_response):
    path = environ["PATH_INFO"]
    query = _query(environ)
    plain = [("Content-Type", "text/plain")]

    if path == "/stats":
        body = json.dumps({"closed": CLOSED}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if path == "/list-close":
        start_response("200 OK", plain)
        return Counted("list-close", [b"first,", b"second"])
    if path in ("/stream-forever", "/small-forever"):
        start_response("200 OK", plain)
        block = b"x" * 65536 if path == "/stream-forever" else b"y" * 100

        def forever():
            while True:
                yield block

        return CountedGenerator(path[1:], forever())
    if path == "/raise-in-iter":
        start_response("200 OK", plain)

        def broken():
            yield b"partial"
            raise RuntimeError("failure after the head went out")

        return CountedGenerator("raise-in-iter", broken())
    if path == "/raise-before":
        raise RuntimeError("failure before start_response")
    if path == "/raise-first-item":
        def early():
            raise RuntimeError("failure before the first item")
            yield b"never"

        start_response("200 OK", plain)
        return CountedGenerator("raise-first-item", early())
    if path == "/non-bytes":
        start_response("200 OK", plain)
        return ["a str, not bytes"]
    if path == "/no-start":
        return [b"body without a status"]
    if path == "/start-twice":
        start_response("200 OK", plain)
        start_response("201 Created", plain)
        return [b"twice"]
    if path == "/exc-info-replace":
        start_response("200 OK", plain + [("X-First", "1")])
        try:
            raise ValueError("caught by the app")
        except ValueError:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain"), ("X-Replaced", "1")], sys.exc_info())
        return [b"replaced"]
    if path == "/exc-info-late":
        write = start_response("200 OK", plain)
        write(b"head is out;")
        try:
            raise ValueError("raised after the head went out")
        except ValueError:
            try:
                start_response("500 Internal Server Error", plain, sys.exc_info())
            except ValueError:
                CLOSED["exc-info-reraised"] = CLOSED.get("exc-info-reraised", 0) + 1
                raise
        return [b"unreachable"]
    if path == "/bad-header":
        start_response("200 OK", plain + [("X-Evil", "a\r\nInjected: yes")])
        return [b"must not be sent"]
    if path == "/bad-status":
        start_response("200OK", plain)
        return [b"must not be sent"]
    if path == "/write":
        write = start_response("200 OK", plain)
        write(b"one,")
        write(b"")
        write(bytearray(b"two,"))
        return [b"three"]
    if path == "/file":
        skip = int(query.get("skip", "0"))
        f = open(_FILE, "rb")
        if skip:
            f.read(skip)
        headers = list(plain)
        if "cl" in query:
            headers.append(("Content-Length", query["cl"]))
        start_response("200 OK", headers)
        return environ["wsgi.file_wrapper"](f, 65536)
    if path == "/bytesio":
        start_response("200 OK", plain)
        return environ["wsgi.file_wrapper"](io.BytesIO(FILE_DATA), 10000)
    if path == "/errors":
        errors = environ["wsgi.errors"]
        errors.write("first error line\nsecond ")
        errors.writelines(["error line\n", "third error line\n"])
        errors.flush()
        start_response("200 OK", plain)
        return [b"logged"]
    if path == "/slow":
        time.sleep(float(query.get("s", "2")))
        start_response("200 OK", plain)
        return [b"slow"]
    if path == "/fast":
        start_response("200 OK", plain)
        return [b"fast"]
    if path == "/lent":
        start_response("200 OK", plain)
        return [LENT[int(query.get("n", 1 << 20))]]
    if path == "/lent-stats":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"alive": lent_alive()}).encode()]
    if path == "/big-list":
        start_response("200 OK", plain)
        return [b"y" * (1 << 20)]
    if path == "/empty-items":
        start_response("200 OK", plain)
        return CountedGenerator("empty-items", iter([b"", b"", b"only", b""]))
    start_response("404 Not Found", plain)
    return [b"no such route"]
