"""A URL with a ``user:password@`` part, at every place nbauth takes a URL: refused with a
UsageError that names where the URL came from and shows nothing of it, before any request and
before anything is stored or shown (nbauth._urls). ``couchdrop://`` and ``iogates://`` paths:
the part before the path names a session, never a user and password, nor a host.

The canary method: the userinfo's password is a unique string; after each entry point runs,
every place it could show is searched for it (the error's message, repr, chain and verbose
traceback, IPython's view of it, printed output, log records at DEBUG, warnings, the session
store and table, the login form's widget state, the keyring, ``%nbauth doctor``, the IPython
config and history), and the server is asked what it received.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import figures
import fsspec
import ipywidgets as widgets
import keyring
import pytest
from IPython.utils.capture import capture_output
from keyring.backends import fail
from test_secret_leaks import exception_texts, watching
from test_vault import Memory

import nbauth
from nbauth import _urls, services, vault
from nbauth.doctor import doctor
from nbauth.form import LoginForm
from nbauth.settings import settings
from nbauth.store import STORE

CANARY = "urlcanary" + secrets.token_hex(6)
USERINFO = f"alice:{CANARY}@"


def with_userinfo(url: str, userinfo: str = USERINFO) -> str:
    """``url`` with ``userinfo`` put between its ``scheme://`` and its host."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{userinfo}{rest}"


# -- the rule ---------------------------------------------------------------------------

WITH_USERINFO = [
    "https://alice:pw@example.com/x",
    "https://TOKEN@example.com",  # a token as the user name: GitHub's style
    "https://@example.com",
    "http://alice:p%40ss@127.0.0.1:8000",
    "http://alice:p@ss@127.0.0.1:8000",  # an @ in the password
    "http://alice:p/ss@example.com/x",  # a / ? # in the password cuts httpx's authority
    "http://alice:p?ss@example.com",
    "http://alice:p#ss@example.com",
    "HTTPS://alice:pw@example.com",
    "  https://alice:pw@example.com",
    "http:/alice:pw@example.com",  # browsers read these as http://
    "http:\\\\alice:pw@example.com",
    "//alice:pw@example.com/x",
    "alice:pw@example.com",  # no scheme
    "https://alice:pw@[::1]:8443/x",
]
WITHOUT_USERINFO = [
    "https://example.com",
    "http://127.0.0.1:8000/",
    "https://example.com:8443/path@x",
    "https://[::1]:80/a@b",
    "https://example.com/show/15/59817e24914f1/c4ca4238",
    "https://example.com/?to=alice@example.com",
    "https://example.com/#alice@example.com",
    "https://files.example.com/show/@name",
]


@pytest.mark.parametrize("url", WITH_USERINFO)
def test_the_rule_finds_a_userinfo_in_every_form(url):
    assert _urls.has_userinfo(url)
    assert not _urls.has_userinfo(_urls.without_userinfo(url))
    assert "pw" not in _urls.without_userinfo(url) and "ss@" not in _urls.without_userinfo(url)
    with pytest.raises(nbauth.UsageError) as caught:
        _urls.refuse_userinfo(url, "url=", services.get("couchdrop"))
    assert "url=" in caught.value.message and "user:password@" in caught.value.message
    assert "pw" not in caught.value.message and "TOKEN" not in caught.value.message


@pytest.mark.parametrize("url", WITHOUT_USERINFO)
def test_the_rule_leaves_other_urls_alone(url):
    assert not _urls.has_userinfo(url)
    assert _urls.without_userinfo(url) == url
    _urls.refuse_userinfo(url, "url=")


def test_the_rule_reads_httpx_urls_and_ignores_other_types():
    import httpx

    assert _urls.has_userinfo(httpx.URL("http://alice:pw@example.com"))
    assert not _urls.has_userinfo(None) and not _urls.has_userinfo(3)


# -- every entry point, searched for the canary ------------------------------------------


@pytest.fixture
def memory():
    """The OS keyring's stand-in of tests/test_vault.py, then keyring's failing backend."""
    backend = Memory()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(fail.Keyring())


def _password(sandbox, service):
    return sandbox.user(service, "alice").password


def _login_url(sb, **kw):
    return nbauth.login("couchdrop", username="alice", password=_password(sb, "couchdrop"), **kw)


def entry_login(sb, ip):
    _login_url(sb, url=with_userinfo(sb.urls["couchdrop"]))


def entry_alogin(sb, ip):
    url = with_userinfo(sb.urls["rocketchat"])
    asyncio.run(
        nbauth.alogin("rocketchat", url=url, username="alice", password=_password(sb, "rocketchat"))
    )


def entry_share_url(sb, ip):
    nbauth.login("iogates", share_url=with_userinfo(sb.share_urls["open"]))


