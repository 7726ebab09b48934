"""`nbauth.sandbox.remote`, what the example notebooks use to reach a sandbox that runs in another
process: the demo credentials it hands out log in, and a missing sandbox says what to start."""

from __future__ import annotations

import pytest

import nbauth
from nbauth.sandbox import Sandbox, remote


@pytest.fixture
def connected(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> remote.RemoteSandbox:
    for name, value in sandbox.env.items():
        monkeypatch.setenv(name, value)
    return remote.connect()


def test_password_and_totp_log_in_the_two_factor_user(sandbox, connected):
    url = sandbox.urls["rocketchat"]
    password = connected.password("rocketchat", "bob")
    assert password.reveal() not in repr(password) + str(password)
    s = nbauth.login(
        "rocketchat",
        url=url,
        username="bob",
        password=password,
        code=connected.totp("rocketchat", "bob"),
    )
    assert s.username == "bob"


def test_tokens_log_in(sandbox, connected):
    admin = nbauth.login(
        "couchdrop", url=sandbox.urls["couchdrop"], token=connected.token("couchdrop")
    )
    assert admin.username == "alice"
    pat = nbauth.login(
        "rocketchat",
        url=sandbox.urls["rocketchat"],
        token=connected.token("rocketchat"),
        user_id=connected.user_id("rocketchat"),
    )
    assert pat.username == "alice"


def test_sms_code_finishes_the_protected_share(connected):
    link = connected.share_url("sms")
    assert link == connected.share_url("sms")
    with pytest.raises(nbauth.TwoFactorRequired):
        nbauth.login("iogates", share_url=link)
    s = nbauth.login("iogates", share_url=link, code=connected.sms_code(link))
    assert s.kind == "share-url"


def test_email_code_finishes_carols_login(sandbox, connected):
    args = {"url": sandbox.urls["rocketchat"], "username": "carol"}
    password = connected.password("rocketchat", "carol")
    with pytest.raises(nbauth.TwoFactorRequired):
        nbauth.login("rocketchat", password=password, **args)
    code = connected.email_code("carol")
    assert nbauth.login("rocketchat", password=password, code=code, **args).username == "carol"


def test_totp_of_a_user_without_an_app_is_a_clear_error(connected):
    with pytest.raises(nbauth.NbAuthError, match="alice has no authenticator app"):
        connected.totp("rocketchat", "alice")


def test_connect_without_the_variables_names_them():
    with pytest.raises(nbauth.NbAuthError, match=r"NBAUTH_COUCHDROP_URL.*make lab"):
        remote.connect()


def test_a_sandbox_that_is_gone_says_what_to_start(sandbox, monkeypatch):
    for name in ("couchdrop", "rocketchat", "iogates"):
        monkeypatch.setenv(f"NBAUTH_{name.upper()}_URL", sandbox.closed_url)
    with pytest.raises(nbauth.NbAuthError, match=r"did not answer.*python -m nbauth\.sandbox"):
        remote.connect().password("couchdrop", "alice")
