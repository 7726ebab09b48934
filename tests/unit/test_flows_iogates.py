"""ioGates' protocol, row by row as docs/assumptions.md tells it: each row is the server's
answer(s), and the calls the flow makes with the result or error it ends in (flowtable.py).

Rows of the ioGates table that are no flow, and so are not here:
- "Token reuse": how the server answers a second login (the sandbox follows the assumption);
- "Device id": the file kept in the config folder (here every login is given its device id,
  and the rows check that it goes as ``deviceId``);
- "Tree from parent", "A share session's /", "Duplicate and odd names" and "size, created,
  md5 in the listing" beyond one listing's paths: ``rebuild`` is a function of the list, not
  a flow (tests/test_iogates_files.py);
- "Writing": ``open()`` refuses a write mode before any flow.
"API base" is no flow either, but ``base_url`` is the protocol's: its rows are here too.
The transport's own rules (503 retries, bounded answers, masking of echoed secrets) are
nbauth._http's and nbauth._redact's, not a flow's: drive() plays the answers without them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

import pytest
from flowtable import Account, Has, Row, call, check, err, params, secret, session

from nbauth import services, testing
from nbauth._calls import WHOLE
from nbauth.errors import (
    AccessDenied,
    InvalidCode,
    NotFound,
    RateLimited,
    ServiceError,
    SessionExpired,
    TwoFactorRequired,
    UsageError,
)
from nbauth.secret import Secret
from nbauth.services.base import Credentials, Granted
from nbauth.tables import Storage

SERVICE = services.get("iogates")
URL = "https://files.example.com"
SHARE_URL = f"{URL}/show/15/59817e24914f1/sh-Key-9e0a4c7b"
DEVICE = "nbauth-0123456789abcdef"
PASSWORD = "pw-ioGates-5c2d"
CODE = "7314"
TOKEN = "tk-stored-1f2e3d4c5b6a7988"  # a stored token a user gives
ISSUED = "is-authtoken-c2a8f05e71b3"  # what /api/authtoken hands out
SECRETS = (PASSWORD, TOKEN, ISSUED, "sh-Key-9e0a4c7b")
KINDS = {"password": "password", "code": "password", "token": "token"}


def creds(check: str | None = None, **values: str) -> Credentials:
    """Credentials as a checked LoginRequest makes them, with this test's device id."""
    wrapped = {k: Secret(v, KINDS[k]) if k in KINDS else v for k, v in values.items()}
    defaults = {k: v for k, v in SERVICE.options.items() if v is not None}
    options = {**defaults, "device_id": DEVICE, **({"share_check": check} if check else {})}
    return Credentials(URL, wrapped, options)


def login(check: str | None = None, **values: str) -> Any:
    return lambda: SERVICE.login_flow(creds(check, **values))


def both(token: str) -> dict[str, Any]:
    """The token in both header forms, each a Secret."""
    return {"Authorization": secret(f"Bearer {token}"), "token": secret(token)}


# -- the calls and answers ----------------------------------------------------------------

PASSWORD_BODY = {"username": "alice", "password": secret(PASSWORD, "password"), "deviceId": DEVICE}
AUTHTOKEN = call("POST", f"{URL}/api/authtoken", json=PASSWORD_BODY)
#: The share URL goes as a Secret masked like a password.
SHARE_LOGIN = call(
    "POST", f"{URL}/api/authtoken", json={"url": secret(SHARE_URL, None), "deviceId": DEVICE}
)
SHARE = call("GET", f"{URL}/api/share", headers=both(ISSUED))
SMS = f"{URL}/api/apiauth/twofactorsms/{ISSUED}"
SEND_SMS = call("GET", SMS, headers=both(ISSUED))
SEND_CODE = call("POST", SMS, headers=both(ISSUED), data={"authcode": secret(CODE, "password")})
AUTHINFO = call("GET", f"{URL}/api/authinfo/{TOKEN}", headers=both(TOKEN))

