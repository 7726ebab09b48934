"""The notebook login form: the fields a service needs, a Log in button, a status line, and the
login's report below them.

A widget's value is a synced trait: the browser holds a copy, and a notebook saved with its
widget state writes it into the .ipynb, whenever it is saved (Lab also autosaves). So the
password, token, code and share-URL widgets send their value only when the person leaves the
field or presses Enter (``continuous_update=False``), not at every keystroke, and the kernel
takes it out of the widget the moment it arrives: the field empties and its placeholder says the
value was received. The value waits in this object for the click, and what a second-factor round
still needs stays here as Secrets, never in a widget. The status line shows nbauth's own
messages, which never carry a secret (see nbauth.errors).

Those widgets never echo a value back either: ipywidgets 8 answers each value a front end sends
with an ``echo_update`` message to every front end of the kernel, unless the trait is tagged
``echo_update=False`` (``Widget.set_state``), as SecretField's and CodeField's are. The share URL
is masked as it is typed, like the password. And the form holds a secret for a bounded time: a
value that arrived, or a login waiting for its two-factor code, is dropped SECRET_TTL seconds
(5 minutes) later, and at once by ``form.close()``; the form then says to type it again.

Enter in any of its text fields logs in, as the button does: the browser sends the field's
value and a ``submit`` message (ipywidgets' Text view), and the login waits for the value like
a click does (VALUE_GRACE). After a login the form collapses to one line, the session's
summary with "Log out" and "Log in again"; a failed one keeps the form and says why.
``s = %login SERVICE`` gets a FormSession: the Session the form's login gives, once it has.
"""

from __future__ import annotations

import asyncio
import html
import threading
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from traitlets import Unicode

from . import _redact, _urls, api, frontend, report, services, vault
from .errors import InvalidCode, NbAuthError, NotLoggedIn, TwoFactorRequired, UsageError
from .request import LoginRequest, variables
from .secret import Secret
from .services.fields import Field, every
from .settings import settings

if TYPE_CHECKING:
    from ._session import Session
    from .services.base import Method, Service

__all__ = ["FormSession", "LoginForm", "NotLoggedInYet"]

#: What to type when a service asks for a second factor, by ``TwoFactorRequired.method``.
#: Left empty, the next click logs in without a code, which makes the service send a new one.
CODE_SOURCES = {
    "totp": "the code your authenticator app shows",
    "email": "the code {title} e-mailed you (or leave it empty to have a new one sent)",
    "sms": "the code {title} sent by SMS (or leave it empty to have a new one sent)",
}
HIDDEN = "none"
#: How a message ends that asks for the next step.
THEN = "then press Enter."
#: Seconds a click waits for a sensitive value the front end has not sent yet (see _clicked).
VALUE_GRACE = 1.0
RECEIVED = "•••••• received (kept in the kernel, not in the notebook)"
#: Seconds the form keeps a secret: a value received but not used by a click, or the
#: credentials of a login waiting for its two-factor code (from when the code was first asked).
#: Then they are dropped and the form asks for them again.
SECRET_TTL = 300.0
ERROR_STYLE = "color: #b00020"
#: The "details" after the collapsed form's line: its title holds report.summary.
MORE_STYLE = "color: var(--jp-ui-font-color2, #777); cursor: help; text-decoration: underline"
#: The labels' column: wide enough for the longest ("Two-factor code", "Session name").
LABEL_WIDTH = "9em"
WIDE = {"description_width": LABEL_WIDTH}
#: A text field: wide enough for a URL, a share link and the RECEIVED placeholder, never
#: wider than the cell.
FIELD_WIDTH = {"width": "100%", "max_width": "52em"}
#: The alias's label: what the name is, not "Save as" (which reads like --save).
SESSION_NAME = "Session name"


class SecretField(widgets.Password):  # type: ignore[misc]
    """A masked field whose value is never echoed back to the front ends.

    ipywidgets 8 answers every value a front end sends with an ``echo_update`` message to all
    the kernel's front ends (``Widget.set_state``), unless the trait is tagged
    ``echo_update=False``: the typed secret would travel back to every browser on the kernel.
    """

    value = Unicode(help="String value").tag(sync=True, echo_update=False)


