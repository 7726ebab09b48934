"""Fuzzing how nbauth reads the services' answers: whatever a server sends, a login ends in a
Session or in an NbAuthError that names the service and the HTTP status, never another exception.

Every login method of every service (password, with a two-factor code, tokens, ioGates share
URLs with and without the SMS step) runs through ``nbauth.login`` against a made-up server:
``nbauth.testing.answering`` puts an ``httpx.MockTransport`` where the network was (no
network), and each request nbauth sends gets an answer that hypothesis makes up: any status;
JSON of any shape; the real API's answers with fields dropped or of the wrong type; truncated,
deeply nested or huge JSON; HTML; empty bodies; wrong or missing content types; invalid UTF-8;
odd Retry-After headers; an error text echoing what the request sent. A login that succeeds
goes on to the session's profile, storage (both as tables) and logout, fed the same way. The
requests before a drawn step get the real answer, so the last step of a three-call flow is
fuzzed as often as the first. Everything between the transport and the Session (the flows,
nbauth._http's retries and secret masking, the Session) runs as it is.

Each case also checks that no credential (canary values), nor the start of one, shows in an
error message or a Session's repr, even when the server echoes it; that no flow makes more calls
than its protocol has or repeats one; that a POST is never sent twice (a retried login could
count as two failed logins, or send two SMS); and that nbauth never waits longer than its
timeout.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import math
import operator
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import figures
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbauth
from nbauth import NbAuthError, RateLimited, TwoFactorRequired, testing
from nbauth._session import Session
from nbauth.secret import Secret
from nbauth.tables import Storage

EXAMPLES = 10_000
PASSWORD = "pw-CANARY-5d1e9a7c"
TOKEN = "tk-CANARY-0b6f3e8a2d94"  # the token a user gives: admin token, resume token, PAT...
CODE = "cd-CANARY-7314"
ISSUED = "is-CANARY-c2a8f05e71b3"  # the token the servers' real answers hand out
SHARE_URL = "https://files.example.com/show/15/59817e24914f1/sh-CANARY-9e0a4c"
CANARIES = (PASSWORD, TOKEN, CODE, ISSUED, SHARE_URL.rsplit("/", 1)[1])
#: The most calls one flow may make (ioGates' share login with its SMS check), and the most
#: times one GET may be sent (retries after a 503).
MAX_CALLS = 3
MAX_SENDS = 4
TIMEOUT = 5.0
TITLES = {"couchdrop": "Couchdrop", "rocketchat": "Rocket.Chat", "iogates": "ioGates"}
#: Headers httpx adds to every request: nothing a server echoes from them is a secret.
STANDARD_HEADERS = {"host", "accept", "accept-encoding", "connection", "user-agent"}
STANDARD_HEADERS |= {"content-length", "content-type"}

URL = {"couchdrop": "https://cd.example.com", "rocketchat": "https://chat.example.com"}
URL["iogates"] = "https://files.example.com"
#: (login arguments, how many calls the login and the session's profile, storage and logout make).
SCENARIOS: dict[str, list[tuple[dict[str, str], int]]] = {
    "couchdrop": [
        ({"username": "zoe", "password": PASSWORD}, 3),
        ({"username": "zoe", "password": PASSWORD, "code": CODE}, 3),
        ({"token": TOKEN}, 2),
    ],
    "rocketchat": [
        ({"username": "zoe", "password": PASSWORD}, 3),
        ({"username": "zoe", "password": PASSWORD, "code": CODE}, 3),
        ({"token": TOKEN}, 3),
        ({"token": TOKEN, "user_id": "aobEdbYhXfu5hkeqG"}, 3),
    ],
    "iogates": [
        ({"username": "zoe", "password": PASSWORD}, 1),
        ({"share_url": SHARE_URL}, 3),
        ({"share_url": SHARE_URL, "code": CODE}, 3),
        ({"token": TOKEN}, 1),
    ],
}

# -- the real answers, per endpoint: the first one lets the flow go on ------------------------

ME = {
    "_id": "aobEdbYhXfu5hkeqG",
    "name": "Zoë Müller",
    "username": "zoe",
    "emails": [{"address": "zoe@example.org", "verified": True}],
    "status": "online",
    "utcOffset": 1,
    "active": True,
    "roles": ["user"],
    "avatarUrl": "https://chat.example.com/avatar/zoe",
    "settings": {"preferences": {"language": "de", "idleTimeLimit": 300}},
}
IOGATES_PROFILE = {
    "id": 7,
    "username": "zoe",
    "realname": "Zoë Müller",
    "accountname": "Zoë's Account",
    "email": "zoe@example.org",
    "address": None,
    "mobile": "+4512345678",
    "expires": None,
    "status": "Active",
}
IOGATES_ACCOUNT = {"profile": IOGATES_PROFILE, "max_file_size": 0, "available_storage": 29301996265}
RC_ERROR = {"success": False, "status": "error"}
TEMPLATES: list[tuple[str, list[tuple[int, Any]]]] = [
    (
        "POST /authenticate",
        [
            (200, {"token": ISSUED}),
            (401, {"error": "2FA required", "method": "totp"}),
            (403, {"error": "Invalid username or password"}),
        ],
    ),
    (
        "GET /manage/account",
        [
            (
                200,
                {
                    "account": {
                        "username": "zoe",
                        "email_address": "zoe@example.org",
                        "subscription_type": "business",
                        "stripe__customer": None,
                    }
                },
            ),
            (403, {"err": "Token was not valid"}),  # a dead token or a non-admin's (2016 server)
            (403, {"error": "Authentication Invalid"}),
            (403, {"error": "You do not have permission"}),
        ],
    ),
    (
        "POST /file/lstat",  # the check of a token refused on /manage
        [
            (200, {"lstat": {"filename": "/", "size": 0, "modtime": 0, "is_dir": True}}),
            (403, {"error": "Authentication Invalid"}),
            (403, {"error": "you do not have the right permissions"}),
            (404, {"error": "File or folder not found"}),
        ],
    ),
    (
        "GET /manage/account/storage",
        [
            (
                200,
                {
                    "storage": [
                        {"id": "st-hosted", "path": "/", "store_type": "hosted", "subpath": ""},
                        {"id": "st-s3", "path": "/r", "store_type": "s3", "subpath": "acme/"},
                    ]
                },
            ),
            (403, {"err": "Token was not valid"}),
        ],
    ),
    (
        "POST /api/v1/login",
        [
            (
                200,
                {"status": "success", "data": {"userId": ME["_id"], "authToken": ISSUED, "me": ME}},
            ),
            (
                401,
                {
                    **RC_ERROR,
                    "error": "totp-required",
                    "message": "TOTP Required",
                    "details": {"method": "totp", "codeGenerated": False},
                },
            ),
            (401, {**RC_ERROR, "error": "totp-invalid", "details": {"method": "email"}}),
            (401, {**RC_ERROR, "error": "error-login-blocked-for-user"}),
            (401, {"status": "error", "message": "Unauthorized"}),
            (429, {**RC_ERROR, "error": "Error, too many requests. [error-too-many-requests]"}),
        ],
    ),
    (
        "GET /api/v1/me",
        [
            (200, {**ME, "success": True}),
            (401, {"status": "error", "message": "You must be logged in"}),
        ],
    ),
    (
        "GET /api/v1/statistics",
        [
            (
                200,
                {
                    "uploadsTotal": 3,
                    "uploadsTotalSize": 123456,
                    "totalMessages": 77,
                    "success": True,
                },
            ),
            (403, {**RC_ERROR, "error": "not allowed [error-unauthorized]"}),
        ],
    ),
    (
        "POST /api/v1/logout",
        [(200, {"status": "success", "data": {"message": "You've been logged out!"}})],
    ),
    (
        "POST /api/authtoken",
        [
            (200, {"token": ISSUED, **IOGATES_ACCOUNT}),
            (401, {"message": "Invalid username or password"}),
            (403, {"message": "This share has expired"}),
        ],
    ),
    (
        "GET /api/authinfo/.+",
        [
            (
                200,
                {
                    "available": ["tus"],
                    "default": "tus",
                    "max_file_size": 524288000,
                    "available_storage": 9,
                },
            ),
            (401, {"message": "Not logged in"}),
        ],
    ),
    (
        "GET /api/share",
        [
            (
                200,
                {
                    "id": 15,
                    "name": "Rushes",
                    "type": "dir",
                    "expired": False,
                    "expires": None,
                    "two_factor": True,
                    "permissions": {"master": True, "upload": False},
                    "owner": IOGATES_PROFILE,
                },
            ),
        ],
    ),
    (
        "GET /api/apiauth/twofactorsms/.+",
        [
            (
                200,
                {"message": "not required", "auth_required": False, "type": "sms", "expiry": None},
            ),
            (200, {"message": "An SMS code was sent", "auth_required": True, "type": "sms"}),
        ],
    ),
    (
        "POST /api/apiauth/twofactorsms/.+",
        [
            (200, {"message": "Code accepted"}),
            (401, {"message": "Invalid code"}),
            (403, {"message": "No pending code, request a new one"}),
            (400, {"message": "authcode is required"}),
        ],
    ),
]


def templates(request: httpx.Request) -> list[tuple[int, Any]]:
    """The real answers to ``request``."""
    wanted = f"{request.method} {request.url.path}"
    for pattern, answers in TEMPLATES:
        if re.fullmatch(pattern, wanted):
            return answers
    raise AssertionError(f"the fuzz test has no answers for {wanted}")


# -- strategies -------------------------------------------------------------------------------

KEYS = st.one_of(
    st.sampled_from(["token", "data", "account", "result", "profile", "error", "message", "me"]),
    st.text(max_size=6),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=5,
)
#: Values of the wrong type (or of the right type but useless) for a field.
ODD = st.sampled_from(
    [
        *(None, True, False, 0, -1, 2**64, 10**400, 1.5, math.nan, math.inf, -math.inf),
        *("", " ", "0", "null", "x" * 300, [], [None], [[1]], {}, {"": None}, {"a": [1]}),
    ]
).map(copy.deepcopy)  # each answer gets its own: mutated() edits what it put in
WRONG = st.one_of(ODD, JSON)
BOOLS = ((True, False),) * 3
#: Echoes: long texts put the echo where nbauth cuts a server's text short (160 characters).
LEADS = ["", "Refused: ", "Error: " * 21, "E" * 148]
ERROR_KEYS = ["error", "err", "message"]
#: Nesting around Python's recursion limit (1000), where json gives up, and far beyond it.
DEEP = st.sampled_from(
    list(
        itertools.product(
            [1, 10, 500, 800, 900, 950, 990, 1000, 1100, 5000, 100_000],
            ["[", '{"data":', '{"account":', '{"me":'],
        )
    )
)
#: Big bodies: 25 to 100 kB, or in one case of ten 1 to 4 MB (so one fuzzed answer in 200).
BIG = st.sampled_from(
    list(
        itertools.product(
            [1_000_000 * n for n in (1, 2, 4)] + [25_000 * n for n in (1, 2, 4)] * 9,
            ["raw", "string", "list"],
            [b"x", b"{", b"9", b"\xe2"],
        )
    )
)
#: Any status from 100 to 599, half the time one of those the APIs send (one draw: cheaper).
STATUS = st.sampled_from(
    [200, 200, 401, 403, 429, 500, 503, 201, 204, 400] * 50 + [*range(100, 600)]
)
CONTENT_TYPES = [
    *(b"application/json", b"application/json; charset=utf-8", b"application/json", None, b""),
    *(b"text/html; charset=utf-8", b"text/plain", b"application/octet-stream", b";;;"),
    *(b"application/json; charset=bogus-8", b"\xff\xfe\x85 json"),
]
HEADER_VALUE = st.one_of(
    st.sampled_from(
        [
            *("120", "0", "-5", "1e400", "nan", "inf", "-inf", "", " ", "0x10", "3.5", "1" * 400),
            *("Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 9999 07:28:00 GMT", "Mon, 01 Jan"),
            *("Wed, 21 Oct 99999 07:28:00 GMT", "Wed, 31 Feb 2040 07:28:00 GMT"),
            *("Thu, 01 Jan 2099 00:00:00 -0000", "Thu, 01 Jan 2099 00:00:00", "9" * 20),
        ]
    ).map(str.encode),
    st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
)
HTML = (
    "<!DOCTYPE html><html><head><title>{status} Bad Gateway</title></head><body><h1>Oops</h1>"
    "<p>The server is down. Zoë says: try <a href='/'>again</a>.</p></body></html>"
)
KINDS = [
    *["template"] * 8,
    *["json"] * 3,
    *["echo"] * 2,
    *["truncated"] * 2,
    *("html", "empty", "bytes", "deep", "huge"),
]
#: What kind of answer, its content type, and whether it has Retry-After or X-RateLimit-Reset
#: headers (always on a 429), in one draw: hypothesis spends more per draw than nbauth per call.
SHAPES = st.sampled_from(
    [(k, c, extra) for k in KINDS for c in CONTENT_TYPES for extra in [True] + [False] * 9]
)


def sent(request: httpx.Request) -> list[str]:
    """What ``request`` carries that a server could echo: its URL, its own headers' values and
    its body's."""
    values = [str(request.url)]
    values += [v for k, v in request.headers.items() if k not in STANDARD_HEADERS]
    if request.headers.get("content-type") == "application/json":
        values += [v for v in json.loads(request.content).values() if isinstance(v, str)]
    elif request.content:
        values += [v for k, v in parse_qsl(request.content.decode())]
    return values


