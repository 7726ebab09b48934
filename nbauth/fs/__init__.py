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

Beyond the kernel (Dask's workers, other processes): a filesystem pickles as fsspec's do, but
the kernel's session does not travel with it. Only a delegation the user made on purpose does,
given as ``session=`` (``storage_options={"session": nbauth.delegate("work")}``,
nbauth.delegation); the filesystem then reads with that delegation in every process, the
kernel included. One unpickled in another process without a delegation fails at its first
operation with ``NotDelegated`` (a NotLoggedIn), whose message says how to delegate.

What Dask needs: a filesystem's Dask token (``__dask_tokenize__``, ``_fs_token``) names the
session (service, URL, alias, user, login time) and nothing else, so the same session and path
give the same keys in any thread or process, and no key holds a secret. Listings are kept per
filesystem instance for ``listings_expiry_time`` seconds (``LISTINGS_TTL``, 10 by default;
``use_listings_cache=False`` turns it off, ``ls(path, refresh=True)`` and
``invalidate_cache()`` read afresh), so that ``info`` after a glob costs no request: Dask asks
for every file's ``info`` in the kernel before it reads anything. A write through the
filesystem forgets the listings it changes at once.
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
import secrets
import sys
from collections.abc import Callable
from typing import Any, ClassVar, ParamSpec, TypeVar

from fsspec.spec import AbstractFileSystem
from fsspec.utils import stringify_path

from .. import _redact
from .._session import Session
from .._urls import session_path
from ..delegation import Delegation, NotDelegated, how_to, identity, named_only, tokenizing
from ..errors import NotLoggedIn, UsageError
from ..explore.paths import clean
from ..store import STORE

__all__ = ["LISTINGS_TTL", "SessionFileSystem"]

#: How long (seconds) a filesystem keeps a listing: long enough for Dask's ``info`` of every
#: file after its glob, short enough that a kernel user sees others' changes soon.
LISTINGS_TTL = 10.0
#: This process, among all that may unpickle a filesystem: one made elsewhere (a Dask worker's
#: copy of the kernel's) knows it was, and says how to delegate when it finds no session.
ORIGIN = secrets.token_hex(8)

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

    def __init__(
        self, alias: str | None = None, session: Delegation | None = None, **kwargs: Any
    ) -> None:
        """``alias``: the kernel's session to read with (default: the current or latest of the
        service). ``session``: a delegation (``nbauth.delegate(...)``), to read in other
        processes too; with both, they must name the same session."""
        kwargs.setdefault("listings_expiry_time", LISTINGS_TTL)
        super().__init__(**kwargs)
        if session is not None and not isinstance(session, Delegation):
            given = "a Session" if isinstance(session, Session) else type(session).__name__
            raise UsageError(
                f"{self.protocol}:// takes session= a delegation, not {given}: a Session stays "
                f"in the kernel. {how_to(self.protocol, alias)}",
                service=self.service,
            )
        if session is not None and session.service != self.service:
            raise UsageError(
                f"{self.protocol}:// was given a delegation of the {session.title} session "
                f"'{session.alias}'; it reads with a {self.service} session.",
                service=self.service,
            )
        if session is not None and alias is not None and alias != session.alias:
            raise UsageError(
                f"{self.protocol}://{alias}@/... names the session '{alias}', but the delegation "
                f"given is of '{session.alias}'. Give the path without the alias, or delegate "
                f"'{alias}'.",
                service=self.service,
            )
        self.alias = alias if session is None else session.alias
        self.delegation = session
        #: True in a process that unpickled this filesystem from another (a Dask worker).
        self.elsewhere = False
        self._listed_for: tuple[str, ...] | None = None

    @property
    def session(self) -> Session:
        """The session this filesystem reads with: the delegation's, else the kernel's, looked
        up now (NotLoggedIn says which ``%login`` to run when there is none; NotDelegated, in
        another process, how to delegate)."""
        if self.delegation is not None:
            found: Session = self.delegation.session()
        else:
            try:
                found = STORE.of_service(self.service, self.alias)
            except NotLoggedIn:
                if not (self.elsewhere or in_dask_worker()):
                    raise
                raise NotDelegated(
                    f"{self.protocol}:// in this process (a Dask worker, or any process other "
                    f"than the kernel that logged in) has no session: the kernel's sessions "
                    f"stay in the kernel unless handed over on purpose. "
                    f"{how_to(self.protocol, self.alias)}",
                    service=self.service,
                ) from None
        self._same_session(found)
        return found

    # -- what Dask needs ----------------------------------------------------------------

    def _identity(self) -> tuple[str, ...]:
        """The session this filesystem reads with, by what is not secret."""
        if self.delegation is not None:
            return self.delegation.identity
        try:
            found = STORE.of_service(self.service, self.alias)
        except NotLoggedIn:
            return ("no session", self.alias or "")
        return identity(found)

    @property
    def _fs_token(self) -> str:
        """The filesystem's Dask token: its protocol and session, the same in every thread and
        process (fsspec's own adds the process and thread), and never a secret."""
        named = repr(("nbauth", self.protocol, *self._identity()))
        return hashlib.md5(named.encode(), usedforsecurity=False).hexdigest()

    def __reduce__(self) -> tuple[Any, ...]:
        """fsspec's pickling (class, arguments, options: a delegation travels, a kernel
        session does not), plus which process made it. For Dask's tokenize, which pickles an
        fsspec OpenFile to hash it, only the filesystem's Dask token (nbauth.delegation's
        ``tokenizing``)."""
        if tokenizing():
            return named_only, ("nbauth", self.protocol, self._fs_token)
        return _rebuilt, (type(self), self.storage_args, self.storage_options, ORIGIN)

    # -- listings kept for a while --------------------------------------------------------

    def _same_session(self, session: Session) -> None:
        """Forget the listings when the session behind the filesystem changed (a new login
        under the alias): they were another account's, or another time's."""
        now = identity(session)
        if now != self._listed_for:
            self.dircache.clear()
            self._listed_for = now

    def _remember(self, folder: str, entries: list[dict[str, Any]]) -> None:
        self.dircache[folder] = entries

    def _listed(self, folder: str) -> list[dict[str, Any]] | None:
        """The folder's listing if one is kept and fresh."""
        try:
            found: list[dict[str, Any]] = self.dircache[folder]
        except KeyError:
            return None
        return found

    def _listed_entry(self, path: str) -> dict[str, Any] | None:
        """The entry of ``path`` from its folder's kept listing, if there is one."""
        if path == "/":
            return None
        for entry in self._listed(posixpath.dirname(path)) or ():
            if entry["name"] == path:
                return dict(entry)
        return None

    def invalidate_cache(self, path: str | None = None) -> None:
        """Forget the kept listings: all of them, or those of ``path`` and its folder."""
        if path is None:
            self.dircache.clear()
            return
        path = self._strip_protocol(path)
        for folder in (path, posixpath.dirname(path)):
            self.dircache.pop(folder, None)

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


def in_dask_worker() -> bool:
    """Whether this runs in a task of a Dask worker (only asked when distributed is loaded)."""
    worker = sys.modules.get("distributed.worker")
    if worker is None:
        return False
    try:
        worker.get_worker()
    except ValueError:  # "No worker found"
        return False
    return True


def _rebuilt(
    cls: type[SessionFileSystem], args: tuple[Any, ...], options: dict[str, Any], origin: str
) -> SessionFileSystem:
    """A filesystem from its pickle (fsspec's instance cache may hand back one made already);
    one from another process knows it is elsewhere."""
    fs = cls(*args, **options)
    if origin != ORIGIN:
        fs.elsewhere = True
    return fs
