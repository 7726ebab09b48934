"""iogates:// paths for fsspec and pandas, read-only, through the kernel's ioGates session.

    pd.read_csv("iogates:///Private/budget.csv")         # the current (or latest) ioGates session
    pd.read_csv("iogates://shared@/Rushes/notes.txt")   # the session stored as 'shared'
    dd.read_csv("iogates:///Data/*.csv", blocksize="16 MiB",
                storage_options={"session": nbauth.delegate("iogates")})

ioGates lists everything a token sees in one call (``GET /api/files``), so one listing gives
every folder's entries: the filesystem keeps them all (``listings_expiry_time``), and a glob
or a walk of the whole tree costs one request. A file opened for reading is fsspec's buffered
file (``IoGatesFile``): one listing when it opens (for its size and download link), then the
parts read, each fetched with an HTTP Range from the link, so a Dask block reads its own bytes
and no more. A part that is the whole file is checked against the listing's md5, as
``s.download`` does; smaller parts cannot be. ``cat_file`` reads the whole file (checked) or,
with ``start``/``end``, that part alone.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
from typing import Any

from fsspec.spec import AbstractBufferedFile

from .. import _http
from .._calls import Flow
from ..errors import ServiceError, UsageError
from ..explore.iogates import ROOT, Entry, IoGatesSession, byte_range, label
from ..services.answers import fail
from . import SessionFileSystem

__all__ = ["IoGatesFile", "IoGatesFileSystem"]


class IoGatesFileSystem(SessionFileSystem):
    protocol = "iogates"
    service = "iogates"

    @property
    def iogates(self) -> IoGatesSession:
        session = self.session
        assert isinstance(session, IoGatesSession)  # every ioGates login makes one
        return session

    def ls(self, path: str, detail: bool = True, refresh: bool = False, **kwargs: Any) -> list[Any]:
        """The folder's entries; a file's path lists that file, as fsspec expects."""
        path = self._strip_protocol(path)
        session = self.iogates
        what = f"listing of {label(path)}"
        entries = None if refresh else self._listed(path)
        if entries is None:
            found, folders = self._refresh(session, what)
            entries = folders.get(path)
            if entries is None:  # not a folder: the file itself, or NotFound naming it
                entries = [session._find(found, path, what).as_dict()]
        return [dict(e) for e in entries] if detail else [e["name"] for e in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        session = self.iogates
        if path == "/":
            return ROOT.as_dict()
        kept = self._listed_entry(path)
        if kept is not None:
            return kept
        what = f"info of {label(path)}"
        return session._find(self._refresh(session, what)[0], path, what).as_dict()

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        path = self._strip_protocol(path)
        return self.iogates.download(path, start=start, end=end)

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if mode != "rb":  # fsspec asks for text modes in binary and decodes itself
            raise UsageError(
                f"ioGates files are read-only here: iogates:// paths can be read, not written "
                f"(mode {mode!r}).",
                service=self.service,
            )
        path = self._strip_protocol(path)
        session = self.iogates
        what = f"download of {label(path)}"
        entry = session._find(self._refresh(session, what)[0], path, what)
        if entry.is_dir:
            raise UsageError(
                f"ioGates: {label(path)} is a folder; open() takes a file. See what it holds "
                "with ls().",
                service=self.service,
            )
        if entry.size is None:  # no size listed: no parts to ask for, the whole file then
            return io.BytesIO(session.download(path))
        return IoGatesFile(
            self,
            path,
            session,
            entry,
            block_size=kwargs.get("block_size"),
            cache_type=kwargs.get("cache_type", "readahead"),
            cache_options=kwargs.get("cache_options"),
        )

    def _refresh(
        self, session: IoGatesSession, what: str
    ) -> tuple[list[Entry], dict[str, list[dict[str, Any]]]]:
        """Everything the session sees (one ``GET /api/files``), and each folder's entries,
        which are kept for every folder at once."""
        entries: list[Entry] = session._run(session._list_flow(what))
        folders: dict[str, list[dict[str, Any]]] = {"/": []}
        for entry in entries:
            if entry.is_dir:
                folders.setdefault(entry.path, [])
        for entry in entries:
            folders.setdefault(posixpath.dirname(entry.path), []).append(entry.as_dict())
        for folder, children in folders.items():
            self._remember(folder, children)
        return entries, folders


class IoGatesFile(AbstractBufferedFile):  # type: ignore[misc]
    """An ioGates file read through fsspec's buffer: each part is one Range request to the
    file's download link (a part that is the whole file is checked against its md5)."""

    def __init__(
        self,
        fs: IoGatesFileSystem,
        path: str,
        session: IoGatesSession,
        entry: Entry,
        **kwargs: Any,
    ) -> None:
        self.session, self.entry = session, entry
        super().__init__(fs, path, mode="rb", size=entry.size, **kwargs)

    def _fetch_range(self, start: int, end: int) -> bytes:
        end = min(end, self.size)
        if start >= end:
            return b""
        part: bytes = self.session._run(_part_flow(self.session, self.entry, start, end))
        return part


def _part_flow(session: IoGatesSession, entry: Entry, start: int, end: int) -> Flow[bytes]:
    """Bytes ``start`` to ``end`` (excluded) of ``entry``, from its download link."""
    what = f"download of {label(entry.path)}"
    yield from session._may_download(what)
    if entry.download is None:
        raise fail(
            session._service,
            ServiceError,
            what,
            None,
            "ioGates gives no download link for it (its upload may not be finished). "
            "Try again later.",
        )
    _http.check_plain_http(
        entry.download.reveal(), allow_insecure=session.allow_insecure, service=session._service
    )
    most = entry.size if entry.size is not None else end
    response = yield from session._fetch(entry.download, byte_range(start, end), what, most)
    if response.status_code == 416:  # the range starts past the end
        return b""
    session._refuse_link(response, what)
    content = response.content if response.status_code == 206 else response.content[start:end]
    whole = start == 0 and end == entry.size
    if (
        whole
        and entry.md5 is not None
        and hashlib.md5(content, usedforsecurity=False).hexdigest() != entry.md5
    ):
        raise fail(
            session._service,
            ServiceError,
            what,
            response.status_code,
            f"the bytes received do not match the md5 the listing gives ({entry.md5}): the "
            "transfer was damaged or the file changed meanwhile. Try again.",
        )
    return content
