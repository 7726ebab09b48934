"""Tiny HTTP servers on loopback that keep every byte they receive, for the tests that check
what reaches a place nbauth must not send a secret to.

``RecordingProxy`` is an HTTP forward proxy (what ``HTTP_PROXY`` points at): it keeps each
request as it arrived, request line, headers and body, and either forwards it to its target
(``forward=True``) or answers 502. ``RecordingServer`` is a web server that keeps each request
and answers ``/redirect?to=URL`` with a 302 to that URL, anything else with 200 and a small JSON.
Both run on a thread of their own; use them as context managers.
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


class _Recorder:
    handler: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        self.server.recorder = self  # type: ignore[attr-defined]
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def raw(self) -> str:
        """Everything received, as text: request lines, headers and bodies."""
        return "\n".join(
            f"{r['line']}\n{r['headers']}\n{r['body'].decode('utf-8', 'replace')}"
            for r in self.received
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _record(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        entry = {
            "line": self.requestline,
            "method": self.command,
            "path": self.path,
            "headers": str(self.headers),
            "header_dict": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
        }
        self.server.recorder.received.append(entry)  # type: ignore[attr-defined]
        return entry

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    def _handle(self) -> None:
        raise NotImplementedError


class _ProxyHandler(_Handler):
    def do_CONNECT(self) -> None:
        self._record()
        self._answer(502, b"no tunnels here")

    def _handle(self) -> None:
        entry = self._record()
        recorder = self.server.recorder  # type: ignore[attr-defined]
        if not recorder.forward or not entry["path"].startswith("http://"):
            self._answer(502, b"the recording proxy forwards nothing")
            return
        target = urlsplit(entry["path"])
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"
        }
        connection = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=10)
        path = target.path + (f"?{target.query}" if target.query else "")
        connection.request(self.command, path or "/", body=entry["body"] or None, headers=headers)
        answer = connection.getresponse()
        body = answer.read()
        kept = {
            k: v
            for k, v in answer.getheaders()
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"
        }
        connection.close()
        self._answer(answer.status, body, kept)


class RecordingProxy(_Recorder):
    """An HTTP forward proxy on 127.0.0.1 that keeps what it receives."""

    handler = _ProxyHandler

    def __init__(self, forward: bool = False) -> None:
        super().__init__()
        self.forward = forward


class _ServerHandler(_Handler):
    def _handle(self) -> None:
        entry = self._record()
        parts = urlsplit(entry["path"])
        if parts.path == "/redirect":
            to = parse_qs(parts.query).get("to", [""])[0]
            self._answer(302, b"", {"Location": to})
            return
        self._answer(200, json.dumps({"ok": True}).encode(), {"Content-Type": "application/json"})


class RecordingServer(_Recorder):
    """A web server on 127.0.0.1 that keeps each request (``headers_of(i)``) and redirects
    ``/redirect?to=URL``."""

    handler = _ServerHandler

    def url_as(self, host: str) -> str:
        """This server's URL under another name of loopback (``localhost``)."""
        return f"http://{host}:{self.port}"
