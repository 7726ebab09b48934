"""pandas tables of sessions, profiles and storage.

These functions only shape data that is already in the kernel; they make no
HTTP calls. pandas is imported when a table is first made, not with nbauth.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from .secret import Secret

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Storage", "human_bytes", "profile_frame", "sessions_frame", "storage_frame"]

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


@dataclass(frozen=True)
class Storage:
    """What a service tells about an account's storage: table rows, or a note saying why none."""

    rows: list[dict[str, Any]]
    note: str | None = None


def human_bytes(size: float) -> str:
    """``29301996265`` -> ``'27.3 GiB'``."""
    value = float(size)
    for unit in UNITS:
        if abs(value) < 1024 or unit == UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def flatten(value: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    """Nested profile values as (dotted field, readable value) pairs; unset fields left out."""
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            yield from flatten(item, f"{name}.")
        elif isinstance(item, list):
            yield name, ", ".join(_readable(i) for i in item)
        elif item is not None and item != "":  # an unset field is not worth a row
            yield name, item


def _readable(item: Any) -> str:
    if isinstance(item, Mapping):
        if "address" in item:  # Rocket.Chat e-mail: {"address", "verified"}
            return f"{item['address']}" + (" (verified)" if item.get("verified") else "")
        return ", ".join(f"{k}={v}" for k, v in item.items())
    return str(item)


def profile_frame(profile: Mapping[str, Any]) -> pd.DataFrame:
    """The profile as a two-column table (field, value)."""
    import pandas as pd

    frame: pd.DataFrame = pd.DataFrame(list(flatten(profile)), columns=["field", "value"])
    return frame


def storage_frame(storage: Storage) -> pd.DataFrame:
    """Storage rows as a table; with no rows, a one-row table whose note says why."""
    import pandas as pd

    if not storage.rows:
        empty: pd.DataFrame = pd.DataFrame({"note": [storage.note or "No storage figures."]})
        return empty
    frame: pd.DataFrame = pd.DataFrame(storage.rows)
    if storage.note:
        frame.attrs["note"] = storage.note
    return frame


class Listed(Protocol):
    """A session as the session table shows it (``nbauth.Session`` is one)."""

    alias: str
    service: str
    url: str
    username: str | None
    obtained_at: datetime
    expires_at: datetime | None
    token: Secret


def sessions_frame(sessions: Sequence[Listed], current: str | None) -> pd.DataFrame:
    """One row per session, the token masked."""
    import pandas as pd

    columns = ["alias", "service", "url", "username", "obtained", "expires", "token", "current"]
    rows = [
        {
            "alias": s.alias,
            "service": s.service,
            "url": s.url,
            "username": s.username,
            "obtained": _to_second(s.obtained_at),
            "expires": _to_second(s.expires_at),
            "token": s.token.masked,
            "current": s.alias == current,
        }
        for s in sessions
    ]
    frame: pd.DataFrame = pd.DataFrame(rows, columns=columns)
    for column in ("obtained", "expires"):  # NaT, not None, when no session expires
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _to_second(moment: datetime | None) -> datetime | None:
    """Times to the second: microseconds only widen the table."""
    return moment.replace(microsecond=0) if moment is not None else None
