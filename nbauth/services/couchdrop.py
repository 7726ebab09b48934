"""Couchdrop: cloud SFTP and file transfer.

Two hosts share one token, sent in a header named ``token``: the management
API (``/authenticate``, ``/manage/...``) and the file host (``/file/...``).
A password login is one form POST; the account details that make up the rest
of the profile come from ``/manage/account`` on first use. An admin API token
is checked with that same call before it is stored. See docs/assumptions.md
for the parts of this protocol that Couchdrop does not document.

Couchdrop answers every ``/manage`` route with the same 403 ``{"err": "Token was not
valid"}`` for a dead token and for a good token of a user who is not an admin (the
2016 server's ``routes_account.py``). So a 403 there is checked with a call every
user may make, ``POST /file/lstat`` of ``/`` on the file host (``token_check``):
if the file host takes the token, the user is just not an admin, and the profile
and storage say what only an admin may read; only a token the file host refuses
too is an expired session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from .._calls import Call, Flow
from ..errors import AccessDenied, InvalidCode, TwoFactorRequired
from ..secret import Secret
from ..tables import Storage
from .answers import (
    body_value,
    error_text,
    expired,
    fail,
    failed,
    field_of,
    json_body,
    server_says,
    text_or_none,
)
from .base import PASSWORD, Account, Credentials, Granted, Method, Service

if TYPE_CHECKING:
    import httpx


API_HOST = "https://api.couchdrop.io"
FILE_HOST = "https://fileio.couchdrop.io"
#: Form field that carries the two-factor code. Undocumented: assumed, see docs/assumptions.md.
CODE_FIELD = "code"
#: The fields of ``/manage/account``'s ``account`` the profile keeps (the 2016 server's
#: ``routes_account.py``): an allow-list, as Rocket.Chat's and ioGates' profiles have, so that a
#: field a server adds (an API token, a TOTP seed, billing data) is never shown.
PROFILE_FIELDS = ("username", "email_address", "subscription_type", "endpoint__valid_public_key")
#: The profile's ``account`` for a user whose token is good but not an admin's: Couchdrop shows
#: the account details to admins only. Short, so a table shows it whole (pandas cuts at 50).
ADMIN_ONLY = "admins only (the token is valid, not an admin's)"


class Couchdrop(Service):
    name = "couchdrop"
    title = "Couchdrop"
    default_url = API_HOST
    options: ClassVar[dict[str, str | None]] = {"system": "nbauth", "fileio_url": None}
    methods = (PASSWORD, Method("token", "admin API token", ("token",)))

    def login_flow(self, creds: Credentials) -> Flow[Granted]:
        details: dict[str, Any] = {"fileio_url": self.file_host(creds)}
        if creds.token is not None:
            probe = Call("GET", f"{creds.url}/manage/account", {"token": creds.token})
            response = yield probe
            if response.status_code in (401, 403):
                host = details["fileio_url"]
                refused = yield from self.token_refused(host, creds.token, "token check")
                if refused is None:  # a good token of a user who is not an admin
                    profile = self.describe(None, "user", None)
                    profile["account"] = ADMIN_ONLY
                    return Granted(
                        token=creds.token,
                        username=None,
                        kind="token",
                        profile=profile,
                        details=details,
                    )
                raise fail(
                    self,
                    AccessDenied,
                    "token check",
                    refused,
                    f"the token was refused{server_says(response)}. Use an admin API token "
                    "from Couchdrop's admin page (Admin > API Tokens), or log in with username "
                    "and password.",
                )
            body = json_body(self, response, "token check")
            account = self.account(body)
            username = text_or_none(account.get("username"))
            return Granted(
                token=creds.token,
                username=username,
                kind="admin-token",
                profile=self.describe(username, "admin", account),
                details=details,
            )

        assert creds.username is not None and creds.password is not None
        form: dict[str, str | Secret] = {
            "username": creds.username,
            "password": creds.password,
            "system": creds.options["system"] or "nbauth",
        }
        if creds.code is not None:
            form[CODE_FIELD] = creds.code
        response = yield Call("POST", f"{creds.url}/authenticate", data=form)
        status = response.status_code
        if status == 401 and creds.code is not None:
            raise fail(
                self,
                InvalidCode,
                "login",
                status,
                f"the two-factor code was not accepted{server_says(response)}. Try again "
                "with a fresh code. If Couchdrop never accepts a code from the API, use an "
                "admin API token instead: nbauth.login('couchdrop', token=...).",
            )
        if status == 401:
            method = body_value(response, "method")
            raise TwoFactorRequired(
                f"{failed(self, 'login', 401)}: this account uses two-factor "
                "authentication. Log in again with the code: "
                "nbauth.login('couchdrop', ..., code='123456'), or use an admin API token.",
                method=method if method in ("totp", "email", "sms") else "unknown",
                service=self.name,
                status=status,
            )
        if status == 403:
            raise fail(
                self,
                AccessDenied,
                "login",
                status,
                f"wrong username or password, or the account is not allowed to sign in"
                f"{server_says(response)}. Check them and try again.",
            )
        body = json_body(self, response, "login")
        token = field_of(self, body, "token", str, "login", status)
        return Granted(
            token=Secret(token),
            username=creds.username,
            kind="password",
            profile=self.describe(creds.username, "session", None),
            profile_complete=False,
            details=details,
        )

    def auth_headers(self, session: Account) -> dict[str, str | Secret]:
        return {"token": session.token}

    def profile_flow(self, session: Account) -> Flow[dict[str, Any]]:
        response = yield Call("GET", f"{session.url}/manage/account", self.auth_headers(session))
        profile = session.profile_seed
        if response.status_code in (401, 403):
            yield from self.not_admin(session, "profile", response.status_code)
            profile["account"] = ADMIN_ONLY
            return profile
        account = self.account(json_body(self, response, "profile"))
        profile.update(self.describe(session.username, profile.get("token_kind"), account))
        return profile

    def storage_flow(self, session: Account) -> Flow[Storage]:
        call = Call("GET", f"{session.url}/manage/account/storage", self.auth_headers(session))
        response = yield call
        if response.status_code in (401, 403):
            yield from self.not_admin(session, "storage", response.status_code)
            who = f"'{session.username}'" if session.username else "this account"
            return Storage(
                [],
                f"No storage connections shown: Couchdrop lets only admins read them, and "
                f"{who} is not one (its token is valid: the file host accepted it). Log in as "
                "an admin, or with an admin API token, to see them.",
            )
        entries = json_body(self, response, "storage").get("storage")
        if not isinstance(entries, list):
            return Storage(
                [],
                "Couchdrop's answer holds no 'storage' list. Check that the URL points to the "
                "Couchdrop API.",
            )
        rows = [
            {
                "path": e.get("path"),
                "store_type": e.get("store_type"),
                "subpath": e.get("subpath"),
                "id": e.get("id"),
            }
            for e in entries
            if isinstance(e, dict)
        ]
        note = None if rows else "The account has no storage connections."
        return Storage(rows, note)

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def file_host(creds: Credentials) -> str:
        """The file host: given, or Couchdrop's own for its API host, or the API host itself."""
        given = creds.options.get("fileio_url")
        if given:
            return given.rstrip("/")
        if urlsplit(creds.url).netloc == urlsplit(API_HOST).netloc:
            return FILE_HOST
        return creds.url

    @staticmethod
    def account(body: dict[str, Any]) -> dict[str, Any]:
        account = body.get("account", body)
        return account if isinstance(account, dict) else {}

    @staticmethod
    def describe(
        username: str | None, kind: str | None, account: dict[str, Any] | None
    ) -> dict[str, Any]:
        profile: dict[str, Any] = {"username": username, "token_kind": kind}
        if account:
            profile["account"] = {k: account[k] for k in PROFILE_FIELDS if k in account}
        return profile

    def not_admin(self, session: Account, what: str, status: int) -> Flow[None]:
        """After a 401/403 from ``/manage``: return when the session's token is good (its user
        is just not an admin), else raise SessionExpired. Checked at every such answer, not
        remembered: a token may die between two calls, and a saved login is checked so."""
        host = str(session.details.get("fileio_url") or session.url)
        refused = yield from self.token_refused(host, session.token, what)
        if refused is not None:
            raise expired(self, session, what, refused)

    def token_refused(self, host: str, token: Secret, what: str) -> Flow[int | None]:
        """None when the file host ``host`` accepts ``token``, else the status it refused it
        with. The check is ``POST /file/lstat`` of ``/``, which every user may make: a refusal
        of the path (403 for a permission, 404) still means the token was taken; 401, or a 403
        that says the token is invalid, means it was not. Any other answer (rate limit, server
        error) raises the error it means."""
        response = yield Call("POST", f"{host}/file/lstat", {"token": token}, data={"path": "/"})
        status = response.status_code
        if status == 401 or (status == 403 and self.token_invalid(response)):
            return status
        if status not in (403, 404):
            json_body(self, response, what)
        return None

    def token_invalid(self, response: httpx.Response) -> bool:
        """Couchdrop answers 403 for a bad token and for a missing permission alike;
        only the text tells them apart."""
        text = error_text(response).lower()
        return "invalid" in text or "not valid" in text
