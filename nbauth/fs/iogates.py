"""iogates:// paths for fsspec and pandas, read-only, through the kernel's ioGates session.

    pd.read_csv("iogates:///Private/budget.csv")         # the current (or latest) ioGates session
    pd.read_csv("iogates://shared@/Rushes/notes.txt")   # the session stored as 'shared'

Each operation is one of the session's calls (``IoGatesSession``), so it lists afresh and keeps
no cache. ``open`` reads the whole file, checked against its md5; ``cat_file`` with ``start`` or
``end`` asks for that part alone with an HTTP Range.
"""

from __future__ import annotations

import io
from typing import Any

from ..errors import UsageError
from ..explore.iogates import IoGatesSession
from . import SessionFileSystem

__all__ = ["IoGatesFileSystem"]


class IoGatesFileSystem(SessionFileSystem):
    protocol = "iogates"
    service = "iogates"

    @property
    def iogates(self) -> IoGatesSession:
        session = self.session
        assert isinstance(session, IoGatesSession)  # every ioGates login makes one
        return session

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        entries = self.iogates.listdir(path)
        return entries if detail else [entry["name"] for entry in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        return self.iogates.info(path)

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        path = self._strip_protocol(path)
        return self.iogates.download(path, start=start, end=end)

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> io.BytesIO:
        if mode != "rb":  # fsspec asks for text modes in binary and decodes itself
            raise UsageError(
                f"ioGates files are read-only here: iogates:// paths can be read, not written "
                f"(mode {mode!r}).",
                service=self.service,
            )
        return io.BytesIO(self.cat_file(path))