PROFILE = {
    "id": 7,
    "username": "alice",
    "realname": "Alice Smith",
    "accountname": "Alice's Account",
    "email": "alice@example.org",
    "mobile": "+4512345678",
    "expires": None,
    "status": "Active",
}
ACCOUNT = {
    "profile": {**PROFILE, "address": "1 Street"},
    "max_file_size": 0,
    "available_storage": 29301996265,
}
ACCOUNT_STORAGE = Storage(
    [
        {"item": "max_file_size", "bytes": 0, "human": "unlimited"},
        {"item": "available_storage", "bytes": 29301996265, "human": "27.3 GiB"},
    ],
    None,
)
NO_FIGURES = Storage([], "ioGates did not report storage figures.")
SHARE_ANSWER = {
    "id": 15,
    "name": "Rushes",
    "type": "dir",
    "expired": False,
    "expires": None,
    "two_factor": True,
    "permissions": {"master": True, "upload": False},
    "owner": PROFILE,
}
#: What a session keeps of the share: its fields and permissions, not its owner.
SUMMARY = {k: v for k, v in SHARE_ANSWER.items() if k != "owner"}
NO_TWO_FACTOR = {**SHARE_ANSWER, "two_factor": False}
TOKEN_ONLY = (200, {"token": ISSUED})
SMS_SENT = (200, {"message": "An SMS code was sent", "auth_required": True, "type": "sms"})


def share_granted(share: dict[str, Any] | None) -> dict[str, Any]:
    """What a share-URL login grants, with the share's summary when it was read."""
    granted: dict[str, Any] = {
        "token": secret(ISSUED),
        "username": None,
        "kind": "share-url",
        "storage": NO_FIGURES,
        "profile": {} if share is None else {"share": share},
        "details": {"device_id": DEVICE}
        if share is None
        else {"device_id": DEVICE, "share": share},
    }
    return granted