def entry_fileio_url(sb, ip):
    _login_url(sb, url=sb.urls["couchdrop"], fileio_url=with_userinfo(sb.urls["couchdrop"]))


def entry_save(sb, ip):
    _login_url(sb, url=with_userinfo(sb.urls["couchdrop"]), save=True)


def entry_forget(sb, ip):
    vault.forget("couchdrop", url=with_userinfo(sb.urls["couchdrop"]))


def entry_login_many(sb, ip):
    rows = [
        {
            "service": "couchdrop",
            "url": with_userinfo(sb.urls["couchdrop"]),
            "username": "alice",
            "password": _password(sb, "couchdrop"),
        },
        {"service": "iogates", "share_url": with_userinfo(sb.share_urls["open"])},
    ]
    table = nbauth.login_many(rows, progress=False)
    shown = table.to_string() + repr(table.to_dict())
    assert not table["ok"].any() and table["error"].str.contains("user:password@").all()
    print(shown)  # searched with the rest of the output


def entry_client_base_url(sb, ip):
    session = _login_url(sb, url=sb.urls["couchdrop"])
    session.client(base_url=with_userinfo(sb.urls["couchdrop"]))


def entry_aclient_base_url(sb, ip):
    session = _login_url(sb, url=sb.urls["couchdrop"])
    session.aclient(base_url=with_userinfo(sb.urls["couchdrop"]))


def entry_client_request(sb, ip):
    session = _login_url(sb, url=sb.urls["couchdrop"])
    with session.client() as client:
        client.get(with_userinfo(sb.urls["couchdrop"]) + "/manage/account")


