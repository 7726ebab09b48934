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
