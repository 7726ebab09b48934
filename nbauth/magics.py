"""The notebook face of nbauth: ``%login``, ``%logout``, ``%whoami`` and ``%nbauth``.

Each magic is a thin layer over the Python API (``nbauth.login``, ``session``,
``sessions``, ``logout``); none talks HTTP itself. What they add is the
notebook's concerns: where credentials come from (``nbauth.sources``), who can
be asked for the rest (``nbauth.frontend``), and keeping passwords out of
IPython's history (``nbauth.history``).
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from IPython.core import magic_arguments as ma
from IPython.core.error import UsageError as IPythonUsageError
from IPython.core.magic import Magics, line_magic, magics_class

# Where credentials come from (sources, prompt) and the keyring (vault) load at the first
# %login, not with %load_ext.
from . import frontend, history, report, services
from .errors import NbAuthError, TwoFactorRequired, UsageError
from .settings import settings
from .store import STORE

if TYPE_CHECKING:
    import pandas as pd

    from . import sources
    from ._session import Session
    from .doctor import Report

__all__ = ["NbAuthMagics", "register"]

#: %login options that take a value, and those that do not.
VALUED = frozenset({"--url", "-u", "--username", "--user-id", "--share-url", "--as"})
FLAGS = frozenset({"--token", "--form", "--prompt", "--allow-insecure", "--save", "-h", "--help"})
PASSWORD_WORDS = ("-p", "--p", "-pw", "password", "passwd", "pwd")


def register(shell: Any) -> None:
    """Register the magics and make ``%config NbAuth`` reach nbauth's settings."""
    settings(shell)
    shell.register_magics(NbAuthMagics(shell))


