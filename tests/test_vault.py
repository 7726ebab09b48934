"""Saved logins (nbauth.vault): save=True and %login --save, against the sandbox over real HTTP.

There is no OS keyring on CI machines (on this one keyring's only backend is its failing one,
keyring.backends.fail.Keyring), so the stand-in for the OS keyring is ``Memory``: a real keyring
backend class with priority 1 (the lowest keyring recommends), put in place with
``keyring.set_keyring`` just as keyring puts the macOS Keychain or a Secret Service in place. nbauth
reaches it only through keyring's public API; the tests read its ``entries`` to see exactly what
was stored. An autouse fixture makes keyring's failing backend the active one for every other
test here, so that no test can write to a developer's real keyring.
"""

import asyncio
import json
import os
import sys

import keyring
import pytest
from IPython.utils.capture import capture_output
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import KeyringLocked, PasswordDeleteError

import nbauth
from nbauth import vault
from nbauth.magics import _screen
from nbauth.store import STORE
from nbauth.vault import KeyringWarning, NothingSaved

SERVICES = ["couchdrop", "rocketchat", "iogates"]


class Memory(KeyringBackend):
    """An OS keyring's stand-in: what keyring stores, kept in a dict."""

    priority = 1
    #: Never chosen by keyring's own discovery, which would make it every other test's keyring.
    viable = False

    def __init__(self):
        super().__init__()
        self.entries = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


class PlaintextKeyring(Memory):
    """Like keyrings.alt.file.PlaintextKeyring: a file anyone who can read it can use."""

    priority = 0.5


class Locked(Memory):
    """A keyring whose user dismissed the unlock prompt."""

    def set_password(self, service, username, password):
        raise KeyringLocked("Failed to unlock the collection!")


@pytest.fixture(autouse=True)
def _no_real_keyring():
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


@pytest.fixture
def memory():
    backend = Memory()
    keyring.set_keyring(backend)
    return backend


def password_login(sandbox, service, name="alice", **extra):
    user = sandbox.user(service, name)
    return nbauth.login(
        service, url=sandbox.urls[service], username=name, password=user.password, **extra
    )


def record(backend, sandbox, service, alias=None):
    """The JSON record saved for ``service``'s sandbox under ``alias``."""
    key = (f"nbauth:{service}:{sandbox.urls[service]}", alias or service)
    return json.loads(backend.entries[key])


def config_files():
    """What nbauth keeps on disk: the autouse fixture gives every test a fresh config folder."""
    return sorted(os.listdir(os.environ["NBAUTH_CONFIG_DIR"]))


# -- saving ---------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_save_stores_the_token_and_who_it_is_never_the_password(sandbox, memory, service):
    session = password_login(sandbox, service, save=True)
    assert list(memory.entries) == [(f"nbauth:{service}:{sandbox.urls[service]}", service)]
    raw = next(iter(memory.entries.values()))
    assert sandbox.user(service, "alice").password not in raw
    saved = json.loads(raw)
    assert saved["token"] == session.token.reveal()
    assert (saved["service"], saved["url"], saved["username"], saved["kind"]) == (
        service,
        sandbox.urls[service],
        "alice",
        "password",
    )
    assert saved["user_id"] == session.user_id
    assert "password" not in saved and "password" not in json.dumps(saved["profile"])


def test_without_save_nothing_is_written_anywhere(sandbox, memory, monkeypatch):
    before = config_files()
    for service in SERVICES:
        password_login(sandbox, service)
    assert memory.entries == {}
    # ioGates' device id is all nbauth keeps on disk, with or without save
    assert config_files() == sorted({*before, "device_id"})


def test_aliases_are_saved_apart(sandbox, memory):
    password_login(sandbox, "couchdrop", save=True)
    password_login(sandbox, "couchdrop", "dave", alias="ops", save=True)
    assert record(memory, sandbox, "couchdrop")["username"] == "alice"
    assert record(memory, sandbox, "couchdrop", "ops")["username"] == "dave"


# -- resuming -------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_the_next_login_resumes_without_a_password_or_a_new_token(sandbox, memory, service):
    first = password_login(sandbox, service, save=True)
    STORE.clear()  # a kernel restart
    issued = len(sandbox.issued(service))
    again = nbauth.login(service, url=sandbox.urls[service], username="alice", save=True)
    assert again.token == first.token and again is nbauth.session(service)
    assert (again.username, again.kind, again.user_id) == ("alice", "password", first.user_id)
    assert again.profile["username"] == "alice"  # the token works for further calls
    assert len(sandbox.issued(service)) == issued


