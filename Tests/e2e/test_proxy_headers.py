"""--forwarded-allow-ips: X-Forwarded-* and Forwarded from a trusted peer set REMOTE_ADDR, the
scheme and the host; from any other peer they change nothing (apps/wsgi_environ.py)."""

import json

import pytest

from harness import request_bytes


def _environ(server, headers=()):
    with server.connect() as c:
        c.send(request_bytes("GET", "/", headers=list(headers) + [("Connection", "close")]))
        resp = c.read_response()
    assert resp.status == 200, resp
    return json.loads(resp.body)


@pytest.fixture(scope="module")
def trusting(start_module_server):
    # The default list is 127.0.0.1, which is where the tests connect from.
    return start_module_server(app="wsgi_environ:application")


@pytest.fixture(scope="module")
def distrusting(start_module_server):
    return start_module_server("--forwarded-allow-ips", "10.1.2.3", app="wsgi_environ:application")


PROXY_HEADERS = [
    ("X-Forwarded-For", "203.0.113.7, 198.51.100.2"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "shop.example:8443"),
]


def test_trusted_peer_sets_client_scheme_and_host(trusting):
    env = _environ(trusting, PROXY_HEADERS)
    # The right-most entry that is not a trusted proxy: the one our proxy appended.
    assert env["REMOTE_ADDR"] == "198.51.100.2"
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTP_HOST"] == "shop.example:8443"
    assert env["SERVER_NAME"] == "shop.example"
    assert env["SERVER_PORT"] == "8443"


def test_trusted_proxies_in_the_chain_are_skipped(trusting):
    env = _environ(trusting, [("X-Forwarded-For", "203.0.113.7, 127.0.0.1")])
    assert env["REMOTE_ADDR"] == "203.0.113.7"
    env = _environ(trusting, [("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-For", "127.0.0.1")])
    assert env["REMOTE_ADDR"] == "203.0.113.7"


def test_host_without_port_takes_the_schemes_port(trusting):
    env = _environ(trusting, [("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "shop.example")])
    assert (env["SERVER_NAME"], env["SERVER_PORT"], env["HTTP_HOST"]) == ("shop.example", "443", "shop.example")
    assert env["REMOTE_ADDR"] == "127.0.0.1"


def test_rfc7239_forwarded(trusting):
    env = _environ(trusting, [("Forwarded", 'for=192.0.2.60;proto=https;host=a.example, for="[2001:db8::17]:4711"')])
    assert env["REMOTE_ADDR"] == "2001:db8::17"
    # proto and host belong to the element of the chosen client, which has none: the socket's.
    assert env["wsgi.url_scheme"] == "http"
    env = _environ(trusting, [("Forwarded", 'for=192.0.2.60;proto=https;host="b.example"')])
    assert (env["REMOTE_ADDR"], env["wsgi.url_scheme"], env["HTTP_HOST"]) == ("192.0.2.60", "https", "b.example")


def test_only_http_and_https_are_accepted_schemes(trusting):
    for value in ("javascript", "ftp", "https, evil"):
        env = _environ(trusting, [("X-Forwarded-Proto", value)])
        assert env["wsgi.url_scheme"] == "http", value


def test_garbage_is_ignored(trusting):
    env = _environ(trusting, [("X-Forwarded-For", "not-an-ip"), ("X-Forwarded-Host", "bad host/x")])
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["HTTP_HOST"] == "localhost"


def test_untrusted_peer_changes_nothing(distrusting):
    env = _environ(distrusting, PROXY_HEADERS + [("Forwarded", "for=192.0.2.60;proto=https;host=x.example")])
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["wsgi.url_scheme"] == "http"
    assert env["HTTP_HOST"] == "localhost"
    assert env["SERVER_PORT"] == str(distrusting.port)
    # Still visible to the app as plain headers.
    assert env["HTTP_X_FORWARDED_FOR"] == "203.0.113.7, 198.51.100.2"
    assert env["HTTP_X_FORWARDED_PROTO"] == "https"


def test_star_and_cidr(start_server):
    for allow in ("*", "127.0.0.0/8", "10.0.0.1, 127.0.0.1", "::1, 127.0.0.1/32"):
        srv = start_server("--forwarded-allow-ips", allow, app="wsgi_environ:application")
        env = _environ(srv, [("X-Forwarded-For", "198.51.100.9")])
        assert env["REMOTE_ADDR"] == "198.51.100.9", allow
        srv.stop()


def test_env_var_and_bad_value(start_server):
    srv = start_server(app="wsgi_environ:application", env={"YIMMO_WSGI_FORWARDED_ALLOW_IPS": "10.9.9.9"})
    assert _environ(srv, [("X-Forwarded-For", "198.51.100.9")])["REMOTE_ADDR"] == "127.0.0.1"
    bad = start_server("--forwarded-allow-ips", "127.0.0.1,nonsense", wait=False)
    assert bad.wait(10) == 2
    assert "nonsense" in bad.log() and "FATAL" in bad.log()
