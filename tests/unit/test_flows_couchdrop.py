"""Couchdrop's protocol, row by row as docs/assumptions.md tells it: each row is the server's
answer(s), and the calls the flow makes with the result or error it ends in (flowtable.py).

Rows of the Couchdrop table that are no flow, and so are not here:
- "Token lifetime" beyond ``expires_at`` being None (the sandbox's one hour: sandbox only);
- "Entry fields" beyond one entry's ``size:`` and modtime, and "Listing order": how ``s.ls``
  turns a listing into a table (``columns``, ``frame``), not what it sends or reads;
- "Sandbox permissions": the sandbox's accounts.
The transport's own rules (503 retries, bounded answers, masking of echoed secrets) are
nbauth._http's and nbauth._redact's, not a flow's: drive() plays the answers without them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from flowtable import Account, Has, Row, call, check, err, params, secret, session

from nbauth import services
from nbauth._calls import WHOLE
from nbauth.errors import (
    AccessDenied,
    AlreadyExists,
    InvalidCode,
    NotFound,
    RateLimited,
    ServiceError,
    SessionExpired,
    TwoFactorRequired,
    UsageError,
)
from nbauth.explore import couchdrop as files
from nbauth.secret import Secret
from nbauth.services.base import Credentials, Granted
from nbauth.services.couchdrop import ADMIN_ONLY, API_HOST, FILE_HOST

SERVICE = services.get("couchdrop")
URL = "https://cd.example.com"
#: A session's file host, apart from its API host, to see which host each call goes to.
FILES = "https://files.cd.example.com"
PASSWORD = "pw-Couchdrop-7d1e5a"
CODE = "482913"
TOKEN = "tk-admin-5f0c2b9e8d7a6b1c"  # an admin API token a user gives
ISSUED = "is-session-0b6f3e8a2d94c1"  # what /authenticate hands out
SECRETS = (PASSWORD, CODE, TOKEN, ISSUED)
KINDS = {"password": "password", "code": "password", "token": "token"}


def creds(url: str = URL, options: dict[str, str] | None = None, **values: str) -> Credentials:
    """Credentials as a checked LoginRequest makes them: secrets wrapped by their field's kind,
    the service's defaults under the options given."""
    wrapped = {k: Secret(v, KINDS[k]) if k in KINDS else v for k, v in values.items()}
    defaults = {k: v for k, v in SERVICE.options.items() if v is not None}
    return Credentials(url, wrapped, {**defaults, **(options or {})})


def login(url: str = URL, options: dict[str, str] | None = None, **values: str) -> Any:
    return lambda: SERVICE.login_flow(creds(url, options, **values))


# -- the calls ----------------------------------------------------------------------------

FORM = {"username": "alice", "password": secret(PASSWORD, "password"), "system": "nbauth"}
AUTHENTICATE = call("POST", f"{URL}/authenticate", data=FORM)
WITH_CODE = call("POST", f"{URL}/authenticate", data={**FORM, "code": secret(CODE, "password")})
GIVEN = {"token": secret(TOKEN)}
MANAGE_ACCOUNT = call("GET", f"{URL}/manage/account", headers=GIVEN)


def lstat_root(host: str = URL, token: str = TOKEN) -> dict[str, Any]:
    """The token check on the file host: POST /file/lstat of /, which every user may make."""
    return call("POST", f"{host}/file/lstat", headers={"token": secret(token)}, data={"path": "/"})


# -- the answers --------------------------------------------------------------------------

ACCOUNT = {
    "username": "admin",
    "email_address": "admin@example.com",
    "subscription_type": "business",
    "endpoint__valid_public_key": True,
}
#: A /manage/account answer with fields the profile must not keep (an allow-list).
ACCOUNT_ANSWER = (200, {"account": {**ACCOUNT, "api_secret": "s3cr3t", "stripe__customer": "c"}})
NOT_VALID = (403, {"err": "Token was not valid"})  # a dead token, or a good non-admin's (2016)
INVALID = (403, {"error": "Authentication Invalid"})
NO_PERMISSION = (403, {"error": "you do not have the right permissions"})
LSTAT_ROOT = (200, {"lstat": {"filename": "/", "size": 0, "modtime": 0, "is_dir": True}})
RATE_LIMITED = (429, {"error": "Too many requests"}, {"Retry-After": "30"})

