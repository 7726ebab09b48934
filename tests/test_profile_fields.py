"""What a session's profile shows: only the fields nbauth knows, and no secret of the session's
in any cell, whatever a server puts in its account answer.

A hostile Couchdrop on loopback answers ``/manage/account`` with the fields of the real one plus
fields no profile should show (an API token, a TOTP seed, billing data, the session's own token
in part), and with the token inside a known field's value and inside a field's name. The
profile is shown by ``%login``'s report, by ``%whoami`` and by ``profile_frame()``: each is
searched, as bytes, for every canary and for any 8 characters in a row of the token.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import figures
import pytest
from IPython.utils.capture import capture_output

import nbauth
from nbauth.services.couchdrop import PROFILE_FIELDS

TOTP_SEED = "JBSWY3DP" + secrets.token_hex(8).upper()
BILLING = "cus_canary" + secrets.token_hex(8)


class HostileCouchdrop(BaseHTTPRequestHandler):
    """A Couchdrop whose account answer repeats the token it was sent, and more."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        token = self.headers.get("token", "")
        if self.path == "/manage/account":
            body = {
                "account": {
                    "username": "alice",
                    "email_address": f"{token}@example.org",  # a known field holding it
                    "subscription_type": {token[2:14]: "business"},  # a name holding part of it
                    "endpoint__valid_public_key": "ssh-ed25519 AAAA alice",
                    "stripe__customer": {"id": BILLING, "email": "alice@example.org"},
                    "api_token": token,
                    "totp_seed": TOTP_SEED,
                    "sftp_pass": token[:10],
                }
            }
        else:
            body = {"storage": []}
        self.answer(200, body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.answer(200, {"token": TOKENS["password login"]})

    def answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


#: The token of each kind of login: an admin API token, and the one a password login gets.
TOKENS = {
    "admin token": "AdminTok-canary-" + secrets.token_hex(10),
    "password login": "session-canary-" + secrets.token_hex(10),
}


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), HostileCouchdrop)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def leaks(texts: dict[str, str], token: str) -> list[str]:
    """Where a canary, or any 8 characters in a row of ``token``, shows."""
    runs = {token[at : at + 8] for at in range(len(token) - 7)}
    found = []
    for where, text in texts.items():
        data = text.encode()
        for name, canary in {"TOTP seed": TOTP_SEED, "billing id": BILLING}.items():
            if canary.encode() in data:
                found.append(f"the {name} in {where}")
        found += [f"token run {run!r} in {where}" for run in runs if run.encode() in data]
    return found


def shown(captured: Any) -> str:
    """What a cell printed and displayed, every MIME type of it."""
    outputs = [json.dumps(output.data, default=str) for output in captured.outputs]
    return captured.stdout + captured.stderr + "".join(outputs)


@pytest.mark.parametrize("kind", list(TOKENS))
def test_the_profile_shows_only_known_fields_and_no_secret_of_the_session(
    ip, hostile, monkeypatch, kind
):
    token = TOKENS[kind]
    monkeypatch.setenv("NBAUTH_COUCHDROP_URL", hostile)
    if kind == "admin token":
        monkeypatch.setenv("NBAUTH_COUCHDROP_TOKEN", token)
    else:
        monkeypatch.setenv("NBAUTH_COUCHDROP_USERNAME", "alice")
        monkeypatch.setenv("NBAUTH_COUCHDROP_PASSWORD", "not-the-canary-" + secrets.token_hex(4))
    texts = {}
    with capture_output() as captured:
        result = ip.run_cell("s = %login couchdrop", store_history=False)
    assert result.success, result.error_in_exec
    texts["%login's report"] = shown(captured)
    assert "Profile:" in texts["%login's report"]  # the profile card, as text
    with capture_output() as captured:
        assert ip.run_cell("%whoami", store_history=False).success
    texts["%whoami"] = shown(captured)
    session = ip.user_ns["s"]
    frame = session.profile_frame()
    texts["profile_frame()"] = frame.to_string() + frame.to_html() + repr(frame.to_dict())
    # (session.profile, the dict, keeps the known fields as the server sent them: a Known limit)

    found = leaks(texts, token)
    figures.add("canary checks: profile tables (report, %whoami, profile_frame)", len(texts))
    figures.add("canary hits", len(found))
    assert found == []
    account = session.profile["account"]
    assert set(account) <= set(PROFILE_FIELDS)
    assert {"username", "email_address", "endpoint__valid_public_key"} <= set(account)
    fields = dict(zip(frame["field"], frame["value"], strict=True))
    assert fields["account.username"] == "alice"
    assert fields["account.endpoint__valid_public_key"] == "ssh-ed25519 AAAA alice"
    assert fields["account.email_address"].endswith("@example.org")  # the token in it masked
    assert "account.api_token" not in fields and "account.totp_seed" not in fields
    del ip.user_ns["s"]


def test_a_profile_table_masks_a_stored_sessions_token_in_a_field_or_its_name(ip, hostile):
    """The masking on its own: a profile whose known fields hold the token (a hostile
    Rocket.Chat's ``name``, say) shows it masked, in a value and in a field's name."""
    token = TOKENS["admin token"]
    session = nbauth.login("couchdrop", url=hostile, token=token)
    session._profile = {"name": f"user {token}", "emails": {token[:12]: "x"}, "active": True}
    frame = session.profile_frame()
    text = frame.to_string() + frame.to_html()
    assert token[:8] not in text and token[-8:] not in text
    assert "user ********" in text and "True" in text
    assert frame["value"].tolist()[-1] is True  # a cell without a secret is left as it was
    figures.add("canary checks: profile tables (report, %whoami, profile_frame)", 1)
