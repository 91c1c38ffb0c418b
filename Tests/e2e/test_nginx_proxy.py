"""nginx in front of two yimmo-wsgi instances: load is shared and, with the default
--forwarded-allow-ips (127.0.0.1), the app sees the original client, scheme and host.

Uses Debian's nginx (.ci/run installs nginx-light when no nginx is present); skips only if
nginx is missing or cannot start here. nginx runs in the foreground from a config in a tmp dir
and is stopped by its PID.
"""

import json
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness import free_port, port_accepts, recv_until_eof

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream yimmo {{
        server 127.0.0.1:{a};
        server 127.0.0.1:{b};
        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://yimmo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def _nginx_binary():
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


@pytest.fixture
def nginx(tmp_path):
    binary = _nginx_binary()
    if not binary:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    procs = []

    def start(upstream_ports):
        port = free_port()
        conf = tmp_path / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp_path, a=upstream_ports[0], b=upstream_ports[1], port=port))
        log = open(tmp_path / "nginx.out", "wb")
        proc = subprocess.Popen([binary, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        procs.append(proc)
        deadline = time.monotonic() + 10
        while not port_accepts("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                err = (tmp_path / "nginx.out").read_text(errors="replace")
                err += (tmp_path / "error.log").read_text(errors="replace") if (tmp_path / "error.log").exists() else ""
                pytest.skip(f"nginx could not run here: {err[-1500:]}")
            time.sleep(0.05)
        return port

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _get(port, path, host="app.example", extra=b""):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n".encode() + extra + b"\r\n")
        data = recv_until_eof(s)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return json.loads(body)


def test_nginx_round_robin_and_forwarded_client(start_server, nginx):
    a = start_server(app="wsgi_environ:application")
    b = start_server(app="wsgi_environ:application")
    port = nginx([a.port, b.port])
    served = set()
    for i in range(8):
        env = _get(port, f"/r{i}?n={i}")
        served.add(env["SERVER_PORT"])
        assert env["PATH_INFO"] == f"/r{i}" and env["QUERY_STRING"] == f"n={i}"
        assert env["REMOTE_ADDR"] == "127.0.0.1"  # the client of nginx, from X-Forwarded-For
        assert env["HTTP_X_FORWARDED_FOR"] == "127.0.0.1"
        assert env["wsgi.url_scheme"] == "http"
        assert env["HTTP_HOST"] == "app.example"
    assert served == {str(a.port), str(b.port)}


def test_nginx_chain_reports_the_client_before_it(start_server, nginx):
    # A client-supplied X-Forwarded-For entry in front of nginx's: nginx (127.0.0.1) is trusted,
    # so the right-most untrusted entry, the address nginx was told about, becomes REMOTE_ADDR.
    a = start_server(app="wsgi_environ:application")
    b = start_server(app="wsgi_environ:application")
    port = nginx([a.port, b.port])
    env = _get(port, "/", extra=b"X-Forwarded-For: 203.0.113.50\r\n")
    assert env["HTTP_X_FORWARDED_FOR"] == "203.0.113.50, 127.0.0.1"
    assert env["REMOTE_ADDR"] == "203.0.113.50"


def test_nginx_behind_untrusting_backend(start_server, nginx):
    a = start_server("--forwarded-allow-ips", "10.1.2.3", app="wsgi_environ:application")
    b = start_server("--forwarded-allow-ips", "10.1.2.3", app="wsgi_environ:application")
    port = nginx([a.port, b.port])
    env = _get(port, "/", extra=b"X-Forwarded-For: 203.0.113.50\r\n")
    assert env["REMOTE_ADDR"] == "127.0.0.1"  # nginx's own address: its headers are not believed
