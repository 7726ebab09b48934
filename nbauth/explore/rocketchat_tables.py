"""Rocket.Chat's rooms and messages as DataFrames, and the arguments that pick the messages.

Kept apart from the session (rocketchat.py) because it is pure shaping: JSON in, columns out.
A history page becomes columns (``Columns``) as soon as it is parsed, while its objects are
fresh in the CPU's cache, and the table only joins lists: building it costs the same per
message for a thousand messages as for fifty thousand.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import chain
from typing import TYPE_CHECKING, Any

from .. import _checks
from ..errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

#: Room type -> (the REST prefix of its history, the word the table shows). Livechat rooms
#: are read through the channel routes (the server's findChannelByIdOrName takes "c" and "l"),
#: by the agent serving them.
KINDS = {
    "c": ("channels", "channel"),
    "p": ("groups", "private"),
    "d": ("im", "direct"),
    "l": ("channels", "livechat"),
}
#: The fields of Columns that hold a message's values, in the table's order.
FIELDS = ("ids", "stamps", "usernames", "texts", "threads", "attachments")


@dataclass(frozen=True)
class Room:
    """One room, as rooms.get and the user's subscription describe it."""

    id: str
    #: The readable name: ``fname`` where the server has one (a discussion's ``name`` is a
    #: random id, a group's often a slug), else ``name``; a direct message's other person.
    name: str
    kind: str
    #: ``msgs``: how many messages the room holds (None when the server did not say).
    messages: int | None
    users: int | None
    last_message: str | None
    #: The other names ``messages()`` finds it by (its ``name`` when ``fname`` is shown).
    aliases: tuple[str, ...] = ()

    @property
    def type(self) -> str:
        """The type as a word: channel, private or direct (another type keeps its code)."""
        return KINDS[self.kind][1] if self.kind in KINDS else self.kind

    @property
    def label(self) -> str:
        return f"@{self.name}" if self.kind == "d" else f"#{self.name}"


@dataclass(frozen=True)
class Columns:
    """One history page as the table's columns; the message objects go with the page."""

    #: How many messages the page held: the paging rule counts them, usable or not.
    received: int
    ids: list[str]
    stamps: list[Any]
    usernames: list[Any]
    texts: list[Any]
    threads: list[Any]
    attachments: list[int]

    @classmethod
    def of(cls, messages: list[Any]) -> Columns:
        """A page's messages; one that is not an object with a string ``_id`` is left out."""
        rows = [m for m in messages if type(m) is dict and type(m.get("_id")) is str]
        users = [m.get("u") for m in rows]
        files = [m.get("attachments") for m in rows]
        return cls(
            received=len(messages),
            ids=[m["_id"] for m in rows],
            stamps=[m.get("ts") for m in rows],
            usernames=[u.get("username") if type(u) is dict else None for u in users],
            texts=[m.get("msg") for m in rows],
            threads=[m.get("tmid") for m in rows],
            attachments=[len(f) if type(f) is list else 0 for f in files],
        )


