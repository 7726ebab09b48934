"""Rocket.Chat's protocol, row by row as docs/assumptions.md tells it: each row is the server's
answer(s), and the calls the flow makes with the result or error it ends in (flowtable.py).

Rows of the Rocket.Chat table that are no flow, and so are not here:
- "Rate limit" as the server and the sandbox count it, and "Pacing the data calls" (the
  ``Pacer``'s waits and retries around ``_get``, ``max_wait``, ``RateLimited.partial``);
- "Rooms", "Livechat rooms", "Messages", "groups.history", "Time window", "Pages in flight",
  "Unknown room" and "Private room not joined": ``s.rooms()`` and ``s.messages()`` are loops
  of ``_fetch`` (pacing, paging, threads) around the one flow they share, ``_get``, whose
  rows are here; the loops are tested against the sandbox (tests/test_rocketchat_data.py).
The transport's own rules (503 retries, bounded answers, masking of echoed secrets) are
nbauth._http's and nbauth._redact's, not a flow's: drive() plays the answers without them.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from flowtable import Account, Has, Near, Row, call, check, err, params, secret, session

from nbauth import services
from nbauth.errors import (
    AccessDenied,
    InvalidCode,
    RateLimited,
    ServiceError,
    SessionExpired,
    TwoFactorRequired,
)
from nbauth.secret import Secret
from nbauth.services.base import Credentials, Granted

SERVICE = services.get("rocketchat")
URL = "https://chat.example.com"
USER_ID = "aobEdbYhXfu5hkeqG"
PASSWORD = "pw-RocketChat-3e9b"
CODE = "913462"
TOKEN = "tk-given-b1c2d3e4f5a6b7c8"  # a resume token or a personal access token a user gives
ISSUED = "is-login-8d7c6b5a4f3e2d1c"  # what /api/v1/login hands out
SECRETS = (PASSWORD, CODE, TOKEN, ISSUED)
KINDS = {"password": "password", "code": "password", "token": "token"}
#: Accounts_LoginExpiration's default.
NINETY_DAYS = Near(timedelta(days=90), within=60)


def creds(**values: str) -> Credentials:
    wrapped = {k: Secret(v, KINDS[k]) if k in KINDS else v for k, v in values.items()}
    return Credentials(URL, wrapped, {})


def login(**values: str) -> Any:
    return lambda: SERVICE.login_flow(creds(**values))


# -- the calls and answers ----------------------------------------------------------------

LOGIN_BODY = {"user": "alice", "password": secret(PASSWORD, "password")}
LOGIN = call("POST", f"{URL}/api/v1/login", json=LOGIN_BODY)
WITH_CODE = call(
    "POST", f"{URL}/api/v1/login", json={**LOGIN_BODY, "code": secret(CODE, "password")}
)
RESUME = call("POST", f"{URL}/api/v1/login", json={"resume": secret(TOKEN)})
ME_CALL = call(
    "GET", f"{URL}/api/v1/me", headers={"X-Auth-Token": secret(TOKEN), "X-User-Id": USER_ID}
)

PROFILE = {
    "name": "Alice Smith",
    "username": "alice",
    "emails": [{"address": "alice@example.org", "verified": True}],
    "status": "online",
    "roles": ["user"],
    "utcOffset": 1,
    "active": True,
    "avatarUrl": f"{URL}/avatar/alice",
}
#: ``me`` as the server sends it: the profile and fields the profile must not keep.
ME = {
    "_id": USER_ID,
    **PROFILE,
    "settings": {"preferences": {"language": "de"}},
    "services": {"resume": {"loginTokens": [{"hashedToken": "x"}]}},
}
LOGGED_IN = (200, {"status": "success", "data": {"userId": USER_ID, "authToken": ISSUED, "me": ME}})
ERROR = {"success": False, "status": "error"}


def refused(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return 401, {**ERROR, **body}


def totp_required(method: Any) -> tuple[int, dict[str, Any]]:
    details = {} if method is None else {"details": {"method": method, "codeGenerated": False}}
    return refused({"error": "totp-required", "message": "TOTP Required", **details})


GRANTED = {
    "token": secret(ISSUED),
    "username": "alice",
    "user_id": USER_ID,
    "kind": "password",
    "expires_at": NINETY_DAYS,
    "profile": PROFILE,
    "profile_complete": True,
    "storage": None,
    "details": {},
}


def two_factor(name: str, answer: Any, method: str, *words: str) -> Row:
    return Row(
        f"login: two-factor needed, {name} -> method {method}",
        login(username="alice", password=PASSWORD),
        [answer],
        [LOGIN],
        error=err(TwoFactorRequired, 401, "two-factor authentication", *words, method=method),
    )


def rate_limit_reset_in(seconds: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int((time.time() + seconds) * 1000)),
    }


TOO_MANY = {
    **ERROR,
    "error": "Error, too many requests. You must wait 42 seconds [error-too-many-requests]",
}

LOGIN_ROWS = [
    Row(
        "login: POST /api/v1/login, JSON user and password -> token, user id, profile from me",
        login(username="alice", password=PASSWORD),
        [LOGGED_IN],
        [LOGIN],
        fields=GRANTED,
    ),
    Row(
        "login: the code goes on the second try, JSON code",
        login(username="alice", password=PASSWORD, code=CODE),
        [LOGGED_IN],
        [WITH_CODE],
        fields=GRANTED,
    ),
    Row(
        "login: the username is me's, the server's spelling",
        login(username="ALICE@example.org", password=PASSWORD),
        [LOGGED_IN],
        [call("POST", f"{URL}/api/v1/login", json={**LOGIN_BODY, "user": "ALICE@example.org"})],
        fields={"username": "alice"},
    ),
    Row(
        "login: me missing or not an object -> the username given, an empty profile",
        login(username="alice", password=PASSWORD),
        [(200, {"status": "success", "data": {"userId": USER_ID, "authToken": ISSUED, "me": []}})],
        [LOGIN],
        fields={"username": "alice", "profile": {}},
    ),
    Row(
        "resume: a token without user id logs in as JSON resume -> kind resume, 90 days",
        login(token=TOKEN),
        [LOGGED_IN],
        [RESUME],
        fields={**GRANTED, "kind": "resume"},
    ),
    Row(
        "resume: an answer without me -> no username",
        login(token=TOKEN),
        [(200, {"status": "success", "data": {"userId": USER_ID, "authToken": TOKEN}})],
        [RESUME],
        fields={"token": secret(TOKEN), "username": None, "kind": "resume", "profile": {}},
    ),
    Row(
        "resume: refused, 401 -> AccessDenied naming user_id=",
        login(token=TOKEN),
        [refused({"error": "Unauthorized", "message": "You must be logged in"})],
        [RESUME],
        error=err(AccessDenied, 401, "resume token was refused", "user_id="),
    ),
    Row(
        "personal access token: with its user id, GET /api/v1/me with both headers",
        login(token=TOKEN, user_id=USER_ID),
        [(200, {**ME, "success": True})],
        [ME_CALL],
        fields={
            "token": secret(TOKEN),
            "username": "alice",
            "user_id": USER_ID,
            "kind": "personal-access-token",
            "expires_at": None,  # they have no `when`: they never expire
            "profile": PROFILE,
        },
    ),
    Row(
        "personal access token: refused, 401 -> AccessDenied",
        login(token=TOKEN, user_id=USER_ID),
        [refused({"message": "You must be logged in"})],
        [ME_CALL],
        error=err(AccessDenied, 401, "personal access token and user id were refused"),
    ),
    Row(
        "personal access token: 500 -> ServiceError",
        login(token=TOKEN, user_id=USER_ID),
        [(500, {})],
        [ME_CALL],
        error=err(ServiceError, 500, "token check failed", "the server had an error"),
    ),
    Row(
        "login: wrong password, older servers' 401 Unauthorized -> AccessDenied",
        login(username="alice", password=PASSWORD),
        [refused({"error": "Unauthorized"})],
        [LOGIN],
        error=err(AccessDenied, 401, "wrong username or password"),
    ),
    Row(
        "login: wrong password, newest 401 with error 401 (a number) -> AccessDenied",
        login(username="alice", password=PASSWORD),
        [(401, {"status": "error", "error": 401, "message": "Incorrect login or password"})],
        [LOGIN],
        error=err(AccessDenied, 401, "wrong username or password"),
    ),
    two_factor("totp", totp_required("totp"), "totp", "(totp)", "code="),
    two_factor("email", totp_required("email"), "email", "(email)"),
    two_factor("a method nbauth does not know", totp_required("password"), "unknown", "(password)"),
    two_factor("no details", totp_required(None), "unknown", "(unknown method)"),
    two_factor(
        "its code in errorType",
        refused({"error": "TOTP Required", "errorType": "totp-required"}),
        "unknown",
    ),
    two_factor(
        "its code in brackets at the end of the error",
        refused({"error": "TOTP Required [totp-required]", "details": {"method": "totp"}}),
        "totp",
    ),
    Row(
        "login: wrong code, totp-invalid -> InvalidCode",
        login(username="alice", password=PASSWORD, code=CODE),
        [refused({"error": "totp-invalid", "details": {"method": "email"}})],
        [WITH_CODE],
        error=err(InvalidCode, 401, "wrong or has expired", "fresh code"),
    ),
    Row(
        "login: fifth wrong e-mail code, totp-max-attempts -> InvalidCode, log in again",
        login(username="alice", password=PASSWORD, code=CODE),
        [refused({"error": "totp-max-attempts", "details": {"method": "email"}})],
        [WITH_CODE],
        error=err(InvalidCode, 401, "too many wrong e-mail codes", "again without code="),
    ),
    Row(
        "login: blocked account, error-login-blocked-for-user -> AccessDenied",
        login(username="alice", password=PASSWORD),
        [refused({"error": "error-login-blocked-for-user"})],
        [LOGIN],
        error=err(AccessDenied, 401, "the account is blocked", "Wait a few minutes"),
    ),
    Row(
        "login: blocked address, error-login-blocked-for-ip -> AccessDenied",
        login(username="alice", password=PASSWORD),
        [refused({"error": "error-login-blocked-for-ip"})],
        [LOGIN],
        error=err(AccessDenied, 401, "this address is blocked"),
    ),
    Row(
        "login: rate limited 429 -> RateLimited, retry_after from X-RateLimit-Reset",
        login(username="alice", password=PASSWORD),
        lambda: [(429, TOO_MANY, rate_limit_reset_in(42))],
        [LOGIN],
        error=err(RateLimited, 429, "too many requests", retry_after=Near(42, within=5)),
    ),
    Row(
        "login: rate limited 429 -> RateLimited, retry_after from a proxy's Retry-After",
        login(username="alice", password=PASSWORD),
        [(429, "Too Many Requests", {"Retry-After": "30"})],
        [LOGIN],
        error=err(RateLimited, 429, "Wait 30 s", retry_after=30.0),
    ),
    Row(
        "login: rate limited 429 without a wait",
        login(username="alice", password=PASSWORD),
        [(429, TOO_MANY)],
        [LOGIN],
        error=err(RateLimited, 429, "Wait a minute", retry_after=None),
    ),
    Row(
        "login: server error 500 -> ServiceError",
        login(username="alice", password=PASSWORD),
        [(500, {**ERROR, "error": "Internal server error"})],
        [LOGIN],
        error=err(ServiceError, 500, "the server had an error", '("Internal server error")'),
    ),
    Row(
        "login: 200 that is not JSON -> ServiceError",
        login(username="alice", password=PASSWORD),
        [(200, "<!doctype html><title>Rocket.Chat</title>", {"content-type": "text/html"})],
        [LOGIN],
        error=err(ServiceError, 200, "not the JSON object", "(text/html)"),
    ),
    Row(
        "login: 200 without data -> ServiceError",
        login(username="alice", password=PASSWORD),
        [(200, {"status": "success"})],
        [LOGIN],
        error=err(ServiceError, 200, "no usable 'authToken'"),
    ),
    Row(
        "login: data of the wrong type -> ServiceError",
        login(username="alice", password=PASSWORD),
        [(200, {"status": "success", "data": [ISSUED]})],
        [LOGIN],
        error=err(ServiceError, 200, "no usable 'authToken'"),
    ),
    Row(
        "login: authToken of the wrong type -> ServiceError",
        login(username="alice", password=PASSWORD),
        [(200, {"data": {"userId": USER_ID, "authToken": None}})],
        [LOGIN],
        error=err(ServiceError, 200, "no usable 'authToken'"),
    ),
    Row(
        "login: userId of the wrong type -> ServiceError",
        login(username="alice", password=PASSWORD),
        [(200, {"data": {"userId": 42, "authToken": ISSUED}})],
        [LOGIN],
        error=err(ServiceError, 200, "no usable 'userId'"),
    ),
    Row(
        "login: a 400 is no refusal nbauth knows -> ServiceError",
        login(username="alice", password=PASSWORD),
        [(400, {**ERROR, "error": "Match error"})],
        [LOGIN],
        error=err(ServiceError, 400, "unexpected answer", '("Match error")'),
    ),
]

# -- storage and logout: flows that read a session as an Account ----------------------------


def account(kind: str = "password", user_id: str | None = USER_ID) -> Account:
    return Account(
        alias="rc", url=URL, token=Secret(ISSUED), user_id=user_id, username="alice", kind=kind
    )


AUTH = {"X-Auth-Token": secret(ISSUED), "X-User-Id": USER_ID}
STATISTICS = call("GET", f"{URL}/api/v1/statistics", headers=AUTH)
STATS = {"uploadsTotal": 3, "uploadsTotalSize": 123456, "totalMessages": 12345, "success": True}
NO_VIEW_STATISTICS = Has("no per-user storage quota", "permission view-statistics")


def storage(**given: Any) -> Any:
    return lambda: SERVICE.storage_flow(account(**given))


def not_permitted(status: int, body: Any) -> Row:
    return Row(
        f"storage: {status} {body!r} -> an empty table, view-statistics",
        storage(),
        [(status, body)],
        [STATISTICS],
        fields={"rows": [], "note": NO_VIEW_STATISTICS},
    )


STORAGE_ROWS = [
    Row(
        "storage: GET /api/v1/statistics -> server-wide uploads, their size, messages",
        storage(),
        [(200, STATS)],
        [STATISTICS],
        fields={
            "rows": [
                {"item": "uploads", "value": 3, "unit": "files", "human": "3 files"},
                {"item": "uploads size", "value": 123456, "unit": "bytes", "human": "120.6 KiB"},
                {
                    "item": "messages",
                    "value": 12345,
                    "unit": "messages",
                    "human": "12,345 messages",
                },
            ],
            "note": Has("no per-user quota", "server-wide"),
        },
    ),
    not_permitted(400, {"success": False, "error": "error-not-allowed"}),  # a plain Error
    not_permitted(400, {"success": False, "error": "Not allowed [error-not-allowed]"}),
    not_permitted(400, {"success": False, "error": "x", "errorType": "error-unauthorized"}),
    not_permitted(403, {"success": False, "error": "unauthorized"}),
    Row(
        "storage: another 400 -> ServiceError",
        storage(),
        [(400, {"success": False, "error": "error-invalid-params"})],
        [STATISTICS],
        error=err(ServiceError, 400, "statistics failed", "unexpected answer"),
    ),
    Row(
        "storage: 401 -> SessionExpired",
        storage(),
        [(401, {"status": "error", "message": "You must be logged in"})],
        [STATISTICS],
        error=err(SessionExpired, 401, "session 'rc' was refused", "%login rocketchat --as rc"),
    ),
    Row(
        "storage: figures of the wrong type are left out",
        storage(),
        [(200, {"uploadsTotal": "3", "uploadsTotalSize": True, "totalMessages": 7})],
        [STATISTICS],
        fields={
            "rows": [{"item": "messages", "value": 7, "unit": "messages", "human": "7 messages"}]
        },
    ),
    Row(
        "storage: 429 -> RateLimited",
        storage(),
        [(429, TOO_MANY, {"Retry-After": "5"})],
        [STATISTICS],
        error=err(RateLimited, 429, "statistics failed", retry_after=5.0),
    ),
    Row(
        "storage: a session without a user id sends an empty X-User-Id",
        storage(user_id=None),
        [(200, STATS)],
        [call("GET", f"{URL}/api/v1/statistics", headers={**AUTH, "X-User-Id": ""})],
        fields={"note": Has("server-wide")},
    ),
]

LOGOUT_CALL = call("POST", f"{URL}/api/v1/logout", headers=AUTH)
LOGGED_OUT = (200, {"status": "success", "data": {"message": "You've been logged out!"}})


def logout(kind: str, revoke: bool, *answers: Any) -> Row:
    sends = kind == "password" or revoke
    return Row(
        f"logout: {kind}, revoke={revoke} -> {'POST /api/v1/logout' if sends else 'nothing sent'}",
        lambda: SERVICE.logout_flow(account(kind), revoke),
        list(answers) if sends else [],
        [LOGOUT_CALL] if sends else [],
        returns=None,
    )


LOGOUT_ROWS = [
    logout(kind, revoke, LOGGED_OUT)
    for kind in ("password", "resume", "personal-access-token")
    for revoke in (False, True)
]
LOGOUT_ROWS += [
    Row(
        "logout: 401, the token was already gone -> done",
        lambda: SERVICE.logout_flow(account(), False),
        [(401, {"status": "error", "message": "You must be logged in"})],
        [LOGOUT_CALL],
        returns=None,
    ),
    Row(
        "logout: 200 with no body -> done",
        lambda: SERVICE.logout_flow(account(), False),
        [(200, b"")],
        [LOGOUT_CALL],
        returns=None,
    ),
    Row(
        "logout: 500 -> ServiceError",
        lambda: SERVICE.logout_flow(account(), False),
        [(500, {})],
        [LOGOUT_CALL],
        error=err(ServiceError, 500, "logout failed", "the server had an error"),
    ),
    Row(
        "logout: 200 that is not JSON -> ServiceError",
        lambda: SERVICE.logout_flow(account(), False),
        [(200, "<html></html>", {"content-type": "text/html"})],
        [LOGOUT_CALL],
        error=err(ServiceError, 200, "logout failed", "not the JSON object"),
    ),
    Row(
        "logout: 429 -> RateLimited",
        lambda: SERVICE.logout_flow(account(), True),
        [(429, TOO_MANY)],
        [LOGOUT_CALL],
        error=err(RateLimited, 429, "logout failed"),
    ),
]

# -- the data calls' one flow: RocketChatSession._get ---------------------------------------


def rc_session() -> Any:
    return session(SERVICE, URL, Granted(Secret(ISSUED), "alice", "password", USER_ID), "rc")


def get(endpoint: str, query: dict[str, str], what: str, max_bytes: int | None = None) -> Any:
    return lambda: rc_session()._get(endpoint, query, what, max_bytes)


def limited_after(endpoint: str) -> Any:
    """``_get`` of ``endpoint``, returning whether the session now paces that route."""

    def flow() -> Any:
        used = rc_session()
        yield from used._get(endpoint, {}, "room list")
        return used._limits.limited(endpoint)

    return flow


ROOMS_GET = call("GET", f"{URL}/api/v1/rooms.get", headers=AUTH)
HISTORY_QUERY = {"roomId": "GENERAL", "showThreadMessages": "true", "count": "0"}

GET_ROWS = [
    Row(
        "_get: GET /api/v1/<route> with both auth headers; a 200 goes back to the caller",
        get("rooms.get", {}, "room list"),
        [(200, {"update": [], "remove": [], "success": True})],
        [ROOMS_GET],
        fields={"status_code": 200},
    ),
    Row(
        "_get: the query is in the URL, and the answer's bound is the caller's",
        get("channels.history", HISTORY_QUERY, "messages", 4_000_000),
        [(200, {"messages": [], "success": True})],
        [
            call(
                "GET",
                f"{URL}/api/v1/channels.history?roomId=GENERAL&showThreadMessages=true&count=0",
                headers=AUTH,
                max_bytes=4_000_000,
            )
        ],
        fields={"status_code": 200},
    ),
    Row(
        "_get: 401 -> SessionExpired",
        get("rooms.get", {}, "room list"),
        [(401, {"status": "error", "message": "You must be logged in"})],
        [ROOMS_GET],
        error=err(SessionExpired, 401, "room list failed", "session 'rc' was refused"),
    ),
    Row(
        "_get: 403 -> AccessDenied quoting the server",
        get("rooms.get", {}, "room list"),
        [(403, {**ERROR, "error": "User does not have the permissions required"})],
        [ROOMS_GET],
        error=err(AccessDenied, 403, "this user may not read it", "permissions required"),
    ),
    Row(
        "_get: 429 -> RateLimited, for the pacer to wait out",
        get("rooms.get", {}, "room list"),
        lambda: [(429, TOO_MANY, rate_limit_reset_in(20))],
        [ROOMS_GET],
        error=err(RateLimited, 429, "room list failed", retry_after=Near(20, within=5)),
    ),
    Row(
        "_get: 400 error-room-not-found goes back to the caller, who reads its code",
        get("rooms.info", {"roomName": "nowhere"}, "messages"),
        [
            (
                400,
                {
                    **ERROR,
                    "error": 'The required "roomId" or "roomName" param provided '
                    "does not match any channel [error-room-not-found]",
                },
            )
        ],
        [call("GET", f"{URL}/api/v1/rooms.info?roomName=nowhere", headers=AUTH)],
        fields={"status_code": 400},
    ),
    Row(
        "_get: X-RateLimit headers are kept for the route: the session paces it",
        limited_after("rooms.get"),
        lambda: [(200, {"update": []}, rate_limit_reset_in(60))],
        [ROOMS_GET],
        returns=True,
    ),
    Row(
        "_get: no X-RateLimit headers (an admin) -> the route is not paced",
        limited_after("rooms.get"),
        [(200, {"update": []})],
        [ROOMS_GET],
        returns=False,
    ),
]


@pytest.mark.parametrize("row", params(LOGIN_ROWS))
def test_login(row: Row) -> None:
    check(row, SERVICE, SECRETS)


@pytest.mark.parametrize("row", params(STORAGE_ROWS))
def test_storage(row: Row) -> None:
    check(row, SERVICE, SECRETS)


@pytest.mark.parametrize("row", params(LOGOUT_ROWS))
def test_logout(row: Row) -> None:
    check(row, SERVICE, SECRETS)


@pytest.mark.parametrize("row", params(GET_ROWS))
def test_get(row: Row) -> None:
    check(row, SERVICE, SECRETS)
