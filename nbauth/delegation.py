"""Delegation: a session handed over on purpose to other processes, such as Dask's workers.

    d = nbauth.delegate("couchdrop", expires=3600)      # or s.delegate(expires=3600)
    ddf = dd.read_csv("couchdrop:///logs/*.csv", storage_options={"session": d})

A session lives in the kernel's memory: a Session and its token (a Secret) refuse pickling, so
nothing writes them to disk or sends them to another process by accident. A worker of a Dask
cluster is another process, often on another machine, so it has no session. A ``Delegation``
is the one object that may carry a session's token out of the kernel, and the user makes it on
purpose, for one session: it holds the service, URL, alias, who the session is, the few facts
its data calls need (Couchdrop's file host, an ioGates share's permissions) and the token. The
token is still a Secret (masked in every repr, refusing pickling on its own): only the
Delegation's own ``__reduce__`` writes its value, so it pickles inside that object and nowhere
else. The receiving process builds a Session of its own from it (``session()``), kept out of
that process's session store, which:

- refuses every request once the delegation's time is up (``expires=`` seconds, checked by the
  clock of the process that sends the request, before each request) with ``SessionExpired``;
- cannot log out (that would end the kernel's login on the server) nor hand out httpx clients
  (whose requests would skip the time check).

``repr`` shows the token masked; ``dask.base.tokenize`` reads ``__dask_tokenize__``, which names
the session (service, URL, alias, user, login time) and never the token, so Dask's keys and
task names are the same for the same session and path and hold nothing secret. What is sent
where, and why a remote cluster needs TLS: SECURITY.md, "Delegation".
"""

from __future__ import annotations

import math
import os
import secrets
import sys
import threading
import time
from collections.abc import Generator
from datetime import datetime, timezone
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from .errors import NotLoggedIn, SessionExpired, UsageError
from .secret import Secret

#: A Session (nbauth._session), which imports this module to delegate itself: named loosely here.
Session: TypeAlias = Any

if TYPE_CHECKING:
    from ._http import Verify

__all__ = [
    "DETAILS",
    "Delegation",
    "NotDelegated",
    "delegate_session",
    "how_to",
    "identity",
    "named_only",
    "tokenizing",
]

#: The session details a delegation carries: what the data calls read (Couchdrop's file host,
#: an ioGates share's permissions). Nothing else of the session leaves the kernel.
DETAILS = ("fileio_url", "share")


def identity(session: Session | Delegation) -> tuple[str, ...]:
    """A session, or the one a delegation carries, by what is not secret: service, URL, alias,
    user and the login's time (a new login is a new session). What Dask's keys are made of."""
    return (
        session.service,
        session.url,
        session.alias,
        session.username or "",
        session.user_id or "",
        session.obtained_at.isoformat(),
    )


def tokenizing() -> bool:
    """Whether the pickle being made is one Dask's ``tokenize`` makes to hash an object it has
    no other way to name (``dask.tokenize._normalize_pickle``: an fsspec ``OpenFile`` in a
    task's arguments, holding a filesystem that holds a delegation). Those bytes are hashed,
    never sent: a delegation or filesystem pickles its session's identity there, not the token,
    so the token is no input of a key, and the same session gives the same keys."""
    frame: FrameType | None = sys._getframe(1)
    for _ in range(64):
        if frame is None:
            return False
        code = frame.f_code
        if code.co_name == "_normalize_pickle" and frame.f_globals.get("__name__") == (
            "dask.tokenize"
        ):
            return True
        frame = frame.f_back
    return False


def named_only(*identity: str) -> None:
    """What a pickle made for Dask's tokenize (``tokenizing``) loads as: nothing, for Dask
    only checks that it loads."""
    return None


class NotDelegated(NotLoggedIn):
    """A ``couchdrop://`` or ``iogates://`` filesystem used in another process (a Dask worker)
    that was given no delegation: the kernel's sessions stay in the kernel."""


def how_to(protocol: str, alias: str | None) -> str:
    """The sentence that says how to delegate a session to a filesystem."""
    name = repr(alias or protocol)
    return (
        f"In the kernel, hand the session over on purpose: storage_options={{'session': "
        f"nbauth.delegate({name}, expires=3600)}} (or s.delegate(expires=3600) of the Session), "
        f"as in dd.read_csv('{protocol}:///folder/*.csv', storage_options=...), or "
        f"fsspec.open_files('{protocol}:///...', session=...). SECURITY.md, 'Delegation', says "
        "what that sends where."
    )


