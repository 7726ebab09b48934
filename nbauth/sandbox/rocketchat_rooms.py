"""Rocket.Chat's JSON for rooms, subscriptions and messages, and its paging rules.

Kept apart from the login emulation (rocketchat.py) because it is pure data shaping: seed rooms
in, the documented REST shapes out (`_id, rid, msg, ts, u{...}`; `offset`/`count` with count
50 by default, capped at 100, 0 meaning all; `oldest`/`latest` as ISO dates). Each room's
messages are encoded once (`Wire`), so paging a room of 50,000 stays as cheap as paging ten.
The paging settings (the cap, the default count, whether 0 means all) are knobs: an admin sets
them on a real server.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from starlette.datastructures import QueryParams

from nbauth.sandbox.common import Knobs
from nbauth.sandbox.seed import Message, Room, User, stable_id

ROOM_KINDS = {"channels": "c", "groups": "p", "im": "d", "dm": "d"}

Item = TypeVar("Item")


def iso(moment: datetime) -> str:
    """Rocket.Chat's date format: ISO 8601 in UTC with milliseconds and a Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str | None) -> datetime | None:
    """An ISO 8601 date; one without an offset is UTC, as on a server whose clock runs on UTC."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Page:
    """The `offset` and `count` a request asked for, after Rocket.Chat's defaults and cap."""

    offset: int
    count: int

    @classmethod
    def of(cls, query: QueryParams, knobs: Knobs) -> Page:
        """As getPaginationItems reads them: no count is API_Default_Count, a larger one is
        cut to API_Upper_Count_Limit, and 0 means all only with API_Allow_Infinite_Count."""
        offset = _int(query.get("offset"), 0)
        count = min(_int(query.get("count"), knobs.default_count), knobs.page_cap)
        if count == 0 and not knobs.infinite_count:
            count = knobs.default_count
        return cls(max(offset, 0), max(count, 0))

    @classmethod
    def of_groups(cls, query: QueryParams) -> Page:
        """As groups.history reads them, without getPaginationItems: no count is 20, and any
        count goes through uncut, 0 meaning all (groups.ts)."""
        offset = _int(query.get("offset"), 0)
        count = _int(query.get("count"), 20) if query.get("count") else 20
        return cls(max(offset, 0), max(count, 0))

    def slice(self, items: Sequence[Item]) -> list[Item]:
        end = None if self.count == 0 else self.offset + self.count
        return list(items[self.offset : end])


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


class Timeline:
    """Messages oldest first, each one's JSON encoded once, and their times for bisecting.

    A history page of a 50,000-message room then costs two bisections and a slice, not a pass
    over the room: the sandbox must not be what a benchmark of the client measures.
    """

    def __init__(self, stamps: list[datetime], parts: list[bytes]) -> None:
        self.stamps = stamps
        self.parts = parts

    def window(self, query: QueryParams) -> tuple[int, int]:
        """The index range inside `oldest`/`latest` (exclusive unless `inclusive=true`)."""
        oldest, latest = parse_iso(query.get("oldest")), parse_iso(query.get("latest"))
        inclusive = query.get("inclusive", "").lower() == "true"
        low, high = 0, len(self.stamps)
        if oldest is not None:
            low = (bisect_left if inclusive else bisect_right)(self.stamps, oldest)
        if latest is not None:
            high = (bisect_right if inclusive else bisect_left)(self.stamps, latest)
        return low, max(low, high)

    def page(self, low: int, high: int, page: Page, newest: bool) -> list[bytes]:
        """One page of the window ``[low, high)``, newest first when ``newest``."""
        start = min(page.offset, high - low)
        end = high - low if page.count == 0 else min(high - low, page.offset + page.count)
        if newest:
            return self.parts[high - end : high - start][::-1]
        return self.parts[low + start : low + end]


@dataclass(frozen=True)
class Wire:
    """A room as the message routes send it: every message, and (for `*.history` without
    `showThreadMessages=true`, as Rocket.Chat's getChannelHistory does) no thread replies."""

    every: Timeline
    main: Timeline

    @classmethod
    def of(cls, room: Room, users: Mapping[str, User]) -> Wire:
        parts = [_encode(message_json(m, room, users)) for m in room.messages]
        stamps = [m.ts for m in room.messages]
        main = [i for i, m in enumerate(room.messages) if not m.thread_id]
        return cls(
            Timeline(stamps, parts),
            Timeline([stamps[i] for i in main], [parts[i] for i in main]),
        )


