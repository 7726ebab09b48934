"""No password or token in what a failure or a login shows: an exception's message, repr and
arguments, its plain traceback with its chain, IPython's verbose traceback (which prints the
frames' variables), the links of its __cause__/__context__ chain, a warning, or a log record at
any level (every logger at DEBUG, each record formatted and its fields dumped).

Every login of every service and every error path nbauth has runs against a sandbox whose
passwords and tokens are unique canary strings (tests/leaks.py), and each of those strings, plus
the tokens issued so far, is searched for in all of the above.
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import logging
import re
import secrets
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus, urlencode, urlsplit

import figures
import pyotp
import pytest
import trustme
from IPython.core.ultratb import VerboseTB
from leaks import canaries, canary_seed

import nbauth
from nbauth import _redact
from nbauth.sandbox import Sandbox, running

#: A wrong password is a secret too: the person's real one, mistyped.
WRONG = "wrongcanary" + secrets.token_hex(6)


@dataclass
class Where:
    """The sandboxes a scenario may use."""

    sb: Sandbox
    tls: Sandbox
    bundle: str
    ip: Any


@pytest.fixture(scope="module")
def where(tmp_path_factory, ip) -> Iterator[Where]:
    folder = tmp_path_factory.mktemp("leaks-tls")
    ca = trustme.CA()
    server = folder / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(server)
    bundle = folder / "ca.pem"
    ca.cert_pem.write_to_path(bundle)
    with (
        running(seed=canary_seed()) as sb,
        running(seed=canary_seed(), tls=(str(server), str(server))) as tls,
    ):
        yield Where(sb, tls, str(bundle), ip)


@pytest.fixture(autouse=True)
def _knobs_back(where: Where) -> Iterator[None]:
    yield
    where.sb.reset()
    where.tls.reset()


# -- what a scenario shows --------------------------------------------------------------


class _Everything(logging.Handler):
    """Every record, formatted with its exception, and every field of it."""

    def __init__(self, into: list[str]):
        super().__init__(logging.DEBUG)
        self.into = into
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(f"{self.format(record)}\n{vars(record)!r}")


@contextmanager
def watching() -> Iterator[dict[str, list[str]]]:
    """Logs at DEBUG from every logger (httpx and httpcore included) and every warning."""
    shown: dict[str, list[str]] = {"log": [], "warnings": []}
    handler = _Everything(shown["log"])
    loggers = [logging.getLogger(name) for name in ("", "httpx", "httpcore")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    loggers[0].addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield shown
        for warning in caught:
            shown["warnings"].append(f"{warning.category.__name__}: {warning.message}")
    finally:
        loggers[0].removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def exception_texts(exc: BaseException) -> dict[str, str]:
    """Every way an exception shows itself. IPython's verbose traceback starts at nbauth's first
    frame: the caller's own frames hold what the caller passed, which is not nbauth's to hide."""
    chain, link, seen = [], exc, set()
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        chain.append(f"{link!s}\n{link!r}\n{vars(link)!r}")
        link = link.__cause__ or link.__context__
    tb = exc.__traceback__
    while tb is not None and not tb.tb_frame.f_globals["__name__"].startswith("nbauth"):
        tb = tb.tb_next
    texts = {
        "str": str(exc),
        "repr": repr(exc),
        "args": repr(exc.args),
        "traceback": "".join(traceback.format_exception(exc)),
        "chain": "\n".join(chain),
        "verbose traceback": VerboseTB(theme_name="nocolor").text(type(exc), exc, tb),
    }
    if isinstance(exc, nbauth.NbAuthError):
        texts["IPython's view"] = "\n".join(exc._render_traceback_())
    return texts


def hits(texts: dict[str, str], secret_values: dict[str, str]) -> list[str]:
    return [
        f"{name} in {channel}"
        for channel, text in texts.items()
        for name, value in secret_values.items()
        if value in text
    ]


def shown(scenario: Callable[[Where], object], where: Where) -> tuple[BaseException | None, dict]:
    """Run ``scenario``; return its error (None if it succeeded) and every text it showed."""
    error = None
    with watching() as caught:
        try:
            scenario(where)
        except nbauth.NbAuthError as exc:
            error = exc
    texts = {
        f"{channel} #{i}": text for channel, lines in caught.items() for i, text in enumerate(lines)
    }
    if error is not None:
        texts.update(exception_texts(error))
    return error, texts


def run(scenario: Callable[[Where], object], where: Where) -> tuple[BaseException | None, list]:
    """Run ``scenario``; return its error (None if it succeeded) and every canary found."""
    error, texts = shown(scenario, where)
    secret_values = {
        **canaries(where.sb),
        **{f"https {k}": v for k, v in canaries(where.tls).items()},
        "a mistyped password": WRONG,
    }
    return error, hits(texts, secret_values)


# -- the scenarios ----------------------------------------------------------------------


def password(w: Where, service: str, name: str = "alice", sb: Sandbox | None = None, **kw: Any):
    """A password login of ``name`` (the right password unless told) to ``sb``'s ``service``."""
    sb = sb or w.sb
    kw.setdefault("url", sb.urls[service])
    kw.setdefault("password", sb.user(service, name).password)
    return nbauth.login(service, username=name, **kw)