PASSWORD_GRANTED = {
    "token": secret(ISSUED),
    "username": "alice",
    "user_id": None,
    "kind": "password",
    "expires_at": None,  # Couchdrop tells no lifetime
    "profile": {"username": "alice", "token_kind": "session"},
    "profile_complete": False,  # /manage/account on first use
    "storage": None,
    "details": {"fileio_url": URL},
}
USER_TOKEN_GRANTED = {
    "token": secret(TOKEN),
    "username": None,
    "kind": "token",
    "profile": {"username": None, "token_kind": "user", "account": ADMIN_ONLY},
    "details": {"fileio_url": URL},
}


def two_factor(method: str, body: Any) -> Row:
    return Row(
        f"login: two-factor needed, 401 {body!r} -> method {method}",
        login(username="alice", password=PASSWORD),
        [(401, body)],
        [AUTHENTICATE],
        error=err(TwoFactorRequired, 401, "two-factor", "code=", method=method),
    )


def good_user_token(lstat: Any, name: str) -> Row:
    return Row(
        f"token: 403 on /manage, file host {name} -> a user's token, not an admin's",
        login(token=TOKEN),
        [NOT_VALID, lstat],
        [MANAGE_ACCOUNT, lstat_root()],
        fields=USER_TOKEN_GRANTED,
    )


LOGIN = [
    Row(
        "login: POST /authenticate, form username password system -> 200 token",
        login(username="alice", password=PASSWORD),
        [(200, {"token": ISSUED})],
        [AUTHENTICATE],
        fields=PASSWORD_GRANTED,
    ),
    Row(
        "login: system= goes in the form",
        login(options={"system": "jupyterhub"}, username="alice", password=PASSWORD),
        [(200, {"token": ISSUED})],
        [call("POST", f"{URL}/authenticate", data={**FORM, "system": "jupyterhub"})],
        fields={"kind": "password"},
    ),
    Row(
        "login: an empty system= is nbauth",
        login(options={"system": ""}, username="alice", password=PASSWORD),
        [(200, {"token": ISSUED})],
        [AUTHENTICATE],
        fields={"kind": "password"},
    ),
    Row(
        "login: on Couchdrop's API host the file host is fileio.couchdrop.io",
        login(API_HOST, username="alice", password=PASSWORD),
        [(200, {"token": ISSUED})],
        [call("POST", f"{API_HOST}/authenticate", data=FORM)],
        fields={"details": {"fileio_url": FILE_HOST}},
    ),
    Row(
        "login: fileio_url= is the file host, without its trailing slash",
        login(
            options={"fileio_url": "https://io.example.org/"}, username="alice", password=PASSWORD
        ),
        [(200, {"token": ISSUED})],
        [AUTHENTICATE],
        fields={"details": {"fileio_url": "https://io.example.org"}},
    ),
    Row(
        "login: the code goes as one more form field, code",
        login(username="alice", password=PASSWORD, code=CODE),
        [(200, {"token": ISSUED})],
        [WITH_CODE],
        fields=PASSWORD_GRANTED,
    ),
    Row(
        "login: wrong credentials 403 -> AccessDenied, the server's text from error",
        login(username="alice", password=PASSWORD),
        [(403, {"error": "Invalid username or password"})],
        [AUTHENTICATE],
        error=err(
            AccessDenied, 403, "wrong username or password", '("Invalid username or password")'
        ),
    ),
    Row(
        "login: wrong credentials 403 -> AccessDenied, the server's text from err",
        login(username="alice", password=PASSWORD),
        [(403, {"err": "Bad credentials"})],
        [AUTHENTICATE],
        error=err(AccessDenied, 403, "wrong username or password", '("Bad credentials")'),
    ),
    Row(
        "login: 403 with error and err: error is read first",
        login(username="alice", password=PASSWORD),
        [(403, {"err": "second", "error": "first"})],
        [AUTHENTICATE],
        error=err(AccessDenied, 403, '("first")'),
    ),
    two_factor("totp", {"error": "2FA required", "method": "totp"}),
    two_factor("email", {"method": "email"}),
    two_factor("sms", {"method": "sms"}),
    two_factor("unknown", {"method": "push"}),
    two_factor("unknown", {"method": ["totp"]}),
    two_factor("unknown", ""),
    Row(
        "login: wrong code, 401 while a code was sent -> InvalidCode",
        login(username="alice", password=PASSWORD, code=CODE),
        [(401, {"error": "2FA required", "method": "totp"})],
        [WITH_CODE],
        error=err(InvalidCode, 401, "two-factor code was not accepted", "admin API token"),
    ),
    Row(
        "login: rate limited 429 with Retry-After -> RateLimited, retry_after",
        login(username="alice", password=PASSWORD),
        [RATE_LIMITED],
        [AUTHENTICATE],
        error=err(RateLimited, 429, "too many requests", "Wait 30 s", retry_after=30.0),
    ),
    Row(
        "login: rate limited 429 without a wait",
        login(username="alice", password=PASSWORD),
        [(429, {})],
        [AUTHENTICATE],
        error=err(RateLimited, 429, "Wait a minute", retry_after=None),
    ),
    Row(
        "login: rate limited 429 with a sub-second Retry-After says a second, not 0 s",
        login(username="alice", password=PASSWORD),
        [(429, {}, {"Retry-After": "0.4"})],
        [AUTHENTICATE],
        error=err(RateLimited, 429, "Wait a second", retry_after=0.4),
    ),
    Row(
        "login: server error 500 -> ServiceError with the server's text",
        login(username="alice", password=PASSWORD),
        [(500, {"err": "database is down"})],
        [AUTHENTICATE],
        error=err(ServiceError, 500, "the server had an error", '("database is down")'),
    ),
    Row(
        "login: 502 HTML page -> ServiceError",
        login(username="alice", password=PASSWORD),
        [(502, "<html><h1>Bad Gateway</h1></html>", {"content-type": "text/html"})],
        [AUTHENTICATE],
        error=err(ServiceError, 502, "the server had an error", "Try again later"),
    ),
    Row(
        "login: 200 that is not JSON -> ServiceError naming its content type",
        login(username="alice", password=PASSWORD),
        [(200, "<html>sign in</html>", {"content-type": "text/html; charset=utf-8"})],
        [AUTHENTICATE],
        error=err(ServiceError, 200, "not the JSON object", "(text/html)"),
    ),
    Row(
        "login: 200 with a JSON list -> ServiceError",
        login(username="alice", password=PASSWORD),
        [(200, [ISSUED])],
        [AUTHENTICATE],
        error=err(ServiceError, 200, "not the JSON object", "(application/json)"),
    ),
    Row(
        "login: 200 without token -> ServiceError",
        login(username="alice", password=PASSWORD),
        [(200, {"result": "ok"})],
        [AUTHENTICATE],
        error=err(ServiceError, 200, "no usable 'token'"),
    ),
    Row(
        "login: token of the wrong type -> ServiceError",
        login(username="alice", password=PASSWORD),
        [(200, {"token": 12345})],
        [AUTHENTICATE],
        error=err(ServiceError, 200, "no usable 'token'"),
    ),
    Row(
        "login: token no header can carry (a space) -> ServiceError",
        login(username="alice", password=PASSWORD),
        [(200, {"token": "is session"})],
        [AUTHENTICATE],
        error=err(ServiceError, 200, "no usable 'token'"),
    ),
    Row(
        "login: another status (404) -> ServiceError, check the URL",
        login(username="alice", password=PASSWORD),
        [(404, {"error": "Not Found"})],
        [AUTHENTICATE],
        error=err(ServiceError, 404, "unexpected answer", "Couchdrop API"),
    ),
]

