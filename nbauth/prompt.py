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

from .errors import TwoFactorRequired, UsageError

if TYPE_CHECKING:
    from .request import LoginRequest

__all__ = ["ask_code", "fill"]

FROM = {
    "totp": "from your authenticator app",
    "email": "sent to you by e-mail",
    "sms": "sent by SMS",
}


def fill(request: LoginRequest) -> None:
    """Ask for every field the request's way in still lacks."""
    for name in request.to_ask():
        field = request.fields[name]
        optional = name in request.method.optional
        label = f"{request.service.title} {field.label.lower()}"
        value = _read(f"{label}{' (Enter to skip)' if optional else ''}: ", hidden=field.sensitive)
        if field.strip:
            value = value.strip()
        if value:
            request.give(name, value)
        elif not optional:
            raise UsageError(f"No {label} was given, so the login was not tried. Run it again.")


def ask_code(request: LoginRequest, error: TwoFactorRequired) -> None:
    """Ask once for the second factor the service asked for."""
    title = request.service.title
    where = FROM.get(error.method, "")
    print(f"{title} asks for a two-factor code{' ' + where if where else ''}.")
    code = _read(f"{title} two-factor code: ", hidden=True).strip()
    if not code:
        raise UsageError(f"No {title} two-factor code was given, so the login was not finished.")
    request.give("code", code)


def _read(prompt: str, hidden: bool) -> str:
    try:
        return getpass.getpass(prompt) if hidden else input(prompt)
    except (EOFError, NotImplementedError):  # stdin closed; a kernel that allows no input
        raise UsageError(
            "Nobody can answer a prompt here (no input is allowed). Set the NBAUTH_* variables "
            "instead; %login names them when it cannot ask."
        ) from None
