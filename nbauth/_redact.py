"""Keeping passwords and tokens out of log records, error messages and tracebacks.

httpx logs every request at INFO with its full URL, and httpcore logs response
headers at DEBUG. ioGates puts its token in URL paths (``/api/authinfo/{token}``),
so a notebook that turns logging on would print it. A filter on those loggers
masks, in every record, the secrets of the requests in flight (each ``Secret`` a
flow put in a ``Call``, and the credentials part of an ``Authorization`` value)
and the tokens of the stored sessions. The in-flight secrets live in a
ContextVar while their flow runs, so nothing keeps them afterwards.

A failure's traceback keeps the frames it passed through, and with them their
locals: a Call whose URL holds a token, the password given to ``login``.
IPython's verbose mode, debuggers and error reporters show those, so ``scrub``
clears them: the traceback still says where it failed, not what a frame held.
"""

from __future__ import annotations

import functools
import logging
import threading
import traceback
from collections.abc import Callable, Collection, Coroutine, Iterable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from .errors import NbAuthError
from .secret import Secret

if TYPE_CHECKING:
    from .services.base import Call

__all__ = ["InFlight", "install", "mask", "scrub", "scrubbed", "scrubbed_async"]

P = ParamSpec("P")
R = TypeVar("R")

#: Shorter values are left alone: masking "401" out of "HTTP 401" hides more than it protects.
MIN_LENGTH = 6
#: httpx logs under "httpx", httpcore under "httpcore.<module>". A logger's filters do not apply
#: to its children's records, so each gets the filter; ``install`` also finds any others.
LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)

_live: ContextVar[Collection[str]] = ContextVar("nbauth_live_secrets", default=())
_installed = False
_install_lock = threading.Lock()


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret of at least MIN_LENGTH characters replaced by its mask."""
    for value in sorted(secrets, key=len, reverse=True):
        if len(value) >= MIN_LENGTH and value in text:
            text = text.replace(value, Secret(value).masked)
    return text


def secrets_in(call: Call) -> set[str]:
    """The raw values of the Secrets ``call`` carries; for ``Bearer <token>``, the token too,
    because ioGates also puts that token in URL paths."""
    found = set()
    body = call.json if isinstance(call.json, dict) else None
    for values in (call.headers, call.data, body):
        for value in (values or {}).values():
            if isinstance(value, Secret):
                raw = value.reveal()
                found.add(raw)
                found.add(raw.partition(" ")[2].strip())
    found |= {secret.reveal() for secret in call.url_secrets}
    return {value for value in found if len(value) >= MIN_LENGTH}


class InFlight:
    """The secrets of one running flow: the log filter masks them while the flow runs, and a
    failure leaving the flow has them masked in its message and its frames' locals cleared."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self._token: Token[Collection[str]] | None = None

    def add(self, call: Call) -> None:
        self.secrets |= secrets_in(call)

    def __enter__(self) -> InFlight:
        install()
        self._token = _live.set(self.secrets)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._token is not None
        _live.reset(self._token)
        if exc is not None:
            scrub(exc, self.secrets)


def scrub(exc: BaseException, secrets: Iterable[str] = ()) -> None:
    """Mask ``secrets`` in an NbAuthError's message and clear the locals of every finished
    frame ``exc`` passed through (running frames cannot be cleared and are skipped)."""
    if isinstance(exc, NbAuthError):
        exc.args = (mask(exc.message, secrets),)
    traceback.clear_frames(exc.__traceback__)


def scrubbed(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` whose failures leave no arguments or locals in their traceback."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except BaseException as exc:
            kwargs.clear()  # this frame's own copy, which the traceback would show
            scrub(exc)
            raise

    return wrapper


def scrubbed_async(
    function: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """The twin of ``scrubbed`` for a coroutine function."""

    @functools.wraps(function)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await function(*args, **kwargs)
        except BaseException as exc:
            kwargs.clear()
            scrub(exc)
            raise

    return wrapper


def _secrets_now() -> set[str]:
    from .store import STORE

    return {*_live.get(), *(session.token.reveal() for session in STORE.all())}


class _MaskSecrets(logging.Filter):
    """Rewrites a record whose text holds a live secret to its masked text."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _secrets_now()
        if secrets:
            text = record.getMessage()
            masked = mask(text, secrets)
            if masked != text:
                record.msg, record.args = masked, ()
        return True


def install() -> None:
    """Put the filter on httpx's and httpcore's loggers, once."""
    global _installed
    if _installed:
        return
    import httpcore  # noqa: F401  (httpx imports it only at its first request)

    with _install_lock:
        if _installed:
            return
        found = [name for name in logging.Logger.manager.loggerDict if name.startswith("httpcore.")]
        for name in {*LOGGERS, *found}:
            logging.getLogger(name).addFilter(_MaskSecrets())
        _installed = True
