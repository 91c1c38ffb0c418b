"""Application loading: the spec forms, the demo app, and load errors (FATAL + traceback,
non-zero exit)."""

import pytest

from harness import run_cli


@pytest.mark.parametrize("spec", [("wsgi_factory:create_app()",), ("wsgi_factory", "create_app()")])
def test_factory_called_once(start_server, spec):
    srv = start_server(app=spec if len(spec) == 2 else spec[0])
    for _ in range(3):
        assert srv.request("GET", "/").body == b"Hello from a factory (calls=1)"


def test_factory_with_literal_arguments(start_server):
    srv = start_server(app="wsgi_factory:create_app('Hi', times=2)")
    assert srv.request("GET", "/").body == b"Hi Hi from a factory (calls=1)"


def test_module_app_as_two_arguments(start_server):
    srv = start_server(app=("wsgi_environ", "application"))
    assert srv.request("GET", "/").status == 200


def test_module_alone_means_application(start_server):
    srv = start_server(app="wsgi_environ")
    assert srv.request("GET", "/").status == 200


def test_demo_page_without_an_app(start_server):
    srv = start_server()
    resp = srv.request("GET", "/?a=<b>")
    assert resp.status == 200
    assert resp.header("Content-Type").startswith("text/html")
    page = resp.body.decode()
    assert "yimmo-wsgi" in page and "<form" in page
    assert "REQUEST_METHOD" in page and "&lt;b&gt;" in page and "<b>" not in page
    resp = srv.request("POST", "/", headers=[("Content-Type", "application/x-www-form-urlencoded")],
                       body=b"message=%3Cscript%3E")
    page = resp.body.decode()
    assert "You posted 20 bytes" in page and "%3Cscript%3E" in page


@pytest.mark.parametrize("spec,summary,detail", [
    ("no_such_module_anywhere:app", "cannot import module 'no_such_module_anywhere'", "ModuleNotFoundError"),
    ("wsgi_import_error:app", "cannot import module 'wsgi_import_error'", "this module refuses to import"),
    ("wsgi_factory:missing", "has no attribute 'missing'", "AttributeError"),
    ("wsgi_factory:not_callable", "is not callable", None),
    ("wsgi_factory:not_an_app()", "returned not callable", None),
    ("wsgi_factory:create_app(open('x'))", "must be Python literals", "malformed node"),
    ("wsgi_factory:create_app(nope=1)", "raised", "TypeError"),
])
def test_load_errors_are_fatal(spec, summary, detail):
    result = run_cli("--host", "127.0.0.1", "--port", "0", spec)
    assert result.returncode not in (0, None), result.output
    fatal = result.lines_with("FATAL")
    assert fatal and summary in fatal[0], result.output
    if detail:
        assert detail in result.output
    if detail and "Error" in detail:
        assert "Traceback" in result.output or "Error:" in result.output