TOKEN_LOGIN = [
    Row(
        "token: admin check GET /manage/account with token header -> admin-token",
        login(token=TOKEN),
        [ACCOUNT_ANSWER],
        [MANAGE_ACCOUNT],
        fields={
            "token": secret(TOKEN, "token"),
            "username": "admin",
            "kind": "admin-token",
            "expires_at": None,
            "profile": {"username": "admin", "token_kind": "admin", "account": ACCOUNT},
            "profile_complete": True,
            "details": {"fileio_url": URL},
        },
    ),
    Row(
        "token: an answer without 'account' is the account itself",
        login(token=TOKEN),
        [(200, {"username": "admin", "email_address": "admin@example.com"})],
        [MANAGE_ACCOUNT],
        fields={
            "username": "admin",
            "profile": {
                "username": "admin",
                "token_kind": "admin",
                "account": {"username": "admin", "email_address": "admin@example.com"},
            },
        },
    ),
    Row(
        "token: 'account' of the wrong type -> no account, no username",
        login(token=TOKEN),
        [(200, {"account": ["admin"]})],
        [MANAGE_ACCOUNT],
        fields={"username": None, "profile": {"username": None, "token_kind": "admin"}},
    ),
    good_user_token(LSTAT_ROOT, "lstat 200"),
    good_user_token(NO_PERMISSION, "lstat 403 permission"),
    good_user_token((404, {"error": "File or folder not found"}), "lstat 404"),
    Row(
        "token: on Couchdrop's API host the check goes to fileio.couchdrop.io",
        login(API_HOST, token=TOKEN),
        [NOT_VALID, LSTAT_ROOT],
        [call("GET", f"{API_HOST}/manage/account", headers=GIVEN), lstat_root(FILE_HOST)],
        fields={**USER_TOKEN_GRANTED, "details": {"fileio_url": FILE_HOST}},
    ),
    Row(
        "token: with fileio_url= the check goes there",
        login(options={"fileio_url": FILES}, token=TOKEN),
        [(401, {}), LSTAT_ROOT],
        [MANAGE_ACCOUNT, lstat_root(FILES)],
        fields={"kind": "token", "details": {"fileio_url": FILES}},
    ),
    Row(
        "token: refused on the file host too (lstat 401) -> AccessDenied",
        login(token=TOKEN),
        [NOT_VALID, (401, {})],
        [MANAGE_ACCOUNT, lstat_root()],
        error=err(
            AccessDenied, 401, "token was refused", '("Token was not valid")', "admin API token"
        ),
    ),
    Row(
        "token: refused on the file host too (lstat 403 Authentication Invalid) -> AccessDenied",
        login(token=TOKEN),
        [NOT_VALID, INVALID],
        [MANAGE_ACCOUNT, lstat_root()],
        error=err(AccessDenied, 403, "token was refused", "Admin > API Tokens"),
    ),
    Row(
        "token: 401 on /manage, lstat 403 'not valid' -> AccessDenied",
        login(token=TOKEN),
        [(401, {}), NOT_VALID],
        [MANAGE_ACCOUNT, lstat_root()],
        error=err(AccessDenied, 403, "token was refused"),
    ),
    Row(
        "token: lstat 500 -> ServiceError of the token check",
        login(token=TOKEN),
        [NOT_VALID, (500, {})],
        [MANAGE_ACCOUNT, lstat_root()],
        error=err(ServiceError, 500, "token check failed", "the server had an error"),
    ),
    Row(
        "token: lstat 429 -> RateLimited",
        login(token=TOKEN),
        [NOT_VALID, RATE_LIMITED],
        [MANAGE_ACCOUNT, lstat_root()],
        error=err(RateLimited, 429, "token check failed", retry_after=30.0),
    ),
    # docs/assumptions.md says "a 2xx" from /file/lstat means the token is good; the flow
    # also wants that 2xx to be a JSON object, as every answer of the API is.
    Row(
        "token: lstat 200 that is not JSON -> ServiceError",
        login(token=TOKEN),
        [NOT_VALID, (200, "<html></html>", {"content-type": "text/html"})],
        [MANAGE_ACCOUNT, lstat_root()],
        error=err(ServiceError, 200, "not the JSON object"),
    ),
    Row(
        "token: /manage/account 500 -> ServiceError, no file-host check",
        login(token=TOKEN),
        [(500, {})],
        [MANAGE_ACCOUNT],
        error=err(ServiceError, 500, "token check failed", "the server had an error"),
    ),
    Row(
        "token: /manage/account 200 not JSON -> ServiceError",
        login(token=TOKEN),
        [(200, "ok", {"content-type": "text/plain"})],
        [MANAGE_ACCOUNT],
        error=err(ServiceError, 200, "not the JSON object", "(text/plain)"),
    ),
]

