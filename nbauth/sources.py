"""Where a notebook login's credentials come from, in this order: the magic's own
arguments (never a password), then ``NBAUTH_<SERVICE>_*`` environment variables,
then a person (the form in a notebook, prompts in a terminal).

A ``Plan`` gathers what the arguments and the environment give, says which
fields a person still has to supply, and logs in through ``nbauth.login`` once
they are there. The magics and the form both build on it, so both follow the
same order and name the same variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import _redact, _urls, services
from .errors import UsageError
from .secret import Secret

if TYPE_CHECKING:
    from ._http import Verify
    from ._session import Session
    from .services.base import Method, Service

__all__ = [
    "FIELDS",
    "LABELS",
    "SECRET_FIELDS",
    "SENSITIVE_FIELDS",
    "Plan",
    "env_name",
    "from_env",
    "plan",
    "variables",
]

FIELDS = ("url", "username", "password", "token", "user_id", "share_url", "code")
SECRET_FIELDS = frozenset({"password", "token", "code"})
#: Never echoed, shown back or left in a widget. A share URL is not a Secret to nbauth.login,
#: but it opens its share to whoever has it, so it is kept out of sight like one.
SENSITIVE_FIELDS = SECRET_FIELDS | {"share_url"}
LABELS = {
    "url": "URL",
    "username": "Username",
    "password": "Password",
    "token": "Token",
    "user_id": "User id",
    "share_url": "Share URL",
    "code": "Two-factor code",
}


def env_name(service: str, name: str) -> str:
    """``env_name('couchdrop', 'password')`` -> ``'NBAUTH_COUCHDROP_PASSWORD'``."""
    return f"NBAUTH_{service.upper()}_{name.upper()}"


def from_env(service: str) -> dict[str, str]:
    """The non-empty ``NBAUTH_<SERVICE>_*`` variables, by field name."""
    found = {}
    for name in FIELDS:
        value = os.environ.get(env_name(service, name), "").strip()
        if value:
            found[name] = value
    return found


@dataclass
class Plan:
    """One notebook login: the service, the way in, and the values known so far."""

    service: Service
    method: Method
    url: str | None = None
    alias: str | None = None
    timeout: float = 30.0
    verify: Verify = True
    values: dict[str, str | Secret] = field(default_factory=dict)
    allow_insecure: bool = False
    #: %login --save: keep the login in the OS keyring, and resume the one saved there.
    save: bool = False

    def missing(self) -> list[str]:
        """The fields a person still has to fill in (optional ones excepted)."""
        return [
            name
            for name in self.method.fields
            if name not in self.method.optional and not self.values.get(name)
        ]

    def to_ask(self) -> list[str]:
        """Every field of the method not yet known, optional ones included, in order."""
        return [name for name in self.method.fields if not self.values.get(name)]

    def login(self) -> Session:
        from .api import login

        given = {k: v for k, v in self.values.items() if v}
        return login(
            self.service.name,
            url=self.url,
            alias=self.alias,
            timeout=self.timeout,
            verify=self.verify,
            allow_insecure=self.allow_insecure,
            save=self.save,
            **given,  # type: ignore[arg-type]
        )


def variables(service: Service) -> str:
    """The environment variables that would let a login to ``service`` run without a person."""
    ways = []
    for method in service.methods:
        text = " and ".join(env_name(service.name, f) for f in method.fields)
        ways.append(f"{text} ({method.label})")
    url = env_name(service.name, "url")
    return "; or ".join(ways) + f". {url} sets the server (default {service.default_url})."


@_redact.scrubbed  # a refused URL leaves nothing in the traceback's frames
def plan(
    service: str,
    *,
    url: str | None = None,
    username: str | None = None,
    token: bool = False,
    user_id: str | None = None,
    share_url: str | None = None,
    alias: str | None = None,
    default_url: str | None = None,
    timeout: float = 30.0,
    verify: Verify = True,
    allow_insecure: bool = False,
) -> Plan:
    """Gather a login from the arguments given and the environment.

    A password, token or code from the environment is used only for the account the
    environment names: ``-u bob`` with ``NBAUTH_..._USERNAME=alice`` asks for bob's password.

    The way in: ``share_url`` -> a share-URL login; ``token`` -> a token login;
    ``username`` -> a password login; otherwise what the environment holds
    (share URL, then token), else the service's usual way (its first method).
    """
    found = services.get(service)
    env = from_env(found.name)
    # No user:password@ in the URL used, nor in a share URL, named by where each came from.
    chosen_url = [
        (url, "--url"),
        (env.get("url"), env_name(found.name, "url")),
        (default_url, f"NbAuth.urls[{found.name!r}]"),
    ]
    used, where = next(((u, w) for u, w in chosen_url if u), (None, ""))
    _urls.refuse_userinfo(used, where, found)
    _urls.refuse_userinfo(share_url, "--share-url", found)
    methods = {m.name: m for m in found.methods}
    if share_url is not None and "share-url" not in methods:
        raise UsageError(f"{found.title} has no share-URL login; --share-url is for ioGates.")
    if share_url is not None:
        chosen = "share-url"
    elif token:
        chosen = "token"
    elif username is not None:
        chosen = found.methods[0].name
    elif "share_url" in env and "share-url" in methods:
        chosen = "share-url"
    elif "token" in env and "token" in methods:
        chosen = "token"
    else:
        chosen = found.methods[0].name
    method = methods[chosen]
    if username is not None and env.get("username", username) != username:
        env.pop("password", None)
        env.pop("code", None)
    if user_id is not None and env.get("user_id", user_id) != user_id:
        env.pop("token", None)
    given = {"username": username, "user_id": user_id, "share_url": share_url}
    values: dict[str, str | Secret] = {}
    for name in (*method.fields, "code"):
        value = given.get(name) or env.get(name)
        if value:
            values[name] = Secret(value) if name in SECRET_FIELDS else value
    if share_url is None:  # a share URL from the environment
        _urls.refuse_userinfo(values.get("share_url"), env_name(found.name, "share_url"), found)
    return Plan(
        service=found,
        method=method,
        url=used,
        alias=alias,
        timeout=timeout,
        verify=verify,
        values=values,
        allow_insecure=allow_insecure,
    )
