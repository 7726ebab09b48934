"""Reading a Rocket.Chat history within what its server allows: page sizes and the rate limit.

Two things a real server's admin decides, which a client can only find out as it goes:

* How much one request may bring. ``count=0`` asks for every message
  (``API_Allow_Infinite_Count``, on by default), so a whole history is usually one request. A
  server that refuses it answers as if no count were given (``API_Default_Count``), and a
  count above ``API_Upper_Count_Limit`` (100 by default, an admin may lower it) is cut to it.
  So a page shorter than asked is not proof of the end: it is the end only when it is empty or
  shorter than a page the server has served already (``Paging``).
* How often. Every REST route is rate limited per user (10 calls a minute by default) unless
  the user may bypass it. Each answer says how many calls are left and when the window resets
  (X-RateLimit-Remaining, X-RateLimit-Reset in epoch milliseconds); ``RateLimits`` keeps that
  per route for the session, and ``Pacer`` waits for the reset before a call that would be
  refused, and after a 429 that came all the same, as long as the caller's ``max_wait`` allows.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._bounded import answer_limit
from .._calls import finite
from ..errors import RateLimited

if TYPE_CHECKING:
    import httpx

__all__ = ["PAGE", "Pacer", "Paging", "RateLimits"]

#: API_Upper_Count_Limit's default: the page asked for when not every message is wanted.
PAGE = 100
#: Seconds added to a wait for the server's window to have reset for sure.
MARGIN = 0.05
#: The most bytes one message of a history answer is taken to need: a message is a few KB of
#: JSON at most (its text, mentions, attachments' descriptions, reactions, URLs' previews).
MESSAGE_BYTES = 64 * 1024
#: A server clock this close to ours (by its Date header) is taken to be ours.
CLOCK_AGREES = 2.0

log = logging.getLogger("nbauth")


@dataclass
class Paging:
    """Where a history read stands, and whether the last answer was its end."""

    #: The newest ``most`` messages are wanted (None: all of them).
    most: int | None
    #: The room's message count, when the whole history (no time window) is read.
    known: int | None
    offset: int = 0
    #: The most messages one answer to an explicit count has held: the server's cap is at least
    #: this, so a later page shorter than it is the end.
    served: int = 0
    done: bool = False
    #: False once an answer to count=0 was too large to read (past nbauth's answer limit).
    whole: bool = True

    def count(self) -> int:
        """What to ask for next: 0 (all) for a first request that wants every message, else a
        page of at most PAGE, never past ``most``."""
        everything = self.most is None or (self.known is not None and self.known <= self.most)
        if self.offset == 0 and everything and self.whole:
            return 0
        return PAGE if self.most is None else min(PAGE, self.most - self.offset)

    def bound(self) -> int | None:
        """The most bytes the answer to ``count=0`` may hold: what the room's messages take at
        most (MESSAGE_BYTES each), or, when their number is not known, nbauth's limit of a JSON
        answer (None), past which the history is read in pages instead."""
        return None if self.known is None else max(answer_limit(), self.known * MESSAGE_BYTES)

    def plan(self, pages: int) -> list[tuple[int, int]]:
        """(offset, count) of the next requests: one, or up to ``pages`` consecutive full pages
        once the server has served a full PAGE (so its cap is known not to cut them) and the
        room's count says they exist."""
        count = self.count()
        if pages <= 1 or count != PAGE or self.served < PAGE or self.known is None:
            return [(self.offset, count)]
        end = self.known if self.most is None else min(self.known, self.most)
        starts = range(self.offset, max(end, self.offset + 1), PAGE)[:pages]
        return [
            (start, PAGE if self.most is None else min(PAGE, self.most - start)) for start in starts
        ]

    def took(self, asked: int, received: int) -> None:
        """Count an answer to ``asked`` (0: all) that held ``received`` messages.

        A full page never ends the history. A short one (or the answer to ``count=0``, which
        is all of it unless the server refused 0 and sent its default count) ends it when it
        is shorter than a page the server has served, or when the room's count says every
        message is in; otherwise it may be the server's cap, and the next page tells."""
        self.offset += received
        if received == 0 or (self.most is not None and self.offset >= self.most):
            self.done = True
        elif asked == 0 or received < asked:
            cut_short = asked > 0 and received < self.served
            self.done = cut_short or (self.known is not None and self.offset >= self.known)
        if asked:
            self.served = max(self.served, received)