# -- profile, storage, logout: flows that read a session as an Account ------------------------

ISSUED_HEADER = {"token": secret(ISSUED)}


def account(username: str | None = "alice", details: dict[str, Any] | None = None) -> Account:
    """A password login's session: its file host apart from its API host."""
    return Account(
        alias="cd",
        url=URL,
        token=Secret(ISSUED),
        username=username,
        kind="password",
        details={"fileio_url": FILES} if details is None else details,
        seed={"username": username, "token_kind": "session"},
    )


def profile(**given: Any) -> Any:
    return lambda: SERVICE.profile_flow(account(**given))


def storage(**given: Any) -> Any:
    return lambda: SERVICE.storage_flow(account(**given))


PROFILE_CALL = call("GET", f"{URL}/manage/account", headers=ISSUED_HEADER)
STORAGE_CALL = call("GET", f"{URL}/manage/account/storage", headers=ISSUED_HEADER)
CHECK_CALL = lstat_root(FILES, ISSUED)

PROFILE = [
    Row(
        "profile: GET /manage/account, its known fields join what the login knew",
        profile(),
        [ACCOUNT_ANSWER],
        [PROFILE_CALL],
        returns={"username": "alice", "token_kind": "session", "account": ACCOUNT},
    ),
    Row(
        "profile: 403, the file host takes the token -> account is for admins only",
        profile(),
        [NOT_VALID, NO_PERMISSION],
        [PROFILE_CALL, CHECK_CALL],
        returns={"username": "alice", "token_kind": "session", "account": ADMIN_ONLY},
    ),
    Row(
        "profile: 403, the file host refuses too -> SessionExpired",
        profile(),
        [NOT_VALID, INVALID],
        [PROFILE_CALL, CHECK_CALL],
        error=err(SessionExpired, 403, "session 'cd' was refused", "%login couchdrop --as cd"),
    ),
    Row(
        "profile: 401, lstat 401 -> SessionExpired",
        profile(),
        [(401, {}), (401, {})],
        [PROFILE_CALL, CHECK_CALL],
        error=err(SessionExpired, 401, "profile failed", "expired or was revoked"),
    ),
    Row(
        "profile: without a file host in the session, the check goes to its URL",
        profile(details={}),
        [NOT_VALID, LSTAT_ROOT],
        [PROFILE_CALL, lstat_root(URL, ISSUED)],
        returns={"username": "alice", "token_kind": "session", "account": ADMIN_ONLY},
    ),
    Row(
        "profile: 500 -> ServiceError",
        profile(),
        [(500, {})],
        [PROFILE_CALL],
        error=err(ServiceError, 500, "profile failed", "the server had an error"),
    ),
]