def share(w: Where, name: str, **kw: Any):
    return nbauth.login("iogates", share_url=w.sb.share_urls[name], **kw)


def token_login(w: Where, service: str, token: object, url: str | None = None, **kw: Any):
    return nbauth.login(service, url=url or w.sb.urls[service], token=token, **kw)


def wrong_totp(w: Where, service: str) -> str:
    right = pyotp.TOTP(w.sb.user(service, "bob").totp_secret).now()
    return f"{(int(right) + 500_000) % 1_000_000:06d}"


def revoked(w: Where, service: str) -> nbauth.Session:
    """A session whose token the server has since ended."""
    session = password(w, service)
    w.sb.revoke(service, session.token.reveal())
    return session


def must_ask(login: Callable[[], object]) -> None:
    with pytest.raises(nbauth.TwoFactorRequired):
        login()


def answered(service: str, status: int, echo: str | None = None, **knobs: Any):
    """A password login that the server answers with ``status``; with ``echo="password"`` its
    error text repeats the password it was sent."""

    def scenario(w: Where) -> None:
        if echo == "password":
            knobs["fail_body"] = f"could not check {w.sb.user(service, 'alice').password}"
        w.sb.knobs[service].update({"fail_status": status, **knobs})
        password(w, service)

    return scenario


def later_call_answered(service: str, status: int, echo_token: bool = False):
    """A later call of a session (its storage) that the server answers with ``status``,
    repeating the session's token in its error text with ``echo_token``."""

    def scenario(w: Where) -> None:
        session = password(w, service)
        body = f"could not check {session.token.reveal()}" if echo_token else None
        w.sb.knobs[service].update({"fail_status": status, "retry_after": 0, "fail_body": body})
        session.storage()

    return scenario


def couchdrop_profile_and_storage(w: Where) -> None:
    session = password(w, "couchdrop")
    assert session.profile and session.storage().rows


def rocketchat_statistics_and_logout(w: Where) -> None:
    session = password(w, "rocketchat")
    session.storage()
    session.logout()


def rocketchat_email_code(w: Where) -> None:
    must_ask(lambda: password(w, "rocketchat", "carol"))
    password(w, "rocketchat", "carol", code=w.sb.email_code("carol"))


def rocketchat_personal_access_token(w: Where) -> None:
    token, user_id = w.sb.rocketchat_pat
    token_login(w, "rocketchat", token, user_id=user_id)


def sms_share(w: Where) -> None:
    must_ask(lambda: share(w, "sms"))
    share(w, "sms", code=w.sb.sms_code("sms"))


def wrong_sms_code(w: Where) -> None:
    must_ask(lambda: share(w, "sms"))
    share(w, "sms", code="0000")


def stored_iogates_token(w: Where) -> None:
    """ioGates checks a stored token with GET /api/authinfo/{token}: the token is in the URL."""
    token_login(w, "iogates", password(w, "iogates").token)


def stored_iogates_token_async(w: Where) -> None:
    args = {"url": w.sb.urls["iogates"], "token": password(w, "iogates").token}
    asyncio.run(nbauth.alogin("iogates", **args))


def iogates_echoes_the_stored_token(w: Where) -> None:
    token = password(w, "iogates").token
    w.sb.knobs["iogates"].update({"fail_status": 503, "fail_body": f"no {token.reveal()}"})
    token_login(w, "iogates", token)


def magic_with_echo(w: Where) -> None:
    """%login from NBAUTH_* variables, and a server that repeats the password."""
    user = w.sb.user("couchdrop", "alice")
    env = {"URL": w.sb.urls["couchdrop"], "USERNAME": "alice", "PASSWORD": user.password}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(f"NBAUTH_COUCHDROP_{key}", value)
        w.sb.knobs["couchdrop"].update(
            {"fail_status": 500, "fail_body": f"could not check {user.password}"}
        )
        w.ip.run_line_magic("login", "couchdrop")


def timeout_async(w: Where) -> None:
    token = password(w, "iogates").token
    login = nbauth.alogin("iogates", url=w.sb.blackhole_url, token=token, timeout=0.3)
    asyncio.run(login)


def tls_failure_async(w: Where) -> None:
    user = w.tls.user("rocketchat", "alice")
    url = w.tls.urls["rocketchat"]
    asyncio.run(nbauth.alogin("rocketchat", url=url, username="alice", password=user.password))


def tls_failure_of_a_stored_token(w: Where) -> None:
    token = password(w, "iogates", sb=w.tls, verify=w.bundle).token
    token_login(w, "iogates", token, url=w.tls.urls["iogates"])


