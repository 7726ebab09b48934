"""Rocket.Chat as data: ``s.rooms()`` and ``s.messages("general")`` as DataFrames.

A history is read the way Rocket.Chat pages it: ``offset``/``count``, at most 100 a page,
newest first, and the first short page is the end; from ``channels.history``,
``groups.history`` or ``im.history`` by the room's type. Across a network a long history is
not read one page after the other: the room's message count (``msgs``) says which pages there
are, so after the first page the others are asked for at once, on a few threads sharing the
kernel's HTTP client (one request per page, as a loop would send, without waiting for each
answer). A message posted meanwhile shifts the pages by one, so rows are kept once per
message id, and pages continue one by one while they come back full. On loopback, where
nothing is waited for, pages come one by one. The tables are built in rocketchat_tables.py.
"""

from __future__ import annotations

import difflib
import gc
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .. import _redact
from .. import progress as _progress
from .._session import Session
from ..errors import AccessDenied, NbAuthError, NotFound, ServiceError, UsageError
from ..services.base import Call, Flow, parsed, text_or_none
from .rocketchat_tables import KINDS, Columns, Room, limit_of, message_frame, room_frame, window_of

if TYPE_CHECKING:
    import httpx
    import pandas as pd

__all__ = ["RocketChatSession"]

#: Rocket.Chat's API_Upper_Count_Limit: a larger ``count`` is cut to it.
PAGE = 100
#: The most pages in flight at once: enough to hide a network's round trips.
WORKERS = 8
#: A Meteor id, or a direct message's (its two members' ids).
ROOM_ID = re.compile(r"(?:[23456789A-HJ-NP-Za-km-z]{17}){1,2}")
#: What Rocket.Chat's rooms.info answers for a room the user may not read.
NOT_ALLOWED = frozenset({"not-allowed", "Not Allowed", "error-not-allowed"})
#: A room list longer than this is not spelled out in a NotFound message.
LISTED = 15


