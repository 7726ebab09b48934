"""Rocket.Chat emulator: the REST login surface and the read-only room routes a notebook uses.

It speaks like a 7.x/8.x server (the "Emulator minimum" of the API reference): every login body
form of §1, the exact failure bodies of §2 (with the legacy `status`/`message` keys), header auth
with the §3 body, TOTP and email 2FA, personal access tokens stored like login tokens (so
logging out with one deletes it), and an optional per-IP login rate limit with X-RateLimit-*
headers (off by default, like a server in TEST_MODE).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pyotp
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from nbauth.sandbox.common import Knobs, ServiceApp, random_token, read_fields
from nbauth.sandbox.rocketchat_limits import RateLimiter, Verdict
from nbauth.sandbox.rocketchat_rooms import (
    ROOM_KINDS,
    Page,
    Wire,
    iso,
    messages_body,
    newest_first,
    parse_iso,
    room_json,
    subscription_json,
)
from nbauth.sandbox.seed import DEMO_USER, SEED_EPOCH, Room, Seed, User, _room

VERSION = "8.0.1"
EMAIL_CODE_TTL = 3600.0
#: Accounts_TwoFactorAuthentication_Max_Invalid_Email_Code_Attempts' default.
MAX_EMAIL_ATTEMPTS = 5
LOGGED_OUT = "You must be logged in to do this."


@dataclass(frozen=True)
class Caller:
    """An authenticated request: the token it used and its user."""

    token: str
    user: User


@dataclass(frozen=True)
class LoginAttempt:
    """A login body reduced to what matters: a resume token, or a user selector and password."""

    resume: str | None = None
    selector: tuple[str, str] | None = None
    password: object = None
    code: str | None = None


@dataclass
class EmailCode:
    code: str
    expires_at: float
    #: Wrong codes sent since this one was e-mailed.
    attempts: int = 0


def parse_login(body: Mapping[str, Any], header_code: str | None) -> LoginAttempt:
    """Every body form of `POST /api/v1/login` (reference §1), plus the `x-2fa-code` header."""
    code = body.get("code") or header_code
    totp = body.get("totp")
    if isinstance(totp, dict):
        code = totp.get("code") or code
        inner = totp.get("login")
        body = inner if isinstance(inner, dict) else {}
    if "resume" in body:
        return LoginAttempt(resume=str(body["resume"]))
    user = body.get("user")
    selector: tuple[str, str] | None = None
    if isinstance(user, str):
        selector = ("email", user) if "@" in user else ("username", user)
    else:
        fields = user if isinstance(user, dict) else body
        key = next((k for k in ("username", "email", "id") if k in fields), None)
        selector = (key, str(fields[key])) if key else None
    return LoginAttempt(
        selector=selector,
        password=body.get("password"),
        code=None if code is None else str(code),
    )


def password_matches(user: User, password: object) -> bool:
    """A plain password, or Meteor's `{"digest": sha256-hex, "algorithm": "sha-256"}`."""
    if isinstance(password, str):
        return hmac.compare_digest(password.encode(), user.password.encode())
    if isinstance(password, dict) and password.get("algorithm") == "sha-256":
        expected = hashlib.sha256(user.password.encode()).hexdigest()
        return hmac.compare_digest(str(password.get("digest", "")), expected)
    return False


