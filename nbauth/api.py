"""The Python API: login, alogin, session, sessions, logout, and ``run``, which every face
uses.

A login is one ``nbauth.request.LoginRequest``, built once by whichever face the user came
through (here from ``login``'s arguments), checked once before any request is made, run as one
flow (the saved login first, when ``save`` asks for it, then the service's own), and stored
only once it completed, so a failed login leaves the store as it was. The API owns the store
and the keyring; the faces (magics, form, ``login_many``) call it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import _checks, _http, _redact, vault
from ._calls import Flow
from ._session import Session
from .delegation import Delegation, delegate_session
from .errors import UsageError
from .request import DEFAULT_TIMEOUT, Checked, LoginRequest, secrets_of
from .secret import Secret
from .services.base import Granted
from .store import STORE

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["alogin", "arun", "delegate", "end", "login", "logout", "run", "session", "sessions"]


@_redact.scrubbed
def login(
    service: str,
    *,
    url: str | None = None,
    username: str | None = None,
    password: str | Secret | None = None,
    token: str | Secret | None = None,
    code: str | Secret | None = None,
    user_id: str | None = None,
    share_url: str | None = None,
    alias: str | None = None,
    system: str | None = None,
    device_id: str | None = None,
    fileio_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    verify: _http.Verify = True,
    allow_insecure: bool = False,
    save: bool = False,
    **options: Any,
) -> Session:
    """Log in to ``service`` and keep the session in the kernel under ``alias``.

    Give ``username`` and ``password`` (plus ``code`` when the service asked for a
    second factor), or a ``token``, or for ioGates a ``share_url``. Raises an
    NbAuthError subclass that says what went wrong and what to do. A plain
    ``http://`` URL is refused unless it is loopback or ``allow_insecure=True``.
    ``save=True`` also keeps the login in the OS keyring, and without a password
    resumes the one saved there (see nbauth.vault). A service's own fields and
    options (a third-party service's ``tenant=``) go as further keywords.
    """
    request = LoginRequest.from_arguments(
        service,
        url=url,
        username=username,
        password=password,
        token=token,
        code=code,
        user_id=user_id,
        share_url=share_url,
        alias=alias,
        system=system,
        device_id=device_id,
        fileio_url=fileio_url,
        timeout=timeout,
        verify=verify,
        allow_insecure=allow_insecure,
        save=save,
        **options,
    )
    return run(request)


@_redact.scrubbed_async
async def alogin(
    service: str,
    *,
    url: str | None = None,
    username: str | None = None,
    password: str | Secret | None = None,
    token: str | Secret | None = None,
    code: str | Secret | None = None,
    user_id: str | None = None,
    share_url: str | None = None,
    alias: str | None = None,
    system: str | None = None,
    device_id: str | None = None,
    fileio_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    verify: _http.Verify = True,
    allow_insecure: bool = False,
    save: bool = False,
    **options: Any,
) -> Session:
    """The async twin of ``login``: same arguments, same result."""
    request = LoginRequest.from_arguments(
        service,
        url=url,
        username=username,
        password=password,
        token=token,
        code=code,
        user_id=user_id,
        share_url=share_url,
        alias=alias,
        system=system,
        device_id=device_id,
        fileio_url=fileio_url,
        timeout=timeout,
        verify=verify,
        allow_insecure=allow_insecure,
        save=save,
        **options,
    )
    return await arun(request)


def run(request: LoginRequest) -> Session:
    """Check ``request``, run its login, and store the session: every face ends here."""
    checked = request.checked()
    with _redact.masked_errors(checked.secrets()):
        granted, fresh = _http.run(
            _login_flow(checked),
            service=checked.service,
            timeout=checked.timeout,
            verify=checked.verify,
        )
    return _store(checked, granted, fresh)


async def arun(request: LoginRequest) -> Session:
    """The async twin of ``run``."""
    checked = request.checked()
    with _redact.masked_errors(checked.secrets()):
        granted, fresh = await _http.arun(
            _login_flow(checked),
            service=checked.service,
            timeout=checked.timeout,
            verify=checked.verify,
        )
    return _store(checked, granted, fresh)


def session(alias: str | None = None) -> Session:
    """The current session, or the one stored under ``alias``."""
    return STORE.get(_stored_alias(alias))


def sessions() -> pd.DataFrame:
    """Every session in the kernel as a table, one row each, tokens masked."""
    from .tables import sessions_frame

    return sessions_frame(*STORE.snapshot())


def logout(alias: str | None = None, revoke: bool = False, forget: bool = False) -> None:
    """Forget the session (current, or ``alias``) and tell the server where it has a logout.

    ``forget=True`` also deletes its saved login from the keyring; so does ``revoke=True``.
    """
    for name, flag in (("revoke", revoke), ("forget", forget)):
        if not isinstance(flag, bool):
            raise UsageError(f"{name}= must be True or False, not {type(flag).__name__}.")
    end(STORE.get(_stored_alias(alias), leaving=True), revoke=revoke, forget=forget)


def delegate(
    alias: str | None = None,
    *,
    expires: float | None = None,
    service: str | None = None,
) -> Delegation:
    """A delegation of the session stored under ``alias`` (default: the current session; with
    ``service=``, that service's current or latest one), for other processes such as Dask's
    workers. ``expires``: seconds it stays usable (default: as long as the token does). See
    nbauth.delegation."""
    if alias is not None:
        _checks.text(alias, "alias", what="a session's alias (a string)")
    if service is not None:
        _checks.text(service, "service", what="a service name like 'couchdrop' (a string)")
        return delegate_session(STORE.of_service(service, alias), expires=expires)
    return delegate_session(STORE.get(alias), expires=expires)


def end(session: Session, *, revoke: bool = False, forget: bool = False) -> bool:
    """Log ``session`` out (``logout`` and ``%logout`` both end here): its saved login deleted
    from the keyring first when ``forget`` or ``revoke`` asks, then the session forgotten and
    ended on its server. Returns whether a saved login was deleted."""
    forgot = (forget or revoke) and vault.forget(
        session.service, url=session.url, alias=session.alias
    )
    session.logout(revoke=revoke)
    return forgot


def _login_flow(checked: Checked) -> Flow[tuple[Granted, bool]]:
    """The login as one flow: with ``save``, the login saved in the keyring first (its token
    checked with the server; a refused one is deleted and the login goes on), then the
    service's own. Returns what was granted, and whether it is a new login (to be saved)."""
    service, creds, alias = checked.service, checked.creds, checked.alias
    saved = vault.find(service, creds, alias) if checked.save else None
    if saved is not None:
        with _redact.masked_errors(secrets_of(service, saved.creds)):
            resumed = yield from saved.flow(checked.timeout, checked.verify)
        if resumed is not None:
            return resumed, False
    if checked.save:
        vault.check(service, creds, alias)  # nothing saved to resume: a secret is needed
    else:
        service.check(creds)
    granted = yield from service.login_flow(creds)
    return granted, True


def _store(checked: Checked, granted: Granted, fresh: bool) -> Session:
    # The data calls load with the first session, not with the API (nor `import nbauth`).
    from .explore import session_class

    made = session_class(checked.service.name)(
        checked.service,
        checked.alias,
        checked.creds.url,
        granted,
        timeout=checked.timeout,
        verify=checked.verify,
        allow_insecure=checked.allow_insecure,
        obtained_at=datetime.now(timezone.utc),
    )
    STORE.put(made)
    if checked.save and fresh:
        vault.save(made)
    return made


def _stored_alias(alias: Any) -> str | None:
    """``alias`` as session() and logout() take it: None (the current session) or a name."""
    if alias is None:
        return None
    return _checks.text(alias, "alias", what="a session's alias (a string)")
