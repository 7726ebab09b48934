"""Rocket.Chat: team chat, with the two-factor login its popular Python client lacks.

``POST /api/v1/login`` takes a JSON body: a password login (with ``code`` on
the second try when the server answers ``totp-required``), or a resume token.
A personal access token is not a login: it is checked with ``GET /api/v1/me``.
Every later call carries ``X-Auth-Token`` and ``X-User-Id``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .._calls import Call, Flow
from ..errors import AccessDenied, InvalidCode, TwoFactorRequired, UsageError
from ..secret import Secret
from ..tables import Storage
from .answers import (
    body_value,
    expired,
    fail,
    failed,
    field_of,
    figure,
    json_body,
    parsed,
    text_or_none,
)
from .base import PASSWORD, Account, Credentials, Granted, Method, Service
from .fields import COMMON, USER_ID

if TYPE_CHECKING:
    import httpx


#: Accounts_LoginExpiration's default; a server may be set otherwise.
LOGIN_LIFETIME = timedelta(days=90)
PROFILE_FIELDS = (
    "name",
    "username",
    "emails",
    "status",
    "roles",
    "utcOffset",
    "active",
    "avatarUrl",
)
#: The server-wide figures of GET /api/v1/statistics that stand in for storage.
STATISTICS = (
    ("uploads", "uploadsTotal", "files"),
    ("uploads size", "uploadsTotalSize", "bytes"),
    ("messages", "totalMessages", "messages"),
)
BLOCKED = {
    "error-login-blocked-for-user": "the account is blocked after too many failed logins",
    "error-login-blocked-for-ip": "this address is blocked after too many failed logins",
}
#: What a route answers (400 or 403) when the user lacks a permission it needs.
NOT_PERMITTED = frozenset({"error-not-allowed", "error-unauthorized", "unauthorized"})


def error_codes(response: httpx.Response) -> set[str]:
    """The error codes of a Rocket.Chat failure: ``errorType``, ``error`` (a string; newer
    servers' wrong-password answer has the number 401 there) and the code in brackets at the
    end of the error text (``... [error-room-not-found]``). A ``Meteor.Error`` thrown in a
    route arrives as 400 with these, whatever it means: the codes, not the status, say what
    happened."""
    body = parsed(response)
    if not isinstance(body, dict):
        return set()
    codes = {code for code in (body.get("errorType"), body.get("error")) if isinstance(code, str)}
    codes.update(re.findall(r"\[([\w-]+)\]", str(body.get("error", ""))))
    return codes


class RocketChat(Service):
    name = "rocketchat"
    title = "Rocket.Chat"
    #: None: Rocket.Chat is self-hosted, and a login without a URL must not go to a public
    #: community server (open.rocket.chat) with someone's password: it asks for the server.
    default_url = None
    example_url = "https://chat.example.com"
    fields = (*COMMON, USER_ID)
    #: A token without a user id is a resume token (from an earlier login), not a personal one.
    methods = (
        PASSWORD,
        Method("token", "personal access token", ("user_id", "token"), optional=("user_id",)),
    )

    def check(self, creds: Credentials) -> None:
        if creds.user_id is not None and creds.token is None:
            raise UsageError(
                "Rocket.Chat: user_id= goes with token= (a personal access token). Give both, "
                "or log in with username= and password=.",
                service=self.name,
            )
        super().check(creds)

    def login_flow(self, creds: Credentials) -> Flow[Granted]:
        if creds.token is not None and creds.user_id is not None:
            return (yield from self.check_access_token(creds))
        if creds.token is not None:
            response = yield Call("POST", f"{creds.url}/api/v1/login", json={"resume": creds.token})
            kind = "resume"
        else:
            body: dict[str, Any] = {"user": creds.username, "password": creds.password}
            if creds.code is not None:
                body["code"] = creds.code
            response = yield Call("POST", f"{creds.url}/api/v1/login", json=body)
            kind = "password"
        if response.status_code == 401:
            raise self.login_refused(response, creds)
        data = json_body(self, response, "login").get("data")
        if not isinstance(data, dict):
            data = {}
        status = response.status_code
        token = field_of(self, data, "authToken", str, "login", status)
        user_id = field_of(self, data, "userId", str, "login", status)
        me = data.get("me")
        if not isinstance(me, dict):
            me = {}
        return Granted(
            token=Secret(token),
            username=text_or_none(me.get("username")) or creds.username,
            user_id=user_id,
            kind=kind,
            expires_at=datetime.now(timezone.utc) + LOGIN_LIFETIME,
            profile=self.describe(me),
        )

    def check_access_token(self, creds: Credentials) -> Flow[Granted]:
        assert creds.token is not None and creds.user_id is not None
        headers: dict[str, str | Secret] = {"X-Auth-Token": creds.token, "X-User-Id": creds.user_id}
        response = yield Call("GET", f"{creds.url}/api/v1/me", headers)
        if response.status_code == 401:
            raise fail(
                self,
                AccessDenied,
                "token check",
                401,
                "the personal access token and user id were refused. Check both (My Account > "
                "Personal Access Tokens shows the user id when the token is made).",
            )
        me = json_body(self, response, "token check")
        return Granted(
            token=creds.token,
            username=text_or_none(me.get("username")),
            user_id=creds.user_id,
            kind="personal-access-token",
            profile=self.describe(me),
        )

    def login_refused(self, response: httpx.Response, creds: Credentials) -> Exception:
        codes = error_codes(response)
        details = body_value(response, "details")
        method = text_or_none(details.get("method")) if isinstance(details, dict) else None
        if "totp-required" in codes:
            return TwoFactorRequired(
                f"{failed(self, 'login', 401)}: this account uses two-factor "
                f"authentication ({method or 'unknown method'}). Log in again with the code: "
                f"nbauth.login('rocketchat', ..., code='123456').",
                method=method if method in ("totp", "email") else "unknown",
                service=self.name,
                status=401,
            )
        if "totp-invalid" in codes:
            return fail(
                self,
                InvalidCode,
                "login",
                401,
                "the two-factor code was wrong or has expired. Try again with a fresh code.",
            )
        if "totp-max-attempts" in codes:
            return fail(
                self,
                InvalidCode,
                "login",
                401,
                "too many wrong e-mail codes: the code Rocket.Chat e-mailed is dead now. Log in "
                "again without code=, which has a new code e-mailed, and use that one.",
            )
        blocked = next((BLOCKED[code] for code in sorted(codes) if code in BLOCKED), None)
        if blocked is not None:
            return fail(self, AccessDenied, "login", 401, f"{blocked}. Wait a few minutes.")
        if creds.token is not None:
            return fail(
                self,
                AccessDenied,
                "resume",
                401,
                "the resume token was refused (expired or logged out). A personal access "
                "token also needs user_id=.",
            )
        return fail(
            self,
            AccessDenied,
            "login",
            401,
            "wrong username or password. Check them and try again.",
        )

    def auth_headers(self, session: Account) -> dict[str, str | Secret]:
        return {"X-Auth-Token": session.token, "X-User-Id": session.user_id or ""}

    def storage_flow(self, session: Account) -> Flow[Storage]:
        response = yield Call("GET", f"{session.url}/api/v1/statistics", self.auth_headers(session))
        if response.status_code == 401:
            raise expired(self, session, "statistics", 401)
        # Without view-statistics: 400 error-not-allowed (getLastStatistics throws a plain
        # Error); a server or proxy that checks the permission itself says 403.
        refused = response.status_code == 400 and error_codes(response) & NOT_PERMITTED
        if response.status_code == 403 or refused:
            return Storage(
                [],
                "Rocket.Chat has no per-user storage quota, and this user may not read the "
                "server's upload statistics (permission view-statistics).",
            )
        from ..tables import human_bytes

        stats = json_body(self, response, "statistics")
        rows = []
        for item, key, unit in STATISTICS:
            value = figure(stats.get(key))
            if value is not None:
                human = human_bytes(value) if unit == "bytes" else f"{value:,} {unit}"
                rows.append({"item": item, "value": value, "unit": unit, "human": human})
        return Storage(rows, "Rocket.Chat has no per-user quota: these are server-wide figures.")

    def logout_flow(self, session: Account, revoke: bool) -> Flow[None]:
        # The server's logout deletes the token that calls it, whatever its kind. A token given
        # without its user id logs in as a resume token even when it is a personal access
        # token (the server keeps both kinds together), and nothing in the answer tells them
        # apart: only a token nbauth got with a password is ended by a plain logout.
        if session.kind != "password" and not revoke:
            return
        response = yield Call("POST", f"{session.url}/api/v1/logout", self.auth_headers(session))
        if response.status_code == 401:
            return  # the token was already gone: nothing left to end
        if response.status_code >= 400 or response.content.strip():
            json_body(self, response, "logout")

    @staticmethod
    def describe(me: dict[str, Any]) -> dict[str, Any]:
        return {key: me[key] for key in PROFILE_FIELDS if key in me}