def couchdrop_non_admin(w: Where) -> None:
    """dave's token is refused on /manage ("Token was not valid"), then checked on the file
    host; his profile, storage and a token login with his token."""
    session = password(w, "couchdrop", "dave")
    assert "admins only" in session.profile["account"] and session.storage().note
    token_login(w, "couchdrop", session.token, alias="dave-token").storage()


def non_admin_revoked(w: Where) -> nbauth.Session:
    session = password(w, "couchdrop", "dave")
    w.sb.revoke("couchdrop", session.token.reveal())
    return session


def couchdrop_upload_to_a_data_server(w: Where) -> None:
    """An upload sent twice (field `file`, then `data`), each request with the token."""
    w.sb.knobs["couchdrop"].update({"couchdrop_upload_field": "data"})
    session = password(w, "couchdrop", "dave")
    folder = f"/leak-{secrets.token_hex(4)}"
    session.mkdir(folder)
    assert session.upload(b"x", f"{folder}/x.txt")["size"] == 1


def iogates_token_header_only(w: Where) -> None:
    w.sb.knobs["iogates"].update({"iogates_token_header": "token"})
    session = password(w, "iogates")
    session.ls("/", recursive=True)
    token_login(w, "iogates", session.token, alias="stored").ls("/Projects")


def iogates_download_through_a_redirect(w: Where) -> None:
    """The link answers 302 to another host name: nothing secret may arrive there either."""
    session = password(w, "iogates")
    assert session.download("/Projects/Rushes/notes.txt", start=0, end=5) == b"Scene"
    assert session.download("/Private/budget.csv")
    arrived = "\n".join(f"{k}: {v}" for h in w.sb.iogates_delivered for k, v in h.items())
    assert len(w.sb.iogates_delivered) == 2
    assert not [name for name, value in canaries(w.sb).items() if value in arrived], arrived


SUCCEEDING: dict[str, Callable[[Where], object]] = {
    "couchdrop password, profile, storage": couchdrop_profile_and_storage,
    "couchdrop admin token": lambda w: token_login(w, "couchdrop", w.sb.couchdrop_admin_token),
    "couchdrop two-factor code": lambda w: password(
        w, "couchdrop", "bob", code=w.sb.totp("couchdrop", "bob")
    ),
    "rocketchat password, statistics, logout": rocketchat_statistics_and_logout,
    "rocketchat two-factor code": lambda w: password(
        w, "rocketchat", "bob", code=w.sb.totp("rocketchat", "bob")
    ),
    "rocketchat e-mail code": rocketchat_email_code,
    "rocketchat personal access token": rocketchat_personal_access_token,
    "rocketchat resume token": lambda w: token_login(
        w, "rocketchat", password(w, "rocketchat").token
    ),
    "iogates password": lambda w: password(w, "iogates"),
    "iogates share URL": lambda w: share(w, "open"),
    "iogates SMS share": sms_share,
    "iogates stored token (in URL paths)": stored_iogates_token,
    "iogates stored token, async": stored_iogates_token_async,
    "https with the CA bundle": lambda w: password(w, "iogates", sb=w.tls, verify=w.bundle),
    "https with verify=False (warns)": lambda w: password(w, "rocketchat", sb=w.tls, verify=False),
    "a client of a session": lambda w: password(w, "iogates").client().close(),
    "couchdrop non-admin: profile, storage, token login": couchdrop_non_admin,
    "couchdrop upload to a server that reads 'data'": couchdrop_upload_to_a_data_server,
    "iogates server that reads only the 'token' header": iogates_token_header_only,
    "iogates download through a redirect": iogates_download_through_a_redirect,
}