LOGIN = [
    Row(
        "login: POST /api/authtoken, JSON username password deviceId -> token, profile, storage",
        login(username="alice", password=PASSWORD),
        [(200, {"token": ISSUED, **ACCOUNT})],
        [AUTHTOKEN],
        fields={
            "token": secret(ISSUED),
            "username": "alice",
            "user_id": None,
            "kind": "password",
            "expires_at": None,  # unknown
            "profile": PROFILE,  # its known fields only
            "storage": ACCOUNT_STORAGE,
            "details": {"device_id": DEVICE},
        },
    ),
    Row(
        "login: no profile in the answer -> an empty profile, no username",
        login(username="alice", password=PASSWORD),
        [(200, {"token": ISSUED, "profile": "alice"})],
        [AUTHTOKEN],
        fields={"username": None, "profile": {}, "storage": NO_FIGURES},
    ),
    Row(
        "login: storage figures that are no whole numbers are left out",
        login(username="alice", password=PASSWORD),
        [(200, {"token": ISSUED, "max_file_size": "0", "available_storage": 1.5e9})],
        [AUTHTOKEN],
        fields={"storage": NO_FIGURES},
    ),
    Row(
        "login: wrong credentials, 401 -> AccessDenied",
        login(username="alice", password=PASSWORD),
        [(401, {"message": "Invalid username or password"})],
        [AUTHTOKEN],
        error=err(AccessDenied, 401, "the username or password was not accepted"),
    ),
    Row(
        "login: blocked account, 403 -> AccessDenied with its message",
        login(username="alice", password=PASSWORD),
        [(403, {"message": "This account is blocked"})],
        [AUTHTOKEN],
        error=err(AccessDenied, 403, "access refused", '("This account is blocked")'),
    ),
    Row(
        "share: POST /api/authtoken JSON url deviceId, then GET /api/share; no two-factor",
        login(share_url=SHARE_URL),
        [TOKEN_ONLY, (200, NO_TWO_FACTOR)],
        [SHARE_LOGIN, SHARE],
        fields=share_granted({**SUMMARY, "two_factor": False}),
    ),
    Row(
        "share: two_factor -> GET twofactorsms/{token}, auth_required -> TwoFactorRequired sms",
        login(share_url=SHARE_URL),
        [TOKEN_ONLY, (200, SHARE_ANSWER), SMS_SENT],
        [SHARE_LOGIN, SHARE, SEND_SMS],
        error=err(TwoFactorRequired, 200, "has just sent", "code=", method="sms"),
    ),
    Row(
        "share: two_factor, but the SMS check says auth_required false -> logged in",
        login(share_url=SHARE_URL),
        [
            TOKEN_ONLY,
            (200, SHARE_ANSWER),
            (200, {"message": "not required", "auth_required": False}),
        ],
        [SHARE_LOGIN, SHARE, SEND_SMS],
        fields=share_granted(SUMMARY),
    ),
    Row(
        "share: two_factor, an SMS answer without auth_required -> TwoFactorRequired",
        login(share_url=SHARE_URL),
        [TOKEN_ONLY, (200, SHARE_ANSWER), (200, {"message": "An SMS code was sent"})],
        [SHARE_LOGIN, SHARE, SEND_SMS],
        error=err(TwoFactorRequired, 200, method="sms"),
    ),
    Row(
        "share: with code= -> POST twofactorsms/{token}, form authcode -> logged in",
        login(share_url=SHARE_URL, code=CODE),
        [TOKEN_ONLY, (200, SHARE_ANSWER), (200, {"message": "Code accepted"})],
        [SHARE_LOGIN, SHARE, SEND_CODE],
        fields=share_granted(SUMMARY),
    ),
    Row(
        "share: wrong code, 401 -> InvalidCode",
        login(share_url=SHARE_URL, code=CODE),
        [TOKEN_ONLY, (200, SHARE_ANSWER), (401, {"message": "Invalid code"})],
        [SHARE_LOGIN, SHARE, SEND_CODE],
        error=err(InvalidCode, 401, "the SMS code was wrong"),
    ),
    Row(
        "share: no pending code, 403 -> InvalidCode, log in again without a code",
        login(share_url=SHARE_URL, code=CODE),
        [TOKEN_ONLY, (200, SHARE_ANSWER), (403, {"message": "No pending code"})],
        [SHARE_LOGIN, SHARE, SEND_CODE],
        error=err(InvalidCode, 403, "no code is pending", "without code= to get a new SMS"),
    ),
    Row(
        "share: the code check 400 -> ServiceError quoting the server",
        login(share_url=SHARE_URL, code=CODE),
        [TOKEN_ONLY, (200, SHARE_ANSWER), (400, {"message": "authcode is required"})],
        [SHARE_LOGIN, SHARE, SEND_CODE],
        error=err(ServiceError, 400, "could not check the code", '("authcode is required")'),
    ),
    Row(
        "share: the code check 404 -> ServiceError",
        login(share_url=SHARE_URL, code=CODE),
        [TOKEN_ONLY, (200, SHARE_ANSWER), (404, {})],
        [SHARE_LOGIN, SHARE, SEND_CODE],
        error=err(ServiceError, 404, "could not check the code"),
    ),
    Row(
        "share: the code check 500 -> ServiceError",
        login(share_url=SHARE_URL, code=CODE),
        [TOKEN_ONLY, (200, SHARE_ANSWER), (500, {})],
        [SHARE_LOGIN, SHARE, SEND_CODE],
        error=err(ServiceError, 500, "two-factor check failed", "the server had an error"),
    ),
    Row(
        "share: a code for a share without two-factor is not sent",
        login(share_url=SHARE_URL, code=CODE),
        [TOKEN_ONLY, (200, NO_TWO_FACTOR)],
        [SHARE_LOGIN, SHARE],
        fields={"kind": "share-url"},
    ),
    Row(
        "share_check read: a share that needs a code -> TwoFactorRequired, no SMS sent",
        login("read", share_url=SHARE_URL),
        [TOKEN_ONLY, (200, SHARE_ANSWER)],
        [SHARE_LOGIN, SHARE],
        error=err(TwoFactorRequired, 200, "No SMS was sent", method="sms", names_status=False),
    ),
    Row(
        "share_check read: its TwoFactorRequired names the HTTP status it carries",
        login("read", share_url=SHARE_URL),
        [TOKEN_ONLY, (200, SHARE_ANSWER)],
        [SHARE_LOGIN, SHARE],
        error=err(TwoFactorRequired, 200, "No SMS was sent", method="sms"),
    ),
    Row(
        "share_check read: a share without two-factor -> logged in with its summary",
        login("read", share_url=SHARE_URL),
        [TOKEN_ONLY, (200, NO_TWO_FACTOR)],
        [SHARE_LOGIN, SHARE],
        fields=share_granted({**SUMMARY, "two_factor": False}),
    ),
    Row(
        "share_check read: with code= the code is checked",
        login("read", share_url=SHARE_URL, code=CODE),
        [TOKEN_ONLY, (200, SHARE_ANSWER), (200, {})],
        [SHARE_LOGIN, SHARE, SEND_CODE],
        fields={"kind": "share-url"},
    ),
    Row(
        "share_check skip: only the token, one request",
        login("skip", share_url=SHARE_URL),
        [TOKEN_ONLY],
        [SHARE_LOGIN],
        fields=share_granted(None),
    ),
    Row(
        "share_check skip with code=: the share is read and the code checked",
        login("skip", share_url=SHARE_URL, code=CODE),
        [TOKEN_ONLY, (200, SHARE_ANSWER), (200, {})],
        [SHARE_LOGIN, SHARE, SEND_CODE],
        fields=share_granted(SUMMARY),
    ),
    Row(
        "share: unknown share, 401 -> AccessDenied",
        login(share_url=SHARE_URL),
        [(401, {"message": "Share not found"})],
        [SHARE_LOGIN],
        error=err(AccessDenied, 401, "the share URL was not accepted"),
    ),
    Row(
        "share: expired share, 403 -> AccessDenied with its message",
        login(share_url=SHARE_URL),
        [(403, {"message": "This share has expired"})],
        [SHARE_LOGIN],
        error=err(AccessDenied, 403, '("This share has expired")', "share owner"),
    ),
    Row(
        "share: /api/share not JSON -> ServiceError",
        login(share_url=SHARE_URL),
        [TOKEN_ONLY, (200, "<html></html>", {"content-type": "text/html"})],
        [SHARE_LOGIN, SHARE],
        error=err(ServiceError, 200, "share failed", "not the JSON object"),
    ),
    Row(
        "share: the share URL travels as a Secret masked like a password",
        login("skip", share_url=SHARE_URL),
        [TOKEN_ONLY],
        [
            call(
                "POST",
                f"{URL}/api/authtoken",
                json={"url": secret(SHARE_URL, "password"), "deviceId": DEVICE},
            )
        ],
        fields={"kind": "share-url"},
    ),
    Row(
        "token: GET /api/authinfo/{token} with both headers -> kind token and its storage",
        login(token=TOKEN),
        [
            (
                200,
                {
                    "available": ["tus"],
                    "default": "tus",
                    "max_file_size": 524288000,
                    "available_storage": 9,
                },
            )
        ],
        [AUTHINFO],
        fields={
            "token": secret(TOKEN),
            "username": None,
            "kind": "token",
            "profile": {"token_kind": "stored token"},
            "storage": Storage(
                [
                    {"item": "max_file_size", "bytes": 524288000, "human": "500.0 MiB"},
                    {"item": "available_storage", "bytes": 9, "human": "9 B"},
                ],
                None,
            ),
            "details": {"device_id": DEVICE},
        },
    ),
    Row(
        "token: one with '/', '?' or '#' stays one path segment",
        login(token="tk/odd?token#0123456789"),
        [(200, {})],
        [
            call(
                "GET",
                f"{URL}/api/authinfo/tk%2Fodd%3Ftoken%230123456789",
                headers=both("tk/odd?token#0123456789"),
            )
        ],
        fields={"kind": "token", "storage": NO_FIGURES},
    ),
    Row(
        "token: refused, 401 -> AccessDenied",
        login(token=TOKEN),
        [(401, {"message": "Not logged in"})],
        [AUTHINFO],
        error=err(AccessDenied, 401, "the token was not accepted"),
    ),
    Row(
        "token: 403 -> AccessDenied with the server's message",
        login(token=TOKEN),
        [(403, {"message": "Account suspended"})],
        [AUTHINFO],
        error=err(AccessDenied, 403, '("Account suspended")'),
    ),
    Row(
        "login: rate limited 429 -> RateLimited with retry_after",
        login(username="alice", password=PASSWORD),
        [(429, {"message": "Too many attempts"}, {"Retry-After": "60"})],
        [AUTHTOKEN],
        error=err(RateLimited, 429, "Wait 60 s", retry_after=60.0),
    ),
    Row(
        "login: server error 500 -> ServiceError",
        login(username="alice", password=PASSWORD),
        [(500, {"message": "Server Error"})],
        [AUTHTOKEN],
        error=err(ServiceError, 500, "the server had an error", '("Server Error")'),
    ),
    Row(
        "login: 200 that is not JSON -> ServiceError",
        login(username="alice", password=PASSWORD),
        [(200, "<html>ioGates</html>", {"content-type": "text/html"})],
        [AUTHTOKEN],
        error=err(ServiceError, 200, "not the JSON object", "(text/html)"),
    ),
    Row(
        "login: 200 without token -> ServiceError",
        login(username="alice", password=PASSWORD),
        [(200, ACCOUNT)],
        [AUTHTOKEN],
        error=err(ServiceError, 200, "no usable 'token'"),
    ),
    Row(
        "login: token of the wrong type -> ServiceError",
        login(username="alice", password=PASSWORD),
        [(200, {**ACCOUNT, "token": ["x"]})],
        [AUTHTOKEN],
        error=err(ServiceError, 200, "no usable 'token'"),
    ),
]