class RocketChatSession(Session):
    """A Rocket.Chat session with its rooms and their messages as tables."""

    data_calls = ("rooms", "messages")
    #: The rooms last listed: ``messages("general")`` finds its room without listing again.
    _listed: tuple[Room, ...] | None = None

    def rooms(self) -> pd.DataFrame:
        """The rooms this user is in: id, name, type ("channel", "private" or "direct"),
        messages, users and last_message (UTC), the most recently active first.

        A direct message is named after the other person (its ``@name`` in ``messages()``).
        """
        return room_frame(self._list_rooms())

    def messages(
        self,
        room: str,
        oldest: str | date | None = None,
        latest: str | date | None = None,
        limit: int | None = None,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """A room's messages, newest first (Rocket.Chat's order): id, ts (UTC), username,
        text, thread_id (the thread a reply belongs to) and attachments (how many).

        ``room`` is a name (``"general"``, ``"#general"``), ``"@dave"`` for the direct
        messages with dave, or a room id; a public channel this user has not joined works
        too. ``oldest``/``latest`` keep the messages between them, both included: datetimes
        (a naive one is read as UTC) or ISO 8601 strings. ``limit`` keeps the newest
        ``limit`` messages and fetches no more pages than those need. ``progress`` shows a
        bar (tqdm); by default only in a notebook, and only for more than one page.
        """
        window = window_of(oldest, latest)
        most = limit_of(limit)
        found = self._resolve(room)
        if most == 0:
            return message_frame([], None)
        params = {"roomId": found.id, "showThreadMessages": "true", **window}
        # Inside a window the count is unknown: the room's total would overshoot.
        known = None if window else found.messages
        expected = known if most is None or known is None else min(known, most)
        if progress is None and expected is not None and expected <= PAGE:
            progress = False  # one page: nothing to watch
        bar = _progress.bar(expected, progress, found.label, "msg")
        try:
            with _collector_paused():
                return message_frame(self._history(found, params, known, most, bar), most)
        finally:
            if bar is not None:
                bar.close()

    # -- finding the room -------------------------------------------------------------

    def _list_rooms(self) -> tuple[Room, ...]:
        rooms: tuple[Room, ...] = self._run(self._rooms_flow())
        self._listed = rooms
        return rooms

    def _resolve(self, reference: str) -> Room:
        """The room ``reference`` names: among the listed rooms (listed again once if it is
        not there, in case it is new), else as the server's rooms.info finds it."""
        if not isinstance(reference, str) or not reference.strip().lstrip("#@"):
            raise UsageError(
                "messages() needs a room: a name ('general', '#general'), '@username' for "
                "direct messages, or a room id. s.rooms() lists them.",
                service=self.service,
            )
        text = reference.strip()
        prefix, name = (text[0], text[1:]) if text[0] in "#@" else ("", text)
        fresh = self._listed is None
        rooms = self._list_rooms() if self._listed is None else self._listed
        found = _match(rooms, name, prefix)
        if found is None and not fresh:
            rooms = self._list_rooms()
            found = _match(rooms, name, prefix)
        if found is not None:
            return found
        if prefix == "@":
            raise self._not_found(name, rooms, None, direct=True)
        info: Room = self._run(self._room_info_flow(name, rooms))
        return info

    def _not_found(
        self, name: str, rooms: Sequence[Room], status: int | None, direct: bool = False
    ) -> NbAuthError:
        who = self.username or "this user"
        what = f"no direct messages with '{name}'" if direct else f"no room '{name}'"
        close = difflib.get_close_matches(name, [room.name for room in rooms], n=3)
        if close:
            hint = "Did you mean " + " or ".join(f"'{n}'" for n in close) + "?"
        elif rooms and len(rooms) <= LISTED:
            hint = f"{who}'s rooms: " + ", ".join(room.label for room in rooms) + "."
        else:
            hint = "s.rooms() lists the rooms."
        # The name is the caller's, echoed: a token pasted there by mistake is masked.
        text = _redact.mask(f"{what} that {who} can read. {hint}", [self.token.reveal()])
        return self._service.fail(NotFound, "messages", status, text)

    # -- flows --------------------------------------------------------------------------

    def _get(self, endpoint: str, params: dict[str, str], what: str) -> Flow[httpx.Response]:
        """``GET /api/v1/<endpoint>``. A refused token or permission ends here; every other
        answer goes back to the caller."""
        # The query encoded here, not by httpx: merging params re-parses the URL, which is a
        # fifth of the client's time per page of a long history.
        query = f"?{urlencode(params)}" if params else ""
        call = Call("GET", f"{self.url}/api/v1/{endpoint}{query}", self._service.auth_headers(self))
        response = yield call
        if response.status_code == 401:
            raise self._service.expired(self, what, 401)
        if response.status_code == 403:
            raise self._service.fail(
                AccessDenied,
                what,
                403,
                f"this user may not read it{self._service.server_says(response)}. A server "
                "administrator grants the permission.",
            )
        return response

    def _rooms_flow(self) -> Flow[tuple[Room, ...]]:
        answer = yield from self._get("rooms.get", {}, "room list")
        rooms = self._items(answer, "update", "room list")
        answer = yield from self._get("subscriptions.get", {}, "room list")
        names = {
            sub.get("rid"): text_or_none(sub.get("name"))
            for sub in self._items(answer, "update", "room list")
        }
        described = (self._room(item, names.get(item.get("_id"))) for item in rooms)
        return tuple(room for room in described if room is not None)

    def _room_info_flow(self, name: str, rooms: Sequence[Room]) -> Flow[Room]:
        """A room the user's list lacks: a public channel not joined, or a refusal that says
        whether the room is missing or closed to this user (Rocket.Chat's history routes do
        not tell those apart)."""
        key = "roomId" if ROOM_ID.fullmatch(name) else "roomName"
        response = yield from self._get("rooms.info", {key: name}, "messages")
        if response.status_code == 400:
            codes = _error_codes(response)
            if "error-room-not-found" in codes:
                raise self._not_found(name, rooms, 400)
            if codes & NOT_ALLOWED:
                raise self._service.fail(
                    AccessDenied,
                    "messages",
                    400,
                    f"'{name}' is a private room {self.username or 'this user'} is not in. "
                    "Ask one of its members to add you.",
                )
        body = self._service.json_body(response, "messages").get("room")
        room = self._room(body, None) if isinstance(body, dict) else None
        if room is None or room.kind not in KINDS:
            raise self._service.fail(
                ServiceError,
                "messages",
                response.status_code,
                f"'{name}' is not a channel, private group or direct message nbauth can read.",
            )
        return room

    def _page_flow(self, room: Room, params: dict[str, str]) -> Flow[Columns]:
        response = yield from self._get(f"{KINDS[room.kind][0]}.history", params, "messages")
        if response.status_code == 400 and "error-room-not-found" in _error_codes(response):
            raise self._service.fail(
                NotFound,
                "messages",
                400,
                f"the room {room.label} is gone, or {self.username or 'this user'} left it. "
                "s.rooms() lists the rooms now.",
            )
        messages = self._service.json_body(response, "messages").get("messages")
        if not isinstance(messages, list):
            raise self._service.fail(
                ServiceError,
                "messages",
                response.status_code,
                "the answer has no message list. Check that the URL points to the Rocket.Chat API.",
            )
        return Columns.of(messages)

    def _items(self, response: httpx.Response, key: str, what: str) -> list[dict[str, Any]]:
        items = self._service.json_body(response, what).get(key)
        return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []

    def _room(self, item: dict[str, Any], subscribed_as: str | None) -> Room | None:
        room_id, kind = text_or_none(item.get("_id")), text_or_none(item.get("t"))
        if room_id is None or kind is None:
            return None
        if kind == "d":
            members = item.get("usernames")
            others = [n for n in members if n != self.username] if isinstance(members, list) else []
            name = subscribed_as or ", ".join(map(str, others)) or self.username or room_id
        else:
            name = text_or_none(item.get("name")) or subscribed_as or room_id
        last = item.get("lastMessage")
        return Room(
            id=room_id,
            name=name,
            kind=kind,
            messages=_count(item.get("msgs")),
            users=_count(item.get("usersCount")),
            last_message=text_or_none(item.get("lm"))
            or (text_or_none(last.get("ts")) if isinstance(last, dict) else None),
        )

    # -- paging -----------------------------------------------------------------------

    def _history(
        self, room: Room, params: dict[str, str], known: int | None, most: int | None, bar: Any
    ) -> list[Columns]:
        """The pages a page-by-page loop reads, up to the first short one.

        The first page comes alone, and is timed (``_in_flight``): over a network, the pages
        the room's count implies are then asked for at once; on loopback, one by one. After
        those (or without a count) pages come one by one while they come back full: a message
        posted meanwhile makes one more."""
        pages: list[Columns] = []

        def ended(plan: list[tuple[int, int]], in_flight: int) -> bool:
            if not plan:  # the limit is reached
                return True
            got = self._pages(room, params, plan, in_flight, bar)
            for (_, count), page in zip(plan, got, strict=True):
                pages.append(page)
                if page.received < count:
                    return True
            return False

        started, spent = time.perf_counter(), time.thread_time()
        if ended(_plan(0, 1, most), 1):
            return pages
        in_flight = _in_flight(time.perf_counter() - started, time.thread_time() - spent)
        offset = PAGE
        if in_flight > 1 and known is not None and known >= offset:
            plan = _plan(offset, (known - offset) // PAGE + 1, most)
            if ended(plan, in_flight):
                return pages
            offset += len(plan) * PAGE
        while plan := _plan(offset, 1, most):
            if ended(plan, 1):
                break
            offset += PAGE
        return pages

    def _pages(
        self,
        room: Room,
        params: dict[str, str],
        plan: list[tuple[int, int]],
        in_flight: int,
        bar: Any,
    ) -> list[Columns]:
        """The pages of ``plan`` in its order, ``in_flight`` requests at a time on threads
        that share the kernel's HTTP client. The bar moves on the caller's thread: a
        notebook's widget is not to be touched from others."""

        def page(step: tuple[int, int]) -> Columns:
            start, count = step
            flow = self._page_flow(room, {**params, "offset": str(start), "count": str(count)})
            got: Columns = self._run(flow)
            return got

        def shown(got: Columns) -> Columns:
            if bar is not None:
                bar.update(got.received)
            return got

        if len(plan) == 1:
            return [shown(page(plan[0]))]
        pool = ThreadPoolExecutor(min(in_flight, len(plan)), "nbauth-messages")
        try:
            return [shown(got) for got in pool.map(page, plan)]
        finally:
            # After a failure or an interrupt, the pages not asked for yet are not.
            pool.shutdown(wait=False, cancel_futures=True)


def _match(rooms: Iterable[Room], name: str, prefix: str) -> Room | None:
    """By id, else by name: a bare name means a channel or group before a direct message
    (``@name`` asks for the direct message, ``#name`` never takes one)."""
    rooms = list(rooms)
    if not prefix:
        by_id = next((room for room in rooms if room.id == name), None)
        if by_id is not None:
            return by_id
    named = [room for room in rooms if room.name == name]
    if prefix == "@":
        named = [room for room in named if room.kind == "d"]
    elif prefix == "#":
        named = [room for room in named if room.kind != "d"]
    named.sort(key=lambda room: room.kind == "d")
    return named[0] if named else None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a history is read. Parsed JSON holds no
    cycles, so it has nothing to free, but each full collection walks every object alive: a
    history of 50,000 messages is some 600,000 of them, and the walks would make a message's
    cost grow with the history's length. A collector someone else turned off stays off."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _in_flight(wall: float, cpu: float) -> int:
    """How many requests to keep in flight, from the first page: WORKERS when its round trip
    took more than twice the time this thread spent on it (a server across a network: pages
    then overlap their waits), else one. On loopback the answer is back about as soon as the
    last one is read, and threads would only add their own cost (a quarter more CPU, measured
    against the sandbox)."""
    return WORKERS if wall > 2 * cpu else 1


def _plan(offset: int, pages: int, most: int | None) -> list[tuple[int, int]]:
    """(offset, count) of ``pages`` pages from ``offset``, none past the ``most`` wanted."""
    plan = []
    for start in range(offset, offset + pages * PAGE, PAGE):
        count = PAGE if most is None else min(PAGE, most - start)
        if count <= 0:
            break
        plan.append((start, count))
    return plan


def _error_codes(response: httpx.Response) -> set[str]:
    """The error codes of a Rocket.Chat failure: ``errorType``, ``error`` and the code in
    brackets at the end of the error text (``... [error-room-not-found]``)."""
    body = parsed(response)
    if not isinstance(body, dict):
        return set()
    codes = {code for code in (body.get("errorType"), body.get("error")) if isinstance(code, str)}
    codes.update(re.findall(r"\[([\w-]+)\]", str(body.get("error", ""))))
    return codes


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
