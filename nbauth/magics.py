"""The notebook face of nbauth: ``%login``, ``%logout``, ``%whoami`` and ``%nbauth``.

Each magic is a thin layer over the Python API (``nbauth.login``, ``session``,
``sessions``, ``logout``); none talks HTTP itself. What they add is the
notebook's concerns: where credentials come from (the line, then the variables:
``nbauth.request.LoginRequest.from_environment``), who can be asked for the rest
(``nbauth.frontend``), and keeping passwords out of IPython's history
(``nbauth.history``). %login's options for the login fields come from the table of
fields (``nbauth.services.fields``), and its password screen reads a line with the
options of its own parser.
"""

from __future__ import annotations

import os
import re
import shlex
import threading
from typing import TYPE_CHECKING, Any

from IPython.core import magic_arguments as ma
from IPython.core.error import UsageError as IPythonUsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.utils.process import arg_split  # type: ignore[attr-defined]  # what argparse gets

# The request, the prompts and the keyring (vault) load at the first %login, not with
# %load_ext.
from . import frontend, history, report, services
from .errors import NbAuthError, TwoFactorRequired, UsageError
from .services.fields import BUILT_IN
from .settings import settings
from .store import STORE

if TYPE_CHECKING:
    import argparse

    import pandas as pd

    from ._session import Session
    from .cards import Card
    from .doctor import Report
    from .form import FormSession
    from .request import LoginRequest

__all__ = ["WARM", "NbAuthMagics", "register", "warm_up"]

#: The login fields %login takes on its line (nbauth.services.fields): never a secret. More
#: come when a service that declares its own is first used (``_take_fields_of``).
LINE_FIELDS = [field for field in BUILT_IN if field.option]
PASSWORD_WORDS = ("-p", "--p", "-pw", "password", "passwd", "pwd")
#: Spellings of a password option a refusal may name in full; anything else that starts like
#: one is named by the start it shares (``-p…``), so that what follows is never repeated.
PASSWORD_OPTIONS = frozenset(
    {"-p", "--p", "-pw", "--pw", "--pass", "--passwd", "--password", "--pwd"}
    | {"-pass", "-passwd", "-password", "-pwd", "password", "passwd", "pwd"}
)
#: Why a line no shell-like split can read is refused: nbauth cannot tell what it holds.
UNREADABLE = "a quote on it is not closed, so nbauth cannot read it to tell whether it holds one"
#: A %nbauth command word that can be named back in an error (never a suspect text).
COMMAND_WORD = re.compile(r"[A-Za-z][A-Za-z_-]{0,19}")


def register(shell: Any) -> None:
    """Register the magics and make ``%config NbAuth`` reach nbauth's settings."""
    settings(shell)
    shell.register_magics(NbAuthMagics(shell))


#: Set once the warm-up (``warm_up``) has loaded what a first login needs, or given up.
WARM = threading.Event()
_warming: list[threading.Thread] = []


def warm_up(shell: Any) -> None:
    """Start loading what a first ``%login`` needs (httpx, pandas, ipywidgets, the request,
    the services, the shared HTTP client) on a thread of its own, and return at once: a person
    reads the cell's output or types the next one meanwhile, and the login then finds it all
    loaded. Once per process; ``NBAUTH_WARM_UP=0`` turns it off.

    A %login that comes sooner (Run All) is not slowed: Python's import locks make it wait for
    a module the thread is loading instead of loading it twice, and nbauth's imports have no
    cycle, so no two threads can wait on each other. The thread holds no secret and makes no
    request; anything that fails there is left for the login to report.
    """
    if _warming or os.environ.get("NBAUTH_WARM_UP", "").strip() == "0":
        return
    verify = settings(shell).verify
    thread = threading.Thread(target=_warm, args=(verify,), name="nbauth-warm-up", daemon=True)
    _warming.append(thread)
    thread.start()


