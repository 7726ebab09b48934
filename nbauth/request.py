"""One login request: what a login was given, by whichever face, made once and checked once.

Every way in builds a ``LoginRequest``: ``nbauth.login``'s arguments and a ``login_many`` row
(``from_arguments``); the ``%login`` line with the ``NBAUTH_<SERVICE>_*`` variables, which the
form and the prompts then complete (``from_environment``, ``missing``, ``give``). ``checked()``
checks it once, before anything is sent, and gives what the login flow runs on (``Checked``:
the service's ``Credentials`` and the transport's settings). ``nbauth.api`` runs it, resuming a
saved login first when ``save`` asks for it, and stores the session.

The fields a request takes are the service's (``nbauth.services.fields``): one declaration
says how each is wrapped (a Secret, masked like a password or a token), stripped and checked,
so a third-party service's ``tenant`` goes through here like a username.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _checks, _http, _redact, _urls, services
from .errors import UsageError
from .secret import Secret
from .services import base
from .services.base import Credentials, Method, Service
from .services.fields import Field

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_TIMEOUT", "Checked", "LoginRequest", "secrets_of", "variables"]

DEFAULT_TIMEOUT = 30.0
#: The longest timeout= taken: far longer ones overflow the clocks httpx and the OS use.
DAY = 86_400
#: Whitespace as str.isspace() sees it (the same characters, one search instead of a loop).
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Checked:
    """A request that passed every check: what the login flow and the store need."""

    service: Service
    creds: Credentials
    alias: str
    timeout: float
    verify: _http.Verify
    allow_insecure: bool
    save: bool

    def secrets(self) -> list[Secret]:
        """What no message of this login may show (see ``secrets_of``)."""
        return secrets_of(self.service, self.creds)


def secrets_of(service: Service, creds: Credentials) -> list[Secret]:
    """The login's sensitive values a server may echo into an error, to be masked there: each
    sensitive field but the one-time code (masking "401" out of "HTTP 401" would hide more
    than it protects); a share URL as a password, which shows nothing of itself."""
    fields = service.field_names
    return [
        value if isinstance(value, Secret) else Secret(value, "password")
        for name, value in creds.values.items()
        if fields[name].sensitive and name != "code"
    ]


@dataclass
class LoginRequest:
    """One login: the service, the way in, and the values known so far."""

    service: Service
    method: Method
    url: str | None = None
    values: dict[str, str | Secret] = field(default_factory=dict)
    #: The service's own options (Couchdrop's ``system``, ioGates' ``device_id``...).
    options: dict[str, Any] = field(default_factory=dict)
    alias: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    verify: _http.Verify = True
    allow_insecure: bool = False
    #: Keep the login in the OS keyring, and resume the one saved there (nbauth.vault).
    save: bool = False

    # -- building ---------------------------------------------------------------------

    @classmethod
    @_redact.scrubbed  # a refused value leaves nothing in the traceback's frames
    def from_arguments(cls, service: Any, **given: Any) -> LoginRequest:
        """A request from keyword arguments (``nbauth.login``'s, a ``login_many`` row's): the
        service's fields, its options and the common settings; None means not given."""
        found = services.get(service)
        settings = {k: given.pop(k) for k in SETTINGS if k in given}
        fields = found.field_names
        values = {k: v for k, v in given.items() if k in fields and v is not None}
        options = {k: v for k, v in given.items() if k not in fields and v is not None}
        unknown = sorted(set(options) - set(found.options))
        if unknown:
            raise _unknown_arguments(found, unknown, fields)
        return cls(
            service=found,
            method=_way_in(found, values),
            url=settings.get("url"),
            values=values,
            options=options,
            alias=settings.get("alias"),
            timeout=settings.get("timeout", DEFAULT_TIMEOUT),
            verify=settings.get("verify", True),
            allow_insecure=settings.get("allow_insecure", False),
            save=settings.get("save", False),
        )

    @classmethod
    @_redact.scrubbed
    def from_environment(
        cls,
        service: str,
        given: dict[str, str | None],
        *,
        token: bool = False,
        default_url: str | None = None,
        **settings: Any,
    ) -> LoginRequest:
        """A request from the ``%login`` line's values (``given``, by field; never a secret)
        and the ``NBAUTH_<SERVICE>_*`` variables, for a face to complete.

        A password, token or code from the environment goes only with the account the
        environment names: ``-u bob`` beside ``NBAUTH_..._USERNAME=alice`` asks for bob's.
        The way in: a share URL given -> share URL; ``token`` -> token; a username -> the
        usual way; otherwise what the environment holds (a share URL, then a token), else the
        service's usual way (its first method).
        """
        found = services.get(service)
        fields = found.field_names
        given = {k: v for k, v in given.items() if v is not None}
        env = {
            name: value
            for name, f in fields.items()
            if (value := os.environ.get(f.env(found.name), "").strip())
        }
        # No user:password@ in the URL used, nor in a share URL, named by where each came from.
        chosen_url = [
            (given.pop("url", None), "--url"),
            (env.pop("url", None), fields["url"].env(found.name)),
            (default_url, f"NbAuth.urls[{found.name!r}]"),
        ]
        url, where = next(((u, w) for u, w in chosen_url if u), (None, ""))
        _urls.refuse_userinfo(url, where, found)
        methods = {m.name: m for m in found.methods}
        if "share_url" in given and "share-url" not in methods:
            raise UsageError(f"{found.title} has no share-URL login; --share-url is for ioGates.")
        if "share_url" in given:
            chosen = "share-url"
        elif token:
            chosen = "token"
        elif "username" in given:
            chosen = found.methods[0].name
        elif "share_url" in env and "share-url" in methods:
            chosen = "share-url"
        elif "token" in env and "token" in methods:
            chosen = "token"
        else:
            chosen = found.methods[0].name
        method = methods[chosen]
        for name, typed in given.items():  # a value given for one account, not the env's
            if env.get(name, typed) != typed:
                for secret in (f.name for f in fields.values() if f.secret):
                    env.pop(secret, None)
        request = cls(service=found, method=method, url=url, **settings)
        for name in (*method.fields, "code"):
            known = given.get(name) or env.get(name)
            if known:
                request.give(name, known)
        if "share_url" in env and "share_url" not in given:
            _urls.refuse_userinfo(
                request.values.get("share_url"), fields["share_url"].env(found.name), found
            )
        return request

    # -- completing ---------------------------------------------------------------------

    @property
    def fields(self) -> dict[str, Field]:
        """The service's fields by name."""
        return self.service.field_names

    def needs_url(self) -> bool:
        """Whether the server is still to be named: no URL given, none to take from a share
        URL, and the service has no default (Rocket.Chat)."""
        return (
            not self.url
            and self.service.default_url is None
            and "share_url" not in self.method.fields
        )

    def missing(self) -> list[str]:
        """The fields a person still has to fill in (optional ones excepted); the URL first
        when the service has no default one."""
        optional = self.method.optional
        wanted = [n for n in self.method.fields if n not in optional and not self.values.get(n)]
        return ["url", *wanted] if self.needs_url() else wanted

    def to_ask(self) -> list[str]:
        """Every field of the way in not yet known, optional ones included, in order."""
        wanted = [name for name in self.method.fields if not self.values.get(name)]
        return ["url", *wanted] if self.needs_url() else wanted

    def give(self, name: str, value: str | Secret) -> None:
        """A value for the field ``name``, from a person or a variable: a secret is wrapped,
        the URL is the request's own."""
        if name == "url":
            self.url = value.reveal() if isinstance(value, Secret) else value
            return
        f = self.fields[name]
        if f.secret and not isinstance(value, Secret):
            value = Secret(value, f.mask)
        self.values[name] = value

    # -- checking -----------------------------------------------------------------------

    def checked(self) -> Checked:
        """Every value checked before anything is sent (a UsageError naming the argument and
        never repeating a secret), secrets wrapped, the URL settled."""
        service = self.service
        for name in ("url", "share_url", "fileio_url"):  # no user:password@ (nbauth._urls)
            given = self.url if name == "url" else self.values.get(name, self.options.get(name))
            _urls.refuse_userinfo(given, f"{name}=", service)
        timeout = self.timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise UsageError(f"timeout= must be a number of seconds, not {type(timeout).__name__}.")
        if not 0 < timeout <= DAY:
            raise UsageError(f"timeout= must be a positive number of seconds, at most {DAY}.")
        for name in ("allow_insecure", "save"):
            if not isinstance(getattr(self, name), bool):
                raise UsageError(
                    f"{name}= must be True or False, not {_kind(getattr(self, name))}."
                )
        values = {name: self._checked_value(name, value) for name, value in self.values.items()}
        share = values.get("share_url")
        share_url = share.strip() if isinstance(share, str) else None
        if share_url is not None:
            _checked_url(service, share_url, share=True)
            values["share_url"] = share_url
        if share_url is None and not self.url and service.default_url is None:
            raise UsageError(base.needs_url(service), service=service.name)
        base_url = service.base_url(_text(self.url, "url", service), share_url)
        url, parsed = _checked_url(service, base_url)
        _http.check_plain_http(parsed, allow_insecure=self.allow_insecure, service=service)
        options = {name: _text(value, name, service) for name, value in self.options.items()}
        fileio_url = options.get("fileio_url")
        if fileio_url:
            _checked_url(service, fileio_url)
            _http.check_plain_http(fileio_url, allow_insecure=self.allow_insecure, service=service)
        defaults = {k: v for k, v in service.options.items() if v is not None}
        creds = Credentials(
            url=url,
            values=values,
            options={**defaults, **{k: str(v) for k, v in options.items() if v is not None}},
        )
        return Checked(
            service=service,
            creds=creds,
            alias=_alias(self.alias, service),
            timeout=float(timeout),
            verify=self.verify,
            allow_insecure=self.allow_insecure,
            save=self.save,
        )

    def _checked_value(self, name: str, value: Any) -> str | Secret:
        f = self.fields[name]
        service = self.service
        if f.secret:
            if not isinstance(value, (str, Secret)):
                raise UsageError(
                    f"{service.title}: {name}= must be a string, not {_kind(value)}.",
                    service=service.name,
                )
            secret = value if isinstance(value, Secret) else Secret(value, f.mask)
            if secret.kind != f.mask:
                secret = Secret(secret.reveal(), f.mask)
            raw = secret.reveal()
            if f.strip and raw != raw.strip():
                secret = Secret(raw.strip(), f.mask)
            if not secret.reveal():
                raise UsageError(
                    f"{service.title}: {name}= is empty. Give its value, or leave {name}= out.",
                    service=service.name,
                )
            _sendable(secret.reveal(), f, service)
            return secret
        text = _text(value, name, service)
        assert text is not None
        _sendable(text, f, service)
        return text.strip() if f.strip else text


