"""Helpers the service tests share."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbauth


def login_as(service):
    """A login function for ``service`` that logs in a sandbox user by name (default alice)."""

    def login(sandbox, name="alice", **kwargs):
        user = sandbox.user(service, name)
        kwargs.setdefault("url", sandbox.urls[service])
        kwargs.setdefault("username", user.username)
        kwargs.setdefault("password", user.password)
        return nbauth.login(service, **kwargs)

    return login


def record_calls(monkeypatch):
    """The Calls nbauth sends from now on (each flow's requests, retries counted once), in
    order: a test reads which requests a call made and what each carried."""
    from nbauth import _http

    sent = []
    send, asend = _http._send, _http._asend

    def recorded(client, call, *args):
        sent.append(call)
        return send(client, call, *args)

    async def arecorded(client, call, *args):
        sent.append(call)
        return await asend(client, call, *args)

    monkeypatch.setattr(_http, "_send", recorded)
    monkeypatch.setattr(_http, "_asend", arecorded)
    return sent


@contextmanager
def installed_service(
    folder: Path, monkeypatch: Any, name: str, module: str, source: str, cls: str
) -> Iterator[None]:
    """A third-party package registering ``name`` in the ``nbauth.services`` entry point group:
    ``module`` (its ``source``) and its ``*.dist-info`` on sys.path while the block runs, and
    nbauth's service lookups forgotten before and after it."""
    from nbauth import services

    (folder / f"{module}.py").write_text(source)
    dist = folder / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[nbauth.services]\n{name} = {module}:{cls}\n")
    monkeypatch.syspath_prepend(str(folder))
    services._entry_points.cache_clear()
    services.get.cache_clear()
    try:
        yield
    finally:
        services._entry_points.cache_clear()
        services.get.cache_clear()
        sys.modules.pop(module, None)
