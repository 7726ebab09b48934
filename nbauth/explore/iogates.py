"""ioGates files as DataFrames and bytes: ``s.ls()``, ``s.download()``, ``s.open()``.

ioGates has one listing call, ``GET /api/files``: everything the token may see as a flat list,
whose ``parent`` ids make the tree. Every call lists afresh (nothing is cached, so an upload
made meanwhile shows at once) and ``rebuild`` turns the list into paths by the rules in
docs/assumptions.md. A file's bytes come from its ``download`` link: an absolute URL, perhaps on
another host, that takes no token because it carries a key of its own. So the link is handled
like a token (never in a message, masked in logs), and the bytes are checked against the md5
the listing gives.

A link may redirect to the file on another host (the public client's downloader follows
redirects). nbauth follows at most ``MAX_REDIRECTS`` itself, in the flow, not by httpx: each hop
is a new request that carries only the ``Range`` header (never a token), goes over https (plain
http only to loopback, or where the login allowed it, and never down from https to another
machine), and has the new URL's key-like parts masked like the link's.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, TYPE_CHECKING, Any, TypeGuard, cast
from urllib.parse import urljoin, urlsplit

from .. import _checks, _http
from .._calls import WHOLE, Call, Flow
from .._session import Session
from ..errors import AccessDenied, NotFound, ServiceError, TwoFactorRequired, UsageError
from ..secret import Secret
from ..services.answers import (
    error_text,
    expired,
    fail,
    failed,
    figure,
    json_body,
    server_says,
)
from ..services.iogates import share_summary
from .paths import clean

if TYPE_CHECKING:
    import httpx
    import pandas as pd

__all__ = ["Entry", "IoGatesSession", "rebuild"]

COLUMNS = ("id", "name", "path", "type", "is_dir", "size", "created", "md5")
#: How a server's 401 says that a share's SMS check is still to be passed (**assumed**).
TWO_FACTOR = re.compile(r"two.?factor|2fa", re.IGNORECASE)
MD5 = re.compile(r"[0-9a-fA-F]{32}")
#: Parts of a download link this long are taken for its key and masked on their own too.
KEY_LENGTH = 16
#: The most redirects one download follows, and the statuses that are one.
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Entry:
    """One file or folder of a listing, at the path nbauth gave it."""

    id: int | None
    #: ioGates' own name; ``path`` ends in it, unless a sibling has it too (see ``rebuild``).
    name: str
    path: str
    #: ioGates' own type: dir, movie, audio, image, other (or a MIME type).
    kind: str
    size: int | None
    created: datetime | None
    md5: str | None
    #: The link that downloads it, which holds its own key: a Secret, so no repr shows it.
    download: Secret | None = None

    @property
    def is_dir(self) -> bool:
        return self.kind == "dir"

    def as_dict(self) -> dict[str, Any]:
        """The entry as fsspec describes files: ``name`` is the path."""
        return {
            "name": self.path,
            "id": self.id,
            "type": "directory" if self.is_dir else "file",
            "size": self.size,
            "created": self.created,
            "md5": self.md5,
            "kind": self.kind,
        }


ROOT = Entry(None, "", "/", "dir", None, None, None)


class IoGatesSession(Session):
    """An ioGates session (account, stored token or share URL) with its files.

    A share session's ``/`` is the shared folder. Paths are rebuilt at every call from the
    whole listing, so each call costs one ``GET /api/files`` (a download one more, to the link).
    """

    data_calls = ("ls", "download", "open")

    def ls(self, path: str = "/", recursive: bool = False) -> pd.DataFrame:
        """The folder's entries as a table (id, name, path, type, is_dir, size, created, md5);
        ``recursive=True`` lists its whole subtree. A file's path lists that file alone."""
        return frame(self._under(path, recursive))

    def listdir(self, path: str = "/") -> list[dict[str, Any]]:
        """The folder's entries as fsspec dicts (``name`` is the path, ``kind`` ioGates' type)."""
        return [entry.as_dict() for entry in self._under(path, recursive=False)]

    def info(self, path_or_id: str | int) -> dict[str, Any]:
        """One entry as an fsspec dict, by path or by ioGates id."""
        target = target_of(path_or_id)
        if target == "/":
            return ROOT.as_dict()
        what = f"info of {label(target)}"
        return self._find(self._run(self._list_flow(what)), target, what).as_dict()

    def download(
        self, path_or_id: str | int, *, start: int | None = None, end: int | None = None
    ) -> bytes:
        """The file's bytes, checked against the listing's md5. ``start``/``end`` (end
        excluded, negative counts from the end) ask for part of it with an HTTP Range; a
        part cannot be checked against the md5."""
        for bound in (start, end):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
                raise UsageError(
                    "ioGates: start= and end= are byte offsets (ints).", service=self.service
                )
        return cast(bytes, self._run(self._download_flow(target_of(path_or_id), start, end)))

    def open(
        self,
        path_or_id: str | int,
        mode: str = "rb",
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> IO[Any]:
        """The file, downloaded whole, as a file object: ``"rb"`` bytes, ``"r"`` text (UTF-8
        unless ``encoding=``). ioGates files are read-only here."""
        if not isinstance(mode, str) or any(c in mode for c in "wax+"):
            raise UsageError(
                f"ioGates files are read-only here: open() reads them (mode 'rb' or 'r'), "
                f"it cannot write (mode {mode!r}).",
                service=self.service,
            )
        if mode not in ("r", "rt", "tr", "rb", "br"):
            raise UsageError(
                f"ioGates: open() takes mode 'rb' or 'r', not {mode!r}.", service=self.service
            )
        if "b" in mode and (encoding, errors, newline) != (None, None, None):
            raise UsageError(
                "ioGates: binary mode takes no encoding=, errors= or newline=.",
                service=self.service,
            )
        data = io.BytesIO(self.download(path_or_id))
        if "b" in mode:
            return data
        return io.TextIOWrapper(data, encoding=encoding or "utf-8", errors=errors, newline=newline)

    # -- flows ------------------------------------------------------------------------

    def _under(self, path: str, recursive: bool) -> list[Entry]:
        """The entries in the folder ``path`` (all below it with ``recursive``), or the file."""
        target = target_of(path)
        if isinstance(target, int):
            raise UsageError(
                "ioGates: ls() takes a folder's path, like '/Projects'.", service=self.service
            )
        what = f"listing of {label(target)}"
        entries: list[Entry] = self._run(self._list_flow(what))
        if target != "/":
            found = self._find(entries, target, what)
            if not found.is_dir:
                return [found]
        prefix = target.rstrip("/") + "/"
        return [
            entry
            for entry in entries
            if entry.path.startswith(prefix) and (recursive or "/" not in entry.path[len(prefix) :])
        ]

    def _list_flow(self, what: str) -> Flow[list[Entry]]:
        response = yield Call("GET", f"{self.url}/api/files", self._service.auth_headers(self))
        self._refuse(response, what)
        files = json_body(self._service, response, what).get("files")
        if not isinstance(files, list):
            raise fail(
                self._service,
                ServiceError,
                what,
                response.status_code,
                "the answer has no 'files' list. Check that the URL points to the ioGates API.",
            )
        return rebuild(files)

    def _file_flow(self, file_id: int, what: str) -> Flow[Entry]:
        """One file by id, with ``GET /api/file/{id}``: no listing needed."""
        url = f"{self.url}/api/file/{file_id}"
        response = yield Call("GET", url, self._service.auth_headers(self))
        self._refuse(response, what)
        return entry_of(json_body(self._service, response, what), file_id, label(file_id))

    def _download_flow(self, target: str | int, start: int | None, end: int | None) -> Flow[bytes]:
        what = f"download of {label(target)}"
        if isinstance(target, int):
            entry = yield from self._file_flow(target, what)
        else:
            entry = self._find((yield from self._list_flow(what)), target, what)
        if entry.is_dir:
            raise UsageError(
                f"ioGates: {label(target)} is a folder; download() takes a file. "
                f"See what it holds with ls().",
                service=self.service,
            )
        yield from self._may_download(what)
        if entry.download is None:
            raise fail(
                self._service,
                ServiceError,
                what,
                None,
                "ioGates gives no download link for it (its upload may not be finished). "
                "Try again later.",
            )
        link = entry.download.reveal()
        _http.check_plain_http(link, allow_insecure=self.allow_insecure, service=self._service)
        # A server may ignore the Range and send it all: the listing's size bounds either.
        most = WHOLE if entry.size is None else entry.size
        response = yield from self._fetch(entry.download, byte_range(start, end), what, most)
        if response.status_code == 416:  # the range starts past the end
            return b""
        self._refuse_link(response, what)
        if response.status_code == 206:
            return response.content
        content = response.content
        if (
            entry.md5 is not None
            and hashlib.md5(content, usedforsecurity=False).hexdigest() != entry.md5
        ):
            raise fail(
                self._service,
                ServiceError,
                what,
                response.status_code,
                f"the bytes received do not match the md5 the listing gives ({entry.md5}): the "
                "transfer was damaged or the file changed meanwhile. Try again.",
            )
        return content if start is None and end is None else content[start:end]

    def _fetch(self, link: Secret, span: str | None, what: str, most: int) -> Flow[httpx.Response]:
        """The answer to ``GET link``, its redirects followed (at most MAX_REDIRECTS). Every
        request carries the Range header ``span`` and nothing else of nbauth's: the link's own
        key is its credential, and a redirect's target gets no more than the link did."""
        url = link
        for _ in range(MAX_REDIRECTS + 1):
            headers: dict[str, str | Secret] = {"Range": span} if span else {}
            response = yield Call(
                "GET", url.reveal(), headers, url_secrets=link_secrets(url), max_bytes=most
            )
            location = response.headers.get("location")
            if response.status_code not in REDIRECTS or not location:
                return response
            url = self._redirect_target(url, location, response.status_code, what)
        raise fail(
            self._service,
            ServiceError,
            what,
            response.status_code,
            f"the download link redirected more than {MAX_REDIRECTS} times. Try again later.",
        )

    def _redirect_target(self, url: Secret, location: str, status: int, what: str) -> Secret:
        """Where a redirect leads, if nbauth may follow it there."""
        target = Secret(urljoin(url.reveal(), location.strip()))
        scheme = urlsplit(target.reveal()).scheme.lower()
        host = urlsplit(target.reveal()).hostname or ""
        downgrade = scheme == "http" and urlsplit(url.reveal()).scheme.lower() == "https"
        if scheme not in ("http", "https") or (downgrade and not _http.is_loopback(host)):
            raise fail(
                self._service,
                ServiceError,
                what,
                status,
                "the download link redirects to a place nbauth does not follow (only https, "
                "or plain http to this machine). Ask the account or share owner.",
            )
        _http.check_plain_http(
            target.reveal(), allow_insecure=self.allow_insecure, service=self._service
        )
        return target

    def _may_download(self, what: str) -> Flow[None]:
        """A share session downloads only what the share allows (``permissions.master``):
        ioGates leaves that check to its clients. The share is read once, then kept."""
        if self.kind != "share-url":
            return
        share = self.details.get("share")
        if not isinstance(share, dict):
            url = f"{self.url}/api/share"
            response = yield Call("GET", url, self._service.auth_headers(self))
            self._refuse(response, what)
            share = self.details["share"] = share_summary(json_body(self._service, response, what))
        permissions = share.get("permissions")
        if isinstance(permissions, dict) and permissions.get("master") is False:
            raise fail(
                self._service,
                AccessDenied,
                what,
                None,
                f"the share of session '{self.alias}' does not allow downloading its files "
                "(its 'master' permission is off). Ask the share's owner for that permission.",
            )

    # -- answers ----------------------------------------------------------------------

    def _refuse(self, response: httpx.Response, what: str) -> None:
        """The NbAuthError for a refused API call (``what`` names the path or id)."""
        status, service = response.status_code, self._service
        if status == 401 and self.kind == "share-url" and TWO_FACTOR.search(error_text(response)):
            raise TwoFactorRequired(
                f"{failed(service, what, 401)}: the share of session '{self.alias}' asks "
                "for its SMS code, which this session has not passed (login_many, and "
                "share_check='skip', log a share in without reading it, so no SMS is sent). "
                "Log in to that share on its own to receive the SMS: nbauth.login('iogates', "
                f"share_url=..., alias={self.alias!r}), then again with code='1234'.",
                method="sms",
                service=self.service,
                status=status,
            )
        if status == 401:
            raise expired(service, self, what, status)
        if status == 403:
            raise fail(
                service,
                AccessDenied,
                what,
                status,
                f"access refused{server_says(response)}. Ask the account or share owner.",
            )
        if status == 404:
            raise fail(service, NotFound, what, status, f"not found{server_says(response)}.")

    def _refuse_link(self, response: httpx.Response, what: str) -> None:
        """The NbAuthError for a download link's answer other than 2xx. The link takes no
        token, so a refusal says nothing about the session."""
        status, service = response.status_code, self._service
        if status in (401, 403):
            raise fail(
                service,
                AccessDenied,
                what,
                status,
                f"the download link was refused{server_says(response)}. Ask the "
                "account or share owner.",
            )
        if status in (404, 410):
            raise fail(
                service,
                NotFound,
                what,
                status,
                "the download link is gone: the file may have been "
                "deleted meanwhile. List the folder again.",
            )
        if not 200 <= status < 300:
            json_body(service, response, what)  # raises: rate limit, server error, redirect...

    def _find(self, entries: Iterable[Entry], target: str | int, what: str) -> Entry:
        for entry in entries:
            if (entry.id if isinstance(target, int) else entry.path) == target:
                return entry
        root = " (a share session's / is the shared folder)" if self.kind == "share-url" else ""
        raise NotFound(
            f"ioGates {what} failed: the session '{self.alias}' sees no {label(target)}{root}. "
            "See what is there with ls('/', recursive=True).",
            service=self.service,
        )


# -- the tree -------------------------------------------------------------------------


def rebuild(files: Iterable[Any]) -> list[Entry]:
    """The entries of ``GET /api/files`` at their paths, sorted by path.

    An entry sits in its ``parent`` folder; a parent that is a file (a version or attachment
    of it) puts the entry next to that file; no parent, or one missing from the list (a share's
    own folder), puts it at the top. A chain of parents that comes back on itself is cut where
    it closes, that entry going to the top. Siblings with one name: the lowest id keeps it, the
    others get `` (id N)`` before the extension. A '/' in a name becomes '_'; an empty name,
    '.' or '..' shows as ``(id N)``. Items that are not objects with an integer id are left out.
    """
    items = {item["id"]: item for item in files if isinstance(item, dict) and is_id(item.get("id"))}
    folder = {item_id: nearest_folder(items, item_id) for item_id in items}
    for start in items:
        walked, node = set(), start
        while node is not None and node not in walked:
            walked.add(node)
            node = folder[node]
        if node is not None:  # the walk came back to ``node``: cut the loop there
            folder[node] = None
    children: dict[int | None, list[int]] = {}
    for item_id, parent in folder.items():
        children.setdefault(parent, []).append(item_id)
    entries: list[Entry] = []
    stack: list[tuple[int | None, str]] = [(None, "")]
    while stack:
        parent, prefix = stack.pop()
        taken: set[str] = set()
        for item_id in sorted(children.get(parent, ()), key=lambda i: (shown_name(items[i]), i)):
            path = f"{prefix}/{unique(shown_name(items[item_id]), item_id, taken)}"
            entries.append(entry_of(items[item_id], item_id, path))
            stack.append((item_id, path))
    return sorted(entries, key=lambda entry: entry.path)


def is_id(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def parent_of(item: Mapping[str, Any]) -> int | None:
    parent = item.get("parent")
    return parent if is_id(parent) else None


def nearest_folder(items: Mapping[int, Mapping[str, Any]], item_id: int) -> int | None:
    """The folder an entry sits in: its parent, or the folder of a parent that is a file."""
    seen = {item_id}
    parent = parent_of(items[item_id])
    while parent is not None and parent in items and parent not in seen:
        if items[parent].get("type") == "dir":
            return parent
        seen.add(parent)
        parent = parent_of(items[parent])
    return None


def shown_name(item: Mapping[str, Any]) -> str:
    name = item.get("name")
    name = name.replace("/", "_") if isinstance(name, str) else ""
    return name if name not in ("", ".", "..") else f"(id {item['id']})"


def unique(name: str, item_id: int, taken: set[str]) -> str:
    """``name``, or with `` (id N)`` before its extension when a sibling has taken it."""
    if name in taken:
        stem, dot, extension = name.rpartition(".")
        if not stem.strip("."):
            stem, dot, extension = name, "", ""
        name = f"{stem} (id {item_id}){dot}{extension}"
    taken.add(name)
    return name


def entry_of(item: Mapping[str, Any], item_id: int, path: str) -> Entry:
    """An Entry from a file object of the API; fields of the wrong type count as absent."""
    kind, name, md5, link = (item.get(k) for k in ("type", "name", "md5", "download"))
    size = figure(item.get("size"))
    return Entry(
        id=item_id,
        name=name if isinstance(name, str) else "",
        path=path,
        kind=kind if isinstance(kind, str) else "other",
        size=size if isinstance(size, int) and size >= 0 else None,
        created=moment(item.get("created")),
        md5=md5.lower() if isinstance(md5, str) and MD5.fullmatch(md5) else None,
        download=Secret(link) if isinstance(link, str) and link else None,
    )


def moment(value: Any) -> datetime | None:
    """ioGates' ``created`` (``2020-07-07T10:14:21+0200``) in UTC; a time given without an
    offset is taken as UTC, anything unreadable as unknown."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.strptime(value.strip(), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def frame(entries: list[Entry]) -> pd.DataFrame:
    import pandas as pd

    table: pd.DataFrame = pd.DataFrame(
        {
            "id": pd.Series([entry.id for entry in entries], dtype="int64"),
            "name": [entry.name for entry in entries],
            "path": [entry.path for entry in entries],
            "type": [entry.kind for entry in entries],
            "is_dir": pd.Series([entry.is_dir for entry in entries], dtype="bool"),
            "size": pd.Series([entry.size for entry in entries], dtype="Int64"),
            "created": pd.Series([entry.created for entry in entries], dtype="datetime64[ns, UTC]"),
            "md5": [entry.md5 for entry in entries],
        },
        columns=list(COLUMNS),
    )
    return table


# -- calls ----------------------------------------------------------------------------


def target_of(path_or_id: Any) -> str | int:
    """An id as it is, a path as an absolute path without empty or '.' parts."""
    if is_id(path_or_id):
        return path_or_id
    if not isinstance(path_or_id, str):
        raise UsageError(
            "ioGates: give a path like '/Projects/notes.txt' or a file id (an int), not "
            f"{type(path_or_id).__name__}.",
            service="iogates",
        )
    return clean(_checks.text(path_or_id, "path", title="ioGates", service="iogates"))


def label(target: str | int) -> str:
    return f"file id {target}" if isinstance(target, int) else f"'{target}'"


def byte_range(start: int | None, end: int | None) -> str | None:
    """The Range header for ``start``/``end``, or None to fetch it all and cut here (what a
    single Range cannot say: a negative end, or a negative start with an end)."""
    if start is None and end is None:
        return None
    if start is not None and start < 0:
        return f"bytes={start}" if end is None else None
    first = start or 0
    if end is None:
        return f"bytes={first}-"
    return f"bytes={first}-{end - 1}" if end > first else None


def link_secrets(link: Secret) -> tuple[Secret, ...]:
    """The download link and its key-like parts, to be masked wherever the request is logged."""
    parts = urlsplit(link.reveal())
    pieces = re.split(r"[/&=]", f"{parts.path}&{parts.query}")
    return (link, *(Secret(piece) for piece in pieces if len(piece) >= KEY_LENGTH))