STORAGE_ROWS = [
    {"id": "st-hosted", "path": "/", "store_type": "hosted", "subpath": ""},
    {"id": "st-s3", "path": "/r", "store_type": "s3", "subpath": "acme/"},
]

STORAGE = [
    Row(
        "storage: GET /manage/account/storage -> a row per connection",
        storage(),
        [(200, {"storage": [{**STORAGE_ROWS[0], "secret_key": "x"}, STORAGE_ROWS[1]]})],
        [STORAGE_CALL],
        fields={
            "rows": [
                {"path": "/", "store_type": "hosted", "subpath": "", "id": "st-hosted"},
                {"path": "/r", "store_type": "s3", "subpath": "acme/", "id": "st-s3"},
            ],
            "note": None,
        },
    ),
    Row(
        "storage: an empty list -> an empty table that says so",
        storage(),
        [(200, {"storage": []})],
        [STORAGE_CALL],
        fields={"rows": [], "note": Has("no storage connections")},
    ),
    Row(
        "storage: no 'storage' list (a 'result' key) -> an empty table that says so",
        storage(),
        [(200, {"result": STORAGE_ROWS})],
        [STORAGE_CALL],
        fields={"rows": [], "note": Has("holds no 'storage' list")},
    ),
    Row(
        "storage: entries that are not objects are left out",
        storage(),
        [(200, {"storage": ["st-hosted", None, STORAGE_ROWS[1]]})],
        [STORAGE_CALL],
        fields={"rows": [{"path": "/r", "store_type": "s3", "subpath": "acme/", "id": "st-s3"}]},
    ),
    Row(
        "storage: non-admin 403, the file host takes the token -> empty, only admins",
        storage(),
        [NOT_VALID, LSTAT_ROOT],
        [STORAGE_CALL, CHECK_CALL],
        fields={"rows": [], "note": Has("only admins", "'alice' is not one", "token is valid")},
    ),
    Row(
        "storage: non-admin without a username",
        storage(username=None),
        [NOT_VALID, (404, {})],
        [STORAGE_CALL, CHECK_CALL],
        fields={"rows": [], "note": Has("only admins", "this account is not one")},
    ),
    Row(
        "storage: 403, the file host refuses too -> SessionExpired",
        storage(),
        [NOT_VALID, (401, {})],
        [STORAGE_CALL, CHECK_CALL],
        error=err(SessionExpired, 401, "storage failed", "session 'cd' was refused"),
    ),
    Row(
        "storage: 500 -> ServiceError",
        storage(),
        [(500, {})],
        [STORAGE_CALL],
        error=err(ServiceError, 500, "storage failed"),
    ),
    Row(
        "storage: 429 -> RateLimited",
        storage(),
        [RATE_LIMITED],
        [STORAGE_CALL],
        error=err(RateLimited, 429, "storage failed", retry_after=30.0),
    ),
]


def logout(kind: str, revoke: bool) -> Row:
    def flow() -> Any:
        session = account()
        session.kind = kind
        return SERVICE.logout_flow(session, revoke)

    return Row(f"logout: no endpoint, nothing sent ({kind}, revoke={revoke})", flow, [], [])


LOGOUT = [
    logout(kind, revoke)
    for kind in ("password", "admin-token", "token")
    for revoke in (False, True)
]

# -- the data calls: CouchdropSession's flows on its file host ------------------------------


def cd_session() -> Any:
    granted = Granted(Secret(ISSUED), "alice", "password", details={"fileio_url": FILES})
    return session(SERVICE, URL, granted, alias="cd")


