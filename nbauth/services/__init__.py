"""The service registry: every service, built-in or not, comes from the ``nbauth.services``
entry point group, so a third-party package adds one with a single line in its
``pyproject.toml``::

    [project.entry-points."nbauth.services"]
    myservice = "mypackage.nbauth_service:MyService"

Entry points are read once, on the first lookup, and a service's module is
imported only when that service is used.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from .base import Service

__all__ = ["get", "names"]

GROUP = "nbauth.services"
#: What a service's name looks like: an unknown name is quoted back only if it looks so.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,30}")


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points  # 20 ms of imports: paid at the first login

    return {ep.name: ep for ep in entry_points(group=GROUP)}


def names() -> list[str]:
    """The names of the services that can be logged in to."""
    return sorted(_entry_points())


def get(name: str) -> Service:
    """The service registered under ``name`` (case and spaces ignored)."""
    if not isinstance(name, str):  # a list cannot even be looked up: a UsageError, not a crash
        raise UsageError(
            f"service= must be a service name like 'couchdrop' (a string), not "
            f"{type(name).__name__}. Known services: {', '.join(names()) or 'none'}."
        )
    return _get(name)


@functools.cache
def _get(name: str) -> Service:
    from .._checks import problem

    wrong = problem(name)
    if wrong is not None:
        raise UsageError(f"service= {wrong}. Known services: {', '.join(names()) or 'none'}.")
    key = name.strip().lower().replace("-", "").replace(".", "").replace(" ", "")
    found = _entry_points().get(key)
    if found is None:
        known = ", ".join(names()) or "none (is nbauth installed with pip?)"
        raise UsageError(f"Unknown service {_shown(name)}.{_guess(key)} Known services: {known}.")
    cls = found.load()
    service: Service = cls()
    return service


def _guess(key: str) -> str:
    """ " Did you mean couchdrop?" for a near miss (``couchdorp``), else nothing. It names a
    known service only, never what was typed."""
    import difflib  # only for a typo: it costs %load_ext nothing

    close = difflib.get_close_matches(key, names(), n=1)
    return f" Did you mean {close[0]}?" if close else ""


def _shown(name: str) -> str:
    """An unknown service's name as its error shows it: quoted when it looks like a name (or is
    blank), else described and not repeated, since it may hold what followed it on a line (a
    password glued on by a space that did not split: ``couchdrop\\xa0-pPW``)."""
    if NAME.fullmatch(name) or not name.strip():
        return f"'{name}'"
    spaced = " with spaces in it" if any(char.isspace() for char in name) else ""
    return (
        f"(the name given, of {len(name)} characters{spaced}, does not look like a service's "
        "name; it is not repeated here, in case it holds a password)"
    )


get.cache_clear = _get.cache_clear  # type: ignore[attr-defined]  # as when get was cached
