"""Rocket.Chat's JSON for rooms, subscriptions and messages, and its paging rules.

Kept apart from the login emulation (rocketchat.py) because it is pure data shaping: seed rooms
in, the documented REST shapes out (`_id, rid, msg, ts, u{...}`; `offset`/`count` with count
50 by default, capped at 100, 0 meaning all; `oldest`/`latest` as ISO dates).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from starlette.datastructures import QueryParams

from nbauth.sandbox.seed import Message, Room, User, stable_id

DEFAULT_COUNT = 50
MAX_COUNT = 100
ROOM_KINDS = {"channels": "c", "groups": "p", "im": "d", "dm": "d"}

Item = TypeVar("Item")


def iso(moment: datetime) -> str:
    """Rocket.Chat's date format: ISO 8601 in UTC with milliseconds and a Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class Page:
    """The `offset` and `count` a request asked for, after Rocket.Chat's defaults and cap."""

    offset: int
    count: int

    @classmethod
    def of(cls, query: QueryParams) -> Page:
        offset = _int(query.get("offset"), 0)
        count = min(_int(query.get("count"), DEFAULT_COUNT), MAX_COUNT)
        return cls(max(offset, 0), max(count, 0))

    def slice(self, items: Sequence[Item]) -> list[Item]:
        end = None if self.count == 0 else self.offset + self.count
        return list(items[self.offset : end])


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def messages_between(room: Room, query: QueryParams) -> list[Message]:
    """The room's messages inside `oldest`/`latest` (exclusive unless `inclusive=true`)."""
    oldest, latest = parse_iso(query.get("oldest")), parse_iso(query.get("latest"))
    inclusive = query.get("inclusive", "").lower() == "true"

    def inside(message: Message) -> bool:
        after = oldest is None or message.ts > oldest or (inclusive and message.ts == oldest)
        before = latest is None or message.ts < latest or (inclusive and message.ts == latest)
        return after and before

    return [message for message in room.messages if inside(message)]


def newest_first(query: QueryParams) -> bool:
    """`sort={"ts": 1}` asks for oldest first; everything else is newest first."""
    try:
        sort = json.loads(query.get("sort") or "{}")
    except ValueError:
        return True
    return not (isinstance(sort, dict) and sort.get("ts") == 1)


def user_ref(user: User) -> dict[str, str]:
    return {"_id": user.user_id, "username": user.username, "name": user.name}


def message_json(message: Message, room: Room, users: Mapping[str, User]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "_id": message.id,
        "rid": room.id,
        "msg": message.text,
        "ts": iso(message.ts),
        "u": user_ref(users[message.username]),
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
        "usersCount": len(room.members),
        "ts": created,
        "lm": updated,
        "_updatedAt": updated,
    }
    if room.kind == "d":
        body["usernames"] = list(room.members)
        body["uids"] = [users[name].user_id for name in room.members]
    else:
        owner = users[room.members[0]]
        body.update(
            name=room.name,
            fname=room.name,
            u={"_id": owner.user_id, "username": owner.username},
            topic=room.topic,
            ro=False,
            sysMes=True,
            default=room.name == "general",
        )
    return body


def subscription_json(room: Room, user: User, users: Mapping[str, User]) -> dict[str, Any]:
    others = [name for name in room.members if name != user.username]
    name = others[0] if room.kind == "d" and others else room.name
    updated = iso(room.messages[-1].ts) if room.messages else None
    return {
        "_id": stable_id(f"subscription:{room.id}:{user.user_id}"),
        "rid": room.id,
        "name": name,
        "fname": users[name].name if room.kind == "d" else name,
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