def delegate_session(session: Session, *, expires: float | None = None) -> Delegation:
    """``session.delegate(expires=...)``: see ``Delegation``."""
    if expires is not None and (
        isinstance(expires, bool)
        or not isinstance(expires, (int, float))
        or not math.isfinite(expires)
        or expires <= 0
    ):
        raise UsageError(
            "expires= is the number of seconds the delegation stays usable (a positive number, "
            f"like 3600), or None for as long as the token, not {expires!r}."
            if isinstance(expires, (int, float))
            else "expires= is the number of seconds the delegation stays usable (a positive "
            f"number, like 3600), or None, not {type(expires).__name__}.",
            service=session.service,
        )
    verify: Verify = session.verify
    if isinstance(verify, os.PathLike):
        verify = os.fspath(verify)
    return Delegation(
        service=session.service,
        session_class=type(session),
        title=session.title,
        alias=session.alias,
        url=session.url,
        username=session.username,
        user_id=session.user_id,
        kind=session.kind,
        token=session.token,
        obtained_at=session.obtained_at,
        expires_at=session.expires_at,
        details={key: session.details[key] for key in DETAILS if key in session.details},
        timeout=session.timeout,
        verify=verify,
        allow_insecure=session.allow_insecure,
        deadline=None if expires is None else time.time() + float(expires),
        expires=None if expires is None else float(expires),
        ident=secrets.token_hex(8),
    )


class Delegation:
    """One session, handed over on purpose to other processes (Dask's workers).

    It pickles (the one object whose pickle holds a token), and in any process ``session()``
    is a Session for the same account that checks the delegation's time before each request.
    Its repr shows the token masked. Make one with ``nbauth.delegate(alias)`` or
    ``session.delegate()``.
    """

    def __init__(
        self,
        *,
        service: str,
        session_class: type,
        title: str,
        alias: str,
        url: str,
        username: str | None,
        user_id: str | None,
        kind: str,
        token: Secret,
        obtained_at: datetime,
        expires_at: datetime | None,
        details: dict[str, Any],
        timeout: float,
        verify: Verify,
        allow_insecure: bool,
        deadline: float | None,
        expires: float | None,
        ident: str,
    ) -> None:
        self.service, self.title, self.alias, self.url = service, title, alias, url
        #: The Session class of the service (with its data calls): a class travels in a pickle
        #: by its module and name.
        self.session_class = session_class
        self.username, self.user_id, self.kind = username, user_id, kind
        #: The session's token: a Secret, masked in every repr and refusing pickling on its own.
        self.token = token
        self.obtained_at, self.session_expires_at = obtained_at, expires_at
        self.details = details
        self.timeout, self.verify, self.allow_insecure = timeout, verify, allow_insecure
        #: When it stops working (seconds since the epoch, UTC), or None.
        self.deadline = deadline
        self.expires = expires
        #: A random name for this delegation (not for the session): two delegations of one
        #: session differ by it, in their repr too.
        self.ident = ident
        self._lock = threading.Lock()
        self._session: Session | None = None

    # -- what it is -------------------------------------------------------------------

    @property
    def expires_at(self) -> datetime | None:
        """When the delegation stops working (UTC), or None."""
        if self.deadline is None:
            return None
        return datetime.fromtimestamp(self.deadline, timezone.utc)

    @property
    def identity(self) -> tuple[str, ...]:
        """The session it delegates, by what is not secret (``identity``)."""
        return identity(self)

    def expired(self) -> bool:
        return self.deadline is not None and time.time() >= self.deadline

    def check(self) -> None:
        """Raise SessionExpired when the delegation's time is up."""
        if not self.expired():
            return
        when = self.expires_at.strftime("%Y-%m-%d %H:%M:%S") if self.expires_at else "?"
        raise SessionExpired(
            f"The delegation of the {self.title} session '{self.alias}' expired at {when} UTC "
            f"({self.expires:g} s after it was made), so this process (a Dask worker, say) may "
            f"no longer use it. In the kernel, delegate the session again, for longer if need "
            f"be: nbauth.delegate({self.alias!r}, expires=3600) (or s.delegate(expires=3600)), "
            f"pass the new delegation as storage_options={{'session': ...}} and run the "
            f"computation again.",
            service=self.service,
        )

    # -- the session in this process --------------------------------------------------

    def session(self) -> Session:
        """A Session for the delegated account in this process, made once (no request), not
        stored in this process's session store. Each of its requests checks the time first."""
        self.check()
        with self._lock:
            if self._session is None:
                self._session = self._make_session()
            return self._session

    def _make_session(self) -> Session:
        from . import services
        from .services.base import Granted

        service = services.get(self.service)
        cls = delegated_class(self.session_class)
        granted = Granted(
            token=self.token,
            username=self.username,
            kind=self.kind,
            user_id=self.user_id,
            expires_at=self.session_expires_at,
            profile={},
            profile_complete=False,
            details=dict(self.details),
        )
        session: Session = cls(
            service,
            self.alias,
            self.url,
            granted,
            timeout=self.timeout,
            verify=self.verify,
            obtained_at=self.obtained_at,
            allow_insecure=self.allow_insecure,
        )
        session._delegation = self
        return session

    def guard(self, flow: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
        """``flow`` with the time checked before each request it makes."""
        try:
            answer = None
            while True:
                try:
                    call = flow.send(answer)
                except StopIteration as done:
                    return done.value
                self.check()
                answer = yield call
        finally:
            flow.close()

    # -- how it shows and travels -----------------------------------------------------

    def __repr__(self) -> str:
        who = self.username or "?"
        until = self.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC") if self.expires_at else "never"
        return (
            f"<nbauth.Delegation {self.ident} of {self.alias!r}: {self.title} {who} at "
            f"{self.url} (token {self.token.masked}, expires {until})>"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Delegation):
            return self.ident == other.ident
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Delegation, self.ident))

    def __dask_tokenize__(self) -> tuple[str, ...]:
        """What Dask hashes for it: the session's identity, never the token. The same session
        gives the same keys whatever the delegation (its time limit, its id)."""
        return ("nbauth.Delegation", *self.identity)

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        """The deliberate exception to a Secret's refusal of pickling: the token's value is
        written here, inside the delegation the user made to send it. A pickle that Dask's
        tokenize hashes (``tokenizing``) holds the session's identity instead."""
        if tokenizing():
            return (named_only, self.__dask_tokenize__())  # type: ignore[return-value]
        state = {
            "service": self.service,
            "title": self.title,
            "alias": self.alias,
            "url": self.url,
            "username": self.username,
            "user_id": self.user_id,
            "kind": self.kind,
            "token": (self.token.reveal(), self.token.kind),
            "obtained_at": self.obtained_at,
            "expires_at": self.session_expires_at,
            "details": self.details,
            "timeout": self.timeout,
            "verify": self.verify,
            "allow_insecure": self.allow_insecure,
            "session_class": self.session_class,
            "deadline": self.deadline,
            "expires": self.expires,
            "ident": self.ident,
        }
        return (_restore, (state,))

    def __copy__(self) -> Delegation:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Delegation:
        return self


