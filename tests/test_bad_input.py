"""Bad input to a login, and tokens the server no longer takes: each ends in an NbAuthError
whose message says what to do, and never in a session half-stored or a stored one lost.

Every bad-input case runs twice: with an empty store, and with a good session already stored
under the alias the failed login would have used, which must come through untouched.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import figures
import pytest
from helpers import login_as, record_calls

import nbauth
from nbauth.sandbox import running
from nbauth.sandbox.seed import Seed

#: A value that must appear in no message: the bad cases below carry it in their secrets.
CANARY = "canary-3f9a1c"
PAT_USER_ID = "aobEdbYhXfu5hkeqG"

# (service, login arguments, error, what the message must say: what is wrong and what to do)
BAD_INPUT = [
    ("dropbox", {}, nbauth.UsageError, r"Unknown service 'dropbox'\. Known services: couchdrop"),
    (" ", {}, nbauth.UsageError, r"Unknown service ' '\. Known services: couchdrop"),
    ("couchdrop", {"username": ""}, nbauth.UsageError, r"username= is empty\. Give its value"),
    ("rocketchat", {"username": " \t "}, nbauth.UsageError, r"username= is empty\. Give its"),
    ("iogates", {"password": ""}, nbauth.UsageError, r"password= is empty\. Give its value"),
    ("couchdrop", {"url": ""}, nbauth.UsageError, r"url= is empty\. Give its value"),
    ("couchdrop", {"url": "api.couchdrop.io"}, nbauth.UsageError, "not an http.s. URL like"),
    ("couchdrop", {"url": "ftp://example.com"}, nbauth.UsageError, "not an http.s. URL like"),
    ("couchdrop", {"url": "http://[::1"}, nbauth.UsageError, "not an http.s. URL like"),
    ("couchdrop", {"url": "http://a..b"}, nbauth.UsageError, "not an http.s. URL like"),
    ("couchdrop", {"url": "http://" + "a" * 64}, nbauth.UsageError, "not an http.s. URL like"),
    ("couchdrop", {"url": "http://h:99999"}, nbauth.UsageError, "not an http.s. URL like"),
    ("couchdrop", {"url": "http://h:port"}, nbauth.UsageError, "not an http.s. URL like"),
    ("couchdrop", {"url": "https://xn--/"}, nbauth.UsageError, "not an http.s. URL like"),
    ("couchdrop", {"url": "https://☃.com"}, nbauth.UsageError, "not an http.s. URL like"),
    ("rocketchat", {"url": "http://ex ample"}, nbauth.UsageError, "not an http.s. URL like"),
    # a user:password@ part is refused as such, whatever else is wrong (nbauth._urls)
    ("couchdrop", {"url": "http://u:" + CANARY + "@[::1"}, nbauth.UsageError, "user:password@"),
    *(
        ("iogates", {"share_url": url}, nbauth.UsageError, "share_url= must be the http.s. link")
        for url in (
            "ftp://files.example.com/show/15/" + CANARY,
            "file:///etc/passwd",
            "javascript:alert(1)",
            "files.example.com/show/15/" + CANARY,
            "https:///show/15/" + CANARY,
            "https://[::1/show/15/" + CANARY,
        )
    ),
    ("rocketchat", {"user_id": PAT_USER_ID}, nbauth.UsageError, "user_id= goes with token="),
    ("rocketchat", {"token": CANARY + "\n"}, nbauth.UsageError, "line break.*Paste the value"),
    ("couchdrop", {"token": CANARY + "\r\nx"}, nbauth.UsageError, "line break.*Paste the value"),
    ("iogates", {"token": "x\n" + CANARY}, nbauth.UsageError, "line break.*Paste the value"),
    ("rocketchat", {"code": "12\n34"}, nbauth.UsageError, "line break.*Paste the value"),
    ("couchdrop", {"token": CANARY + "é"}, nbauth.UsageError, "only printable ASCII.*Paste the"),
    ("iogates", {"token": CANARY + "\t"}, nbauth.UsageError, "only printable ASCII.*Paste the"),
    ("couchdrop", {"password": CANARY + "\ud800"}, nbauth.UsageError, "not text.*paste it again"),
    ("iogates", {"username": "al\udcffice"}, nbauth.UsageError, "not text.*paste it again"),
    ("couchdrop", {"timeout": math.nan}, nbauth.UsageError, "timeout= must be a positive number"),
    ("couchdrop", {"timeout": math.inf}, nbauth.UsageError, "timeout= must be a positive number"),
    ("couchdrop", {"timeout": 1e300}, nbauth.UsageError, "timeout= must be a positive number"),
    ("couchdrop", {"password": CANARY}, nbauth.AccessDenied, "wrong username or password.*Check"),
]


def _arguments(sandbox, service, given):
    """alice's login to ``service`` with ``given`` laid over it; a token, share URL or user id
    stands in for her username and password, as the caller meant."""
    known = service if service in sandbox.urls else "couchdrop"
    arguments = {"url": sandbox.urls[known], "alias": "work"}
    if not {"token", "share_url", "user_id"} & set(given):
        arguments |= {"username": "alice", "password": sandbox.user(known, "alice").password}
    return arguments | given


def _case_id(case):
    service, given, _, _ = case
    return " ".join([repr(service), *(f"{k}={v!r}"[:40] for k, v in given.items())])


@pytest.mark.parametrize("stored_before", [False, True], ids=["empty store", "alias in use"])
@pytest.mark.parametrize(
    ("service", "given", "error", "says"), BAD_INPUT, ids=[_case_id(c) for c in BAD_INPUT]
)
def test_bad_input_fails_clearly_and_stores_nothing(
    sandbox, stored_before, service, given, error, says
):
    if stored_before:
        kept = login_as("couchdrop")(sandbox, alias="work")
    before = nbauth.sessions()
    with pytest.raises(error, match=says) as caught:
        nbauth.login(service, **_arguments(sandbox, service, given))
    assert CANARY not in caught.value.message
    assert "\ud800" not in caught.value.message
    assert nbauth.sessions().equals(before)
    if stored_before:
        assert nbauth.session() is nbauth.session("work") is kept


@pytest.mark.parametrize(
    "suffix",
    ["pässwörd-日本語-🔑-\u00a0-\u200d", "x" * 10_000, "ß" * 10_000],
    ids=["non-ASCII", "10,000 ASCII characters", "10,000 non-ASCII characters"],
)
def test_non_ascii_and_very_long_passwords_log_in_or_fail_clearly(suffix):
    with running(Seed.demo(password_suffix=suffix)) as sb:
        for service in ("couchdrop", "rocketchat", "iogates"):
            password = sb.user(service, "alice").password
            arguments = {"url": sb.urls[service], "username": "alice", "alias": service}
            session = nbauth.login(service, password=password, **arguments)
            assert (session.username, session.token.reveal()) in sb.issued(service)
            with pytest.raises(nbauth.AccessDenied, match="Check") as caught:
                nbauth.login(service, password=password[:-1] + "!", **arguments)
            assert suffix[:40] not in caught.value.message
            assert nbauth.session(service) is session
        assert list(nbauth.sessions()["alias"]) == ["couchdrop", "rocketchat", "iogates"]


def _expires(session, call):
    """``call(session)`` raises SessionExpired naming the %login that renews this session."""
    before = nbauth.sessions()
    with pytest.raises(nbauth.SessionExpired, match="expired or was revoked") as caught:
        call(session)
    message = caught.value.message
    assert f"%login {session.service} --as {session.alias}" in message
    assert session.token.reveal() not in message
    assert nbauth.sessions().equals(before)


def test_a_personal_access_token_revoked_by_logout_revoke_expires_its_twin(ip, sandbox):
    token, user_id = sandbox.rocketchat_pat
    url = sandbox.urls["rocketchat"]
    nbauth.login("rocketchat", url=url, token=token, user_id=user_id, alias="pat")
    twin = nbauth.login("rocketchat", url=url, token=token, user_id=user_id, alias="twin")
    ip.run_line_magic("logout", "pat --revoke")
    _expires(twin, lambda s: s.storage_frame())


def test_a_session_logged_out_by_another_client_expires(sandbox):
    session = login_as("rocketchat")(sandbox, alias="chat")
    with session.client() as other:
        assert other.post("/api/v1/logout").status_code == 200
    _expires(session, lambda s: s.storage_frame())
    nbauth.logout("chat")  # the server has nothing left to end: no error
    assert nbauth.sessions().empty


def test_expired_couchdrop_tokens_raise_session_expired():
    with running() as sb:  # its own: the admin token ends here for good
        files = login_as("couchdrop")(sb, alias="files")
        admin = nbauth.login("couchdrop", url=sb.urls["couchdrop"], token=sb.couchdrop_admin_token)
        for session in (files, admin):
            sb.revoke("couchdrop", session.token.reveal())
        _expires(files, lambda s: s.profile)
        _expires(files, lambda s: s.storage_frame())
        _expires(admin, lambda s: s.storage_frame())


@pytest.mark.parametrize("verify", [3, None, ["ca.pem"]])
def test_a_verify_that_is_neither_a_flag_nor_a_path_is_a_usage_error(sandbox, verify):
    with pytest.raises(nbauth.UsageError, match="verify= takes True, False or the path"):
        nbauth.login(
            "couchdrop",
            url=sandbox.urls["couchdrop"],
            username="alice",
            password="x",
            verify=verify,
        )
    assert nbauth.sessions().empty


# -- every entry point, every bad value ----------------------------------------------------------

#: Text no argument may hold: a lone surrogate (text garbled on its way) and a NUL. Each carries
#: the canary, so that a message repeating the value shows.
BAD_TEXT = {"a lone surrogate": CANARY + "\ud800x", "a NUL": CANARY + "\x00x"}
#: Where a name is expected, values that are not one: unhashable, or of the wrong type.
BAD_NAME = {**BAD_TEXT, "a list": [], "a dict": {}, "bytes": b"/x", "an int": 5}


@dataclass(frozen=True)
class Entry:
    """One argument of one public entry point: ``call(ctx, value)`` passes ``value`` as that
    argument (``argument``, which the message must name), the others being right."""

    call: Callable[[Any, Any], object]
    argument: str
    bad: tuple[str, ...] = tuple(BAD_TEXT)


def _login(service: str = "couchdrop", **given: Any) -> Callable[[Any, Any], object]:
    """A login whose argument ``given[name] is None`` takes the bad value."""

    def call(ctx: Any, value: Any) -> object:
        arguments = {k: value if v is None else v for k, v in given.items()}
        arguments.setdefault("url", ctx.sandbox.urls[service])
        return ctx.login(service, **arguments)

    return call


def _password_login(service: str = "couchdrop", **given: Any) -> Callable[[Any, Any], object]:
    return _login(service, username="alice", password="a-password", **given)


#: The keyword arguments of login and alogin, each with the others right.
LOGIN_ARGUMENTS = {
    "url": Entry(_login(url=None, username="alice", password="pw"), "url"),
    "username": Entry(_login(username=None, password="pw"), "username"),
    "password": Entry(_login(username="alice", password=None), "password"),
    "token": Entry(_login(token=None), "token"),
    "code": Entry(_password_login(code=None), "code"),
    "user_id": Entry(_login("rocketchat", token="a-token", user_id=None), "user_id"),
    "share_url": Entry(lambda ctx, v: ctx.login("iogates", share_url=v), "share_url"),
    "alias": Entry(_password_login(alias=None), "alias", tuple(BAD_NAME)),
    "system": Entry(_password_login(system=None), "system", tuple(BAD_NAME)),
    "device_id": Entry(_password_login("iogates", device_id=None), "device_id", tuple(BAD_NAME)),
    "share_check": Entry(_password_login("iogates", share_check=None), "share_check"),
    "fileio_url": Entry(_password_login(fileio_url=None), "fileio_url", tuple(BAD_NAME)),
    "verify": Entry(_password_login(verify=None), "verify"),
}


def _rows(column: str) -> Callable[[Any, Any], object]:
    def call(ctx: Any, value: Any) -> object:
        row = {"service": "couchdrop", "url": ctx.sandbox.urls["couchdrop"], "alias": "row"}
        row |= {"username": "alice", "password": "a-password", column: value}
        frame = ctx.many([row])
        error = frame["error"].iloc[0]
        assert error.startswith("UsageError: "), error
        raise nbauth.UsageError(error.removeprefix("UsageError: "))

    return call


def _magic(line: str) -> Callable[[Any, Any], object]:
    """A %login line; the password comes from NBAUTH_COUCHDROP_PASSWORD, as a notebook's may."""

    def call(ctx: Any, value: Any) -> object:
        url = ctx.sandbox.urls["couchdrop"]
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("NBAUTH_COUCHDROP_PASSWORD", "a-password")
            patch.setenv("NBAUTH_NONINTERACTIVE", "1")
            return ctx.ip.run_line_magic("login", line.format(url=url, value=value))

    return call


