"""Reads the request body with one wsgi.input method and reports "<length> <sha256>" (test_wsgi_input).

    yimmo-wsgi wsgi_input:application

PATH_INFO names the method: /read /read-none /read-negative /read-n /readline /readline-n
/readlines /readlines-hint /iter /mixed
"""

import hashlib


def _consume(stream, how):
    digest = hashlib.sha256()
    total = 0

    def take(data):
        nonlocal total
        digest.update(data)
        total += len(data)

    if how == "read":
        take(stream.read())
    elif how == "read-none":
        take(stream.read(None))
    elif how == "read-negative":
        take(stream.read(-1))
    elif how == "read-n":
        while True:
            block = stream.read(10007)
            if not block:
                break
            assert len(block) <= 10007
            take(block)
    elif how == "readline":
        while True:
            line = stream.readline()
            if not line:
                break
            assert line.endswith(b"\n") or b"\n" not in line
            take(line)
    elif how == "readline-n":
        while True:
            line = stream.readline(100)
            if not line:
                break
            assert len(line) <= 100
            take(line)
    elif how == "readlines":
        for line in stream.readlines():
            take(line)
    elif how == "readlines-hint":
        while True:
            lines = stream.readlines(50000)
            if not lines:
                break
            for line in lines:
                take(line)
    elif how == "iter":
        for line in stream:
            take(line)
    elif how == "mixed":
        take(stream.read(1))
        take(stream.readline())
        take(stream.readline(7))
        take(stream.read(70000))
        for line in stream.readlines(1000):
            take(line)
        take(stream.read())
        assert stream.read() == b"" and stream.readline() == b""
    else:
        raise ValueError(how)
    return total, digest.hexdigest()


def application(environ, start_response):
    total, digest = _consume(environ["wsgi.input"], environ["PATH_INFO"].strip("/"))
    body = ("%d %s" % (total, digest)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
