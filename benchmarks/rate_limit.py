"""A 5,000-message room read by an ordinary (rate-limited) Rocket.Chat user.

A real server limits every REST route to 10 calls per 60 s for users without
``api-bypass-rate-limit``; here the sandbox runs that limiter scaled down to 10 calls per 1 s.
dave (no admin role) reads the room with ``s.messages`` twice per round: once with the
limiter on, and once with it off, which gives the time of the same requests unhindered. The
least time the limiter allows for N history requests is the larger of that unhindered time and
(ceil(N / 10) - 1) windows: the last ten cannot start before the window they fall in opens.
Two servers: the default one, which answers ``count=0`` with the whole history, and one whose
admin refused it (``API_Allow_Infinite_Count`` off), where pages are at most 100.

Beside it, ``rocketchat-api``'s own paging (``channels_history(room, count=100, offset=0)``,
which pages until a short page) reads the same room as dave: it meets the limit at its 11th
page and raises.

Run: ``.venv/bin/python benchmarks/rate_limit.py`` starts a sandbox of its own.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

MESSAGES = 5_000
CALLS, WINDOW = 10, 1.0
ROUNDS = 3
HISTORY = "/api/v1/channels.historyget"


def limited_reads(
    base_url: str, password: str, control: httpx.Client, rounds: int = ROUNDS
) -> list[dict[str, Any]]:
    """One dict per server setting (count=0 allowed, refused): nbauth's median seconds with
    the limiter and without, its history requests, the 429s it met, the least time, and how
    far rocketchat-api got."""
    rows = []
    for infinite in (True, False):
        name = f"limited-{uuid.uuid4().hex[:8]}"

        def fresh(limited: bool, infinite: bool = infinite, name: str = name) -> str:
            """A fresh window (the sandbox's reset), the knobs, and the room: its id."""
            control.post(f"{base_url}/_sandbox/reset").raise_for_status()  # also drops rooms
            limit = {"rate_limit_calls": CALLS, "rate_limit_window": WINDOW} if limited else {}
            values = {"rate_limit_calls": None, "infinite_count": infinite, **limit}
            control.post(f"{base_url}/_sandbox/knobs", json=values).raise_for_status()
            answer = control.post(
                f"{base_url}/_sandbox/rooms",
                json={"name": name, "kind": "c", "members": ["alice", "dave"], "count": MESSAGES},
            )
            answer.raise_for_status()
            return str(answer.json()["id"])

        timed: dict[bool, list[float]] = {True: [], False: []}
        counted: list[int] = []
        refused: list[int] = []
        # A read of one request takes some 50 ms: more rounds, for a median that noise moves less.
        for r in range(rounds if not infinite else 3 * rounds):
            for limited in (True, False) if r % 2 == 0 else (False, True):
                fresh(limited)
                seconds, limits = _nbauth_read(base_url, password, control, name)
                timed[limited].append(seconds)
                if limited:
                    counted.append(limits["counted"].get(HISTORY, 0))
                    refused.append(sum(limits["refused"].values()))
        requests = max(counted)
        free = statistics.median(timed[False])
        least = max(free, (math.ceil(requests / CALLS) - 1) * WINDOW)
        theirs = _rocketchat_api_read(base_url, password, fresh(True))
        rows.append(
            {
                "count_0": infinite,
                "messages": MESSAGES,
                "requests": requests,
                "refused": max(refused),
                "seconds": statistics.median(timed[True]),
                "free_seconds": free,
                "least_seconds": least,
                "ratio": statistics.median(timed[True]) / least,
                "rocketchat_api": theirs,
            }
        )
    control.post(f"{base_url}/_sandbox/reset").raise_for_status()
    return rows


def _nbauth_read(
    base_url: str, password: str, control: httpx.Client, name: str
) -> tuple[float, dict[str, Any]]:
    """Seconds for dave's s.messages(name), which must hold every message, and what the
    limiter counted meanwhile."""
    import nbauth

    session = nbauth.login("rocketchat", url=base_url, username="dave", password=password)
    session.rooms()  # the room list: routes of their own, outside the figure
    started = time.perf_counter()
    frame = session.messages(name, progress=False)
    seconds = time.perf_counter() - started
    if len(frame) != MESSAGES or not frame["id"].is_unique:
        raise RuntimeError(f"nbauth read {len(frame)} of {MESSAGES} messages")
    limits = control.get(f"{base_url}/_sandbox/rate-limits").json()
    session.logout()
    return seconds, limits


def _rocketchat_api_read(base_url: str, password: str, room_id: str) -> dict[str, Any]:
    """How far rocketchat-api's channels_history paging gets: rows, pages and its error."""
    from rocketchat_API.rocketchat import RocketChat

    client = RocketChat("dave", password, server_url=base_url)
    rows, pages, error = 0, 0, None
    try:
        for _ in client.channels_history(room_id, count=100, offset=0, showThreadMessages="true"):
            rows += 1
            pages = -(-rows // 100)
    except Exception as exc:  # what a notebook would meet: rocketchat-api's own error
        error = f"{type(exc).__name__} {getattr(exc, 'status_code', '')}".strip()
        pages += 1
    return {"rows": rows, "pages": pages, "error": error}


def describe(row: dict[str, Any]) -> str:
    theirs = row["rocketchat_api"]
    api = (
        f"fails at page {theirs['pages']} ({theirs['error']}) after {theirs['rows']:,} rows"
        if theirs["error"]
        else f"{theirs['rows']:,} rows in {theirs['pages']} pages"
    )
    return (
        f"{'count=0 allowed' if row['count_0'] else 'count=0 refused'}: "
        f"{row['requests']} request(s), {row['seconds']:.2f} s vs least {row['least_seconds']:.2f}"
        f" s = {row['ratio']:.2f}x, {row['refused']} 429s; rocketchat-api {api}"
    )


def main() -> int:
    import tempfile
    from pathlib import Path

    from run import Sandbox  # benchmarks/run.py: the sandbox in a process of its own

    with tempfile.TemporaryDirectory() as folder:
        sandbox = Sandbox(Path(folder))
        try:
            url = sandbox.urls["rocketchat"]
            rows = limited_reads(url, sandbox.password("rocketchat", "dave"), sandbox.control)
        finally:
            sandbox.stop()
    for row in rows:
        print(describe(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
