"""ioGates emulator: account and share-URL logins, share details, SMS two-factor, file listing
and unauthenticated downloads with their own keys.

Where ioGates' docs are silent it does what docs/assumptions.md chose: 401/403 bodies are
`{"message": ...}`, the same share URL and deviceId get the same token back (so an SMS code sent
for the first try completes the second), and a two-factor share's token may read `/api/share`
but not the files until its code is verified. A share's permissions are only reported: ioGates
leaves their checks to the client, so the download links of a share without `master` work.

The token is read from `Authorization: Bearer` (the help articles) and from a header named `token`
(the only public client), or from one of them alone (knob `iogates_token_header`). A download link
answers 302 to the file on another host name of the same server (127.0.0.1 <-> localhost), as
links on another web host or a CDN would (knob `iogates_download_redirect`); what arrives there is
kept in `IoGates.delivered`, so a test can see that no token or other header followed the file.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from nbauth.sandbox.common import Knobs, ServiceApp, random_id, random_token, read_fields
from nbauth.sandbox.seed import IoFile, Seed, Share, User

SMS_CODE_TTL = 300.0
SHARE_PATH = re.compile(r"^/show/\d+/([0-9a-f]+)/([0-9a-f]{32})(/|$)")
KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
#: The other name of a loopback host, which download links redirect to.
OTHER_NAME = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}


@dataclass
class Grant:
    """What a token opens: an owner's whole account, or one share's folder."""

    owner: User
    share: Share | None = None
    verified: bool = True

    @property
    def root(self) -> int | None:
        return self.share.folder_id if self.share else None


@dataclass(frozen=True)
class SmsCode:
    code: str
    expires_at: float


def file_kind(item: IoFile) -> str:
    """ioGates' native types: dir, movie, audio, image or other."""
    if item.content is None:
        return "dir"
    major = (mimetypes.guess_type(item.name)[0] or "").split("/")[0]
    return {"video": "movie", "audio": "audio", "image": "image"}.get(major, "other")


def iso_offset(moment: datetime) -> str:
    """ioGates' date format, e.g. 2020-07-07T10:14:21+0200."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S%z")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The first and last byte of a single `bytes=a-b` Range, or None to send everything."""
    match = RANGE.match(header or "")
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":
        return max(size - int(last), 0), size - 1
    return int(first), min(int(last), size - 1) if last else size - 1