def room_frame(rooms: Sequence[Room]) -> pd.DataFrame:
    """id, name, type, messages, users, last_message; the most recently active first."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "id": _strings([room.id for room in rooms]),
            "name": _strings([room.name for room in rooms]),
            "type": _strings([room.type for room in rooms]),
            "messages": pd.array([room.messages for room in rooms], dtype="Int64"),
            "users": pd.array([room.users for room in rooms], dtype="Int64"),
            "last_message": _utc([room.last_message for room in rooms]),
        }
    )
    ordered: pd.DataFrame = frame.sort_values(
        ["last_message", "name"], ascending=[False, True], na_position="last", ignore_index=True
    )
    return ordered


def message_frame(pages: Sequence[Columns], most: int | None) -> pd.DataFrame:
    """The pages' columns joined, each message once (the page that had it first wins: pages
    overlap when messages arrive while they are read), the newest ``most`` kept."""
    import pandas as pd

    columns = {
        field: list(chain.from_iterable(getattr(page, field) for page in pages)) for field in FIELDS
    }
    ids = columns["ids"]
    if len(set(ids)) < len(ids):
        first: dict[str, int] = {}
        keep = [i for i, key in enumerate(ids) if first.setdefault(key, i) == i]
        columns = {field: [values[i] for i in keep] for field, values in columns.items()}
    if most is not None:
        columns = {field: values[:most] for field, values in columns.items()}
    frame: pd.DataFrame = pd.DataFrame(
        {
            "id": _strings(columns["ids"]),
            "ts": _utc(columns["stamps"]),
            "username": _strings(columns["usernames"]),
            "text": _strings(columns["texts"]),
            "thread_id": _strings(columns["threads"]),
            "attachments": pd.array(columns["attachments"], "int64"),
        }
    )
    return frame


def _strings(values: list[Any]) -> Any:
    """Text in pandas 3's default string dtype ("str": missing as NaN, anything else as its
    text) even when no value is there, so every table has the same dtypes. Under pandas 2,
    whose "str" would turn None into 'None', Python objects."""
    import pandas as pd

    return pd.array(values, dtype="str") if int(pd.__version__.split(".")[0]) >= 3 else values


def _utc(values: list[Any]) -> Any:
    """ISO 8601 strings as timezone-aware UTC times; anything else becomes NaT."""
    import pandas as pd

    texts: Any = [value if type(value) is str else None for value in values]
    return pd.to_datetime(texts, utc=True, format="ISO8601", errors="coerce")


# -- the arguments of messages() ---------------------------------------------------------------


def limit_of(limit: Any) -> int | None:
    """``limit=`` as a number of messages (None: all)."""
    if limit is None:
        return None
    try:
        most = operator.index(limit)
    except TypeError:
        most = -1
    if isinstance(limit, bool) or most < 0:
        raise UsageError(
            f"limit= takes a whole number of messages (0 or more), not {limit!r}; "
            "None reads them all.",
            service="rocketchat",
        )
    return most


def max_wait_of(max_wait: Any) -> float | None:
    """``max_wait=`` as seconds (None: no bound)."""
    if max_wait is None:
        return None
    number = isinstance(max_wait, (int, float)) and not isinstance(max_wait, bool)
    if number and 0 <= max_wait < float("inf"):
        return float(max_wait)
    raise UsageError(
        f"max_wait= takes the seconds (0 or more) to wait for Rocket.Chat's rate limit at most, "
        f"not {max_wait!r}; None waits as long as the server asks.",
        service="rocketchat",
    )


def window_of(oldest: Any, latest: Any) -> dict[str, str]:
    """``oldest``/``latest`` as Rocket.Chat's query parameters, both bounds included."""
    bounds = {"oldest": _instant(oldest, "oldest"), "latest": _instant(latest, "latest")}
    start, end = bounds["oldest"], bounds["latest"]
    if start is not None and end is not None and start > end:
        raise UsageError(
            f"oldest= ({start.isoformat()}) is after latest= ({end.isoformat()}).",
            service="rocketchat",
        )
    params = {
        key: moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        for key, moment in bounds.items()
        if moment is not None
    }
    return {**params, "inclusive": "true"} if params else {}


def _instant(value: Any, name: str) -> pd.Timestamp | None:
    """A datetime, date or ISO 8601 string as a UTC Timestamp; naive means UTC."""
    if value is None:
        return None
    import pandas as pd

    stamp = None
    if isinstance(value, str):  # garbled text is named, not repeated
        _checks.text(value, name, title="Rocket.Chat", service="rocketchat")
    if isinstance(value, (str, date)):
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError):
            stamp = None
    if stamp is None or pd.isna(stamp):
        raise UsageError(
            f"{name}= takes a datetime or an ISO 8601 string such as '2024-03-04T09:00:00Z', "
            f"not {value!r}.",
            service="rocketchat",
        )
    if stamp.tzinfo is None:
        naive: pd.Timestamp = stamp.tz_localize("UTC")
        return naive
    aware: pd.Timestamp = stamp.tz_convert("UTC")
    return aware
