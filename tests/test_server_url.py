"""No silent public default (issue 16, item 2): Rocket.Chat is self-hosted, so a login without a
URL goes nowhere. The Python API says ``url=`` is needed and sends nothing; ``%login
rocketchat`` asks for the server (the terminal's prompt, the form's empty URL field) or, where
nobody can answer, names NBAUTH_ROCKETCHAT_URL. Every success and failure line names the host.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from helpers import login_as
from test_terminal import PROMPT, Terminal

import nbauth
from nbauth import vault
from nbauth.form import LoginForm
from nbauth.testing import answering


@pytest.fixture
def nothing_sent():
    """Every request a login makes goes to a recorder instead of the network (the old default,
    https://open.rocket.chat, is never reached), answered 200 with an empty object."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    with answering(httpx.MockTransport(answer)):
        yield sent


def test_the_python_api_says_url_is_needed_and_sends_nothing(nothing_sent):
    for login in (
        lambda: nbauth.login("rocketchat", username="alice", password="pw"),
        lambda: nbauth.login("rocketchat", token="a-token", user_id="an-id"),
        lambda: asyncio.run(nbauth.alogin("rocketchat", username="alice", password="pw")),
    ):
        with pytest.raises(nbauth.UsageError, match=r"^Rocket\.Chat: url= is needed") as caught:
            login()
        assert "like https://chat.example.com" in caught.value.message
        assert "NBAUTH_ROCKETCHAT_URL" in caught.value.message
        assert "pw" not in caught.value.message.replace("password", "")
    assert nothing_sent == []


def test_a_login_many_row_without_url_fails_alone(nothing_sent):
    rows = [
        {"service": "rocketchat", "username": "alice", "password": "pw"},
        {"service": "rocketchat", "url": "http://127.0.0.1:9", "username": "a", "password": "pw"},
    ]
    table = nbauth.login_many(rows, storage=False)
    assert table["error"].iloc[0].startswith("UsageError: Rocket.Chat: url= is needed")
    assert nothing_sent and {request.url.host for request in nothing_sent} == {"127.0.0.1"}


def test_forgetting_a_saved_rocketchat_login_needs_its_url():
    with pytest.raises(nbauth.UsageError, match="url= is needed"):
        vault.forget("rocketchat")


def test_headless_login_names_the_url_variable(ip, monkeypatch, nothing_sent):
    """pytest's stdin is no terminal: nobody can answer, so the error names what to set."""
    monkeypatch.setenv("NBAUTH_ROCKETCHAT_USERNAME", "alice")
    monkeypatch.setenv("NBAUTH_ROCKETCHAT_PASSWORD", "pw")
    with pytest.raises(nbauth.UsageError) as caught:
        ip.run_line_magic("login", "rocketchat")
    message = caught.value.message
    assert message.startswith("Rocket.Chat login needs url")
    assert "Set NBAUTH_ROCKETCHAT_URL (the server: Rocket.Chat has no default" in message
    assert nothing_sent == []


def test_the_terminal_asks_for_the_server_and_names_it(tmp_path, sandbox):
    url, alice = sandbox.urls["rocketchat"], sandbox.user("rocketchat", "alice")
    terminal = Terminal(tmp_path)
    try:
        terminal.run("%load_ext nbauth")
        child = terminal.child
        child.sendline("%login rocketchat")
        child.expect_exact("Rocket.Chat server URL (like https://chat.example.com): ")
        child.sendline(url)
        child.expect_exact(f"Logging in to Rocket.Chat at {url}.")
        child.expect_exact("Rocket.Chat username: ")
        child.sendline("alice")
        child.expect_exact("Rocket.Chat password: ")
        child.sendline(alice.password)
        child.expect_exact(f"Logged in to Rocket.Chat at {url} as alice")
        child.expect(PROMPT)
        child.sendline("%login rocketchat --url " + url + " -u alice")
        child.expect_exact(f"Logging in to Rocket.Chat at {url}.")
        child.expect_exact("Rocket.Chat password: ")
        child.sendline("wrong-password")
        child.expect(PROMPT)
        host = url.removeprefix("http://")
        assert f"AccessDenied: Rocket.Chat login failed (HTTP 401 from {host})" in str(child.before)
    finally:
        terminal.close()


def test_the_form_leaves_the_url_empty_and_requires_it(sandbox):
    alice = sandbox.user("rocketchat", "alice")
    form = LoginForm("rocketchat")
    assert form.url.value == ""
    assert "https://chat.example.com" in form.url.placeholder
    form.username.value, form.password.value = "alice", alice.password
    form.button.click()
    assert form.session is None
    assert "Fill in URL" in form.status.value
    form.url.value = sandbox.urls["rocketchat"]
    form.password.value = alice.password  # the first click used it up
    form.button.click()
    assert form.session is not None and form.session.url == sandbox.urls["rocketchat"]
    assert sandbox.urls["rocketchat"] in form.status.value  # the success line names it
    couchdrop = LoginForm("couchdrop")  # a service with a public host keeps it
    assert couchdrop.url.value == "https://api.couchdrop.io"


@pytest.mark.parametrize("service", ["couchdrop", "rocketchat", "iogates"])
def test_success_and_failure_name_the_host(sandbox, service):
    url = sandbox.urls[service]
    host = url.removeprefix("http://")
    session = login_as(service)(sandbox)
    from nbauth.report import summary

    assert summary(session).startswith(f"Logged in to {session.title} at {url} as alice")
    with pytest.raises(nbauth.AccessDenied) as caught:
        login_as(service)(sandbox, password="wrong")
    assert f" login failed (HTTP 401 from {host}): " in caught.value.message or (
        f" login failed (HTTP 403 from {host}): " in caught.value.message
    )

    async def wrong() -> None:
        await nbauth.alogin(service, url=url, username="alice", password="wrong")

    with pytest.raises(nbauth.AccessDenied, match=rf"failed \(HTTP 40[13] from {host}\)"):
        asyncio.run(wrong())