@magics_class
class NbAuthMagics(Magics):
    """Log in to Couchdrop, Rocket.Chat and ioGates from IPython."""

    @ma.magic_arguments()
    @ma.argument(
        "service",
        help="the service: couchdrop, rocketchat, iogates, or one a package added (an unknown "
        "name lists the installed ones)",
    )
    @ma.argument(
        "--url",
        help="the server (default: NBAUTH_<SERVICE>_URL, NbAuth.urls, or the "
        "service's public host)",
    )
    @ma.argument("-u", "--username", help="the account to log in as")
    @ma.argument(
        "--token",
        action="store_true",
        help="log in with a token (admin API token, personal access token, or a stored "
        "ioGates token) instead of a password",
    )
    @ma.argument(
        "--user-id", help="Rocket.Chat: the user id that goes with a personal access token"
    )
    @ma.argument("--share-url", help="ioGates: log in with the link of a share")
    @ma.argument(
        "--as",
        dest="alias",
        metavar="ALIAS",
        help="keep the session under this name (default: the service's name)",
    )
    @ma.argument("--form", action="store_true", help="ask with the login form (notebook default)")
    @ma.argument(
        "--prompt",
        action="store_true",
        help="ask with text prompts (terminal default; also works in a notebook)",
    )
    @ma.argument(
        "--allow-insecure",
        action="store_true",
        help="allow a plain http:// URL to another machine (the password or token then "
        "crosses the network unencrypted); loopback needs no flag",
    )
    @ma.argument(
        "--save",
        action="store_true",
        help="also keep the login in the OS keyring, and first resume the one saved there "
        "(needs the keyring package and a real OS keyring; never a password)",
    )
    @line_magic
    def login(self, line: str) -> Session | None:
        """Log in to a service and keep the session in this kernel.

        Returns the Session (``s = %login couchdrop``) and shows who you are and
        your storage. Credentials come, in this order, from the arguments (never a
        password), from NBAUTH_<SERVICE>_URL, _USERNAME, _PASSWORD, _TOKEN,
        _USER_ID, _SHARE_URL and _CODE, and then from you: the login form in a
        notebook, prompts in a terminal or with --prompt. A two-factor code is
        asked for the same way. When nobody can answer (nbclient, papermill, CI,
        NBAUTH_NONINTERACTIVE=1) it fails at once and names the variables to set.
        """
        from . import prompt, sources, vault

        args = self._login_arguments(line)
        if args.form and args.prompt:
            raise UsageError("Choose one of --form and --prompt.")
        config = settings(self.shell)
        name = services.get(args.service).name
        plan = sources.plan(
            name,
            url=args.url,
            username=args.username,
            token=args.token,
            user_id=args.user_id,
            share_url=args.share_url,
            alias=args.alias,
            default_url=config.url_for(name),
            timeout=config.timeout,
            verify=config.verify,
            allow_insecure=args.allow_insecure,
        )
        if args.save:
            vault.require()
            plan.save = True
        use_form = self._use_form(args)
        can_ask, why = frontend.can_ask(self.shell)
        if plan.missing():
            resumed = _resume(plan) if plan.save else None
            if resumed is not None:
                return resumed
            if not can_ask:
                raise UsageError(
                    f"{plan.service.title} login needs "
                    f"{' and '.join(sources.LABELS[f].lower() for f in plan.missing())}, and "
                    f"nobody can type it here ({why}). Set {sources.variables(plan.service)}",
                    service=name,
                )
            if use_form:
                self._show_form(plan, None)
                return None
            prompt.fill(plan)
        try:
            session, notes = _saving(plan)
        except TwoFactorRequired as exc:
            if not can_ask:
                raise TwoFactorRequired(
                    f"{exc.message} Here nobody can type it ({why}): set "
                    f"{sources.env_name(name, 'code')}.",
                    method=exc.method,
                    service=exc.service,
                    status=exc.status,
                ) from None
            if use_form:
                self._show_form(plan, exc)
                return None
            prompt.ask_code(plan, exc)
            session, notes = _saving(plan)
        report.show(session)
        if plan.save:
            print(vault.told(session, notes))
        return session

    @ma.magic_arguments()
    @ma.argument("alias", nargs="?", help="the session to log out of (default: the current one)")
    @ma.argument("--all", action="store_true", help="log out of every session in this kernel")
    @ma.argument(
        "--revoke",
        action="store_true",
        help="also end long-lived tokens on the server (Rocket.Chat personal access tokens), "
        "and delete the saved login from the keyring",
    )
    @ma.argument(
        "--forget", action="store_true", help="also delete the saved login from the OS keyring"
    )
    @line_magic
    def logout(self, line: str) -> None:
        """Forget a session in this kernel and end it on the server where the service can."""
        from . import vault

        args = _parse(self.logout, line)
        if args.all and args.alias:
            raise UsageError("Give an alias or --all, not both.")
        chosen = STORE.all() if args.all else [STORE.get(args.alias)]
        if not chosen:
            print("No sessions to log out of.")
        failures = []
        for session in chosen:
            forgot = (args.forget or args.revoke) and vault.forget(
                session.service, url=session.url, alias=session.alias
            )
            try:
                session.logout(revoke=args.revoke)
            except NbAuthError as exc:
                failures.append(exc)
                continue
            said = f"Logged out of {session.title} (session '{session.alias}')."
            if forgot:
                said += " Its saved login was deleted from the keyring."
            elif args.forget:
                said += " No saved login for it was in the keyring."
            print(said)
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise NbAuthError(" ".join(exc.message for exc in failures))

    @ma.magic_arguments()
    @ma.argument("alias", nargs="?", help="the session to show (default: the current one)")
    @line_magic
    def whoami(self, line: str) -> pd.DataFrame:
        """The profile of the current session (or ALIAS) as a table."""
        args = _parse(self.whoami, line)
        session = STORE.get(args.alias)
        return session.profile_frame()

    @line_magic
    def nbauth(self, line: str) -> Any:
        """%nbauth sessions | doctor | ls WHERE:PATH

        sessions  every session in this kernel as a table (tokens masked)
        doctor    what this kernel and its front end look like: front end, widget
                  support, stdin, proxy variables, CA bundle, clock
        ls        a folder as a table: %nbauth ls couchdrop:/reports lists it with the
                  current (or latest) Couchdrop session, %nbauth ls work:/ with the
                  session stored as 'work'; quote a path with spaces
        """
        try:
            words = shlex.split(line)
        except ValueError:
            words = []
        if words[:1] == ["ls"] and len(words) == 2:
            return self._ls(words[1])
        if len(words) == 1 and words[0] in ("sessions", "doctor"):
            return self._sessions() if words[0] == "sessions" else self._doctor()
        given = f" '{line.strip()}'" if line.strip() else ""
        raise UsageError(
            f"Unknown %nbauth command{given}. Use one of: sessions, doctor, ls WHERE:PATH "
            "(for example %nbauth sessions, or %nbauth ls couchdrop:/reports)."
        )

    # -- helpers ----------------------------------------------------------------------

    def _login_arguments(self, line: str) -> Any:
        """Parse %login's line, refusing anything that may be a password before argparse
        could echo it, and taking such a line out of IPython's history."""
        try:
            words = shlex.split(line)
        except ValueError:
            words = ["?unparsable"]
        problem = _screen(words)
        if problem:
            cleaned = history.scrub_current_cell(self.shell)
            where = (
                "It was removed from this kernel's history"
                if cleaned
                else "nbauth could not remove it from the history database "
                f"({getattr(getattr(self.shell, 'history_manager', None), 'hist_file', '?')})"
            )
            raise UsageError(
                f"%login takes no password on its line ({problem}): IPython keeps the line in "
                f"its history and the notebook saves it. {where}; delete it from the cell as "
                "well. Type the password into the form or the prompt instead (%login SERVICE "
                "-u USERNAME, or with --prompt), or set NBAUTH_<SERVICE>_PASSWORD."
            )
        return _parse(self.login, line)

    def _use_form(self, args: Any) -> bool:
        in_notebook = frontend.kind(self.shell) == "notebook"
        if args.form and not in_notebook:
            raise UsageError(
                "The login form needs a notebook (a Jupyter kernel). Here, use --prompt (the "
                "default outside notebooks)."
            )
        return bool(args.form or (in_notebook and not args.prompt))

    def _show_form(self, plan: sources.Plan, error: TwoFactorRequired | None) -> None:
        from IPython.display import display

        from .form import LoginForm

        form = LoginForm.awaiting_code(plan, error) if error else LoginForm.from_plan(plan)
        display(form)

    def _ls(self, target: str) -> pd.DataFrame:
        """The listing of ``ALIAS_OR_SERVICE:PATH``: an alias names a stored session, a service
        its current (or latest) session."""
        where, colon, path = target.partition(":")
        if not colon or not where:
            raise UsageError(
                f"%nbauth ls needs WHERE:PATH, like couchdrop:/reports or iogates:/ (WHERE is "
                f"a service or a session's alias), not '{target}'."
            )
        known = {session.alias for session in STORE.all()}
        if where in known:
            session = STORE.get(where)
        else:
            try:
                service = services.get(where).name
            except UsageError:
                raise UsageError(
                    f"%nbauth ls: '{where}' is neither a session's alias nor a service. "
                    f"Aliases: {', '.join(sorted(known)) or 'none yet'}; services: "
                    f"{', '.join(services.names())}."
                ) from None
            session = STORE.of_service(service)
        listing: pd.DataFrame = session.ls(path or "/")
        return listing

    def _sessions(self) -> pd.DataFrame:
        from .api import sessions

        return sessions()

    def _doctor(self) -> Report:
        from .doctor import doctor

        return doctor(self.shell)


