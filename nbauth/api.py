"""The Python API: login, alogin, session, sessions, logout.

Everything else (magics, the form) is built on these functions. A login is
checked here before any request is made, runs its service's flow over HTTP,
and is stored only once it completed, so a failed login leaves the store as
it was.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from . import _checks, _http, _redact, _urls, services, vault
from ._session import Session
from .errors import NbAuthError, UsageError
from .secret import Secret
from .services.base import Credentials, Granted, Service
from .store import STORE

if TYPE_CHECKING:
    import httpx
    import pandas as pd

__all__ = ["alogin", "login", "logout", "session", "sessions"]

DEFAULT_TIMEOUT = 30.0
#: The longest timeout= taken: far longer ones overflow the clocks httpx and the OS use.
DAY = 86_400
#: Whitespace as str.isspace() sees it (the same characters, one search instead of a loop).
_SPACE = re.compile(r"\s")


@_redact.scrubbed
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
    allow_insecure: bool = False,
    save: bool = False,
    **options: str,
) -> Session:
    """Log in to ``service`` and keep the session in the kernel under ``alias``.

    Give ``username`` and ``password`` (plus ``code`` when the service asked for a
    second factor), or a ``token``, or for ioGates a ``share_url``. Raises an
    NbAuthError subclass that says what went wrong and what to do. A plain
    ``http://`` URL is refused unless it is loopback or ``allow_insecure=True``.
    ``save=True`` also keeps the login in the OS keyring, and without a password
    resumes the one saved there (see nbauth.vault).
    """
    return _prepare(locals()).login()


@_redact.scrubbed_async
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
    allow_insecure: bool = False,
    save: bool = False,
    **options: str,
) -> Session:
    """The async twin of ``login``: same arguments, same result."""
    return await _prepare(locals()).alogin()


def session(alias: str | None = None) -> Session:
    """The current session, or the one stored under ``alias``."""
    return STORE.get(_stored_alias(alias))


def sessions() -> pd.DataFrame:
    """Every session in the kernel as a table, one row each, tokens masked."""
    from .tables import sessions_frame

    return sessions_frame(*STORE.snapshot())


def logout(alias: str | None = None, revoke: bool = False, forget: bool = False) -> None:
    """Forget the session (current, or ``alias``) and tell the server where it has a logout.

    ``forget=True`` also deletes its saved login from the keyring; so does ``revoke=True``.
    """
    for name, flag in (("revoke", revoke), ("forget", forget)):
        if not isinstance(flag, bool):
            raise UsageError(f"{name}= must be True or False, not {type(flag).__name__}.")
    session = STORE.get(_stored_alias(alias))
    if forget or revoke:
        vault.forget(session.service, url=session.url, alias=session.alias)
    session.logout(revoke=revoke)


class _Prepared:
    """A checked login request, ready to run and then to store."""

    def __init__(
        self, service: Service, creds: Credentials, args: dict[str, Any], saved: vault.Saved | None
    ):
        self.service = service
        self.creds = creds
        self.save: bool = args["save"]
        #: The keyring's login to try first (save=True without a password), else None.
        self.saved = saved
        self.alias = _alias(args["alias"], service)
        self.timeout = float(args["timeout"])
        self.verify: _http.Verify = args["verify"]
        self.allow_insecure: bool = args["allow_insecure"]

    def login(self) -> Session:
        if self.saved is not None:
            with _masking(self.saved.creds):
                flow = self.saved.flow(self.timeout, self.verify)
                resumed = _http.run(
                    flow, service=self.service, timeout=self.timeout, verify=self.verify
                )
            if resumed is not None:
                return self.store(resumed, fresh=False)
            vault.check(self.service, self.creds, self.alias)
        with _masking(self.creds):
            flow = self.service.login_flow(self.creds)
            granted = _http.run(
                flow, service=self.service, timeout=self.timeout, verify=self.verify
            )
        return self.store(granted)

    async def alogin(self) -> Session:
        if self.saved is not None:
            with _masking(self.saved.creds):
                flow = self.saved.flow(self.timeout, self.verify)
                resumed = await _http.arun(
                    flow, service=self.service, timeout=self.timeout, verify=self.verify
                )
            if resumed is not None:
                return self.store(resumed, fresh=False)
            vault.check(self.service, self.creds, self.alias)
        with _masking(self.creds):
            flow = self.service.login_flow(self.creds)
            granted = await _http.arun(
                flow, service=self.service, timeout=self.timeout, verify=self.verify
            )
        return self.store(granted)

    def store(self, granted: Granted, fresh: bool = True) -> Session:
        # The data calls load with the first session, not with the API (nor `import nbauth`).
        from .explore import session_class

        made = session_class(self.service.name)(
            self.service,
            self.alias,
            self.creds.url,
            granted,
            timeout=self.timeout,
            verify=self.verify,
            allow_insecure=self.allow_insecure,
            obtained_at=datetime.now(timezone.utc),
        )
        STORE.put(made)
        if self.save and fresh:
            vault.save(made)
        return made


def _prepare(args: dict[str, Any]) -> _Prepared:
    """Check every argument before anything is sent; wrap secrets at once."""
    service = services.get(args["service"])
    for name in ("url", "share_url", "fileio_url"):  # no user:password@ (nbauth._urls)
        _urls.refuse_userinfo(args[name], f"{name}=", service)
    timeout = args["timeout"]
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= DAY:
        raise UsageError(
            f"timeout= must be a positive number of seconds (at most {DAY}), not {timeout!r}."
        )
    share_url = _text(args["share_url"], "share_url", service)
    if share_url is not None:
        _checked_url(service, share_url.strip(), share=True)
    base = service.base_url(_text(args["url"], "url", service), share_url)
    url, parsed = _checked_url(service, base)
    if not isinstance(args["allow_insecure"], bool):
        raise UsageError(f"allow_insecure= must be True or False, not {args['allow_insecure']!r}.")
    _http.check_plain_http(parsed, allow_insecure=args["allow_insecure"], service=service)
    fileio_url = _text(args["fileio_url"], "fileio_url", service)
    if fileio_url:
        _http.check_plain_http(fileio_url, allow_insecure=args["allow_insecure"], service=service)
    given = {k: v for k, v in args["options"].items() if v is not None}
    given.update({k: args[k] for k in ("system", "device_id", "fileio_url") if args[k] is not None})
    for name, value in given.items():
        _text(value, name, service)  # each is sent as text: a list or a NUL is a mistake
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
        share_url=share_url,
        options={k: v for k, v in options.items() if v is not None},
    )
    if not isinstance(args["save"], bool):
        raise UsageError(f"save= must be True or False, not {args['save']!r}.")
    alias = _alias(args["alias"], service)
    saved = vault.find(service, creds, alias) if args["save"] else None
    if saved is None:
        if args["save"]:
            vault.check(service, creds, alias)
        else:
            service.check(creds)
    return _Prepared(service, creds, args, saved)


def _checked_url(service: Service, url: str, share: bool = False) -> tuple[str, httpx.URL]:
    """``url`` without its trailing slash and as httpx parsed it, or a UsageError where httpx
    or the resolver would fail on it mid-login (a bad port, an IDNA label, an empty or
    64-character label)."""
    # A kernel logs in to a few servers again and again: their verdicts are kept, but never a
    # share URL's (it is a credential) nor that of a URL with a user:password@ part.
    parsed = _usable(url) if share or "@" in url else _usable_server(url)
    if parsed is not None:
        return url.rstrip("/"), parsed
    example = service.default_url
    if share:  # its path is the share's key: not for a message
        problem = f"share_url= must be the http(s) link of a share, like {example}/show/..."
    else:  # without any user:password@
        problem = f"url={re.sub(r'//[^/]*@', '//', url)!r} is not an http(s) URL like {example}."
    raise UsageError(f"{service.title}: {problem}", service=service.name)


def _usable(url: str) -> httpx.URL | None:
    """``url`` as httpx parses it, or None when httpx or the resolver would fail on it."""
    import httpx

    try:
        parsed = httpx.URL(url)
        usable = (
            parsed.scheme in ("http", "https")
            and bool(parsed.host)  # decodes the host: raises on a malformed xn-- label
            and not _SPACE.search(url)
            and (parsed.port is None or 0 < parsed.port < 65536)
        )
        parsed.raw_host.decode("ascii").encode("idna")  # the label lengths the resolver checks
    except (httpx.InvalidURL, UnicodeError):
        return None
    return parsed if usable else None


_usable_server = functools.lru_cache(maxsize=64)(_usable)


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
        raise UsageError(
            f"{service.title}: {name}= is empty. Give its value, or leave {name}= out.",
            service=service.name,
        )
    _sendable(value, name, service)
    return value


def _secret(value: Any, name: str, service: Service, strip: bool = False) -> Secret | None:
    if value is None:
        return None
    if not isinstance(value, (str, Secret)):
        raise UsageError(
            f"{service.title}: {name}= must be a string, not {type(value).__name__}.",
            service=service.name,
        )
    # A password or a code shows nothing of itself when masked; a token its last characters.
    kind: Literal["token", "password"] = "token" if name == "token" else "password"
    secret = Secret(value, kind)
    raw = secret.reveal()
    if strip and raw != raw.strip():
        secret = Secret(raw.strip(), kind)
    if not secret.reveal():
        raise UsageError(
            f"{service.title}: {name}= is empty. Give its value, or leave {name}= out.",
            service=service.name,
        )
    _sendable(secret.reveal(), name, service)
    return secret


def _sendable(raw: str, name: str, service: Service) -> None:
    """Refuse, before anything is sent, text that httpx would fail on mid-login with a
    UnicodeEncodeError: a lone surrogate anywhere, or a token or user id that is not ASCII
    (headers take ASCII only). Line breaks mean extra text was pasted; a password may hold any,
    but no NUL, which no one types and servers cut at."""
    if "\0" in raw:
        raise UsageError(
            f"{service.title}: the {name} holds a NUL character (\\x00); it was probably "
            "pasted with extra text. Type or paste the value alone.",
            service=service.name,
        )
    if name != "password" and ("\r" in raw or "\n" in raw):
        raise UsageError(
            f"{service.title}: the {name} contains a line break; it was probably pasted with "
            "extra text. Paste the value alone.",
            service=service.name,
        )
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(
            f"{service.title}: the {name} holds characters that are not text (lone surrogates); "
            "it was garbled on its way here. Type or paste it again.",
            service=service.name,
        ) from None
    if name in ("token", "user_id") and not (raw.isascii() and raw.isprintable()):
        raise UsageError(
            f"{service.title}: the {name} holds characters a {name} never has (only printable "
            "ASCII is possible); it was probably mistyped or pasted with extra text. Paste the "
            "value alone.",
            service=service.name,
        )


def _alias(value: Any, service: Service) -> str:
    if value is None:
        return service.name
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        raise UsageError(f"alias= must be a non-empty word without spaces, not {value!r}.")
    return _checks.text(value, "alias").strip()


def _stored_alias(alias: Any) -> str | None:
    """``alias`` as session() and logout() take it: None (the current session) or a name."""
    if alias is None:
        return None
    return _checks.text(alias, "alias", what="a session's alias (a string)")


class _masking:  # a context manager, used like a function
    """Mask any of this login's secrets that a server echoed into an error message.

    One-time codes and very short values are left alone: masking "401" out of
    "HTTP 401" would hide more than it protects.
    """

    def __init__(self, creds: Credentials) -> None:
        self.creds = creds

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not isinstance(exc, NbAuthError):
            return
        given = [s for s in (self.creds.password, self.creds.token) if s is not None]
        if self.creds.share_url is not None:  # it opens the share: masked like a password
            given.append(Secret(self.creds.share_url, "password"))
        exc.args = (_redact.mask_whole(exc.message, given),)
