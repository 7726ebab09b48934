"""Rocket.Chat as data: ``s.rooms()`` and ``s.messages("general")`` as DataFrames.

A history comes from ``channels.history``, ``groups.history`` or ``im.history`` by the room's
type (livechat rooms through the channel route), newest first, in as few requests as the
server allows: usually one (``count=0``), else pages whose size the server decides
(rocketchat_paging.py says how that is found out). Ordinary users are rate limited on every
route, so each call keeps to the pace the server's X-RateLimit headers ask for and waits for
the window to reset rather than failing; the waits show on the progress bar.

Users who bypass the limit (admins) on a server that refuses ``count=0`` get pages of 100;
across a network those are not read one after the other: the room's message count (``msgs``)
says which pages there are, so after the first page the others are asked for at once, on a
few threads sharing the kernel's HTTP client. A message posted meanwhile shifts the pages by
one, so rows are kept once per message id. On loopback, where nothing is waited for, pages
come one by one. The tables are built in rocketchat_tables.py.
"""

from __future__ import annotations

import difflib
import gc
import re
import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .. import _checks, _redact
from .. import progress as _progress
from .._bounded import AnswerTooLarge
from .._calls import Call, Flow
from .._session import Session
from ..errors import AccessDenied, NbAuthError, NotFound, RateLimited, ServiceError, UsageError
from ..services.answers import expired, fail, json_body, server_says, text_or_none
from ..services.rocketchat import error_codes
from .rocketchat_paging import PAGE, Pacer, Paging, RateLimits
from .rocketchat_tables import (
    KINDS,
    Columns,
    Room,
    limit_of,
    max_wait_of,
    message_frame,
    room_frame,
    window_of,
)

if TYPE_CHECKING:
    import httpx
    import pandas as pd

__all__ = ["RocketChatSession"]

