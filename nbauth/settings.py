"""nbauth's settings in IPython, set with ``%config`` or in ``ipython_config.py``::

    %config NbAuth.timeout = 10
    %config NbAuth.verify = "/etc/ssl/corp-ca.pem"
    %config NbAuth.urls = {"rocketchat": "https://chat.example.com"}

The magics and the form read them; plain ``nbauth.login`` takes its own
arguments and is not affected.
"""

from __future__ import annotations

from typing import Any

from traitlets import Bool, Dict, Float, TraitError, Unicode, Union, validate
from traitlets.config import SingletonConfigurable

from . import services
from .errors import UsageError

__all__ = ["NbAuth", "RefusedSetting", "settings"]


class NbAuth(SingletonConfigurable):
    """Settings of nbauth's magics and login form."""

    timeout = Float(
        30.0, help="Seconds to wait for each answer from a service before giving up."
    ).tag(config=True)
    verify = Union(
        [Bool(), Unicode()],
        default_value=True,
        help="TLS certificate check: True, False, or the path of a CA bundle (file or folder).",
    ).tag(config=True)
    urls = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        help="Default URL per service, used when neither --url nor NBAUTH_<SERVICE>_URL is set.",
    ).tag(config=True)

    @validate("timeout")
    def _positive(self, proposal: Any) -> float:
        value = float(proposal["value"])
        if value <= 0:
            raise TraitError("NbAuth.timeout must be a positive number of seconds.")
        return value

    @validate("urls")
    def _known_services(self, proposal: Any) -> dict[str, str]:
        """Known services only, and no URL with a user:password@ part (nbauth._urls): refused
        as a TraitError, so that traitlets puts the old value back (``%config`` logs it), which
        is also nbauth's UsageError."""
        from . import _urls  # not at %load_ext: it waits for the first setting or login

        checked: dict[str, str] = {}
        for key, url in proposal["value"].items():
            try:
                name = services.get(key).name
            except UsageError as exc:
                raise RefusedSetting(f"NbAuth.urls: {exc.message}") from None
            if _urls.has_userinfo(url):
                del proposal, url, checked  # a verbose traceback shows this frame's locals
                refused = _urls.refusal(f"NbAuth.urls[{name!r}]", services.get(name))
                raise RefusedSetting(refused.message, service=name)
            checked[name] = url
        return checked

    def url_for(self, service: str) -> str | None:
        return self.urls.get(service) or None


class RefusedSetting(UsageError, TraitError):
    """A setting nbauth refuses: a UsageError, and a TraitError for traitlets, which then keeps
    the value the setting had."""


def settings(shell: Any = None) -> NbAuth:
    """The one NbAuth instance, configured from IPython's config when a shell is running.

    It is added to the shell's configurables so that ``%config NbAuth`` finds it.
    """
    from .frontend import shell as running_shell

    shell = shell if shell is not None else running_shell()
    made: NbAuth = NbAuth.instance(parent=shell)  # parent only counts on the first call
    if shell is not None and made not in shell.configurables:
        shell.configurables.append(made)
    return made
