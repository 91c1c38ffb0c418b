"""wsgi.input, every method, over 10 MiB uploads with Content-Length and chunked (apps/wsgi_input.py).

The app reports "<length> <sha256>" of what it read; the upload is random bytes (newlines at
random places, so line methods see short and long lines), streamed while the app already reads.
"""

import hashlib
import os
import socket
import threading
import time

import pytest

from harness import request_bytes

SIZE = 10 * 1024 * 1024
METHODS = ["read", "read-none", "read-negative", "read-n", "readline", "readline-n", "readlines",
           "readlines-hint", "iter", "mixed"]


@pytest.fixture(scope="module")
def payload():
    data = bytearray(os.urandom(SIZE))
    # A 200 KiB stretch without newlines, so readline() must grow past its buffer.
    data[1_000_000:1_200_000] = b"z" * 200_000
    data = bytes(data)
    return data, "%d %s" % (len(data), hashlib.sha256(data).hexdigest())


@pytest.fixture(scope="module")
def input_server(start_module_server):
    return start_module_server(app="wsgi_input:application")


def _upload(server, path, data, chunked):
    with server.connect(timeout=60) as c:
        if chunked:
            head = request_bytes("POST", path, headers=[("Transfer-Encoding", "chunked"), ("Connection", "close")],
                                 content_length=False)
        else:
            head = request_bytes("POST", path, headers=[("Content-Length", str(len(data))), ("Connection", "close")],
                                 content_length=False)

        def produce():
            c.send(head)
            step = 256 * 1024
            for i in range(0, len(data), step):
                piece = data[i:i + step]
                if chunked:
                    c.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
                else:
                    c.send(piece)
            if chunked:
                c.send(b"0\r\n\r\n")

        sender = threading.Thread(target=produce)
        sender.start()
        resp = c.read_response(method="POST")
        sender.join(60)
        return resp


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_input_method_is_byte_exact(input_server, payload, method, framing):
    data, expected = payload
    resp = _upload(input_server, "/" + method, data, chunked=(framing == "chunked"))
    assert resp.status == 200, (resp, input_server.log()[-3000:])
    assert resp.body.decode() == expected


def test_small_and_empty_bodies(input_server):
    for body in [b"", b"x", b"\n", b"a\nb", b"a\n\n\nb\n"]:
        for method in METHODS:
            resp = input_server.request("POST", "/" + method, body=body)
            assert resp.body.decode() == "%d %s" % (len(body), hashlib.sha256(body).hexdigest()), (method, body)


def test_client_gone_mid_body_raises_in_app_and_server_keeps_serving(input_server):
    s = socket.create_connection((input_server.host, input_server.port), timeout=5)
    s.sendall(request_bytes("POST", "/read", headers=[("Content-Length", str(SIZE))], content_length=False))
    s.sendall(b"x" * 100_000)
    s.close()
    resp = input_server.request("POST", "/read", body=b"after")
    assert resp.body.decode() == "5 %s" % hashlib.sha256(b"after").hexdigest()
    assert "Traceback" not in input_server.log(), "a vanished client is not an application error"


def test_body_sent_after_the_head_ends_exactly_where_the_next_request_begins(input_server):
    # The rest of a Content-Length body is received straight into the exchange's buffer,
    # never more than the body: the next request, sent in the same segment, must stay intact.
    bodies = [os.urandom(n) for n in (1, 4095, 4096, 70_000, 300_000)]
    with input_server.connect(timeout=30) as c:
        for i, body in enumerate(bodies):
            c.send(request_bytes("POST", "/read", headers=[("Content-Length", str(len(body)))], content_length=False))
            time.sleep(0.05)  # the head is parsed and the handler waits before any body arrives
            follow = request_bytes("POST", "/read-n", body=b"next%d" % i)
            c.send(body + follow)
            first = c.read_response(method="POST")
            second = c.read_response(method="POST")
            assert first.body.decode() == "%d %s" % (len(body), hashlib.sha256(body).hexdigest())
            nxt = b"next%d" % i
            assert second.body.decode() == "%d %s" % (len(nxt), hashlib.sha256(nxt).hexdigest())
