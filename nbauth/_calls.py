"""What a flow asks the transport for: ``Call`` (one HTTP request), ``Flow`` (a generator of
them), and the transport's own reading of an answer's wait (``retry_after_seconds``).

A service is written as *flows*: generators that yield the HTTP calls they need and receive
each ``httpx.Response`` back, the way httpx's ``Auth.auth_flow`` works. The flow never does I/O
itself, so one flow serves ``login`` and ``alogin`` alike (``nbauth._http`` drives it), and a
test drives it with answers of its own (``nbauth._http.drive``). These types live in the
transport layer, below the services that use them.
"""

from __future__ import annotations

import email.utils
import math
import sys
import time
from collections.abc import Generator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .secret import Secret

if TYPE_CHECKING:
    import httpx

__all__ = ["ANSWERED_BY", "WHOLE", "Call", "Flow", "Peer", "finite", "retry_after_seconds"]

T = TypeVar("T")
#: The host (``name[:port]``, never a user:password@ part) whose answer the running flow is
#: reading: the transport sets it while it drives a flow (``nbauth._http.run``), so that a
#: failure names the server that answered (``nbauth.services.answers.failed``). None elsewhere.
ANSWERED_BY: ContextVar[str | None] = ContextVar("nbauth_answered_by", default=None)


class Peer(Protocol):
    """Who a call goes to, as a message names it: a service's ``name`` and ``title``."""

    @property
    def name(self) -> str: ...

    @property
    def title(self) -> str: ...


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
    #: (``nbauth._bounded.answer_limit()``, a few MB); a download passes the size it asked for.
    max_bytes: int | None = None


Flow = Generator[Call, "httpx.Response", T]
#: ``Call.max_bytes`` of a download of unknown size: the caller asked for all of it.
WHOLE = sys.maxsize


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