class CodeField(widgets.Text):  # type: ignore[misc]
    """The two-factor code's field: shown as typed, and never echoed either."""

    value = Unicode(help="String value").tag(sync=True, echo_update=False)


class LoginForm:
    """A login form for one notebook cell: show it as the cell's last expression.

    ``form.session`` is the Session once a login succeeded. Code drives it the way a person
    does: set the widgets' ``value``, then call ``form.button.click()``.
    """

    @_redact.scrubbed  # a refused url= leaves nothing in the traceback's frames
    def __init__(
        self, service: str | None = None, url: str | None = None, alias: str | None = None
    ) -> None:
        names = services.names()
        found = services.get(service or (names[0] if names else ""))
        _urls.refuse_userinfo(url, "url=", found)
        self.service = widgets.Dropdown(
            description="Service",
            options=[(services.get(name).title, name) for name in names],
            value=found.name,
            style=WIDE,
        )
        self.method = widgets.ToggleButtons(
            description="Log in with",
            style={**WIDE, "button_width": "auto"},
            tooltip="How you prove who you are: the fields below follow the choice",
        )
        # Its label beside the buttons and aligned with the others, as ipywidgets lays out a
        # text field (its own layout puts the label on a line of its own).
        for name in ("widget-inline-hbox", "jupyter-widget-inline-hbox"):
            self.method.add_class(name)
        #: Every field of every service, declared once (nbauth.services.fields): a widget each.
        self._declared = every(services.get(name) for name in names)
        self._fields: dict[str, Any] = {n: _widget(f) for n, f in self._declared.items()}
        self.url, self.username, self.password, self.token, self.code = (
            self._fields[name] for name in ("url", "username", "password", "token", "code")
        )
        self.user_id, self.share_url = self._fields.get("user_id"), self._fields.get("share_url")
        self.alias = widgets.Text(
            description=SESSION_NAME,
            value=alias or "",
            style=WIDE,
            layout=widgets.Layout(**FIELD_WIDTH),
            tooltip="The name this login is kept under: nbauth.session('NAME'), %logout NAME",
        )
        # The button lines up with the fields, under the labels' column.
        self.button = widgets.Button(
            description="Log in",
            button_style="primary",
            layout=widgets.Layout(margin=f"2px 2px 2px calc({LABEL_WIDTH} + 10px)"),
        )
        self.status = widgets.HTML()
        #: Shown once a login succeeded, next to its summary in the status line.
        self.log_out = widgets.Button(
            description="Log out",
            tooltip="End this session (on the server too, where the service can) and show the "
            "form again",
            layout=widgets.Layout(width="auto", display=HIDDEN),
        )
        self.log_in_again = widgets.Button(
            description="Log in again",
            tooltip="Show the form again; this session stays until a login under its name "
            "replaces it",
            layout=widgets.Layout(width="auto", display=HIDDEN),
        )
        self.result = widgets.Output()
        asked = [self.service, self.method, *self._fields.values(), self.alias]
        #: What the form asks, hidden once a login succeeded.
        self.fields = widgets.VBox([*asked, self.button])
        self.line = widgets.HBox(
            [self.status, self.log_out, self.log_in_again],
            layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
        )
        self.box = widgets.VBox([self.fields, self.line, self.result])
        self.session: Session | None = None
        #: Whether the form's last session was logged out through it (FormSession says so).
        self.logged_out = False
        self._pending: LoginRequest | None = None
        #: %login --allow-insecure: kept for the logins this form's clicks start.
        self._allow_insecure = False
        #: %login --save: the logins this form's clicks start are saved in the OS keyring too.
        self._save = False
        self._busy = False
        self._received: dict[str, Secret] = {}
        self._waiting: asyncio.TimerHandle | None = None
        #: The sensitive field Enter was pressed in: its new value may follow the submit, and
        #: replace one it sent before (a password retyped), so the step waits for it too.
        self._entered: str | None = None
        #: When each received value and the login waiting for its code arrived (monotonic),
        #: and the timer that drops them SECRET_TTL later. The timer runs on its own thread
        #: (a cell that keeps the kernel busy does not hold it back), hence the lock.
        self._arrived: dict[str, float] = {}
        self._pending_since: float | None = None
        self._expiry: threading.Timer | None = None
        self._lock = threading.RLock()
        self._closed = False
        for name in self._sensitive():
            self._fields[name].continuous_update = False
            self._fields[name].observe(self._receive, names="value")
        for text in (*self._fields.values(), self.alias):  # Enter in any of them logs in
            text.on_msg(self._submitted)
        self._use_service(found, url)
        self.service.observe(self._service_changed, names="value")
        shown = [self._fields[n] for n in self._declared if n not in self._sensitive()]
        for widget in (self.method, *shown):
            widget.observe(self._login_changed, names="value")
        self.button.on_click(self._clicked)
        self.log_out.on_click(self._log_out)
        self.log_in_again.on_click(self._log_in_again)

    @classmethod
    def from_request(cls, request: LoginRequest) -> LoginForm:
        """A form filled in from ``request``: service, method, URL, alias and what it knows
        that is not sensitive. Its secrets (and share URL) stay out of the widgets, which the
        notebook saves."""
        form = cls(request.service.name, url=request.url, alias=request.alias)
        form._allow_insecure = request.allow_insecure
        form._save = request.save
        form.method.value = request.method.name
        for name, widget in form._fields.items():
            value = request.values.get(name)
            if name not in form._sensitive() and isinstance(value, str):
                widget.value = value
        return form

    @classmethod
    def awaiting_code(cls, request: LoginRequest, error: NbAuthError) -> LoginForm:
        """A form whose login already ran and now waits for its second factor.

        For credentials no person typed (``NBAUTH_*`` variables): they stay in ``request``,
        out of every widget, and the code typed here completes the login with them.
        """
        form = cls.from_request(request)
        form._await_code(request, error)
        return form

    def _sensitive(self) -> list[str]:
        """The fields kept out of every widget (nbauth.services.fields: ``sensitive``)."""
        return [name for name, field in self._declared.items() if field.sensitive]

    # -- what the form shows --------------------------------------------------------------

    def _use_service(self, service: Service, url: str | None = None) -> None:
        """Offer ``service``'s ways in, and prefill its URL: the one given, else NbAuth.urls,
        else the service's default."""
        self._service = service
        self.method.options = [(method.label, method.name) for method in service.methods]
        self.method.value = service.methods[0].name
        self.method.layout.display = None if len(service.methods) > 1 else HIDDEN
        # No default (Rocket.Chat is self-hosted): empty, and required (request.missing).
        self.url.value = url or settings().url_for(service.name) or service.default_url or ""
        self.url.placeholder = service.default_url or f"required: like {service.example_url}"
        self.alias.placeholder = service.name
        self._forget_received()
        self._drop_pending()

    def _chosen(self) -> Method:
        return next(m for m in self._service.methods if m.name == self.method.value)

    def _show_fields(self) -> None:
        """Show the chosen method's fields, the URL unless a share URL names the host, and the
        code field while a login waits for its code."""
        wanted = set(self._chosen().fields)
        if "share_url" not in wanted:
            wanted.add("url")
        if self._pending is not None:
            wanted.add("code")
        for name, widget in self._fields.items():
            widget.layout.display = None if name in wanted else HIDDEN

    def _say(self, text: str, error: bool = False, more: str = "") -> None:
        """Put ``text`` in the status line, escaped: a message may quote a server's words.
        ``more`` shows when the pointer rests on the "details" after it."""
        shown = html.escape(text)
        if more:
            shown += f' <span title="{html.escape(more)}" style="{MORE_STYLE}">details</span>'
        self.status.value = f'<span style="{ERROR_STYLE}">{shown}</span>' if error else shown

    def _collapse(self, collapsed: bool) -> None:
        """Hide what the form asks and show Log out and Log in again, or the other way round."""
        self.fields.layout.display = HIDDEN if collapsed else None
        for button in (self.log_out, self.log_in_again):
            button.layout.display = None if collapsed else HIDDEN

    @property
    def collapsed(self) -> bool:
        """Whether the form shows its one-line summary instead of its fields."""
        return bool(self.fields.layout.display == HIDDEN)

    def _show_report(self, session: Session) -> None:
        """The report's lines and tables in the result area (its tables may make calls)."""
        self.result.outputs = ()
        for item in report.items(session)[1:]:  # the status line has the summary
            if isinstance(item, str):
                self.result.append_stdout(item + "\n")
            else:
                self.result.outputs += (_display_data(item),)

    # -- what the form does ---------------------------------------------------------------

    def _service_changed(self, change: dict[str, Any]) -> None:
        self._use_service(services.get(change["new"]))
        self._say("")

    def _login_changed(self, change: dict[str, Any]) -> None:
        """Another method, URL or account is another login than the one waiting for a code.
        A URL typed with a user:password@ part loses that part at once, so that the widget
        state a notebook saves never holds it, and the status line says why (nbauth._urls)."""
        self._drop_pending()
        if change["owner"] is self.url and _urls.has_userinfo(change["new"]):
            self.url.value = _urls.without_userinfo(change["new"])
            self._say(_urls.refusal("The URL field", self._service).message, error=True)

    def _drop_pending(self) -> None:
        with self._lock:
            if self._pending is not None:
                _wipe(self._pending)
                self._pending = None
                self._pending_since = None
                self._say("")
                self._arm()
        self._show_fields()

    def _submitted(self, widget: Any, content: Any, _buffers: Any) -> None:
        """Enter in a text field: the front end's ``submit`` message (ipywidgets' TextView sends
        it at the key, ahead of the field's value, which may follow it: _clicked waits).

        Enter in a sensitive field whose value arrived before waits for it all the same, since
        a retyped one may follow (at most VALUE_GRACE: Enter in a field left as it was)."""
        if not isinstance(content, dict) or content.get("event") != "submit":
            return
        name = next((n for n, w in self._fields.items() if w is widget), None)
        self._clicked(None, entered=name if name in self._sensitive() else None)

    def _clicked(self, _button: Any, entered: str | None = None) -> None:
        """One login step. The button is disabled meanwhile; a click that comes anyway is
        ignored.

        The front end sends a click at once but may hold back a field's new value until the
        kernel is idle, so a click can overtake the code typed just before it. When a value the
        step needs has not arrived, the step waits for it, at most VALUE_GRACE seconds (then it
        runs without it: an empty code asks for a new one, an empty password is named).
        """
        with self._lock:
            if self._busy or self._closed:
                return
            if self._drop_overdue():  # the timer is late: what it drops is not used
                return
            self._busy = True
            self._entered = entered
        self.button.disabled = True
        if self._expected() and self._wait_for_values():
            return
        self._run_step()

    def _expected(self) -> set[str]:
        """The sensitive fields the next step uses that have not arrived, and the one Enter was
        pressed in."""
        wanted = {"code"} if self._pending is not None else set(self._chosen().fields)
        missing = (wanted & set(self._sensitive())) - set(self._received)
        entered = self._entered
        return missing | {entered} if entered in wanted else missing

    def _wait_for_values(self) -> bool:
        """Run the step when the values arrive or the grace ends; False outside an event loop
        (code driving the form sets values before it clicks)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._waiting = loop.call_later(VALUE_GRACE, self._run_step)
        return True

    def _run_step(self) -> None:
        self._entered = None
        if self._waiting is not None:
            self._waiting.cancel()
            self._waiting = None
        try:
            self._step()
        finally:
            with self._lock:
                self._busy = False
                self._arm()  # what the step used is gone; what it left is due as before
            self.button.disabled = False

    def _step(self) -> None:
        pending = self._pending
        request = self._take_fields() if pending is None else self._take_code(pending)
        try:
            _check_filled_in(request)
            self._say(f"Logging in to {request.service.title}…")
            with vault.noted() as notes:
                session = api.run(request)
        except (TwoFactorRequired, InvalidCode) as exc:
            self._collapse(False)
            self._await_code(request, exc)
        except NbAuthError as exc:
            self._collapse(False)
            self._drop_pending()
            self._say(exc.message, error=True)
        else:
            self._drop_pending()
            self.session = session
            self.logged_out = False
            self._show_report(session)
            told = [vault.told(session, notes)] if request.save else []
            self._say(" ".join([one_line(session), *told]), more=report.summary(session))
            self._collapse(True)

    def _log_out(self, _button: Any) -> None:
        """End the form's session (nbauth.api.end, as %logout does) and show the form again."""
        with self._lock:
            session = self.session
            if self._busy or self._closed or session is None:
                return
            self._busy = True
        self.log_out.disabled = self.log_in_again.disabled = True
        try:
            api.end(session)
        except NbAuthError as exc:
            said, error = exc.message, True
        else:
            said, error = f"Logged out of {session.title} (session '{session.alias}').", False
        finally:
            with self._lock:
                self._busy = False
            self.log_out.disabled = self.log_in_again.disabled = False
        self.session = None
        self.logged_out = True
        self.result.outputs = ()
        self._collapse(False)
        self._say(said, error=error)

    def _log_in_again(self, _button: Any) -> None:
        """Show the form again; the session stays until a login under its name replaces it."""
        session = self.session
        if self._closed or session is None:
            return
        self.result.outputs = ()
        self._collapse(False)
        self._say(
            f"Session '{session.alias}' stays logged in until a login under the same session "
            "name replaces it, or %logout."
        )

    def _receive(self, change: dict[str, Any]) -> None:
        """A sensitive value arrived from the browser: keep it here and empty its widget."""
        if not change["new"]:
            return
        widget = change["owner"]
        name = next(name for name, field in self._fields.items() if field is widget)
        with self._lock:
            if not self._closed:
                self._received[name] = Secret(str(change["new"]))
                self._arrived[name] = time.monotonic()
                self._arm()
            if self._entered == name:
                self._entered = None
        widget.value = ""
        if self._closed:
            return
        widget.placeholder = RECEIVED
        if self._waiting is not None and not self._expected():
            self._run_step()

    def _forget_received(self) -> None:
        with self._lock:
            self._received.clear()
            self._arrived.clear()
            self._arm()
        for name in self._sensitive():
            self._fields[name].placeholder = ""

    def _take(self, name: str) -> str:
        """What the field holds (stripped, except a password); a sensitive one is used up."""
        if self._declared[name].sensitive:
            with self._lock:
                received = self._received.pop(name, None)
                self._arrived.pop(name, None)
            value = received.reveal() if received is not None else ""
            self._fields[name].placeholder = ""
        else:
            value = str(self._fields[name].value)
        return value.strip() if self._declared[name].strip else value

    def _take_fields(self) -> LoginRequest:
        """A new login from the widgets. Every sensitive widget is emptied, shown or hidden."""
        method = self._chosen()
        typed = {name: self._take(name) for name in self._fields}
        config = settings()
        request = LoginRequest(
            service=self._service,
            method=method,
            url=None if "share_url" in method.fields else typed["url"] or None,
            alias=self.alias.value.strip() or None,
            timeout=config.timeout,
            verify=config.verify,
            allow_insecure=self._allow_insecure,
            save=self._save,
        )
        for name in method.fields:
            if typed[name]:
                request.give(name, typed[name])
        return request

    def _take_code(self, request: LoginRequest) -> LoginRequest:
        """The login waiting for its code, with the code just typed; with none, the login runs
        without one and the service asks again (and sends a new e-mail or SMS code)."""
        code = self._take("code")
        if code:
            request.give("code", code)
        else:
            request.values.pop("code", None)
        return request

    def _await_code(self, request: LoginRequest, exc: NbAuthError) -> None:
        """Keep ``request``, secrets and all, for the next click (at most SECRET_TTL seconds
        from when its code was first asked), and show the code field."""
        with self._lock:
            if request is not self._pending or self._pending_since is None:
                self._pending_since = time.monotonic()
            self._pending = request
            self._arm()
        self._show_fields()
        if isinstance(exc, TwoFactorRequired):
            self._say(_code_prompt(request.service.title, exc.method))
        else:
            self._say(exc.message, error=True)

    # -- how long secrets are held ---------------------------------------------------------

    def close(self) -> None:
        """Drop every secret the form holds (a login waiting for its code, values received but
        not used), stop its timer and close its widgets, which the front ends then remove.

        A password that was waiting must be typed again, into a new form (%login SERVICE).
        """
        with self._lock:
            self._closed = True
            self._forget_received()
            if self._pending is not None:
                _wipe(self._pending)
                self._pending = None
                self._pending_since = None
            self._arm()
            self._say(
                "This form is closed and holds no password or code any more: run %login again "
                "and type the password again to log in."
            )
        todo = [self.box]
        while todo:
            widget = todo.pop()
            todo.extend(getattr(widget, "children", ()))
            widget.close()

    def _arm(self) -> None:
        """(Re)start the timer for the earliest moment a held secret is due to be dropped."""
        with self._lock:
            if self._expiry is not None:
                self._expiry.cancel()
                self._expiry = None
            since = list(self._arrived.values())
            if self._pending_since is not None:
                since.append(self._pending_since)
            if not since or self._closed:
                return
            delay = max(0.0, min(since) + SECRET_TTL - time.monotonic())
            self._expiry = threading.Timer(delay, self._expire)
            self._expiry.daemon = True
            self._expiry.start()

    def _expire(self) -> None:
        """The timer: drop what is due, unless a step is using it (its end re-arms the timer)."""
        with self._lock:
            if not self._busy:
                self._drop_overdue()

    def _drop_overdue(self) -> bool:
        """Drop the secrets held SECRET_TTL seconds or more, say which must be typed again, and
        re-arm the timer for the rest; True when something was dropped."""
        with self._lock:
            now = time.monotonic()
            due = [name for name, since in self._arrived.items() if now - since >= SECRET_TTL]
            for name in due:
                del self._arrived[name]
                self._received.pop(name, None)
                self._fields[name].placeholder = ""
            pending = self._pending
            expired = self._pending_since is not None and now - self._pending_since >= SECRET_TTL
            kept = [n for n in self._declared if pending is not None and n in pending.values]
            if pending is not None and expired:
                self._drop_pending()
            self._arm()
        held = f"more than {_duration(SECRET_TTL)}"
        if pending is not None and expired:
            again = " and ".join(
                self._lower(name) for name in kept if name in self._sensitive() and name != "code"
            )
            self._say(
                f"The login waited {held} for its two-factor code, so the form dropped the "
                f"{again or 'credentials'} it kept for it: type the {again or 'credentials'} "
                f"again (or run %login again), {THEN}",
                error=True,
            )
        elif due:
            names = " and ".join(self._lower(name) for name in self._declared if name in due)
            self._say(
                f"The form dropped the {names} it received {held} ago and no login used: type "
                f"it again, {THEN}",
                error=True,
            )
        return bool(due) or (pending is not None and expired)

    # -- display --------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widgets; a front end that cannot show them gets the other ways to log in."""
        if self._closed:
            return {"text/plain": f"{self!r} (closed: run %login again)"}
        bundle = dict(self.box._repr_mimebundle_(**kwargs))
        bundle["text/plain"] = self._without_widgets()
        return bundle

    def _without_widgets(self) -> str:
        service = self._service
        return (
            f"nbauth login form for {service.title}. This front end cannot show widgets: "
            f"run %login {service.name} --prompt, or set {variables(service)}"
        )

    def _lower(self, name: str) -> str:
        """A field's label inside a sentence: "Share URL" -> "share URL"."""
        label = self._declared[name].label
        return label[:1].lower() + label[1:]

    def __repr__(self) -> str:
        done = f", session '{self.session.alias}'" if self.session is not None else ""
        return f"<LoginForm {self._service.title}{done}>"


