"""Couchdrop emulator: api.couchdrop.io's login and `/manage` routes and fileio.couchdrop.io's
`/file` routes, served by one app on one port.

Where the 2016 Couchdrop server (GitHub Shasthojoy/couchdrop) shows what Couchdrop does, it does
the same: every `/manage/*` route answers 403 `{"err": "Token was not valid"}` to a token that is
unknown, expired or not an admin's, so that answer alone cannot tell a dead token from a missing
permission; storage is `{"storage": [...]}`; an upload's file is read from the multipart field
`file` (knob `couchdrop_upload_field`: "data", as the docs spell it). Where nothing shows it, it
does what docs/assumptions.md chose: the 2FA code is the form field `code`, the 401 body names
the `method`, session tokens expire after an hour (admin tokens never), a missing path is 404,
an existing one 409, a dead token on the file host is 403 "Authentication Invalid".

Each user's tree indexes its folders' children, so listing a folder of 100,000 files reads only
that folder; `POST /_sandbox/fill` (and `Sandbox.fill_couchdrop`) makes such a folder.
"""

from __future__ import annotations

import json
import mimetypes
import posixpath
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyotp
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from nbauth.sandbox.common import (
    FORM_TYPES,
    Endpoint,
    Knobs,
    ServiceApp,
    random_token,
    read_fields,
)
from nbauth.sandbox.seed import DEMO_USER, SEED_EPOCH, Seed

SESSION_TTL = 3600.0
NO_PERMISSION = "you do not have the right permissions"
NO_WRITE = "you cannot write to that folder"
#: The 2016 server's answer on `/manage/*` to a token that is unknown or not an admin's.
NOT_VALID = "Token was not valid"
#: The 2016 server's text for an upload without the field it reads (it answered 500).
NOT_PROVIDED = "File was not provided"
#: The most files one `/_sandbox/fill` makes.
MAX_FILL = 1_000_000
SEED_MODTIME = int(SEED_EPOCH.timestamp())
STORAGE = [
    {"id": "st-hosted", "path": "/", "store_type": "hosted", "subpath": ""},
    {"id": "st-reports", "path": "/reports", "store_type": "s3", "subpath": "acme-reports/"},
]


@dataclass(frozen=True)
class Session:
    """What a token stands for: a user, a kind (`session` or `admin`) and an expiry."""

    username: str
    kind: str
    expires_at: float | None


@dataclass
class Entry:
    """A file (`content` bytes) or folder (`content` None) in a user's tree."""

    content: bytes | None
    modtime: int

    def listing(self, path: str) -> dict[str, Any]:
        return {
            "filename": posixpath.basename(path) or "/",
            "size": len(self.content or b""),
            "modtime": 0 if self.content is None else self.modtime,
            "is_dir": self.content is None,
        }


