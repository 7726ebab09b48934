"""``couchdrop://[ALIAS@]/path`` for fsspec and pandas, on the kernel's Couchdrop session.

    pd.read_csv("couchdrop:///reports/q3.csv")
    with fsspec.open("couchdrop://work@/out/notes.txt", "wt") as f: f.write("...")

Every operation is one of the session's calls (``CouchdropSession``), so the errors are theirs:
NotFound is a FileNotFoundError, AccessDenied a PermissionError, AlreadyExists a
FileExistsError. Couchdrop sends a file whole, so reads download it once and slice it; writes
are uploaded in one request when the file closes (or when fsspec's transaction commits).
"""

from __future__ import annotations

import posixpath
from typing import Any, cast

from ..errors import AlreadyExists, NotFound, UsageError
from ..explore.couchdrop import CouchdropSession, Upload
from . import SessionFileSystem

__all__ = ["CouchdropFileSystem"]


class CouchdropFileSystem(SessionFileSystem):
    """Couchdrop files through the current (or latest) Couchdrop session, or the one stored
    under the URL's alias."""

    protocol = "couchdrop"
    service = "couchdrop"

    @property
    def files(self) -> CouchdropSession:
        """The session, as the Couchdrop session every Couchdrop login makes."""
        return cast(CouchdropSession, self.session)

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        entries = self.files.listdir(path)
        return entries if detail else [entry["name"] for entry in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        return self.files.info(path)

    def _open(self, path: str, mode: str = "rb", autocommit: bool = True, **kwargs: Any) -> Any:
        """``rb`` downloads the file; ``wb`` returns an Upload that sends it on close (fsspec
        itself wraps both for the text modes)."""
        path = self._strip_protocol(path)
        if mode == "wb":
            return Upload(self.files, path, autocommit)
        if mode != "rb":
            raise UsageError(
                f"couchdrop:// files open for reading or writing, not {mode!r}.",
                service="couchdrop",
            )
        return self.files.open(path, "rb")

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        path = self._strip_protocol(path)
        return self.files.download(path)[start:end]

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        """Upload ``value``; ``mode="create"`` refuses a path that is taken already."""
        path = self._strip_protocol(path)
        if mode == "create" and self.exists(path):
            raise AlreadyExists(
                f"couchdrop://{path} exists already (mode='create').", service="couchdrop"
            )
        self.files.upload(value, path)

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Make a folder; an existing one is an error (AlreadyExists), as for local files."""
        if create_parents:
            self.makedirs(path, exist_ok=False)
        else:
            path = self._strip_protocol(path)
            self.files.mkdir(path)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        path = self._strip_protocol(path)
        if exist_ok:
            self.files.mkdir(path, parents=True)
            return
        try:
            self.files.mkdir(path)
        except NotFound:  # a missing parent: make the parents, then the folder itself
            self.files.mkdir(posixpath.dirname(path), parents=True)
            self.files.mkdir(path)
