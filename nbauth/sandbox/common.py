"""What the three emulated services share: fault knobs, the middleware that applies them, the
`/_sandbox/` control routes, token guards, lenient request parsing and random tokens.

It lives in one place so every service injects faults, guards routes and answers control
requests in exactly the same way; a service module only adds its own routes and error shape.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import dataclasses
import http.client
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

import pyotp
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nbauth.sandbox.seed import METEOR_ALPHABET, Seed, User

CONTROL_PREFIX = "/_sandbox/"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
#: How many pieces `slow_body` cuts a body into.
TRICKLE_PIECES = 5
#: What uvicorn logs, as an error, when an app returns before its response is complete.
UNFINISHED = "ASGI callable returned without completing response."
#: How many requests a service's `RequestLog` keeps; older ones are dropped first.
REQUEST_LOG_SIZE = 1000

Endpoint = Callable[[Request], Awaitable[Response]]
SessionT = TypeVar("SessionT")


@dataclasses.dataclass
class Knobs:
    """Faults one service injects into every request outside `/_sandbox/`.

    `fail_times` failures (all while None) answer `fail_status`, as the service's JSON error or,
    with `fail_html`, as a proxy's HTML page. `drop_times` answers, one in every
    `drop_every` requests, send the headers and half the body, then the connection closes: a
    server or proxy dying mid-response (spaced out, they also land in the middle of a login).
    `slow_body` sends bodies in pieces with that many seconds before each: a trickling server.
    """

    latency: float = 0.0
    fail_status: int | None = None
    fail_html: bool = False
    fail_times: int | None = None
    retry_after: int | None = None
    #: Rocket.Chat's REST rate limiter, on every /api/v1 route as a real server has it by
    #: default: `rate_limit_calls` per route and caller in each `rate_limit_window` seconds
    #: (API_Enable_Rate_Limiter_Limit_Calls_Default, _Time_Default); None turns it off (an
    #: admin may, or grant api-bypass-rate-limit). Tests use a short window.
    rate_limit_calls: int | None = 10
    rate_limit_window: float = 60.0
    #: Rocket.Chat's paging settings: API_Upper_Count_Limit, API_Default_Count and
    #: API_Allow_Infinite_Count (count=0 means every item).
    page_cap: int = 100
    default_count: int = 50
    infinite_count: bool = True
    #: Rocket.Chat's answer to a wrong password: "incorrect" (the newest login error override:
    #: `{"error": 401, "message": "Incorrect login or password"}`) or "unauthorized" (older
    #: servers: `{"error": "Unauthorized"}`).
    wrong_password: str = "incorrect"
    #: The error text of an injected failure (default: the status's reason phrase); a test
    #: sets it to make a server that echoes what it was sent.
    fail_body: str | None = None
    drop_times: int | None = None
    drop_every: int = 1
    slow_body: float = 0.0
    #: Couchdrop: the multipart field an upload's file is read from: "file", as the 2016
    #: server (`request.files['file']`) and every public client, or "data", as the developer
    #: docs spell it. An upload without it is answered `couchdrop_upload_missing_status` with
    #: `{"err": "File was not provided"}` (the 2016 server's text; it answered 500).
    couchdrop_upload_field: str = "file"
    couchdrop_upload_missing_status: int = 400
    #: ioGates: the token header forms accepted: "bearer" (`Authorization: Bearer`, the help
    #: articles), "token" (a header named `token`, the only public client) or "both".
    iogates_token_header: str = "both"
    #: ioGates: download links answer 302 to the same server under another host name
    #: (127.0.0.1 <-> localhost), as links on a CDN or a second web host would.
    iogates_download_redirect: bool = True

    def update(self, values: Mapping[str, Any]) -> None:
        """Set knobs from a JSON object; raise ValueError on an unknown name or a bad value."""
        for name, value in values.items():
            if not _valid_knob(name, value):
                raise ValueError(f"bad knob {name}={value!r}")
        for name, value in values.items():
            setattr(self, name, value)

    def restore(self, defaults: Knobs) -> None:
        self.update(dataclasses.asdict(defaults))

    def take_failure(self) -> bool:
        """Whether this request must fail; uses up one of `fail_times`."""
        if self.fail_status is None:
            return False
        if self.fail_times is None:
            return True
        if self.fail_times <= 0:
            return False
        self.fail_times -= 1
        return True

    def take_drop(self, count: int) -> bool:
        """Whether the answer to the service's `count`-th request must be cut off; uses up one
        of `drop_times`."""
        if not self.drop_times or count % self.drop_every:
            return False
        self.drop_times -= 1
        return True


_OPTIONAL_KNOBS = {"fail_status", "fail_times", "retry_after", "rate_limit_calls", "drop_times"}
WRONG_PASSWORD_WORDINGS = ("unauthorized", "incorrect")


#: Knobs of one service that take one of a few values.
_CHOICE_KNOBS: dict[str, tuple[object, ...]] = {
    "couchdrop_upload_field": ("file", "data"),
    "couchdrop_upload_missing_status": (400, 500),
    "iogates_token_header": ("bearer", "token", "both"),
    "iogates_download_redirect": (True, False),
}


def _valid_knob(name: str, value: object) -> bool:
    if name in _CHOICE_KNOBS:
        return any(type(value) is type(c) and value == c for c in _CHOICE_KNOBS[name])
    if name in ("fail_html", "infinite_count"):
        return isinstance(value, bool)
    if name == "fail_body":
        return value is None or isinstance(value, str)
    if name == "wrong_password":
        return value in WRONG_PASSWORD_WORDINGS
    if value is None:
        return name in _OPTIONAL_KNOBS
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if name in ("latency", "slow_body"):
        return value >= 0
    if name == "rate_limit_window":
        return value > 0
    if name == "fail_status":
        return isinstance(value, int) and 100 <= value <= 599
    if name in ("drop_every", "page_cap", "default_count"):
        return isinstance(value, int) and value >= 1
    return name in _OPTIONAL_KNOBS and isinstance(value, int) and value >= 0


def html_error_page(status: int) -> str:
    """The page a reverse proxy sends when the service behind it is down."""
    title = f"{status} {http.client.responses.get(status, 'Error')}"
    return (
        f"<html><head><title>{title}</title></head><body>"
        f"<center><h1>{title}</h1></center><hr><center>nginx</center></body></html>"
    )


def random_id(length: int = 17, alphabet: str = METEOR_ALPHABET) -> str:
    """A random id like Meteor's Random.id()."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def random_token() -> str:
    """A 43-character URL-safe secret, like Meteor's Random.secret()."""
    return secrets.token_urlsafe(32)


