"""The login form, driven as ipywidgets' own tests drive widgets (set ``value``, call
``button.click()``, send what the front end sends), against the sandbox over real HTTP."""

import asyncio
import gc
import json
import secrets
import threading
import time

import figures
import ipywidgets as widgets
import pytest

import nbauth
from nbauth import api
from nbauth.form import FIELD_WIDTH, SESSION_NAME, FormSession, LoginForm, NotLoggedInYet
from nbauth.request import LoginRequest
from nbauth.secret import Secret
from nbauth.services.fields import BUILT_IN
from nbauth.settings import settings

SENSITIVE_FIELDS = sorted(f.name for f in BUILT_IN if f.sensitive)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def shown(widget):
    return widget.layout.display != "none"


def form_for(sandbox, service, method=None, **values):
    """A form for ``service`` at its sandbox URL, with ``method`` chosen and fields typed in."""
    form = LoginForm(service, url=sandbox.urls[service])
    if method is not None:
        form.method.value = method
    for name, value in values.items():
        getattr(form, name).value = value
    return form


def password_form(sandbox, service, name, **values):
    user = sandbox.user(service, name)
    typed = {"username": user.username, "password": user.password, **values}
    return form_for(sandbox, service, **typed)


def saved_state(form):
    """What a notebook saved with its widget state would hold: every widget's state, as JSON."""
    found, todo = [], [form.box]
    while todo:
        widget = todo.pop()
        found.append(widget)
        todo.extend(getattr(widget, "children", ()))
    parts = (form.password, form.token, form.code, form.share_url, form.status, form.result)
    assert {id(w) for w in parts} <= {id(w) for w in found}
    return json.dumps([widget.get_state() for widget in found], default=str)


def assert_no_secret(form, *secrets):
    """No secret anywhere in the form's widget state. A short code is looked for as a whole
    JSON string, so that digits of a table's figures do not match it by chance."""
    state = saved_state(form)
    for secret in secrets:
        assert (json.dumps(secret) if len(secret) < 8 else secret) not in state


def outputs_text(form):
    """The result area as text: its printed lines and its tables' HTML."""
    parts = []
    for output in form.result.outputs:
        parts.append(output.get("text") or output["data"].get("text/html", ""))
    return "\n".join(parts)


def press_enter(widget):
    """What the browser sends when a person presses Enter in a text field: ipywidgets' TextView
    sends a custom ``submit`` message at the key (the field's value, when it changed, follows
    in an update of its own)."""
    widget._handle_msg(
        {"content": {"data": {"method": "custom", "content": {"event": "submit"}}}, "buffers": []}
    )


def collapsed_to_one_line(form):
    """The collapsed form: no field, no Log in, the summary with Log out and Log in again."""
    return (
        form.collapsed
        and not shown(form.fields)
        and shown(form.log_out)
        and shown(form.log_in_again)
        and form.status.value.startswith("Logged in to ")
    )


@pytest.fixture(autouse=True)
def _close_forms():
    """Close the test's forms when it ends: a form left waiting for a code holds its password
    and a timer for SECRET_TTL (5 minutes), and the secret-lifetime tests count Secrets."""
    yield
    gc.collect()
    for obj in gc.get_objects():
        if isinstance(obj, LoginForm) and not obj._closed:
            obj.close()


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


# -- logging in -----------------------------------------------------------------------


def test_password_login_stores_the_session_and_shows_the_report(sandbox):
    form = password_form(sandbox, "couchdrop", "alice")
    form.button.click()
    assert form.session is nbauth.session("couchdrop")
    assert form.session.username == "alice"
    assert form.status.value.startswith("Logged in to Couchdrop at ")
    text = outputs_text(form)
    assert ">Profile<" in text and ">Storage<" in text  # the cards' titles
    assert "account.username" in text and "alice" in text and "store_type" in text
    assert any(o["output_type"] == "display_data" for o in form.result.outputs)
    assert form.password.value == ""
    assert not form.button.disabled


def test_wrong_password_shows_the_access_denied_message_and_stores_nothing(sandbox):
    form = password_form(sandbox, "couchdrop", "alice", password="not-the-right-one")
    form.button.click()
    assert "wrong username or password" in form.status.value
    assert "HTTP 403" in form.status.value and "color" in form.status.value
    assert form.session is None and nbauth.sessions().empty
    assert form.result.outputs == ()
    assert not form.button.disabled


def test_empty_fields_are_named_before_any_request(sandbox):
    form = form_for(sandbox, "couchdrop", username="alice")
    before = len(sandbox.issued("couchdrop"))
    form.button.click()
    assert "Fill in Password, then press Enter." in form.status.value
    assert len(sandbox.issued("couchdrop")) == before


@pytest.mark.parametrize("service", ["couchdrop", "rocketchat"])
def test_totp_asks_for_the_code_and_the_same_button_completes_the_login(sandbox, service):
    form = password_form(sandbox, service, "bob")
    assert not shown(form.code)
    form.button.click()
    assert shown(form.code)
    assert "authenticator app" in form.status.value and "press Enter" in form.status.value
    assert nbauth.sessions().empty and form.session is None
    form.code.value = sandbox.totp(service, "bob")
    form.button.click()
    assert form.session is nbauth.session(service) and form.session.username == "bob"
    assert form.status.value.startswith("Logged in")
    assert form.code.value == "" and not shown(form.code)


