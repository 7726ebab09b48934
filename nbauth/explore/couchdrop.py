"""Couchdrop's files from a session: s.ls, s.download, s.open, s.upload and s.mkdir.

Each call is a POST to the file host the login chose (``details["fileio_url"]``) with the
session's ``token`` header, written as a flow and run by ``Session._run``, so it gets the login's
timeouts, TLS rules, retries and secret masking. Couchdrop documents the routes and the success
bodies, not most failures; how those are read (403 text, 404, 409, 400) is listed in
docs/assumptions.md.

A listing is turned into a table column by column (``columns`` then ``frame``): a folder of
100,000 entries costs a few list comprehensions, not 100,000 small DataFrames or Series.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import time
from dataclasses import replace
from datetime import datetime, timezone
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, cast

from .. import _checks, _http
from .._calls import WHOLE, Call, Flow
from .._session import Session
from ..errors import (
    AccessDenied,
    AlreadyExists,
    NbAuthError,
    NotFound,
    ServiceError,
    UsageError,
)
from ..services.answers import error_text, expired, fail, json_body, server_says
from .paths import clean

if TYPE_CHECKING:
    import httpx
    import pandas as pd

    from ..services.couchdrop import Couchdrop

__all__ = ["CouchdropSession", "Upload"]

#: The listing's columns and their dtypes; an empty folder's table has them too.
COLUMNS = {
    "filename": "str",
    "path": "str",
    "is_dir": "bool",
    "size": "Int64",
    "modified": "datetime64[us, UTC]",
}
#: The last second of the year 9999: a later modtime is no date a table or datetime can hold.
LAST_SECOND = 253402300799
#: What a JSON modtime may be (not bool, whose type is neither).
NUMBER = (int, float)
READ_MODES = ("rb", "r", "rt")
WRITE_MODES = ("wb", "w", "wt")
#: The multipart fields an upload's file may travel in: ``file``, which the 2016 server reads
#: (``request.files['file']``) and every public client sends, then ``data``, the developer
#: docs' spelling.
UPLOAD_FIELDS = ("file", "data")
#: The field each file host took last, by its URL, for the life of the kernel: only the first
#: upload to a server that reads ``data`` costs a second request.
upload_field: dict[str, str] = {}
#: How a server says that the upload lacked the field it reads (the 2016 server: 500 "File was
#: not provided"); **assumed** for today's servers, which nothing public shows.
FIELD_MISSING = re.compile(
    r"\b(file|data)\b.*\b(not provided|not given|missing|required|expected)\b"
    r"|\b(no|missing)\b.*\b(file|data)\b",
    re.IGNORECASE,
)


class CouchdropSession(Session):
    """A Couchdrop login and its files. Paths are absolute inside the account's root
    (``"reports/q3.csv"`` means ``"/reports/q3.csv"``)."""

    data_calls = ("ls", "download", "open", "upload", "mkdir")

    # -- the data calls ---------------------------------------------------------------

    def ls(self, path: str = "/") -> pd.DataFrame:
        """The folder at ``path`` as a table: filename, path, is_dir, size (bytes, nullable
        Int64) and modified (UTC; NaT where Couchdrop gives no time, as for folders, whose
        modtime is 0). Folders come first, then files, each sorted by name."""
        folder = absolute(path)
        return frame(columns(self._run(self._ls_flow(folder)), folder))

    def download(self, path: str) -> bytes:
        """The content of the file at ``path``."""
        data: bytes = self._run(self._download_flow(absolute(path)))
        return data

    def open(self, path: str, mode: str = "rb", encoding: str = "utf-8") -> IO[Any]:
        """The file at ``path`` as a file object, for a ``with`` block.

        ``"rb"``/``"r"`` read it (downloaded whole when opened). ``"wb"``/``"w"`` write it: what
        is written stays in memory and is uploaded in one request when the file closes; a
        ``with`` block that ends in an exception uploads nothing, so a half-written file never
        replaces a good one. ``encoding`` is for the text modes.
        """
        if mode in READ_MODES:
            data = io.BytesIO(self.download(path))
            return data if mode == "rb" else io.TextIOWrapper(data, encoding=encoding)
        if mode in WRITE_MODES:
            upload = Upload(self, absolute(path))
            return upload if mode == "wb" else TextUpload(upload, encoding=encoding)
        raise UsageError(
            f"Couchdrop files open for reading ('rb', 'r') or writing ('wb', 'w'), not {mode!r}. "
            "Couchdrop has no appending: download, change and upload the whole file instead.",
            service=self.service,
        )

    def upload(self, source: Any, path: str) -> dict[str, Any]:
        """Upload ``source`` to ``path`` (the whole destination, file name included) and return
        the new file's entry (as ``info`` gives it). A file already there is replaced.

        ``source`` is bytes, a local file's path (str or ``pathlib.Path``), or a binary file
        object, read to its end. The folder it goes in must exist: ``s.mkdir(folder,
        parents=True)`` makes it.
        """
        target = absolute(path)
        data, modtime = read_source(source, self.service)
        entry: dict[str, Any] = self._run(self._upload_flow(target, data, modtime))
        return entry

    def mkdir(self, path: str, parents: bool = False) -> None:
        """Make the folder ``path``. Without ``parents`` its parent must exist and nothing may be
        at ``path`` yet (AlreadyExists); with ``parents=True``, missing parents are made too
        and an existing folder is fine, like ``mkdir -p``."""
        self._run(self._mkdir_flow(absolute(path), parents))

    # -- what the fsspec layer uses ---------------------------------------------------

    def info(self, path: str) -> dict[str, Any]:
        """The entry of the file or folder at ``path``: name (its absolute path), filename,
        size, type (``"file"`` or ``"directory"``) and modified (a UTC datetime or None)."""
        entry: dict[str, Any] = self._run(self._stat_flow(absolute(path)))
        return entry

    def listdir(self, path: str = "/") -> list[dict[str, Any]]:
        """The entries of the folder at ``path``, as ``info`` gives each, in the server's order."""
        folder = absolute(path)
        found = columns(self._run(self._ls_flow(folder)), folder)
        names = ("path", "filename", "is_dir", "size", "modtime")
        return [entry(*row) for row in zip(*(found[name] for name in names), strict=True)]

    # -- flows ------------------------------------------------------------------------

    def _ls_flow(self, folder: str) -> Flow[list[Any]]:
        what = f"listing of '{folder}'"
        response = yield self._call("/file/ls", folder, form=True)
        if response.status_code == 400:
            raise self._fail(
                UsageError,
                what,
                response,
                f"'{folder}' is not a folder{self._says(response)}. s.ls lists folders; read a "
                "file with s.download(path) or s.open(path).",
            )
        listing = self._body(response, what, folder, listing=True).get("ls")
        if not isinstance(listing, list):
            raise self._fail(ServiceError, what, response, f"the answer has no 'ls' list. {CHECK}")
        return listing

    def _stat_flow(self, path: str) -> Flow[dict[str, Any]]:
        what = f"lstat of '{path}'"
        response = yield self._call("/file/lstat", path, form=True)
        stat = self._body(response, what, path).get("lstat")
        if not isinstance(stat, dict):
            raise self._fail(ServiceError, what, response, f"the answer has no 'lstat'. {CHECK}")
        named = {**stat, "filename": posixpath.basename(path) or "/"}
        found = columns([named], posixpath.dirname(path))
        return entry(path, *(found[key][0] for key in ("filename", "is_dir", "size", "modtime")))

    def _download_flow(self, path: str) -> Flow[bytes]:
        what = f"download of '{path}'"
        response = yield replace(self._call("/file/download", path), max_bytes=WHOLE)
        if response.status_code == 400:
            raise self._fail(
                UsageError,
                what,
                response,
                f"'{path}' could not be sent{self._says(response)}: only files download. If it "
                f"is a folder, list it with s.ls('{path}').",
            )
        self._check(response, what, path)
        return response.content

    def _upload_flow(self, path: str, data: bytes, modtime: int) -> Flow[dict[str, Any]]:
        """One request with one file part, in the field this file host took last (``file`` at
        first). When the server says the field is missing, the other field once more, and the
        one that worked is remembered for the host."""
        what = f"upload to '{path}'"
        host = self._url("")
        field = upload_field.get(host, UPLOAD_FIELDS[0])
        response = yield self._upload_call(path, data, modtime, field)
        if self._field_missing(response):
            field = next(other for other in UPLOAD_FIELDS if other != field)
            response = yield self._upload_call(path, data, modtime, field)
            if self._field_missing(response):
                raise self._fail(
                    ServiceError,
                    what,
                    response,
                    f"the server found no file in the upload{self._says(response)}, though "
                    f"nbauth sent it as the multipart field '{UPLOAD_FIELDS[0]}' and then "
                    f"'{UPLOAD_FIELDS[1]}'. {CHECK}",
                )
            if 200 <= response.status_code < 300:
                upload_field[host] = field
        if response.status_code == 409:
            raise self._fail(
                AlreadyExists,
                what,
                response,
                f"a folder is at '{path}'{self._says(response)}. Upload to a path inside it, or "
                "choose another name.",
            )
        self._check(response, what, path, writing=True)
        return (yield from self._stat_flow(path))

    def _upload_call(self, path: str, data: bytes, modtime: int, field: str) -> Call:
        query = {"path": path, "size": str(len(data)), "modtime": str(modtime)}
        part = {field: (posixpath.basename(path), data, "application/octet-stream")}
        headers = self._service.auth_headers(self)
        return Call("POST", self._url("/file/upload"), headers, params=query, files=part)

    def _field_missing(self, response: httpx.Response) -> bool:
        """Whether the answer says the upload had no file in the field the server reads."""
        if response.status_code not in (400, 422, 500):
            return False
        return FIELD_MISSING.search(error_text(response)) is not None

    def _mkdir_flow(self, path: str, parents: bool) -> Flow[None]:
        what = f"mkdir of '{path}'"
        response = yield self._call("/file/mkdir", path)
        if parents and response.status_code == 404 and path != "/":
            yield from self._mkdir_flow(posixpath.dirname(path), parents=True)
            response = yield self._call("/file/mkdir", path)
        if response.status_code == 409:
            if parents and (yield from self._stat_flow(path))["type"] == "directory":
                return None
            kind = "a file" if parents else "a file or folder"
            raise self._fail(
                AlreadyExists,
                what,
                response,
                f"{kind} is already at '{path}'{self._says(response)}. Choose another name"
                + ("." if parents else "; mkdir(path, parents=True) accepts an existing folder."),
            )
        self._check(response, what, path, writing=True)
        return None

    # -- requests and answers ---------------------------------------------------------

    @property
    def _couchdrop(self) -> Couchdrop:
        return cast("Couchdrop", self._service)

    def _url(self, route: str) -> str:
        """``route`` on the file host the login chose (the same rule as ``client()``: no plain
        HTTP to another machine unless the login allowed it)."""
        host = str(self.details.get("fileio_url") or self.url)
        _http.check_plain_http(host, allow_insecure=self.allow_insecure, service=self._service)
        return host + route

    def _call(self, route: str, path: str, form: bool = False) -> Call:
        """A POST about ``path``: in the form body where Couchdrop's docs put it (ls, lstat),
        else in the query, as public code sends it (download, mkdir)."""
        headers = self._service.auth_headers(self)
        if form:
            return Call("POST", self._url(route), headers, data={"path": path})
        return Call("POST", self._url(route), headers, params={"path": path})

    def _body(
        self, response: httpx.Response, what: str, path: str, listing: bool = False
    ) -> dict[str, Any]:
        self._check(response, what, path, listing=listing)
        return json_body(self._service, response, what)

    def _check(
        self,
        response: httpx.Response,
        what: str,
        path: str,
        writing: bool = False,
        listing: bool = False,
    ) -> None:
        """Return on a 2xx; else raise what the status means for a file call on ``path`` (a
        folder, when ``listing``)."""
        status = response.status_code
        if 200 <= status < 300:
            return
        service, says = self._couchdrop, self._says(response)
        folder = posixpath.dirname(path)
        # A dead token, as the token check reads it: 401, or a 403 that says it is invalid.
        if status == 401 or (status == 403 and service.token_invalid(response)):
            raise expired(service, self, what, status)
        if status == 403:
            who = f"the account '{self.username}'" if self.username else "this account"
            doing = f"write in '{folder}'" if writing else f"read '{path}'"
            raise self._fail(
                AccessDenied,
                what,
                response,
                f"{who} may not {doing}{says}. Ask a Couchdrop admin for access, or use "
                "another folder.",
            )
        if status == 404 and writing:
            raise self._fail(
                NotFound,
                what,
                response,
                f"the folder '{folder}' does not exist{says}. Make it first: "
                f"s.mkdir('{folder}', parents=True).",
            )
        if status == 404:
            raise self._fail(
                NotFound,
                what,
                response,
                f"nothing is at '{path}'{says}. Check the path; s.ls('{folder}') lists its folder.",
            )
        if status == 422:
            raise self._fail(
                ServiceError,
                what,
                response,
                f"the storage behind '{path if listing else folder}' reported an error{says}. Try "
                "again later, or ask a Couchdrop admin to check that storage connection.",
            )
        json_body(service, response, what)  # raises: rate limits, server errors, other answers

    def _fail(
        self, cls: type[NbAuthError], what: str, response: httpx.Response, text: str
    ) -> NbAuthError:
        return fail(self._service, cls, what, response.status_code, text)

    def _says(self, response: httpx.Response) -> str:
        return server_says(response)


