"""What every service module builds on: the login request, the HTTP call, and answer reading.

A service is written as *flows*: generators that yield the HTTP calls they
need (``Call``) and receive each ``httpx.Response`` back, the way httpx's
``Auth.auth_flow`` works. The flow never does I/O itself, so one flow serves
``login`` and ``alogin`` alike (see ``nbauth._http``), and a flow can be read
top to bottom as the service's protocol.
"""

from __future__ import annotations

import email.utils
import importlib
import math
import re
import sys
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ..errors import NbAuthError, RateLimited, ServiceError, SessionExpired, UsageError
from ..secret import Secret

if TYPE_CHECKING:
    import httpx

    from .._session import Session

T = TypeVar("T")
#: What a token or an id in an answer may be made of: printable ASCII, no spaces.
TOKEN = re.compile(r"[!-~]+")

__all__ = [
    "Call",
    "Credentials",
    "Flow",
    "Granted",
    "Method",
    "Service",
    "Storage",
    "figure",
    "text_or_none",
]


@dataclass(frozen=True)
class Call:
    """One HTTP request a flow wants made. Header values may be Secrets; they are revealed
    only when the request is built."""

    method: str
    url: str
    headers: Mapping[str, str | Secret] = field(default_factory=dict)
    json: Any = None
    data: Mapping[str, str | Secret] | None = None
    params: Mapping[str, str] | None = None
    #: A multipart/form-data body (an upload): field name -> (file name, bytes, media type).
    files: Mapping[str, tuple[str, bytes, str]] | None = None
    #: Secrets the URL itself carries (a download link's own key): masked in logs and errors
    #: while the call runs, like a Secret header.
    url_secrets: tuple[Secret, ...] = ()
    #: The most bytes the answer may hold once decoded. None: the limit of a JSON answer
    #: (``nbauth._http.answer_limit()``, a few MB); a download passes the size it asked for.
    max_bytes: int | None = None


Flow = Generator[Call, "httpx.Response", T]
#: ``Call.max_bytes`` of a download of unknown size: the caller asked for all of it.
WHOLE = sys.maxsize


@dataclass(frozen=True)
class Credentials:
    """Everything one login attempt was given, checked and with secrets wrapped."""

    url: str
    username: str | None = None
    password: Secret | None = None
    token: Secret | None = None
    code: Secret | None = None
    user_id: str | None = None
    share_url: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    """One way a person logs in to a service, and the ``login()`` arguments they supply for it.

    The form and the prompts ask for ``fields``; everything else (URL, alias, a
    two-factor code when the service asks) is common to all methods.
    """

    name: str
    label: str
    fields: tuple[str, ...]
    #: Fields among ``fields`` that may be left blank.
    optional: tuple[str, ...] = ()


PASSWORD = Method("password", "password", ("username", "password"))


@dataclass(frozen=True)
class Storage:
    """What a service tells about an account's storage: table rows, or a note saying why none."""

    rows: list[dict[str, Any]]
    note: str | None = None


@dataclass
class Granted:
    """What a successful login flow hands back; nbauth.login turns it into a Session."""

    token: Secret
    username: str | None
    kind: str
    user_id: str | None = None
    expires_at: datetime | None = None
    profile: dict[str, Any] = field(default_factory=dict)
    #: False when the service needs another call (made on first use) to complete the profile.
    profile_complete: bool = True
    storage: Storage | None = None
    #: Service-specific facts later calls need (Couchdrop's file host, ioGates' device id...).
    details: dict[str, Any] = field(default_factory=dict)


