"""Bounded answers: a gzip bomb or an endless body stops at nbauth's limit for a JSON answer
(NBAUTH_MAX_ANSWER_MB, 8 by default) with a ServiceError naming it, and the kernel's memory
does not grow past it; downloads and whole histories are bounded by what the caller asked for.

The hostile servers are real HTTP servers on loopback (http.server on a thread); the sizes are
measured with tracemalloc (the bytes Python holds at the peak) and on the server's side (the
bytes it got to send before nbauth hung up).
"""

import asyncio
import contextlib
import gzip
import http.server
import threading
import tracemalloc
import uuid
import zlib
from urllib.parse import parse_qsl, urlsplit

import pytest
from helpers import login_as

import nbauth
from nbauth._bounded import AnswerTooLarge

MB = 2**20
CANARY = "bounded-canary-7Qx2Lp9W"


class Hostile:
    """A server that answers every request with ``body`` (bytes, or a callable that writes to
    the socket) and ``headers``, and counts the bytes it sent."""

    def __init__(self, headers, body):
        self.sent = 0
        hostile = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(200)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    if callable(body):
                        body(self.wfile, hostile)
                    else:
                        self.wfile.write(body)
                        hostile.sent += len(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client hung up: that is the point

            do_GET = do_POST = do_any

            def handle(self):
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    super().handle()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile():
    made = []

    def serve(headers, body):
        server = Hostile(headers, body)
        made.append(server)
        return server

    yield serve
    for server in made:
        server.close()


def endless(wfile, server):
    """Zeros in 64 KB chunks of chunked encoding, until the client hangs up (at most 1 GB)."""
    chunk = b"0" * 65536
    for _ in range(16384):
        wfile.write(b"10000\r\n" + chunk + b"\r\n")
        server.sent += len(chunk)
    wfile.write(b"0\r\n\r\n")


@pytest.fixture(scope="module")
def bomb():
    """100 MB of zeros gzipped: about 100 KB on the wire."""
    return gzip.compress(b"\0" * (100 * MB), compresslevel=9)


def peak_of(call):
    """What ``call`` raised, and the most memory Python held while it ran, in bytes."""
    tracemalloc.start()
    try:
        try:
            call()
        except nbauth.NbAuthError as exc:
            raised = exc
        else:
            raised = None
        return raised, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("service", ["couchdrop", "rocketchat", "iogates"])
def test_a_gzip_bomb_stops_at_the_limit_and_the_memory_stays_near_it(hostile, bomb, service):
    server = hostile({"Content-Encoding": "gzip", "Content-Length": str(len(bomb))}, bomb)

    def login():
        nbauth.login(service, url=server.url, username="alice", password=CANARY)

    raised, peak = peak_of(login)
    assert isinstance(raised, AnswerTooLarge) and isinstance(raised, nbauth.ServiceError)
    assert "limit of 8 MB" in raised.message and "NBAUTH_MAX_ANSWER_MB" in raised.message
    assert CANARY not in raised.message
    assert peak < 12 * MB  # httpx's own decoder would have held all 100 MB


def test_an_endless_body_stops_at_the_limit(hostile):
    server = hostile({"Transfer-Encoding": "chunked", "Content-Type": "application/json"}, endless)
    raised, peak = peak_of(
        lambda: nbauth.login("rocketchat", url=server.url, username="a", password=CANARY)
    )
    assert isinstance(raised, AnswerTooLarge) and raised.status == 200
    assert peak < 12 * MB
    assert server.sent < 64 * MB  # nbauth hung up; the server did not get to send its 1 GB


def test_the_async_login_is_bounded_too(hostile, bomb):
    server = hostile({"Content-Encoding": "gzip", "Content-Length": str(len(bomb))}, bomb)
    with pytest.raises(AnswerTooLarge, match="limit of 8 MB"):
        asyncio.run(nbauth.alogin("iogates", url=server.url, username="alice", password=CANARY))


def test_the_limit_is_set_with_nbauth_max_answer_mb(sandbox, monkeypatch):
    monkeypatch.setenv("NBAUTH_MAX_ANSWER_MB", "0.0005")  # 524 bytes: a login answer is more
    with pytest.raises(AnswerTooLarge, match="limit of 524 bytes"):
        login_as("rocketchat")(sandbox)
    monkeypatch.setenv("NBAUTH_MAX_ANSWER_MB", "0.5")
    assert login_as("rocketchat")(sandbox).username == "alice"


@pytest.mark.parametrize("value", ["lots", "0", "-3", "nan", "inf"])
def test_a_bad_limit_is_a_usage_error_naming_the_variable(sandbox, monkeypatch, value):
    monkeypatch.setenv("NBAUTH_MAX_ANSWER_MB", value)
    with pytest.raises(nbauth.UsageError, match="NBAUTH_MAX_ANSWER_MB"):
        login_as("couchdrop")(sandbox)


def test_deflate_raw_and_zlib_wrapped_and_gzip_answers_are_read(hostile):
    body = b'{"token": "a-token-from-a-compressing-server"}'
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    encodings = {
        "gzip": gzip.compress(body),
        "deflate": zlib.compress(body),
        "raw-deflate": raw.compress(body) + raw.flush(),
    }
    for name, encoded in encodings.items():
        coding = "deflate" if "deflate" in name else name
        server = hostile({"Content-Encoding": coding, "Content-Length": str(len(encoded))}, encoded)
        s = nbauth.login("couchdrop", url=server.url, username="a", password="b", alias=name)
        assert s.token.reveal() == "a-token-from-a-compressing-server", name


def test_a_body_that_does_not_decompress_is_connection_failed(hostile):
    garbage = b"\x1f\x8b\x08\x00 this is not gzip at all"
    server = hostile({"Content-Encoding": "gzip", "Content-Length": str(len(garbage))}, garbage)
    with pytest.raises(nbauth.ConnectionFailed, match="does not decompress"):
        nbauth.login("couchdrop", url=server.url, username="a", password=CANARY)


# -- what the caller asked for ------------------------------------------------------------------


def test_downloads_are_bounded_by_what_was_asked_not_by_the_json_limit(sandbox, monkeypatch):
    s = login_as("couchdrop")(sandbox, "dave")  # dave writes in folders of his own
    folder = f"/t-{uuid.uuid4().hex[:8]}"
    s.mkdir(folder)
    data = bytes(range(256)) * 400  # 100 KB
    s.upload(data, f"{folder}/big.bin")
    monkeypatch.setenv("NBAUTH_MAX_ANSWER_MB", "0.01")  # 10 KB for JSON answers
    assert s.download(f"{folder}/big.bin") == data
    io = nbauth.login(
        "iogates",
        url=sandbox.urls["iogates"],
        username="alice",
        password=sandbox.user("iogates", "alice").password,
        alias="io",
    )
    monkeypatch.setenv("NBAUTH_MAX_ANSWER_MB", "1")
    listing = io.ls("/", recursive=True).set_index("path")
    monkeypatch.setenv("NBAUTH_MAX_ANSWER_MB", "0.0015")  # 1.5 KB: the JPEG is 2 KB
    jpeg = listing.loc["/Projects/IMG_0752.JPG"]
    assert len(io.download(int(jpeg["id"]))) == jpeg["size"] > 0.0015 * MB


def test_a_history_too_large_for_one_answer_is_read_in_pages(sandbox, monkeypatch, caplog):
    """count=0 asks for a whole history; when it is more than the JSON limit (a window, whose
    size nobody knows) the history is read again in pages that fit."""
    import logging

    caplog.set_level(logging.INFO, logger="httpx")
    general = next(room for room in sandbox.seed.rooms if room.name == "general").messages
    s = login_as("rocketchat")(sandbox)
    s.rooms()
    monkeypatch.setenv("NBAUTH_MAX_ANSWER_MB", "0.05")  # 52 KB: 250 messages are more
    frame = s.messages("general", oldest=general[0].ts)
    assert list(frame["id"]) == [m.id for m in reversed(general)]
    counts = [
        dict(parse_qsl(urlsplit(r.getMessage().split()[3]).query))["count"]
        for r in caplog.records
        if ".history" in r.getMessage()
    ]
    assert counts[0] == "0" and set(counts[1:]) == {"100"}


def test_a_header_that_is_not_ascii_passes_through(hostile):
    """A real answer may carry UTF-8 in a header (a file name in Content-Disposition): the
    answer nbauth rebuilds keeps the raw bytes, so the login goes on (it crashed with a raw
    UnicodeEncodeError holding the header's value)."""
    body = b'{"token": "a-token-from-a-server-with-utf8-headers"}'
    disposition = 'attachment; filename="Résumé.json"'.encode()
    server = hostile(
        {"Content-Disposition": disposition.decode("latin-1"), "Content-Length": str(len(body))},
        body,
    )
    s = nbauth.login("couchdrop", url=server.url, username="a", password=CANARY)
    assert s.token.reveal() == "a-token-from-a-server-with-utf8-headers"