async def read_fields(request: Request) -> dict[str, Any]:
    """Query parameters overlaid with a form or JSON body, whatever the Content-Type claims.

    Real servers are lenient here, and clients in the wild send both encodings.
    """
    fields: dict[str, Any] = dict(request.query_params)
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        form = await request.form()
        fields.update((key, value) for key, value in form.items() if isinstance(value, str))
        return fields
    body = await request.body()
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        fields.update(data)
    return fields


@dataclasses.dataclass
class LoggedRequest:
    """One request as it came in on the wire, and the status (and body) of its answer."""

    method: str
    path: str
    query: str
    status: int | None = None
    request_body: bytearray | None = None
    response_body: bytearray | None = None

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
        }
        for name in ("request_body", "response_body"):
            body = getattr(self, name)
            if body is not None:
                entry[name] = body.decode("utf-8", "replace")
        return entry


class RequestLog:
    """The last `REQUEST_LOG_SIZE` requests a service received outside `/_sandbox/`: method,
    path, raw query string and the status answered, so a test sees exactly what a client sent.
    Bodies (the request's and the answer's, as sent) are kept only while `bodies` is on
    (`POST /_sandbox/requests {"bodies": true}`); a reset clears the log and turns it off."""

    def __init__(self, size: int = REQUEST_LOG_SIZE) -> None:
        self.entries: collections.deque[LoggedRequest] = collections.deque(maxlen=size)
        self.bodies = False

    def clear(self, bodies: bool = False) -> None:
        self.entries.clear()
        self.bodies = bodies

    def record(self, scope: Scope, receive: Receive, send: Send) -> tuple[Receive, Send]:
        """Logs the request in `scope`; returns `receive` and `send` wrapped to fill it in."""
        query = scope["query_string"].decode("latin-1")  # as sent: percent-encoded ASCII
        entry = LoggedRequest(scope["method"], scope["path"], query)
        self.entries.append(entry)
        if self.bodies:
            entry.request_body, entry.response_body = bytearray(), bytearray()

        async def receive_logged() -> Message:
            message = await receive()
            if entry.request_body is not None and message["type"] == "http.request":
                entry.request_body.extend(message.get("body", b""))
            return message

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
            elif entry.response_body is not None and message["type"] == "http.response.body":
                entry.response_body.extend(message.get("body", b""))
            await send(message)

        return receive_logged, send_logged