def data(name: str, *args: Any) -> Any:
    return lambda: getattr(cd_session(), name)(*args)


def on_files(route: str, path: str, form: bool = False, **more: Any) -> dict[str, Any]:
    """A file call about ``path``: in the form body (ls, lstat) or the query (the others)."""
    where = {"data": {"path": path}} if form else {"params": {"path": path}}
    return call("POST", f"{FILES}{route}", headers=ISSUED_HEADER, **where, **more)


LS = on_files("/file/ls", "/reports", form=True)
LISTING = [
    {"filename": "q3.csv", "size": 12, "modtime": 1700000000, "is_dir": False},
    {"filename": "2024", "size": 0, "modtime": 0, "is_dir": True},
]
SOMEWHERE_ELSE = "Check that fileio_url points to Couchdrop's file host."

LS_ROWS = [
    Row(
        "ls: POST /file/ls on the file host, path in the form body, token header",
        data("_ls_flow", "/reports"),
        [(200, {"ls": LISTING})],
        [LS],
        returns=LISTING,
    ),
    Row(
        "ls: a file, 400 -> UsageError, not a folder",
        data("_ls_flow", "/reports"),
        [(400, {"error": "Not a directory"})],
        [LS],
        error=err(UsageError, 400, "'/reports' is not a folder", '("Not a directory")', "s.open"),
    ),
    Row(
        "ls: missing path, 404 -> NotFound naming the path",
        data("_ls_flow", "/reports"),
        [(404, {"error": "File or folder not found"})],
        [LS],
        error=err(NotFound, 404, "nothing is at '/reports'", "s.ls('/')"),
    ),
    Row(
        "ls: permission refused, 403 -> AccessDenied quoting the server",
        data("_ls_flow", "/reports"),
        [NO_PERMISSION],
        [LS],
        error=err(
            AccessDenied,
            403,
            "the account 'alice' may not read '/reports'",
            '("you do not have the right permissions")',
        ),
    ),
    Row(
        "ls: invalid token on the file host, 403 Authentication Invalid -> SessionExpired",
        data("_ls_flow", "/reports"),
        [INVALID],
        [LS],
        error=err(SessionExpired, 403, "session 'cd' was refused"),
    ),
    Row(
        "ls: storage provider failure, 422 -> ServiceError naming the folder's storage",
        data("_ls_flow", "/reports"),
        [(422, {"error": "S3 bucket unreachable"})],
        [LS],
        error=err(ServiceError, 422, "the storage behind '/reports'", '("S3 bucket unreachable")'),
    ),
    Row(
        "ls: an answer without an 'ls' list -> ServiceError",
        data("_ls_flow", "/reports"),
        [(200, {"files": LISTING})],
        [LS],
        error=err(ServiceError, 200, "no 'ls' list", SOMEWHERE_ELSE),
    ),
    Row(
        "ls: 401 from the file host -> SessionExpired, as at the token check",
        data("_ls_flow", "/reports"),
        [(401, {"error": "Unauthorized"})],
        [LS],
        error=err(SessionExpired, 401, "session 'cd' was refused"),
    ),
]

Q3 = "/reports/q3.csv"
DOWNLOAD = on_files("/file/download", Q3, max_bytes=WHOLE)
CSV = b"a,b\n1,2\n3,4\n"

DOWNLOAD_ROWS = [
    Row(
        "download: POST /file/download, path in the query, bounded by the whole file",
        data("_download_flow", Q3),
        [(200, CSV, {"content-type": "text/csv"})],
        [DOWNLOAD],
        returns=CSV,
    ),
    Row(
        "download: a folder, 400 -> UsageError saying to list it",
        data("_download_flow", "/reports"),
        [(400, {"error": "Is a directory"})],
        [on_files("/file/download", "/reports", max_bytes=WHOLE)],
        error=err(UsageError, 400, "only files download", "s.ls('/reports')"),
    ),
    Row(
        "download: missing path, 404 -> NotFound",
        data("_download_flow", Q3),
        [(404, {})],
        [DOWNLOAD],
        error=err(NotFound, 404, f"nothing is at '{Q3}'", "s.ls('/reports')"),
    ),
    Row(
        "download: permission refused, 403 -> AccessDenied",
        data("_download_flow", Q3),
        [NO_PERMISSION],
        [DOWNLOAD],
        error=err(AccessDenied, 403, f"may not read '{Q3}'"),
    ),
    Row(
        "download: storage provider failure, 422 -> ServiceError naming its folder",
        data("_download_flow", Q3),
        [(422, {})],
        [DOWNLOAD],
        error=err(ServiceError, 422, "the storage behind '/reports'"),
    ),
    Row(
        "download: 503 (after the transport's retries) -> ServiceError",
        data("_download_flow", Q3),
        [(503, {})],
        [DOWNLOAD],
        error=err(ServiceError, 503, "the server had an error"),
    ),
]

