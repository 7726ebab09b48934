"""``couchdrop://[ALIAS@]/path`` for fsspec and pandas, on the kernel's Couchdrop session.

    pd.read_csv("couchdrop:///reports/q3.csv")
    with fsspec.open("couchdrop://work@/out/notes.txt", "wt") as f: f.write("...")
    dd.read_csv("couchdrop:///logs/*.csv", blocksize=None,
                storage_options={"session": nbauth.delegate("couchdrop")})

Every operation is one of the session's calls (``CouchdropSession``), so the errors are theirs:
NotFound is a FileNotFoundError, AccessDenied a PermissionError, AlreadyExists a
FileExistsError. Writes are uploaded in one request when the file closes (or when fsspec's
transaction commits); ``auto_mkdir=True`` makes a missing folder first, as fsspec's local
filesystem does.

Couchdrop sends a file whole: it documents no byte ranges. A file opened for reading
(``WholeFile``) is downloaded at its first read, in one request, then read from memory. A
first read that starts past the file's beginning is a part of it asked on its own, as Dask
asks for each block after a file's first (``dd.read_csv``'s ``blocksize=``): each part would
download the whole file, so that is a UsageError saying to read with ``blocksize=None`` (one
partition per file). ``cat_file`` with ``start``/``end`` still downloads the file and cuts it.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable
from typing import Any, cast

from ..delegation import Delegation
from ..errors import AlreadyExists, NotFound, UsageError
from ..explore.couchdrop import CouchdropSession, Upload
from . import SessionFileSystem

__all__ = ["CouchdropFileSystem", "WholeFile"]


class CouchdropFileSystem(SessionFileSystem):
    """Couchdrop files through the current (or latest) Couchdrop session, the one stored
    under the URL's alias, or a delegation (``session=``)."""

    protocol = "couchdrop"
    service = "couchdrop"

    def __init__(
        self,
        alias: str | None = None,
        session: Delegation | None = None,
        auto_mkdir: bool = False,
        **kwargs: Any,
    ) -> None:
        """``auto_mkdir``: a write into a missing folder makes it (and its parents) first."""
        super().__init__(alias, session, **kwargs)
        self.auto_mkdir = auto_mkdir

    @property
    def files(self) -> CouchdropSession:
        """The session, as the Couchdrop session every Couchdrop login makes."""
        return cast(CouchdropSession, self.session)

    def ls(self, path: str, detail: bool = True, refresh: bool = False, **kwargs: Any) -> list[Any]:
        """The folder's entries (kept ``listings_expiry_time`` seconds unless ``refresh``); a
        file's path lists that file, as fsspec expects."""
        path = self._strip_protocol(path)
        files = self.files
        entries = None if refresh else self._listed(path)
        if entries is None:
            try:
                entries = files.listdir(path)
            except UsageError as exc:
                if exc.status != 400:  # not an answer: a path nbauth refused to send
                    raise
                entries = [files.info(path)]  # Couchdrop answers a file's listing 400
                if entries[0]["type"] == "directory":
                    raise
            else:
                self._remember(path, entries)
        return [dict(e) for e in entries] if detail else [e["name"] for e in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        files = self.files
        return self._listed_entry(path) or files.info(path)

    def _open(self, path: str, mode: str = "rb", autocommit: bool = True, **kwargs: Any) -> Any:
        """``rb``: a WholeFile; ``wb`` (``xb``: refused when the path is taken) an Upload that
        sends it on close (fsspec itself wraps both for the text modes)."""
        path = self._strip_protocol(path)
        files = self.files
        if mode in ("wb", "xb"):
            if mode == "xb":
                self._refuse_taken(files, path)
            self._made_parent(path)
            return _Upload(self, files, path, autocommit)
        if mode != "rb":
            raise UsageError(
                f"couchdrop:// files open for reading or writing, not {mode!r}.",
                service="couchdrop",
            )
        return WholeFile(lambda: files.download(path), lambda: self.info(path)["size"], path)

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        path = self._strip_protocol(path)
        return self.files.download(path)[start:end]

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        """Upload ``value``; ``mode="create"`` refuses a path that is taken already."""
        path = self._strip_protocol(path)
        files = self.files
        if mode == "create":
            self._refuse_taken(files, path)
        self._made_parent(path)
        try:
            files.upload(value, path)
        finally:
            self.invalidate_cache(path)

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Make a folder; an existing one is an error (AlreadyExists), as for local files."""
        if create_parents:
            self.makedirs(path, exist_ok=False)
        else:
            path = self._strip_protocol(path)
            try:
                self.files.mkdir(path)
            finally:
                self.invalidate_cache(path)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        path = self._strip_protocol(path)
        files = self.files
        try:
            if exist_ok:
                files.mkdir(path, parents=True)
                return
            try:
                files.mkdir(path)
            except NotFound:  # a missing parent: make the parents, then the folder itself
                files.mkdir(posixpath.dirname(path), parents=True)
                files.mkdir(path)
        finally:
            self.invalidate_cache(posixpath.dirname(path))
            self.invalidate_cache(path)

    # -- helpers ------------------------------------------------------------------------

    def _refuse_taken(self, files: CouchdropSession, path: str) -> None:
        """AlreadyExists when anything is at ``path`` now (asked afresh, not from a listing)."""
        try:
            files.info(path)
        except NotFound:
            return
        raise AlreadyExists(
            f"couchdrop://{path} exists already (mode='create' or 'x').", service="couchdrop"
        )

    def _made_parent(self, path: str) -> None:
        """With ``auto_mkdir``, the folder a write goes in, made if missing."""
        folder = posixpath.dirname(path)
        if self.auto_mkdir and folder != "/":
            self.makedirs(folder, exist_ok=True)


class _Upload(Upload):
    """An Upload that makes its filesystem forget the listings it changes."""

    def __init__(
        self, fs: CouchdropFileSystem, files: CouchdropSession, path: str, autocommit: bool
    ) -> None:
        super().__init__(files, path, autocommit)
        self.fs = fs

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.fs.invalidate_cache(self.path)


class WholeFile(io.BufferedIOBase):
    """A Couchdrop file opened for reading, downloaded whole at its first read (one request)
    and read from memory after that. Couchdrop documents no byte ranges, so a first read that
    starts inside the file, past its beginning (a part of it asked on its own, as Dask's blocks
    are), is a UsageError that says to read whole files (``blocksize=None``). A first read at
    or past the end, which is how Dask checks that a block reaches the end of its file, asks
    for the file's size (one ``lstat``) and reads nothing."""

    def __init__(
        self, download: Callable[[], bytes], size: Callable[[], int | None], path: str
    ) -> None:
        super().__init__()
        self.path = path
        self._download: Callable[[], bytes] | None = download
        self._size = size
        self._known_size: int | None = None
        self._data: io.BytesIO | None = None
        self._at = 0  # the position asked before the download

    def _whole(self, anywhere: bool = False) -> io.BytesIO | None:
        """The file's bytes, downloaded at the first call; None while the position asked is at
        or past the end (nothing to read there, and nothing downloaded)."""
        if self._data is None:
            if self.closed:
                raise ValueError("I/O operation on closed file.")
            if self._at > 0 and not anywhere:
                if self._known_size is None:
                    self._known_size = self._size()
                if self._known_size is not None and self._at >= self._known_size:
                    return None
                raise UsageError(
                    f"Couchdrop sends whole files only (it documents no byte ranges), and this "
                    f"read starts at byte {self._at} of couchdrop://{self.path}: a part of the "
                    f"file asked on its own, as Dask asks for each block of a file bigger than "
                    f"the blocksize (dd.read_csv's or db.read_text's blocksize=). Each part "
                    f"would download the whole file. Read whole files, one partition each: "
                    f"dd.read_csv('couchdrop:///...', blocksize=None, storage_options=...).",
                    service="couchdrop",
                )
            assert self._download is not None
            self._data = io.BytesIO(self._download())
            self._download = None
            self._data.seek(self._at)
        return self._data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at if self._data is None else self._data.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if self._data is None and whence in (io.SEEK_SET, io.SEEK_CUR):
            at = offset if whence == io.SEEK_SET else self._at + offset
            if at < 0:
                raise ValueError(f"negative seek position {at}")
            self._at = at
            return at
        whole = self._whole(anywhere=True)
        assert whole is not None
        return whole.seek(offset, whence)

    def read(self, size: int | None = -1) -> bytes:
        whole = self._whole()
        return b"" if whole is None else whole.read(size)

    def read1(self, size: int = -1) -> bytes:
        whole = self._whole()
        return b"" if whole is None else whole.read1(size)

    def readinto(self, buffer: Any) -> int:
        whole = self._whole()
        return 0 if whole is None else whole.readinto(buffer)

    def readinto1(self, buffer: Any) -> int:
        whole = self._whole()
        return 0 if whole is None else whole.readinto1(buffer)

    def readline(self, size: int | None = -1) -> bytes:
        whole = self._whole()
        return b"" if whole is None else whole.readline(size)

    def close(self) -> None:
        self._data, self._download = None, None
        super().close()