FAILING: dict[str, tuple[type[nbauth.NbAuthError], Callable[[Where], object]]] = {
    # wrong credentials
    "couchdrop wrong password": (
        nbauth.AccessDenied,
        lambda w: password(w, "couchdrop", password=WRONG),
    ),
    "rocketchat wrong password": (
        nbauth.AccessDenied,
        lambda w: password(w, "rocketchat", password=WRONG),
    ),
    "iogates wrong password": (
        nbauth.AccessDenied,
        lambda w: password(w, "iogates", password=WRONG),
    ),
    "couchdrop blocked account": (
        nbauth.AccessDenied,
        lambda w: password(w, "couchdrop", "mallory"),
    ),
    "rocketchat blocked account": (
        nbauth.AccessDenied,
        lambda w: password(w, "rocketchat", "mallory"),
    ),
    "iogates blocked account": (nbauth.AccessDenied, lambda w: password(w, "iogates", "mallory")),
    # two-factor
    "couchdrop two-factor asked": (
        nbauth.TwoFactorRequired,
        lambda w: password(w, "couchdrop", "bob"),
    ),
    "rocketchat two-factor asked": (
        nbauth.TwoFactorRequired,
        lambda w: password(w, "rocketchat", "bob"),
    ),
    "iogates SMS asked": (nbauth.TwoFactorRequired, lambda w: share(w, "sms")),
    "couchdrop wrong code": (
        nbauth.InvalidCode,
        lambda w: password(w, "couchdrop", "bob", code=wrong_totp(w, "couchdrop")),
    ),
    "rocketchat wrong code": (
        nbauth.InvalidCode,
        lambda w: password(w, "rocketchat", "bob", code=wrong_totp(w, "rocketchat")),
    ),
    "iogates wrong SMS code": (nbauth.InvalidCode, wrong_sms_code),
    # shares and tokens
    "iogates expired share": (nbauth.AccessDenied, lambda w: share(w, "expired")),
    "couchdrop refused token": (
        nbauth.AccessDenied,
        lambda w: token_login(w, "couchdrop", revoked(w, "couchdrop").token),
    ),
    "rocketchat refused resume token": (
        nbauth.AccessDenied,
        lambda w: token_login(w, "rocketchat", revoked(w, "rocketchat").token),
    ),
    "iogates refused token (in URL paths)": (
        nbauth.AccessDenied,
        lambda w: token_login(w, "iogates", revoked(w, "iogates").token),
    ),
    "couchdrop session expired on a later call": (
        nbauth.SessionExpired,
        lambda w: revoked(w, "couchdrop").storage(),
    ),
    "couchdrop non-admin's token refused by the file host too": (
        nbauth.SessionExpired,
        lambda w: non_admin_revoked(w).profile,
    ),
    "rocketchat session expired on a later call": (
        nbauth.SessionExpired,
        lambda w: revoked(w, "rocketchat").storage(),
    ),
    # the server in trouble
    "couchdrop 429": (nbauth.RateLimited, answered("couchdrop", 429)),
    "rocketchat 429 with Retry-After": (
        nbauth.RateLimited,
        answered("rocketchat", 429, retry_after=5),
    ),
    "iogates 429": (nbauth.RateLimited, answered("iogates", 429)),
    "couchdrop 500": (nbauth.ServiceError, answered("couchdrop", 500)),
    "rocketchat 503 to the login POST": (nbauth.ServiceError, answered("rocketchat", 503)),
    "iogates HTML 502 page": (nbauth.ServiceError, answered("iogates", 502, fail_html=True)),
    "couchdrop 503 to a GET, retried": (nbauth.ServiceError, later_call_answered("couchdrop", 503)),
    # a server that repeats the secret in its error text
    "couchdrop echoes the password": (
        nbauth.ServiceError,
        answered("couchdrop", 500, echo="password"),
    ),
    "rocketchat echoes the password in a 429": (
        nbauth.RateLimited,
        answered("rocketchat", 429, echo="password"),
    ),
    "iogates echoes the password": (nbauth.ServiceError, answered("iogates", 500, echo="password")),
    "iogates echoes a stored token (in URL paths)": (
        nbauth.ServiceError,
        iogates_echoes_the_stored_token,
    ),
    "couchdrop echoes the token on a later call": (
        nbauth.ServiceError,
        later_call_answered("couchdrop", 500, echo_token=True),
    ),
    "rocketchat echoes the token on a later call": (
        nbauth.ServiceError,
        later_call_answered("rocketchat", 503, echo_token=True),
    ),
    "%login with a server that echoes the password": (nbauth.ServiceError, magic_with_echo),
    # no answer
    "couchdrop connection refused": (
        nbauth.ConnectionFailed,
        lambda w: password(w, "couchdrop", url=w.sb.closed_url),
    ),
    "iogates stored token, connection refused": (
        nbauth.ConnectionFailed,
        lambda w: token_login(w, "iogates", password(w, "iogates").token, url=w.sb.closed_url),
    ),
    "rocketchat timeout": (
        nbauth.ConnectionFailed,
        lambda w: password(w, "rocketchat", url=w.sb.blackhole_url, timeout=0.3),
    ),
    "iogates stored token, timeout, async": (nbauth.ConnectionFailed, timeout_async),
    "couchdrop TLS failure": (
        nbauth.ConnectionFailed,
        lambda w: password(w, "couchdrop", sb=w.tls),
    ),
    "iogates stored token, TLS failure": (nbauth.ConnectionFailed, tls_failure_of_a_stored_token),
    "rocketchat TLS failure, async": (nbauth.ConnectionFailed, tls_failure_async),
    # wrong calls, refused before anything is sent
    "plain http to another host": (
        nbauth.UsageError,
        lambda w: password(w, "couchdrop", url="http://example.invalid"),
    ),
    "a token and a password together": (
        nbauth.UsageError,
        lambda w: password(w, "couchdrop", token=w.sb.couchdrop_admin_token),
    ),
    "a token with a line break": (
        nbauth.UsageError,
        lambda w: token_login(w, "iogates", w.sb.couchdrop_admin_token + "\nmore"),
    ),
}


