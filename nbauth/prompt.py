"""Terminal prompts (``input`` and ``getpass``) for what a login still lacks.

In terminal IPython these read the terminal; in a notebook kernel (``%login
--prompt``) ipykernel routes them to the front end's input box, where
``getpass`` hides what is typed. Secrets (password, token, code) and share
URLs are read with ``getpass`` so they are neither echoed nor left in a
saved output.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

from .errors import NbAuthError, TwoFactorRequired, UsageError

if TYPE_CHECKING:
    from .request import LoginRequest
    from .services.base import Service

__all__ = ["Cancelled", "ask_code", "fill"]


class Cancelled(NbAuthError):
    """A person pressed Ctrl+C (or a notebook's stop button) at a login prompt."""


FROM = {
    "totp": "from your authenticator app",
    "email": "sent to you by e-mail",
    "sms": "sent by SMS",
}


def fill(request: LoginRequest) -> None:
    """Ask for every field the request's way in still lacks: the server first when the service
    has no default one (Rocket.Chat), and say which server the rest is for."""
    told = False
    for name in request.to_ask():
        if name == "url":
            _ask_url(request)
            continue
        if not told:
            _say_where(request)
            told = True
        field = request.fields[name]
        optional = name in request.method.optional
        label = f"{request.service.title} {field.label.lower()}"
        value = _read(
            f"{label}{' (Enter to skip)' if optional else ''}: ",
            hidden=field.sensitive,
            service=request.service,
        )
        if field.strip:
            value = value.strip()
        if value:
            request.give(name, value)
        elif not optional:
            raise UsageError(f"No {label} was given, so the login was not tried. Run it again.")


def _ask_url(request: LoginRequest) -> None:
    """The server of a service without a default one: asked, never guessed."""
    from . import _urls

    service = request.service
    url = _read(f"{service.title} server URL (like {service.example_url}): ", False, service)
    url = url.strip()
    if not url:
        raise UsageError(
            f"No {service.title} server URL was given, so the login was not tried. Run it "
            f"again and type your server's address, or give --url or "
            f"{request.fields['url'].env(service.name)}.",
            service=service.name,
        )
    _urls.refuse_userinfo(url, "The URL typed", service)
    request.give("url", url)


def _say_where(request: LoginRequest) -> None:
    """Which server the prompts that follow are for (a share URL names its own)."""
    url = request.url or request.service.default_url
    if url and "share_url" not in request.method.fields:
        print(f"Logging in to {request.service.title} at {url.rstrip('/')}.")


def ask_code(request: LoginRequest, error: TwoFactorRequired) -> None:
    """Ask once for the second factor the service asked for."""
    title = request.service.title
    where = FROM.get(error.method, "")
    print(f"{title} asks for a two-factor code{' ' + where if where else ''}.")
    code = _read(f"{title} two-factor code: ", hidden=True, service=request.service, sent=True)
    code = code.strip()
    if not code:
        raise UsageError(f"No {title} two-factor code was given, so the login was not finished.")
    request.give("code", code)


def _read(prompt: str, hidden: bool, service: Service, sent: bool = False) -> str:
    """What was typed at ``prompt``. Ctrl+C there (or a notebook's stop button) ends the login
    with one line, not a traceback: it is a person's choice, not a failure to explain."""
    try:
        return getpass.getpass(prompt) if hidden else input(prompt)
    except (EOFError, NotImplementedError):  # stdin closed; a kernel that allows no input
        raise UsageError(
            "Nobody can answer a prompt here (no input is allowed). Set the NBAUTH_* variables "
            "instead; %login names them when it cannot ask."
        ) from None
    except KeyboardInterrupt:
        print()  # getpass leaves the cursor after its prompt
        done = "the login was not finished" if sent else "nothing was sent to the server"
        raise Cancelled(
            f"{service.title} login cancelled at the prompt (Ctrl+C): {done}. Run %login "
            "again to log in.",
            service=service.name,
        ) from None
