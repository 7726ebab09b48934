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
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from .base import Service

__all__ = ["get", "names"]

GROUP = "nbauth.services"


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
        raise UsageError(f"Unknown service '{name}'. Known services: {known}.")
    cls = found.load()
    service: Service = cls()
    return service


get.cache_clear = _get.cache_clear  # type: ignore[attr-defined]  # as when get was cached