BASES = [
    pytest.param(None, None, "https://iogates.com", id="no URL: iogates.com"),
    pytest.param("https://io.example.org/", None, "https://io.example.org", id="url= as given"),
    pytest.param(None, SHARE_URL, URL, id="a share URL's scheme and host"),
    pytest.param(
        "https://other.example.com",
        "https://media.example.org:8443/show/1/k",
        "https://media.example.org:8443",
        id="a share URL's port is kept, and wins over url=",
    ),
]


@pytest.mark.parametrize(("url", "share_url", "base"), BASES)
def test_api_base(url: str | None, share_url: str | None, base: str) -> None:
    assert SERVICE.base_url(url, share_url) == base


@pytest.mark.parametrize("share_url", ["ftp://files.example.com/show/1", "files.example.com/x"])
def test_a_share_url_not_http_is_refused(share_url: str) -> None:
    with pytest.raises(UsageError, match="share_url= must be the http"):
        SERVICE.base_url(None, share_url)


# -- storage and logout: no calls ----------------------------------------------------------


def account(kind: str) -> Account:
    return Account(alias="io", url=URL, token=Secret(ISSUED), username="alice", kind=kind)


OTHERS = [
    Row(
        "storage: it comes with the login answer; the flow asks nothing",
        lambda: SERVICE.storage_flow(account("password")),
        [],
        [],
        fields={"rows": [], "note": Has("reports no storage figures")},
    ),
    *(
        Row(
            f"logout: no endpoint, nothing sent ({kind}, revoke={revoke})",
            lambda kind=kind, revoke=revoke: SERVICE.logout_flow(account(kind), revoke),
            [],
            [],
            returns=None,
        )
        for kind in ("password", "share-url", "token")
        for revoke in (False, True)
    ),
]

