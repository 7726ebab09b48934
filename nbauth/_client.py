"""A session's own httpx client (``Session.client()`` / ``aclient()``), and the rules it keeps.

The client carries the session's token, so it keeps the login's rules, for every request and
every redirect it follows:

- the auth headers are added to each request by ``SessionAuth`` (``client.auth``), and only
  for the session's origins: the scheme, host and port of its API base and of the
  ``base_url`` given. They are not default headers, so ``client.headers`` and the reprs of the
  client and its auth show no token;
- a request hook (``_Guard``) runs before every request httpx sends, redirects included: httpx
  builds a redirect from the previous request's headers and drops only ``Authorization`` when
  the origin changes, so Couchdrop's ``token``, Rocket.Chat's ``X-Auth-Token`` and ioGates'
  ``token`` header would follow a redirect to another host. The hook takes any of the
  session's auth headers off a request to another origin, refuses a URL with a
  ``user:password@`` part, and refuses plain HTTP to another machine or through a proxy (as
  this client routes it) unless the login allowed it.

``session.auth_headers()`` still gives the raw headers, for code that sends them itself.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import httpx

from . import _http, _urls
from .errors import NotLoggedIn, UsageError

if TYPE_CHECKING:
    from ._calls import Peer
    from .secret import Secret


class Session(Protocol):
    """What a client needs of its session (nbauth.Session is one)."""

    alias: str
    url: str
    service: str
    timeout: float
    verify: _http.Verify
    allow_insecure: bool
    token: Secret
    logged_out: bool

    @property
    def _service(self) -> Peer: ...

    @property
    def title(self) -> str: ...

    def auth_headers(self) -> dict[str, str]: ...


__all__ = ["SessionAuth", "logged_out", "make_aclient", "make_client"]

#: Scheme, host and port.
Origin: TypeAlias = "tuple[str, str, int | None]"


def origin(url: httpx.URL) -> Origin:
    """Scheme, host and port of ``url`` (the scheme's default port when none is written)."""
    port = url.port if url.port is not None else {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme, url.host, port)


def make_client(session: Session, given: dict[str, Any]) -> httpx.Client:
    """``session``'s ``httpx.Client``, made with the keyword arguments ``given``; the login's
    checks run before it is handed out."""
    client = _make(session, given, asynchronous=False)
    assert isinstance(client, httpx.Client)
    return client


def make_aclient(session: Session, given: dict[str, Any]) -> httpx.AsyncClient:
    """The async twin of ``make_client``."""
    client = _make(session, given, asynchronous=True)
    assert isinstance(client, httpx.AsyncClient)
    return client


def _make(
    session: Session, given: dict[str, Any], asynchronous: bool
) -> httpx.Client | httpx.AsyncClient:
    if given.get("auth") is not None:
        raise UsageError(
            f"{session.title}: client() sets auth= itself (the session's token); for other "
            "credentials, make an httpx client of your own.",
            service=session.service,
        )
    given = {k: v for k, v in given.items() if k != "auth"}
    base = given.pop("base_url", None)
    url = session.url if base is None else str(base)
    _urls.refuse_userinfo(url, "base_url=", session._service)
    base_url = _urls.parsed(session.url) if base is None else httpx.URL(url)
    origins = frozenset({origin(_urls.parsed(session.url)), origin(base_url)})
    guard = _Guard(session, origins)
    hooks = dict(given.pop("event_hooks", None) or {})
    hooks["request"] = [guard.acheck if asynchronous else guard.check, *hooks.get("request", [])]
    options = {
        "timeout": session.timeout,
        "verify": _http.ssl_context(session.verify),
        **given,
        "base_url": url,
        "auth": SessionAuth(session, origins),
        "event_hooks": hooks,
    }
    try:
        client: httpx.Client | httpx.AsyncClient | None = (
            httpx.AsyncClient(**options) if asynchronous else httpx.Client(**options)
        )
    except (httpx.InvalidURL, ValueError, ImportError):
        client = None  # a proxy httpx cannot use: its own text can quote the proxy's password
    if client is None:
        raise _bad_proxy(given)  # outside the except: no __context__ holding httpx's text
    guard.client = client
    try:
        _http.check_plain_http(
            base_url, allow_insecure=session.allow_insecure, service=session._service, client=client
        )
    except UsageError:
        if isinstance(client, httpx.Client):
            client.close()
        raise  # an AsyncClient not yet used holds no connection: nothing to close
    _http.warn_unverified(session._service, url, session.verify)
    return client


def _bad_proxy(given: dict[str, Any]) -> UsageError:
    """Why httpx could not make the client: a bad proxy variable, or a bad ``proxy=``."""
    if given.get("trust_env", True):
        try:
            _urls.read_proxies()
        except UsageError as exc:
            return exc
    return UsageError(
        "httpx could not make the client from the arguments given (a proxy= or mounts= it "
        "cannot use?). Check them against httpx.Client's."
    )


def logged_out(session: Session) -> NotLoggedIn:
    """The error for a call of a logged-out session, or a request of a client made from it."""
    return NotLoggedIn(
        f"{session.title}: the session '{session.alias}' was logged out, so it makes no more "
        f"calls. Log in again: %login {session.service} --as {session.alias}  (or "
        f"nbauth.login('{session.service}', ..., alias='{session.alias}')).",
        service=session.service,
    )


class SessionAuth(httpx.Auth):
    """The auth of a session's ``client()``: the session's auth headers, added to each request
    to one of ``origins`` (scheme, host, port) that does not set them itself. Its repr shows
    the header names and the origins, never the token."""

    def __init__(self, session: Session, origins: frozenset[Origin]) -> None:
        self._session = session
        self.origins = origins

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._session.logged_out:  # its token may still work: a logout need not end it
            del request  # a verbose traceback shows this frame's locals
            raise logged_out(self._session)
        if origin(request.url) in self.origins:
            for name, value in self._session.auth_headers().items():
                if name not in request.headers:
                    request.headers[name] = value
        yield request

    def __repr__(self) -> str:
        session = self._session
        names = ", ".join(session.auth_headers())
        where = ", ".join(
            sorted(f"{scheme}://{host}:{port}" for scheme, host, port in self.origins)
        )
        return (
            f"<nbauth.SessionAuth {session.alias!r}: {names} for {where} "
            f"(token {session.token.masked})>"
        )


class _Guard:
    """The first request hook of a session's client: httpx runs it before each request it
    sends, the hops of a redirect included (see the module's text)."""

    def __init__(self, session: Session, origins: frozenset[Origin]) -> None:
        self.session = session
        self.origins = origins
        self.client: httpx.Client | httpx.AsyncClient | None = None

    def check(self, request: httpx.Request) -> None:
        session = self.session
        if _urls.has_userinfo(request.url):
            del request  # a verbose traceback shows this frame's locals
            raise _urls.refusal("the request's URL", session._service)
        _http.check_plain_http(
            request.url,
            allow_insecure=session.allow_insecure,
            service=session._service,
            client=self.client,
        )
        if origin(request.url) in self.origins:
            return
        for name, value in session.auth_headers().items():
            if request.headers.get(name) == value:
                del request.headers[name]

    async def acheck(self, request: httpx.Request) -> None:
        self.check(request)

    def __repr__(self) -> str:
        return f"<nbauth request check of session {self.session.alias!r}>"