def variables(service: Service) -> str:
    """The environment variables that would let a login to ``service`` run without a person."""
    fields = service.field_names
    ways = [
        " and ".join(fields[f].env(service.name) for f in method.fields) + f" ({method.label})"
        for method in service.methods
    ]
    url = fields["url"].env(service.name)
    if service.default_url is None:
        return (
            f"{url} (the server: {service.title} has no default, like {service.example_url}) "
            f"and " + "; or ".join(ways) + "."
        )
    return "; or ".join(ways) + f". {url} sets the server (default {service.default_url})."


#: What every request takes besides the service's fields and options.
SETTINGS = ("url", "alias", "timeout", "verify", "allow_insecure", "save")


def _way_in(service: Service, values: dict[str, Any]) -> Method:
    """The method the given values say: a share URL, a token, else the usual way."""
    methods = {m.name: m for m in service.methods}
    for name, field_name in (("share-url", "share_url"), ("token", "token")):
        if values.get(field_name) is not None and name in methods:
            return methods[name]
    return service.methods[0]


def _unknown_arguments(
    service: Service, unknown: list[str], fields: dict[str, Field]
) -> UsageError:
    """A UsageError for keywords the service takes neither as a field nor as an option; a
    near miss (``usrname=``) gets a "did you mean"."""
    known = [*fields, *service.options, *SETTINGS]
    guesses = [
        f"{name}= (did you mean {close[0]}=?)" if close else f"{name}="
        for name in unknown
        for close in [difflib.get_close_matches(name, known, n=1)]
    ]
    accepted = ", ".join(f"{k}=" for k in service.options) or "none"
    return UsageError(
        f"{service.title} logins take no {', '.join(guesses)} (its own options: {accepted}).",
        service=service.name,
    )


