"""What a person sees after a notebook login: one summary line, then the profile and storage
as cards (nbauth.cards: compact HTML in a notebook, plain text in a terminal). The magics print
it; the form puts it in its result area; ``%whoami`` shows the profile card.

A card that needs a call of its own (Couchdrop's profile, storage) can fail after the login
succeeded; the card then says why in place of its figures, because the session is good and
stays stored. No secret of the session reaches a card: the profile table masks them
(``Session.profile_frame``), and the storage table's cells are masked here the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import NbAuthError

if TYPE_CHECKING:
    import pandas as pd

    from ._session import Session
    from .cards import Card

# nbauth.cards (and the tables under it) load with the first report, not with %load_ext.

__all__ = ["items", "profile", "show", "storage", "summary"]


def summary(session: Session) -> str:
    """``Logged in to Couchdrop at https://... as alice (password login, session 'couchdrop').``"""
    facts = [f"{session.kind.replace('-', ' ')} login", f"session '{session.alias}'"]
    if session.expires_at is not None:
        facts.append(f"expires {session.expires_at:%Y-%m-%d %H:%M} UTC")
    who = session.username or "an account without a username"
    return f"Logged in to {session.title} at {session.url} as {who} ({', '.join(facts)})."


def profile(session: Session) -> Card:
    """The profile card (its ``frame`` is ``session.profile_frame()``), or why there is none."""
    from .cards import Card, profile_card

    try:
        frame = session.profile_frame()
    except NbAuthError as exc:
        return Card("Profile", note=f"Not available. {exc.message}", error=True)
    return profile_card(frame)


def storage(session: Session) -> Card:
    """The storage card, its cells masked like the profile's, or why there is none."""
    from .cards import Card, storage_card

    try:
        frame = session.storage_frame()
    except NbAuthError as exc:
        return Card("Storage", note=f"Not available. {exc.message}", error=True)
    return storage_card(masked(session, frame))


def items(session: Session) -> list[Any]:
    """The report in order: the summary line (str), then the profile and storage cards."""
    return [summary(session), profile(session), storage(session)]


def show(session: Session) -> None:
    """Print the summary and display the cards (HTML in a notebook, text in a terminal)."""
    from IPython.display import display

    for item in items(session):
        if isinstance(item, str):
            print(item)
        else:
            display(item)  # type: ignore[no-untyped-call]


def masked(session: Session, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with any secret of ``session`` (or of a stored session) its text cells repeat
    masked (nbauth._redact.echoed); its note too. A frame with nothing to mask is returned
    as it is."""
    changed = frame.copy()
    hit = False
    for column in changed.columns:
        cells = list(changed[column])
        new = [_masked(session, cell) for cell in cells]
        if any(a is not b for a, b in zip(new, cells, strict=True)):
            changed[column] = new
            hit = True
    note = frame.attrs.get("note")
    if isinstance(note, str):
        changed.attrs["note"] = _masked(session, note)
        hit = hit or changed.attrs["note"] is not note
    return changed if hit else frame


def _masked(session: Session, cell: Any) -> Any:
    from . import _redact

    if not isinstance(cell, str):
        return cell
    masked = _redact.echoed(cell, also=[session.token])
    return cell if masked == cell else masked
