"""The framework examples in examples/ answer a GET and a POST (form and JSON) through yimmo-wsgi,
served from the test venv (ci/requirements-test.txt has flask, django, falcon and bottle)."""

import json
from urllib.parse import urlencode

import pytest

from harness import REPO

EXAMPLES = REPO / "examples"

CASES = [
    ("flask", "flask_app:app", EXAMPLES, "Hello from Flask, 127.0.0.1!\n"),
    ("django", "mysite.wsgi:application", EXAMPLES / "django_project", "Hello from Django, 127.0.0.1!\n"),
    ("falcon", "falcon_app:app", EXAMPLES, "Hello from Falcon, 127.0.0.1!\n"),
    ("bottle", "bottle_app:app", EXAMPLES, "Hello from Bottle, 127.0.0.1!\n"),
]


@pytest.mark.parametrize("framework,app,path,greeting", CASES, ids=[c[0] for c in CASES])
def test_example(start_server, framework, app, path, greeting):
    pytest.importorskip(framework)
    srv = start_server("--threads", "2", app=app, env={"PYTHONPATH": str(path)})

    resp = srv.request("GET", "/")
    assert resp.status == 200, resp.body
    assert resp.header("Content-Type").startswith("text/plain")
    assert resp.body.decode() == greeting

    form = urlencode({"name": "Zoë", "n": "1"}).encode()
    resp = srv.request("POST", "/echo", headers=[("Content-Type", "application/x-www-form-urlencoded")], body=form)
    assert resp.status == 200, resp.body
    assert json.loads(resp.body) == {"framework": framework, "form": {"name": "Zoë", "n": "1"}}

    doc = {"items": [1, 2, 3], "ok": True}
    resp = srv.request("POST", "/echo", headers=[("Content-Type", "application/json")], body=json.dumps(doc).encode())
    assert resp.status == 200, resp.body
    assert resp.header("Content-Type").startswith("application/json")
    assert json.loads(resp.body) == {"framework": framework, "json": doc}
