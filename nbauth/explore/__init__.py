"""Each service's data calls, as the methods of its own Session subclass.

After a login, the next step is one line: ``s.ls("/reports")``, ``s.download(...)``,
``s.rooms()``, ``s.messages("general")``. Each module here is a Session subclass that turns
the service's documented file or message API into DataFrames and bytes, using the session's
token and the same transport rules as the login (timeouts, TLS, 503 retries, masking).
``session_class`` says which class a login of a service makes: the services themselves know
nothing of their sessions.
"""

from __future__ import annotations

from .._session import Session
from .couchdrop import CouchdropSession
from .iogates import IoGatesSession
from .rocketchat import RocketChatSession

__all__ = ["session_class"]

#: The Session subclass of each built-in service; another service's sessions are plain ones.
SESSIONS: dict[str, type[Session]] = {
    "couchdrop": CouchdropSession,
    "iogates": IoGatesSession,
    "rocketchat": RocketChatSession,
}


def session_class(service: str) -> type[Session]:
    """The Session class a login of ``service`` makes."""
    return SESSIONS.get(service, Session)