def _warm(verify: Any) -> None:
    """What ``warm_up`` runs: the first login's path in the order it needs it (the login, the
    session and its tables, then the form's widgets). Only modules, the shared client and a
    table of made-up text: no login, no request, nothing of the user's."""
    import importlib

    try:
        from . import _http, api, explore, prompt, report, request, vault  # noqa: F401

        for point in services._entry_points().values():  # each service's module
            importlib.import_module(point.module)
        _http._client(verify)  # httpx, the shared client and its TLS context (CA bundle read)
        importlib.import_module("encodings.idna")  # how httpx reads a host name
        import pandas as pd

        shown = pd.DataFrame({"field": ["name"], "value": ["text"]})
        repr(shown), shown._repr_html_()  # pandas loads its text and HTML printing at first use

        from . import form  # noqa: F401  # and ipywidgets
    except Exception:  # the login itself will say what is wrong
        pass
    finally:
        WARM.set()


def _field_arguments(func: Any) -> Any:
    """%login's options for the login fields, in the table's order."""
    for field in reversed(LINE_FIELDS):
        names = [name for name in (field.short, field.option) if name]
        func = ma.argument(*names, dest=field.name, help=field.help)(func)
    return func


@magics_class
class NbAuthMagics(Magics):
    """Log in to Couchdrop, Rocket.Chat and ioGates from IPython."""

    @ma.magic_arguments()
    @ma.argument(
        "service",
        help="the service: couchdrop, rocketchat, iogates, or one a package added (an unknown "
        "name lists the installed ones)",
    )
    @_field_arguments
    @ma.argument(
        "--token",
        action="store_true",
        help="log in with a token (admin API token, personal access token, or a stored "
        "ioGates token) instead of a password",
    )
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
    def login(self, line: str) -> Session | FormSession:
        """Log in to a service and keep the session in this kernel.

        Returns the Session (``s = %login couchdrop``) and shows who you are and
        your storage. When the login form asks, the cell ends at once, and ``s`` is
        the Session the form logs in to, once it has (Enter or Log in): until then
        its repr says it is waiting for the form, and using it raises NotLoggedInYet.

        Credentials come, in this order, from the arguments (never a
        password), from NBAUTH_<SERVICE>_URL, _USERNAME, _PASSWORD, _TOKEN,
        _USER_ID, _SHARE_URL and _CODE, and then from you: the login form in a
        notebook, prompts in a terminal or with --prompt. A two-factor code is
        asked for the same way. When nobody can answer (nbclient, papermill, CI,
        NBAUTH_NONINTERACTIVE=1) it fails at once and names the variables to set.
        """
        from . import prompt, vault
        from .request import LoginRequest, variables

        args = self._login_arguments(line)
        if args.form and args.prompt:
            raise UsageError("Choose one of --form and --prompt.")
        config = settings(self.shell)
        name = services.get(args.service).name
        if args.save:
            vault.require()
        request = LoginRequest.from_environment(
            name,
            {field.name: getattr(args, field.name, None) for field in LINE_FIELDS},
            token=args.token,
            default_url=config.url_for(name),
            alias=args.alias,
            timeout=config.timeout,
            verify=config.verify,
            allow_insecure=args.allow_insecure,
            save=args.save,
        )
        use_form = self._use_form(args)
        can_ask, why = frontend.can_ask(self.shell)
        if request.missing():
            resumed = _resume(request) if request.save and not request.needs_url() else None
            if resumed is not None:
                return resumed
            if not can_ask:
                needs = " and ".join(request.fields[f].label.lower() for f in request.missing())
                raise UsageError(
                    f"{request.service.title} login needs {needs}, and nobody can type it "
                    f"here ({why}). Set {variables(request.service)}",
                    service=name,
                )
            if use_form:
                return self._show_form(request, None)
            prompt.fill(request)
        try:
            session, notes = _saving(request)
        except TwoFactorRequired as exc:
            if not can_ask:
                raise TwoFactorRequired(
                    f"{exc.message} Here nobody can type it ({why}): set "
                    f"{request.fields['code'].env(name)}.",
                    method=exc.method,
                    service=exc.service,
                    status=exc.status,
                ) from None
            if use_form:
                return self._show_form(request, exc)
            prompt.ask_code(request, exc)
            session, notes = _saving(request)
        report.show(session)
        if request.save:
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
        from . import api

        args = _parse(self.logout, line)
        if args.all and args.alias:
            raise UsageError("Give an alias or --all, not both.")
        leaving = None if args.all else STORE.get(api._stored_alias(args.alias), leaving=True)
        chosen = STORE.all() if leaving is None else [leaving]
        if not chosen:
            print("No sessions to log out of.")
        failures = []
        for session in chosen:
            try:
                forgot = api.end(session, revoke=args.revoke, forget=args.forget)
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
    def whoami(self, line: str) -> Card:
        """The profile of the current session (or ALIAS) as a card; ``.frame`` is the table."""
        from . import api
        from .cards import profile_card

        args = _parse(self.whoami, line)
        session = api.session(args.alias)
        return profile_card(session.profile_frame())

    @line_magic
    def nbauth(self, line: str) -> Any:
        """%nbauth sessions | doctor | ls [WHERE:][PATH]

        sessions  every session in this kernel as a table (tokens masked)
        doctor    what this kernel and its front end look like: front end, widget
                  support, stdin, proxy variables, CA bundle, clock
        ls        a folder as a table: %nbauth ls couchdrop:/reports lists it with the
                  current (or latest) Couchdrop session, %nbauth ls work:/ with the
                  session stored as 'work', %nbauth ls /reports (or %nbauth ls alone,
                  for /) with the current session; quote a path with spaces
        """
        commands = (
            "Use one of: sessions, doctor, ls WHERE:PATH (for example %nbauth sessions, or "
            "%nbauth ls couchdrop:/reports)."
        )
        try:
            words = shlex.split(line)
        except ValueError:
            raise UsageError(
                f"%nbauth could not read its line: a quote on it is not closed. {commands}"
            ) from None
        if words[:1] == ["ls"] and len(words) <= 2:
            return self._ls(words[1] if len(words) == 2 else "/")
        if len(words) == 1 and words[0] in ("sessions", "doctor"):
            return self._sessions() if words[0] == "sessions" else self._doctor()
        if words[:1] == ["ls"]:
            raise UsageError(
                "%nbauth ls takes one [WHERE:]PATH (quote a path with spaces: "
                "%nbauth ls 'couchdrop:/my reports')."
            )
        # Only a command-like first word is named back: the rest of a line may be anything.
        named = f" '{words[0]}'" if words and COMMAND_WORD.fullmatch(words[0]) else ""
        raise UsageError(f"Unknown %nbauth command{named}. {commands}")

    # -- helpers ----------------------------------------------------------------------

    def _login_arguments(self, line: str) -> Any:
        """Parse %login's line, refusing anything that may be a password or a token before
        argparse could echo it, and taking such a line out of IPython's history and log.

        The line is screened as a shell splits it and as IPython's argparse will (quotes kept,
        no backslash escapes), so that neither reading hides a value from the screen; a line
        that either cannot split (an unclosed quote) is refused unread. A share URL is taken
        (it is what --share-url is for), but its line is scrubbed the same way.
        """
        _take_fields_of(self.login.parser, line)
        problem = _screen_line(line)
        if problem:
            failed = history.scrub_current_cell(self.shell)
            raise UsageError(
                f"%login takes no password on its line ({problem}): IPython keeps the line in "
                f"its history and the notebook saves it. {_removed(self.shell, failed)}; "
                "delete it from the cell as well. Type the password or token into the form or "
                "the prompt instead (%login SERVICE -u USERNAME, or %login SERVICE --token, or "
                "with --prompt), or set NBAUTH_<SERVICE>_PASSWORD or NBAUTH_<SERVICE>_TOKEN."
            )
        args = _parse(self.login, line)
        if any(getattr(args, f.name, None) for f in LINE_FIELDS if f.sensitive):
            failed = history.scrub_current_cell(self.shell)
            print(
                "The share URL on this %login line opens its share to whoever reads it. "
                f"{_removed(self.shell, failed)}; delete it from the cell as well (the notebook "
                "saves it). Next time let the form or the prompt ask for it (%login iogates), "
                "or set NBAUTH_IOGATES_SHARE_URL."
            )
        return args

    def _use_form(self, args: Any) -> bool:
        in_notebook = frontend.kind(self.shell) == "notebook"
        if args.form and not in_notebook:
            raise UsageError(
                "The login form needs a notebook (a Jupyter kernel). Here, use --prompt (the "
                "default outside notebooks)."
            )
        return bool(args.form or (in_notebook and not args.prompt))

    def _show_form(self, request: LoginRequest, error: TwoFactorRequired | None) -> FormSession:
        """Show the login form; what %login returns is its session, once it has one."""
        from IPython.display import display

        from .form import FormSession, LoginForm

        form = LoginForm.awaiting_code(request, error) if error else LoginForm.from_request(request)
        display(form)
        return FormSession(form, cell=getattr(self.shell, "execution_count", None))

    def _ls(self, target: str) -> pd.DataFrame:
        """The listing of ``ALIAS_OR_SERVICE:PATH``: an alias names a stored session, a service
        its current (or latest) session; a path alone (``/reports``) is the current session's,
        and an alias or a service alone its ``/``."""
        known = {session.alias for session in STORE.all()}
        if target.startswith("/"):
            where, colon, path = "", "", target
        elif ":" not in target and (target in known or target.lower() in services.names()):
            where, colon, path = target, ":", "/"
        else:
            where, colon, path = target.partition(":")
        if not colon and not where:  # a path alone: the current session's
            listing: pd.DataFrame = STORE.get().ls(path)
            return listing
        if not colon or not where:
            raise UsageError(
                f"%nbauth ls needs [WHERE:]PATH, like couchdrop:/reports, iogates:/ (WHERE is "
                f"a service or a session's alias) or /reports (the current session), not "
                f"'{target}'."
            )
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
        listing = session.ls(path or "/")
        return listing

    def _sessions(self) -> pd.DataFrame:
        from .api import sessions

        return sessions()

    def _doctor(self) -> Report:
        from .doctor import doctor

        return doctor(self.shell)