class Service:
    """One web service: its endpoints, its login flows, and how to read its answers.

    Subclasses set the class attributes and implement ``login_flow``; the other
    flows have defaults for services that lack the feature.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    default_url: ClassVar[str]
    #: Service-specific keyword arguments of ``nbauth.login`` and their defaults.
    options: ClassVar[Mapping[str, str | None]] = {}
    #: Names of ``login()`` arguments other than url/username/password/token/code this service uses.
    takes: ClassVar[frozenset[str]] = frozenset()
    #: The ways a person can log in, the first being the usual one.
    methods: ClassVar[tuple[Method, ...]] = (PASSWORD, Method("token", "token", ("token",)))
    #: The Session class a login hands back: a subclass adds the service's data calls
    #: (``ls``, ``download``, ``rooms``...). Named as "module:Class" so that it is imported
    #: only when a session is made.
    session_class: ClassVar[str] = "nbauth._session:Session"

    def make_session(self, *args: Any, **kwargs: Any) -> Session:
        """A session of this service's own Session class."""
        module, _, name = self.session_class.partition(":")
        cls: type[Session] = getattr(importlib.import_module(module), name)
        return cls(self, *args, **kwargs)

    # -- the protocol -----------------------------------------------------------------

    def base_url(self, url: str | None, share_url: str | None) -> str:
        """The API base the login talks to."""
        return (url or self.default_url).rstrip("/")

    def check(self, creds: Credentials) -> None:
        """Refuse argument combinations the service cannot log in with (raise UsageError).

        By default a login needs a token, or a username with a password.
        """
        for argument in ("user_id", "share_url"):
            if getattr(creds, argument) is not None and argument not in self.takes:
                raise UsageError(f"{self.title} logins take no {argument}=.", service=self.name)
        if creds.token is not None and (creds.username or creds.password):
            raise UsageError(
                f"Give {self.title} either a token or a username and password, not both.",
                service=self.name,
            )
        if creds.token is None and not (creds.username and creds.password):
            raise UsageError(
                f"{self.title} needs username= and password=, or token=. In a notebook, "
                f"%login {self.name} asks for them without saving them.",
                service=self.name,
            )

    def login_flow(self, creds: Credentials) -> Flow[Granted]:
        """Log in: the calls that turn credentials into a token and what came with it."""
        raise NotImplementedError

    def auth_headers(self, session: Session) -> dict[str, str | Secret]:
        """The headers that authenticate a further call with this session's token."""
        raise NotImplementedError

    def profile_flow(self, session: Session) -> Flow[dict[str, Any]]:
        """The full profile, for services whose login answer carries only part of it."""
        raise NotImplementedError

    def storage_flow(self, session: Session) -> Flow[Storage]:
        """The account's storage, as the service reports it."""
        return Storage([], f"{self.title} reports no storage figures.")
        yield  # pragma: no cover - makes this a generator

    def logout_flow(self, session: Session, revoke: bool) -> Flow[None]:
        """Tell the server the token is no longer used. Default: nothing to tell."""
        return None
        yield  # pragma: no cover - makes this a generator

    # -- reading answers --------------------------------------------------------------

    def fail(self, cls: type[NbAuthError], what: str, status: int | None, text: str) -> NbAuthError:
        """An error whose message names the service, the step and the HTTP status."""
        where = f" (HTTP {status})" if status is not None else ""
        return cls(f"{self.title} {what} failed{where}: {text}", service=self.name, status=status)

    def json_body(self, response: httpx.Response, what: str) -> dict[str, Any]:
        """The JSON object of a 2xx answer; every other answer becomes the fitting NbAuthError.

        Flows call this after handling the statuses that mean something special for
        their service (a 401 that asks for a code, say), so what reaches here is
        rate limiting, server trouble, or an answer that is not the service's API.
        """
        status = response.status_code
        if status == 429:
            retry_after = retry_after_seconds(response)
            wait = f"wait {retry_after:.0f} s" if retry_after is not None else "wait a minute"
            raise RateLimited(
                f"{self.title} {what} failed (HTTP 429): too many requests. {wait.capitalize()} "
                "and try again.",
                retry_after=retry_after,
                service=self.name,
                status=status,
            )
        if status >= 500:
            raise self.fail(
                ServiceError,
                what,
                status,
                f"the server had an error{self.server_says(response)}. Try again later.",
            )
        if not 200 <= status < 300:
            raise self.fail(
                ServiceError,
                what,
                status,
                f"unexpected answer{self.server_says(response)}. Check that the URL "
                f"points to the {self.title} API.",
            )
        body = parsed(response)
        if not isinstance(body, dict):
            kind = response.headers.get("content-type", "").split(";")[0].strip()[:60]
            raise self.fail(
                ServiceError,
                what,
                status,
                f"the answer is not the JSON object the {self.title} API sends "
                f"({kind or 'no content type'}). "
                f"Check that the URL points to the {self.title} API.",
            )
        return body

    def field(self, body: Mapping[str, Any], key: str, kind: type[T], what: str, status: int) -> T:
        """``body[key]`` when it has the expected type, else a ServiceError that says so.

        A string must be printable ASCII without spaces: the fields read so are tokens and
        ids, which later calls send in headers, where nothing else can go.
        """
        value = body.get(key)
        if not isinstance(value, kind) or (isinstance(value, str) and not TOKEN.fullmatch(value)):
            raise self.fail(
                ServiceError,
                what,
                status,
                f"the answer has no usable '{key}'. Check that the URL points to the "
                f"{self.title} API.",
            )
        return value

    @staticmethod
    def body_value(response: httpx.Response, *keys: str) -> Any:
        """``body[k1][k2]...`` of a JSON answer, or None when any part is missing."""
        value = parsed(response)
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    def error_text(self, response: httpx.Response) -> str:
        """The server's own error text (``error``, ``err`` or ``message``), or ''."""
        body = parsed(response)
        for key in ("error", "err", "message"):
            text = body.get(key) if isinstance(body, dict) else None
            if isinstance(text, str) and text.strip():
                return text.strip()
        return ""

    def server_says(self, response: httpx.Response) -> str:
        """The server's own error text, short, for the end of a message ('' when there is none).
        Any secret of the running call, or of a stored session, it repeats is masked: whole or
        any 8 characters in a row of it, raw or encoded (nbauth._redact.echoed)."""
        from .. import _redact

        text = _redact.echoed(self.error_text(response))
        if len(text) > 160:
            # Cut between words: a word cut in two could be the start of a token or password
            # the server echoed, which masking (of whole values) would then miss.
            text = text[: max(text.rfind(" ", 0, 160), 0)] + "..."
        return f' ("{text}")' if text else ""

    def expired(self, session: Session, what: str, status: int) -> SessionExpired:
        """The error for a stored token that the server refused."""
        return SessionExpired(
            f"{self.title} {what} failed (HTTP {status}): the session '{session.alias}' "
            f"was refused; its token expired or was revoked. Log in again: "
            f"%login {self.name} --as {session.alias}  (or nbauth.login('{self.name}', ...)).",
            service=self.name,
            status=status,
        )


def text_or_none(value: Any) -> str | None:
    """``value`` if it is a non-empty string, else None: a field of another type (a list
    where a username or an error code belongs) counts as absent."""
    return value if isinstance(value, str) and value else None


def figure(value: Any) -> int | float | None:
    """``value`` if it is a number a table can show: not a bool, NaN or infinite, and within
    64 bits (JSON can say 1e999, or an integer of 400 digits, which no float holds)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if abs(value) < 2**63 else None


def parsed(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it is not JSON. A document nested deeper than Python's
    recursion limit counts as not JSON: no API answer is, and a hostile one must not crash us."""
    try:
        return response.json()
    except (ValueError, RecursionError):
        return None


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds to wait, from Retry-After (seconds or a date) or X-RateLimit-Reset (epoch ms)."""
    header = response.headers.get("retry-after")
    if header:
        seconds = finite(header)
        if seconds is not None:
            return max(0.0, seconds)
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - time.time())
    reset = finite(response.headers.get("x-ratelimit-reset", ""))
    return None if reset is None else max(0.0, reset / 1000.0 - time.time())


def finite(text: str) -> float | None:
    """``text`` as a finite number, or None: 'nan', 'inf' or '1e400' is no wait to tell a user."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