def _data(alias: str, call: Callable[[Any, Any], object]) -> Callable[[Any, Any], object]:
    return lambda ctx, value: call(ctx.sessions[alias], value)


ENTRIES: dict[str, Entry] = {
    "login(service)": Entry(lambda ctx, v: ctx.login(v), "service", tuple(BAD_NAME)),
    **{f"login({name}=)": entry for name, entry in LOGIN_ARGUMENTS.items()},
    **{
        f"alogin({name}=)": Entry(
            lambda ctx, v, call=entry.call: call(ctx.asynchronous(), v), entry.argument, entry.bad
        )
        for name, entry in LOGIN_ARGUMENTS.items()
    },
    "alogin(service)": Entry(
        lambda ctx, v: ctx.asynchronous().login(v), "service", tuple(BAD_NAME)
    ),
    "login_many(rows: service)": Entry(_rows("service"), "service"),
    "login_many(rows: password)": Entry(_rows("password"), "password"),
    "login_many(rows: url)": Entry(_rows("url"), "url"),
    "login_many(rows: username)": Entry(_rows("username"), "username"),
    "login_many(rows)": Entry(lambda ctx, v: ctx.many(v), "login_many", ("bytes", "a dict")),
    "alogin_many(rows: password)": Entry(
        lambda ctx, v: _rows("password")(ctx.asynchronous(), v), "password"
    ),
    "alogin_many(rows: service)": Entry(
        lambda ctx, v: _rows("service")(ctx.asynchronous(), v), "service"
    ),
    "session(alias)": Entry(lambda ctx, v: nbauth.session(v), "alias", tuple(BAD_NAME)),
    "logout(alias)": Entry(lambda ctx, v: nbauth.logout(v), "alias", tuple(BAD_NAME)),
    "logout(revoke=)": Entry(lambda ctx, v: nbauth.logout("cd", revoke=v), "revoke", ("a list",)),
    "delegate(alias)": Entry(lambda ctx, v: nbauth.delegate(v), "alias", tuple(BAD_NAME)),
    "delegate(service=)": Entry(
        lambda ctx, v: nbauth.delegate(service=v), "service", tuple(BAD_NAME)
    ),
    # 5 seconds is a good expires=
    "s.delegate(expires=)": Entry(
        _data("io", lambda s, v: s.delegate(expires=v)),
        "expires",
        tuple(name for name in BAD_NAME if name != "an int"),
    ),
    # an empty list or dict is falsy: LoginForm takes it for "no service given" (the first)
    "LoginForm(service)": Entry(
        lambda ctx, v: nbauth.LoginForm(v), "service", (*BAD_TEXT, "bytes", "an int")
    ),
    "%login -u": Entry(_magic("couchdrop --url {url} -u {value}"), "username"),
    "%login --as": Entry(_magic("couchdrop --url {url} -u alice --as {value}"), "alias"),
    "%login --url": Entry(_magic("couchdrop --url {value} -u alice"), "url"),
    # Couchdrop's data calls
    **{
        f"couchdrop {name}(path)": Entry(_data("cd", call), "path", tuple(BAD_NAME))
        for name, call in {
            "ls": lambda s, v: s.ls(v),
            "download": lambda s, v: s.download(v),
            "open": lambda s, v: s.open(v),
            "open, to write": lambda s, v: s.open(v, "wb"),
            "mkdir": lambda s, v: s.mkdir(v),
            "info": lambda s, v: s.info(v),
            "listdir": lambda s, v: s.listdir(v),
            "upload": lambda s, v: s.upload(b"x", v),
        }.items()
    },
    "couchdrop upload(source)": Entry(_data("cd", lambda s, v: s.upload(v, "/x")), "source"),
    # ioGates' data calls (an int is a file id there, not a mistake)
    **{
        f"iogates {name}(path)": Entry(_data("io", call), "path", bad)
        for name, call, bad in (
            ("ls", lambda s, v: s.ls(v), tuple(BAD_NAME)),
            ("listdir", lambda s, v: s.listdir(v), tuple(BAD_NAME)),
            ("download", lambda s, v: s.download(v), ("a lone surrogate", "a NUL", "bytes")),
            ("open", lambda s, v: s.open(v), ("a lone surrogate", "a NUL", "a list")),
            ("info", lambda s, v: s.info(v), ("a lone surrogate", "a NUL", "a dict")),
        )
    },
    # Rocket.Chat's data calls
    "rocketchat messages(room)": Entry(
        _data("rc", lambda s, v: s.messages(v)), "room", tuple(BAD_NAME)
    ),
    "rocketchat messages(oldest=)": Entry(
        _data("rc", lambda s, v: s.messages("general", oldest=v)), "oldest"
    ),
    "rocketchat messages(latest=)": Entry(
        _data("rc", lambda s, v: s.messages("general", latest=v)), "latest"
    ),
}