def _restore(state: dict[str, Any]) -> Delegation:
    """A delegation from its pickle: the token becomes a Secret again at once."""
    value, kind = state.pop("token")
    return Delegation(token=Secret(value, kind), **state)


class _Delegated:
    """What a delegated Session adds to its service's Session class: the time check before
    each request, and no logout or httpx clients."""

    _delegation: Delegation

    def _run(self, flow: Any) -> Any:
        parent = cast(Any, super())
        return parent._run(self._delegation.guard(flow))

    def delegate(self, expires: float | None = None) -> Delegation:
        raise UsageError(
            "A delegated session cannot be delegated again (the new delegation would outlive "
            "this one's time limit). Delegate the session in the kernel.",
            service=self._delegation.service,
        )

    def logout(self, revoke: bool = False) -> None:
        raise UsageError(
            "A delegated session cannot log out: that would end the kernel's login on the "
            "server. Log out in the kernel (nbauth.logout(...)); a delegation stops at its "
            "expires= time.",
            service=self._delegation.service,
        )

    def client(self, **kwargs: Any) -> Any:
        raise UsageError(
            "A delegated session hands out no httpx client (its requests would skip the "
            "delegation's time check); use its data calls, or session.client() in the kernel.",
            service=self._delegation.service,
        )

    aclient = client


_classes: dict[type, type] = {}
_classes_lock = threading.Lock()


def delegated_class(cls: type[Session]) -> type[Session]:
    """``cls`` with the delegated session's rules (made once per class)."""
    with _classes_lock:
        made = _classes.get(cls)
        if made is None:
            made = type(f"Delegated{cls.__name__}", (_Delegated, cls), {"__module__": __name__})
            _classes[cls] = made
        return made