@pytest.mark.parametrize("name", list(SUCCEEDING))
def test_no_secret_shows_in_a_login(where, name):
    error, found = run(SUCCEEDING[name], where)
    figures.add("canary checks: logins", 1)
    figures.add("canary hits", len(found))
    assert error is None
    assert found == []


@pytest.mark.parametrize("name", list(FAILING))
def test_no_secret_shows_in_an_error(where, name):
    expected, scenario = FAILING[name]
    error, found = run(scenario, where)
    figures.add("canary checks: error paths", 1)
    figures.add("canary hits", len(found))
    assert isinstance(error, expected), error
    assert found == []


# -- the search finds what it looks for -------------------------------------------------


def test_without_the_log_filter_the_search_finds_a_token(where, monkeypatch):
    monkeypatch.setattr(_redact._MaskSecrets, "filter", lambda self, record: True)
    _, found = run(stored_iogates_token, where)
    assert any("log" in hit for hit in found)


def test_without_scrubbing_the_verbose_traceback_shows_secrets(where, monkeypatch):
    monkeypatch.setattr(_redact, "scrub", lambda exc, secrets=(): None)
    _, found = run(FAILING["iogates refused token (in URL paths)"][1], where)
    assert any("verbose traceback" in hit for hit in found)
    _, found = run(FAILING["a token and a password together"][1], where)
    assert any("verbose traceback" in hit for hit in found)


def test_without_masking_an_echoing_server_shows_the_token(where, monkeypatch):
    monkeypatch.setattr(_redact, "mask", lambda text, secrets: text)
    monkeypatch.setattr(_redact, "mask_whole", lambda text, secrets: text)
    _, found = run(FAILING["couchdrop echoes the token on a later call"][1], where)
    assert any(hit.endswith(" in str") for hit in found)


# -- the log filter on its own ----------------------------------------------------------


def test_every_httpx_and_httpcore_logger_masks_the_secrets_in_flight():
    from nbauth._calls import Call
    from nbauth.secret import Secret

    token = "canary" + secrets.token_hex(12)
    call = Call(
        "GET", f"https://x/api/authinfo/{token}", {"Authorization": Secret(f"Bearer {token}")}
    )
    with watching() as shown, _redact.InFlight() as live:
        live.add(call)
        for name in _redact.LOGGERS:
            logging.getLogger(name).debug("sent %s", call.url)
    assert len(shown["log"]) == len(_redact.LOGGERS)
    assert not any(token in text for text in shown["log"])
    assert all(f"/api/authinfo/********{token[-4:]}" in text for text in shown["log"])


def test_a_session_client_request_is_masked_in_httpx_log(where):
    session = password(where, "iogates")
    token = session.token.reveal()
    with watching() as shown, session.client() as client:
        assert client.get(f"/api/authinfo/{token}").status_code == 200
    assert any("HTTP Request: GET" in text for text in shown["log"])
    assert not any(token in text for text in shown["log"])


# -- a secret echoed in another form, or in part ------------------------------------------

SERVICES = ("couchdrop", "rocketchat", "iogates")
#: A password as people choose them (spaces, quotes, &, <, /, +, %, non-ASCII), and unique.
ODD = 'p&ss w\'rd <"é"> /+%x-canary' + secrets.token_hex(6)

#: How a server may repeat what it was sent; each applies to a whole secret or to a run of it.
ENCODINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "URL-encoded": lambda s: quote(s, safe=""),
    "URL-encoded, / kept": quote,
    "form-encoded": lambda s: quote_plus(s, safe=""),
    "URL-encoded, lowercase hex": lambda s: re.sub(
        "%[0-9A-F]{2}", lambda m: m.group().lower(), quote(s, safe="")
    ),
    "HTML-escaped": html.escape,
    "HTML-escaped, &#39; and &#34;": lambda s: (
        html.escape(s).replace("&#x27;", "&#39;").replace("&quot;", "&#34;")
    ),
    "HTML-escaped, quotes kept": lambda s: html.escape(s, quote=False),
    "JSON-escaped": lambda s: json.dumps(s)[1:-1],
    "JSON-escaped, non-ASCII kept": lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
}

#: What a server's error text holds of a secret.
ECHOES: dict[str, Callable[[str], str]] = {
    **{f"whole, {name}": encode for name, encode in ENCODINGS.items()},
    "in a form body": lambda s: urlencode({"username": "alice", "password": s}),
    "in a query string": lambda s: "/authenticate?" + urlencode({"password": s}),
    "its first 12 characters": lambda s: s[:12] + "...",
    "12 characters of its middle": lambda s: f"({s[5:17]})",
    "its last 8 characters": lambda s: s[-8:],
    "its first 14, URL-encoded": lambda s: quote(s[:14], safe=""),
    "17 of its middle, HTML-escaped": lambda s: html.escape(s[3:20]),
    "twice, cut": lambda s: f"{s[:-3]} and {quote_plus(s)[2:]}",
}