def test_rocketchat_email_code_completes_the_login(sandbox):
    form = password_form(sandbox, "rocketchat", "carol")
    form.button.click()
    assert "e-mailed you" in form.status.value and shown(form.code)
    form.code.value = sandbox.email_code("carol")
    form.button.click()
    assert form.session.username == "carol"


def test_iogates_share_url_with_an_sms_code(sandbox):
    form = form_for(sandbox, "iogates", "share-url", share_url=sandbox.share_urls["sms"])
    form.button.click()
    assert "SMS" in form.status.value and shown(form.code)
    assert form.share_url.value == ""
    form.code.value = sandbox.sms_code("sms")
    form.button.click()
    assert form.session is nbauth.session("iogates") and form.session.kind == "share-url"
    assert form.status.value.startswith("Logged in to ioGates")


def test_a_wrong_code_shows_invalid_code_and_a_retry_with_the_right_one_works(sandbox):
    form = password_form(sandbox, "couchdrop", "bob")
    form.button.click()
    form.code.value = "000000"
    form.button.click()
    assert "two-factor code was not accepted" in form.status.value
    assert shown(form.code) and form.code.value == "" and nbauth.sessions().empty
    form.code.value = sandbox.totp("couchdrop", "bob")
    form.button.click()
    assert form.session.username == "bob"


def test_a_click_with_no_code_asks_the_service_again_instead_of_resending_the_wrong_one(sandbox):
    form = password_form(sandbox, "couchdrop", "bob")
    form.button.click()
    form.code.value = "000000"
    form.button.click()
    assert "not accepted" in form.status.value
    form.button.click()
    assert "asks for a second factor" in form.status.value and shown(form.code)


def test_editing_the_account_drops_the_login_that_waits_for_a_code(sandbox):
    form = password_form(sandbox, "couchdrop", "bob")
    form.button.click()
    assert shown(form.code)
    form.username.value = "alice"
    assert not shown(form.code) and form.status.value == ""
    form.password.value = "alice-sandbox"
    form.button.click()
    assert form.session.username == "alice"


def test_any_other_error_after_the_code_step_drops_the_waiting_login(sandbox):
    form = password_form(sandbox, "couchdrop", "bob")
    form.button.click()
    sandbox.knobs["couchdrop"].fail_status = 500
    form.code.value = sandbox.totp("couchdrop", "bob")
    form.button.click()
    assert "HTTP 500" in form.status.value and not shown(form.code)


def test_couchdrop_admin_token(sandbox):
    form = form_for(sandbox, "couchdrop", "token", token=sandbox.couchdrop_admin_token)
    form.button.click()
    assert form.session.kind == "admin-token" and form.token.value == ""


def test_rocketchat_personal_access_token_with_its_user_id(sandbox):
    token, user_id = sandbox.rocketchat_pat
    form = form_for(sandbox, "rocketchat", "token", user_id=user_id, token=token)
    form.button.click()
    assert form.status.value.startswith("Logged in to Rocket.Chat")
    assert form.session.username == "alice" and form.session.user_id == user_id


def test_iogates_open_share_url(sandbox):
    form = form_for(sandbox, "iogates", "share-url", share_url=sandbox.share_urls["open"])
    form.button.click()
    assert form.session.kind == "share-url" and "Logged in" in form.status.value


def test_the_button_is_disabled_in_flight_and_a_click_meanwhile_does_nothing(sandbox):
    sandbox.knobs["couchdrop"].latency = 0.2
    form = password_form(sandbox, "couchdrop", "alice")
    issued = len(sandbox.issued("couchdrop"))
    first = threading.Thread(target=form.button.click)
    first.start()
    wait_until(lambda: form.status.value.startswith("Logging in"))
    assert form.button.disabled
    form.password.value = "alice-sandbox"
    form.button.click()
    assert first.is_alive(), "the second click waited for a login"
    assert form.status.value == "Logging in to Couchdrop…" and form.button.disabled
    first.join(10)
    assert not form.button.disabled and form.status.value.startswith("Logged in")
    assert len(sandbox.issued("couchdrop")) == issued + 1
    sandbox.knobs["couchdrop"].latency = 0
    form.button.click()  # the ignored click left the password typed meanwhile for this one
    assert form.status.value.startswith("Logged in")
    assert len(sandbox.issued("couchdrop")) == issued + 2


# -- Enter ----------------------------------------------------------------------------

#: Each text field of the form, with a login that shows it: (service, method, values typed).
ENTER_IN = {
    "url": ("couchdrop", "password", {}),
    "username": ("couchdrop", "password", {}),
    "password": ("couchdrop", "password", {}),
    "alias": ("couchdrop", "password", {}),
    "token": ("couchdrop", "token", {}),
    "user_id": ("rocketchat", "token", {}),
    "share_url": ("iogates", "share-url", {}),
}


