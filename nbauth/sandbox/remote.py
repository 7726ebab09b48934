"""The sandbox seen from a notebook: its demo passwords, tokens, share URLs and two-factor codes.

`make lab`, `make demo` and `binder/start` run the sandbox in a process of its own and set
``NBAUTH_<SERVICE>_URL`` for the kernel. The example notebooks show every way in (another
user's password, a TOTP code, a personal access token, an SMS-protected share), so they ask the
sandbox for those through its `/_sandbox/` routes instead of writing a secret into a cell.
With a real service, each of these is something you have: your password, your authenticator
app, your phone.

Every secret comes back as a `nbauth.Secret`, so showing one in a cell shows a mask.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import httpx

from nbauth.errors import NbAuthError
from nbauth.secret import Secret
from nbauth.services.fields import env_name

SERVICES = ("couchdrop", "rocketchat", "iogates")


class RemoteSandbox:
    """A running sandbox, found through the ``NBAUTH_<SERVICE>_URL`` variables."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls
        self._tokens: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"RemoteSandbox({self.urls})"

    def password(self, service: str, username: str) -> Secret:
        return Secret(self._user(service, username)["password"])

    def totp(self, service: str, username: str) -> Secret:
        """The code ``username``'s authenticator app shows now."""
        code = self._user(service, username)["totp"]
        if code is None:
            raise NbAuthError(f"{username} has no authenticator app on the {service} sandbox.")
        return Secret(code)

    def token(self, service: str) -> Secret:
        """Couchdrop's admin API token, or Rocket.Chat's personal access token (alice's)."""
        return Secret(self._accounts(service)["token"])

    def user_id(self, service: str) -> str:
        """The user id that goes with Rocket.Chat's personal access token."""
        return str(self._accounts(service)["user_id"])

    def share_url(self, name: str) -> str:
        """The link of the ioGates share ``open``, ``sms`` (SMS-protected), ``expired`` or
        ``view`` (no permission to download)."""
        return str(self._accounts("iogates")["share_urls"][name])

    def sms_code(self, share_url: str) -> Secret:
        """The code the sandbox last texted for ``share_url``'s share."""
        key = urlsplit(share_url).path.split("/")[4]
        return Secret(self._get("iogates", "sms")["codes"][key])

    def email_code(self, username: str) -> Secret:
        """The code the Rocket.Chat sandbox last e-mailed to ``username``."""
        return Secret(self._get("rocketchat", "email-codes")["codes"][username])

    def _user(self, service: str, username: str) -> dict[str, Any]:
        user: dict[str, Any] = self._get(service, "accounts")["users"][username]
        return user

    def _accounts(self, service: str) -> dict[str, Any]:
        """The service's demo tokens and share URLs, which stay the same while it runs."""
        if service not in self._tokens:
            self._tokens[service] = self._get(service, "accounts")
        return self._tokens[service]

    def _get(self, service: str, route: str) -> dict[str, Any]:
        url = f"{self.urls[service]}/_sandbox/{route}"
        try:
            response = httpx.get(url, timeout=10)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise NbAuthError(
                f"The sandbox at {self.urls[service]} did not answer ({type(exc).__name__}). "
                "Start it with `make lab` or `python -m nbauth.sandbox`."
            ) from None
        data: dict[str, Any] = response.json()
        return data


def connect() -> RemoteSandbox:
    """The sandbox the ``NBAUTH_<SERVICE>_URL`` variables point at."""
    urls = {service: os.environ.get(env_name(service, "url"), "") for service in SERVICES}
    missing = [env_name(s, "url") for s, url in urls.items() if not url]
    if missing:
        raise NbAuthError(
            f"No sandbox: {', '.join(missing)} not set. Run `make lab`, or start "
            "`python -m nbauth.sandbox --env-file sandbox.env` and `source sandbox.env`."
        )
    return RemoteSandbox(urls)
