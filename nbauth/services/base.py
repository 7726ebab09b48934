"""What every service module builds on: the login's credentials, its ways in, what a login
grants, and the ``Service`` whose flows speak the service's protocol.

A service is written as *flows* (``nbauth._calls``): generators that yield the HTTP calls they
need and receive each answer back, read with ``nbauth.services.answers``. The flow never does
I/O itself, so one flow serves ``login`` and ``alogin`` alike, and a flow can be read top to
bottom as the service's protocol. A flow after the login reads the session as an ``Account``:
what the service needs of it, and nothing of where nbauth keeps it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from .._calls import Flow
from ..errors import UsageError
from ..secret import Secret
from ..tables import Storage
from .fields import COMMON, Field, by_name

__all__ = ["PASSWORD", "Account", "Credentials", "Granted", "Method", "Service", "needs_url"]


class Account(Protocol):
    """A logged-in session as a service's flows read it (``nbauth.Session`` is one)."""

    @property
    def alias(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def token(self) -> Secret: ...

    @property
    def user_id(self) -> str | None: ...

    @property
    def username(self) -> str | None: ...

    @property
    def kind(self) -> str: ...

    @property
    def details(self) -> dict[str, Any]: ...

    @property
    def profile_seed(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Credentials:
    """Everything one login attempt was given, checked and with secrets wrapped: the URL, the
    fields by name (``nbauth.services.fields``), and the service's own options."""

    url: str
    values: Mapping[str, str | Secret] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        """A field that is not a secret, or None when it was not given."""
        value = self.values.get(name)
        return value if isinstance(value, str) else None

    def secret(self, name: str) -> Secret | None:
        """A secret field, or None when it was not given."""
        value = self.values.get(name)
        return value if isinstance(value, Secret) else None

    @property
    def username(self) -> str | None:
        return self.text("username")

    @property
    def password(self) -> Secret | None:
        return self.secret("password")

    @property
    def token(self) -> Secret | None:
        return self.secret("token")

    @property
    def code(self) -> Secret | None:
        return self.secret("code")

    @property
    def user_id(self) -> str | None:
        return self.text("user_id")

    @property
    def share_url(self) -> str | None:
        return self.text("share_url")


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
    #: The public host a login goes to without a URL; None for a service that has no one
    #: obvious public host (Rocket.Chat is self-hosted): its logins must be given a URL.
    default_url: ClassVar[str | None]
    #: What its URL looks like, for messages and placeholders.
    example_url: ClassVar[str] = "https://example.com"
    #: Service-specific keyword arguments of ``nbauth.login`` and their defaults.
    options: ClassVar[Mapping[str, str | None]] = {}
    #: The login fields it takes (``nbauth.services.fields``): the common ones, and its own.
    fields: ClassVar[tuple[Field, ...]] = COMMON

    @functools.cached_property
    def field_names(self) -> dict[str, Field]:
        """Its fields by name (a service is made once per kernel: read once)."""
        return by_name(self.fields)

    #: The ways a person can log in, the first being the usual one.
    methods: ClassVar[tuple[Method, ...]] = (PASSWORD, Method("token", "token", ("token",)))
    # -- the protocol -----------------------------------------------------------------

    def base_url(self, url: str | None, share_url: str | None) -> str:
        """The API base the login talks to (``url``, else the service's default)."""
        base = url or self.default_url
        if base is None:
            raise UsageError(needs_url(self), service=self.name)
        return base.rstrip("/")

    def check(self, creds: Credentials) -> None:
        """Refuse argument combinations the service cannot log in with (raise UsageError).

        By default a login needs a token, or a username with a password.
        """
        taken = {field.name for field in self.fields}
        for name in creds.values:
            if name not in taken:
                raise UsageError(f"{self.title} logins take no {name}=.", service=self.name)
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

    def auth_headers(self, session: Account) -> dict[str, str | Secret]:
        """The headers that authenticate a further call with this session's token."""
        raise NotImplementedError

    def profile_flow(self, session: Account) -> Flow[dict[str, Any]]:
        """The full profile, for services whose login answer carries only part of it."""
        raise NotImplementedError

    def storage_flow(self, session: Account) -> Flow[Storage]:
        """The account's storage, as the service reports it."""
        return Storage([], f"{self.title} reports no storage figures.")
        yield  # pragma: no cover - makes this a generator

    def logout_flow(self, session: Account, revoke: bool) -> Flow[None]:
        """Tell the server the token is no longer used. Default: nothing to tell."""
        return None
        yield  # pragma: no cover - makes this a generator


def needs_url(service: Service) -> str:
    """Why a login to a service without a default URL cannot go anywhere yet, and how each face
    gives it one."""
    variable = service.field_names["url"].env(service.name)
    return (
        f"{service.title}: url= is needed: the address of your {service.title} server, like "
        f"{service.example_url} ({service.title} servers are run by each organisation, so "
        f"nbauth has no default one). %login {service.name} asks for it, or takes --url or "
        f"{variable}."
    )