def runs_shown(secret: str, texts: dict[str, str]) -> list[str]:
    """Every run of 8 characters in a row of ``secret``, in any of ENCODINGS, in ``texts``."""
    pieces = {secret[i : i + 8] for i in range(len(secret) - 7)}
    return [
        f"{piece!r} ({name}) in {channel}"
        for piece in sorted(pieces)
        for name, encode in ENCODINGS.items()
        for channel, text in texts.items()
        if encode(piece) in text
    ]


@pytest.mark.parametrize("echo", list(ECHOES))
@pytest.mark.parametrize("service", SERVICES)
def test_a_password_echoed_in_any_form_or_in_part_is_masked(where, service, echo):
    """The error text of a login repeats the password: no 8 characters of it in a row, in any
    encoding, show anywhere, and the mask shows none of its last characters."""

    def scenario(w: Where) -> None:
        body = f"could not check {ECHOES[echo](ODD)} for alice"
        w.sb.knobs[service].update({"fail_status": 500, "fail_body": body})
        password(w, service, password=ODD)

    error, texts = shown(scenario, where)
    assert isinstance(error, nbauth.ServiceError)
    assert "for alice" in error.message  # the server's text is shown, the password masked in it
    found = runs_shown(ODD, texts)
    found += [f"its tail in {where}" for where, text in texts.items() if "*" + ODD[-4:] in text]
    figures.add("canary checks: echoed in another form or in part", 1)
    figures.add("canary hits", len(found))
    assert found == []


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


def _b64(prefix: bytes, urlsafe: bool = False) -> Callable[[str], str]:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return lambda s: encode(prefix + s.encode()).decode()


#: A whole password echoed in forms a server, a proxy or a framework may use, each with the
#: part of the echo that must not show (the rest is what came before it: "bob:" in base64).
ENCODED_ECHOES: dict[str, tuple[Callable[[str], str], slice]] = {
    "upper case": (str.upper, slice(None)),
    "swapped case": (str.swapcase, slice(None)),
    "title case": (str.title, slice(None)),
    "fullwidth (NFKC folds it)": (_fullwidth, slice(None)),
    "fullwidth, upper case": (lambda s: _fullwidth(s.upper()), slice(None)),
    "URL-encoded twice": (lambda s: quote(quote(s, safe=""), safe=""), slice(None)),
    "form-encoded, then URL-encoded": (lambda s: quote(quote_plus(s), safe=""), slice(None)),
    "base64": (_b64(b""), slice(None)),
    "base64, URL-safe": (_b64(b"", urlsafe=True), slice(None)),
    "base64 of 'alice:' and it (Basic auth)": (_b64(b"alice:"), slice(8, None)),
    "base64 of 'bob:' and it": (_b64(b"bob:"), slice(6, None)),
    "base64 of 'al:' and it, URL-safe": (_b64(b"al:", urlsafe=True), slice(4, None)),
    "hex of its UTF-8": (lambda s: s.encode().hex(), slice(None)),
    "HEX of its UTF-8": (lambda s: s.encode().hex().upper(), slice(None)),
    "hex of its UTF-16": (lambda s: s.encode("utf-16-le").hex(), slice(None)),
    "every character as &#N;": (lambda s: "".join(f"&#{ord(c)};" for c in s), slice(None)),
    "every character as \\uXXXX": (lambda s: "".join(f"\\u{ord(c):04x}" for c in s), slice(None)),
}


def runs_of(text: str, texts: dict[str, str]) -> list[str]:
    """Every run of 8 characters in a row of ``text`` found in ``texts``."""
    pieces = {text[i : i + 8] for i in range(len(text) - 7)}
    return [
        f"{piece!r} in {where}"
        for piece in sorted(pieces)
        for where in texts
        if piece in texts[where]
    ]


@pytest.mark.parametrize("echo", list(ENCODED_ECHOES))
@pytest.mark.parametrize("service", SERVICES)
def test_a_password_echoed_in_another_case_or_encoding_is_masked(where, service, echo):
    """The error text of a login repeats the password in another case, fullwidth, URL-encoded
    twice, in base64 (at any offset: after a username) or hex: no 8 characters in a row of
    that echo show anywhere (its first characters, for a base64 after a username, are the
    username's), nor of the password."""
    encode, secret_part = ENCODED_ECHOES[echo]
    shown_echo = encode(ODD)

    def scenario(w: Where) -> None:
        w.sb.knobs[service].update({"fail_status": 500, "fail_body": f"bad {shown_echo} for alice"})
        password(w, service, password=ODD)

    error, texts = shown(scenario, where)
    assert isinstance(error, nbauth.ServiceError)
    assert "for alice" in error.message
    found = runs_of(shown_echo[secret_part], texts) + runs_shown(ODD, texts)
    figures.add("canary checks: echoed in another form or in part", 1)
    figures.add("canary hits", len(found))
    assert found == []


