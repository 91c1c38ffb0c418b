"""gunicorn's invalid-request corpus against the real binary (``../shared/corpus/gunicorn-requests``).

Each ``invalid/*.http`` must be rejected: a 4xx/5xx or a closed connection, never a 2xx, and the
server keeps serving. The parser's own unit tests check *why* a request is rejected; here we
check what a client sees. Skipped when ``shared/`` is not beside the checkout.
"""

from __future__ import annotations

import re

import pytest

from harness import STATIC_BODY, corpus_dir, decode_corpus_http, start_probe_server

INVALID = corpus_dir() / "invalid"

# Cases gunicorn rejects only under a non-default setting of its own, or because of its own size
# limits. Our limits are checked by test_http11.py::test_oversized_header_is_rejected.
NOT_APPLICABLE = {
    "006": "request line over gunicorn's 4094-byte limit; a server may allow longer ones",
    "007": "header over gunicorn's 8190-byte field limit",
    "008": "header over gunicorn's 8190-byte field limit",
    "009": "more than gunicorn's 100-field limit",
    "010": "needs limit_request_field_size=10",
    "011": "needs limit_request_fields=2",
    "012": "needs limit_request_field_size=98",
    "013": "needs limit_request_field_size=14",
    "017": "header at gunicorn's 8190-byte field limit",
    "limit_header_default_01": "header at gunicorn's 8190-byte field limit",
    "019": "gunicorn's secure_scheme_headers (X-Forwarded-Ssl contradicting X-Forwarded-Proto is a 400); yimmo-wsgi reads only X-Forwarded-Proto",
    "040": "needs header_map=refuse (underscore header names)",
    "chunked_07": "needs header_map=refuse (underscore header names)",
}

# Errors found only in the body or trailers: a responder that answers before reading the body
# (the static page) may already have sent its 200 when it finds them.
BODY_ERRORS = {"InvalidChunkSize", "ChunkMissingTerminator", "InvalidChunkExtension", "NoMoreData"}


def _cases():
    if not INVALID.is_dir():
        return [pytest.param(None, None, id="corpus-missing",
                             marks=pytest.mark.skip(reason=f"{INVALID} not found (shared/ beside the checkout)"))]
    out = []
    for http in sorted(INVALID.glob("*.http")):
        name = http.stem
        expect = http.with_suffix(".py").read_text()
        m = re.search(r"^request\s*=\s*(\w+)", expect, re.M)
        error = m.group(1) if m else "?"
        body_level = error in BODY_ERRORS or name.startswith("rfc9110_trailer_forbidden")
        marks = [pytest.mark.skip(reason=NOT_APPLICABLE[name])] if name in NOT_APPLICABLE else []
        out.append(pytest.param(http, body_level, id=f"{name}-{error}", marks=marks))
    return out


def _exchange(server, data: bytes):
    c = server.connect()
    try:
        try:
            c.send(data)
            c.shutdown_write()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may reject and close before it has read everything
        return c.read_all_responses(timeout=5)
    finally:
        c.close()


@pytest.fixture(scope="module")
def corpus_static_server(start_module_server):
    return start_module_server("--static-response", "--idle-timeout", "2")


@pytest.mark.parametrize("http,body_level", _cases())
def test_invalid_request_rejected_static(corpus_static_server, http, body_level):
    data = decode_corpus_http(http.read_bytes())
    responses, tail = _exchange(corpus_static_server, data)
    statuses = [r.status for r in responses]
    ok = [s for s in statuses if 200 <= s < 300]
    if body_level:
        # The head was fine; at most the one early answer to it, then no second request served.
        assert len(ok) <= 1 and statuses[1:] in ([], [400]), f"sent {data!r}\ngot {responses} {tail!r}"
    else:
        assert not ok, f"accepted an invalid request:\nsent {data!r}\ngot {responses}"
        assert all(s >= 400 for s in statuses), f"sent {data!r}\ngot {responses}"
    assert corpus_static_server.is_running()
    assert corpus_static_server.request("GET", "/").body == STATIC_BODY


@pytest.fixture(scope="module")
def corpus_wsgi_server(start_module_server):
    return start_probe_server(start_module_server, "--idle-timeout", "2")


@pytest.mark.parametrize("http,body_level", _cases())
def test_invalid_request_rejected_wsgi(corpus_wsgi_server, http, body_level):
    # http_probe reads the whole body before answering, so body errors must surface too.
    data = decode_corpus_http(http.read_bytes())
    responses, tail = _exchange(corpus_wsgi_server, data)
    assert not [r for r in responses if 200 <= r.status < 300], \
        f"accepted an invalid request:\nsent {data!r}\ngot {responses}"
    assert corpus_wsgi_server.is_running()
