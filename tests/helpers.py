"""Helpers the service tests share."""

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