def _magic_login(ip, monkeypatch_env: dict[str, str], line: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in monkeypatch_env.items():
            patch.setenv(name, value)
        patch.setenv("NBAUTH_NONINTERACTIVE", "1")
        ip.run_line_magic("login", line)


def entry_env_url(sb, ip):
    env = {
        "NBAUTH_COUCHDROP_URL": with_userinfo(sb.urls["couchdrop"]),
        "NBAUTH_COUCHDROP_USERNAME": "alice",
        "NBAUTH_COUCHDROP_PASSWORD": _password(sb, "couchdrop"),
    }
    _magic_login(ip, env, "couchdrop")


def entry_env_share_url(sb, ip):
    env = {"NBAUTH_IOGATES_SHARE_URL": with_userinfo(sb.share_urls["open"])}
    _magic_login(ip, env, "iogates")


def entry_magic_url_user_only(sb, ip):
    """``--url http://TOKEN@host``: no password part, so no password line to the screen of
    %login; refused by the URL rule (the magic's own screen takes a user:password@ line)."""
    env = {"NBAUTH_COUCHDROP_PASSWORD": _password(sb, "couchdrop")}
    url = with_userinfo(sb.urls["couchdrop"], f"{CANARY}@")
    _magic_login(ip, env, f"couchdrop -u alice --url {url}")


def entry_config_urls(sb, ip):
    """``%config NbAuth.urls``: refused (IPython logs the error); the setting keeps its value."""
    url = with_userinfo(sb.urls["couchdrop"])
    ip.run_line_magic("config", f"NbAuth.urls = {{'couchdrop': {url!r}}}")
    assert settings().urls == {}
    settings().urls = {"couchdrop": url}


def entry_form_url_argument(sb, ip):
    LoginForm("couchdrop", url=with_userinfo(sb.urls["couchdrop"]))


def entry_form_url_field(sb, ip):
    """The URL typed into the form: it loses its userinfo at once, the status says why (shown
    in the output, searched), and a click logs in to the URL without it."""
    form = LoginForm("couchdrop", url=sb.urls["couchdrop"])
    form.url.value = with_userinfo(sb.urls["couchdrop"])
    assert form.url.value == sb.urls["couchdrop"]
    assert "The URL field" in form.status.value and "user:password@" in form.status.value
    print(form.status.value)
    form.username.value = "alice"
    form.password.value = _password(sb, "couchdrop")
    form.button.click()
    assert form.session is not None and form.session.url == sb.urls["couchdrop"]
    print(form.status.value)


def entry_couchdrop_path(sb, ip):
    _login_url(sb, url=sb.urls["couchdrop"])
    with fsspec.open(f"couchdrop://{USERINFO}/reports/q3.csv", "rb") as f:
        f.read()


def entry_iogates_path(sb, ip):
    nbauth.login("iogates", share_url=sb.share_urls["open"])
    fsspec.filesystem("iogates").ls(f"iogates://{USERINFO}/")


def entry_pandas_path(sb, ip):
    import pandas as pd

    _login_url(sb, url=sb.urls["couchdrop"])
    pd.read_csv(f"couchdrop://{USERINFO}/reports/q3.csv")


ENTRIES: dict[str, tuple[Callable[[Any, Any], object], str]] = {
    "nbauth.login(url=)": (entry_login, "url="),
    "nbauth.alogin(url=)": (entry_alogin, "url="),
    "nbauth.login(share_url=)": (entry_share_url, "share_url="),
    "nbauth.login(fileio_url=)": (entry_fileio_url, "fileio_url="),
    "nbauth.login(url=, save=True)": (entry_save, "url="),
    "vault.forget(url=)": (entry_forget, "url="),
    "login_many rows (url, share_url)": (entry_login_many, ""),
    "session.client(base_url=)": (entry_client_base_url, "base_url="),
    "session.aclient(base_url=)": (entry_aclient_base_url, "base_url="),
    "a session client's request URL": (entry_client_request, "the request's URL"),
    "NBAUTH_COUCHDROP_URL": (entry_env_url, "NBAUTH_COUCHDROP_URL"),
    "NBAUTH_IOGATES_SHARE_URL": (entry_env_share_url, "NBAUTH_IOGATES_SHARE_URL"),
    "%login --url TOKEN@": (entry_magic_url_user_only, "--url"),
    "%config NbAuth.urls and settings().urls": (entry_config_urls, "NbAuth.urls['couchdrop']"),
    "LoginForm(url=)": (entry_form_url_argument, "url="),
    "the login form's URL field": (entry_form_url_field, ""),
    "couchdrop:// path (fsspec.open)": (entry_couchdrop_path, "couchdrop://"),
    "iogates:// path (fsspec ls)": (entry_iogates_path, "iogates://"),
    "couchdrop:// path (pandas.read_csv)": (entry_pandas_path, "couchdrop://"),
}


def everything_kept(ip, memory) -> dict[str, str]:
    """Every place a URL could stay after a call: the store, the session table, the login
    report, every widget's state, the keyring, %nbauth doctor, the IPython config."""
    from nbauth import report

    sessions = STORE.all()
    return {
        "session reprs": "\n".join(repr(s) + str(vars(s)) for s in sessions),
        "session table": nbauth.sessions().to_string(),
        "report lines": "\n".join(report.summary(s) for s in sessions),
        "widget state": json.dumps(widgets.Widget.get_manager_state(False), default=str),
        "keyring": repr(memory.entries),
        "doctor": repr(doctor(ip)) + doctor(ip)._repr_html_(),
        "NbAuth settings": repr(settings().urls) + repr(settings().config),
    }


@pytest.mark.parametrize("name", list(ENTRIES))
def test_every_entry_refuses_a_url_with_userinfo_and_shows_none_of_it(sandbox, ip, memory, name):
    scenario, where = ENTRIES[name]
    error = None
    with watching() as shown, capture_output() as printed:
        try:
            scenario(sandbox, ip)
        except nbauth.NbAuthError as exc:
            error = exc
    texts = {
        f"{channel} #{i}": text for channel, lines in shown.items() for i, text in enumerate(lines)
    }
    texts["printed"] = printed.stdout + printed.stderr
    if error is not None:
        texts.update(exception_texts(error))
        if name.startswith("%login"):
            # The %login magic's own frame holds its line, as IPython's history does: what the
            # person typed, which nbauth.magics scrubs for a user:password@ URL (see
            # test_a_magic_url_with_a_password_leaves_no_trace_in_history). Below it, nothing.
            texts["verbose traceback"] = _verbose_below(error, "nbauth.magics")
    texts.update(everything_kept(ip, memory))
    found = [channel for channel, text in texts.items() if CANARY in text]
    figures.add("canary checks: URLs with user:password@ (entry points)", 1)
    figures.add("canary hits", len(found))
    assert found == []
    if name == "%config NbAuth.urls and settings().urls":
        return  # %config logs its error; the direct assignment raised it
    if where:
        assert isinstance(error, nbauth.UsageError), error
        assert where in error.message
        assert "user:password@" in error.message or "user name, password" in error.message
    assert not any(CANARY in repr(s) for s in STORE.all())


def _verbose_below(error: BaseException, module: str) -> str:
    """IPython's verbose traceback of ``error`` from the first nbauth frame below ``module``."""
    from IPython.core.ultratb import VerboseTB

    tb = error.__traceback__
    while tb is not None and (
        not tb.tb_frame.f_globals["__name__"].startswith("nbauth")
        or tb.tb_frame.f_globals["__name__"] == module
    ):
        tb = tb.tb_next
    return VerboseTB(theme_name="nocolor").text(type(error), error, tb)


def test_config_refusal_is_a_usage_error_and_keeps_the_setting(sandbox, ip):
    settings().urls = {"couchdrop": sandbox.urls["couchdrop"]}
    with pytest.raises(nbauth.UsageError, match=r"NbAuth.urls\['couchdrop'\]") as caught:
        settings().urls = {"couchdrop": with_userinfo(sandbox.urls["couchdrop"])}
    assert CANARY not in str(caught.value)
    assert settings().urls == {"couchdrop": sandbox.urls["couchdrop"]}


def test_the_server_never_receives_the_userinfo(sandbox):
    """httpx would send a URL's userinfo as HTTP Basic auth: nothing of it reaches the server."""
    requests_before = _received(sandbox)
    with pytest.raises(nbauth.UsageError):
        _login_url(sandbox, url=with_userinfo(sandbox.urls["couchdrop"]))
    assert _received(sandbox) == requests_before


def _received(sandbox) -> list[Any]:
    import httpx

    answer = httpx.get(sandbox.urls["couchdrop"] + "/_sandbox/requests")
    return answer.json()["requests"]


def test_a_magic_url_with_a_password_leaves_no_trace_in_history(ip, sandbox, monkeypatch):
    """``%login --url http://alice:pw@...`` in a cell: refused, and taken out of history."""
    monkeypatch.setenv("NBAUTH_NONINTERACTIVE", "1")
    line = f"%login couchdrop -u alice --url {with_userinfo(sandbox.urls['couchdrop'])}"
    with capture_output() as printed:
        result = ip.run_cell(line, store_history=True)
    assert isinstance(result.error_in_exec, nbauth.UsageError)
    history = ip.history_manager
    history.writeout_cache()
    time.sleep(0.1)
    kept = {
        "printed": printed.stdout + printed.stderr,
        "In": repr(ip.user_ns["In"]),
        "_ih": repr(history.input_hist_raw) + repr(history.input_hist_parsed),
        "_iN": repr(ip.user_ns.get(f"_i{result.execution_count}")),
        "history database": repr(
            history.db.execute("SELECT source, source_raw FROM history").fetchall()
        ),
    }
    found = [where for where, text in kept.items() if CANARY in text]
    figures.add("canary checks: URLs with user:password@ (entry points)", 1)
    figures.add("canary hits", len(found))
    assert found == []


# -- the login form's URL widget ---------------------------------------------------------


def test_the_form_takes_the_userinfo_out_of_its_url_widget_at_once(sandbox):
    form = LoginForm("rocketchat", url=sandbox.urls["rocketchat"])
    typed = with_userinfo(sandbox.urls["rocketchat"] + "/api")
    form.url.value = typed
    assert form.url.value == sandbox.urls["rocketchat"] + "/api"
    assert form.url.get_state()["value"] == sandbox.urls["rocketchat"] + "/api"
    message = form.status.value
    assert "The URL field" in message and "user:password@" in message and CANARY not in message
    state = json.dumps([w.get_state() for w in form.box.children], default=str)
    assert CANARY not in state and "alice:" not in state


# -- couchdrop:// and iogates:// paths ---------------------------------------------------


@pytest.mark.parametrize("protocol", ["couchdrop", "iogates"])
@pytest.mark.parametrize(
    "head",
    [
        "example.com",
        "files.example.com:8443",
        "someone@example.com",
        "someone:s3cr3tpw@",
        "someone@s3cr3tpw@",
        "someone:s3cr3t/pw",
    ],
)
@pytest.mark.parametrize("how", ["ls", "fsspec.open", "url_to_fs"])
def test_a_path_with_a_host_or_credentials_is_an_error(protocol, head, how):
    url = f"{protocol}://{head}/reports"
    with pytest.raises(nbauth.UsageError) as caught:
        if how == "ls":
            fsspec.filesystem(protocol).ls(url)
        elif how == "fsspec.open":
            fsspec.open(url).open()
        else:
            fsspec.core.url_to_fs(url)
    message = caught.value.message
    assert "session" in message and f"{protocol}://ALIAS@/path" in message
    if "someone" in head:  # a user or password: nothing of it is repeated
        assert "someone" not in message and "s3cr3t" not in message
    else:  # a host: named, with what to write instead
        assert f"{protocol}://{head}@/reports" in message and f"{protocol}:///{head}" in message


def test_a_path_naming_a_session_still_works(sandbox):
    nbauth.login(
        "couchdrop",
        url=sandbox.urls["couchdrop"],
        username="alice",
        password=_password(sandbox, "couchdrop"),
        alias="work",
    )
    fs = fsspec.filesystem("couchdrop")
    assert fs.ls("couchdrop://work@/", detail=False) == fs.ls("couchdrop:///", detail=False)
    assert fsspec.core.url_to_fs("couchdrop://work@/reports")[0].alias == "work"