def dump(body: Any, ascii_only: bool = False) -> bytes:
    return json.dumps(body, ensure_ascii=ascii_only).encode()


def fields(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every field and list item in ``value``, nested ones too."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    found = []
    for key, item in items:
        found.append((*path, key))
        if isinstance(item, (dict, list)) and item:
            found += fields(item, (*path, key))
    return found


def mutated(draw: Any, body: Any) -> Any:
    """A copy of a real answer with one to three fields dropped or given a value of the wrong
    type (or a useless one of the right type): what finds bugs, more than noise does."""
    body = json.loads(json.dumps(body))
    paths = fields(body) or [("added",)]
    for _ in range(draw(st.integers(1, 3))):
        *parents, last = draw(st.sampled_from(paths))
        try:
            parent = functools.reduce(operator.getitem, parents, body)
            if draw(st.booleans()):
                parent[last] = draw(WRONG)
            elif isinstance(parent, dict):
                del parent[last]
        except (KeyError, IndexError, TypeError):
            pass  # an earlier edit took the field away
    return body


class Answer:
    """A made-up answer; its repr is what hypothesis shows of a failing case (cut short)."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], content: bytes):
        self.status, self.headers, self.content = status, headers, content

    def __repr__(self) -> str:
        body = self.content if len(self.content) <= 300 else self.content[:300] + b"..."
        return f"Answer({self.status}, {self.headers}, {len(self.content)} bytes: {body!r})"

    def response(self) -> httpx.Response:
        return httpx.Response(self.status, headers=self.headers, content=self.content)


@functools.lru_cache(maxsize=1024)
def answers_to(
    method: str, url: str, headers: tuple[tuple[bytes, bytes], ...], content: bytes
) -> st.SearchStrategy[Answer]:
    """Made-up answers to one request. Made once per distinct request: a new strategy costs
    hypothesis more than a draw does, and most cases send the same few requests."""
    request = httpx.Request(method, url, headers=list(headers), content=content)
    real = templates(request)
    variants = [(*answer, *flags) for answer in real for flags in itertools.product(*BOOLS)]
    echoes = list(itertools.product(LEADS, sent(request), ERROR_KEYS))
    return answers(st.sampled_from(variants), st.sampled_from(echoes))


@st.composite
def answers(draw: Any, variants: Any, echoes: Any) -> Answer:
    """One made-up answer: ``variants`` are the request's real answers (status, body, and
    whether to keep that status, mutate the body, write it in ASCII), ``echoes`` what a server
    echoing the request could put in its error text."""
    kind, content_type, extra_headers = draw(SHAPES)
    status = draw(STATUS)
    if kind == "template":
        template_status, body, keep_status, mutate, ascii_only = draw(variants)
        status = template_status if keep_status else status
        content = dump(mutated(draw, body) if mutate else body, ascii_only)
    elif kind == "json":
        content = dump(draw(JSON))
    elif kind == "echo":
        # A server that puts what it was sent (path, credentials) into its error text.
        lead, echoed, key = draw(echoes)
        text = lead + draw(st.text(max_size=5)) + echoed
        content = dump({key: text, "details": {"method": text}, "success": False})
    elif kind == "truncated":
        whole = dump(draw(variants)[1])
        content = whole[: draw(st.integers(0, len(whole) - 1))]
    elif kind == "html":
        content = HTML.format(status=status).encode()
    elif kind == "empty":
        content = b""
    elif kind == "bytes":
        content = draw(st.binary(max_size=30)) + draw(st.sampled_from([b"", b"\xff", b"\xc3"]))
    elif kind == "deep":
        depth, opener = draw(DEEP)
        closer = "]" if opener == "[" else "}"
        content = (opener * depth + "1" + closer * depth).encode()
    else:
        size, shape, filler = draw(BIG)
        if shape == "raw":
            content = filler * size
        elif shape == "string":
            content = b'{"error": "' + b"z" * size + b'", "token": 5}'
        else:
            entry = b'{"path": "/' + b"p" * 990 + b'"}, '  # few entries: tables stay small
            content = b'{"storage": [' + entry * (size // 1000) + b'{"path": 1}]}'
    headers: list[tuple[bytes, bytes]] = []
    if content_type is not None:
        headers.append((b"content-type", content_type))
    if status == 429 or extra_headers:
        for name in (b"retry-after", b"x-ratelimit-reset"):
            if draw(st.booleans()):
                headers.append((name, draw(HEADER_VALUE)))
    return Answer(status, headers, content)


# -- the made-up server ----------------------------------------------------------------------


class Runaway(AssertionError):
    """A flow made more calls than its protocol has, repeated one, or would have waited long."""


class Server:
    """The other end of nbauth's HTTP client for one case: each new request nbauth sends gets
    the real answer before step ``fuzz_from`` and a made-up one from then on. A request sent
    again at once (a retry) gets the same answer again, and nbauth's waits are only counted."""

    def start(self, data: Any, fuzz_from: int) -> None:
        self.data, self.fuzz_from = data, fuzz_from
        self.step = 0
        self.last: httpx.Response | None = None
        self.flow()

    def flow(self) -> None:
        """A new flow begins (login, profile, storage, logout): its calls are counted apart."""
        self.calls: list[tuple[str, str]] = []
        self.answer: Answer | None = None
        self.sent: tuple[str, str, bytes] | None = None
        self.sends = self.slept = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        sent = (request.method, str(request.url), request.content)
        if sent == self.sent and self.answer is not None:
            self.sends += 1
            if request.method == "POST" or self.sends > MAX_SENDS:
                raise Runaway(f"{request.method} {request.url.path} was sent {self.sends} times")
        else:
            self.calls.append(sent[:2])
            if len(self.calls) > MAX_CALLS or len(set(self.calls)) < len(self.calls):
                raise Runaway(f"the flow made these calls: {self.calls}")
            self.step += 1
            self.sent, self.sends = sent, 1
            self.answer = self.real(request) if self.step <= self.fuzz_from else None
            key = (request.method, str(request.url), tuple(request.headers.raw), request.content)
            self.answer = self.answer or self.data.draw(answers_to(*key))
        self.last = self.answer.response()
        return self.last

    @staticmethod
    def real(request: httpx.Request) -> Answer:
        status, body = templates(request)[0]
        return Answer(status, [(b"content-type", b"application/json")], dump(body))

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        if self.slept > TIMEOUT:
            raise Runaway(f"nbauth would wait {self.slept} s, longer than timeout={TIMEOUT}")