CASES = [(name, bad) for name, entry in ENTRIES.items() for bad in entry.bad]


class Context:
    """What an entry's call needs: the sandbox, a shell, the sessions, and the login and
    login_many to use (alogin and alogin_many in ``asynchronous()``)."""

    def __init__(self, sandbox: Any, ip: Any, sessions: dict[str, nbauth.Session]) -> None:
        self.sandbox, self.ip, self.sessions = sandbox, ip, sessions

    def login(self, *args: Any, **kwargs: Any) -> object:
        return nbauth.login(*args, **kwargs)

    def many(self, rows: Any) -> Any:
        return nbauth.login_many(rows)

    def asynchronous(self) -> Context:
        return AsyncContext(self.sandbox, self.ip, self.sessions)


class AsyncContext(Context):
    def login(self, *args: Any, **kwargs: Any) -> object:
        return asyncio.run(nbauth.alogin(*args, **kwargs))

    def many(self, rows: Any) -> Any:
        return asyncio.run(nbauth.alogin_many(rows))


@pytest.fixture(scope="module")
def logged_in(sandbox) -> dict[str, nbauth.Session]:
    """A session of each service; the calls below fail before any request, so the sessions
    are used without being stored."""
    made = {
        alias: login_as(service)(sandbox, alias=alias)
        for alias, service in (("cd", "couchdrop"), ("io", "iogates"), ("rc", "rocketchat"))
    }
    nbauth.logout("cd")  # logging out forgets it in the kernel; the object still calls
    return made