CHECK = "Check that fileio_url points to Couchdrop's file host."


class Upload(io.BytesIO):
    """A Couchdrop file opened for writing: what is written stays here and is uploaded in one
    request when it closes, or, when fsspec holds it in a transaction (``autocommit`` False),
    when ``commit()`` is called. ``entry`` is then the uploaded file's entry."""

    def __init__(self, session: CouchdropSession, path: str, autocommit: bool = True) -> None:
        super().__init__()
        self.session, self.path, self.autocommit = session, path, autocommit
        self.entry: dict[str, Any] | None = None
        self._pending: bytes | None = None

    def close(self) -> None:
        if self.closed:
            return
        self._pending = self.getvalue()
        super().close()
        if self.autocommit:
            self.commit()

    def commit(self) -> None:
        """Upload what was written (once)."""
        data, self._pending = self._pending, None
        if data is not None:
            self.entry = self.session.upload(data, self.path)

    def discard(self) -> None:
        """Drop what was written: nothing is uploaded."""
        self._pending = None
        super().close()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is not None:
            self.discard()
        self.close()


class TextUpload(io.TextIOWrapper):
    """Text written to an Upload, with the same rule: a ``with`` block that fails uploads
    nothing."""

    def __init__(self, upload: Upload, encoding: str) -> None:
        super().__init__(upload, encoding=encoding)
        self.upload = upload

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is not None:
            self.upload.discard()  # closed underneath: closing the wrapper then writes nothing
        self.close()


