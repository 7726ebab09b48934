"""Session: one signed-in account, held in the kernel.

A Session keeps the token (as a Secret), who it belongs to and when it was
obtained, and knows how to make further calls with it: ``client()`` hands out
an ``httpx.Client`` with the base URL and the auth headers set. Profile
details and storage that need a call of their own are fetched on first use
and kept, so a login costs as few round trips as the service allows.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from . import _http, _redact, _urls
from .errors import NbAuthError, UsageError
from .secret import Secret

if TYPE_CHECKING:
    import httpx
    import pandas as pd

    from .delegation import Delegation
    from .services.base import Granted, Service
    from .tables import Storage

__all__ = ["Session"]

#: Every service's data calls: one called on a session of another service says which it has.
DATA_CALLS = frozenset({"ls", "download", "open", "upload", "mkdir", "rooms", "messages"})


class NoSuchCall(UsageError, AttributeError):
    """A data call this session's service does not have (an AttributeError too, so that
    ``hasattr(session, "rooms")`` stays False)."""


class Keeper(Protocol):
    """Where a session is kept (nbauth.store): its logout forgets it there."""

    def discard(self, session: Session) -> None: ...


class Session:
    """A logged-in account of one service, stored in the kernel under ``alias``.

    A service's own subclass adds its data calls (``ls``, ``download``, ``rooms``...) and
    names them in ``data_calls``.
    """

    data_calls: tuple[str, ...] = ()
    #: Where the session is kept, set when it is stored.
    keeper: Keeper | None = None
    #: Set by ``logout()``: the session, and every client made from it, makes no more calls.
    logged_out: bool = False

    def __init__(
        self,
        service: Service,
        alias: str,
        url: str,
        granted: Granted,
        *,
        timeout: float,
        verify: _http.Verify,
        obtained_at: datetime,
        allow_insecure: bool = False,
    ):
        self._service = service
        self.service: str = service.name
        self.alias = alias
        self.url = url
        self.username: str | None = granted.username
        self.user_id: str | None = granted.user_id
        self.token: Secret = granted.token
        self.kind: str = granted.kind
        self.obtained_at = obtained_at
        self.expires_at: datetime | None = granted.expires_at
        self.details: dict[str, Any] = granted.details
        self.timeout = timeout
        self.verify = verify
        #: Whether plain http:// to another machine was allowed at login (``client(base_url=)``).
        self.allow_insecure = allow_insecure
        self._profile = granted.profile
        self._profile_complete = granted.profile_complete
        self._storage = granted.storage

    # -- what the account is ----------------------------------------------------------

    @property
    def title(self) -> str:
        """The service's display name (``Rocket.Chat`` for ``rocketchat``)."""
        return self._service.title

    @property
    def profile(self) -> dict[str, Any]:
        """Who the token belongs to, as the service describes the account."""
        if not self._profile_complete:
            self._profile = self._run(self._service.profile_flow(self))
            self._profile_complete = True
        return self._profile

    @property
    def profile_seed(self) -> dict[str, Any]:
        """The part of the profile known at login, without any further call."""
        return dict(self._profile)

    def storage(self) -> Storage:
        """The account's storage as the service reports it (fetched once, then kept)."""
        if self._storage is None:
            self._storage = self._run(self._service.storage_flow(self))
        return self._storage

    async def astorage(self) -> Storage:
        """The async twin of ``storage()``: ``login_many`` reads many accounts' storage at once."""
        if self._storage is None:
            self._check_route()
            self._storage = await _http.arun(
                self._service.storage_flow(self),
                service=self._service,
                timeout=self.timeout,
                verify=self.verify,
            )
        return self._storage

    def profile_frame(self) -> pd.DataFrame:
        """The profile as a two-column table (field, value). The profile is what the server
        said: any of this session's secrets (or a stored session's) it repeats, whole or any 8
        characters of it in a row, shows masked (``nbauth._redact.mask``), names and values."""
        from .tables import profile_frame

        frame = profile_frame(self.profile)
        for column in ("field", "value"):
            frame[column] = [self._masked(cell) for cell in frame[column]]
        return frame

    def _masked(self, cell: Any) -> Any:
        """A profile table's cell with the secrets in it masked; one without any as it was."""
        text = cell if isinstance(cell, str) else str(cell)
        masked = _redact.echoed(text, also=[self.token])
        return cell if masked == text else masked

    def storage_frame(self) -> pd.DataFrame:
        """The storage figures as a table: numbers as numbers, plus human-readable sizes."""
        from .tables import storage_frame

        return storage_frame(self.storage())

    # -- further calls ----------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        """The raw auth headers. They hold the token: pass them on, do not print them."""
        auth = self._service.auth_headers(self)
        return {k: v.reveal() if isinstance(v, Secret) else v for k, v in auth.items()}

    @_redact.scrubbed
    def client(self, **kwargs: Any) -> httpx.Client:
        """A new ``httpx.Client`` for this session's API: base URL and auth set.

        Keyword arguments go to ``httpx.Client`` (``base_url=`` points it elsewhere, for
        example at Couchdrop's file host). Close it when done: ``with s.client() as c: ...``.

        The auth headers are added to each request by ``client.auth`` (a ``SessionAuth``), only
        for the session's own origin and the ``base_url`` given (scheme, host and port): a
        request to another host, or a redirect to one (``follow_redirects=True``), carries none
        of them. ``client.headers`` and every repr hold no token. Plain ``http://`` to another
        machine, or through a proxy, is refused as at the login, for every request and
        redirect, unless the login allowed it (``allow_insecure=True``).
        """
        from ._client import make_client  # httpx loads with the first client, not nbauth

        return make_client(self, kwargs)

    @_redact.scrubbed
    def aclient(self, **kwargs: Any) -> httpx.AsyncClient:
        """The async twin of ``client()``."""
        from ._client import make_aclient

        return make_aclient(self, kwargs)

    def delegate(self, expires: float | None = None) -> Delegation:
        """This session handed over on purpose to other processes (Dask's workers):
        ``storage_options={"session": s.delegate(expires=3600)}``. See nbauth.delegation."""
        from .delegation import delegate_session

        return delegate_session(self, expires=expires)

    def logout(self, revoke: bool = False) -> None:
        """Forget this session in the kernel and tell the server, where the service has a logout.

        ``revoke=True`` also ends long-lived tokens (a Rocket.Chat personal access
        token is deleted on the server when it is used to log out).

        Afterwards the session is disarmed, whatever the server said: its calls, and the
        requests of any ``client()`` made from it before, raise NotLoggedIn (log in again);
        its token stays masked in logs and messages. A second logout does nothing.
        """
        if self.logged_out:
            return
        _redact.retire(self.token)  # still masked once the store no longer holds it
        if self.keeper is not None:
            self.keeper.discard(self)
        try:
            self._run(self._service.logout_flow(self, revoke))
        except NbAuthError as exc:
            exc.args = (f"{exc.message} The session was forgotten in the kernel all the same.",)
            raise
        finally:
            self.logged_out = True

    # -- internals --------------------------------------------------------------------

    def _run(self, flow: Any) -> Any:
        self._check_route()
        return _http.run(flow, service=self._service, timeout=self.timeout, verify=self.verify)

    def _check_route(self) -> None:
        """The login's plain-HTTP rule again before a later call: a proxy variable set since
        the login would carry the token in clear (nbauth._urls). A logged-out session makes
        no call at all."""
        if self.logged_out:
            from ._client import logged_out

            raise logged_out(self)
        if self.url[:5].lower() == "http:":
            url = _urls.parsed(self.url)  # a session's API base: no userinfo, no secret
            _http.check_plain_http(url, allow_insecure=self.allow_insecure, service=self._service)

    def __getattr__(self, name: str) -> Any:
        if name in DATA_CALLS and "_service" in self.__dict__:
            have = ", ".join(f"{call}()" for call in self.data_calls)
            raise NoSuchCall(
                f"{self.title} sessions have no {name}(). "
                + (f"Theirs are: {have}." if have else f"{self.title} has no data calls yet."),
                service=self.service,
            )
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __repr__(self) -> str:
        who = self.username or "?"
        return (
            f"<nbauth.Session {self.alias!r}: {self.title} {who} at {self.url} "
            f"({self.kind}, token {self.token.masked})>"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def __reduce__(self) -> Any:
        raise TypeError("nbauth refuses to pickle a Session: it would write the token to disk")
