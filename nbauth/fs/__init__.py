"""couchdrop:// and iogates:// paths for fsspec and pandas, through the kernel's sessions.

    pd.read_csv("couchdrop:///reports/q3.csv")          # the current (or latest) Couchdrop session
    pd.read_csv("couchdrop://work@/reports/q3.csv")     # the session stored as 'work'
    fsspec.open("iogates:///Projects/notes.txt", "rt")

A path is ``PROTOCOL://[ALIAS@]/path``. No credential ever goes in the URL: the filesystem only
names a session that ``%login`` or ``nbauth.login`` stored, and looks it up at each operation,
so a later login under the same alias is used at once. A user name and password
(``couchdrop://alice:pw@/x``) or a host (``couchdrop://example.com/x``) before the path is a
UsageError, not dropped in silence (nbauth._urls.session_path). fsspec is optional (``pip install
nbauth[fsspec]``); it finds these classes through the ``fsspec.specs`` entry points.

Each service's subclass (``couchdrop.py``, ``iogates.py``) implements ``ls``, ``info`` and
``_open`` on top of its session's data calls; the errors are those calls' NbAuthErrors
(``NotFound`` is a FileNotFoundError and ``AccessDenied`` a PermissionError, as file code
expects).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, ParamSpec, TypeVar

from fsspec.spec import AbstractFileSystem
from fsspec.utils import stringify_path

from .. import _redact
from .._urls import session_path
from ..explore.paths import clean
from ..store import STORE

if TYPE_CHECKING:
    from .._session import Session

__all__ = ["SessionFileSystem"]

P = ParamSpec("P")
R = TypeVar("R")

#: The operations of a service's filesystem whose failures are scrubbed (``__init_subclass__``).
SCRUBBED = ("ls", "info", "cat_file", "_open", "pipe_file", "mkdir", "makedirs", "rm_file")


def _scrubbed(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` whose failures leave no arguments, positional ones included (the path),
    nor locals in their traceback (nbauth._redact.scrub)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except BaseException as exc:
            args = ()  # type: ignore[assignment]  # this frame's own copies of the path
            kwargs.clear()
            _redact.scrub(exc)
            raise

    return wrapper


class SessionFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """An fsspec filesystem over one service's session, chosen by alias or by service."""

    #: The nbauth service name; also the URL protocol.
    service: ClassVar[str]
    root_marker = "/"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A service's operations leave no argument in a failure's traceback (a path given
        with a password in it, refused)."""
        super().__init_subclass__(**kwargs)
        for name in SCRUBBED:
            if name in cls.__dict__:
                setattr(cls, name, _scrubbed(cls.__dict__[name]))

    def __init__(self, alias: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alias = alias

    @property
    def session(self) -> Session:
        """The session this filesystem reads with, looked up now (NotLoggedIn says which
        ``%login`` to run when there is none)."""
        return STORE.of_service(self.service, self.alias)

    @classmethod
    @_scrubbed  # a refused path leaves nothing in the traceback's frames
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        return clean(session_path(cls.protocol, stringify_path(path))[1])

    @classmethod
    @_scrubbed
    def _get_kwargs_from_urls(cls, path: str) -> dict[str, Any]:
        """``{"alias": ALIAS}`` for ``PROTOCOL://ALIAS@/path``. A user name and password, or a
        host, before the path is a UsageError (nbauth._urls.session_path)."""
        alias = session_path(cls.protocol, stringify_path(path))[0]
        return {"alias": alias} if alias else {}

    def unstrip_protocol(self, name: str) -> str:
        who = f"{self.alias}@" if self.alias else ""
        return f"{self.protocol}://{who}{clean(name)}"