# -- the data calls: IoGatesSession's flows --------------------------------------------------

CLIP = b"hello world"
MD5 = hashlib.md5(CLIP).hexdigest()
KEY_A, KEY_B, KEY_C = "a" * 20, "b" * 20, "c" * 20
LINK = f"https://dl.example.net/download/15/{KEY_A}/clip.mov?key={KEY_B}"
#: The link and its key-like parts: masked in logs while the download runs.
LINK_SECRETS = (secret(LINK), secret(KEY_A), secret(KEY_B))
CDN = f"https://cdn.example.net/f/{KEY_C}/clip.mov"
CLIP_ENTRY = {
    "id": 2,
    "name": "clip.mov",
    "type": "movie",
    "parent": 1,
    "size": 11,
    "md5": MD5.upper(),
    "download": LINK,
    "created": "2020-07-07T10:14:21+0200",
}
LISTING = [
    {"id": 1, "name": "Rushes", "type": "dir"},
    CLIP_ENTRY,
    {"id": 3, "name": "clip.mov", "type": "movie", "parent": 1, "size": 5},
    {"id": 4, "name": "notes.txt", "type": "other", "parent": 1},  # no download link yet
]
FILES = (200, {"files": LISTING})
FILES_CALL = call("GET", f"{URL}/api/files", headers=both(ISSUED))
CLIP_PATH = "/Rushes/clip.mov"


def ig_session(
    kind: str = "password", share: dict[str, Any] | None = None, allow_insecure: bool = False
) -> Any:
    details: dict[str, Any] = {"device_id": DEVICE}
    if share is not None:
        details["share"] = share
    granted = Granted(Secret(ISSUED), "alice", kind, details=details)
    return session(SERVICE, URL, granted, "io", allow_insecure)


def download(
    target: str | int = CLIP_PATH, start: int | None = None, end: int | None = None, **made: Any
) -> Any:
    return lambda: ig_session(**made)._download_flow(target, start, end)


def fetch(
    url: str = LINK, keys: tuple[str, ...] = (KEY_A, KEY_B), span: str | None = None, most: int = 11
) -> dict[str, Any]:
    """GET of a download link: no auth header (the Range at most), its key-like parts masked."""
    return call(
        "GET",
        url,
        headers={"Range": span} if span else {},
        url_secrets=(secret(url), *(secret(key) for key in keys)),
        max_bytes=most,
    )


