"""ioGates: media file sharing, by account or by share URL.

``POST /api/authtoken`` turns a username and password, or a share URL, plus a
device id into a long-lived token; its answer carries the profile and the
storage figures. ioGates runs in the cloud and on premises, so a share URL's
own scheme and host are the API base. A share may need an SMS code: the share
says ``two_factor``, the initiate call sends the SMS, and the same login with
``code=`` completes it (ioGates asks once per token and device).

The token goes in both header forms seen: ``Authorization: Bearer TOKEN``, as
ioGates' help articles show, and a header named ``token``, as the only public
client (``core/lib/iogates.ts``) sends it. A server that reads either finds it.
"""

from __future__ import annotations

import functools
import os
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit

from .._calls import Call, Flow
from ..errors import AccessDenied, InvalidCode, ServiceError, TwoFactorRequired, UsageError
from ..secret import Secret
from ..tables import Storage
from .answers import fail, failed, field_of, figure, json_body, server_says, text_or_none
from .base import Account, Credentials, Granted, Method, Service
from .fields import COMMON, SHARE_URL

if TYPE_CHECKING:
    import httpx


PROFILE_FIELDS = (
    "id",
    "username",
    "realname",
    "accountname",
    "email",
    "mobile",
    "expires",
    "status",
)
SHARE_CHECKS = ("sms", "read", "skip")
SHARE_FIELDS = ("id", "name", "type", "expired", "expires", "two_factor")


