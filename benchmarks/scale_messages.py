"""Reading a long Rocket.Chat history: nbauth's ``s.messages(room)`` against the loop a
notebook would write with ``rocketchat-api``, at 1,000, 10,000 and 50,000 messages.

The issue's targets: nbauth faster than ``channels_history`` page by page (100 a page, until
a short page; rocketchat-api 3.7 runs that loop itself) plus ``pd.DataFrame`` on the same
messages, and a per-row cost that stays flat from 1k to 50k. ``message_rates`` measures both
against a sandbox in another process, so the server's work runs on the other core and not in
the measured process. Both sides read the same rows: the loop also sends
``showThreadMessages=true``, without which Rocket.Chat (and the sandbox) leaves thread
replies out of ``*.history``.

Run: ``.venv/bin/python benchmarks/scale_messages.py`` starts a sandbox of its own and prints
the figures, on loopback and again with 5 ms added to every answer.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

SIZES = (1_000, 10_000, 50_000)
ROUNDS = 5
#: The latency of the second run: a server a few network hops away.
NETWORK = 0.005


def message_rates(
    base_url: str,
    password: str,
    control: httpx.Client,
    sizes: Sequence[int] = SIZES,
    rounds: int = ROUNDS,
    latency: float = 0.0,
) -> list[dict[str, Any]]:
    """For each size, a new channel of that many messages (``POST /_sandbox/rooms``), read by
    alice both ways, interleaved and alternating which goes first; medians over ``rounds``.
    One dict per size: messages, seconds and rows/s of each side, and ratio (how many times
    faster nbauth is). ``latency`` (seconds) is added to every answer meanwhile, as a server
    across a network would take: it shows what the pages in flight at once buy there."""
    import pandas as pd
    from rocketchat_API.rocketchat import RocketChat

    import nbauth

    session = nbauth.login("rocketchat", url=base_url, username="alice", password=password)
    client = RocketChat("alice", password, server_url=base_url)
    control.post(f"{base_url}/_sandbox/knobs", json={"latency": latency}).raise_for_status()
    results = []
    for size in sizes:
        name = f"scale-{size}-{uuid.uuid4().hex[:8]}"
        answer = control.post(
            f"{base_url}/_sandbox/rooms",
            json={"name": name, "kind": "c", "members": ["alice", "bob"], "count": size},
        )
        answer.raise_for_status()
        room_id = answer.json()["id"]

        def ours(name: str = name) -> Any:
            return session.messages(name, progress=False)

        def theirs(room_id: str = room_id) -> Any:
            # rocketchat-api 3.7 pages itself: from `offset`, `count` a page, until a short one.
            pages = client.channels_history(room_id, count=100, offset=0, showThreadMessages="true")
            return pd.DataFrame(list(pages))

        if not len(ours()) == len(theirs()) == size:  # also warms both up
            raise RuntimeError(f"the two sides read different rows from the {size:,} room")
        ours_s, theirs_s = _interleaved(ours, theirs, rounds)
        results.append(
            {
                "messages": size,
                "latency_ms": latency * 1000,
                "nbauth_s": ours_s,
                "rocketchat_api_s": theirs_s,
                "nbauth_rows_per_s": size / ours_s,
                "rocketchat_api_rows_per_s": size / theirs_s,
                "ratio": theirs_s / ours_s,
            }
        )
    control.post(f"{base_url}/_sandbox/reset").raise_for_status()  # the latency, the rooms
    session.logout()
    client.logout()
    return results


def _interleaved(
    a: Callable[[], object], b: Callable[[], object], rounds: int
) -> tuple[float, float]:
    """Median seconds of ``a`` and ``b``, run in turns, the order alternating each round."""
    spent: dict[int, list[float]] = {id(a): [], id(b): []}
    for r in range(rounds):
        for f in (a, b) if r % 2 == 0 else (b, a):
            started = time.perf_counter()
            f()
            spent[id(f)].append(time.perf_counter() - started)
    return statistics.median(spent[id(a)]), statistics.median(spent[id(b)])


def main() -> int:
    import tempfile
    from pathlib import Path

    from run import Sandbox  # benchmarks/run.py: the sandbox in a process of its own

    with tempfile.TemporaryDirectory() as folder:
        sandbox = Sandbox(Path(folder))
        try:
            url, password = sandbox.urls["rocketchat"], sandbox.password("rocketchat")
            rows = message_rates(url, password, sandbox.control)
            rows += message_rates(url, password, sandbox.control, latency=NETWORK)
        finally:
            sandbox.stop()
    print(f"{'latency':>8} {'messages':>9} {'nbauth':>16} {'rocketchat-api':>22} {'ratio':>6}")
    for row in rows:
        print(
            f"{row['latency_ms']:>5.0f} ms {row['messages']:>9,} "
            f"{row['nbauth_rows_per_s']:>10,.0f} rows/s "
            f"{row['rocketchat_api_rows_per_s']:>16,.0f} rows/s {row['ratio']:>5.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