def paths(kind: str = "password") -> Any:
    """The listing flow, returning the paths it rebuilt."""

    def flow() -> Any:
        entries = yield from ig_session(kind)._list_flow("listing of '/'")
        return [entry.path for entry in entries]

    return flow


LIST_ROWS = [
    Row(
        "ls: GET /api/files with both headers; paths from parents, siblings' names made unique",
        paths(),
        [FILES],
        [FILES_CALL],
        returns=["/Rushes", "/Rushes/clip (id 3).mov", CLIP_PATH, "/Rushes/notes.txt"],
    ),
    Row(
        "ls: invalid token on a later call, 401 -> SessionExpired",
        paths(),
        [(401, {"message": "Not logged in"})],
        [FILES_CALL],
        error=err(SessionExpired, 401, "session 'io' was refused"),
    ),
    Row(
        "ls: a share's SMS check not passed, 401 two-factor -> TwoFactorRequired",
        paths("share-url"),
        [(401, {"message": "Two-factor authentication required"})],
        [FILES_CALL],
        error=err(TwoFactorRequired, 401, "Log in to that share on its own", method="sms"),
    ),
    Row(
        "ls: a 401 that mentions two-factor on an account's session -> SessionExpired",
        paths("password"),
        [(401, {"message": "Two-factor authentication required"})],
        [FILES_CALL],
        error=err(SessionExpired, 401, "session 'io' was refused"),
    ),
    Row(
        "ls: 403 -> AccessDenied with the server's text",
        paths(),
        [(403, {"message": "Account suspended"})],
        [FILES_CALL],
        error=err(AccessDenied, 403, '("Account suspended")'),
    ),
    Row(
        "ls: 404 -> NotFound",
        paths(),
        [(404, {"message": "No such share"})],
        [FILES_CALL],
        error=err(NotFound, 404, "not found", '("No such share")'),
    ),
    Row(
        "ls: an answer without a 'files' list -> ServiceError",
        paths(),
        [(200, {"files": {"1": "Rushes"}})],
        [FILES_CALL],
        error=err(ServiceError, 200, "no 'files' list"),
    ),
]

