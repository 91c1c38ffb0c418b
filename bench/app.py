"""The benchmark's WSGI app: one module, every server runs the same callable, routed by PATH_INFO.

    yimmo-wsgi app app                 (cwd or PYTHONPATH = bench/)
    gunicorn app:app / granian app:app / bjoern and fastwsgi via run_peer.py

/hello     b"Hello, World!" (13 bytes) with Content-Length
/chunked   a generator of 8 x 128 bytes, no Content-Length (chunked on HTTP/1.1)
/big       1 MiB in one bytes object, with Content-Length
/echo      reads the whole request body (the benchmark POSTs 64 KiB), returns its length
/sleepy    sleeps 10 ms (an app waiting on I/O), then b"slept"
/cpu       about 1 ms of pure-Python work on this machine kind, then its result
/file      wsgi.file_wrapper over a 1 MiB file, with Content-Length
"""

import os
import tempfile
import time

HELLO = b"Hello, World!"
PIECE = b"x" * 127 + b"\n"
BIG = bytes(range(256)) * 4096  # 1 MiB
FILE_SIZE = 1 << 20
CPU_ITERATIONS = 11000  # ~1 ms with Debian's Python 3.11 on this machine kind (measured ~0.43 ms per 5000)


def _bench_file():
    path = os.path.join(tempfile.gettempdir(), "yimmo-bench-1MiB.bin")
    if not os.path.exists(path) or os.path.getsize(path) != FILE_SIZE:
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(BIG[:FILE_SIZE])
        os.replace(tmp, path)
    return path


FILE_PATH = _bench_file()


def _plain(start_response, body, content_type="text/plain"):
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def _chunks():
    for _ in range(8):
        yield PIECE


def _cpu():
    acc = 0
    for i in range(CPU_ITERATIONS):
        acc += i * i % 7
    return acc


class _FileIter:
    """What a server without wsgi.file_wrapper gets: read in 64 KiB blocks, closed by the server."""

    def __init__(self, f):
        self.f = f

    def __iter__(self):
        return iter(lambda: self.f.read(65536), b"")

    def close(self):
        self.f.close()


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/hello":
        return _plain(start_response, HELLO)
    if path == "/chunked":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _chunks()
    if path == "/big":
        return _plain(start_response, BIG, "application/octet-stream")
    if path == "/echo":
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        n = 0
        if length:
            remaining = int(length)
            while remaining > 0:
                data = stream.read(min(remaining, 65536))
                if not data:
                    break
                n += len(data)
                remaining -= len(data)
        else:
            n = len(stream.read())
        return _plain(start_response, str(n).encode())
    if path == "/sleepy":
        time.sleep(0.010)
        return _plain(start_response, b"slept")
    if path == "/cpu":
        return _plain(start_response, str(_cpu()).encode())
    if path == "/file":
        f = open(FILE_PATH, "rb")
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(FILE_SIZE))])
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None:
            return wrapper(f, 65536)
        return _FileIter(f)
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
    return [b"not found"]
