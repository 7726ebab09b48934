"""couchdrop:// and iogates:// paths for fsspec and pandas, through the kernel's sessions.

    pd.read_csv("couchdrop:///reports/q3.csv")          # the current (or latest) Couchdrop session
    pd.read_csv("couchdrop://work@/reports/q3.csv")     # the session stored as 'work'
    fsspec.open("iogates:///Projects/notes.txt", "rt")

A path is ``PROTOCOL://[ALIAS@]/path``. No credential ever goes in the URL: the filesystem only
names a session that ``%login`` or ``nbauth.login`` stored, and looks it up at each operation,
so a later login under the same alias is used at once. fsspec is optional (``pip install
nbauth[fsspec]``); it finds these classes through the ``fsspec.specs`` entry points.

Each service's subclass (``couchdrop.py``, ``iogates.py``) implements ``ls``, ``info`` and
``_open`` on top of its session's data calls; the errors are those calls' NbAuthErrors
(``NotFound`` is a FileNotFoundError and ``AccessDenied`` a PermissionError, as file code
expects).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from fsspec.spec import AbstractFileSystem
from fsspec.utils import stringify_path

from ..explore import clean
from ..store import STORE

if TYPE_CHECKING:
    from .._session import Session

__all__ = ["SessionFileSystem"]


class SessionFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """An fsspec filesystem over one service's session, chosen by alias or by service."""

    #: The nbauth service name; also the URL protocol.
    service: ClassVar[str]
    root_marker = "/"

    def __init__(self, alias: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alias = alias

    @property
    def session(self) -> Session:
        """The session this filesystem reads with, looked up now (NotLoggedIn says which
        ``%login`` to run when there is none)."""
        return STORE.of_service(self.service, self.alias)

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        text = stringify_path(path)
        prefix = f"{cls.protocol}://"
        if text.startswith(prefix):
            text = text[len(prefix) :]
            head, _, rest = text.partition("/")
            if "@" in head:  # ALIAS@/path
                text = rest
        return clean(text)

    @classmethod
    def _get_kwargs_from_urls(cls, path: str) -> dict[str, Any]:
        prefix = f"{cls.protocol}://"
        if not stringify_path(path).startswith(prefix):
            return {}
        head = stringify_path(path)[len(prefix) :].partition("/")[0]
        alias, at, _ = head.rpartition("@")
        return {"alias": alias} if at and alias else {}

    def unstrip_protocol(self, name: str) -> str:
        who = f"{self.alias}@" if self.alias else ""
        return f"{self.protocol}://{who}{clean(name)}"