def _screen_line(line: str) -> str | None:
    """Why this %login line may hold a password or token, or None when it cannot: screened
    as a POSIX shell splits it and as IPython's ``arg_split`` (what argparse gets) does.

    A space other than `` ``, a tab or a line break (a no-break or an em space), and an
    invisible format character (a zero-width space, a BOM), are refused first: neither split
    breaks a word at one, so a password after it would pass for part of the word before
    (``couchdrop\\xa0-pPW`` for a service's name). Other control characters (a NUL) are left
    to the checks that name the argument holding them."""
    import unicodedata  # only now: it costs %load_ext nothing

    odd = next(
        (
            char
            for char in line
            if char not in " \t\n\r" and (char.isspace() or unicodedata.category(char) == "Cf")
        ),
        None,
    )
    if odd is not None:
        kind = "a space that is not a plain one" if odd.isspace() else "an invisible character"
        return (
            f"it holds U+{ord(odd):04X}, {kind}, behind which a password could pass for part "
            "of the word before it; retype the line with plain spaces"
        )
    try:
        posix = shlex.split(line)
        ipython = [word.replace('"', "").replace("'", "") for word in arg_split(line)]
    except ValueError:
        return UNREADABLE
    return _screen(posix) or _screen(ipython)


def _screen(words: list[str]) -> str | None:
    """Why these %login words may hold a password or token, or None when they cannot.

    The reason names an option at most, never a value nor the text after an option's name.
    """
    from ._urls import has_userinfo  # only now: it costs %load_ext nothing

    positional = 0
    at = 0
    while at < len(words):
        word = words[at]
        at += 1
        option = word.split("=", 1)[0]
        lowered = option.lower()
        if lowered.startswith(PASSWORD_WORDS) and not lowered.startswith("--prompt"):
            return f"{_named(lowered)} looks like a password option"
        if option in VALUED:
            if "=" in word:
                value = word.split("=", 1)[1]
            else:
                value = words[at] if at < len(words) else ""
                at += 1
            if option in ("--url", "--share-url") and has_userinfo(value):
                return f"the URL given to {option} holds a credential (user:password@host)"
            continue
        if option == "--token" and word != option:
            return "'--token' takes no value: the token is asked for, or read from a variable"
        if word == "--token":
            following = words[at] if at < len(words) else "-"
            if not following.startswith("-") and (positional or following not in services.names()):
                return "a value after '--token', which may be a token"
            continue
        if word in FLAGS:
            continue
        if word.startswith("-") or positional or "=" in word:
            return "an argument %login does not know, which may be a password; see %login?"
        positional += 1
    return None


