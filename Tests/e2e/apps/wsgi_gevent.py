"""An app that monkey-patches with gevent at import (test_wsgi_frameworks).

Our workers are native threads with their own thread states: patched threading, time.sleep,
socket and thread-locals must all keep working inside requests.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

local = threading.local()


def application(environ, start_response):
    local.value = environ["PATH_INFO"]
    time.sleep(0.01)  # gevent.sleep under the patch
    pair = socket.socketpair()
    pair[0].sendall(b"ping")
    got = pair[1].recv(4)
    pair[0].close()
    pair[1].close()
    body = json.dumps({
        "patched": monkey.is_module_patched("socket"),
        "local": local.value,
        "socket": got.decode(),
        "body": environ["wsgi.input"].read().decode(),
        "thread": threading.current_thread().name,
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