def filled_in(sandbox, service, method):
    if method == "password":
        return password_form(sandbox, service, "alice")
    if method == "share-url":
        return form_for(sandbox, service, method, share_url=sandbox.share_urls["open"])
    if service == "rocketchat":
        token, user_id = sandbox.rocketchat_pat
        return form_for(sandbox, service, method, user_id=user_id, token=token)
    return form_for(sandbox, service, method, token=sandbox.couchdrop_admin_token)


@pytest.mark.parametrize("name", sorted(ENTER_IN))
def test_enter_in_any_field_logs_in(sandbox, name):
    service, method, _ = ENTER_IN[name]
    form = filled_in(sandbox, service, method)
    assert shown(getattr(form, name))
    press_enter(getattr(form, name))
    assert form.session is not None and form.session is nbauth.session(service)
    assert form.status.value.startswith("Logged in")


def test_every_text_field_of_the_form_is_in_the_enter_test():
    form = LoginForm("iogates")
    texts = {name for name, w in form._fields.items() if isinstance(w, widgets.Text)}
    assert texts - {"code"} | {"alias"} == set(ENTER_IN)  # the code: the two-factor tests


def test_enter_in_the_password_field_waits_for_the_password_that_follows_it(sandbox):
    """The browser sends Enter's submit at the key and the password after it (when the field
    changes): the login waits for the password instead of running without it."""
    form = form_for(sandbox, "couchdrop", username="alice")

    async def steps():
        press_enter(form.password)
        await asyncio.sleep(0.05)
        assert form.button.disabled and form.session is None and form.status.value == ""
        form.password.value = sandbox.user("couchdrop", "alice").password
        return form.session

    assert in_kernel_loop(steps).username == "alice"
    assert form.password.value == "" and not form.button.disabled


def test_enter_in_a_field_that_sent_a_value_before_waits_for_the_retyped_one(sandbox):
    """A password sent once (the person left the field), then retyped and Enter: the login
    uses the retyped password, which follows Enter's submit, not the one sent before."""
    form = form_for(sandbox, "couchdrop", username="alice", password="a-wrong-guess")
    assert "received" in form.password.placeholder

    async def steps():
        press_enter(form.password)
        await asyncio.sleep(0.05)
        assert form.session is None and form.status.value == ""
        form.password.value = sandbox.user("couchdrop", "alice").password
        return form.session

    assert in_kernel_loop(steps).username == "alice"


def test_enter_in_a_field_left_as_it_was_uses_what_it_sent_once_the_grace_is_over(
    sandbox, monkeypatch
):
    monkeypatch.setattr("nbauth.form.VALUE_GRACE", 0.1)
    form = password_form(sandbox, "couchdrop", "alice")  # the password arrived when typed

    async def steps():
        press_enter(form.password)  # no value follows: the field is empty in the browser
        await asyncio.sleep(0.3)
        return form.session

    assert in_kernel_loop(steps).username == "alice"


def test_enter_in_the_code_field_completes_a_two_factor_login(sandbox):
    form = password_form(sandbox, "rocketchat", "bob")
    press_enter(form.password)
    assert "second factor" in form.status.value and shown(form.code)

    async def steps():
        press_enter(form.code)  # before its value, as in the browser
        await asyncio.sleep(0.05)
        assert form.session is None
        form.code.value = sandbox.totp("rocketchat", "bob")
        return form.session

    assert in_kernel_loop(steps).username == "bob"
    assert_no_secret(form, "bob-sandbox")


def test_other_messages_of_a_field_do_not_log_in(sandbox):
    form = password_form(sandbox, "couchdrop", "alice")
    form.password._handle_msg(
        {"content": {"data": {"method": "custom", "content": {"event": "focus"}}}, "buffers": []}
    )
    assert form.session is None and form.status.value == ""


# -- the collapsed form ------------------------------------------------------------------


def test_a_successful_login_collapses_the_form_to_one_line(sandbox):
    form = password_form(sandbox, "rocketchat", "bob")
    assert not form.collapsed and not shown(form.log_out) and not shown(form.log_in_again)
    form.button.click()
    code = sandbox.totp("rocketchat", "bob")
    form.code.value = code
    form.button.click()
    assert collapsed_to_one_line(form)
    line, more = form.status.value.split(' <span title="')
    host = sandbox.urls["rocketchat"]
    assert line == f"Logged in to Rocket.Chat at {host} as bob (session &#x27;rocketchat&#x27;)."
    assert more.startswith(f"Logged in to Rocket.Chat at {host} as bob (password login")
    assert "Profile" in outputs_text(form)  # the report stays below the line
    assert_no_secret(form, "bob-sandbox", code, form.session.token.reveal())


def test_a_failed_login_keeps_the_form_with_its_message(sandbox):
    form = password_form(sandbox, "couchdrop", "alice", password="not-the-right-one")
    press_enter(form.password)
    assert not form.collapsed and shown(form.fields)
    assert not shown(form.log_out) and not shown(form.log_in_again)
    assert "wrong username or password" in form.status.value