class IoGates(Service):
    name = "iogates"
    title = "ioGates"
    default_url = "https://iogates.com"
    #: ``share_check``: what a share-URL login does after the token. "sms" (the default) reads
    #: the share and, when it needs one, has ioGates text its SMS code; "read" reads the share
    #: but sends no SMS (a share that needs one fails, saying so); "skip" reads nothing, so the
    #: login is one request and a share that needs a code refuses its first call instead.
    #: ``login_many`` uses "skip" unless asked to check: a batch must not text 500 phones.
    options: ClassVar[dict[str, str | None]] = {"device_id": None, "share_check": "sms"}
    fields = (*COMMON, SHARE_URL)
    methods = (
        Method("password", "account", ("username", "password")),
        Method("share-url", "share URL", ("share_url",)),
        Method("token", "stored token", ("token",)),
    )

    def base_url(self, url: str | None, share_url: str | None) -> str:
        if share_url is None:
            return super().base_url(url, share_url)
        parts = urlsplit(share_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(
                "ioGates: share_url= must be the http(s) link of a share, like "
                "https://files.example.com/show/...",
                service=self.name,
            )
        return f"{parts.scheme}://{parts.netloc}"

    def check(self, creds: Credentials) -> None:
        check = creds.options.get("share_check", "sms")
        if check not in SHARE_CHECKS:
            raise UsageError(
                f"ioGates: share_check= is one of {', '.join(SHARE_CHECKS)}, not {check!r}.",
                service=self.name,
            )
        if creds.share_url is None:
            super().check(creds)
        elif creds.username or creds.password or creds.token:
            raise UsageError(
                "ioGates: a share URL logs in on its own; leave out username, password and token.",
                service=self.name,
            )

    def login_flow(self, creds: Credentials) -> Flow[Granted]:
        device_id = creds.options.get("device_id") or device_id_of_this_user()
        if creds.token is not None:
            return (yield from self.check_token(creds, device_id))
        if creds.share_url is not None:
            # The link is a credential: as a Secret, it is masked where a server echoes it.
            body: dict[str, Any] = {
                "url": Secret(creds.share_url.strip(), "password"),
                "deviceId": device_id,
            }
        else:
            body = {"username": creds.username, "password": creds.password, "deviceId": device_id}
        response = yield Call("POST", f"{creds.url}/api/authtoken", json=body)
        self.refuse(response, "share URL" if creds.share_url else "username or password")
        answer = json_body(self, response, "login")
        token = Secret(field_of(self, answer, "token", str, "login", response.status_code))
        granted = Granted(
            token=token,
            username=None,
            kind="share-url" if creds.share_url else "password",
            storage=self.storage_of(answer),
            details={"device_id": device_id},
        )
        profile = answer.get("profile")
        if not isinstance(profile, dict):
            profile = {}
        granted.profile = {k: profile.get(k) for k in PROFILE_FIELDS if k in profile}
        granted.username = text_or_none(profile.get("username"))
        check = creds.options.get("share_check", "sms")
        if creds.share_url is not None and (check != "skip" or creds.code is not None):
            share = yield from self.share_flow(creds, token, creds.code, sms=check != "read")
            granted.profile["share"] = share
            granted.details["share"] = share
        return granted

    def check_token(self, creds: Credentials, device_id: str) -> Flow[Granted]:
        """A stored token is checked with the upload-methods call, which also gives the storage."""
        assert creds.token is not None
        url = f"{creds.url}/api/authinfo/{in_path(creds.token)}"
        response = yield Call("GET", url, self.token_headers(creds.token))
        self.refuse(response, "token")
        return Granted(
            token=creds.token,
            username=None,
            kind="token",
            profile={"token_kind": "stored token"},
            storage=self.storage_of(json_body(self, response, "token check")),
            details={"device_id": device_id},
        )

    def share_flow(
        self, creds: Credentials, token: Secret, code: Secret | None, sms: bool = True
    ) -> Flow[dict[str, Any]]:
        """Read the share, and pass its SMS two-factor check when it has one (without ``sms``
        and a code, a share that needs one fails before any SMS is sent)."""
        headers = self.token_headers(token)
        response = yield Call("GET", f"{creds.url}/api/share", headers)
        share = json_body(self, response, "share")
        summary = share_summary(share)
        if not share.get("two_factor"):
            return summary
        if code is None and not sms:
            raise TwoFactorRequired(
                f"ioGates login stopped (HTTP {response.status_code}): this share needs an SMS "
                "code. No SMS was sent; log in to it on its own to get one: "
                "nbauth.login('iogates', share_url=...).",
                method="sms",
                service=self.name,
                status=response.status_code,
            )
        sms_url = f"{creds.url}/api/apiauth/twofactorsms/{in_path(token)}"
        if code is None:
            response = yield Call("GET", sms_url, headers)
            if json_body(self, response, "two-factor check").get("auth_required") is False:
                return summary
            raise TwoFactorRequired(
                f"{failed(self, 'login', response.status_code)}: this share needs an SMS "
                "code, which ioGates has just sent. Log in again with it: "
                "nbauth.login('iogates', share_url=..., code='1234').",
                method="sms",
                service=self.name,
                status=response.status_code,
            )
        response = yield Call("POST", sms_url, headers, data={"authcode": code})
        status = response.status_code
        if status == 401:
            raise fail(self, InvalidCode, "two-factor check", status, "the SMS code was wrong.")
        if status == 403:
            raise fail(
                self,
                InvalidCode,
                "two-factor check",
                status,
                "no code is pending (it may have expired). Log in again without code= to get "
                "a new SMS.",
            )
        if status in (400, 404):
            raise fail(
                self,
                ServiceError,
                "two-factor check",
                status,
                f"ioGates could not check the code{server_says(response)}. Log in again "
                "without code= to get a new SMS.",
            )
        json_body(self, response, "two-factor check")
        return summary

    def refuse(self, response: httpx.Response, what: str) -> None:
        """Raise AccessDenied for the answers that mean the credentials are not accepted."""
        status = response.status_code
        if status == 401:
            raise fail(
                self, AccessDenied, "login", status, f"the {what} was not accepted. Check it."
            )
        if status == 403:
            raise fail(
                self,
                AccessDenied,
                "login",
                status,
                f"access refused{server_says(response)}. Ask the account or share owner.",
            )

    @staticmethod
    def bearer(token: Secret) -> Secret:
        return Secret(f"Bearer {token.reveal()}")

    @classmethod
    def token_headers(cls, token: Secret) -> dict[str, str | Secret]:
        """The token in both forms ioGates servers are seen to read (see the module's doc)."""
        return {"Authorization": cls.bearer(token), "token": token}

    def auth_headers(self, session: Account) -> dict[str, str | Secret]:
        return self.token_headers(session.token)

    @staticmethod
    def storage_of(answer: dict[str, Any]) -> Storage:
        from ..tables import human_bytes

        rows = []
        for item in ("max_file_size", "available_storage"):
            value = figure(answer.get(item))
            if isinstance(value, int):
                human = (
                    "unlimited" if item == "max_file_size" and value == 0 else human_bytes(value)
                )
                rows.append({"item": item, "bytes": value, "human": human})
        return Storage(rows, None if rows else "ioGates did not report storage figures.")


def share_summary(share: dict[str, Any]) -> dict[str, Any]:
    """What a session keeps of ``GET /api/share``: the SHARE_FIELDS and the permissions."""
    summary = {k: share.get(k) for k in SHARE_FIELDS if k in share}
    if isinstance(share.get("permissions"), dict):
        summary["permissions"] = share["permissions"]
    return summary


def in_path(token: Secret) -> str:
    """The token as one URL path segment: a '/', '?' or '#' in it must not change the path."""
    return quote(token.reveal(), safe="")


def device_id_of_this_user() -> str:
    """A random device id made once per user and kept in the nbauth config folder."""
    folder = os.environ.get("NBAUTH_CONFIG_DIR") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config"),
        "nbauth",
    )
    with _device_id_lock:
        return _device_id_in(folder)  # by the folder's text: a Path costs more than the lookup


_device_id_lock = threading.Lock()


@functools.cache
def _device_id_in(name: str) -> str:
    """The id kept in ``name``/device_id, made if there is none. The file is its owner's only
    (0600, in a 0700 folder: ``nbauth._files``); one an older nbauth left readable by others
    is tightened here, at its first use in this kernel."""
    from .. import _files

    folder = Path(name)
    path = folder / "device_id"
    try:
        existing = path.read_text().strip()
    except (OSError, UnicodeError):
        existing = ""
    if existing:
        _files.tighten(folder)
        _files.tighten(path)
        return existing
    made = f"nbauth-{secrets.token_hex(8)}"
    try:
        _files.private_folder(folder)
        _files.write_private(path, made + "\n")
    except OSError:
        pass  # a read-only home still logs in; the id is kept for this kernel only
    return made