def legacy_error(
    status: int, error: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    """A failure body with the `status`/`message` compat keys servers before 9.0 send."""
    body: dict[str, Any] = {"success": False, "error": error, "status": "error"}
    if details is not None:
        body["details"] = details
    body["message"] = message
    return JSONResponse(body, status_code=status)


def room_not_found(kind: str) -> JSONResponse:
    what = {"c": "channel", "p": "group", "d": "room"}[kind]
    reason = f'The required "roomId" or "roomName" param provided does not match any {what}'
    body = {"success": False, "error": f"{reason} [error-room-not-found]"}
    return JSONResponse({**body, "errorType": "error-room-not-found"}, status_code=400)


def ok(body: Mapping[str, Any]) -> JSONResponse:
    return JSONResponse({**body, "success": True})


def me_json(user: User, base_url: str) -> dict[str, Any]:
    """The user as `/me` and `data.me` show it (never the password hash)."""
    return {
        "_id": user.user_id,
        "name": user.name,
        "username": user.username,
        "emails": [{"address": user.email, "verified": True}],
        "email": user.email,
        "status": "online",
        "statusConnection": "online",
        "statusDefault": "online",
        "statusText": "",
        "utcOffset": 0,
        "active": True,
        "roles": ["user", "admin"] if user.admin else ["user"],
        "settings": {
            "profile": {},
            "preferences": {"language": "en", "enableAutoAway": True, "idleTimeLimit": 300},
        },
        "avatarUrl": f"{base_url}/avatar/{user.username}",
        "isOAuthUser": False,
        "services": {
            "password": {"exists": True},
            "totp": {"enabled": user.totp_secret is not None},
            "email2fa": {"enabled": user.email_2fa},
        },
        "customFields": {},
        "requirePasswordChange": False,
        "_updatedAt": iso(SEED_EPOCH),
    }


class RocketChat(ServiceApp[Caller]):
    name = "rocketchat"

    def __init__(self, seed: Seed, default_knobs: Knobs) -> None:
        super().__init__(seed, default_knobs)
        self.by_id = {user.user_id: user for user in self.users.values()}
        # token -> user id. Login tokens and the PAT live together, as in the real server's
        # services.resume.loginTokens, so logging out with the PAT deletes it.
        self.tokens: dict[str, str] = {}
        self._restore_pat()
        self.pending_email_codes: dict[str, EmailCode] = {}
        self.sent_email_codes: dict[str, str] = {}
        self.limiter = RateLimiter(self.knobs)
        #: The seed's rooms, then those `add_room` made (until `reset`).
        self.rooms: list[Room] = list(seed.rooms)
        self.wires: dict[str, Wire] = {}

    def routes(self) -> list[BaseRoute]:
        def guarded(handler: Callable[[Request, Caller], Awaitable[Response]]) -> Any:
            return self.guarded(self.limited(handler))

        routes: list[BaseRoute] = [
            Route("/api/info", self.info),
            Route("/api/v1/login", self.login, methods=["POST"]),
            Route("/api/v1/logout", guarded(self.logout), methods=["GET", "POST"]),
            Route("/api/v1/me", guarded(self.me)),
            Route("/api/v1/statistics", guarded(self.statistics)),
            Route("/api/v1/rooms.get", guarded(self.rooms_get)),
            Route("/api/v1/subscriptions.get", guarded(self.subscriptions_get)),
            Route("/api/v1/channels.list.joined", guarded(self.channels_joined)),
            Route("/api/v1/rooms.info", guarded(self.rooms_info)),
        ]
        for prefix, kind in ROOM_KINDS.items():
            for history in (True, False):
                endpoint = "history" if history else "messages"
                handler = self._room_messages(kind, history)
                routes.append(Route(f"/api/v1/{prefix}.{endpoint}", guarded(handler)))
        return routes

    def limited(
        self, handler: Callable[[Request, Caller], Awaitable[Response]]
    ) -> Callable[[Request, Caller], Awaitable[Response]]:
        """A route under the rate limiter (rocketchat_limits.py); admins bypass it, as the
        permission api-bypass-rate-limit lets them."""

        async def counted(request: Request, caller: Caller) -> Response:
            if caller.user.admin:
                return await handler(request, caller)
            verdict = self._count(request)
            response = verdict.refusal or await handler(request, caller)
            response.headers.update(verdict.headers)
            return response

        return counted

    def _count(self, request: Request) -> Verdict:
        route = f"{request.url.path}{request.method.lower()}"
        return self.limiter.check(route, request.client.host if request.client else "")

    def control_routes(self) -> list[BaseRoute]:
        return [
            *super().control_routes(),
            Route("/_sandbox/email-codes", self._email_codes),
            Route("/_sandbox/rooms", self._add_room, methods=["POST"]),
            Route("/_sandbox/rate-limits", self._rate_limits),
        ]

    def demo_tokens(self, base_url: str) -> dict[str, Any]:
        return {"token": self.seed.rocketchat_pat, "user_id": self.users[DEMO_USER].user_id}

    def error(self, status: int, message: str) -> Response:
        return JSONResponse({"success": False, "error": message}, status_code=status)

    def session_of(self, request: Request) -> Caller | None:
        token = request.headers.get("x-auth-token", "")
        user_id = self.tokens.get(token)
        if user_id is None or user_id != request.headers.get("x-user-id"):
            return None
        return Caller(token, self.by_id[user_id])

    def not_logged_in(self) -> Response:
        return legacy_error(401, LOGGED_OUT, LOGGED_OUT)

    def reset(self) -> None:
        """Also clears the rate-limit counters, brings back the seed PAT if a test logged
        out with it and removes the rooms `add_room` made, so one test cannot break the next
        (tests count the seed's rooms); issued login tokens are kept."""
        super().reset()
        self.limiter.reset()
        self._restore_pat()
        for room in self.rooms[len(self.seed.rooms) :]:
            self.wires.pop(room.id, None)
        self.rooms = list(self.seed.rooms)

    def add_room(self, name: str, kind: str, members: Sequence[str], count: int) -> Room:
        """A new room of `count` messages posted by `members` in turn, like the seed's; its
        messages are encoded at once, so its first history page is as fast as the others.
        Raises ValueError for a taken name, an unknown kind or member, or a negative count."""
        if any(room.name == name for room in self.rooms) or not name:
            raise ValueError(f"a room named {name!r} exists already (or the name is empty)")
        if kind not in ("c", "p", "d") or not members or type(count) is not int or count < 0:
            raise ValueError("kind must be c, p or d, members not empty and count at least 0")
        unknown = [member for member in members if member not in self.users]
        if unknown:
            raise ValueError(f"no such users: {', '.join(unknown)}")
        room = _room(name, kind, tuple(members), count)
        self.wires[room.id] = Wire.of(room, self.users)
        self.rooms.append(room)
        return room

    def _restore_pat(self) -> None:
        self.tokens[self.seed.rocketchat_pat] = self.users[DEMO_USER].user_id

    def latest_email_code(self, username: str) -> str:
        try:
            return self.sent_email_codes[username]
        except KeyError:
            raise LookupError(f"no email 2FA code was sent to {username!r}") from None

    # -- login ------------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        """Limited like every route, by the client's address alone: nobody is logged in yet,
        so nobody bypasses it."""
        verdict = self._count(request)
        response = verdict.refusal or await self._login(request)
        response.headers.update(verdict.headers)
        return response

    async def _login(self, request: Request) -> Response:
        attempt = parse_login(await read_fields(request), request.headers.get("x-2fa-code"))
        if attempt.resume is not None:
            user_id = self.tokens.get(attempt.resume)
            if user_id is None:
                return self._wrong_login()
            return self._logged_in(request, self.by_id[user_id], attempt.resume)
        user = self._find_user(attempt.selector)
        if user is not None and user.blocked:
            return legacy_error(
                401, "error-login-blocked-for-user", "Login has been temporarily blocked For User"
            )
        if user is None or not password_matches(user, attempt.password):
            return self._wrong_login()
        refused = self._second_factor(user, attempt.code)
        if refused is not None:
            return refused
        token = random_token()
        self.tokens[token] = user.user_id
        self.issue(user.username, token)
        return self._logged_in(request, user, token)

    def _find_user(self, selector: tuple[str, str] | None) -> User | None:
        if selector is None:
            return None
        key, value = selector
        if key == "id":
            return self.by_id.get(value)
        field = "email" if key == "email" else "username"
        wanted = value.casefold()
        return next(
            (u for u in self.users.values() if getattr(u, field).casefold() == wanted), None
        )

    def _wrong_login(self) -> Response:
        """A wrong password or an unknown resume token, in the wording the knob picks: the
        newest servers' login error override (`error` is the number 401), or the older one."""
        if self.knobs.wrong_password == "incorrect":
            body = {
                "success": False,
                "error": 401,
                "status": "error",
                "message": "Incorrect login or password",
            }
            return JSONResponse(body, status_code=401)
        return legacy_error(401, "Unauthorized", "Unauthorized")

    def _second_factor(self, user: User, code: str | None) -> Response | None:
        """None if the user needs no 2FA or gave a good code, else the 401 to send."""
        if user.totp_secret is not None:
            if code is None:
                return self._totp_error("required", "totp", False, available=True)
            if pyotp.TOTP(user.totp_secret).verify(code, valid_window=1):
                return None
            return self._totp_error("invalid", "totp", False)
        if user.email_2fa:
            return self._email_second_factor(user, code)
        return None

    def _email_second_factor(self, user: User, code: str | None) -> Response | None:
        """E-mail codes, with their limit of wrong tries (app/2fa/server/code/EmailCheck.ts):
        the fifth wrong code is answered `totp-max-attempts`; the next try, whatever it
        sends, has a new code e-mailed first (processInvalidCode), so a code sent with it is
        wrong."""
        pending = self.pending_email_codes.get(user.username)
        if pending is not None and pending.attempts >= MAX_EMAIL_ATTEMPTS:
            del self.pending_email_codes[user.username]
            self._email_code_required(user)
            return self._totp_error(
                "required" if code is None else "invalid",
                "email",
                True,
                available=code is None,
                emailOrUsername=user.username,
            )
        if code is None:
            return self._email_code_required(user)
        if self._use_email_code(user, code):
            return None
        if pending is not None:
            pending.attempts += 1
            if pending.attempts >= MAX_EMAIL_ATTEMPTS:
                return self._totp_error(
                    "max-attempts",
                    "email",
                    False,
                    message="TOTP Maximun Failed Attempts Reached",  # sic, as the server says
                    emailOrUsername=user.username,
                )
        return self._totp_error("invalid", "email", False, emailOrUsername=user.username)

    def _totp_error(
        self,
        what: str,
        method: str,
        generated: bool,
        available: bool = False,
        message: str | None = None,
        **extra: Any,
    ) -> Response:
        details: dict[str, Any] = {"method": method, "codeGenerated": generated}
        if available:
            details["availableMethods"] = [method]
        details.update(extra)
        text = message or f"TOTP {what.capitalize()}"
        return legacy_error(401, f"totp-{what}", text, details)

    def _email_code_required(self, user: User) -> Response:
        """Emails a new code unless a recent one is still valid, as Rocket.Chat does."""
        pending = self.pending_email_codes.get(user.username)
        extra: dict[str, Any] = {"emailOrUsername": user.username}
        generated = pending is None or pending.expires_at < time.time()
        if generated:
            code = f"{secrets.randbelow(10**6):06d}"
            self.pending_email_codes[user.username] = EmailCode(code, time.time() + EMAIL_CODE_TTL)
            self.sent_email_codes[user.username] = code
        elif pending is not None:
            extra["codeExpires"] = iso(datetime.fromtimestamp(pending.expires_at, timezone.utc))
        return self._totp_error("required", "email", generated, available=True, **extra)

    def _use_email_code(self, user: User, code: str) -> bool:
        pending = self.pending_email_codes.get(user.username)
        digits = "".join(ch for ch in code if ch.isdigit())
        if pending is None or pending.expires_at < time.time() or digits != pending.code:
            return False
        del self.pending_email_codes[user.username]
        return True

    def _logged_in(self, request: Request, user: User, token: str) -> Response:
        me = me_json(user, str(request.base_url).rstrip("/"))
        data = {"userId": user.user_id, "authToken": token, "me": me}
        return JSONResponse({"status": "success", "data": data, "success": True})

    # -- authenticated routes ---------------------------------------------------------------

    async def logout(self, request: Request, caller: Caller) -> Response:
        self.tokens.pop(caller.token, None)
        return JSONResponse({"status": "success", "data": {"message": "You've been logged out!"}})

    async def me(self, request: Request, caller: Caller) -> Response:
        return ok(me_json(caller.user, str(request.base_url).rstrip("/")))

    async def info(self, request: Request) -> Response:
        body: dict[str, Any] = {"version": VERSION}
        if self.session_of(request) is not None:
            body["info"] = {
                "version": VERSION,
                "build": {"nodeVersion": "v22.16.0", "platform": "linux", "date": iso(SEED_EPOCH)},
                "commit": {"hash": "0" * 40, "branch": "sandbox"},
                "marketplaceApiVersion": "1.60.0",
            }
        return ok(body)

    async def statistics(self, request: Request, caller: Caller) -> Response:
        if not caller.user.admin:
            # getLastStatistics throws a plain Error('error-not-allowed'): 400, no errorType.
            return JSONResponse({"success": False, "error": "error-not-allowed"}, status_code=400)
        rooms = self.rooms
        return ok(
            {
                "version": VERSION,
                "totalUsers": len(self.users),
                "activeUsers": len(self.users),
                "totalRooms": len(rooms),
                "totalChannels": sum(room.kind == "c" for room in rooms),
                "totalPrivateGroups": sum(room.kind == "p" for room in rooms),
                "totalDirect": sum(room.kind == "d" for room in rooms),
                "totalMessages": sum(len(room.messages) for room in rooms),
                "uploadsTotal": sum(1 for r in rooms for m in r.messages if m.attachment),
                "uploadsTotalSize": 48213771,
                "createdAt": iso(SEED_EPOCH),
            }
        )

    def _rooms_of(self, user: User, kind: str | None = None) -> list[Room]:
        return [
            room
            for room in self.rooms
            if user.username in room.readers and kind in (None, room.kind)
        ]

    async def rooms_get(self, request: Request, caller: Caller) -> Response:
        since = parse_iso(request.query_params.get("updatedSince"))
        rooms = [
            room
            for room in self._rooms_of(caller.user)
            if since is None or not room.messages or room.messages[-1].ts > since
        ]
        return ok({"update": [room_json(room, self.users) for room in rooms], "remove": []})

    async def subscriptions_get(self, request: Request, caller: Caller) -> Response:
        rooms = self._rooms_of(caller.user)
        subscriptions = [subscription_json(room, caller.user, self.users) for room in rooms]
        return ok({"update": subscriptions, "remove": []})

    async def channels_joined(self, request: Request, caller: Caller) -> Response:
        channels = self._rooms_of(caller.user, "c")
        page = Page.of(request.query_params, self.knobs)
        items = [room_json(room, self.users) for room in page.slice(channels)]
        return ok(
            {"channels": items, "offset": page.offset, "count": len(items), "total": len(channels)}
        )

    def _room_messages(
        self, kind: str, history: bool
    ) -> Callable[[Request, Caller], Awaitable[Response]]:
        """The handler of `*.history` (newest first, no total) or `*.messages` for one kind."""

        async def handler(request: Request, caller: Caller) -> Response:
            query = request.query_params
            room = self._find_room(query.get("roomId"), query.get("roomName"), kind, caller.user)
            if room is None:
                return room_not_found(kind)
            wire = self._wire(room)
            # groups.history shows thread replies unless told not to, pages without a cap, and
            # takes count=0 as all (groups.ts); the others page with getPaginationItems.
            groups = history and kind == "p"
            threads = query.get("showThreadMessages", "").lower()
            replies = not history or threads == "true" or (groups and threads != "false")
            timeline = wire.every if replies else wire.main
            low, high = timeline.window(query)
            page = Page.of_groups(query) if groups else Page.of(query, self.knobs)
            parts = timeline.page(low, high, page, history or newest_first(query))
            extra = {"count": len(parts), "offset": page.offset, "total": high - low}
            body = messages_body(parts, {} if history else extra)
            return Response(body, media_type="application/json")

        return handler

    def _find_room(
        self, room_id: str | None, room_name: str | None, kind: str, user: User
    ) -> Room | None:
        """The room a `*.history`/`*.messages` call names. A private group or direct message
        the user is not in is not found, as Rocket.Chat's findPrivateGroupByIdOrName answers,
        so that no one learns a group exists from outside it (rooms.info does tell). The
        channel routes take livechat rooms too (findChannelByIdOrName), which only the agent
        serving one may read; `roomName` matches `name` only, never a discussion's `fname`."""
        kinds = ("c", "l") if kind == "c" else (kind,)
        for room in self.rooms:
            named = room.id == room_id or (kind != "d" and room_name and room.name == room_name)
            visible = room.kind == "c" or user.username in room.readers
            if named and room.kind in kinds and visible:
                return room
        return None

    def _wire(self, room: Room) -> Wire:
        wire = self.wires.get(room.id)
        if wire is None:
            wire = self.wires[room.id] = Wire.of(room, self.users)
        return wire

    async def rooms_info(self, request: Request, caller: Caller) -> Response:
        """`rooms.info`: unknown -> 400 error-room-not-found; a room the user may not read ->
        400 `{"error": "not-allowed", "errorType": "Not Allowed"}`, as the server's
        `API.v1.failure('not-allowed', 'Not Allowed')` sends it."""
        query = request.query_params
        room_id, room_name = query.get("roomId"), query.get("roomName")
        room = next(
            (r for r in self.rooms if r.id == room_id or (r.kind != "d" and r.name == room_name)),
            None,
        )
        if room is None:
            return room_not_found("c")  # findRoomByIdOrName says "channel" for every type
        if room.kind != "c" and caller.user.username not in room.readers:
            body = {"success": False, "error": "not-allowed", "errorType": "Not Allowed"}
            return JSONResponse(body, status_code=400)
        return ok({"room": room_json(room, self.users)})

    async def _add_room(self, request: Request) -> Response:
        """`POST /_sandbox/rooms` {"name", "kind", "members", "count"}: `add_room` from another
        process (the benchmarks give a sandbox a room of 50,000 messages)."""
        try:
            fields = await request.json()
            room = self.add_room(
                str(fields["name"]), str(fields["kind"]), list(fields["members"]), fields["count"]
            )
        except (ValueError, TypeError, KeyError) as exc:
            return JSONResponse({"error": f"bad room: {exc}"}, status_code=400)
        return JSONResponse({"id": room.id, "name": room.name, "messages": len(room.messages)})

    async def _rate_limits(self, request: Request) -> Response:
        """What the rate limiter counted and refused since the last reset, by route."""
        return JSONResponse({"counted": self.limiter.counted, "refused": self.limiter.refused})

    async def _email_codes(self, request: Request) -> Response:
        return JSONResponse({"codes": self.sent_email_codes})