def test_a_two_factor_step_keeps_the_form(sandbox):
    form = password_form(sandbox, "couchdrop", "bob")
    form.button.click()
    assert not form.collapsed and shown(form.code)


def test_log_out_ends_the_session_on_the_server_and_shows_the_form(sandbox):
    import httpx

    form = password_form(sandbox, "rocketchat", "alice")
    form.button.click()
    session = form.session
    me = f"{session.url}/api/v1/me"
    auth = {"X-Auth-Token": session.token.reveal(), "X-User-Id": session.user_id}
    assert httpx.get(me, headers=auth).status_code == 200
    form.log_out.click()
    assert nbauth.sessions().empty and form.session is None
    assert httpx.get(me, headers=auth).status_code == 401  # nbauth.api.end told the server
    assert not form.collapsed and shown(form.fields) and not shown(form.log_out)
    assert form.status.value == "Logged out of Rocket.Chat (session &#x27;rocketchat&#x27;)."
    assert form.result.outputs == () and form.username.value == "alice"
    form.password.value = sandbox.user("rocketchat", "alice").password
    press_enter(form.password)
    assert form.session is nbauth.session("rocketchat") and collapsed_to_one_line(form)


def test_a_failed_log_out_says_why_and_forgets_the_session_all_the_same(sandbox):
    form = password_form(sandbox, "rocketchat", "alice")
    form.button.click()
    sandbox.knobs["rocketchat"].fail_status = 500
    form.log_out.click()
    assert "HTTP 500" in form.status.value and "forgotten in the kernel" in form.status.value
    assert nbauth.sessions().empty and not form.collapsed and form.session is None


def test_log_in_again_shows_the_form_and_its_login_replaces_the_session(sandbox):
    form = password_form(sandbox, "couchdrop", "alice")
    form.button.click()
    first = form.session
    form.log_in_again.click()
    assert not form.collapsed and shown(form.fields) and shown(form.button)
    assert not shown(form.log_out) and form.result.outputs == ()
    assert "Session &#x27;couchdrop&#x27; stays logged in" in form.status.value
    assert nbauth.session("couchdrop") is first and form.username.value == "alice"
    assert form.password.value == "" and form.password.placeholder == ""
    form.password.value = sandbox.user("couchdrop", "alice").password
    press_enter(form.password)
    assert form.session is not first and form.session is nbauth.session("couchdrop")
    assert collapsed_to_one_line(form)


def test_the_fields_are_wide_and_the_alias_is_the_session_name():
    form = LoginForm("iogates")
    assert form.alias.description == SESSION_NAME == "Session name"
    texts = [*form._fields.values(), form.alias]
    for widget in texts:
        assert (widget.layout.width, widget.layout.max_width) == (
            FIELD_WIDTH["width"],
            FIELD_WIDTH["max_width"],
        )
    assert form.method.style.button_width == "auto"  # "personal access token" whole


# -- s = %login, when the form asks ------------------------------------------------------


def run_cell(ip, source):
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        result = ip.run_cell(source, store_history=True)
    assert result.success, result.error_in_exec
    return captured


def test_s_from_a_login_form_is_the_session_once_the_form_logs_in(notebook, sandbox):
    url = sandbox.urls["rocketchat"]
    shown_by_login = run_cell(notebook, f"s = %login rocketchat --url {url} -u bob")
    assert [WIDGET_VIEW in out.data for out in shown_by_login.outputs] == [True]
    s = notebook.user_ns["s"]
    assert isinstance(s, FormSession) and not isinstance(s, nbauth.Session)
    waiting = "<nbauth.Session: the Rocket.Chat session 'rocketchat' of a %login, waiting for "
    assert repr(s).startswith(waiting) and "(Enter or Log in)" in repr(s)
    assert waiting in run_cell(notebook, "s").stdout  # a later cell shows what it is
    with pytest.raises(NotLoggedInYet, match=r"No session yet: .* log in there") as raised:
        s.rooms()
    assert isinstance(raised.value, nbauth.NbAuthError) and not hasattr(s, "token")
    form = s._form
    form.password.value = sandbox.user("rocketchat", "bob").password
    press_enter(form.password)
    form.code.value = sandbox.totp("rocketchat", "bob")
    press_enter(form.code)
    session = nbauth.session("rocketchat")
    assert isinstance(s, nbauth.Session) and s.username == "bob" and s.token is session.token
    assert repr(s) == repr(session) and repr(session) in run_cell(notebook, "s").stdout
    assert s.rooms.__self__ is session  # its calls are the session's
    s.timeout = 7.5
    assert session.timeout == 7.5


def test_the_login_cell_shows_the_form_and_not_the_waiting_session(notebook, sandbox):
    """``%login`` as a cell's last line: the form, and no "waiting" line under it (it would
    still say so after the login)."""
    captured = run_cell(notebook, f"%login couchdrop --url {sandbox.urls['couchdrop']} -u bob")
    assert [WIDGET_VIEW in out.data for out in captured.outputs] == [True]
    assert "waiting" not in captured.stdout  # (a terminal shell still prints its "Out[n]: ")
    assert isinstance(notebook.user_ns["_"], FormSession)


