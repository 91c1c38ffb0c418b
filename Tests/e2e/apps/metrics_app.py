"""A WSGI app for the metrics tests (test_metrics.py), routed by PATH_INFO.

    yimmo-wsgi metrics_app:app

/status/NNN     answers with status NNN (any code the server accepts, 200-999)
/sleep?S        sleeps S seconds (a float), then answers 200

Every response carries ``X-Worker-Pid``: the pid of the worker process that served it.
"""

import os
import time


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    status = 200
    if path.startswith("/status/"):
        status = int(path[len("/status/"):])
    elif path == "/sleep":
        time.sleep(float(environ.get("QUERY_STRING") or "1"))
    body = f"{status} from {os.getpid()}\n".encode()
    start_response(f"{status} Test", [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                                      ("X-Worker-Pid", str(os.getpid()))])
    return [body]