def _checked_url(service: Service, url: str, share: bool = False) -> tuple[str, httpx.URL]:
    """``url`` without its trailing slash and as httpx parsed it, or a UsageError where httpx
    or the resolver would fail on it mid-login (a bad port, an IDNA label, an empty or
    64-character label). The message never quotes the URL: it may hold a credential."""
    # A kernel logs in to a few servers again and again: their verdicts are kept, but never a
    # share URL's (it is a credential) nor that of a URL with a user:password@ part.
    parsed = _usable(url) if share or "@" in url else _usable_server(url)
    if parsed is not None:
        return url.rstrip("/"), parsed
    example = service.default_url or service.example_url
    if share:  # its path is the share's key: not for a message
        problem = f"share_url= must be the http(s) link of a share, like {example}/show/..."
    else:
        problem = f"url= is not an http(s) URL like {example} (its text is not repeated here)."
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
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return None
    return parsed if usable else None


_usable_server = functools.lru_cache(maxsize=64)(_usable)


def _text(value: Any, name: str, service: Service) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UsageError(
            f"{service.title}: {name}= must be a string, not {_kind(value)}.",
            service=service.name,
        )
    if not value.strip():
        raise UsageError(
            f"{service.title}: {name}= is empty. Give its value, or leave {name}= out.",
            service=service.name,
        )
    wrong = _checks.problem(value)
    if wrong is not None:
        raise UsageError(f"{service.title}: the {name} {wrong}.", service=service.name)
    return value