class KnobsMiddleware:
    """Applies a service's knobs (latency, then failures) before the request reaches a route,
    and cuts off or slows down the answer after it."""

    def __init__(self, app: ASGIApp, service: ServiceApp[Any]) -> None:
        self.app = app
        self.service = service
        self.requests = 0
        logging.getLogger("uvicorn.error").addFilter(_quiet_drops)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(CONTROL_PREFIX):
            self.requests += 1
            receive, send = self.service.request_log.record(scope, receive, send)
            knobs = self.service.knobs
            if knobs.latency > 0:
                await asyncio.sleep(knobs.latency)
            if knobs.take_failure():
                await self.service.failure(knobs)(scope, receive, send)
                return
            if knobs.take_drop(self.requests):
                send = _cut_off(send)
            elif knobs.slow_body > 0:
                send = _trickle(send, receive, knobs.slow_body)
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:  # the client gave up (a timeout test): nobody to answer
            return


def _cut_off(send: Send) -> Send:
    """Passes the headers and half the body, then nothing more: uvicorn closes the connection
    when the app returns with its response unfinished, so the client sees a broken answer."""
    cut = False

    async def cut_off(message: Message) -> None:
        nonlocal cut
        if cut:
            return
        if message["type"] == "http.response.body":
            cut = True
            body = message.get("body", b"")
            message = {"type": message["type"], "body": body[: len(body) // 2], "more_body": True}
        await send(message)

    return cut_off


def _trickle(send: Send, receive: Receive, pause: float) -> Send:
    """Sends each body in `TRICKLE_PIECES` pieces, `pause` seconds before each, and stops when
    the client hangs up (a client that timed out must not keep the server busy)."""

    async def trickle(message: Message) -> None:
        if message["type"] != "http.response.body":
            await send(message)
            return
        body = message.get("body", b"")
        size = -(-len(body) // TRICKLE_PIECES) or 1
        for start in range(0, len(body), size):
            if await _hung_up(receive, pause):
                return
            await send({**message, "body": body[start : start + size], "more_body": True})
        await send({**message, "body": b""})

    return trickle


async def _hung_up(receive: Receive, seconds: float) -> bool:
    """Waits `seconds`, or less if the client disconnects first: then True."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            message = await asyncio.wait_for(receive(), left)
        except asyncio.TimeoutError:
            return False
        if message["type"] == "http.disconnect":
            return True
    return False


def _quiet_drops(record: logging.LogRecord) -> bool:
    """Keeps uvicorn's error for an unfinished response out of the logs: in the sandbox only
    `drop_times` leaves one, on purpose."""
    return record.getMessage() != UNFINISHED


class ServiceApp(abc.ABC, Generic[SessionT]):
    """One emulated service: its seed users, issued tokens, knobs, routes and error shape.

    `SessionT` is what a valid token resolves to; `guarded` hands it to a route.
    """

    name: str

    def __init__(self, seed: Seed, default_knobs: Knobs) -> None:
        self.seed = seed
        self.users: Mapping[str, User] = seed.users[self.name]
        self.default_knobs = default_knobs
        self.knobs = dataclasses.replace(default_knobs)
        self.issued: list[tuple[str, str]] = []
        self.request_log = RequestLog()

    @abc.abstractmethod
    def routes(self) -> list[BaseRoute]:
        """The service's own routes."""

    @abc.abstractmethod
    def error(self, status: int, message: str) -> Response:
        """The service's JSON error response."""

    @abc.abstractmethod
    def session_of(self, request: Request) -> SessionT | None:
        """What the request's token grants, or None if it carries no valid token."""

    @abc.abstractmethod
    def not_logged_in(self) -> Response:
        """The answer to a missing, unknown or expired token."""

    def guarded(self, handler: Callable[[Request, SessionT], Awaitable[Response]]) -> Endpoint:
        """A route that answers `not_logged_in()` unless the request carries a valid token."""

        async def endpoint(request: Request) -> Response:
            session = self.session_of(request)
            if session is None:
                return self.not_logged_in()
            return await handler(request, session)

        return endpoint

    def issue(self, username: str, token: str) -> None:
        self.issued.append((username, token))

    def reset(self) -> None:
        """Knobs back to their defaults and the request log cleared; subclasses also clear
        their counters."""
        self.knobs.restore(self.default_knobs)
        self.request_log.clear()

    def failure(self, knobs: Knobs) -> Response:
        status = knobs.fail_status or 500
        if knobs.fail_html:
            response: Response = HTMLResponse(html_error_page(status), status_code=status)
        else:
            text = knobs.fail_body or http.client.responses.get(status, "Error")
            response = self.error(status, text)
        if knobs.retry_after is not None:
            response.headers["Retry-After"] = str(knobs.retry_after)
        return response

    def control_routes(self) -> list[BaseRoute]:
        """`/_sandbox/` routes for out-of-process use (notebooks, Binder); subclasses add more."""
        return [
            Route(CONTROL_PREFIX + "issued", self._control_issued),
            Route(CONTROL_PREFIX + "knobs", self._control_knobs, methods=["GET", "POST"]),
            Route(CONTROL_PREFIX + "reset", self._control_reset, methods=["POST"]),
            Route(CONTROL_PREFIX + "accounts", self._control_accounts),
            Route(CONTROL_PREFIX + "requests", self._control_requests, methods=["GET", "POST"]),
        ]

    def demo_tokens(self, base_url: str) -> dict[str, Any]:
        """The long-lived credentials `/_sandbox/accounts` lists besides the users."""
        return {}

    def app(self) -> Starlette:
        async def http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            return self.error(exc.status_code, exc.detail)

        return Starlette(
            routes=[*self.control_routes(), *self.routes()],
            middleware=[Middleware(KnobsMiddleware, service=self)],
            exception_handlers={HTTPException: http_error},
        )

    async def _control_issued(self, request: Request) -> Response:
        issued = [{"username": username, "token": token} for username, token in self.issued]
        return JSONResponse({"issued": issued})

    async def _control_knobs(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                self.knobs.update(await request.json())
            except (ValueError, TypeError, AttributeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(dataclasses.asdict(self.knobs))

    async def _control_accounts(self, request: Request) -> Response:
        """Every user's password and current TOTP code, and the service's demo tokens: what a
        notebook in another process needs to show each way in (`nbauth.sandbox.remote`)."""
        users = {
            name: {
                "password": user.password,
                "totp": pyotp.TOTP(user.totp_secret).now() if user.totp_secret else None,
            }
            for name, user in self.users.items()
        }
        base_url = str(request.base_url).rstrip("/")
        return JSONResponse({"users": users, **self.demo_tokens(base_url)})

    async def _control_requests(self, request: Request) -> Response:
        """GET: the request log, oldest first. POST `{"bodies": bool}`: empty it and start
        keeping bodies (or not) from the next request on."""
        log = self.request_log
        if request.method == "POST":
            try:
                bodies = (await request.json()).get("bodies", False)
            except (ValueError, AttributeError):
                bodies = None
            if not isinstance(bodies, bool):
                return JSONResponse({"error": 'expected {"bodies": true|false}'}, status_code=400)
            log.clear(bodies)
        entries = [entry.as_json() for entry in log.entries]
        return JSONResponse({"bodies": log.bodies, "requests": entries})

    async def _control_reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse(dataclasses.asdict(self.knobs))