def test_s_says_when_its_form_logged_out_or_was_closed(notebook, sandbox):
    run_cell(notebook, f"s = %login couchdrop --url {sandbox.urls['couchdrop']} -u alice")
    s = notebook.user_ns["s"]
    s._form.password.value = sandbox.user("couchdrop", "alice").password
    press_enter(s._form.password)
    assert s.username == "alice"
    s._form.log_out.click()
    assert "logged out through its login form" in repr(s)
    with pytest.raises(NotLoggedInYet, match="log in there again"):
        s.ls("/")
    s._form.close()
    assert "closed before a login: run %login again" in repr(s)


def test_s_is_never_pickled(notebook, sandbox):
    import copy
    import pickle

    run_cell(notebook, f"s = %login couchdrop --url {sandbox.urls['couchdrop']} -u alice")
    s = notebook.user_ns["s"]
    s._form.password.value = sandbox.user("couchdrop", "alice").password
    with pytest.raises(TypeError, match="refuses to pickle"):
        pickle.dumps(s)
    with pytest.raises(TypeError, match="refuses to pickle"):
        copy.copy(s)
    press_enter(s._form.password)
    with pytest.raises(TypeError, match="refuses to pickle"):
        pickle.dumps(s)


# -- no secret in the saved widget state ----------------------------------------------


def in_kernel_loop(steps):
    """Run ``steps`` inside a running event loop, as comm handlers run in ipykernel."""

    async def main():
        return await steps()

    return asyncio.run(main())


def test_a_click_that_overtakes_the_code_waits_for_it(sandbox):
    """The front end may send the click before the code typed just before it: the login waits
    for the code instead of running without it."""
    form = password_form(sandbox, "rocketchat", "bob")
    form.button.click()
    assert "second factor" in form.status.value

    async def steps():
        form.button.click()  # the code has not arrived yet
        await asyncio.sleep(0.05)
        assert form.button.disabled and form.session is None
        form.code.value = sandbox.totp("rocketchat", "bob")  # now it does
        return form.session

    assert in_kernel_loop(steps).username == "bob"
    assert form.status.value.startswith("Logged in") and not form.button.disabled


def test_a_click_with_an_empty_field_runs_once_the_grace_is_over(sandbox, monkeypatch):
    monkeypatch.setattr("nbauth.form.VALUE_GRACE", 0.1)
    form = form_for(sandbox, "couchdrop", username="alice")

    async def steps():
        form.button.click()
        await asyncio.sleep(0.3)

    in_kernel_loop(steps)
    assert "Fill in Password" in form.status.value and not form.button.disabled


@pytest.mark.parametrize("name", sorted(SENSITIVE_FIELDS))
def test_a_sensitive_value_leaves_its_widget_the_moment_it_arrives(name):
    form = LoginForm("iogates" if name == "share_url" else "rocketchat")
    widget = getattr(form, name)
    assert widget.continuous_update is False  # the browser sends it on Enter or leaving the field
    widget.value = "typed-not-yet-submitted"  # what the browser's sync does
    assert widget.value == "" and "received" in widget.placeholder
    state = json.dumps(widgets.Widget.get_manager_state(drop_defaults=False))
    assert "typed-not-yet-submitted" not in state


def test_a_value_received_for_one_service_is_not_sent_to_another(sandbox):
    form = LoginForm("couchdrop", url=sandbox.urls["couchdrop"])
    form.username.value = "alice"
    form.password.value = sandbox.user("couchdrop", "alice").password
    form.service.value = "rocketchat"
    form.url.value = sandbox.urls["rocketchat"]
    form.username.value = "alice"
    form.button.click()
    assert form.session is None and "Fill in Password" in form.status.value
    assert form.password.placeholder == ""


def test_no_password_or_token_is_left_in_any_widget_after_logins(sandbox):
    form = password_form(sandbox, "couchdrop", "alice")
    form.button.click()
    token, user_id = sandbox.rocketchat_pat
    pat = form_for(sandbox, "rocketchat", "token", user_id=user_id, token=token)
    pat.button.click()
    assert form.session is not None and pat.session is not None
    assert_no_secret(form, "alice-sandbox", form.session.token.reveal())
    assert_no_secret(pat, token, pat.session.token.reveal())


def test_no_secret_is_left_in_any_widget_during_and_after_a_two_factor_round(sandbox):
    form = password_form(sandbox, "rocketchat", "bob")
    form.button.click()
    assert_no_secret(form, "bob-sandbox")
    code = sandbox.totp("rocketchat", "bob")
    form.code.value = code
    form.button.click()
    assert form.session is not None
    assert_no_secret(form, "bob-sandbox", code, form.session.token.reveal())


def test_no_share_url_or_sms_code_is_left_in_any_widget(sandbox):
    share_url = sandbox.share_urls["sms"]
    form = form_for(sandbox, "iogates", "share-url", share_url=share_url)
    form.button.click()
    code = sandbox.sms_code("sms")
    form.code.value = code
    form.button.click()
    assert form.session is not None
    assert_no_secret(form, share_url, code, form.session.token.reveal())


