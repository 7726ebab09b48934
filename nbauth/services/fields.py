"""The login fields: each declared once, and every face derived from the declaration.

A field is what a person or a program gives a login (a username, a password, a share URL...).
Its declaration says how it is shown (``label``), whether it is a secret (wrapped as a
``nbauth.Secret``, masked like a password or like a token), whether it must be kept out of
sight (``sensitive``: never on the ``%login`` line, never echoed, never left in a widget or a
table), which ``%login`` option takes it, and which characters it may hold. Its environment
variable is ``NBAUTH_<SERVICE>_<NAME>``.

``nbauth.login``'s keyword arguments, the ``%login`` options and its password screen, the
form's widgets, the prompts, the environment ladder and ``login_many``'s columns (and which of
them its result leaves out) are all read from here. A service takes the common fields and may
add its own: a third-party service that needs a ``tenant`` declares
``Field("tenant", "Tenant", option="--tenant")`` in its ``fields`` and names it in a method,
and every face asks for it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Literal, NamedTuple

__all__ = [
    "BUILT_IN",
    "CODE",
    "COMMON",
    "PASSWORD",
    "SHARE_URL",
    "TOKEN",
    "URL",
    "USERNAME",
    "USER_ID",
    "Field",
    "env_name",
]


class Field(NamedTuple):
    """One login field (see the module's docstring). A named tuple rather than a frozen
    dataclass: it is made at ``%load_ext``, where a dataclass costs some 1.5 ms more."""

    #: The ``nbauth.login`` keyword, the ``login_many`` column, the variable's last part.
    name: str
    label: str
    #: Wrapped as a Secret as soon as it is given; ``mask`` says how a Secret of it masks.
    secret: bool = False
    mask: Literal["password", "token"] = "password"
    #: Kept out of sight: a secret, or something that opens an account like one (a share URL).
    sensitive: bool = False
    #: Masked as it is typed (a two-factor code is sensitive, but shown: it is short-lived).
    masked: bool = False
    #: The ``%login`` option that takes it (``--user-id``), its short form, and its help.
    #: None: never on the magic line (a secret: the form, the prompt or a variable gives it).
    option: str | None = None
    short: str | None = None
    help: str = ""
    #: Spaces around a typed value are dropped (a password keeps whatever it holds).
    strip: bool = True
    #: It may hold line breaks (a password may; anything else with one was pasted with extra
    #: text).
    lines: bool = False
    #: Only printable ASCII, no spaces: it travels in a header (a token, an id).
    header: bool = False

    def env(self, service: str) -> str:
        """Its environment variable for ``service``: ``NBAUTH_COUCHDROP_PASSWORD``."""
        return env_name(service, self.name)

    @property
    def dest(self) -> str:
        """Its name as argparse stores the option's value."""
        return self.name


def env_name(service: str, name: str) -> str:
    """``env_name('couchdrop', 'password')`` -> ``'NBAUTH_COUCHDROP_PASSWORD'``."""
    return f"NBAUTH_{service.upper()}_{name.upper()}"


URL = Field(
    "url",
    "URL",
    option="--url",
    help="the server (default: NBAUTH_<SERVICE>_URL, NbAuth.urls, or the service's public host; "
    "Rocket.Chat has none, and is asked for its server)",
)
USERNAME = Field("username", "Username", option="--username", short="-u", help="the account")
PASSWORD = Field(
    "password", "Password", secret=True, sensitive=True, masked=True, strip=False, lines=True
)
TOKEN = Field(
    "token",
    "Token",
    secret=True,
    mask="token",
    sensitive=True,
    masked=True,
    strip=False,
    header=True,
)
CODE = Field("code", "Two-factor code", secret=True, sensitive=True)
USER_ID = Field(
    "user_id",
    "User id",
    option="--user-id",
    strip=False,
    header=True,
    help="Rocket.Chat: the user id that goes with a personal access token",
)
SHARE_URL = Field(
    "share_url",
    "Share URL",
    sensitive=True,
    masked=True,
    option="--share-url",
    help="ioGates: log in with the link of a share (its line is taken out of the history)",
)
#: What every service takes.
COMMON = (URL, USERNAME, PASSWORD, TOKEN, CODE)
#: The fields of the services nbauth comes with, known without loading them.
BUILT_IN = (*COMMON, USER_ID, SHARE_URL)


def every(services: Iterable[object]) -> dict[str, Field]:
    """Every field the given services take (each a ``Service``), by name, in a stable order:
    the common ones first."""
    found = by_name(COMMON)
    for service in services:
        found.update(by_name(getattr(service, "fields", ())))
    return found


def by_name(fields: Iterable[Field]) -> dict[str, Field]:
    """``fields`` by name; one name declared twice with different meanings is refused."""
    return dict(_by_name(tuple(fields)))


@functools.lru_cache(maxsize=64)
def _by_name(fields: tuple[Field, ...]) -> tuple[tuple[str, Field], ...]:
    found: dict[str, Field] = {}
    for field in fields:
        if found.setdefault(field.name, field) != field:
            raise ValueError(f"the login field {field.name!r} is declared twice, differently")
    return tuple(found.items())
