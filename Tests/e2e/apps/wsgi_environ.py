"""Reports the environ as JSON (test_wsgi_environ).

    yimmo-wsgi wsgi_environ:application

str values as they are; other values by type name plus a few facts the tests check.
"""

import json


def application(environ, start_response):
    report = {}
    for key, value in environ.items():
        if isinstance(value, str):
            report[key] = value
        elif isinstance(value, (bool, tuple)):
            report[key] = value
        else:
            report[key] = type(value).__name__
    report["_types"] = {k: type(v).__name__ for k, v in environ.items()}
    report["_input_methods"] = [m for m in ("read", "readline", "readlines", "__iter__") if hasattr(environ["wsgi.input"], m)]
    report["_errors_methods"] = [m for m in ("write", "writelines", "flush") if hasattr(environ["wsgi.errors"], m)]
    report["_file_wrapper_callable"] = callable(environ.get("wsgi.file_wrapper"))
    report["_body"] = environ["wsgi.input"].read().decode("latin-1")
    body = json.dumps(report, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