#: The most pages in flight at once: enough to hide a network's round trips.
WORKERS = 8
#: How long one data call may wait, in all, for the rate limit by default (seconds).
MAX_WAIT = 300.0
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: What the server said of its rate limit, per route: its windows outlive one call.
        self._limits = RateLimits()

    def rooms(self) -> pd.DataFrame:
        """The rooms this user is in: id, name, type ("channel", "private", "direct",
        "livechat"), messages, users and last_message (UTC), the most recently active first.

        A direct message is named after the other person (its ``@name`` in ``messages()``); a
        discussion or group by its readable name (``fname``).
        """
        return room_frame(self._list_rooms(self._pacer(MAX_WAIT)))

    def messages(
        self,
        room: str,
        oldest: str | date | None = None,
        latest: str | date | None = None,
        limit: int | None = None,
        progress: bool | None = None,
        max_wait: float | None = MAX_WAIT,
    ) -> pd.DataFrame:
        """A room's messages, newest first (Rocket.Chat's order): id, ts (UTC), username,
        text, thread_id (the thread a reply belongs to) and attachments (how many).

        ``room`` is a name (``"general"``, ``"#general"``, a discussion's title or its
        ``name``), ``"@dave"`` for the direct messages with dave, or a room id; a public
        channel this user has not joined works too. ``oldest``/``latest`` keep the messages
        between them, both included: datetimes (a naive one is read as UTC) or ISO 8601
        strings. ``limit`` keeps the newest ``limit`` messages and fetches no more than those
        need. ``progress`` shows a bar (tqdm); by default only in a notebook, and only for
        more than one page. The server's rate limit is waited for, at most ``max_wait``
        seconds in all (None: as long as it asks); past that, ``RateLimited`` is raised with
        the rows read so far in its ``partial``.
        """
        window = window_of(oldest, latest)
        most = limit_of(limit)
        pacer = self._pacer(max_wait_of(max_wait))
        found = self._resolve(room, pacer)
        if most == 0:
            return message_frame([], None)
        params = {"roomId": found.id, "showThreadMessages": "true", **window}
        # Inside a window the count is unknown: the room's total would overshoot.
        known = None if window else found.messages
        expected = known if most is None or known is None else min(known, most)
        if progress is None and expected is not None and expected <= PAGE:
            progress = False  # one page: nothing to watch
        pacer.bar = _progress.bar(expected, progress, found.label, "msg")
        pages: list[Columns] = []
        try:
            with _collector_paused():
                self._history(found, params, Paging(most, known), pacer, pages)
        except RateLimited as exc:
            exc.partial = message_frame(pages, most)
            raise
        finally:
            if pacer.bar is not None:
                pacer.bar.close()
        return message_frame(pages, most)

    # -- finding the room -------------------------------------------------------------

    def _pacer(self, max_wait: float | None) -> Pacer:
        return Pacer(self._limits, self.title, max_wait)

    def _list_rooms(self, pacer: Pacer) -> tuple[Room, ...]:
        rooms = self._items(self._fetch("rooms.get", {}, "room list", pacer), "room list")
        subscriptions = self._fetch("subscriptions.get", {}, "room list", pacer)
        names = {
            sub.get("rid"): (text_or_none(sub.get("name")), text_or_none(sub.get("fname")))
            for sub in self._items(subscriptions, "room list")
        }
        described = (self._room(item, *names.get(item.get("_id"), (None, None))) for item in rooms)
        self._listed = tuple(room for room in described if room is not None)
        return self._listed

    def _resolve(self, reference: str, pacer: Pacer) -> Room:
        """The room ``reference`` names: among the listed rooms (listed again once if it is
        not there, in case it is new), else as the server's rooms.info finds it."""
        if not isinstance(reference, str) or not reference.strip().lstrip("#@"):
            raise UsageError(
                "messages() needs a room: a name ('general', '#general'), '@username' for "
                "direct messages, or a room id. s.rooms() lists them.",
                service=self.service,
            )
        _checks.text(reference, "room", title=self.title, service=self.service)
        text = reference.strip()
        prefix, name = (text[0], text[1:]) if text[0] in "#@" else ("", text)
        fresh = self._listed is None
        rooms = self._list_rooms(pacer) if self._listed is None else self._listed
        found = _match(rooms, name, prefix)
        if found is None and not fresh:
            rooms = self._list_rooms(pacer)
            found = _match(rooms, name, prefix)
        if found is not None:
            return found
        if prefix == "@":
            raise self._not_found(name, rooms, None, direct=True)
        return self._room_info(name, rooms, pacer)

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
        return fail(self._service, NotFound, "messages", status, text)

    def _room_info(self, name: str, rooms: Sequence[Room], pacer: Pacer) -> Room:
        """A room the user's list lacks: a public channel not joined, or a refusal that says
        whether the room is missing or closed to this user (Rocket.Chat's history routes do
        not tell those apart)."""
        key = "roomId" if ROOM_ID.fullmatch(name) else "roomName"
        response = self._fetch("rooms.info", {key: name}, "messages", pacer)
        if response.status_code == 400:
            codes = error_codes(response)
            if "error-room-not-found" in codes:
                raise self._not_found(name, rooms, 400)
            if codes & NOT_ALLOWED:
                raise fail(
                    self._service,
                    AccessDenied,
                    "messages",
                    400,
                    f"'{name}' is a private room {self.username or 'this user'} is not in. "
                    "Ask one of its members to add you.",
                )
        body = json_body(self._service, response, "messages").get("room")
        room = self._room(body, None, None) if isinstance(body, dict) else None
        if room is None or room.kind not in KINDS:
            raise fail(
                self._service,
                ServiceError,
                "messages",
                response.status_code,
                f"'{name}' is not a channel, private group or direct message nbauth can read.",
            )
        return room

    def _room(self, item: dict[str, Any], subscribed: str | None, title: str | None) -> Room | None:
        """A room of rooms.get, named as a person reads it: the other person of a direct
        message (its subscription's name), else ``fname`` (a discussion's title, a livechat
        visitor's name), else ``name``; the other names stay as aliases."""
        room_id, kind = text_or_none(item.get("_id")), text_or_none(item.get("t"))
        if room_id is None or kind is None:
            return None
        if kind == "d":
            members = item.get("usernames")
            others = [n for n in members if n != self.username] if isinstance(members, list) else []
            names: list[str | None] = [
                subscribed or ", ".join(map(str, others)) or self.username or room_id
            ]
        else:
            names = [text_or_none(item.get("fname")), title, text_or_none(item.get("name"))]
            names += [subscribed, room_id]
        shown = next(name for name in names if name) or room_id
        last = item.get("lastMessage")
        return Room(
            id=room_id,
            name=shown,
            kind=kind,
            messages=_count(item.get("msgs")),
            users=_count(item.get("usersCount")),
            last_message=text_or_none(item.get("lm"))
            or (text_or_none(last.get("ts")) if isinstance(last, dict) else None),
            aliases=tuple(dict.fromkeys(n for n in names[1:-1] if n and n != shown)),
        )

    # -- calls --------------------------------------------------------------------------

    def _fetch(
        self,
        endpoint: str,
        params: dict[str, str],
        what: str,
        pacer: Pacer,
        again: bool = True,
        max_bytes: int | None = None,
    ) -> httpx.Response:
        """``GET /api/v1/<endpoint>`` at the pace the server's rate limit allows; after a 429
        that came all the same, sent again once the window resets (``again``), within the
        pacer's max_wait. ``max_bytes`` bounds the answer (None: a JSON answer's limit)."""
        while True:
            pacer.before(endpoint, what)
            try:
                flow = self._get(endpoint, params, what, max_bytes)
                response: httpx.Response = self._run(flow)
                return response
            except RateLimited as exc:
                if not again:
                    raise
                refusal = exc
            pacer.refused(refusal, what)  # outside the except: no chained 429 on a later error

    def _get(
        self, endpoint: str, params: dict[str, str], what: str, max_bytes: int | None = None
    ) -> Flow[httpx.Response]:
        """One GET. A refused token, permission or rate ends here; every other answer goes
        back to the caller."""
        # The query encoded here, not by httpx: merging params re-parses the URL, which is a
        # fifth of the client's time per page of a long history.
        query = f"?{urlencode(params)}" if params else ""
        url = f"{self.url}/api/v1/{endpoint}{query}"
        call = Call("GET", url, self._service.auth_headers(self), max_bytes=max_bytes)
        response = yield call
        self._limits.note(endpoint, response)
        if response.status_code == 401:
            raise expired(self._service, self, what, 401)
        if response.status_code == 403:
            raise fail(
                self._service,
                AccessDenied,
                what,
                403,
                f"this user may not read it{server_says(response)}. A server "
                "administrator grants the permission.",
            )
        if response.status_code == 429:
            json_body(self._service, response, what)  # raises RateLimited
        return response

    def _items(self, response: httpx.Response, what: str) -> list[dict[str, Any]]:
        items = json_body(self._service, response, what).get("update")
        return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []

    def _columns(self, room: Room, response: httpx.Response) -> Columns:
        """One history answer as columns."""
        if response.status_code == 400 and "error-room-not-found" in error_codes(response):
            raise fail(
                self._service,
                NotFound,
                "messages",
                400,
                f"the room {room.label} is gone, or {self.username or 'this user'} left it. "
                "s.rooms() lists the rooms now.",
            )
        messages = json_body(self._service, response, "messages").get("messages")
        if not isinstance(messages, list):
            raise fail(
                self._service,
                ServiceError,
                "messages",
                response.status_code,
                "the answer has no message list. Check that the URL points to the Rocket.Chat API.",
            )
        return Columns.of(messages)

    # -- paging -----------------------------------------------------------------------

    def _history(
        self, room: Room, params: dict[str, str], paging: Paging, pacer: Pacer, pages: list[Columns]
    ) -> None:
        """Read into ``pages`` until ``paging`` says the history has ended.

        The first request comes alone, and is timed (``_in_flight``): over a network, for a
        user the server does not rate limit, full pages the room's count implies are then
        asked for at once; otherwise one by one, each when the rate limit allows it."""
        route = f"{KINDS[room.kind][0]}.history"
        in_flight = 0  # not known before the first answer
        while not paging.done:
            parallel = 1 if self._limits.limited(route) else max(in_flight, 1)
            plan = paging.plan(parallel)
            started, spent = time.perf_counter(), time.thread_time()
            refusal = None
            try:
                pages_of_plan = self._pages(room, route, params, plan, parallel, pacer, paging)
                with closing(pages_of_plan) as got:
                    for (_, count), page in zip(plan, got, strict=False):
                        pages.append(page)
                        if pacer.bar is not None:
                            pacer.bar.update(page.received)
                        paging.took(count, page.received)
                        if paging.done:
                            break
            except RateLimited as exc:  # from a page read in parallel: retried one by one
                refusal = exc
            except AnswerTooLarge:
                if plan[0][1] != 0:
                    raise
                paging.whole = False  # the whole history is too large for one answer: pages
                continue
            if refusal is not None:
                pacer.refused(refusal, "messages")
            elif not in_flight:
                in_flight = _in_flight(time.perf_counter() - started, time.thread_time() - spent)

    def _pages(
        self,
        room: Room,
        route: str,
        params: dict[str, str],
        plan: list[tuple[int, int]],
        in_flight: int,
        pacer: Pacer,
        paging: Paging,
    ) -> Generator[Columns, None, None]:
        """The pages of ``plan`` in its order, ``in_flight`` requests at a time on threads
        that share the kernel's HTTP client. Waits for the rate limit and the progress bar
        stay on the caller's thread: a notebook's widget is not to be touched from others."""

        def page(step: tuple[int, int], again: bool = True) -> Columns:
            start, count = step
            query = {**params, "offset": str(start), "count": str(count)}
            most = paging.bound() if count == 0 else None
            answer = self._fetch(route, query, "messages", pacer, again, most)
            return self._columns(room, answer)

        if len(plan) == 1 or in_flight == 1:
            yield from map(page, plan)
            return
        pool = ThreadPoolExecutor(min(in_flight, len(plan)), "nbauth-messages")
        try:
            yield from pool.map(lambda step: page(step, again=False), plan)
        finally:
            # After a failure, an interrupt or the end, the pages not asked for yet are not.
            pool.shutdown(wait=False, cancel_futures=True)


def _match(rooms: Iterable[Room], name: str, prefix: str) -> Room | None:
    """By id, else by name, else by another of its names (a discussion's or group's
    ``name`` when its ``fname`` is shown): a bare name means a channel or group before a
    direct message (``@name`` asks for the direct message, ``#name`` never takes one)."""
    rooms = list(rooms)
    if not prefix:
        by_id = next((room for room in rooms if room.id == name), None)
        if by_id is not None:
            return by_id
    named = [room for room in rooms if room.name == name]
    if not named:
        named = [room for room in rooms if name in room.aliases]
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


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