DOWNLOAD_ROWS = [
    Row(
        "download: the listing, then GET the link with no auth header, bounded by its size",
        download(),
        [FILES, (200, CLIP)],
        [FILES_CALL, fetch()],
        returns=CLIP,
    ),
    Row(
        "download: a file the listing gives no size or md5 -> bounded by the whole file, unchecked",
        download("/clip.mov"),
        [
            (200, {"files": [{"id": 5, "name": "clip.mov", "type": "movie", "download": LINK}]}),
            (200, CLIP),
        ],
        [FILES_CALL, fetch(most=WHOLE)],
        returns=CLIP,
    ),
    Row(
        "download: bytes that do not match the listing's md5 -> ServiceError",
        download(),
        [FILES, (200, b"hello wOrld")],
        [FILES_CALL, fetch()],
        error=err(ServiceError, 200, "do not match the md5", MD5),
    ),
    Row(
        "download: start= sends one Range; a 206 part is not checked",
        download(start=6),
        [FILES, (206, b"world")],
        [FILES_CALL, fetch(span="bytes=6-")],
        returns=b"world",
    ),
    Row(
        "download: start= and end= (end excluded) -> Range bytes=0-4",
        download(start=0, end=5),
        [FILES, (206, b"hello")],
        [FILES_CALL, fetch(span="bytes=0-4")],
        returns=b"hello",
    ),
    Row(
        "download: a server that ignores the Range sends all, which is checked, then cut",
        download(start=6),
        [FILES, (200, CLIP)],
        [FILES_CALL, fetch(span="bytes=6-")],
        returns=b"world",
    ),
    Row(
        "download: a range past the end, 416 -> no bytes",
        download(start=50),
        [FILES, (416, b"")],
        [FILES_CALL, fetch(span="bytes=50-")],
        returns=b"",
    ),
    Row(
        "download: by numeric id, GET /api/file/{id} instead of the listing",
        download(2),
        [(200, CLIP_ENTRY), (200, CLIP)],
        [call("GET", f"{URL}/api/file/2", headers=both(ISSUED)), fetch()],
        returns=CLIP,
    ),
    Row(
        "download: by numeric id, 404 -> NotFound",
        download(99),
        [(404, {"message": "File not found"})],
        [call("GET", f"{URL}/api/file/99", headers=both(ISSUED))],
        error=err(NotFound, 404, "download of file id 99 failed"),
    ),
    Row(
        "download: a folder -> UsageError, nothing fetched",
        download("/Rushes"),
        [FILES],
        [FILES_CALL],
        error=err(UsageError, None, "'/Rushes' is a folder", "ls()"),
    ),
    Row(
        "download: a path the listing lacks -> NotFound",
        download("/Rushes/nope.mov"),
        [FILES],
        [FILES_CALL],
        error=err(NotFound, None, "sees no '/Rushes/nope.mov'"),
    ),
    Row(
        "download: no download link (an upload not finished) -> ServiceError",
        download("/Rushes/notes.txt"),
        [FILES],
        [FILES_CALL],
        error=err(ServiceError, None, "no download link"),
    ),
    Row(
        "download: the link refused, 403 -> AccessDenied",
        download(),
        [FILES, (403, {"message": "Link expired"})],
        [FILES_CALL, fetch()],
        error=err(AccessDenied, 403, "the download link was refused", '("Link expired")'),
    ),
    Row(
        "download: the link refused, 401 -> AccessDenied (the link takes no token)",
        download(),
        [FILES, (401, {})],
        [FILES_CALL, fetch()],
        error=err(AccessDenied, 401, "the download link was refused"),
    ),
    Row(
        "download: the link gone, 404 -> NotFound",
        download(),
        [FILES, (404, {})],
        [FILES_CALL, fetch()],
        error=err(NotFound, 404, "the download link is gone"),
    ),
    Row(
        "download: the link gone, 410 -> NotFound",
        download(),
        [FILES, (410, {})],
        [FILES_CALL, fetch()],
        error=err(NotFound, 410, "the download link is gone"),
    ),
    Row(
        "download: the link 500 -> ServiceError",
        download(),
        [FILES, (500, {})],
        [FILES_CALL, fetch()],
        error=err(ServiceError, 500, "the server had an error"),
    ),
    Row(
        "download: a plain http link to another machine -> UsageError, nothing fetched",
        download("/clip.mov"),
        [(200, {"files": [{**CLIP_ENTRY, "parent": None, "download": "http://dl.example.net/f"}]})],
        [FILES_CALL],
        error=err(UsageError, None, "plain HTTP to another machine"),
    ),
    Row(
        "download: a plain http link to loopback is fetched",
        download("/clip.mov"),
        [
            (200, {"files": [{**CLIP_ENTRY, "parent": None, "download": "http://127.0.0.1:9/f"}]}),
            (200, CLIP),
        ],
        [FILES_CALL, fetch("http://127.0.0.1:9/f", keys=())],
        returns=CLIP,
    ),
    Row(
        "share permissions: a share session whose share says master false -> AccessDenied",
        download(kind="share-url", share={**SUMMARY, "permissions": {"master": False}}),
        [FILES],
        [FILES_CALL],
        error=err(AccessDenied, None, "does not allow downloading", "'master' permission"),
    ),
    Row(
        "share permissions: unknown at login (skip) -> one GET /api/share, master false",
        download(kind="share-url"),
        [FILES, (200, {**SHARE_ANSWER, "permissions": {"master": False}})],
        [FILES_CALL, SHARE],
        error=err(AccessDenied, None, "does not allow downloading"),
    ),
    Row(
        "share permissions: a stored token is an account's: no check",
        download(kind="token"),
        [FILES, (200, CLIP)],
        [FILES_CALL, fetch()],
        returns=CLIP,
    ),
    Row(
        "share permissions: the share read refused, 401 two-factor -> TwoFactorRequired",
        download(kind="share-url"),
        [FILES, (401, {"message": "2FA required"})],
        [FILES_CALL, SHARE],
        error=err(TwoFactorRequired, 401, method="sms"),
    ),
]


def twice_on_a_share() -> Any:
    """Two downloads by one share session that did not read its share at login."""
    used = ig_session("share-url")
    yield from used._download_flow(CLIP_PATH, None, None)
    return (yield from used._download_flow(CLIP_PATH, None, None))


DOWNLOAD_ROWS.append(
    Row(
        "share permissions: the share read once, then kept",
        twice_on_a_share,
        [FILES, (200, SHARE_ANSWER), (200, CLIP), FILES, (200, CLIP)],
        [FILES_CALL, SHARE, fetch(), FILES_CALL, fetch()],
        returns=CLIP,
    )
)


