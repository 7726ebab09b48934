"""``%nbauth doctor``: what this kernel and its front end look like to nbauth.

The usual reasons a notebook login hangs or fails are here in one table: a
front end without widgets, a kernel that allows no input, a proxy or CA bundle
from the environment, a clock that is off (two-factor codes depend on it).
Values of variables that may hold a secret are never shown: proxy URLs lose
their user and password in every form httpx takes (nbauth._urls.mask_proxy), and
NBAUTH_* variables are listed by name only.
"""

from __future__ import annotations

import os
import sys
import textwrap
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from . import _http, _urls, frontend
from ._calls import Call, Flow
from .errors import NbAuthError
from .settings import settings
from .store import STORE

if TYPE_CHECKING:
    import pandas as pd

    from ._session import Session

__all__ = ["Report", "doctor"]

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
SKEW_WARNING = 30.0  # seconds; a TOTP code lives 30 s


class Report:
    """The doctor's findings: ``.frame`` is the table; it shows as HTML in a notebook and as
    wrapped text in a terminal, where a three-column table of sentences would be cut off."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def _repr_html_(self) -> str:
        html: str = self.frame.to_html(index=False)
        return html

    def __repr__(self) -> str:
        lines = []
        for check, found, advice in self.frame.itertuples(index=False):
            lines.append(f"{check + ':':<18} {found}")
            if advice:
                lines += textwrap.wrap(
                    advice, 78, initial_indent=" " * 19, subsequent_indent=" " * 19
                )
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def doctor(shell: Any = None) -> Report:
    """One row per check: what was found and, where it matters, what to do."""
    import pandas as pd

    shell = shell if shell is not None else frontend.shell()
    rows = [
        _front_end(shell),
        _widgets(shell),
        _stdin(shell),
        _proxies(),
        _ca_bundle(),
        _settings(),
        _variables(),
        *_clock(),
    ]
    return Report(pd.DataFrame(rows, columns=["check", "found", "advice"]))


def _front_end(shell: Any) -> tuple[str, str, str]:
    kind = frontend.kind(shell)
    if kind == "notebook":
        hosts = [
            ("google.colab" in sys.modules, "Google Colab"),
            ("VSCODE_PID" in os.environ, "VS Code"),
            ("DATABRICKS_RUNTIME_VERSION" in os.environ, "Databricks"),
            ("JPY_SESSION_NAME" in os.environ, "a Jupyter server"),
        ]
        host = next((name for found, name in hosts if found), "an unknown Jupyter client")
        return ("front end", f"Jupyter kernel (ipykernel {_version('ipykernel')}) from {host}", "")
    if kind == "terminal":
        return ("front end", f"terminal IPython {_version('ipython')}", "%login uses prompts.")
    return ("front end", "plain Python (no IPython)", "Use nbauth.login(...).")


def _widgets(shell: Any) -> tuple[str, str, str]:
    found = (
        f"ipywidgets {_version('ipywidgets')}, jupyterlab_widgets {_version('jupyterlab_widgets')}"
    )
    if frontend.kind(shell) != "notebook":
        return ("widgets", found, "The login form needs a notebook; prompts are used here.")
    return (
        "widgets",
        found,
        "If the login form shows as text (LoginForm... or VBox(...)), this front end cannot "
        "show widgets: use %login SERVICE --prompt, or install jupyterlab_widgets where "
        "Jupyter runs.",
    )


def _stdin(shell: Any) -> tuple[str, str, str]:
    can_ask, why = frontend.can_ask(shell)
    if can_ask:
        return ("stdin", "a person can answer forms and prompts", "")
    return ("stdin", f"nobody can answer: {why}", "Set the NBAUTH_<SERVICE>_* variables.")


def _proxies() -> tuple[str, str, str]:
    """The proxy variables, each password hidden (``NO_PROXY`` as it is), and whether loopback
    goes through a proxy, which makes nbauth refuse plain-HTTP logins to it (nbauth._urls)."""
    import httpx

    found = []
    for name in PROXY_VARIABLES:
        for variant in (name, name.lower()):
            value = os.environ.get(variant)
            if value:
                shown = value if name == "NO_PROXY" else _urls.mask_proxy(value)
                found.append(f"{variant}={shown}")
    if not found:
        return ("proxy", "no proxy variables", "")
    try:
        reading = _urls.read_proxies()
    except NbAuthError as exc:
        return ("proxy", "; ".join(found), exc.message)
    through = [
        host
        for host in ("127.0.0.1", "localhost")
        if reading.proxy_for(httpx.URL(f"http://{host}"))
    ]
    if through:
        advice = (
            f"httpx sends plain HTTP to {' and '.join(through)} through the proxy, so nbauth "
            "refuses plain-HTTP logins to this machine (the sandbox) without --allow-insecure: "
            "add 127.0.0.1,localhost,::1 to NO_PROXY."
        )
    else:
        advice = "httpx uses these; loopback (127.0.0.1, localhost) is reached directly."
    return ("proxy", "; ".join(found), advice)


def _ca_bundle() -> tuple[str, str, str]:
    given = [f"{v}={os.environ[v]}" for v in ("SSL_CERT_FILE", "SSL_CERT_DIR") if os.environ.get(v)]
    if given:
        missing = [g for g in given if not os.path.exists(g.split("=", 1)[1])]
        advice = f"Missing: {', '.join(missing)}." if missing else ""
        return ("CA bundle", "; ".join(given), advice)
    try:
        import certifi

        return ("CA bundle", f"certifi {certifi.where()}", "")
    except ImportError:
        return ("CA bundle", "the system's default CAs", "")


def _settings() -> tuple[str, str, str]:
    config = settings()
    shown = {k: _urls.without_userinfo(v) for k, v in config.urls.items()}  # refused anyway
    urls = ", ".join(f"{k}={v}" for k, v in shown.items()) or "none"
    found = f"timeout={config.timeout:g} s, verify={config.verify!r}, urls: {urls}"
    advice = "verify=False turns off TLS checks." if config.verify is False else ""
    return ("NbAuth settings", found, advice)


def _variables() -> tuple[str, str, str]:
    names = sorted(k for k in os.environ if k.startswith("NBAUTH_"))
    return ("NBAUTH_ variables", ", ".join(names) or "none set", "")


def _clock() -> list[tuple[str, str, str]]:
    now = datetime.now(timezone.utc)
    local = datetime.now().astimezone()
    rows = [("clock", f"{now:%Y-%m-%d %H:%M:%S} UTC (local time zone {local:%Z %z})", "")]
    rows += [_skew(session, now) for session in STORE.all()]
    return rows


def _skew(session: Session, now: datetime) -> tuple[str, str, str]:
    check = f"clock vs {session.alias}"
    try:
        date = _http.run(
            _server_date(session.url), service=session._service, timeout=3.0, verify=session.verify
        )
    except NbAuthError as exc:
        return (check, "no answer", exc.message)
    if date is None:
        return (check, "the server sent no Date header", "")
    skew = (date - now).total_seconds()
    advice = "Two-factor codes may be refused: set the clock." if abs(skew) > SKEW_WARNING else ""
    return (check, f"server clock {skew:+.0f} s from this kernel's", advice)


def _server_date(url: str) -> Flow[datetime | None]:
    response = yield Call("GET", url)
    header = response.headers.get("date")
    try:
        return parsedate_to_datetime(header) if header else None
    except (TypeError, ValueError):
        return None


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"