def _screen(words: list[str]) -> str | None:
    """Why this %login line may hold a password, or None when it cannot."""
    positional = 0
    rest = iter(words)
    for word in rest:
        option = word.split("=", 1)[0]
        lowered = option.lower()
        if lowered.startswith(PASSWORD_WORDS) and not lowered.startswith("--prompt"):
            return f"'{option}' looks like a password option"
        if option in VALUED:
            value = word.split("=", 1)[1] if "=" in word else next(rest, "")
            if "@" in value and ":" in urlsplit(value).netloc.split("@")[0]:
                return f"the URL given to {option} holds a password (user:password@host)"
            continue
        if word in FLAGS:
            continue
        if word.startswith("-") or positional or "=" in word:
            return "an argument %login does not know, which may be a password; see %login?"
        positional += 1
    return None


def _saving(plan: sources.Plan) -> tuple[Session, list[str]]:
    """``plan.login()``, and what the keyring said when it was asked to save the login."""
    from . import vault

    with vault.noted() as notes:
        session = plan.login()
    return session, notes


def _resume(plan: sources.Plan) -> Session | None:
    """The login saved in the keyring, checked and reported; None when none can be used (a
    refused one is deleted), and the login goes on as usual."""
    from . import vault

    try:
        with vault.noted() as notes:
            session = plan.login()
    except vault.NothingSaved:
        for note in notes:
            print(note)
        return None
    report.show(session)
    print(vault.told(session, notes, resumed=True))
    return session


def _parse(magic: Any, line: str) -> Any:
    """magic_arguments' parse, with its errors turned into nbauth's UsageError."""
    try:
        return ma.parse_argstring(magic, line)
    except IPythonUsageError as exc:
        name = magic.__name__
        raise UsageError(f"%{name}: {exc}. See %{name}? for the arguments.") from None