def test_resuming_needs_no_username_and_works_async(sandbox, memory):
    first = password_login(sandbox, "rocketchat", save=True)
    STORE.clear()
    again = asyncio.run(nbauth.alogin("rocketchat", url=sandbox.urls["rocketchat"], save=True))
    assert again.token == first.token and again.username == "alice"


def test_without_save_the_keyring_is_not_used(sandbox, memory):
    password_login(sandbox, "couchdrop", save=True)
    with pytest.raises(nbauth.UsageError) as caught:
        nbauth.login("couchdrop", url=sandbox.urls["couchdrop"], username="alice")
    assert not isinstance(caught.value, NothingSaved)


def test_a_password_given_logs_in_anew_and_replaces_the_saved_token(sandbox, memory):
    first = password_login(sandbox, "couchdrop", save=True)
    second = password_login(sandbox, "couchdrop", save=True)
    assert second.token != first.token
    assert record(memory, sandbox, "couchdrop")["token"] == second.token.reveal()


def test_another_account_is_not_resumed(sandbox, memory):
    password_login(sandbox, "couchdrop", save=True)
    with pytest.raises(NothingSaved, match="No saved Couchdrop login for 'couchdrop'"):
        nbauth.login("couchdrop", url=sandbox.urls["couchdrop"], username="dave", save=True)
    assert record(memory, sandbox, "couchdrop")["username"] == "alice"  # left alone


def test_a_refused_saved_token_is_deleted_and_the_login_falls_back(sandbox, memory):
    password_login(sandbox, "rocketchat", save=True)
    nbauth.logout()  # Rocket.Chat ends the token on the server; the saved copy stays
    assert memory.entries
    with pytest.raises(NothingSaved, match="needs username= and password=") as caught:
        nbauth.login("rocketchat", url=sandbox.urls["rocketchat"], username="alice", save=True)
    assert memory.entries == {}
    assert "refused by the server and deleted" in caught.value.message
    session = password_login(sandbox, "rocketchat", save=True)  # the usual way, saved anew
    assert record(memory, sandbox, "rocketchat")["token"] == session.token.reveal()


def test_a_server_error_while_resuming_keeps_the_saved_login(sandbox, memory):
    """Only a refusal says the token is dead; a failing server says nothing about it."""
    first = password_login(sandbox, "rocketchat", save=True)
    STORE.clear()
    sandbox.knobs["rocketchat"].fail_status = 400
    with pytest.raises(nbauth.ServiceError) as caught:
        nbauth.login("rocketchat", url=sandbox.urls["rocketchat"], save=True)
    assert first.token.reveal() not in caught.value.message
    assert record(memory, sandbox, "rocketchat")["token"] == first.token.reveal()


def test_a_couchdrop_token_the_server_no_longer_knows_is_deleted(sandbox, memory):
    password_login(sandbox, "couchdrop", save=True)
    key = next(iter(memory.entries))
    stale = {**json.loads(memory.entries[key]), "token": "expired-session-token-0000"}
    memory.entries[key] = json.dumps(stale)
    STORE.clear()
    with pytest.raises(NothingSaved):
        nbauth.login("couchdrop", url=sandbox.urls["couchdrop"], save=True)
    assert memory.entries == {}


def test_a_saved_couchdrop_login_of_a_non_admin_stays_and_resumes(sandbox, memory):
    """Couchdrop answers dave's good token on /manage/account with the 403 a dead token gets;
    the file host's lstat shows it is good, so the saved login is kept and resumed."""
    first = password_login(sandbox, "couchdrop", "dave", save=True)
    STORE.clear()
    again = nbauth.login("couchdrop", url=sandbox.urls["couchdrop"], username="dave", save=True)
    assert again.token == first.token and again.username == "dave"
    assert again.profile["account"] == "admins only (the token is valid, not an admin's)"
    assert record(memory, sandbox, "couchdrop")["token"] == first.token.reveal()