def _sendable(raw: str, f: Field, service: Service) -> None:
    """Refuse, before anything is sent, text httpx would fail on mid-login: a lone surrogate
    anywhere, or a value that travels in a header (a token, a user id) and is not printable
    ASCII. Line breaks mean extra text was pasted; a password may hold any, but no NUL, which
    no one types and servers cut at."""
    wrong = _checks.problem(raw)
    if wrong is not None:
        raise UsageError(f"{service.title}: the {f.name} {wrong}.", service=service.name)
    if not f.lines and ("\r" in raw or "\n" in raw):
        raise UsageError(
            f"{service.title}: the {f.name} contains a line break; it was probably pasted with "
            "extra text. Paste the value alone.",
            service=service.name,
        )
    if f.header and not (raw.isascii() and raw.isprintable()):
        raise UsageError(
            f"{service.title}: the {f.name} holds characters a {f.name} never has (only "
            "printable ASCII is possible); it was probably mistyped or pasted with extra text. "
            "Paste the value alone.",
            service=service.name,
        )


def _alias(value: Any, service: Service) -> str:
    if value is None:
        return service.name
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        raise UsageError(
            "alias= must be a non-empty word without spaces"
            + ("." if not isinstance(value, str) else ", which this is not.")
        )
    return _checks.text(value, "alias").strip()


def _kind(value: Any) -> str:
    """What a wrong value is, without its value (it may be a password in the wrong place)."""
    return type(value).__name__
