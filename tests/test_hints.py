"""The smaller things a newcomer meets (issue 16, item 7): each message points at the right
command. A service typo gets "did you mean"; ``%nbauth ls`` alone lists the current session's
``/``; ``%logout`` of an unknown alias lists the aliases and ``%whoami SERVICE`` names the
service's sessions or its login; ``https://`` against a plain-HTTP port says so (not "CA
bundle"); Ctrl+C at a prompt ends the login with one line, in a real terminal.
"""

from __future__ import annotations

import time

import pandas as pd
import pexpect
import pytest
from helpers import login_as
from test_terminal import PROMPT, Terminal

import nbauth


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("couchdorp", "couchdrop"), ("rocketchta", "rocketchat"), ("IOGATE", "iogates")],
)
def test_a_service_typo_gets_did_you_mean(ip, typed, meant):
    expected = rf"^Unknown service '{typed}'\. Did you mean {meant}\? Known services: couchdrop"
    with pytest.raises(nbauth.UsageError, match=expected):
        nbauth.login(typed, username="alice", password="pw")
    with pytest.raises(nbauth.UsageError, match=expected):
        ip.run_line_magic("login", typed)


def test_a_name_like_no_service_gets_no_guess():
    with pytest.raises(nbauth.UsageError) as caught:
        nbauth.login("dropbox")
    assert "Did you mean" not in caught.value.message


def test_nbauth_ls_alone_lists_the_current_sessions_root(ip, sandbox):
    with pytest.raises(nbauth.NotLoggedIn, match="Log in first"):
        ip.run_line_magic("nbauth", "ls")
    session = login_as("couchdrop")(sandbox)
    root = session.ls("/")
    pd.testing.assert_frame_equal(ip.run_line_magic("nbauth", "ls"), root)
    pd.testing.assert_frame_equal(
        ip.run_line_magic("nbauth", "ls /reports"), session.ls("/reports")
    )
    pd.testing.assert_frame_equal(ip.run_line_magic("nbauth", "ls couchdrop"), root)


def test_logout_of_an_unknown_alias_lists_the_aliases(ip, sandbox):
    login_as("couchdrop")(sandbox)
    login_as("iogates")(sandbox, alias="files")
    for run in (
        lambda: ip.run_line_magic("logout", "nope"),
        lambda: nbauth.logout("nope"),
    ):
        with pytest.raises(nbauth.NotLoggedIn) as caught:
            run()
        message = caught.value.message
        assert message.startswith("No session 'nope' to log out of. The sessions here: ")
        assert "'couchdrop', 'files'" in message and "%logout ALIAS" in message
        assert "%login" not in message and "--as" not in message
    assert len(nbauth.sessions()) == 2  # nothing was logged out
    nbauth.logout("files")
    nbauth.logout("couchdrop")
    with pytest.raises(nbauth.NotLoggedIn, match="nothing is logged in in this kernel"):
        ip.run_line_magic("logout", "nope")


def test_whoami_of_a_service_name_points_at_its_alias_or_its_login(ip, sandbox):
    with pytest.raises(nbauth.NotLoggedIn) as caught:
        ip.run_line_magic("whoami", "iogates")
    assert "no ioGates login in this kernel yet" in caught.value.message
    assert "%login iogates" in caught.value.message and "--as" not in caught.value.message
    login_as("iogates")(sandbox, alias="files")
    with pytest.raises(nbauth.NotLoggedIn) as caught:
        ip.run_line_magic("whoami", "iogates")
    message = caught.value.message
    assert "its sessions here are stored as 'files'" in message
    assert "%whoami files" in message and "%login iogates" in message
    with pytest.raises(nbauth.NotLoggedIn, match=r"To log in under that name: %login SERVICE"):
        ip.run_line_magic("whoami", "work")  # an alias that is no service: a login under it


def test_https_to_a_plain_http_port_says_so(sandbox):
    url = sandbox.urls["couchdrop"].replace("http://", "https://")
    host = url.removeprefix("https://")
    with pytest.raises(nbauth.ConnectionFailed) as caught:
        nbauth.login("couchdrop", url=url, username="alice", password="pw", timeout=10)
    message = caught.value.message
    assert message.startswith(f"Couchdrop: {host} does not speak HTTPS")
    assert "http://" in message
    assert "certificate" not in message and "verify=" not in message and "CA" not in message


def test_ctrl_c_at_a_prompt_ends_the_login_with_one_line(tmp_path, sandbox):
    terminal = Terminal(tmp_path)
    try:
        terminal.run("%load_ext nbauth")
        child = terminal.child
        for line, prompt, done in (
            (
                f"%login couchdrop --url {sandbox.urls['couchdrop']} -u alice",
                "Couchdrop password: ",
                "nothing was sent to the server",
            ),
            ("%login rocketchat", "Rocket.Chat server URL", "nothing was sent to the server"),
            (
                f"%login couchdrop --url {sandbox.urls['couchdrop']} -u bob",
                "Couchdrop password: ",
                None,
            ),
        ):
            child.sendline(line)
            child.expect_exact(prompt)
            if done is None:  # bob: the password goes, then Ctrl+C at the code's prompt
                child.sendline(sandbox.user("couchdrop", "bob").password)
                child.expect_exact("Couchdrop two-factor code: ")
                done = "the login was not finished"
            # A person's Ctrl+C comes while the prompt waits; one sent the instant the prompt
            # shows can land before Python blocks in its read, which then waits for a line.
            time.sleep(0.3)
            child.sendintr()
            child.expect(PROMPT)
            shown = str(child.before)
            lines = [text for text in shown.splitlines() if text.strip()]
            assert lines[-1].startswith("Cancelled: ") and done in lines[-1], shown
            assert "Traceback" not in shown and "KeyboardInterrupt" not in shown
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        terminal.close()
    assert nbauth.sessions().empty
