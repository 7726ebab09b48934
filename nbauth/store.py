"""The kernel's session store: sessions by alias, and which one is current.

One lock guards every change, so logins finishing on many threads at once
leave the store whole. A session is put here only after its login completed.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from . import _redact, services
from .errors import NotLoggedIn, UsageError

if TYPE_CHECKING:
    from ._session import Session

__all__ = ["STORE", "SessionStore"]


class SessionStore:
    """Sessions by alias. The latest login is the current session."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._sessions: dict[str, Session] = {}
        self._current: str | None = None

    def put(self, session: Session) -> None:
        """Store ``session`` under its alias (replacing any before it) and make it current.
        Its own ``logout()`` then takes it out of here too."""
        session.keeper = self
        with self._lock:
            self._sessions.pop(session.alias, None)
            self._sessions[session.alias] = session
            self._current = session.alias

    def get(self, alias: str | None = None, *, leaving: bool = False) -> Session:
        """The session stored under ``alias``, or the current one. ``leaving``: it is asked
        for to log out of it, which a missing one's error says (nothing to log in to then)."""
        with self._lock:
            key = self._current if alias is None else alias
            if key is not None and key in self._sessions:
                return self._sessions[key]
            stored = list(self._sessions.values())
        raise _missing(alias, stored, leaving)

    def of_service(self, service: str, alias: str | None = None) -> Session:
        """The session named ``alias``, which must be of ``service``; without an alias, the
        current session if it is of ``service``, else that service's latest login."""
        title = services.get(service).title
        if alias is not None:
            found = self.get(alias)
            if found.service != service:
                raise UsageError(
                    f"The session '{alias}' is {found.title}, not {title}.", service=service
                )
            return found
        with self._lock:  # newest first: ``put`` and ``discard`` keep the current one last
            for session in reversed(self._sessions.values()):
                if session.service == service:
                    return session
        raise NotLoggedIn(
            f"No {title} session in this kernel. Log in first: %login {service}, or "
            f"nbauth.login('{service}', ...).",
            service=service,
        )

    def remove(self, alias: str | None = None) -> Session:
        """Take the session out of the store and return it."""
        with self._lock:
            session = self.get(alias)
            self.discard(session)
            return session

    def discard(self, session: Session) -> None:
        """Forget ``session`` if it is the one stored under its alias."""
        with self._lock:
            if self._sessions.get(session.alias) is session:
                del self._sessions[session.alias]
                if self._current == session.alias:
                    self._current = next(reversed(self._sessions), None)

    def all(self) -> list[Session]:
        """Every stored session, in login order."""
        with self._lock:
            return list(self._sessions.values())

    @property
    def current(self) -> str | None:
        """The alias of the current session."""
        return self._current

    def snapshot(self) -> tuple[list[Session], str | None]:
        """Every stored session and the current alias, read at one instant: read one at a
        time, a login finishing in between could name a current session missing from the list."""
        with self._lock:
            return list(self._sessions.values()), self._current

    def clear(self) -> None:
        """Forget every session (no server is told)."""
        with self._lock:
            self._sessions.clear()
            self._current = None


def _missing(alias: str | None, stored: list[Session], leaving: bool) -> NotLoggedIn:
    """Why no session answers to ``alias``, and the command that does what was meant: the
    stored aliases to log out of, the alias of a service's session (``%whoami iogates`` when
    it is stored as 'share'), or the login to run."""
    if alias is None:
        if leaving:
            return NotLoggedIn("No session to log out of: nothing is logged in in this kernel.")
        return NotLoggedIn(
            "No session yet. Log in first: %login SERVICE, or nbauth.login('SERVICE', ...)."
        )
    aliases = ", ".join(f"'{session.alias}'" for session in stored)
    if leaving:
        if not stored:
            return NotLoggedIn(
                f"No session '{alias}' to log out of: nothing is logged in in this kernel."
            )
        return NotLoggedIn(
            f"No session '{alias}' to log out of. The sessions here: {aliases}: %logout ALIAS "
            "(or nbauth.logout('ALIAS')), or %logout --all."
        )
    service = alias.lower() if alias.lower() in services.names() else None
    if service is not None:
        title = services.get(service).title
        of_service = [session.alias for session in stored if session.service == service]
        if of_service:
            named = ", ".join(f"'{name}'" for name in of_service)
            return NotLoggedIn(
                f"No session '{alias}': {alias} is a service, and its sessions here are stored "
                f"as {named}. Use the alias (%whoami {of_service[-1]}, or nbauth.session("
                f"'{of_service[-1]}')), or log in again: %login {service}.",
                service=service,
            )
        return NotLoggedIn(
            f"No session '{alias}': no {title} login in this kernel yet. Log in first: "
            f"%login {service}, or nbauth.login('{service}', ...).",
            service=service,
        )
    hint = f" The sessions here: {aliases}." if stored else ""
    return NotLoggedIn(
        f"No session '{alias}'.{hint} To log in under that name: %login SERVICE --as {alias}, "
        f"or nbauth.login('SERVICE', ..., alias='{alias}')."
    )


STORE = SessionStore()
# The stored sessions' tokens are masked in logs and messages as long as they are here.
_redact.keep_masking(lambda: [session.token for session in STORE.all()])