class NotLoggedInYet(NotLoggedIn, AttributeError):
    """A FormSession used before its form logged in (an AttributeError too, so that
    ``hasattr`` and ``getattr(s, name, None)`` stay quiet)."""


class FormSession:
    """What ``s = %login SERVICE`` gives when the login form asks for what is missing: the
    Session that form logs in to, once it has.

    Its attributes and calls are the Session's (``s.ls("/")``, ``s.token``, ``s.client()``),
    and ``isinstance(s, nbauth.Session)`` holds; before the form's login, using it raises
    NotLoggedInYet and its repr says it is waiting for the form. It follows the form: a "Log in
    again" that succeeds makes it the new session. ``nbauth.session('ALIAS')`` gives the
    Session itself. The cell of the ``%login`` shows the form, not this object.
    """

    __slots__ = ("_cell", "_form")

    def __init__(self, form: LoginForm, cell: int | None = None) -> None:
        object.__setattr__(self, "_form", form)
        #: The execution count of the %login cell: there, showing this object shows nothing.
        object.__setattr__(self, "_cell", cell)

    def _target(self) -> Session | None:
        form: LoginForm = object.__getattribute__(self, "_form")
        return form.session

    def _waiting(self) -> str:
        """Why there is no session yet, and what to do."""
        form: LoginForm = object.__getattribute__(self, "_form")
        alias = form.alias.value.strip() or form._service.name
        if form._closed:
            why = "its login form was closed before a login: run %login again"
        elif form.logged_out:
            why = "it was logged out through its login form: log in there again"
        else:
            why = "waiting for the login form: log in there (Enter or Log in)"
        return f"the {form._service.title} session '{alias}' of a %login, {why}"

    def __getattr__(self, name: str) -> Any:
        if name in FormSession.__slots__:
            raise AttributeError(name)  # not set yet (copy, unpickling)
        session = self._target()
        if session is not None:
            return getattr(session, name)
        if name.startswith("_"):  # IPython's and Python's probes (_repr_html_...)
            raise AttributeError(name)
        raise NotLoggedInYet(f"No session yet: this is {self._waiting()}, then use it again.")

    def __setattr__(self, name: str, value: Any) -> None:
        session = self._target()
        if session is None:
            raise NotLoggedInYet(f"No session yet: this is {self._waiting()}, then set {name}.")
        setattr(session, name, value)

    def __dir__(self) -> list[str]:
        session = self._target()
        return dir(session) if session is not None else sorted(object.__dir__(self))

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(s, Session) once the form has logged in
        session = self._target()
        return type(session) if session is not None else FormSession

    def __repr__(self) -> str:
        session = self._target()
        return repr(session) if session is not None else f"<nbauth.Session: {self._waiting()}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def _ipython_display_(self) -> None:
        """Nothing in the %login cell itself (it shows the form, and a "waiting" line would
        stay there after the login); elsewhere IPython shows it as usual."""
        shell = frontend.shell()
        cell = object.__getattribute__(self, "_cell")
        if shell is None or cell is None or shell.execution_count != cell:
            raise NotImplementedError  # IPython: format it the usual way

    def __reduce__(self) -> Any:
        raise TypeError("nbauth refuses to pickle a session: it would write the token to disk")