@pytest.mark.parametrize("short", ["Zq7#x", "k9!", "Ab3dE"])
@pytest.mark.parametrize("service", SERVICES)
def test_a_short_password_in_a_refused_logins_text_is_masked_whole(where, service, short):
    """A password shorter than masking's MIN_LENGTH, echoed by the server that refuses the
    login, is masked in the server's text (raw or encoded); nbauth's own words are left whole,
    even where they hold it."""

    def scenario(w: Where) -> None:
        body = f"bad password {short} for alice ({quote(short, safe='')})"
        w.sb.knobs[service].update({"fail_status": 403, "fail_body": body})
        password(w, service, password=short)

    error, texts = shown(scenario, where)
    assert isinstance(error, nbauth.NbAuthError)
    assert '("bad password ******** for alice (********)")' in error.message
    found = [where for where, text in texts.items() if short in text or quote(short) in text]
    figures.add("canary checks: echoed in another form or in part", 1)
    figures.add("canary hits", len(found))
    assert found == []


def test_a_short_password_leaves_nbauths_own_words_whole(where):
    def scenario(w: Where) -> None:
        w.sb.knobs["couchdrop"].update({"fail_status": 403, "fail_body": "no login for alice"})
        password(w, "couchdrop", password="login")

    error, _ = shown(scenario, where)
    assert isinstance(error, nbauth.AccessDenied)
    assert re.match(
        r"Couchdrop login failed \(HTTP 403 from [\d.:]+\): wrong username or", error.message
    )
    assert '("no ******** for alice")' in error.message  # the server's words are masked


def _later_call(service: str) -> Callable[[nbauth.Session], object]:
    if service == "iogates":  # its storage came with the login
        return lambda session: session.ls("/")
    return lambda session: session.storage()


@pytest.mark.parametrize(
    "echo", ["its first 12 characters", "12 characters of its middle", "twice, cut"]
)
@pytest.mark.parametrize("service", SERVICES)
def test_a_token_echoed_in_part_on_a_later_call_is_masked(where, service, echo):
    tokens: list[str] = []

    def scenario(w: Where) -> None:
        session = password(w, service)
        tokens.append(session.token.reveal())
        body = f"could not check {ECHOES[echo](tokens[0])} now"
        w.sb.knobs[service].update({"fail_status": 500, "fail_body": body})
        _later_call(service)(session)

    error, texts = shown(scenario, where)
    assert isinstance(error, nbauth.ServiceError)
    found = runs_shown(tokens[0], texts)
    figures.add("canary checks: echoed in another form or in part", 1)
    figures.add("canary hits", len(found))
    assert found == []


@pytest.mark.parametrize(
    "echo",
    ["the path", "the path, URL-encoded", "the key's part of the path", "the whole URL, cut"],
)
def test_a_share_key_quoted_back_in_a_path_is_masked(where, echo):
    """ioGates answers a share-URL login with an error that quotes the share's path (its key
    is the credential), not the whole URL that was sent."""
    url = where.sb.share_urls["open"]
    path = urlsplit(url).path
    key = where.sb.seed.shares["open"].key
    quoted = {
        "the path": f"no share at {path}",
        "the path, URL-encoded": f"no share at {quote(path, safe='')}",
        "the key's part of the path": f"/show/15/x/{key}/files is gone",
        "the whole URL, cut": f"see {url[:-12]}...",
    }[echo]

    def scenario(w: Where) -> None:
        w.sb.knobs["iogates"].update({"fail_status": 403, "fail_body": quoted})
        share(w, "open")

    error, texts = shown(scenario, where)
    assert isinstance(error, nbauth.AccessDenied)
    found = runs_shown(key, texts) + runs_shown(path.split("/dir/")[0], texts)
    figures.add("canary checks: echoed in another form or in part", 1)
    figures.add("canary hits", len(found))
    assert found == []


def test_a_share_key_in_a_location_header_is_masked_in_the_http_log(where):
    """A redirect's Location (logged by httpcore at DEBUG) that names the share's path."""
    from nbauth._calls import Call
    from nbauth.secret import Secret

    url = where.sb.share_urls["open"]
    path = urlsplit(url).path
    call = Call("POST", "https://h/api/authtoken", json={"url": Secret(url), "deviceId": "d"})
    with watching() as caught, _redact.InFlight() as live:
        live.add(call)
        logging.getLogger("httpcore.http11").debug(
            "receive_response_headers.complete return_value=%r",
            (b"HTTP/1.1", 302, b"Found", [(b"Location", f"{path}/login".encode())]),
        )
    texts = {f"log #{i}": text for i, text in enumerate(caught["log"])}
    assert texts
    figures.add("canary checks: echoed in another form or in part", 1)
    assert runs_shown(path.split("/dir/")[0], texts) == []