SERVER = Server()


@pytest.fixture
def fake_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """nbauth's requests go to SERVER (through the public seam, nbauth.testing.answering), and
    its waits (before a retry) are only counted."""
    monkeypatch.setattr(time, "sleep", SERVER.sleep)
    with testing.answering(httpx.MockTransport(SERVER.handle)):
        yield


#: (login arguments, the first step to fuzz), in one draw: hypothesis spends more per draw
#: than nbauth spends per login.
STARTS = {
    service: st.sampled_from([(given, step) for given, steps in cases for step in range(steps)])
    for service, cases in SCENARIOS.items()
}


def one_case(service: str, data: Any) -> Session | NbAuthError:
    """Log in on made-up answers; then read the session's profile and storage, show both as
    tables, and log out. The outcome: the Session, or the NbAuthError that ended the case."""
    given, fuzz_from = data.draw(STARTS[service])
    SERVER.start(data, fuzz_from)
    if "share_url" not in given:
        given = {**given, "url": URL[service]}
    if service == "iogates":
        given = {**given, "device_id": "nbauth-fuzz"}
    try:
        session = nbauth.login(service, timeout=TIMEOUT, **given)
        SERVER.flow()
        profile = session.profile
        SERVER.flow()
        storage = session.storage()
        check_session(session, profile, storage)
        SERVER.flow()
        session.logout(revoke=True)
    except NbAuthError as exc:
        return exc
    return session