def _encode(body: Mapping[str, Any]) -> bytes:
    """JSON as Starlette's JSONResponse writes it."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def messages_body(parts: list[bytes], extra: Mapping[str, Any]) -> bytes:
    """`{"messages": [...], **extra, "success": true}` from messages encoded already."""
    tail = _encode({**extra, "success": True})[1:]
    return b'{"messages":[' + b",".join(parts) + b"]," + tail


def newest_first(query: QueryParams) -> bool:
    """`sort={"ts": 1}` asks for oldest first; everything else is newest first."""
    try:
        sort = json.loads(query.get("sort") or "{}")
    except ValueError:
        return True
    return not (isinstance(sort, dict) and sort.get("ts") == 1)


def user_ref(username: str, room: Room, users: Mapping[str, User]) -> dict[str, str]:
    """The author as a message names them; a livechat visitor is no user."""
    user = users.get(username)
    if user is None:
        return {
            "_id": stable_id(f"visitor:{username}"),
            "username": username,
            "name": room.fname or username,
        }
    return {"_id": user.user_id, "username": user.username, "name": user.name}


def message_json(message: Message, room: Room, users: Mapping[str, User]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "_id": message.id,
        "rid": room.id,
        "msg": message.text,
        "ts": iso(message.ts),
        "u": user_ref(message.username, room, users),
        "_updatedAt": iso(message.ts),
        "mentions": [],
        "channels": [],
    }
    if message.thread_id:
        body["tmid"] = message.thread_id
    if message.attachment:
        link = f"/file-upload/{stable_id('file:' + message.id)}/{message.attachment}"
        body["msg"] = ""
        body["attachments"] = [
            {
                "type": "file",
                "title": message.attachment,
                "title_link": link,
                "title_link_download": True,
                "image_type": "image/png",
            }
        ]
    return body


def room_json(room: Room, users: Mapping[str, User]) -> dict[str, Any]:
    created = iso(room.messages[0].ts) if room.messages else None
    updated = iso(room.messages[-1].ts) if room.messages else created
    body: dict[str, Any] = {
        "_id": room.id,
        "t": room.kind,
        "msgs": len(room.messages),
        "usersCount": len(room.readers),
        "ts": created,
        "lm": updated,
        "_updatedAt": updated,
    }
    if room.kind == "d":
        body["usernames"] = list(room.members)
        body["uids"] = [users[name].user_id for name in room.members]
    elif room.kind == "l":
        agent = users[room.readers[0]]
        visitor = user_ref(room.members[0], room, users)
        body.update(
            name=room.name,
            fname=room.fname,
            v={"_id": visitor["_id"], "username": visitor["username"], "status": "online"},
            servedBy={"_id": agent.user_id, "username": agent.username, "ts": created},
            open=True,
        )
    else:
        owner = users[room.members[0]]
        body.update(
            name=room.name,
            fname=room.fname or room.name,
            u={"_id": owner.user_id, "username": owner.username},
            topic=room.topic,
            ro=False,
            sysMes=True,
            default=room.name == "general",
        )
        if room.parent:
            body["prid"] = room.parent
    return body


def subscription_json(room: Room, user: User, users: Mapping[str, User]) -> dict[str, Any]:
    others = [name for name in room.members if name != user.username]
    name = others[0] if room.kind == "d" and others else room.name
    fname = users[name].name if room.kind == "d" else room.fname or name
    updated = iso(room.messages[-1].ts) if room.messages else None
    parent = {"prid": room.parent} if room.parent else {}
    return {
        "_id": stable_id(f"subscription:{room.id}:{user.user_id}"),
        "rid": room.id,
        "name": name,
        "fname": fname,
        **parent,
        "t": room.kind,
        "u": {"_id": user.user_id, "username": user.username},
        "open": True,
        "alert": False,
        "unread": 0,
        "userMentions": 0,
        "groupMentions": 0,
        "ls": updated,
        "ts": iso(room.messages[0].ts) if room.messages else None,
        "_updatedAt": updated,
    }
