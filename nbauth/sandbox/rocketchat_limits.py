"""Rocket.Chat's REST rate limiter, as its server applies it to every `/api/v1` route by default.

The server adds one rule per route and method (ApiClass `addRateLimiterRuleForRoutes`, the
name `/v1/channels.historyget`) to a Meteor `RateLimiter`:
`API_Enable_Rate_Limiter_Limit_Calls_Default` calls (10) per
`API_Enable_Rate_Limiter_Limit_Time_Default` ms (60,000), counted per client address (the rule
matches `IPAddr` and `route`, not the user). A rule's window is fixed: it starts when the rule
is made, and the first call after it has passed resets every counter of that rule. The call is
counted before it is checked, so the eleventh call of a window is refused, and refused calls
count too. Every answer checked carries X-RateLimit-Limit, -Remaining and -Reset (epoch ms); a
refusal is 429 with the text below and no `errorType`, sent before the route does anything.
Users with the permission `api-bypass-rate-limit` (the admin, bot and app roles) are never
counted, and neither is a call whose token was refused (the 401 comes first). Read in
`apps/meteor/app/api/server/ApiClass.ts` and Meteor's `rate-limit` package.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from starlette.responses import JSONResponse, Response

from nbauth.sandbox.common import Knobs

TOO_MANY = (
    "Error, too many requests. Please slow down. You must wait {seconds} seconds before trying "
    "this endpoint again. [error-too-many-requests]"
)


@dataclass
class _Rule:
    """One route's window and its callers' counts in it."""

    started: float
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """What the limiter says of one call: its headers, and the refusal if it is one."""

    headers: dict[str, str]
    refusal: Response | None = None


class RateLimiter:
    """The limiter of one sandboxed Rocket.Chat server, following its knobs."""

    def __init__(self, knobs: Knobs) -> None:
        self.knobs = knobs
        self.rules: dict[str, _Rule] = {}
        #: Every call counted and every refusal, by route: what tests and benchmarks read.
        self.counted: dict[str, int] = {}
        self.refused: dict[str, int] = {}

    def reset(self) -> None:
        self.rules.clear()
        self.counted.clear()
        self.refused.clear()

    def check(self, route: str, address: str) -> Verdict:
        """Count a call of `route` (path and method) from `address`, and judge it."""
        calls, window = self.knobs.rate_limit_calls, self.knobs.rate_limit_window
        if calls is None:
            return Verdict({})
        now = time.time()
        rule = self.rules.get(route)
        if rule is None or now - rule.started >= window:
            rule = self.rules[route] = _Rule(now)
        used = rule.counts[address] = rule.counts.get(address, 0) + 1
        self.counted[route] = self.counted.get(route, 0) + 1
        to_reset = rule.started + window - now
        headers = {
            "X-RateLimit-Limit": str(calls),
            "X-RateLimit-Remaining": str(max(calls - used, 0)),
            "X-RateLimit-Reset": str(int((now + to_reset) * 1000)),
        }
        if used <= calls:
            return Verdict(headers)
        self.refused[route] = self.refused.get(route, 0) + 1
        text = TOO_MANY.format(seconds=math.ceil(to_reset))
        body = {"success": False, "error": text}
        return Verdict(headers, JSONResponse(body, status_code=429))
