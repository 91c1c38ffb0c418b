"""End-to-end harness for yimmo-wsgi: start the real binary, talk raw HTTP/1.1 to it.

The pytest fixtures that wrap this module live in ``conftest.py``, whose docstring is the guide
to the whole API. This module holds the plain classes so tests can also import them::

    from harness import RawConnection, Response, request_bytes, STATIC_BODY

Nothing here can hang: every socket operation has a timeout and every wait has a deadline.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

E2E_DIR = Path(__file__).resolve().parent
REPO = E2E_DIR.parents[1]
APPS_DIR = E2E_DIR / "apps"
DEFAULT_BIN = REPO / ".build" / "release" / "yimmo-wsgi"
# shared/ sits beside the checkout (read-only in CI); tests that need it skip without it.
SHARED_DIR = REPO.parent / "shared"

#: What `--static-response` serves for every request.
STATIC_BODY = b"Hello, world!\n"

#: Default per-operation socket timeout, seconds.
IO_TIMEOUT = 5.0
#: How long `start_server` waits for the port to accept, seconds.
READY_TIMEOUT = 10.0


def yimmo_bin() -> str:
    """The binary under test: ``$YIMMO_BIN``, else ``<repo>/.build/release/yimmo-wsgi``."""
    return os.environ.get("YIMMO_BIN") or str(DEFAULT_BIN)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind to 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_accepts(host: str, port: int, timeout: float = 0.2) -> bool:
    """True when a TCP connect to host:port succeeds right now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    """preexec_fn: the server gets SIGKILL if pytest dies, so no run leaves a server behind."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def server_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the server runs with.

    Starts from this process's environment minus every inherited ``YIMMO_*`` variable (so a
    developer's shell cannot change what a test sees), plus ``YIMMO_WSGI_POLLER`` from
    ``$E2E_POLLER`` when set, then applies ``env``. PYTHONPATH becomes
    the caller's PYTHONPATH (from ``env``), then ``Tests/e2e/apps``, then the inherited one. When
    pytest runs inside a virtualenv and the caller sets no VIRTUAL_ENV, VIRTUAL_ENV is set to it,
    so apps can import what ``ci/requirements-test.txt`` installed.
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith("YIMMO_")}
    # E2E_POLLER=select reruns the whole suite on another readiness backend (ci/test.sh does).
    if os.environ.get("E2E_POLLER"):
        base["YIMMO_WSGI_POLLER"] = os.environ["E2E_POLLER"]
    inherited_pp = base.pop("PYTHONPATH", "")
    caller = dict(env or {})
    parts = [caller.pop("PYTHONPATH", ""), str(APPS_DIR), inherited_pp]
    base.update(caller)
    base["PYTHONPATH"] = os.pathsep.join(p for p in parts if p)
    base.setdefault("PYTHONUNBUFFERED", "1")
    base.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    if sys.prefix != sys.base_prefix and "VIRTUAL_ENV" not in caller:
        base["VIRTUAL_ENV"] = sys.prefix
    return base


#: Servers started through a ServerFactory and not yet stopped (their logs go into failure reports).
LIVE_SERVERS: list["Server"] = []


class ServerStartError(AssertionError):
    """The server exited, or never accepted connections, while starting."""


class Server:
    """One running yimmo-wsgi process started by the harness.

    Attributes: ``host``, ``port``, ``pid``, ``proc`` (``subprocess.Popen``), ``argv``,
    ``log_path`` (its stderr). Use ``stop()`` to end it; the fixtures stop it at teardown anyway.
    """

    def __init__(self, proc: subprocess.Popen, host: str, port: int, argv: list[str], log_path: Path):
        self.proc = proc
        self.pid = proc.pid
        self.host = host
        self.port = port
        self.argv = argv
        self.log_path = log_path
        #: Logs of earlier runs of this server (before restart()).
        self.old_logs: list[Path] = []
        #: Set when the harness or the test itself stopped or signalled the process, so an exit
        #: is expected; an exit without it is a crash (see conftest's crash guard).
        self.exit_expected = False
        self.crash_reported = False
        self._respawn: tuple = (None, None, READY_TIMEOUT)

    def __repr__(self) -> str:
        return f"<Server pid={self.pid} {self.host}:{self.port} argv={self.argv[1:]}>"

    # -- observation -----------------------------------------------------------------------

    def url(self, path: str = "/") -> str:
        """``http://host:port`` + path."""
        return f"http://{self.host}:{self.port}{path}"

    def log(self) -> str:
        """Everything the server wrote to stderr (and stdout) so far, decoded."""
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, needle: str, timeout: float = 5.0) -> bool:
        """Poll the log until it contains ``needle``; True if it did within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log():
                return True
            time.sleep(0.02)
        return needle in self.log()

    @property
    def returncode(self) -> int | None:
        """None while running, else the exit status (negative = killed by that signal)."""
        return self.proc.poll()

    def is_running(self) -> bool:
        return self.proc.poll() is None

    # -- talking to it ---------------------------------------------------------------------

    def connect(self, timeout: float = IO_TIMEOUT) -> "RawConnection":
        """A new raw TCP connection to the server."""
        return RawConnection(self.host, self.port, timeout=timeout)

    def request(self, method: str = "GET", path: str = "/", headers: Sequence[tuple[str, str]] | None = None,
                body: bytes = b"", version: str = "HTTP/1.1", timeout: float = IO_TIMEOUT) -> "Response":
        """One request on a fresh connection (``Connection: close`` added); returns the response."""
        hdrs = list(headers or [])
        if not any(k.lower() == "connection" for k, _ in hdrs):
            hdrs.append(("Connection", "close"))
        with self.connect(timeout=timeout) as c:
            c.send(request_bytes(method, path, headers=hdrs, body=body, version=version))
            return c.read_response(method=method)

    # -- stopping --------------------------------------------------------------------------

    def crashed(self) -> bool:
        """The process exited although nobody stopped or signalled it."""
        return self.proc.poll() is not None and not self.exit_expected

    def restart(self) -> None:
        """Start the same argv again on the same port (after a crash); waits until ready."""
        if self.proc.poll() is None:
            self.stop()
        env, cwd, ready_timeout = self._respawn
        self.old_logs.append(self.log_path)
        self.log_path = self.log_path.with_name(f"{self.log_path.stem}-r{len(self.old_logs)}.log")
        self.proc = _spawn(self.argv, env, cwd, self.log_path)
        self.pid = self.proc.pid
        self.exit_expected = False
        self.crash_reported = False
        wait_ready(self, ready_timeout)

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to this process (only this PID), if it is still running."""
        self.exit_expected = True
        if self.proc.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` s for exit; the return code, or None if still running."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send ``sig``, wait up to ``timeout`` s, then SIGKILL if needed; returns the exit status.

        A return of ``-9`` (``-signal.SIGKILL``) means the server ignored ``sig`` and had to be
        killed. Safe to call twice: a stopped server returns its recorded status.
        """
        self.exit_expected = True
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            if self.wait(timeout) is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


def _spawn(argv: list[str], env: Mapping[str, str] | None, cwd, log_path: Path) -> subprocess.Popen:
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                env=server_env(env), cwd=cwd, preexec_fn=_die_with_parent)


def launch(*args: str, env: Mapping[str, str] | None = None, cwd: str | os.PathLike | None = None,
           app: str | Sequence[str] | None = None, host: str = "127.0.0.1", port: int | None = None,
           bind_flags: bool = True, wait: bool = True, ready_timeout: float = READY_TIMEOUT,
           log_dir: Path, registry: list[Server] | None = None) -> Server:
    """Start the binary; see ``conftest.py`` (``start_server``) for the meaning of each argument."""
    fixed_port = port is not None
    attempts = 1 if fixed_port else 3
    last_error: Exception | None = None
    for attempt in range(attempts):
        p = port if fixed_port else free_port(host)
        argv = [yimmo_bin()]
        if bind_flags:
            argv += ["--host", host, "--port", str(p)]
        argv += list(args)
        if app is not None:
            argv += [app] if isinstance(app, str) else list(app)
        log_path = log_dir / f"yimmo-{p}-{time.monotonic_ns()}.log"
        proc = _spawn(argv, env, cwd, log_path)
        server = Server(proc, host if host not in ("0.0.0.0", "") else "127.0.0.1", p, argv, log_path)
        server._respawn = (env, cwd, ready_timeout)
        if registry is not None:
            registry.append(server)
        if not wait:
            server.exit_expected = True  # the caller watches this one (e.g. a startup failure)
            return server
        try:
            wait_ready(server, ready_timeout)
            return server
        except ServerStartError as e:
            server.stop(signal.SIGKILL, timeout=5)
            last_error = e
            # Another process may have taken our free port in between: retry on a new one.
            if fixed_port or "in use" not in server.log().lower():
                raise
    assert last_error is not None
    raise last_error


def wait_ready(server: Server, timeout: float = READY_TIMEOUT) -> None:
    """Poll-connect until the port accepts; raise ServerStartError (with the log) otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise ServerStartError(
                f"yimmo-wsgi exited with status {server.proc.returncode} while starting\n"
                f"argv: {server.argv}\n--- log ---\n{server.log()}")
        if port_accepts(server.host, server.port):
            return
        time.sleep(0.02)
    raise ServerStartError(f"yimmo-wsgi did not accept on {server.host}:{server.port} within {timeout}s\n"
                           f"argv: {server.argv}\n--- log ---\n{server.log()}")


class ServerFactory:
    """Starts servers (``factory(*args, **kwargs)`` = ``launch``) and stops them all at once."""

    def __init__(self, log_dir: Path):
        self.log_dir = Path(log_dir)
        self.servers: list[Server] = []

    def __call__(self, *args: str, **kwargs) -> Server:
        kwargs.setdefault("log_dir", self.log_dir)
        before = len(self.servers)
        try:
            return launch(*args, registry=self.servers, **kwargs)
        finally:
            LIVE_SERVERS.extend(self.servers[before:])

    def stop_all(self) -> None:
        for s in self.servers:
            s.stop()
            if s in LIVE_SERVERS:
                LIVE_SERVERS.remove(s)
        self.servers.clear()


def start_probe_server(factory: "ServerFactory", *args: str, **kwargs) -> Server:
    """Start ``apps/http_probe.py`` with ``args``; skip the test if the binary has no WSGI bridge."""
    import pytest
    srv = factory(*args, app=("http_probe", "app"), **kwargs)
    resp = srv.request("GET", "/__probe__")
    if resp.body == STATIC_BODY:
        pytest.skip("this binary answers apps with the static page (WSGI bridge not merged)")
    assert resp.body == b"http_probe", resp
    return srv


@dataclass
class CLIResult:
    """What a short CLI run did: ``returncode``, ``stdout``, ``stderr`` (str), ``timed_out``."""
    argv: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def lines_with(self, needle: str) -> list[str]:
        return [ln for ln in self.output.splitlines() if needle in ln]


def run_cli(*args: str, env: Mapping[str, str] | None = None, timeout: float = 10.0) -> CLIResult:
    """Run the binary to completion (``--help``, bad flags...). Killed after ``timeout`` s."""
    argv = [yimmo_bin(), *args]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=server_env(env), preexec_fn=_die_with_parent)
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=10)
        timed_out = True
    return CLIResult(argv, None if timed_out else proc.returncode, out.decode("utf-8", "replace"),
                     err.decode("utf-8", "replace"), timed_out)


# ------------------------------------------------------------------------------------------------
# Raw HTTP/1.1
# ------------------------------------------------------------------------------------------------

def recv_until_eof(sock: socket.socket) -> bytes:
    """Everything a plain socket receives until the peer closes (its own timeout applies)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def request_bytes(method: str = "GET", path: str = "/", headers: Iterable[tuple[str, str]] | None = None,
                  body: bytes = b"", version: str = "HTTP/1.1", host: str | None = "localhost",
                  content_length: bool | None = None) -> bytes:
    """Serialize one request.

    ``Host: localhost`` is added first unless ``host`` is None or ``headers`` has a Host.
    ``Content-Length`` is added when there is a body (or ``content_length=True``) and ``headers``
    has neither Content-Length nor Transfer-Encoding; ``content_length=False`` never adds it.
    The body is sent as given (pass already-chunked bytes with a Transfer-Encoding header).
    """
    hdrs = list(headers or [])
    names = {k.lower() for k, _ in hdrs}
    lines = [f"{method} {path} {version}"]
    if host is not None and "host" not in names:
        lines.append(f"Host: {host}")
    lines += [f"{k}: {v}" for k, v in hdrs]
    want_cl = content_length if content_length is not None else bool(body)
    if want_cl and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(*pieces: bytes, trailers: Sequence[tuple[str, str]] = (), ext: str = "") -> bytes:
    """Encode ``pieces`` as a chunked body (each piece one chunk), with optional trailers."""
    out = b"".join(b"%x%s\r\n%s\r\n" % (len(p), ext.encode(), p) for p in pieces if p)
    out += b"0\r\n" + b"".join(f"{k}: {v}\r\n".encode() for k, v in trailers) + b"\r\n"
    return out


@dataclass
class Response:
    """One parsed HTTP response as read off the wire."""
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    #: How the body was delimited: "none" (HEAD/1xx/204/304), "length", "chunked" or "close".
    framing: str = "none"
    trailers: list[tuple[str, str]] = field(default_factory=list)
    #: The exact bytes of the head (status line through the blank line).
    raw_head: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        n = name.lower()
        for k, v in self.headers:
            if k.lower() == n:
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def has_token(self, name: str, token: str) -> bool:
        """Whether a comma-separated header (e.g. Connection) contains ``token``."""
        toks = [t.strip().lower() for v in self.header_all(name) for t in v.split(",")]
        return token.lower() in toks

    def __repr__(self) -> str:
        return (f"<Response {self.version} {self.status} {self.reason!r} framing={self.framing} "
                f"headers={self.headers} body[{len(self.body)}]={self.body[:80]!r}>")


class HTTPProtocolError(AssertionError):
    """The server sent bytes that are not a valid HTTP/1.x response."""


class HTTPTimeout(AssertionError):
    """The server sent nothing (more) within the timeout; carries what had arrived."""


class PeerClosed(AssertionError):
    """The connection ended (EOF or reset) before a complete response arrived."""


_STATUS_RE = re.compile(rb"^HTTP/(\d)\.(\d) (\d{3})(?: (.*))?$")


class RawConnection:
    """A client socket with a byte buffer and a strict HTTP/1.x response reader.

    Every read has ``timeout`` seconds (per recv) and raises ``HTTPTimeout`` rather than block.
    Use as a context manager or call ``close()``.
    """

    def __init__(self, host: str, port: int, timeout: float = IO_TIMEOUT):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    def __enter__(self) -> "RawConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def reset(self) -> None:
        """Close with RST (SO_LINGER 0) instead of FIN, like a crashed client."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_slowly(self, data: bytes, step: int = 1, pause: float = 0.0) -> None:
        """Send ``data`` ``step`` bytes per write (TCP_NODELAY is on), pausing between writes."""
        for i in range(0, len(data), step):
            self.sock.sendall(data[i:i + step])
            if pause:
                time.sleep(pause)

    def shutdown_write(self) -> None:
        """Half-close: tell the server we will send nothing more."""
        self.sock.shutdown(socket.SHUT_WR)

    # -- low-level reads -------------------------------------------------------------------

    def _fill(self, timeout: float | None = None) -> bool:
        """Read once into the buffer. False on EOF/reset. Raises HTTPTimeout."""
        if self.eof:
            return False
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise HTTPTimeout(f"no data from server within {self.sock.gettimeout()}s; "
                              f"buffered so far: {bytes(self.buf[:300])!r}") from None
        except ConnectionResetError:
            self.eof = True
            return False
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _read_line(self, limit: int = 65536) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > limit:
                raise HTTPProtocolError(f"line longer than {limit} bytes: {bytes(self.buf[:200])!r}")
            if not self._fill():
                raise PeerClosed(f"connection closed mid-line; got {bytes(self.buf[:300])!r}")

    def _read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise PeerClosed(f"connection closed after {len(self.buf)} of {n} body bytes")
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_available(self, wait: float = 0.2) -> bytes:
        """Whatever arrives within ``wait`` s (b"" if nothing); does not raise on timeout/EOF."""
        deadline = time.monotonic() + wait
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                if not self._fill(timeout=left):
                    break
            except HTTPTimeout:
                break
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def read_until_eof(self, timeout: float = IO_TIMEOUT) -> bytes:
        """Read until the server closes; returns the bytes that came first.

        Raises ``HTTPTimeout`` if the connection is still open after ``timeout`` s.
        """
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HTTPTimeout(f"server did not close the connection within {timeout}s; "
                                  f"received meanwhile: {bytes(self.buf[:300])!r}")
            try:
                self._fill(timeout=left)
            except HTTPTimeout:
                raise HTTPTimeout(f"server did not close the connection within {timeout}s; "
                                  f"received meanwhile: {bytes(self.buf[:300])!r}") from None
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def assert_eof(self, timeout: float = IO_TIMEOUT) -> None:
        """Assert the server closes within ``timeout`` s with no further bytes."""
        extra = self.read_until_eof(timeout)
        assert extra == b"", f"server sent unexpected bytes before closing: {extra[:300]!r}"

    def is_open(self, wait: float = 0.3) -> bool:
        """True if, for ``wait`` s, the server neither closes nor sends anything.

        Raises AssertionError if the server sends unsolicited bytes.
        """
        extra = self.read_available(wait)
        assert extra == b"", f"server sent unsolicited bytes: {extra[:300]!r}"
        return not self.eof

    # -- responses -------------------------------------------------------------------------

    def read_head(self) -> Response:
        """Read a status line and headers (no body)."""
        head = bytearray()
        line = self._read_line()
        head += line + b"\r\n"
        m = _STATUS_RE.match(line)
        if not m:
            raise HTTPProtocolError(f"bad status line {line[:200]!r}; following bytes {bytes(self.buf[:200])!r}")
        headers: list[tuple[str, str]] = []
        while True:
            line = self._read_line()
            head += line + b"\r\n"
            if line == b"":
                break
            if b":" not in line or line[:1] in (b" ", b"\t"):
                raise HTTPProtocolError(f"bad header line {line[:200]!r}")
            k, v = line.split(b":", 1)
            if k != k.strip() or not k:
                raise HTTPProtocolError(f"bad header name {k!r}")
            headers.append((k.decode("latin-1"), v.strip(b" \t").decode("latin-1")))
            if len(headers) > 200:
                raise HTTPProtocolError("more than 200 response headers")
        return Response(version=f"HTTP/{m.group(1).decode()}.{m.group(2).decode()}", status=int(m.group(3)),
                        reason=(m.group(4) or b"").decode("latin-1"), headers=headers, raw_head=bytes(head))

    def read_response(self, method: str = "GET", skip_informational: bool = False) -> Response:
        """Read one complete response (RFC 9112 §6.3 body rules).

        ``method`` must be the request's method ("HEAD" responses have no body). A 1xx response
        is returned as is (no body) unless ``skip_informational``, which reads past them to the
        final response. Body: none for HEAD/1xx/204/304; chunked if Transfer-Encoding ends in
        chunked; Content-Length bytes if present; otherwise until the server closes.
        """
        while True:
            resp = self.read_head()
            if 100 <= resp.status < 200:
                if skip_informational:
                    continue
                return resp
            break
        if method.upper() == "HEAD" or resp.status in (204, 304):
            return resp
        te = [t.strip().lower() for v in resp.header_all("transfer-encoding") for t in v.split(",")]
        cls = resp.header_all("content-length")
        if te:
            if te[-1] != "chunked":
                raise HTTPProtocolError(f"Transfer-Encoding {te} does not end in chunked")
            if cls:
                raise HTTPProtocolError("response has both Transfer-Encoding and Content-Length")
            resp.framing = "chunked"
            resp.body, resp.trailers = self._read_chunked()
        elif cls:
            if len(set(cls)) != 1 or not cls[0].isdigit():
                raise HTTPProtocolError(f"bad Content-Length {cls}")
            resp.framing = "length"
            resp.body = self._read_exact(int(cls[0]))
        else:
            resp.framing = "close"
            resp.body = self.read_until_eof()
        return resp

    def _read_chunked(self) -> tuple[bytes, list[tuple[str, str]]]:
        body = bytearray()
        while True:
            line = self._read_line()
            size_txt = line.split(b";", 1)[0].strip()
            if not size_txt or not re.fullmatch(rb"[0-9a-fA-F]+", size_txt):
                raise HTTPProtocolError(f"bad chunk size line {line[:100]!r}")
            size = int(size_txt, 16)
            if size == 0:
                break
            body += self._read_exact(size)
            if self._read_exact(2) != b"\r\n":
                raise HTTPProtocolError("chunk data not followed by CRLF")
        trailers = []
        while True:
            line = self._read_line()
            if line == b"":
                break
            k, _, v = line.partition(b":")
            trailers.append((k.decode("latin-1"), v.strip().decode("latin-1")))
        return bytes(body), trailers

    def read_responses(self, n: int, method: str = "GET") -> list[Response]:
        """Read ``n`` responses in a row (e.g. after a pipelined write)."""
        return [self.read_response(method=method) for _ in range(n)]

    def read_all_responses(self, timeout: float = IO_TIMEOUT) -> tuple[list[Response], bytes]:
        """Read responses until the server closes; returns (responses, unparseable tail).

        For tests that must not assume how many responses come (e.g. after a rejected request).
        """
        responses: list[Response] = []
        deadline = time.monotonic() + timeout
        while True:
            if not self.buf:
                try:
                    if not self._fill(timeout=max(0.01, deadline - time.monotonic())):
                        return responses, b""
                except HTTPTimeout:
                    raise HTTPTimeout(f"server did not close within {timeout}s after {len(responses)} "
                                      f"responses: {responses}") from None
            saved = bytes(self.buf)
            try:
                responses.append(self.read_response())
            except (HTTPProtocolError, PeerClosed):
                return responses, saved


# ------------------------------------------------------------------------------------------------
# The gunicorn request corpus (shared/corpus/gunicorn-requests)
# ------------------------------------------------------------------------------------------------

_ESCAPE_RE = re.compile(rb"\\(r|n|t|0|x[0-9a-fA-F]{2})")


def decode_corpus_http(raw: bytes) -> bytes:
    """Decode a corpus ``.http`` file: real newlines are dropped; ``\\r \\n \\t \\0 \\xHH`` decoded."""
    raw = raw.replace(b"\n", b"")

    def sub(m: re.Match) -> bytes:
        e = m.group(1)
        if e == b"r":
            return b"\r"
        if e == b"n":
            return b"\n"
        if e == b"t":
            return b"\t"
        if e == b"0":
            return b"\0"
        return bytes([int(e[1:], 16)])

    return _ESCAPE_RE.sub(sub, raw)


def corpus_dir() -> Path:
    return SHARED_DIR / "corpus" / "gunicorn-requests"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError as e:
        return e.errno == errno.EPERM
