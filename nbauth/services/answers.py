"""Reading a service's answers: plain functions the service flows and the data calls share.

Each takes the service (its ``name`` and ``title``, for messages) where a message needs it,
so that what a login reads and what ``s.ls()`` reads fail the same way, with the same words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .. import _redact
from .._calls import ANSWERED_BY, Peer, retry_after_seconds
from ..errors import NbAuthError, RateLimited, ServiceError, SessionExpired

if TYPE_CHECKING:
    import httpx

__all__ = [
    "body_value",
    "error_text",
    "expired",
    "fail",
    "failed",
    "field_of",
    "figure",
    "json_body",
    "parsed",
    "server_says",
    "text_or_none",
]

T = TypeVar("T")
#: What a token or an id in an answer may be made of: printable ASCII, no spaces.
TOKEN = re.compile(r"[!-~]+")


class Named(Protocol):
    """A session as an error message names it."""

    @property
    def alias(self) -> str: ...


def fail(
    service: Peer, cls: type[NbAuthError], what: str, status: int | None, text: str
) -> NbAuthError:
    """An error whose message names the service, the step, the HTTP status and the host."""
    return cls(f"{failed(service, what, status)}: {text}", service=service.name, status=status)


def failed(service: Peer, what: str, status: int | None) -> str:
    """How a failure's message starts: ``Couchdrop login failed (HTTP 403 from
    api.couchdrop.io)``. The host is the one whose answer the flow is reading (the transport
    says it: ``nbauth._calls.ANSWERED_BY``), so a wrong password at a server that is not the
    one meant says so; a flow driven with made-up answers (nbauth.testing) names none."""
    host = ANSWERED_BY.get()
    if status is None:
        where = f" ({host})" if host else ""
    else:
        where = f" (HTTP {status} from {host})" if host else f" (HTTP {status})"
    return f"{service.title} {what} failed{where}"


def _wait(seconds: float | None) -> str:
    """How long to wait, as a person reads it: a server's Retry-After, rounded up."""
    if seconds is None:
        return "wait a minute"
    if seconds <= 1:
        return "wait a second"
    return f"wait {math.ceil(seconds)} s"


def json_body(service: Peer, response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON object of a 2xx answer; every other answer becomes the fitting NbAuthError.

    Flows call this after handling the statuses that mean something special for their
    service (a 401 that asks for a code, say), so what reaches here is rate limiting, server
    trouble, or an answer that is not the service's API.
    """
    title, status = service.title, response.status_code
    if status == 429:
        retry_after = retry_after_seconds(response)
        wait = _wait(retry_after)
        raise RateLimited(
            f"{failed(service, what, status)}: too many requests. {wait.capitalize()} "
            "and try again.",
            retry_after=retry_after,
            service=service.name,
            status=status,
        )
    if status >= 500:
        said = server_says(response)
        raise fail(
            service, ServiceError, what, status, f"the server had an error{said}. Try again later."
        )
    if not 200 <= status < 300:
        raise fail(
            service,
            ServiceError,
            what,
            status,
            f"unexpected answer{server_says(response)}. Check that the URL points to the "
            f"{title} API.",
        )
    body = parsed(response)
    if not isinstance(body, dict):
        kind = response.headers.get("content-type", "").split(";")[0].strip()[:60]
        raise fail(
            service,
            ServiceError,
            what,
            status,
            f"the answer is not the JSON object the {title} API sends "
            f"({kind or 'no content type'}). Check that the URL points to the {title} API.",
        )
    return body


def field_of(
    service: Peer, body: Mapping[str, Any], key: str, kind: type[T], what: str, status: int
) -> T:
    """``body[key]`` when it has the expected type, else a ServiceError that says so.

    A string must be printable ASCII without spaces: the fields read so are tokens and ids,
    which later calls send in headers, where nothing else can go.
    """
    value = body.get(key)
    if not isinstance(value, kind) or (isinstance(value, str) and not TOKEN.fullmatch(value)):
        raise fail(
            service,
            ServiceError,
            what,
            status,
            f"the answer has no usable '{key}'. Check that the URL points to the "
            f"{service.title} API.",
        )
    return value


def body_value(response: httpx.Response, *keys: str) -> Any:
    """``body[k1][k2]...`` of a JSON answer, or None when any part is missing."""
    value = parsed(response)
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def error_text(response: httpx.Response) -> str:
    """The server's own error text (``error``, ``err`` or ``message``), or ''."""
    body = parsed(response)
    for key in ("error", "err", "message"):
        text = body.get(key) if isinstance(body, dict) else None
        if isinstance(text, str) and text.strip():
            return text.strip()
    return ""


def server_says(response: httpx.Response) -> str:
    """The server's own error text, short, for the end of a message ('' when there is none).
    Any secret of the running call, or of a stored session, it repeats is masked: whole or any
    8 characters in a row of it, raw or encoded (nbauth._redact.echoed)."""
    text = _redact.echoed(error_text(response))
    if len(text) > 160:
        # Cut between words: a word cut in two could be the start of a token or password the
        # server echoed, which masking (of whole values) would then miss.
        text = text[: max(text.rfind(" ", 0, 160), 0)] + "..."
    return f' ("{text}")' if text else ""


def expired(service: Peer, session: Named, what: str, status: int) -> SessionExpired:
    """The error for a stored token that the server refused."""
    return SessionExpired(
        f"{failed(service, what, status)}: the session '{session.alias}' was "
        f"refused; its token expired or was revoked. Log in again: %login {service.name} "
        f"--as {session.alias}  (or nbauth.login('{service.name}', ...)).",
        service=service.name,
        status=status,
    )


def text_or_none(value: Any) -> str | None:
    """``value`` if it is a non-empty string, else None: a field of another type (a list where
    a username or an error code belongs) counts as absent."""
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