def test_a_saved_couchdrop_login_of_a_non_admin_that_the_file_host_refuses_is_deleted(
    sandbox, memory
):
    first = password_login(sandbox, "couchdrop", "dave", save=True)
    sandbox.revoke("couchdrop", first.token.reveal())
    STORE.clear()
    with pytest.raises(NothingSaved):
        nbauth.login("couchdrop", url=sandbox.urls["couchdrop"], username="dave", save=True)
    assert memory.entries == {}


def test_a_saved_login_past_its_expiry_is_deleted_without_a_request(sandbox, memory):
    password_login(sandbox, "rocketchat", save=True)
    key = next(iter(memory.entries))
    memory.entries[key] = json.dumps(
        {**json.loads(memory.entries[key]), "expires_at": "2020-01-01T00:00:00+00:00"}
    )
    sandbox.knobs["rocketchat"].fail_status = 400  # any request would fail with ServiceError
    with pytest.raises(NothingSaved):
        nbauth.login("rocketchat", url=sandbox.urls["rocketchat"], save=True)
    assert memory.entries == {}


def test_a_record_naming_another_server_is_never_sent_there(sandbox, memory):
    """A token is used only for the URL its record names, whatever entry it was found under."""
    password_login(sandbox, "rocketchat", save=True)
    key = next(iter(memory.entries))
    elsewhere = ("nbauth:rocketchat:" + sandbox.closed_url, "rocketchat")
    memory.entries[elsewhere] = memory.entries[key]
    with pytest.raises(NothingSaved):
        nbauth.login("rocketchat", url=sandbox.closed_url, save=True)


# -- where nbauth will not save -------------------------------------------------------


def test_the_failing_backend_saves_nothing_and_says_so(sandbox, monkeypatch):
    assert isinstance(keyring.get_keyring(), fail.Keyring)  # this machine's real default
    before = config_files()
    with pytest.warns(KeyringWarning) as warned:
        session = password_login(sandbox, "couchdrop", save=True)
    assert session is nbauth.session()  # the login itself succeeded
    message = str(warned[0].message)
    assert "Not saved: the keyring here is keyring.backends.fail.Keyring" in message
    assert "no OS keyring" in message and "keyring --list-backends" in message
    assert session.token.reveal() not in message
    assert warned[0].filename == __file__  # it points at the caller's line
    assert config_files() == before  # and no file took the token instead


def test_a_plaintext_backend_is_refused(sandbox):
    plaintext = PlaintextKeyring()
    keyring.set_keyring(plaintext)
    with pytest.warns(KeyringWarning, match="PlaintextKeyring .it writes secrets to a file"):
        password_login(sandbox, "iogates", save=True)
    assert plaintext.entries == {}


def test_a_locked_keyring_leaves_the_login_in_the_kernel(sandbox):
    keyring.set_keyring(Locked())
    with pytest.warns(KeyringWarning, match=r"refused the Rocket.Chat login \(KeyringLocked\)"):
        session = password_login(sandbox, "rocketchat", save=True)
    assert nbauth.session() is session


def test_save_without_the_keyring_package_fails_before_any_request(sandbox, monkeypatch):
    monkeypatch.setitem(sys.modules, "keyring", None)  # as if it were not installed
    issued = len(sandbox.issued("couchdrop"))
    with pytest.raises(nbauth.UsageError, match=r"pip install 'nbauth\[keyring\]'"):
        password_login(sandbox, "couchdrop", save=True)
    assert len(sandbox.issued("couchdrop")) == issued
    password_login(sandbox, "couchdrop")  # without save, keyring is not needed


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_save_takes_only_true_or_false(sandbox, value):
    with pytest.raises(nbauth.UsageError, match="save= must be True or False"):
        password_login(sandbox, "couchdrop", save=value)


# -- forgetting -----------------------------------------------------------------------


def test_logout_keeps_the_saved_login_and_forget_deletes_it(sandbox, memory):
    password_login(sandbox, "couchdrop", save=True)
    nbauth.logout()
    assert memory.entries
    password_login(sandbox, "couchdrop")
    nbauth.logout(forget=True)
    assert memory.entries == {}


def test_revoke_also_forgets(sandbox, memory):
    token, user_id = sandbox.rocketchat_pat
    nbauth.login(
        "rocketchat", url=sandbox.urls["rocketchat"], token=token, user_id=user_id, save=True
    )
    assert record(memory, sandbox, "rocketchat")["kind"] == "personal-access-token"
    nbauth.logout(revoke=True)
    assert memory.entries == {}