def check_session(session: Session, profile: Any, storage: Any) -> None:
    """What a user reads from a session is well-typed and shows as tables."""
    assert isinstance(session.token, Secret) and session.token.reveal()
    assert session.username is None or isinstance(session.username, str), session.username
    assert session.user_id is None or isinstance(session.user_id, str), session.user_id
    assert isinstance(profile, dict), profile
    assert isinstance(storage, Storage) and isinstance(storage.rows, list), storage
    assert storage.rows or storage.note, storage
    session.profile_frame()
    session.storage_frame()


def check_error(exc: NbAuthError, service: str) -> None:
    """The error names the service and the status of the answer that caused it."""
    assert SERVER.last is not None, exc
    status = SERVER.last.status_code
    text = str(exc)
    assert TITLES[service] in text, text
    assert re.search(rf"\bHTTP {status}\b", text), (status, text)
    assert (exc.service, exc.status) == (service, status), (exc.service, exc.status, text)
    if isinstance(exc, RateLimited):
        wait = exc.retry_after
        assert wait is None or (isinstance(wait, float) and 0 <= wait < math.inf), wait
    if isinstance(exc, TwoFactorRequired):
        assert exc.method in ("totp", "email", "sms", "unknown"), exc.method


@pytest.mark.parametrize("service", sorted(SCENARIOS))
def test_any_answer_ends_in_a_session_or_an_nbauth_error(service: str, fake_network: None) -> None:
    counts: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(data=st.data())
    def fuzz(data: Any) -> None:
        try:
            outcome = one_case(service, data)
        except AssertionError:
            raise  # a Runaway, or a check of check_session
        except Exception:
            counts["escapes"] += 1
            raise
        counts["cases"] += 1
        counts[type(outcome).__name__] += 1
        if isinstance(outcome, NbAuthError):
            check_error(outcome, service)
            shown = f"{outcome} {outcome!r}"
        else:
            shown = repr(outcome)
        for canary in CANARIES:  # nor the start of one, cut short with the server's text
            assert canary[:8] not in shown, (canary, shown)

    try:
        fuzz()
    finally:
        figures.add(f"fuzz cases: {service}", counts["cases"])
        figures.add(f"fuzz escapes (non-NbAuthError): {service}", counts["escapes"])
    assert counts["cases"] >= EXAMPLES, counts
    assert counts["escapes"] == 0, counts