def test_a_secret_typed_into_a_hidden_field_is_emptied_too(sandbox):
    form = password_form(sandbox, "couchdrop", "alice")
    form.method.value = "token"
    form.token.value = sandbox.couchdrop_admin_token
    form.button.click()
    assert form.session.kind == "admin-token"
    assert_no_secret(form, "alice-sandbox", sandbox.couchdrop_admin_token)


# -- what the form shows --------------------------------------------------------------


def test_changing_the_service_prefills_its_url_and_offers_its_methods(monkeypatch, sandbox):
    monkeypatch.setattr(settings(), "urls", {"rocketchat": sandbox.urls["rocketchat"]})
    form = LoginForm("couchdrop")
    assert form.url.value == nbauth.services.get("couchdrop").default_url
    assert form.alias.placeholder == "couchdrop"
    form.service.value = "rocketchat"
    assert form.url.value == sandbox.urls["rocketchat"]
    assert form.method.options == (("password", "password"), ("personal access token", "token"))
    assert form.alias.placeholder == "rocketchat"
    form.service.value = "iogates"
    assert form.url.value == "https://iogates.com"
    assert [name for _, name in form.method.options] == ["password", "share-url", "token"]


def test_a_method_shows_only_its_own_fields():
    form = LoginForm("iogates")
    fields = ("url", "username", "password", "token", "user_id", "share_url", "code")

    def visible():
        return {name for name in fields if shown(getattr(form, name))}

    assert visible() == {"url", "username", "password"}
    form.method.value = "share-url"
    assert visible() == {"share_url"}
    form.method.value = "token"
    assert visible() == {"url", "token"}
    form.service.value = "rocketchat"
    form.method.value = "token"
    assert visible() == {"url", "user_id", "token"}


def test_the_timeout_comes_from_the_nbauth_settings(monkeypatch, sandbox):
    monkeypatch.setattr(settings(), "timeout", 0.05)
    sandbox.knobs["couchdrop"].latency = 0.5
    form = password_form(sandbox, "couchdrop", "alice")
    form.button.click()
    assert "did not answer within 0.05 s" in form.status.value
    assert form.session is None and not form.button.disabled


def test_front_ends_without_widgets_are_told_the_other_ways_in(sandbox):
    form = password_form(sandbox, "couchdrop", "alice")
    bundle = form._repr_mimebundle_()
    assert WIDGET_VIEW in bundle and bundle[WIDGET_VIEW]["model_id"] == form.box.model_id
    text = bundle["text/plain"]
    assert "%login couchdrop --prompt" in text
    assert "NBAUTH_COUCHDROP_USERNAME and NBAUTH_COUCHDROP_PASSWORD" in text
    assert "NBAUTH_COUCHDROP_TOKEN" in text
    form.button.click()
    bundle = form._repr_mimebundle_()
    assert "alice-sandbox" not in json.dumps(bundle)
    assert repr(form) == "<LoginForm Couchdrop, session 'couchdrop'>"


def test_an_unknown_service_is_a_usage_error():
    with pytest.raises(nbauth.UsageError, match="Unknown service 'dropbox'"):
        LoginForm("dropbox")


# -- forms the magics make ------------------------------------------------------------


def test_from_plan_fills_in_everything_but_the_secrets(sandbox):
    token, user_id = sandbox.rocketchat_pat
    plan = LoginRequest(
        nbauth.services.get("rocketchat"),
        nbauth.services.get("rocketchat").methods[1],
        url=sandbox.urls["rocketchat"],
        alias="chat",
        values={"user_id": user_id, "token": Secret(token)},
    )
    form = LoginForm.from_request(plan)
    assert form.service.value == "rocketchat" and form.method.value == "token"
    assert form.url.value == sandbox.urls["rocketchat"] and form.alias.value == "chat"
    assert form.user_id.value == user_id and form.token.value == ""
    assert_no_secret(form, token)


def test_from_plan_leaves_a_share_url_out():
    share_url = "https://files.example.com/show/abc/0123456789abcdef"
    plan = LoginRequest.from_environment("iogates", {"share_url": share_url})
    form = LoginForm.from_request(plan)
    assert form.method.value == "share-url" and form.share_url.value == ""
    assert_no_secret(form, share_url)


def test_awaiting_code_completes_with_the_password_no_widget_ever_held(sandbox):
    user = sandbox.user("couchdrop", "bob")
    given = {"url": sandbox.urls["couchdrop"], "username": "bob"}
    plan = LoginRequest.from_environment("couchdrop", given, alias="cd")
    plan.give("password", user.password)
    with pytest.raises(nbauth.TwoFactorRequired) as caught:
        api.run(plan)
    form = LoginForm.awaiting_code(plan, caught.value)
    assert shown(form.code) and "authenticator app" in form.status.value
    assert form.username.value == "bob" and form.password.value == ""
    assert_no_secret(form, user.password)
    form.code.value = sandbox.totp("couchdrop", "bob")
    form.button.click()
    assert form.session is nbauth.session("cd") and form.session.username == "bob"
    assert_no_secret(form, user.password)