@dataclass
class _Window:
    remaining: int
    #: time.monotonic() when the server's window resets.
    resets: float


@dataclass
class RateLimits:
    """What a session's server said of its rate limit, per route (the last answer's headers)."""

    windows: dict[str, _Window] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, route: str, response: httpx.Response) -> None:
        """Keep the rate-limit headers of an answer (a user who bypasses the limit gets none)."""
        remaining = finite(response.headers.get("x-ratelimit-remaining", ""))
        wait = reset_in(response)
        if remaining is not None and wait is not None:
            with self.lock:
                self.windows[route] = _Window(int(remaining), time.monotonic() + wait)

    def limited(self, route: str) -> bool:
        """Whether the server counts this session's calls of ``route``."""
        return route in self.windows

    def wait_before(self, route: str) -> float:
        """Seconds to wait before calling ``route`` so that the call is not refused."""
        with self.lock:
            window = self.windows.get(route)
            if window is None or window.remaining > 0:
                return 0.0
            return max(0.0, window.resets - time.monotonic() + MARGIN)

    def spend(self, route: str) -> None:
        """One call of ``route`` is on its way."""
        with self.lock:
            window = self.windows.get(route)
            if window is not None and window.resets > time.monotonic():
                window.remaining -= 1
            elif window is not None:
                del self.windows[route]  # a new window: the next answer tells its count


def reset_in(response: httpx.Response) -> float | None:
    """Seconds until the rate-limit window of ``response`` resets, by the server's clock.

    X-RateLimit-Reset is an instant on the server's clock. Ours is used when the answer's Date
    agrees with it (within CLOCK_AGREES: Date has whole seconds); otherwise the wait is counted
    from the server's Date, so a client whose clock is off still waits as long as it must."""
    reset = finite(response.headers.get("x-ratelimit-reset", ""))
    if reset is None:
        return None
    now = time.time()
    try:
        date = email.utils.parsedate_to_datetime(response.headers.get("date", ""))
    except (TypeError, ValueError):
        date = None
    if date is not None and date.tzinfo is not None and abs(date.timestamp() - now) > CLOCK_AGREES:
        now = date.timestamp()
    return max(0.0, reset / 1000.0 - now)


class Pacer:
    """One data call's waits for the rate limit: each shown on the progress bar, all together
    at most ``max_wait`` seconds (None: no bound)."""

    def __init__(
        self, limits: RateLimits, title: str, max_wait: float | None, bar: Any = None
    ) -> None:
        self.limits = limits
        self.title = title
        self.max_wait = max_wait
        self.bar = bar
        self.waited = 0.0

    def before(self, route: str, what: str) -> None:
        """Wait, if the route's window has no call left, until it resets."""
        self.wait(self.limits.wait_before(route), what, None)
        self.limits.spend(route)

    def refused(self, exc: RateLimited, what: str) -> None:
        """A 429 came all the same: wait as the server said, or raise it when that is past
        max_wait."""
        self.wait(MARGIN if exc.retry_after is None else exc.retry_after + MARGIN, what, exc)

    def wait(self, seconds: float, what: str, refusal: RateLimited | None) -> None:
        if seconds <= 0:
            return
        if self.max_wait is not None and self.waited + seconds > self.max_wait:
            raise RateLimited(
                f"{self.title} {what}: the server's rate limit asks for a wait of {seconds:.0f} s, "
                f"past max_wait={self.max_wait:g} s (waited {self.waited:.0f} s already). Try "
                "again later, or allow a longer wait with max_wait=.",
                retry_after=seconds,
                service="rocketchat",
                status=429 if refusal is not None else None,
            )
        note = f"waiting {seconds:.0f} s for {self.title}'s rate limit"
        log.info("%s (%s)", note, what)
        if self.bar is not None:
            self.bar.set_postfix_str(note)
        time.sleep(seconds)
        self.waited += seconds
        if self.bar is not None:
            self.bar.set_postfix_str("")