def clean_path(raw: object) -> str | None:
    """An absolute, normalised path inside the user's root (no way above it), or None."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    return posixpath.normpath("/" + raw.strip().lstrip("/"))


class Tree:
    """A user's files and folders by path, each folder's children by name, and the `ls` body
    of each folder listed since it last changed (a folder of 100,000 files is encoded once,
    so the benchmarks time the client, not this emulator)."""

    def __init__(self, files: Mapping[str, bytes | None]) -> None:
        self.entries = {"/": Entry(None, SEED_MODTIME)}
        self.children: dict[str, set[str]] = {"/": set()}
        self.bodies: dict[str, bytes] = {}
        for path, content in files.items():
            self.makedirs(posixpath.dirname(path), SEED_MODTIME)
            self.put(path, Entry(content, SEED_MODTIME))

    def get(self, path: str) -> Entry | None:
        return self.entries.get(path)

    def put(self, path: str, entry: Entry) -> None:
        """Add or replace `path`; its parent folder must exist."""
        self.entries[path] = entry
        self.children[posixpath.dirname(path)].add(posixpath.basename(path))
        self.bodies.pop(posixpath.dirname(path), None)
        if entry.content is None:
            self.children.setdefault(path, set())

    def makedirs(self, path: str, modtime: int) -> None:
        """Make the folder `path` and its missing parents; ValueError if a file is in the way."""
        existing = self.entries.get(path)
        if existing is None:
            self.makedirs(posixpath.dirname(path), modtime)
            self.put(path, Entry(None, modtime))
        elif existing.content is not None:
            raise ValueError(f"a file is at {path}")

    def listing(self, folder: str) -> bytes:
        """`{"ls": [...]}` for `folder`, its entries sorted by name, as JSON."""
        body = self.bodies.get(folder)
        if body is None:
            prefix = folder.rstrip("/") + "/"
            names = sorted(self.children[folder])
            ls = [self.entries[prefix + name].listing(name) for name in names]
            body = self.bodies[folder] = json.dumps({"ls": ls}, separators=(",", ":")).encode()
        return body


class Couchdrop(ServiceApp[Session]):
    name = "couchdrop"

    def __init__(self, seed: Seed, default_knobs: Knobs) -> None:
        super().__init__(seed, default_knobs)
        self.sessions = {seed.couchdrop_admin_token: Session(DEMO_USER, "admin", None)}
        self.passwords = {name: user.password for name, user in self.users.items()}
        self.public_keys = dict.fromkeys(self.users, "")
        self.emails = {name: user.email for name, user in self.users.items()}
        self.trees = {name: Tree(seed.couchdrop_files.get(name, {})) for name in self.users}
        self.permissions = seed.couchdrop_permissions

    def routes(self) -> list[BaseRoute]:
        guarded, admin = self.guarded, self.admin_only
        return [
            Route("/authenticate", self.authenticate, methods=["POST"]),
            Route("/manage/account", admin(self.account), methods=["GET", "POST"]),
            Route("/manage/account/storage", admin(self.storage)),
            Route("/manage/credentials", admin(self.credentials)),
            Route("/file/ls", guarded(self.ls), methods=["POST"]),
            Route("/file/lstat", guarded(self.lstat), methods=["POST"]),
            Route("/file/download", guarded(self.download), methods=["POST"]),
            Route("/file/upload", guarded(self.upload), methods=["POST"]),
            Route("/file/mkdir", guarded(self.mkdir), methods=["POST"]),
        ]

    def control_routes(self) -> list[BaseRoute]:
        return [*super().control_routes(), Route("/_sandbox/fill", self._fill, methods=["POST"])]

    def demo_tokens(self, base_url: str) -> dict[str, Any]:
        return {"token": self.seed.couchdrop_admin_token}

    def fill(self, user: str, folder: str, count: int) -> None:
        """Put `count` small files (`file-000000.txt`, ...) in `folder`, made if missing."""
        tree = self.trees[user]
        tree.makedirs(folder, SEED_MODTIME)
        for i in range(count):
            tree.put(f"{folder.rstrip('/')}/file-{i:06d}.txt", Entry(b"%d\n" % i, SEED_MODTIME))

    async def _fill(self, request: Request) -> Response:
        """`{"user", "folder", "count"}`: `fill` from another process (the benchmarks)."""
        fields = await read_fields(request)
        user, folder, count = (
            fields.get("user"),
            clean_path(fields.get("folder")),
            fields.get("count"),
        )
        if user not in self.trees or folder is None or type(count) is not int:
            return self.error(400, "fill takes a JSON user (a known name), folder and count")
        if not 0 <= count <= MAX_FILL:
            return self.error(400, f"count must be 0 to {MAX_FILL}")
        try:
            self.fill(user, folder, count)
        except ValueError as exc:
            return self.error(400, str(exc))
        return JSONResponse({"user": user, "folder": folder, "count": count})

    def error(self, status: int, message: str) -> Response:
        return JSONResponse({"error": message}, status_code=status)

    def session_of(self, request: Request) -> Session | None:
        token = request.headers.get("token") or request.query_params.get("token")
        session = self.sessions.get(token) if token else None
        if session is None or (session.expires_at is not None and session.expires_at < time.time()):
            return None
        return session

    def not_logged_in(self) -> Response:
        return self.error(403, "Authentication Invalid")

    async def authenticate(self, request: Request) -> Response:
        fields = await read_fields(request)
        user = self.users.get(str(fields.get("username", "")))
        if user is None or fields.get("password") != self.passwords[user.username]:
            return self.error(403, "Invalid username or password")
        if user.blocked:
            return self.error(403, "Account is disabled")
        if user.totp_secret:
            code = str(fields.get("code") or "").strip()
            if not code:
                return JSONResponse({"error": "2FA required", "method": "totp"}, status_code=401)
            if not pyotp.TOTP(user.totp_secret).verify(code, valid_window=1):
                return self.error(401, "Invalid 2FA code")
        token = random_token()
        self.sessions[token] = Session(user.username, "session", time.time() + SESSION_TTL)
        self.issue(user.username, token)
        return JSONResponse({"token": token})

    def admin_only(self, handler: Callable[[Request, Session], Awaitable[Response]]) -> Endpoint:
        """A `/manage` route: as the 2016 server's, it answers a token that is missing, unknown,
        expired or not an admin's with the same 403 `{"err": "Token was not valid"}`."""

        async def endpoint(request: Request) -> Response:
            session = self.session_of(request)
            if session is None or not self.users[session.username].admin:
                return JSONResponse({"err": NOT_VALID}, status_code=403)
            return await handler(request, session)

        return endpoint

    async def account(self, request: Request, session: Session) -> Response:
        name = session.username
        if request.method == "POST":
            fields = await read_fields(request)
            self.passwords[name] = str(fields.get("password") or self.passwords[name])
            self.emails[name] = str(fields.get("email_address") or self.emails[name])
            key = fields.get("endpoint__valid_public_key")
            self.public_keys[name] = str(self.public_keys[name] if key is None else key)
            return JSONResponse({})
        account = {
            "username": name,
            "email_address": self.emails[name],
            "subscription_type": "business",
            "endpoint__valid_public_key": self.public_keys[name],
            "stripe__customer": None,
        }
        return JSONResponse({"account": account})

    async def storage(self, request: Request, session: Session) -> Response:
        return JSONResponse({"storage": STORAGE})

    async def credentials(self, request: Request, session: Session) -> Response:
        credentials = [
            {
                "id": user.user_id,
                "username": user.username,
                "permissions_mode": "rw",
                "permissions_path": "/",
                "public_key": self.public_keys[user.username],
            }
            for user in self.users.values()
        ]
        return JSONResponse({"credentials": credentials})

    async def _lookup(self, request: Request, session: Session) -> tuple[str, Entry] | Response:
        """The entry at the request's `path`, or the error response to send instead."""
        path = clean_path((await read_fields(request)).get("path"))
        if path is None:
            return self.error(400, "path is required")
        if self.mode(session, path) == "none":
            return self.error(403, NO_PERMISSION)
        entry = self.trees[session.username].get(path)
        if entry is None:
            return self.error(404, "File or folder not found")
        return path, entry

    def mode(self, session: Session, path: str) -> str:
        """What the user may do at `path`: "rw", "r" or "none" (the nearest rule above it)."""
        rules = self.permissions.get(session.username, {})
        while path not in rules and path != "/":
            path = posixpath.dirname(path)
        return rules.get(path, "rw")

    async def ls(self, request: Request, session: Session) -> Response:
        found = await self._lookup(request, session)
        if isinstance(found, Response):
            return found
        folder, entry = found
        if entry.content is not None:
            return self.error(400, "Not a folder")
        body = self.trees[session.username].listing(folder)
        return Response(body, media_type="application/json")

    async def lstat(self, request: Request, session: Session) -> Response:
        found = await self._lookup(request, session)
        if isinstance(found, Response):
            return found
        path, entry = found
        return JSONResponse({"lstat": entry.listing(path)})

    async def download(self, request: Request, session: Session) -> Response:
        found = await self._lookup(request, session)
        if isinstance(found, Response):
            return found
        path, entry = found
        if entry.content is None:
            return self.error(400, "Cannot download a folder")
        media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return Response(entry.content, media_type=media_type)

    def _check_parent(self, session: Session, path: str) -> Response | None:
        """The refusal of a write at `path`, or None: permission first, so a folder the user
        may not open does not tell what is in it."""
        if self.mode(session, posixpath.dirname(path)) != "rw":
            return self.error(403, NO_WRITE)
        tree = self.trees[session.username]
        existing = tree.get(path)
        if path == "/" or (existing is not None and existing.content is None):
            return self.error(409, "A folder already exists at that path")
        parent = tree.get(posixpath.dirname(path))
        if parent is None or parent.content is not None:
            return self.error(404, "parent-folder-not-found")
        return None

    async def upload(self, request: Request, session: Session) -> Response:
        """Multipart, the file in the field `couchdrop_upload_field` names, or a raw body (as
        some public clients send); `path`, `size`, `modtime` in the query."""
        path = clean_path(request.query_params.get("path"))
        if request.headers.get("content-type", "").startswith(FORM_TYPES):
            form = await request.form()
            path = path or clean_path(form.get("path"))
            part = form.get(self.knobs.couchdrop_upload_field)
            if not isinstance(part, UploadFile):
                status = self.knobs.couchdrop_upload_missing_status
                return JSONResponse({"err": NOT_PROVIDED}, status_code=status)
            content = await part.read()
        else:
            content = await request.body()
        if path is None:
            return self.error(400, "path is required")
        refused = self._check_parent(session, path)
        if refused is not None:
            return refused
        modtime = request.query_params.get("modtime", "")
        mtime = int(modtime) if modtime.isdigit() else int(time.time())
        self.trees[session.username].put(path, Entry(content, mtime))
        return JSONResponse({})

    async def mkdir(self, request: Request, session: Session) -> Response:
        path = clean_path((await read_fields(request)).get("path"))
        if path is None:
            return self.error(400, "path is required")
        refused = self._check_parent(session, path)
        if refused is None and self.trees[session.username].get(path) is not None:
            refused = self.error(409, "A file already exists at that path")
        if refused is not None:
            return refused
        self.trees[session.username].put(path, Entry(None, int(time.time())))
        return JSONResponse({})
