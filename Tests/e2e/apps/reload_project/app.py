"""The application the --reload tests edit (Tests/e2e/test_reload.py copies this directory into
a temporary one for each test and runs ``yimmo-wsgi --reload app:app`` in it).

/       BODY + helpers.text.SUFFIX: b"v1-a" as shipped
/pid    this worker's pid
"""

import os

from helpers.text import SUFFIX

BODY = b"v1"


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/pid":
        body = str(os.getpid()).encode()
    else:
        body = BODY + SUFFIX
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