def test_a_download_redirects_target_key_is_masked_in_the_http_log(where):
    """A download link answered 302 (the sandbox's CDN-like delivery host): httpcore logs the
    302's headers at DEBUG, its Location naming the next link, whose key opens the file, before
    nbauth's flow has read it. No 8 characters of that key show in any record."""
    session = password(where, "iogates")
    files = session.ls("/Projects/Rushes")
    file_id = int(files[files["name"] == "notes.txt"]["id"].iloc[0])
    keys = where.sb._iogates.delivery_keys  # the sandbox's own: what its Location names
    with watching() as caught:
        assert session.download(file_id) == session.download("/Projects/Rushes/notes.txt")
    texts = {f"log #{i}": text for i, text in enumerate(caught["log"])}
    assert any("/delivery/" in text and "302" in text for text in texts.values())  # it was logged
    found = runs_shown(keys[file_id], texts)
    figures.add("canary checks: echoed in another form or in part", 1)
    figures.add("canary hits", len(found))
    assert found == []


@pytest.mark.parametrize(
    ("logged", "shown"),
    [
        (
            "[(b'date', b'x'), (b'location', b'https://cdn.example/delivery/375/KEY?sig=SIG')]",
            "[(b'date', b'x'), (b'location', b'https://cdn.example/delivery/375/********?sig=********')]",
        ),
        ("('Location', '/dl/KEY')", "('Location', '/dl/********')"),
        ("Location: https://u:KEY@h/a", "Location: https://********@h/a"),
        ("(b'content-type', b'text/plain/KEY')", "(b'content-type', b'text/plain/KEY')"),
    ],
)
def test_the_key_like_parts_of_a_location_are_masked_while_a_link_is_fetched(logged, shown):
    from nbauth._calls import Call
    from nbauth.secret import Secret

    key = secrets.token_urlsafe(24)
    link = Call("GET", "https://h/download-file/1/x", url_secrets=(Secret("x" * 32),))
    plain = Call("GET", "https://h/api/files", {"token": Secret("y" * 32)})
    with watching() as caught:
        for calls in ([plain], [plain, link]):
            with _redact.InFlight() as live:
                for call in calls:
                    live.add(call)
                logging.getLogger("httpcore.http11").debug(
                    "receive_response_headers.complete return_value=%s",
                    logged.replace("KEY", key).replace("SIG", key[::-1]),
                )
    without_a_link, with_a_link = caught["log"]
    assert key in without_a_link  # only a flow that fetches a link has its Location masked
    assert shown.replace("KEY", key) in with_a_link


def test_masking_a_megabyte_log_record_stays_fast():
    """The log filter masks every record of httpx and httpcore while logging is on: a record
    of 1 MB (a large header or a long URL) with the live secrets of a login and 100 stored
    tokens costs well under a second."""
    import time

    from nbauth.secret import Secret

    text = ("GET /api/files?page=1 HTTP/1.1 word words longerwords " * 20_000)[:1_000_000]
    live = [Secret(ODD, "password"), *(Secret(secrets.token_urlsafe(32)) for _ in range(100))]
    _redact.mask(text[:100_000], live)  # numpy imported, as in a kernel that ran pandas
    started = time.perf_counter()
    masked = _redact.mask(text + ODD, live)
    took = time.perf_counter() - started
    figures.put("log filter: seconds to mask a 1 MB record (101 secrets)", round(took, 3))
    assert masked == text + "********"
    assert took < 1.0
    # Text that is not all ASCII is case-folded and NFKC-normalised too (ß becomes ss)
    accented = ("Größe der Datei: café, naïve Ünïcödé straße ÆØÅ " * 25_000)[:1_000_000]
    started = time.perf_counter()
    masked = _redact.mask(accented + ODD.upper(), live)
    took = time.perf_counter() - started
    figures.put("log filter: seconds to mask a 1 MB non-ASCII record (101 secrets)", round(took, 3))
    assert masked == accented + "********"
    assert took < 1.0


def test_nbauths_own_words_are_not_masked_by_runs(where):
    """A password holding a word of nbauth's message ("password") leaves the message whole:
    masking that word would tell whoever reads the message that the password holds it. Only
    the server's text, where an echo can be, is masked run by run."""
    wordy = "password-" + secrets.token_hex(6)

    def scenario(w: Where) -> None:
        w.sb.knobs["couchdrop"].update({"fail_status": 500, "fail_body": f"bad {wordy[3:15]}"})
        password(w, "couchdrop", password=wordy)

    error, texts = shown(scenario, where)
    assert isinstance(error, nbauth.ServiceError)
    assert re.match(
        r"Couchdrop login failed \(HTTP 500 from [\d.:]+\): the server had an", error.message
    )
    assert '("bad ********")' in error.message
    figures.add("canary checks: echoed in another form or in part", 1)
    assert [where for where, text in texts.items() if wordy[3:15] in text] == []