def _named(option: str) -> str:
    """A password option as a refusal may name it: in full when it is one of the known
    spellings, else only the known start it has, so that no value glued on is repeated."""
    head = re.split(r"[=:]", option, maxsplit=1)[0]
    if head in PASSWORD_OPTIONS:
        return f"'{head}'"
    start = max((word for word in PASSWORD_WORDS if option.startswith(word)), key=len)
    return f"'{start}…'"


def _removed(shell: Any, failed: list[str]) -> str:
    """What became of a scrubbed line's copies, for the message that follows the scrub."""
    if failed:
        return f"nbauth could not remove it from {' and '.join(failed)}"
    logged = history.log_file(shell)
    return "It was removed from this kernel's history" + (
        f" and from the IPython log ({logged})" if logged else ""
    )


def _saving(request: LoginRequest) -> tuple[Session, list[str]]:
    """The login, and what the keyring said when it was asked to save it."""
    from . import api, vault

    with vault.noted() as notes:
        session = api.run(request)
    return session, notes


def _resume(request: LoginRequest) -> Session | None:
    """The login saved in the keyring, checked and reported; None when none can be used (a
    refused one is deleted), and the login goes on as usual."""
    from . import api, vault

    try:
        with vault.noted() as notes:
            session = api.run(request)
    except vault.NothingSaved:
        for note in notes:
            print(note)
        return None
    report.show(session)
    print(vault.told(session, notes, resumed=True))
    return session