# -- reading answers and arguments --------------------------------------------------------


def absolute(path: Any) -> str:
    """``path`` as an absolute, normalised path: ``"reports//q3.csv"`` -> ``"/reports/q3.csv"``."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise UsageError(
            f"A Couchdrop path is a string like '/reports/q3.csv', not {type(path).__name__}.",
            service="couchdrop",
        )
    _checks.text(path, "path", title="Couchdrop", service="couchdrop")  # no NUL, no surrogate
    return clean(path)


def columns(listing: list[Any], folder: str) -> dict[str, list[Any]]:
    """The listing's entries as columns, each checked as it is read: a size is a whole number
    of bytes (read from ``size:`` too, as Couchdrop's docs spell it), a modtime a positive
    Unix time (0, as for folders, means none); anything else is None. Entries without a file
    name are left out. Inline comprehensions, not a call per row: this is ``ls``'s cost."""
    rows = [e for e in listing if isinstance(e, dict) and isinstance(e.get("filename"), str)]
    rows = [e for e in rows if e["filename"]]
    names = [e["filename"] for e in rows]
    prefix = folder.rstrip("/") + "/"
    sizes: list[Any] = [e.get("size", e.get("size:")) for e in rows]
    times: list[Any] = [e.get("modtime") for e in rows]
    return {
        "filename": names,
        "path": [prefix + name for name in names],
        "is_dir": [e.get("is_dir") is True for e in rows],
        "size": [v if type(v) is int and 0 <= v < 2**63 else None for v in sizes],
        "modtime": [v if type(v) in NUMBER and 0 < v <= LAST_SECOND else None for v in times],
    }


def frame(found: dict[str, list[Any]]) -> pd.DataFrame:
    """The table ``ls`` returns, built from whole columns; folders first, then by name."""
    import numpy as np
    import pandas as pd

    seconds = np.array(found["modtime"], dtype=float)  # None -> NaN -> NaT
    order = listing_order(found["filename"], found["is_dir"])
    table: pd.DataFrame = pd.DataFrame(
        {
            "filename": found["filename"],
            "path": found["path"],
            "is_dir": found["is_dir"],
            "size": pd.array(found["size"], dtype="Int64"),
            "modified": pd.to_datetime(seconds, unit="s", utc=True),
        }
    ).astype(COLUMNS)
    ordered: pd.DataFrame = table.take(order).reset_index(drop=True)
    return ordered


def listing_order(names: list[str], is_dir: list[bool]) -> Any:
    """The row order of a listing: folders first, then files, each by name. The names are
    sorted by Python (linear on a listing the server sent in name order, as it usually does;
    pandas' sort of two keys costs four times as much), then a stable sort puts folders first."""
    import numpy as np

    by_name = np.array(sorted(range(len(names)), key=names.__getitem__), dtype=np.intp)
    folders_first = np.argsort(~np.array(is_dir, dtype=bool)[by_name], kind="stable")
    return by_name[folders_first]


def entry(
    path: str, filename: str, is_dir: bool, size: int | None, seconds: float | None
) -> dict[str, Any]:
    """One entry as ``info`` and ``listdir`` give it (and fsspec expects: name, size, type)."""
    return {
        "name": path,
        "filename": filename,
        "size": size,
        "type": "directory" if is_dir else "file",
        "modified": None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc),
    }


def read_source(source: Any, service: str) -> tuple[bytes, int]:
    """The bytes to upload and their modtime: a local file's own, else now."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), int(time.time())
    if isinstance(source, (str, os.PathLike)):
        _checks.local_path(source, "source", title="Couchdrop upload", service=service)
        try:
            with open(source, "rb") as local:
                return local.read(), int(os.fstat(local.fileno()).st_mtime)
        except OSError as exc:
            raise UsageError(
                f"Couchdrop upload: the local file {os.fspath(source)!r} cannot be read "
                f"({exc.strerror or type(exc).__name__}). A str is a local path; to upload "
                "text itself, pass text.encode().",
                service=service,
            ) from None
    read = getattr(source, "read", None)
    data = read() if callable(read) else None
    if isinstance(data, (bytes, bytearray)):
        return bytes(data), int(time.time())
    hint = " (a file opened in text mode: open it with 'rb')" if isinstance(data, str) else ""
    raise UsageError(
        f"Couchdrop upload takes bytes, a local file's path or a binary file object, not "
        f"{type(source).__name__}{hint}.",
        service=service,
    )
