"""The app ci/container-test.sh serves from the image's /app (stdlib only: no PyPI at build time).

It reports what only the running container can tell, so the test checks the image rather than
the host: which file was imported, as which user, under which parent, with which sys.prefix.
"""

import json
import os
import pwd
import sys


def app(environ, start_response):
    body = json.dumps({
        "app_file": __file__,
        "uid": os.getuid(),
        "user": pwd.getpwuid(os.getuid()).pw_name,
        # Workers are children of the supervisor, which must be PID 1 to get `podman stop`'s SIGTERM.
        "ppid": os.getppid(),
        "prefix": sys.prefix,
        "stdlib": os.path.dirname(os.__file__),
        "version": list(sys.version_info[:2]),
        "path": environ["PATH_INFO"],
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