STAT = on_files("/file/lstat", Q3, form=True)
STAT_ROWS = [
    Row(
        "lstat: POST /file/lstat, path in the form; size read from 'size:', modtime as UTC",
        data("_stat_flow", Q3),
        [(200, {"lstat": {"size:": 12, "modtime": 1700000000, "is_dir": False}})],
        [STAT],
        returns={
            "name": Q3,
            "filename": "q3.csv",
            "size": 12,
            "type": "file",
            "modified": datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc),
        },
    ),
    Row(
        "lstat: a folder with modtime 0 -> no time; a size that is no whole number -> none",
        data("_stat_flow", "/reports"),
        [(200, {"lstat": {"size": "4 KB", "modtime": 0, "is_dir": True}})],
        [on_files("/file/lstat", "/reports", form=True)],
        returns={
            "name": "/reports",
            "filename": "reports",
            "size": None,
            "type": "directory",
            "modified": None,
        },
    ),
    Row(
        "lstat: an answer without 'lstat' -> ServiceError",
        data("_stat_flow", Q3),
        [(200, {"ls": []})],
        [STAT],
        error=err(ServiceError, 200, "no 'lstat'"),
    ),
]

BYTES = b"new,data"
MODTIME = 1700000000


def upload(path: str = Q3, field: str = "file") -> dict[str, Any]:
    """POST /file/upload: path, size and modtime in the query, one multipart part."""
    name = path.rsplit("/", 1)[1]
    return call(
        "POST",
        f"{FILES}/file/upload",
        headers=ISSUED_HEADER,
        params={"path": path, "size": str(len(BYTES)), "modtime": str(MODTIME)},
        files={field: (name, BYTES, "application/octet-stream")},
    )


UPLOADED = (200, {"lstat": {"size": 8, "modtime": MODTIME, "is_dir": False}})
ENTRY = {
    "name": Q3,
    "filename": "q3.csv",
    "size": 8,
    "type": "file",
    "modified": datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc),
}
NOT_PROVIDED = {"err": "File was not provided"}


def missing_field(status: int, body: dict[str, str]) -> Row:
    return Row(
        f"upload: {status} {body!r} -> the same upload once more, in 'data'",
        data("_upload_flow", Q3, BYTES, MODTIME),
        [(status, body), (200, {}), UPLOADED],
        [upload(), upload(field="data"), STAT],
        returns=ENTRY,
    )


def two_uploads() -> Any:
    """Two uploads to one file host in a row."""
    first = cd_session()
    yield from first._upload_flow(Q3, BYTES, MODTIME)
    return (yield from cd_session()._upload_flow(Q3, BYTES, MODTIME))


UPLOAD_ROWS = [
    Row(
        "upload: path size modtime in the query, one part in 'file'; then lstat for the entry",
        data("_upload_flow", Q3, BYTES, MODTIME),
        [(200, {}), UPLOADED],
        [upload(), STAT],
        returns=ENTRY,
    ),
    missing_field(400, NOT_PROVIDED),
    missing_field(500, NOT_PROVIDED),  # the 2016 server
    missing_field(422, {"error": "data is required"}),
    missing_field(400, {"message": "Missing file"}),
    Row(
        "upload: the field that worked is remembered for the file host and tried first",
        two_uploads,
        [(400, NOT_PROVIDED), (200, {}), UPLOADED, (200, {}), UPLOADED],
        [upload(), upload(field="data"), STAT, upload(field="data"), STAT],
        returns=ENTRY,
    ),
    Row(
        "upload: missing in both fields -> ServiceError saying so",
        data("_upload_flow", Q3, BYTES, MODTIME),
        [(400, NOT_PROVIDED), (400, NOT_PROVIDED)],
        [upload(), upload(field="data")],
        error=err(ServiceError, 400, "found no file in the upload", "'file' and then 'data'"),
    ),
    Row(
        "upload: another 400 is not sent again",
        data("_upload_flow", Q3, BYTES, MODTIME),
        [(400, {"error": "modtime out of range"})],
        [upload()],
        error=err(ServiceError, 400, "unexpected answer", '("modtime out of range")'),
    ),
    Row(
        "upload: a folder at the path, 409 -> AlreadyExists",
        data("_upload_flow", Q3, BYTES, MODTIME),
        [(409, {"error": "Is a directory"})],
        [upload()],
        error=err(AlreadyExists, 409, f"a folder is at '{Q3}'"),
    ),
    Row(
        "upload: missing folder, 404 -> NotFound saying s.mkdir(folder, parents=True)",
        data("_upload_flow", Q3, BYTES, MODTIME),
        [(404, {"error": "parent-folder-not-found"})],
        [upload()],
        error=err(
            NotFound,
            404,
            "the folder '/reports' does not exist",
            "s.mkdir('/reports', parents=True)",
        ),
    ),
    Row(
        "upload: permission refused, 403 -> AccessDenied, may not write there",
        data("_upload_flow", Q3, BYTES, MODTIME),
        [(403, {"error": "you cannot write to that folder"})],
        [upload()],
        error=err(
            AccessDenied, 403, "may not write in '/reports'", '("you cannot write to that folder")'
        ),
    ),
]