def test_forget_without_a_session(sandbox, memory):
    password_login(sandbox, "iogates", alias="media", save=True)
    STORE.clear()
    assert vault.forget("iogates", url=sandbox.urls["iogates"], alias="media") is True
    assert vault.forget("iogates", url=sandbox.urls["iogates"], alias="media") is False
    assert memory.entries == {}


# -- the magics -----------------------------------------------------------------------


@pytest.fixture
def alice_env(monkeypatch, sandbox):
    user = sandbox.user("couchdrop", "alice")
    monkeypatch.setenv("NBAUTH_COUCHDROP_URL", sandbox.urls["couchdrop"])
    monkeypatch.setenv("NBAUTH_COUCHDROP_USERNAME", "alice")
    monkeypatch.setenv("NBAUTH_COUCHDROP_PASSWORD", user.password)


@pytest.fixture
def asked(monkeypatch):
    """Someone at a terminal who types alice's password when asked; the prompts asked."""
    prompts = []

    def answer(prompt=""):
        prompts.append(prompt)
        return "alice-sandbox"

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr("getpass.getpass", answer)
    return prompts


def login_magic(ip, line):
    with capture_output() as captured:
        session = ip.run_line_magic("login", line)
    return session, captured.stdout


def test_save_is_not_taken_for_a_password():
    assert _screen(["couchdrop", "--save"]) is None


def test_magic_saves_then_resumes_without_asking(ip, memory, alice_env, asked, monkeypatch):
    first, said = login_magic(ip, "couchdrop --save")
    assert "Saved in the OS keyring (never the password)" in said
    assert "%login couchdrop --save resumes it" in said and first.token.reveal() not in said
    STORE.clear()
    monkeypatch.delenv("NBAUTH_COUCHDROP_PASSWORD")
    again, said = login_magic(ip, "couchdrop --save")
    assert again.token == first.token and asked == []
    assert "Logged in to Couchdrop" in said and "Resumed the Couchdrop login" in said


def test_magic_falls_back_to_asking_when_the_saved_token_is_refused(
    ip, sandbox, memory, alice_env, asked, monkeypatch
):
    login_magic(ip, "couchdrop --save")
    key = next(iter(memory.entries))
    memory.entries[key] = json.dumps({**json.loads(memory.entries[key]), "token": "gone" * 8})
    monkeypatch.delenv("NBAUTH_COUCHDROP_PASSWORD")
    session, said = login_magic(ip, "couchdrop --save")
    assert asked == ["Couchdrop password: "] and session.username == "alice"
    assert record(memory, sandbox, "couchdrop")["token"] == session.token.reveal()
    assert "Saved in the OS keyring" in said


def test_magic_says_why_it_did_not_save(ip, alice_env, recwarn):
    session, said = login_magic(ip, "couchdrop --save")
    assert "Not saved: the keyring here is keyring.backends.fail.Keyring" in said
    assert session.token.reveal() not in said
    assert not [w for w in recwarn if issubclass(w.category, KeyringWarning)]  # a line, once


def test_magic_without_save_reads_nothing(ip, memory, alice_env, asked, monkeypatch):
    login_magic(ip, "couchdrop --save")
    monkeypatch.delenv("NBAUTH_COUCHDROP_PASSWORD")
    login_magic(ip, "couchdrop")
    assert asked == ["Couchdrop password: "]


def test_logout_forget_magic(ip, memory, alice_env):
    login_magic(ip, "couchdrop --save")
    with capture_output() as captured:
        ip.run_line_magic("logout", "--forget")
    assert "Its saved login was deleted from the keyring" in captured.stdout
    assert memory.entries == {}
    login_magic(ip, "couchdrop")
    with capture_output() as captured:
        ip.run_line_magic("logout", "--forget")
    assert "No saved login for it was in the keyring" in captured.stdout


def test_the_form_saves_when_the_magic_asked_to(sandbox, memory):
    from nbauth.form import LoginForm
    from nbauth.request import LoginRequest

    given = {"url": sandbox.urls["couchdrop"], "username": "alice"}
    request = LoginRequest.from_environment("couchdrop", given, save=True)
    form = LoginForm.from_request(request)
    form.password.value = "alice-sandbox"
    form.button.click()
    assert form.session is not None
    assert "Saved in the OS keyring" in form.status.value
    assert record(memory, sandbox, "couchdrop")["token"] == form.session.token.reveal()