def redirected(status: int) -> Row:
    return Row(
        f"redirect: {status} with a Location on another host -> a new GET, no auth header",
        download(),
        [FILES, (status, b"", {"Location": CDN}), (200, CLIP)],
        [FILES_CALL, fetch(), fetch(CDN, keys=(KEY_C,))],
        returns=CLIP,
    )


REDIRECT_ROWS = [
    *(redirected(status) for status in (301, 302, 303, 307, 308)),
    Row(
        "redirect: each hop carries the Range header, and only it",
        download(start=6),
        [FILES, (302, b"", {"Location": CDN}), (206, b"world")],
        [FILES_CALL, fetch(span="bytes=6-"), fetch(CDN, keys=(KEY_C,), span="bytes=6-")],
        returns=b"world",
    ),
    Row(
        "redirect: a relative Location is read against the link",
        download(),
        [FILES, (302, b"", {"Location": f"/mirror/{KEY_C}"}), (200, CLIP)],
        [FILES_CALL, fetch(), fetch(f"https://dl.example.net/mirror/{KEY_C}", keys=(KEY_C,))],
        returns=CLIP,
    ),
    Row(
        "redirect: more than 5 -> ServiceError",
        download(),
        [FILES, *[(302, b"", {"Location": f"{CDN}?hop={n}"}) for n in range(6)]],
        [FILES_CALL, fetch(), *[fetch(f"{CDN}?hop={n}", keys=(KEY_C,)) for n in range(5)]],
        error=err(ServiceError, 302, "redirected more than 5 times"),
    ),
    Row(
        "redirect: https down to http on another machine -> ServiceError, nothing sent there",
        download(),
        [FILES, (302, b"", {"Location": "http://cdn.example.net/f"})],
        [FILES_CALL, fetch()],
        error=err(ServiceError, 302, "does not follow"),
    ),
    Row(
        "redirect: https down to http on another machine, allow_insecure or not -> ServiceError",
        download(allow_insecure=True),
        [FILES, (302, b"", {"Location": "http://cdn.example.net/f"})],
        [FILES_CALL, fetch()],
        error=err(ServiceError, 302, "does not follow"),
    ),
    Row(
        "redirect: https down to http on loopback is followed",
        download(),
        [FILES, (307, b"", {"Location": "http://localhost:9/f"}), (200, CLIP)],
        [FILES_CALL, fetch(), fetch("http://localhost:9/f", keys=())],
        returns=CLIP,
    ),
    Row(
        "redirect: only http(s): ftp -> ServiceError",
        download(),
        [FILES, (302, b"", {"Location": "ftp://cdn.example.net/f"})],
        [FILES_CALL, fetch()],
        error=err(ServiceError, 302, "does not follow"),
    ),
    Row(
        "redirect: a 302 without Location -> ServiceError",
        download(),
        [FILES, (302, b"")],
        [FILES_CALL, fetch()],
        error=err(ServiceError, 302, "unexpected answer"),
    ),
]


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain http:// to loopback is refused when a proxy would carry it: no proxy here."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.mark.parametrize("row", params(LOGIN))
def test_login(row: Row) -> None:
    check(row, SERVICE, SECRETS)


@pytest.mark.parametrize("row", params(OTHERS))
def test_storage_and_logout(row: Row) -> None:
    check(row, SERVICE, SECRETS)


@pytest.mark.parametrize("row", params(LIST_ROWS))
def test_listing(row: Row) -> None:
    check(row, SERVICE, SECRETS)


@pytest.mark.parametrize("row", params([*DOWNLOAD_ROWS, *REDIRECT_ROWS]))
def test_download(row: Row) -> None:
    check(row, SERVICE, SECRETS)


def test_a_listing_entry_keeps_its_link_as_a_secret_and_its_time_in_utc() -> None:
    done = testing.drive(ig_session()._list_flow("listing of '/'"), [FILES])
    clip = next(entry for entry in done.result or [] if entry.id == 2)
    assert (clip.path, clip.kind, clip.size, clip.md5) == (CLIP_PATH, "movie", 11, MD5)
    assert clip.created == datetime(2020, 7, 7, 8, 14, 21, tzinfo=timezone.utc)
    assert isinstance(clip.download, Secret) and clip.download.reveal() == LINK