@pytest.mark.parametrize(("name", "bad"), CASES, ids=[f"{n} <- {b}" for n, b in CASES])
def test_every_entry_point_refuses_bad_text_and_wrong_types_naming_the_argument(
    sandbox, ip, logged_in, monkeypatch, name, bad
):
    """Each public function and data call, given a lone surrogate, a NUL, or (where a name is
    expected) a list, dict, bytes or int: a UsageError before anything is sent or stored,
    whose message names the argument, repeats nothing of the value, and can be printed."""
    entry = ENTRIES[name]
    ctx = Context(sandbox, ip, logged_in)
    sent = record_calls(monkeypatch)
    before = nbauth.sessions()
    with pytest.raises(nbauth.UsageError) as caught:
        entry.call(ctx, BAD_NAME[bad])
    message = caught.value.message
    figures.add("canary checks: bad inputs", 1)
    figures.add("canary hits", CANARY in message)
    assert re.search(rf"\b{entry.argument}\b", message), message
    assert CANARY not in message
    assert "\x00" not in message
    message.encode("utf-8")  # no lone surrogate: it can be printed and sent
    assert nbauth.sessions().equals(before)
    assert sent == [], "nothing may be sent"


def test_the_table_covers_every_public_function_and_data_call():
    from nbauth.explore.couchdrop import CouchdropSession
    from nbauth.explore.iogates import IoGatesSession
    from nbauth.explore.rocketchat import RocketChatSession

    covered = " ".join(ENTRIES)
    functions = [n for n in nbauth.__all__ if n[0].islower() and n != "sessions"]
    assert [n for n in functions if f"{n}(" not in covered] == []
    for cls, prefix in (
        (CouchdropSession, "couchdrop"),
        (IoGatesSession, "iogates"),
        (RocketChatSession, "rocketchat"),
    ):
        calls = [c for c in cls.data_calls if c != "rooms"]  # rooms() takes no argument
        assert [c for c in calls if f"{prefix} {c}(" not in covered] == []


