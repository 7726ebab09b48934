"""Saved logins: a session's token kept in the operating system's keyring, only when asked.

nbauth keeps tokens in the kernel's memory, so a restart means logging in again. With
``save=True`` (``%login SERVICE --save``) a login is also saved, through the ``keyring``
package (``pip install nbauth[keyring]``), and the same call resumes it later without asking
for a password.

What is saved: one JSON record per (service, URL, alias), under the keyring service
``nbauth:<service>:<url>`` and the alias (default: the service's name) as the user name. It
holds the token, who it belongs to (username, user id), how it was obtained (kind), when it
expires, and the session's scalar profile and details (Couchdrop's file host, ioGates' device
id). Never a password. Lists and tables are left out and fetched again: Windows' Credential
Manager holds about 1280 characters. The record names its service and URL, and is used only
for the ones it names, so a token is never sent to another server.

Where: only to a real OS keyring (macOS Keychain, Windows Credential Locker, a Secret Service
on Linux). keyring's failing or null backend, a plaintext file, or anything keyring itself
ranks below 1 is refused: the login succeeds, a KeyringWarning says why nothing was saved, and
the token is written nowhere else. Through keyring's chainer, only its first backend is used
(the chainer would fall through to the next one, which may be a plaintext file).

Resuming is part of the same opt-in: ``save=True`` without a password, token or share URL
first looks for the saved login, so a notebook cell ``%login couchdrop --save`` asks once and
then, after every restart, asks nothing. Without ``save`` the keyring is never read or written.
A username given must match the saved one. The saved token is checked with the server before
the session is stored (Couchdrop's profile call, which tells a refused token from a missing
permission; otherwise the service's token login, as Rocket.Chat's ``/me`` and ioGates'
authinfo). A refused or expired one is deleted and the login goes on as if none had been saved.
``nbauth.logout(forget=True)``, ``revoke=True``, ``%logout --forget`` or ``forget()`` delete it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import _redact, _urls, _warnings, services
from .errors import AccessDenied, SessionExpired, UsageError
from .secret import Secret
from .services.answers import text_or_none
from .services.base import Credentials, Granted, Service

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from ._calls import Flow
    from ._http import Verify
    from ._session import Session

__all__ = [
    "KeyringWarning",
    "NothingSaved",
    "Saved",
    "check",
    "find",
    "forget",
    "noted",
    "require",
    "save",
    "told",
]

VERSION = 1
GET_ONE = (
    "To save logins, run the kernel where an OS keyring is: macOS Keychain, Windows Credential "
    "Locker, or on Linux a Secret Service (GNOME Keyring, KWallet) in the desktop session; a "
    "remote or headless kernel usually has none. `keyring --list-backends` shows what keyring "
    "finds."
)
SCALARS = (str, int, float, bool, type(None))


class KeyringWarning(UserWarning):
    """The keyring could not be used: a login was not saved, or a saved one not read."""


class NothingSaved(UsageError):
    """A login with ``save=True`` and no password found no saved login the server accepts."""


@dataclass(frozen=True)
class Saved:
    """A login read back from the keyring, to be checked with its server before it is used."""

    service: Service
    alias: str
    #: The token login it stands for: URL, token, user id, options.
    creds: Credentials
    #: The session as it was saved.
    granted: Granted

    def flow(self, timeout: float, verify: Verify) -> Flow[Granted | None]:
        """Check the token with the server: the saved session, refreshed by the answer. When the
        server refuses the token, the record is deleted and the flow returns None; any other
        failure (no answer, a server error) leaves the record for the next time."""
        try:
            checked = yield from self._check(timeout, verify)
        except (SessionExpired, AccessDenied):
            forget(self.service.name, url=self.creds.url, alias=self.alias)
            return None
        saved = self.granted
        return Granted(
            token=checked.token,
            username=checked.username or saved.username,
            kind=saved.kind,  # how the token was first obtained: logout depends on it
            user_id=checked.user_id or saved.user_id,
            expires_at=saved.expires_at,  # a check does not extend the token's life
            profile={**saved.profile, **checked.profile},
            profile_complete=checked.profile_complete,
            storage=checked.storage,
            details={**saved.details, **checked.details},
        )

    def _check(self, timeout: float, verify: Verify) -> Flow[Granted]:
        """A service with a profile call of its own (Couchdrop) is asked for the profile: its
        token login would take a session token for an admin token. The others' token login
        checks any token they issued (Rocket.Chat's /me with the user id, ioGates' authinfo)."""
        service = self.service
        if type(service).profile_flow is Service.profile_flow:
            return (yield from service.login_flow(self.creds))
        from ._session import Session

        session = Session(
            service,
            self.alias,
            self.creds.url,
            self.granted,
            timeout=timeout,
            verify=verify,
            obtained_at=datetime.now(timezone.utc),
        )
        profile = yield from service.profile_flow(session)
        return Granted(self.granted.token, None, self.granted.kind, profile=profile)


def find(service: Service, creds: Credentials, alias: str) -> Saved | None:
    """The saved login a ``save=True`` login resumes: None when the call brings its own secret
    (password, token, share URL), nothing usable is saved, or it is another account's.

    Raises UsageError when keyring is not installed, before anything is sent.
    """
    require()
    if _brings_secret(creds):
        return None
    backend, why = _backend()
    if why is not None:
        return None  # the save after this login says why
    try:
        text = backend.get_password(_entry(service.name, creds.url), alias)
    except Exception as exc:  # each backend raises its own (D-Bus, Keychain, Credential Manager)
        _warn(
            f"The saved {service.title} login could not be read from the keyring "
            f"({_name(backend)}: {type(exc).__name__}); logging in without it. Unlock the "
            "keyring to use it."
        )
        return None
    saved = _parse(text, service, creds, alias)
    if saved is None:
        return None
    if creds.username is not None and creds.username != saved.granted.username:
        return None
    if creds.user_id is not None and creds.user_id != saved.granted.user_id:
        return None
    expires = saved.granted.expires_at
    if expires is not None and expires <= datetime.now(timezone.utc):
        forget(service.name, url=creds.url, alias=alias)
        return None
    return saved


def check(service: Service, creds: Credentials, alias: str) -> None:
    """``service.check`` for a ``save=True`` login that found nothing to resume: the usual error,
    as NothingSaved, saying that no saved login could stand in for the missing secret."""
    try:
        service.check(creds)
    except UsageError as exc:
        if _brings_secret(creds):
            raise
        raise NothingSaved(
            f"{exc.message} No saved {service.title} login for '{alias}' at {creds.url} could "
            "be used (none in the keyring, another account's, or refused by the server and "
            "deleted). Log in once with the password and save=True.",
            service=service.name,
        ) from None


def save(session: Session) -> bool:
    """Save ``session`` in the keyring. When it cannot, warn (KeyringWarning) and return False:
    the session stays in the kernel only, and the token is written nowhere else."""
    backend, why = _backend()
    stays = f"the {session.title} session stays in this kernel only"
    if why is not None:
        _warn(f"Not saved: the keyring here is {_name(backend)} ({why}), so {stays}. {GET_ONE}")
        return False
    try:
        backend.set_password(_entry(session.service, session.url), session.alias, _record(session))
    except Exception as exc:  # each backend raises its own (D-Bus, Keychain, Credential Manager)
        _warn(
            f"Not saved: the keyring ({_name(backend)}) refused the {session.title} login "
            f"({type(exc).__name__}), so {stays}. Unlock the keyring and log in again with save."
        )
        return False
    return True


@_redact.scrubbed
def forget(service: str, *, url: str | None = None, alias: str | None = None) -> bool:
    """Delete the login saved for ``service`` at ``url`` (default: the service's public host;
    Rocket.Chat has none and needs ``url``) under ``alias`` (default: the service's name).
    True when one was deleted.

    Without keyring, or with a keyring nbauth does not save to, nothing can be saved: False.
    """
    found = services.get(service)
    _urls.refuse_userinfo(url, "url=", found)  # a keyring entry's name shows its URL
    where = found.base_url(url, None)  # a UsageError for Rocket.Chat without url=
    try:
        backend, why = _backend()
    except UsageError:
        return False
    if why is not None:
        return False
    key, user = _entry(found.name, where), alias or found.name
    try:
        if backend.get_password(key, user) is None:
            return False
        backend.delete_password(key, user)
    except Exception as exc:  # each backend raises its own (D-Bus, Keychain, Credential Manager)
        _warn(
            f"The saved {found.title} login '{user}' could not be deleted from the keyring "
            f"({_name(backend)}: {type(exc).__name__}). Unlock the keyring and try again, or "
            f"delete it there: keyring del '{key}' '{user}'."
        )
        return False
    return True


def require() -> Any:
    """The keyring module; a UsageError saying how to install it when it is missing."""
    try:
        import keyring
    except ImportError:
        raise UsageError(
            "save=True keeps logins in the OS keyring through the keyring package, which is not "
            "installed: pip install 'nbauth[keyring]'. Without it, log in without save; the "
            "session then lives in this kernel only."
        ) from None
    return keyring


def told(session: Session, notes: list[str], resumed: bool = False) -> str:
    """What a notebook says after a ``save=True`` login: why it was not saved (the notes of
    ``noted()``), or that it was, and how to resume and delete it."""
    if notes:
        return " ".join(notes)
    alias = "" if session.alias == session.service else f" --as {session.alias}"
    logout = "%logout --forget" if not alias else f"%logout {session.alias} --forget"
    if resumed:
        return (
            f"Resumed the {session.title} login saved in the OS keyring; no password was asked. "
            f"{logout} deletes it."
        )
    return (
        f"Saved in the OS keyring (never the password): %login {session.service}{alias} --save "
        f"resumes it after a restart, {logout} deletes it."
    )


@contextmanager
def noted() -> Iterator[list[str]]:
    """Collect the KeyringWarnings raised inside, for a notebook to show as lines; every other
    warning goes on as it came."""
    notes: list[str] = []
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield notes
    finally:
        for item in caught:
            if issubclass(item.category, KeyringWarning):
                notes.append(str(item.message))
            else:
                warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)


# -- internals ------------------------------------------------------------------------


def _backend() -> tuple[KeyringBackend, str | None]:
    """The backend nbauth would use, and why it will not (None when it will)."""
    from keyring.backends import chainer, fail, null

    backend = require().get_keyring()
    if isinstance(backend, chainer.ChainerBackend):
        chained = backend.backends
        if not chained:
            return backend, "it chains no keyring at all"
        backend = chained[0]
    if isinstance(backend, fail.Keyring):
        return backend, "keyring found no OS keyring on this machine"
    if isinstance(backend, null.Keyring):
        return backend, "it stores nothing"
    if "plaintext" in _name(backend).lower():
        return backend, "it writes secrets to a file in plain text"
    try:
        priority = float(type(backend).priority)
    except Exception:  # a backend that cannot say is not one to trust with a token
        priority = 0.0
    if priority < 1:
        return backend, f"keyring ranks it below an OS keyring (priority {priority:g})"
    return backend, None


def _brings_secret(creds: Credentials) -> bool:
    """Whether the call logs in by itself: then it is a new login, and nothing is resumed."""
    return creds.password is not None or creds.token is not None or creds.share_url is not None


def _name(backend: object) -> str:
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def _entry(service: str, url: str) -> str:
    return f"nbauth:{service}:{url}"


def _record(session: Session) -> str:
    def scalars(values: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if isinstance(v, SCALARS)}

    expires = session.expires_at
    return json.dumps(
        {
            "nbauth": VERSION,
            "service": session.service,
            "url": session.url,
            "username": session.username,
            "user_id": session.user_id,
            "kind": session.kind,
            "token": session.token.reveal(),
            "expires_at": expires.isoformat() if expires is not None else None,
            "profile": scalars(session.profile_seed),
            "details": scalars(session.details),
        }
    )


def _parse(text: str | None, service: Service, creds: Credentials, alias: str) -> Saved | None:
    """The record as a Saved login, or None when it is missing, malformed, or for another
    service or URL than its keyring entry says (it is then left alone, and a save replaces it)."""
    try:
        record = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("nbauth") != VERSION:
        return None
    if (record.get("service"), record.get("url")) != (service.name, creds.url):
        return None
    token, kind = record.get("token"), record.get("kind")
    if not (isinstance(token, str) and token and isinstance(kind, str)):
        return None
    try:
        expires = datetime.fromisoformat(record["expires_at"]) if record["expires_at"] else None
    except (KeyError, TypeError, ValueError):
        return None
    if expires is not None and expires.tzinfo is None:
        return None
    user_id = text_or_none(record.get("user_id"))
    profile, details = record.get("profile"), record.get("details")
    details = details if isinstance(details, dict) else {}
    options = dict(creds.options)
    for name in service.options:  # the saved file host or device id, unless given anew
        if not options.get(name) and isinstance(details.get(name), str):
            options[name] = details[name]
    granted = Granted(
        token=Secret(token),
        username=text_or_none(record.get("username")),
        kind=kind,
        user_id=user_id,
        expires_at=expires,
        profile=profile if isinstance(profile, dict) else {},
        details=details,
    )
    taken = {field.name for field in service.fields}
    values: dict[str, str | Secret] = {"token": granted.token}
    if user_id is not None and "user_id" in taken:
        values["user_id"] = user_id
    token_login = Credentials(url=creds.url, values=values, options=options)
    return Saved(service, alias, token_login, granted)


def _warn(message: str) -> None:
    _warnings.warn(KeyringWarning(message))
