"""nbauth: sign in to Couchdrop, Rocket.Chat and ioGates from a Jupyter notebook.

    import nbauth
    s = nbauth.login("rocketchat", url="https://chat.example.com", username="alice",
                     password=pw, code="123456")
    s.profile_frame()

``import nbauth`` is cheap: httpx, pandas and the service modules load on
first use, so ``%load_ext nbauth`` costs almost nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    AccessDenied,
    AlreadyExists,
    ConnectionFailed,
    InsecureWarning,
    InvalidCode,
    NbAuthError,
    NotFound,
    NotLoggedIn,
    RateLimited,
    ServiceError,
    SessionExpired,
    TwoFactorRequired,
    UsageError,
)
from .secret import Secret

if TYPE_CHECKING:
    from ._session import Session
    from .api import alogin, delegate, login, logout, session, sessions
    from .batch import alogin_many, login_many
    from .form import LoginForm
    from .vault import KeyringWarning

__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "AlreadyExists",
    "ConnectionFailed",
    "InsecureWarning",
    "InvalidCode",
    "KeyringWarning",
    "LoginForm",
    "NbAuthError",
    "NotFound",
    "NotLoggedIn",
    "RateLimited",
    "Secret",
    "ServiceError",
    "Session",
    "SessionExpired",
    "TwoFactorRequired",
    "UsageError",
    "alogin",
    "alogin_many",
    "delegate",
    "login",
    "login_many",
    "logout",
    "session",
    "sessions",
]

_LAZY = {
    "login": "api",
    "alogin": "api",
    "login_many": "batch",
    "alogin_many": "batch",
    "delegate": "api",
    "logout": "api",
    "session": "api",
    "sessions": "api",
    "Session": "_session",
    "LoginForm": "form",
    "KeyringWarning": "vault",
}


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbauth``: register the magics and the ``NbAuth`` settings, and start loading
    what the first login needs on a thread of its own (``nbauth.magics.warm_up``)."""
    from .magics import register, warm_up

    register(ipython)
    warm_up(ipython)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nbauth' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
