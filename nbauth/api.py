"""The Python API: login, alogin, session, sessions, logout.

Everything else (magics, the form) is built on these functions. A login is
checked here before any request is made, runs its service's flow over HTTP,
and is stored only once it completed, so a failed login leaves the store as
it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import _http, services
from ._session import Session
from .errors import NbAuthError, UsageError
from .secret import Secret
from .services.base import Credentials, Granted, Service
from .store import STORE

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["alogin", "login", "logout", "session", "sessions"]

DEFAULT_TIMEOUT = 30.0


def login(
    service: str,
    *,
    url: str | None = None,
    username: str | None = None,
    password: str | Secret | None = None,
    token: str | Secret | None = None,
    code: str | Secret | None = None,
    user_id: str | None = None,
    share_url: str | None = None,
    alias: str | None = None,
    system: str | None = None,
    device_id: str | None = None,
    fileio_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    verify: _http.Verify = True,
    **options: str,
) -> Session:
    """Log in to ``service`` and keep the session in the kernel under ``alias``.

    Give ``username`` and ``password`` (plus ``code`` when the service asked for a
    second factor), or a ``token``, or for ioGates a ``share_url``. Raises an
    NbAuthError subclass that says what went wrong and what to do.
    """
    return _prepare(locals()).login()


async def alogin(
    service: str,
    *,
    url: str | None = None,
    username: str | None = None,
    password: str | Secret | None = None,
    token: str | Secret | None = None,
    code: str | Secret | None = None,
    user_id: str | None = None,
    share_url: str | None = None,
    alias: str | None = None,
    system: str | None = None,
    device_id: str | None = None,
    fileio_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    verify: _http.Verify = True,
    **options: str,
) -> Session:
    """The async twin of ``login``: same arguments, same result."""
    return await _prepare(locals()).alogin()


def session(alias: str | None = None) -> Session:
    """The current session, or the one stored under ``alias``."""
    return STORE.get(alias)


def sessions() -> pd.DataFrame:
    """Every session in the kernel as a table, one row each, tokens masked."""
    from .tables import sessions_frame

    return sessions_frame(STORE.all(), STORE.current)


def logout(alias: str | None = None, revoke: bool = False) -> None:
    """Forget the session (current, or ``alias``) and tell the server where it has a logout."""
    STORE.get(alias).logout(revoke=revoke)


class _Prepared:
    """A checked login request, ready to run and then to store."""

    def __init__(self, service: Service, creds: Credentials, args: dict[str, Any]):
        self.service = service
        self.creds = creds
        self.alias = _alias(args["alias"], service)
        self.timeout = float(args["timeout"])
        self.verify: _http.Verify = args["verify"]

    def login(self) -> Session:
        with _masking(self.creds):
            flow = self.service.login_flow(self.creds)
            granted = _http.run(
                flow, service=self.service, timeout=self.timeout, verify=self.verify
            )
        return self.store(granted)

    async def alogin(self) -> Session:
        with _masking(self.creds):
            flow = self.service.login_flow(self.creds)
            granted = await _http.arun(
                flow, service=self.service, timeout=self.timeout, verify=self.verify
            )
        return self.store(granted)

    def store(self, granted: Granted) -> Session:
        made = Session(
            self.service,
            self.alias,
            self.creds.url,
            granted,
            timeout=self.timeout,
            verify=self.verify,
            obtained_at=datetime.now(timezone.utc),
        )
        STORE.put(made)
        return made


def _prepare(args: dict[str, Any]) -> _Prepared:
    """Check every argument before anything is sent; wrap secrets at once."""
    service = services.get(args["service"])
    timeout = args["timeout"]
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise UsageError(f"timeout= must be a positive number of seconds, not {timeout!r}.")
    url = _checked_url(service, service.base_url(args["url"], args["share_url"]))
    given = {k: v for k, v in args["options"].items() if v is not None}
    given.update({k: args[k] for k in ("system", "device_id", "fileio_url") if args[k] is not None})
    unknown = sorted(set(given) - set(service.options))
    if unknown:
        accepted = ", ".join(f"{k}=" for k in service.options) or "none"
        raise UsageError(
            f"{service.title} logins take no {', '.join(f'{k}=' for k in unknown)} "
            f"(its own options: {accepted}).",
            service=service.name,
        )
    options = {**service.options, **{k: str(v) for k, v in given.items()}}
    creds = Credentials(
        url=url,
        username=_username(args["username"], service),
        password=_secret(args["password"], "password", service),
        token=_secret(args["token"], "token", service),
        code=_secret(args["code"], "code", service, strip=True),
        user_id=_text(args["user_id"], "user_id", service),
        share_url=_text(args["share_url"], "share_url", service),
        options={k: v for k, v in options.items() if v is not None},
    )
    service.check(creds)
    return _Prepared(service, creds, args)


def _checked_url(service: Service, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise UsageError(
            f"{service.title}: url={url!r} is not an http(s) URL like {service.default_url}.",
            service=service.name,
        )
    return url.rstrip("/")


def _username(value: Any, service: Service) -> str | None:
    text = _text(value, "username", service)
    return text.strip() if text is not None else None


def _text(value: Any, name: str, service: Service) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UsageError(
            f"{service.title}: {name}= must be a string, not {type(value).__name__}.",
            service=service.name,
        )
    if not value.strip():
        raise UsageError(f"{service.title}: {name}= is empty.", service=service.name)
    return value


def _secret(value: Any, name: str, service: Service, strip: bool = False) -> Secret | None:
    if value is None:
        return None
    if not isinstance(value, (str, Secret)):
        raise UsageError(
            f"{service.title}: {name}= must be a string, not {type(value).__name__}.",
            service=service.name,
        )
    secret = Secret(value)
    raw = secret.reveal()
    if strip and raw != raw.strip():
        secret = Secret(raw.strip())
    if not secret.reveal():
        raise UsageError(f"{service.title}: {name}= is empty.", service=service.name)
    if name != "password" and any(c in raw for c in "\r\n\0"):
        raise UsageError(
            f"{service.title}: the {name} contains a line break; it was probably pasted with "
            "extra text. Paste the value alone.",
            service=service.name,
        )
    return secret


def _alias(value: Any, service: Service) -> str:
    if value is None:
        return service.name
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        raise UsageError(f"alias= must be a non-empty word without spaces, not {value!r}.")
    return value.strip()


@contextmanager
def _masking(creds: Credentials) -> Iterator[None]:
    """Mask any of this login's secrets that a server echoed into an error message.

    One-time codes and very short values are left alone: masking "401" out of
    "HTTP 401" would hide more than it protects.
    """
    try:
        yield
    except NbAuthError as exc:
        text = exc.message
        for secret in (creds.password, creds.token):
            if secret is not None and len(secret) >= 6 and secret.reveal() in text:
                text = text.replace(secret.reveal(), secret.masked)
        exc.args = (text,)
        raise