class IoGates(ServiceApp[Grant]):
    name = "iogates"

    def __init__(self, seed: Seed, default_knobs: Knobs) -> None:
        super().__init__(seed, default_knobs)
        self.files = {item.id: item for item in seed.iogates_files}
        self.download_keys = {item_id: random_id(32, KEY_ALPHABET) for item_id in self.files}
        self.grants: dict[str, Grant] = {}
        self.share_tokens: dict[tuple[str, str], str] = {}
        self.pending_sms: dict[str, SmsCode] = {}
        self.sent_sms: dict[str, str] = {}
        #: The keys of the links download links redirect to, like a CDN's signed URLs.
        self.delivery_keys = {item_id: random_id(32, KEY_ALPHABET) for item_id in self.files}
        #: The headers of every request that reached a redirect's target, oldest first.
        self.delivered: list[dict[str, str]] = []

    def reset(self) -> None:
        super().reset()
        self.delivered.clear()

    def routes(self) -> list[BaseRoute]:
        guarded = self.guarded
        return [
            Route("/api/authtoken", self.authtoken, methods=["POST"]),
            Route("/api/share", guarded(self.share)),
            Route("/api/apiauth/twofactorsms/{token}", self.two_factor, methods=["GET", "POST"]),
            Route("/api/files", guarded(self.list_files)),
            Route("/api/file/{file_id:int}", guarded(self.file)),
            Route("/api/authinfo/{token}", self.authinfo),
            Route("/download-file/{file_id:int}/0/0/1/0/{key}", self.download),
            Route("/delivery/{file_id:int}/{key}", self.delivery),
        ]

    def control_routes(self) -> list[BaseRoute]:
        return [*super().control_routes(), Route("/_sandbox/sms", self._sms_codes)]

    def demo_tokens(self, base_url: str) -> dict[str, Any]:
        return {"share_urls": {name: s.url(base_url) for name, s in self.seed.shares.items()}}

    def error(self, status: int, message: str) -> Response:
        return JSONResponse({"message": message}, status_code=status)

    def session_of(self, request: Request) -> Grant | None:
        """The grant of the token in the header forms `iogates_token_header` accepts."""
        accepted = self.knobs.iogates_token_header
        bearer = request.headers.get("authorization", "")
        token = None
        if accepted in ("bearer", "both") and bearer.lower().startswith("bearer "):
            token = bearer[7:].strip()
        if token is None and accepted in ("token", "both"):
            token = request.headers.get("token")
        return self.grants.get(token or "")

    def not_logged_in(self) -> Response:
        return self.error(401, "Invalid token")

    def latest_sms_code(self, share_or_token: str) -> str:
        """The last code sent for a share (its name or 32-hex key) or for a token."""
        try:
            return self.sent_sms[share_or_token]
        except KeyError:
            raise LookupError(f"no SMS code was sent for {share_or_token!r}") from None

    def _base(self, request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def profile(self, user: User, base: str) -> dict[str, Any]:
        return {
            "id": int(user.user_id),
            "username": user.username,
            "realname": user.name,
            "accountname": f"{user.name}'s Account",
            "email": user.email,
            "address": None,
            "mobile": user.mobile,
            "expires": None,
            "status": "Blocked" if user.blocked else "Active",
            "logo": f"{base}/layout/images/common/logo.png",
        }

    def _account(self, user: User, base: str) -> dict[str, Any]:
        return {
            "profile": self.profile(user, base),
            "max_file_size": user.max_file_size,
            "available_storage": user.available_storage,
        }

    # -- login and two-factor -----------------------------------------------------------------

    async def authtoken(self, request: Request) -> Response:
        fields = await read_fields(request)
        device = str(fields.get("deviceId") or "")
        if fields.get("url"):
            return self._share_login(request, str(fields["url"]), device)
        user = self.users.get(str(fields.get("username") or ""))
        if user is None or fields.get("password") != user.password:
            return self.error(401, "Invalid username or password")
        if user.blocked:
            return self.error(403, "Account is blocked")
        token = random_token()
        self.grants[token] = Grant(user)
        self.issue(user.username, token)
        return JSONResponse({"token": token, **self._account(user, self._base(request))})

    def _share_login(self, request: Request, url: str, device: str) -> Response:
        match = SHARE_PATH.match(urlsplit(url).path)
        wanted = match.group(1, 2) if match else None
        share = next((s for s in self.seed.shares.values() if (s.prefix, s.key) == wanted), None)
        if share is None:
            return self.error(401, "Invalid share URL")
        if share.expired:
            return self.error(403, "This share has expired")
        token = self.share_tokens.get((share.key, device))
        if token is None:
            token = self.share_tokens[share.key, device] = random_token()
            self.grants[token] = Grant(self.users[share.owner], share, not share.two_factor)
            self.issue(f"share:{share.name}", token)
        owner = self.users[share.owner]
        return JSONResponse({"token": token, **self._account(owner, self._base(request))})

    async def two_factor(self, request: Request) -> Response:
        """GET sends an SMS code if one is needed; POST (or GET with `authcode`) verifies it."""
        token = request.path_params["token"]
        grant = self.grants.get(token)
        if grant is None:
            return self.not_logged_in()
        fields = await read_fields(request)
        if request.method == "POST" or "authcode" in fields:
            return self._verify_sms(token, grant, str(fields.get("authcode") or "").strip())
        if grant.verified or grant.share is None:
            body = {"message": "Two factor authentication is not required", "auth_required": False}
            return JSONResponse({**body, "type": "sms", "expiry": None})
        sms = self._send_sms(token, grant.share)
        expiry = datetime.fromtimestamp(sms.expires_at, timezone.utc).isoformat()
        body = {"message": "An SMS code was sent", "auth_required": True}
        return JSONResponse({**body, "type": "sms", "expiry": expiry})

    def _send_sms(self, token: str, share: Share) -> SmsCode:
        """A new 4-digit code, unless one sent earlier is still valid (then it is resent)."""
        sms = self.pending_sms.get(token)
        if sms is None or sms.expires_at < time.time():
            sms = self.pending_sms[token] = SmsCode(
                f"{secrets.randbelow(10**4):04d}", time.time() + SMS_CODE_TTL
            )
        for key in (token, share.name, share.key):
            self.sent_sms[key] = sms.code
        return sms

    def _verify_sms(self, token: str, grant: Grant, code: str) -> Response:
        if not code:
            return self.error(400, "authcode is required")
        sms = self.pending_sms.get(token)
        if sms is None or sms.expires_at < time.time():
            return self.error(403, "No pending code, request a new one")
        if code != sms.code:
            return self.error(401, "Invalid code")
        del self.pending_sms[token]
        grant.verified = True
        return JSONResponse({"message": "Code accepted"})

    # -- shares and files -----------------------------------------------------------------------

    async def share(self, request: Request, grant: Grant) -> Response:
        share = grant.share
        if share is None:
            return self.error(404, "This token does not belong to a share")
        base = self._base(request)
        owner = self.profile(grant.owner, base)
        permissions = dict.fromkeys(("description", "metainfo"), True)
        permissions["master"] = share.download
        permissions.update(dict.fromkeys(("converted", "comments", "attachments", "upload"), False))
        return JSONResponse(
            {
                "id": share.id,
                "name": self.files[share.folder_id].name,
                "expired": share.expired,
                "expires": None,
                "owner": owner,
                "user": None,
                "permissions": permissions,
                "file_id": share.folder_id,
                "type": "dir",
                "two_factor": share.two_factor,
                "url": None,
                "email_status": None,
                "max_file_size": grant.owner.max_file_size,
                "available_storage": grant.owner.available_storage,
            }
        )

    def _visible(self, grant: Grant) -> Iterator[IoFile]:
        """The owner's files, or only those below the share's folder."""
        for item in self.files.values():
            if item.owner != grant.owner.username:
                continue
            ancestor = item.parent
            while grant.root is not None and ancestor not in (None, grant.root):
                ancestor = self.files[ancestor].parent
            if grant.root is None or ancestor == grant.root:
                yield item

    def _file_json(self, item: IoFile, base: str, full: bool = False) -> dict[str, Any]:
        content = item.content
        md5 = hashlib.md5(content).hexdigest() if content is not None else None
        download = None
        if content is not None:
            download = f"{base}/download-file/{item.id}/0/0/1/0/{self.download_keys[item.id]}"
        body: dict[str, Any] = {
            "id": item.id,
            "name": item.name,
            "type": file_kind(item),
            "parent": item.parent,
            "attributes": [],
            "href": f"{base}/api/file/{item.id}",
            "download": download,
            "md5": md5,
            "size": None if content is None else len(content),
            "created": iso_offset(item.created),
        }
        if full:
            body.update(
                description="",
                editable=False,
                transfer_name=item.name,
                Etag=md5,
                upload_filename=hashlib.sha1(str(item.id).encode()).hexdigest()[:13],
            )
        return body

    def _locked(self, grant: Grant) -> Response | None:
        if grant.verified:
            return None
        return self.error(401, "Two-factor authentication required")

    async def list_files(self, request: Request, grant: Grant) -> Response:
        locked = self._locked(grant)
        if locked is not None:
            return locked
        base = self._base(request)
        files = [self._file_json(item, base) for item in self._visible(grant)]
        return JSONResponse({"files": files, "map": {str(f["id"]): f["type"] for f in files}})

    async def file(self, request: Request, grant: Grant) -> Response:
        locked = self._locked(grant)
        if locked is not None:
            return locked
        file_id = request.path_params["file_id"]
        item = next((f for f in self._visible(grant) if f.id == file_id), None)
        if item is None:
            return self.error(404, "File not found")
        return JSONResponse(self._file_json(item, self._base(request), full=True))

    async def authinfo(self, request: Request) -> Response:
        token = request.path_params["token"]
        grant = self.grants.get(token)
        if grant is None:
            return self.not_logged_in()
        base = self._base(request)
        limits = {"chunk_size": 33554432, "max_file_size": grant.owner.max_file_size}
        return JSONResponse(
            {
                "available": ["tus", "plupload"],
                "default": "tus",
                "tus": {"server": f"{base}/upload/tus/{token}", **limits, "protocol": "http"},
                "plupload": {
                    "server": f"{base}/handlers/upload.php?token={token}",
                    **limits,
                    "protocol": "http",
                },
                "max_file_size": grant.owner.max_file_size,
                "available_storage": grant.owner.available_storage,
            }
        )

    async def download(self, request: Request) -> Response:
        """No auth: the key in the URL is the credential. Honours a single byte Range, or
        redirects to `delivery` on the other host name (knob `iogates_download_redirect`)."""
        item = self.files.get(request.path_params["file_id"])
        key = request.path_params["key"]
        if item is None or item.content is None or key != self.download_keys[item.id]:
            return self.error(404, "File not found")
        if self.knobs.iogates_download_redirect:
            url = request.url
            other = OTHER_NAME.get(url.hostname or "")  # ::1 or a name: the same host
            netloc = f"{other}:{url.port}" if other and url.port else other or url.netloc
            location = f"{url.scheme}://{netloc}/delivery/{item.id}/{self.delivery_keys[item.id]}"
            return Response(status_code=302, headers={"Location": location})
        return self._file_response(item, request.headers.get("range"))

    async def delivery(self, request: Request) -> Response:
        """Where download links redirect: the bytes, for the key of the redirect's link alone.
        Every request's headers are kept in `delivered`."""
        self.delivered.append(dict(request.headers))
        item = self.files.get(request.path_params["file_id"])
        key = request.path_params["key"]
        if item is None or item.content is None or key != self.delivery_keys[item.id]:
            return self.error(404, "File not found")
        return self._file_response(item, request.headers.get("range"))

    def _file_response(self, item: IoFile, range_header: str | None) -> Response:
        assert item.content is not None
        content = item.content
        media_type = mimetypes.guess_type(item.name)[0] or "application/octet-stream"
        headers = {
            "Accept-Ranges": "bytes",
            "Content-Disposition": f'attachment; filename="{item.name}"',
        }
        span = byte_range(range_header, len(content))
        if span is None:
            return Response(content, media_type=media_type, headers=headers)
        first, last = span
        if first > last or first >= len(content):
            headers["Content-Range"] = f"bytes */{len(content)}"
            return Response(b"", status_code=416, headers=headers)
        headers["Content-Range"] = f"bytes {first}-{last}/{len(content)}"
        return Response(content[first : last + 1], 206, headers=headers, media_type=media_type)

    async def _sms_codes(self, request: Request) -> Response:
        return JSONResponse({"codes": self.sent_sms})