# -- a CA bundle from the environment --------------------------------------------------------


@pytest.fixture
def bundles(tmp_path) -> dict[str, str]:
    """A bad value of SSL_CERT_FILE or SSL_CERT_DIR for each way one goes wrong."""
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    text = tmp_path / "notes.pem"
    text.write_text("these are not certificates\n")
    folder = tmp_path / "certs"
    folder.mkdir()
    (folder / "ca.pem").write_text("not hashed\n")
    hashed = tmp_path / "hashed"
    hashed.mkdir()
    (hashed / "0123abcd.0").write_text("not PEM\n")
    return {
        "missing": str(tmp_path / "nowhere.pem"),
        "empty": str(empty),
        "not PEM": str(text),
        "a folder": str(folder),
        "a file": str(text),
        "no hashed certificate": str(folder),
        "hashed, not PEM": str(hashed),
    }


CA_CASES = [
    ("SSL_CERT_FILE", "missing", "does not exist"),
    ("SSL_CERT_FILE", "empty", "is empty"),
    ("SSL_CERT_FILE", "not PEM", "holds no PEM certificate"),
    ("SSL_CERT_FILE", "a folder", "is a folder, not a file"),
    ("SSL_CERT_DIR", "missing", "does not exist"),
    ("SSL_CERT_DIR", "a file", "is a file, not a folder"),
    ("SSL_CERT_DIR", "no hashed certificate", "openssl rehash"),
    ("SSL_CERT_DIR", "hashed, not PEM", "holds no PEM certificate"),
]


@pytest.mark.parametrize(("variable", "case", "says"), CA_CASES)
def test_a_bad_ca_bundle_variable_names_itself_and_its_path(
    sandbox, monkeypatch, bundles, variable, case, says
):
    from nbauth import _http

    monkeypatch.setattr(_http, "_contexts", {})  # made afresh, from the variables set here
    monkeypatch.setattr(_http, "_clients", {})
    monkeypatch.setenv(variable, bundles[case])
    with pytest.raises(nbauth.ConnectionFailed) as caught:
        login_as("couchdrop")(sandbox)
    message = caught.value.message
    assert message.startswith(f"{variable}={bundles[case]!r} ")  # the variable and the path
    assert says in message
    assert "unset it" in message
    assert nbauth.sessions().empty


@pytest.mark.parametrize(
    ("case", "says"),
    [("missing", "does not exist"), ("a folder", "openssl rehash"), ("empty", "is empty")],
)
def test_a_bad_verify_path_says_what_is_wrong(sandbox, bundles, case, says):
    with pytest.raises(nbauth.UsageError, match=f"verify=.*{says}"):
        login_as("couchdrop")(sandbox, verify=bundles[case])
