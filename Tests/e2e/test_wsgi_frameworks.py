"""Real frameworks from the test venv (.venv, made from /usr/bin/python3 by ci/test.sh, with
flask, django and gevent from ci/requirements-test.txt), and a gevent-monkey-patched app."""

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("YIMMO_TEST_VENV", ROOT / ".venv"))


def _venv_has(module):
    return any((VENV / "lib").glob(f"python3.*/site-packages/{module}"))


def _env():
    return {"VIRTUAL_ENV": str(VENV)}


pytestmark = pytest.mark.skipif(not (VENV / "bin" / "python").exists(), reason=f"no test venv at {VENV}")


@pytest.mark.skipif(not _venv_has("flask"), reason="flask not in the test venv")
def test_flask(start_server):
    srv = start_server("--threads", "2", app="wsgi_flask:app", env=_env())
    resp = srv.request("GET", "/")
    assert (resp.status, resp.body) == (200, b"Hello from Flask")
    resp = srv.request("POST", "/echo?x=1", headers=[("Content-Type", "application/x-www-form-urlencoded")],
                       body=b"name=yimmo&lang=swift")
    assert json.loads(resp.body) == {"form": {"name": "yimmo", "lang": "swift"}, "args": {"x": "1"}, "length": 21}
    resp = srv.request("POST", "/json", headers=[("Content-Type", "application/json")], body=b'{"a": [1, 2]}')
    assert json.loads(resp.body) == {"received": {"a": [1, 2]}}
    resp = srv.request("GET", "/missing")
    assert resp.status == 404
    resp = srv.request("GET", "/boom")
    assert resp.status == 500
    assert srv.wait_for_log("Flask view failed")
    assert srv.request("GET", "/").status == 200


@pytest.mark.skipif(not _venv_has("django"), reason="django not in the test venv")
def test_django(start_server):
    srv = start_server(app="wsgi_django:application", env=dict(_env(), SCRIPT_NAME="/site"))
    resp = srv.request("GET", "/site/")
    assert (resp.status, resp.body) == (200, b"Hello from Django")
    resp = srv.request("GET", "/site/echo?a=1&b=two")
    data = json.loads(resp.body)
    assert data["method"] == "GET" and data["query"] == {"a": "1", "b": "two"}
    assert data["script_name"] == "/site" and data["path"] == "/site/echo"
    resp = srv.request("POST", "/site/echo", headers=[("Content-Type", "application/x-www-form-urlencoded")],
                       body=b"k=v&n=2")
    assert json.loads(resp.body)["form"] == {"k": "v", "n": "2"}
    assert srv.request("GET", "/site/nope").status == 404


@pytest.mark.skipif(not _venv_has("gevent"), reason="gevent not in the test venv")
@pytest.mark.parametrize("threads", ["1", "3"])
def test_gevent_monkey_patched_app(start_server, threads):
    srv = start_server("--threads", threads, app="wsgi_gevent:application", env=_env())
    for i in range(20):
        resp = srv.request("POST", f"/req{i}", body=b"payload %d" % i)
        assert resp.status == 200, (resp, srv.log()[-3000:])
        data = json.loads(resp.body)
        assert data["patched"] is True
        assert data["local"] == f"/req{i}"
        assert data["socket"] == "ping"
        assert data["body"] == f"payload {i}"
    assert "Traceback" not in srv.log()


PREFIX_APP = (
    "import sys, json\n"
    "def application(environ, start_response):\n"
    "    body = json.dumps([sys.prefix, sys.base_prefix, sys.executable, sys.path]).encode()\n"
    "    start_response('200 OK', [('Content-Type', 'application/json')])\n"
    "    return [body]\n")


def _prefix_report(start_server, tmp_path, venv):
    cwd = tmp_path / "cwd"
    extra = tmp_path / "pythonpath"
    cwd.mkdir()
    extra.mkdir()
    (extra / "prefix_app.py").write_text(PREFIX_APP)
    srv = start_server(app="prefix_app:application", env={"VIRTUAL_ENV": venv, "PYTHONPATH": str(extra)}, cwd=str(cwd))
    prefix, base, executable, path = json.loads(srv.request("GET", "/").body)
    assert path[0] == str(cwd), path
    assert path[1] == str(extra), path
    return prefix, base, executable, path


def test_venv_sys_prefix(start_server, tmp_path):
    prefix, base, executable, path = _prefix_report(start_server, tmp_path, str(VENV))
    assert Path(prefix).resolve() == VENV.resolve()
    assert base == "/usr"
    assert executable == str(VENV / "bin" / "python")
    assert any(p.endswith("site-packages") and p.startswith(str(VENV)) for p in path)


def test_no_venv_uses_the_embedded_interpreter(start_server, tmp_path):
    prefix, base, executable, path = _prefix_report(start_server, tmp_path, "")
    assert prefix == base == "/usr"
    assert executable == "/usr/bin/python3.11"
    assert not any(str(VENV) in p for p in path)


def test_venv_for_other_python_is_fatal(tmp_path):
    from harness import run_cli
    venv = tmp_path / "wrong-venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / "pyvenv.cfg").write_text("home = /opt/python3.99/bin\nversion = 3.99.1\n")
    result = run_cli("--host", "127.0.0.1", "--port", "0", "wsgi_environ:application",
                     env={"VIRTUAL_ENV": str(venv)})
    assert result.returncode not in (0, None)
    fatal = result.lines_with("FATAL")
    assert fatal and "3.99" in fatal[0] and "3.11" in fatal[0], result.output
