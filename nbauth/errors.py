"""The error tree: every failure a user can meet is an NbAuthError.

Each error carries the service it came from and the HTTP status (None when no
answer came back), and its message says what happened and what to do next.
Messages are written by nbauth, never copied from a request, so they cannot
carry a password or a token.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccessDenied",
    "AlreadyExists",
    "ConnectionFailed",
    "InsecureWarning",
    "InvalidCode",
    "NbAuthError",
    "NotFound",
    "NotLoggedIn",
    "RateLimited",
    "ServiceError",
    "SessionExpired",
    "TwoFactorRequired",
    "UsageError",
]


class NbAuthError(Exception):
    """Base of every nbauth failure."""

    def __init__(self, message: str, *, service: str | None = None, status: int | None = None):
        super().__init__(message)
        self.service = service
        self.status = status

    @property
    def message(self) -> str:
        return str(self.args[0])

    def _render_traceback_(self) -> list[str]:
        """How IPython and Jupyter show it: the message alone. The stack adds nothing a
        user can act on, and with ``%xmode Verbose`` its frames' locals could show a
        password given to ``nbauth.login``."""
        return [f"{type(self).__name__}: {self.message}"]


class UsageError(NbAuthError, ValueError):
    """The call itself is wrong (unknown service, missing or contradictory arguments)."""


class NotLoggedIn(NbAuthError, LookupError):
    """No session is stored (under that alias): log in first."""


class AccessDenied(NbAuthError, PermissionError):
    """Wrong credentials, a refused token, a blocked account, or a file, folder or room the
    account may not read or write. A PermissionError too, so file code (fsspec, pandas)
    treats it as one."""


class NotFound(NbAuthError, FileNotFoundError):
    """No file, folder or room at that path or name. A FileNotFoundError too, so file code
    (fsspec, pandas) treats it as one."""


class AlreadyExists(NbAuthError, FileExistsError):
    """A file or folder is already where a new one was to be made. A FileExistsError too, so
    file code (fsspec's ``makedirs(exist_ok=...)``) treats it as one."""


class TwoFactorRequired(NbAuthError):
    """The service wants a second factor: call the same login again with ``code=``."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "unknown",
        service: str | None = None,
        status: int | None = None,
    ):
        super().__init__(message, service=service, status=status)
        self.method = method


class InvalidCode(NbAuthError):
    """The two-factor code was wrong or has expired."""


class RateLimited(NbAuthError):
    """Too many requests; ``retry_after`` is the wait in seconds when the server said it.

    A data call that the limit cut short keeps what it had read in ``partial`` (a DataFrame
    of the rows read so far, for ``s.messages()``); otherwise ``partial`` is None."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        service: str | None = None,
        status: int | None = None,
    ):
        super().__init__(message, service=service, status=status)
        self.retry_after = retry_after
        self.partial: Any = None


class ConnectionFailed(NbAuthError):
    """No usable answer: DNS, connection refused, TLS, or a timeout."""


class ServiceError(NbAuthError):
    """The service answered, but with a server error or a body that is not what its API promises."""


class SessionExpired(NbAuthError):
    """A call with a stored token was refused: the token expired or was revoked."""


class InsecureWarning(UserWarning):
    """A login or call runs with TLS certificate checks off (``verify=False``): whoever sits
    on the network path can read the password or token."""
