"""A WSGI app for the process and lifecycle tests (test_processes.py), routed by PATH_INFO.

    yimmo-wsgi proc_app:app

/pid            this worker's pid
/sleep?S        sleeps S seconds (a float), then answers b"slept S"
/exit           os._exit(1): the worker dies mid-request, as an application can make it
/multiprocess   wsgi.multiprocess and wsgi.multithread, e.g. b"multiprocess=True multithread=False"
/version        what $PROC_APP_VERSION_FILE held when this module was imported (tells a reload's
                fresh import from the old one)

At import, when $PROC_APP_CRASH_MARKER names an existing file, the process exits with status 1:
a worker that dies at start, for the back-off tests.
"""

import os
import time

_marker = os.environ.get("PROC_APP_CRASH_MARKER")
if _marker and os.path.exists(_marker):
    os._exit(1)

_version_file = os.environ.get("PROC_APP_VERSION_FILE")
VERSION = open(_version_file).read().strip() if _version_file and os.path.exists(_version_file) else "none"


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/pid":
        body = str(os.getpid()).encode()
    elif path == "/sleep":
        seconds = float(environ.get("QUERY_STRING") or "1")
        time.sleep(seconds)
        body = f"slept {seconds}".encode()
    elif path == "/exit":
        os._exit(1)
    elif path == "/multiprocess":
        body = f"multiprocess={environ['wsgi.multiprocess']} multithread={environ['wsgi.multithread']}".encode()
    elif path == "/version":
        body = VERSION.encode()
    else:
        body = b"proc_app"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