# -- no echo of a sensitive value to the front ends; how long the form holds secrets ---------


def test_the_share_url_field_is_masked_like_the_password():
    form = LoginForm("iogates")
    for name in ("password", "token", "share_url"):
        widget = getattr(form, name)
        assert isinstance(widget, widgets.Password), name
        assert widget.get_state()["_view_name"] == "PasswordView", name


@pytest.fixture(scope="module")
def widget_kernel(tmp_path_factory):
    """A real kernel (jupyter_client) showing a LoginForm, for what its comms really send."""
    from jupyter_client import KernelManager
    from kernels import KERNEL, kernel_env

    tmp = tmp_path_factory.mktemp("widget-kernel")
    km = KernelManager(kernel_name=KERNEL)
    km.start_kernel(env=kernel_env(tmp))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def kernel_stdout(kc, code):
    """Run ``code`` in the kernel and return what it printed (failing on an error)."""
    printed = []

    def keep(msg):
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])

    reply = kc.execute_interactive(code, timeout=30, output_hook=keep)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(printed)


def send_widget_value(kc, model_id, value):
    """What a front end sends when a person leaves a field: a comm_msg with the new value.
    Returns every iopub message the kernel sent while handling it."""
    return send_comm(
        kc, model_id, {"method": "update", "state": {"value": value}, "buffer_paths": []}
    )


def send_enter(kc, model_id):
    """What a front end sends at Enter in a text field (ipywidgets' TextView): a custom
    ``submit`` message, ahead of the field's value."""
    return send_comm(kc, model_id, {"method": "custom", "content": {"event": "submit"}})


def send_comm(kc, model_id, data):
    """A comm_msg from a front end to widget ``model_id``; every iopub message the kernel sent
    while handling it."""
    msg = kc.session.msg("comm_msg", {"comm_id": model_id, "data": data})
    kc.shell_channel.send(msg)
    sent, deadline = [], time.monotonic() + 30
    while time.monotonic() < deadline:
        reply = kc.get_iopub_msg(timeout=30)
        if reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
            continue
        sent.append(reply)
        if reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
            return sent
    raise AssertionError("the kernel did not finish handling the value")


def comm_method(msg):
    """A widget comm message's method (update, echo_update...); None for other messages."""
    return msg["content"].get("data", {}).get("method")


def test_a_sensitive_value_is_not_echoed_to_the_front_ends_of_a_real_kernel(widget_kernel):
    """ipywidgets 8 echoes each value a front end sends back to every front end of the kernel
    (an echo_update comm message on iopub) unless the trait opts out: the sensitive fields do,
    the username field (the control) does not."""
    kc = widget_kernel
    names = ("password", "token", "share_url", "code", "username")
    ids = json.loads(
        kernel_stdout(
            kc,
            "import json\nfrom nbauth.form import LoginForm\nform = LoginForm('iogates')\n"
            f"print(json.dumps({{n: getattr(form, n).model_id for n in {names!r}}}))",
        )
    )
    sent = {}
    canary = {name: f"canary-{name}-{secrets.token_hex(6)}" for name in names}
    for name in names:
        sent[name] = send_widget_value(kc, ids[name], canary[name])
    echoes = [m for m in sent["username"] if comm_method(m) == "echo_update"]
    assert echoes and echoes[0]["content"]["data"]["state"] == {"value": canary["username"]}
    leaks = [
        f"{name}: {m['msg_type']} {comm_method(m)}"
        for name in SENSITIVE_FIELDS
        for m in sent[name]
        if canary[name] in json.dumps(m, default=str)
    ]
    figures.add("canary checks: login form (echoes, held secrets)", len(SENSITIVE_FIELDS))
    figures.add("canary hits", len(leaks))
    assert not leaks, leaks
    for name in SENSITIVE_FIELDS:  # each was emptied at once, and the kernel has the value
        assert any(
            m["content"].get("data", {}).get("state") == {"value": ""} for m in sent[name]
        ), name
    check = (
        "print(all(form._received[n].reveal() == v for n, v in "
        f"{ {n: canary[n] for n in SENSITIVE_FIELDS}!r}.items()))"
    )
    assert kernel_stdout(kc, check).strip() == "True"