def mkdir(path: str) -> dict[str, Any]:
    return on_files("/file/mkdir", path)


YEAR = "/reports/2024"
MKDIR_ROWS = [
    Row(
        "mkdir: POST /file/mkdir, path in the query",
        data("_mkdir_flow", YEAR, False),
        [(200, {})],
        [mkdir(YEAR)],
        returns=None,
    ),
    Row(
        "mkdir: already there, 409 -> AlreadyExists",
        data("_mkdir_flow", YEAR, False),
        [(409, {})],
        [mkdir(YEAR)],
        error=err(AlreadyExists, 409, f"a file or folder is already at '{YEAR}'", "parents=True"),
    ),
    Row(
        "mkdir: missing parent, 404 -> NotFound saying parents=True",
        data("_mkdir_flow", YEAR, False),
        [(404, {"error": "parent-folder-not-found"})],
        [mkdir(YEAR)],
        error=err(NotFound, 404, "the folder '/reports' does not exist", "parents=True"),
    ),
    Row(
        "mkdir parents: 404 -> the parent is made the same way, then the folder again",
        data("_mkdir_flow", YEAR, True),
        [(404, {}), (200, {}), (200, {})],
        [mkdir(YEAR), mkdir("/reports"), mkdir(YEAR)],
        returns=None,
    ),
    Row(
        "mkdir parents: 409 and lstat says a folder -> done",
        data("_mkdir_flow", YEAR, True),
        [(409, {}), (200, {"lstat": {"size": 0, "modtime": 0, "is_dir": True}})],
        [mkdir(YEAR), on_files("/file/lstat", YEAR, form=True)],
        returns=None,
    ),
    Row(
        "mkdir parents: 409 and lstat says a file -> AlreadyExists",
        data("_mkdir_flow", YEAR, True),
        [(409, {}), (200, {"lstat": {"size": 3, "modtime": 1, "is_dir": False}})],
        [mkdir(YEAR), on_files("/file/lstat", YEAR, form=True)],
        error=err(AlreadyExists, 409, f"a file is already at '{YEAR}'"),
    ),
    Row(
        "mkdir: permission refused, 403 -> AccessDenied",
        data("_mkdir_flow", YEAR, False),
        [(403, {"error": "you cannot write to that folder"})],
        [mkdir(YEAR)],
        error=err(AccessDenied, 403, "may not write in '/reports'"),
    ),
]


@pytest.fixture(autouse=True)
def _no_upload_field_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The field each file host took is kept for the kernel's life: none yet, in each row."""
    monkeypatch.setattr(files, "upload_field", {})


@pytest.mark.parametrize("row", params(LOGIN))
def test_login(row: Row) -> None:
    check(row, SERVICE, SECRETS)


@pytest.mark.parametrize("row", params(TOKEN_LOGIN))
def test_token_login(row: Row) -> None:
    check(row, SERVICE, SECRETS)


@pytest.mark.parametrize("row", params(PROFILE))
def test_profile(row: Row) -> None:
    check(row, SERVICE, SECRETS)


@pytest.mark.parametrize("row", params(STORAGE))
def test_storage(row: Row) -> None:
    check(row, SERVICE, SECRETS)


@pytest.mark.parametrize("row", params(LOGOUT))
def test_logout(row: Row) -> None:
    assert check(row, SERVICE, SECRETS).result is None


@pytest.mark.parametrize(
    "row", params([*LS_ROWS, *DOWNLOAD_ROWS, *STAT_ROWS, *UPLOAD_ROWS, *MKDIR_ROWS])
)
def test_file_calls(row: Row) -> None:
    check(row, SERVICE, SECRETS)