def _widget(field: Field) -> Any:
    """The widget of a field: masked as typed, shown but never echoed, or a plain text box."""
    kind = SecretField if field.masked else CodeField if field.sensitive else widgets.Text
    return kind(description=field.label, style=WIDE, layout=widgets.Layout(**FIELD_WIDTH))


def one_line(session: Session) -> str:
    """The collapsed form's line: ``Logged in to Rocket.Chat at https://chat.example.com as
    bob (session 'rocketchat').`` (report.summary, with the login's kind and expiry, shows
    when the pointer rests on the "details" after it)."""
    who = session.username or "an account without a username"
    return f"Logged in to {session.title} at {session.url} as {who} (session '{session.alias}')."


def _wipe(request: LoginRequest) -> None:
    """Take the secrets (and share URL) out of a login that will not run again, so that nothing
    still holding the request holds them."""
    for name, field in request.fields.items():
        if field.sensitive:
            request.values.pop(name, None)


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} s"


def _check_filled_in(request: LoginRequest) -> None:
    """Name the empty fields before any request (their secrets were emptied all the same)."""
    missing = request.missing()
    if missing:
        names = ", ".join(request.fields[name].label for name in missing)
        raise UsageError(f"Fill in {names}, {THEN}", service=request.service.name)


def _code_prompt(title: str, method: str) -> str:
    where = CODE_SOURCES.get(method, "the two-factor code").format(title=title)
    return f"{title} asks for a second factor: type {where}, {THEN}"


def _display_data(item: Any) -> dict[str, Any]:
    """``item`` as a display_data output, formatted by the running shell when there is one.

    ``Output.append_display_data`` formats with ``InteractiveShell.instance()``, which starts a
    shell in a process that has none (plain Python, the tests); nbauth would then take that
    process for IPython (see nbauth.frontend).
    """
    from IPython.core.formatters import DisplayFormatter

    shell = frontend.shell()
    formatter = shell.display_formatter if shell is not None else DisplayFormatter()
    data, metadata = formatter.format(item)
    return {"output_type": "display_data", "data": data, "metadata": metadata}