def test_enter_in_a_real_kernel_logs_in_and_s_becomes_the_session(widget_kernel, sandbox):
    """``s = %login rocketchat`` in a real kernel: the cell shows the form and nothing else;
    Enter in the password field, then in the code field, each sent ahead of its value as a
    browser sends them, logs bob in; then ``s`` is his Session."""
    kc = widget_kernel
    shown_by_login = []
    kernel_stdout(kc, "%load_ext nbauth")
    reply = kc.execute_interactive(
        f"s = %login rocketchat --url {sandbox.urls['rocketchat']} -u bob",
        timeout=30,
        output_hook=lambda msg: shown_by_login.append(msg),
    )
    assert reply["content"]["status"] == "ok"
    kinds = [m["msg_type"] for m in shown_by_login if m["msg_type"] not in ("status", "comm_open")]
    assert kinds.count("display_data") == 1 and "execute_result" not in kinds
    assert "waiting for the login form" in kernel_stdout(kc, "print(repr(s))")
    ids = json.loads(
        kernel_stdout(
            kc, "print(json.dumps({n: getattr(s._form, n).model_id for n in ('password', 'code')}))"
        )
    )
    send_enter(kc, ids["password"])
    send_widget_value(kc, ids["password"], sandbox.user("rocketchat", "bob").password)
    assert "second factor" in kernel_stdout(kc, "print(s._form.status.value)")
    send_enter(kc, ids["code"])
    send_widget_value(kc, ids["code"], sandbox.totp("rocketchat", "bob"))
    said = kernel_stdout(
        kc,
        "import nbauth\nprint(s.username, isinstance(s, nbauth.Session), s._form.collapsed, "
        "repr(s) == repr(nbauth.session('rocketchat')))",
    )
    assert said.split() == ["bob", "True", "True", "True"]
    later = []
    kc.execute_interactive("s", timeout=30, output_hook=lambda msg: later.append(msg))
    results = [m for m in later if m["msg_type"] == "execute_result"]
    assert len(results) == 1  # a later cell shows the session as usual
    assert results[0]["content"]["data"]["text/plain"].startswith("<nbauth.Session 'rocketchat'")


def secrets_alive(value):
    """How many nbauth Secrets in this process still hold ``value`` (after a collection). The
    sandbox's passwords are the same in every test, so a test compares with a count taken
    before it started."""
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, Secret) and obj.reveal() == value)


def test_a_password_waiting_for_the_code_is_dropped_after_the_time_limit(sandbox, monkeypatch):
    monkeypatch.setattr("nbauth.form.SECRET_TTL", 0.3)
    password = sandbox.user("couchdrop", "bob").password
    before = secrets_alive(password)
    form = password_form(sandbox, "couchdrop", "bob")
    form.button.click()
    assert shown(form.code) and form._pending is not None
    plan = form._pending
    assert secrets_alive(password) > before  # the login waiting for its code holds it
    wait_until(lambda: form._pending is None, timeout=5)
    assert "password" not in plan.values
    assert secrets_alive(password) == before
    assert "dropped the password" in form.status.value
    assert "type the password again" in form.status.value
    assert not shown(form.code)
    form.code.value = sandbox.totp("couchdrop", "bob")
    form.button.click()  # a code alone no longer logs in: the password must come again
    assert form.session is None and "Fill in Password" in form.status.value
    form.password.value = password
    form.button.click()
    assert "second factor" in form.status.value
    figures.add("canary checks: login form (echoes, held secrets)", 1)
    figures.add("canary hits", 0)


def test_a_value_received_and_never_used_is_dropped_after_the_time_limit(monkeypatch):
    monkeypatch.setattr("nbauth.form.SECRET_TTL", 0.3)
    form = LoginForm("iogates")
    canary = f"canary-{secrets.token_hex(6)}"
    form.share_url.value = canary
    assert "received" in form.share_url.placeholder and secrets_alive(canary) == 1
    wait_until(lambda: not form._received, timeout=5)
    assert form.share_url.placeholder == "" and secrets_alive(canary) == 0
    assert "dropped the share URL" in form.status.value and "type it again" in form.status.value


def test_a_login_in_flight_is_not_cut_short_by_the_time_limit(sandbox, monkeypatch):
    monkeypatch.setattr("nbauth.form.SECRET_TTL", 0.3)
    form = password_form(sandbox, "couchdrop", "bob")
    form.button.click()
    sandbox.knobs["couchdrop"].latency = 0.6  # the code step outlasts the time limit
    form.code.value = sandbox.totp("couchdrop", "bob")
    form.button.click()
    assert form.session is not None and form.session.username == "bob"
    assert form.status.value.startswith("Logged in")


def test_close_drops_the_waiting_password_and_closes_the_widgets(sandbox):
    password = sandbox.user("couchdrop", "bob").password
    before = secrets_alive(password)
    form = password_form(sandbox, "couchdrop", "bob")
    form.button.click()
    plan = form._pending
    unused = f"canary-{secrets.token_hex(6)}"
    form.token.value = unused
    assert plan is not None and form._received and secrets_alive(password) > before
    form.close()
    assert form._pending is None and not form._received and "password" not in plan.values
    assert secrets_alive(password) == before and secrets_alive(unused) == 0
    assert "type the password again" in form.status.value
    assert form.box.comm is None and form.password.comm is None and form.button.comm is None
    issued = len(sandbox.issued("couchdrop"))
    form.code.value = sandbox.totp("couchdrop", "bob")
    form.button.click()  # code driving a closed form: nothing is sent, nothing is kept
    assert len(sandbox.issued("couchdrop")) == issued and form.session is None
    assert not form._received and form._expiry is None
    assert "closed" in form._repr_mimebundle_()["text/plain"]
    figures.add("canary checks: login form (echoes, held secrets)", 1)
    figures.add("canary hits", 0)