def _options(parser: argparse.ArgumentParser) -> tuple[set[str], set[str]]:
    """The parser's options that take a value, and those that do not (its flags)."""
    valued: set[str] = set()
    flags: set[str] = set()
    for action in parser._actions:
        (flags if action.nargs == 0 else valued).update(action.option_strings)
    return valued, flags


def _take_fields_of(parser: argparse.ArgumentParser, line: str) -> None:
    """The options of the fields the line's service declares beyond the built-in ones (a
    third-party service's ``--tenant``), added to %login's parser and to what the password
    screen knows, before the line is read. A service that cannot be found is left to the
    parser, whose error names the known ones."""
    words = line.split()
    try:
        declared = services.get(words[0]).fields if words else ()
    except UsageError:
        return
    new = [f for f in declared if f.option and f.name not in {x.name for x in LINE_FIELDS}]
    for field in new:
        names = [name for name in (field.short, field.option) if name]
        parser.add_argument(*names, dest=field.name, help=field.help)
        LINE_FIELDS.append(field)
    if new:
        valued, flags = _options(parser)
        VALUED.update(valued)
        FLAGS.update(flags)


def _parse(magic: Any, line: str) -> Any:
    """magic_arguments' parse, with its errors turned into nbauth's UsageError."""
    name = magic.__name__
    try:
        return ma.parse_argstring(magic, line)
    except IPythonUsageError as exc:
        raise UsageError(f"%{name}: {exc}. See %{name}? for the arguments.") from None
    except ValueError:  # arg_split: an unclosed quote, read no further and quoted back nowhere
        raise UsageError(
            f"%{name} could not read its line: a quote on it is not closed. See %{name}? for "
            "the arguments."
        ) from None


#: %login's options that take a value and its flags, as the password screen reads a line:
#: from the parser itself, so that the screen never falls out of date with the options.
VALUED, FLAGS = _options(NbAuthMagics.login.parser)
