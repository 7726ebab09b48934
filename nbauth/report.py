"""What a person sees after a notebook login: one summary line, then the profile and
storage tables. The magics print it; the form puts it in its result area.

A table that needs a call of its own (Couchdrop's profile, storage) can fail
after the login succeeded; the failure is then shown in place of the table,
because the session is good and stays stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import NbAuthError

if TYPE_CHECKING:
    from ._session import Session

__all__ = ["items", "show", "summary"]


def summary(session: Session) -> str:
    """``Logged in to Couchdrop at https://... as alice (password login, session 'couchdrop').``"""
    facts = [f"{session.kind.replace('-', ' ')} login", f"session '{session.alias}'"]
    if session.expires_at is not None:
        facts.append(f"expires {session.expires_at:%Y-%m-%d %H:%M} UTC")
    who = session.username or "an account without a username"
    return f"Logged in to {session.title} at {session.url} as {who} ({', '.join(facts)})."


def items(session: Session) -> list[Any]:
    """The report in order: lines of text (str) and tables (DataFrames)."""
    shown: list[Any] = [summary(session)]
    for title, make in (("Profile", session.profile_frame), ("Storage", session.storage_frame)):
        try:
            frame = make()
        except NbAuthError as exc:
            shown.append(f"{title}: not available. {exc.message}")
            continue
        if list(frame.columns) == ["note"]:  # no figures, only why: a line, not a table
            shown.append(f"{title}: {frame['note'].iloc[0]}")
            continue
        shown += [f"{title}:", frame]
    return shown


def show(session: Session) -> None:
    """Print the report's lines and display its tables (rich HTML in a notebook)."""
    from IPython.display import display

    for item in items(session):
        if isinstance(item, str):
            print(item)
        else:
            display(item)  # type: ignore[no-untyped-call]
