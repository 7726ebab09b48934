"""The magics, run in a real IPython shell against the sandbox."""

import os
import re
import secrets
import sqlite3
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import figures
import pandas as pd
import pytest
from helpers import installed_service
from IPython.utils.capture import capture_output

import nbauth
from nbauth import frontend
from nbauth.history import CELL_PLACEHOLDER, PLACEHOLDER
from nbauth.magics import _screen, _screen_line


@pytest.fixture
def env(monkeypatch, sandbox):
    """Put one service's sandbox user (alice unless told) into NBAUTH_<SERVICE>_* variables."""

    def put(service, name="alice", **extra):
        user = sandbox.user(service, name)
        prefix = f"NBAUTH_{service.upper()}_"
        values = {
            "URL": sandbox.urls[service],
            "USERNAME": user.username,
            "PASSWORD": user.password,
        }
        values.update({k.upper(): v for k, v in extra.items()})
        for key, value in values.items():
            if value is None:
                monkeypatch.delenv(prefix + key, raising=False)
            else:
                monkeypatch.setenv(prefix + key, value)

    return put


@pytest.fixture
def person(monkeypatch):
    """Someone at a terminal: stdin is a tty and scripted answers come from input/getpass.

    An answer may be a function, called when the question comes (for codes sent meanwhile).
    """
    answers = []
    asked = []

    def answer(prompt=""):
        asked.append(prompt)
        given = answers.pop(0)
        return given() if callable(given) else given

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", answer)
    monkeypatch.setattr("getpass.getpass", answer)
    return answers, asked


def run(ip, line):
    """Run one cell through IPython the way a front end does: stored in history."""
    with capture_output() as captured:
        result = ip.run_cell(line, store_history=True)
    return result, captured


def test_load_ext_registers_the_magics_and_the_settings(ip):
    magics = ip.magics_manager.magics["line"]
    assert {"login", "logout", "whoami", "nbauth"} <= set(magics)
    assert "NbAuth" in {type(c).__name__ for c in ip.configurables}


def test_login_returns_the_session_and_shows_summary_profile_and_storage(ip, env):
    env("couchdrop")
    result, captured = run(ip, "s = %login couchdrop")
    assert result.success
    session = ip.user_ns["s"]
    assert isinstance(session, nbauth.Session) and session is nbauth.session("couchdrop")
    assert "Logged in to Couchdrop" in captured.stdout and "as alice" in captured.stdout
    shown = "".join(o.data.get("text/html", "") for o in captured.outputs)
    assert "alice@example.org" in shown  # the profile table
    assert "st-reports" in shown  # the storage table


@pytest.mark.parametrize("service", ["couchdrop", "rocketchat", "iogates"])
def test_environment_variables_log_in_each_service(ip, env, service):
    env(service)
    session = ip.run_line_magic("login", service)
    assert (session.service, session.username) == (service, "alice")


def test_a_token_in_the_environment_logs_in_without_a_password(ip, env, sandbox):
    env("couchdrop", username=None, password=None, token=sandbox.couchdrop_admin_token)
    assert ip.run_line_magic("login", "couchdrop").kind == "admin-token"


def test_a_personal_access_token_with_its_user_id(ip, env, sandbox):
    token, user_id = sandbox.rocketchat_pat
    env("rocketchat", username=None, password=None, token=token, user_id=user_id)
    assert ip.run_line_magic("login", "rocketchat").kind == "personal-access-token"


def test_a_share_url_from_the_line(ip, sandbox):
    session = ip.run_line_magic("login", f"iogates --share-url {sandbox.share_urls['open']}")
    assert session.kind == "share-url"


def test_the_line_wins_over_the_environment(ip, env, sandbox):
    env("couchdrop", url=sandbox.closed_url)
    session = ip.run_line_magic("login", f"couchdrop --url {sandbox.urls['couchdrop']} -u alice")
    assert session.username == "alice"


def test_the_environment_password_is_not_tried_for_another_account(ip, env, person, sandbox):
    env("couchdrop")  # alice's username and password
    answers, asked = person
    answers.append("dave-sandbox")
    assert ip.run_line_magic("login", "couchdrop -u dave").username == "dave"
    assert asked == ["Couchdrop password: "]


def test_as_keeps_the_session_under_an_alias(ip, env):
    env("couchdrop")
    ip.run_line_magic("login", "couchdrop --as work")
    assert nbauth.session("work").service == "couchdrop"


def test_config_sets_default_urls_below_the_environment(ip, env, sandbox):
    env("couchdrop", url=None)
    ip.run_line_magic("config", f"NbAuth.urls = {{'couchdrop': '{sandbox.urls['couchdrop']}'}}")
    assert ip.run_line_magic("login", "couchdrop").url == sandbox.urls["couchdrop"]
    env("couchdrop", url=sandbox.closed_url)
    with pytest.raises(nbauth.ConnectionFailed):
        ip.run_line_magic("login", "couchdrop")


def test_config_timeout_reaches_the_login(ip, env, sandbox):
    env("couchdrop")
    ip.run_line_magic("config", "NbAuth.timeout = 0.3")
    sandbox.knobs["couchdrop"].latency = 1.0
    started = time.monotonic()
    with pytest.raises(nbauth.ConnectionFailed, match=r"timed out|did not answer"):
        ip.run_line_magic("login", "couchdrop")
    assert time.monotonic() - started < 1.0


def test_config_verify_and_timeout_are_kept_on_the_session(ip, env):
    env("couchdrop")
    ip.run_line_magic("config", "NbAuth.verify = False")
    ip.run_line_magic("config", "NbAuth.timeout = 12")
    session = ip.run_line_magic("login", "couchdrop")
    assert (session.verify, session.timeout) == (False, 12.0)


def test_a_bad_setting_is_refused_and_the_old_value_kept(ip, caplog):
    from nbauth.settings import settings

    ip.run_line_magic("config", "NbAuth.timeout = -1")
    ip.run_line_magic("config", "NbAuth.urls = {'dropbox': 'https://x'}")
    assert (settings().timeout, settings().urls) == (30.0, {})
    assert "must be a positive number" in caplog.text and "Known services" in caplog.text


# -- nobody to ask --------------------------------------------------------------------


def test_without_a_person_or_variables_it_fails_at_once_naming_the_variables(ip):
    assert frontend.can_ask(ip) == (False, "stdin is not a terminal")
    started = time.monotonic()
    with pytest.raises(nbauth.UsageError) as caught:
        ip.run_line_magic("login", "couchdrop")
    assert time.monotonic() - started < 1.0
    for name in (
        "NBAUTH_COUCHDROP_USERNAME",
        "NBAUTH_COUCHDROP_PASSWORD",
        "NBAUTH_COUCHDROP_TOKEN",
    ):
        assert name in caught.value.message


def test_nbauth_noninteractive_stops_prompts_even_at_a_terminal(ip, person, monkeypatch):
    monkeypatch.setenv("NBAUTH_NONINTERACTIVE", "1")
    with pytest.raises(nbauth.UsageError, match="NBAUTH_NONINTERACTIVE is set"):
        ip.run_line_magic("login", "rocketchat -u alice")
    assert person[1] == []  # nothing was asked


def test_a_notebook_that_allows_no_input_shows_no_form(ip, monkeypatch):
    class HeadlessKernel:
        _allow_stdin = False

    monkeypatch.setattr(ip, "kernel", HeadlessKernel(), raising=False)
    with capture_output() as captured, pytest.raises(nbauth.UsageError, match="without a person"):
        ip.run_line_magic("login", "iogates")
    assert captured.outputs == []


def test_two_factor_without_a_person_names_the_code_variable(ip, env):
    env("couchdrop", "bob")
    with pytest.raises(nbauth.TwoFactorRequired, match="NBAUTH_COUCHDROP_CODE"):
        ip.run_line_magic("login", "couchdrop")


def test_the_code_variable_completes_two_factor(ip, env, sandbox):
    env("rocketchat", "bob", code=sandbox.totp("rocketchat", "bob"))
    assert ip.run_line_magic("login", "rocketchat").username == "bob"


@pytest.mark.parametrize("service", ["couchdrop", "rocketchat", "iogates"])
def test_a_code_variable_does_not_hurt_an_account_without_two_factor(ip, env, service):
    env(service, code="123456")
    assert ip.run_line_magic("login", service).username == "alice"


# -- a person at a terminal -----------------------------------------------------------


def test_the_terminal_prompts_for_the_password_then_the_code(ip, person, sandbox):
    answers, asked = person
    answers += ["bob-sandbox", sandbox.totp("couchdrop", "bob")]
    session = ip.run_line_magic("login", f"couchdrop --url {sandbox.urls['couchdrop']} -u bob")
    assert session.username == "bob"
    assert asked == ["Couchdrop password: ", "Couchdrop two-factor code: "]


def test_the_terminal_prompts_for_everything_missing(ip, person, sandbox):
    answers, asked = person
    answers += ["alice", "alice-sandbox"]
    session = ip.run_line_magic("login", f"iogates --url {sandbox.urls['iogates']}")
    assert session.username == "alice"
    assert asked == ["ioGates username: ", "ioGates password: "]


def test_a_token_login_prompts_for_the_token_and_optional_user_id(ip, person, sandbox):
    answers, asked = person
    token, user_id = sandbox.rocketchat_pat
    answers += [user_id, token]
    session = ip.run_line_magic("login", f"rocketchat --url {sandbox.urls['rocketchat']} --token")
    assert session.kind == "personal-access-token"
    assert asked == ["Rocket.Chat user id (Enter to skip): ", "Rocket.Chat token: "]


def test_an_empty_answer_stops_the_login(ip, person, sandbox):
    person[0].append("")
    with pytest.raises(nbauth.UsageError, match="No Couchdrop password was given"):
        ip.run_line_magic("login", f"couchdrop --url {sandbox.urls['couchdrop']} -u alice")


def test_the_prompt_asks_the_sms_code_of_an_iogates_share(ip, person, sandbox):
    answers, asked = person
    answers.append(lambda: sandbox.sms_code("sms"))
    session = ip.run_line_magic("login", f"iogates --share-url {sandbox.share_urls['sms']}")
    assert session.kind == "share-url"
    assert asked == ["ioGates two-factor code: "]


def test_form_is_refused_outside_a_notebook(ip, sandbox):
    with pytest.raises(nbauth.UsageError, match="needs a notebook"):
        ip.run_line_magic("login", "couchdrop --form")


# -- a person at a notebook -----------------------------------------------------------


def test_in_a_notebook_missing_credentials_show_the_form(notebook, sandbox):
    with capture_output() as captured:
        returned = notebook.run_line_magic(
            "login", f"rocketchat --url {sandbox.urls['rocketchat']} -u bob"
        )
    assert "waiting for the login form" in repr(returned)  # the Session once the form logs in
    bundle = captured.outputs[0].data
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "--prompt" in bundle["text/plain"]


def test_two_factor_after_environment_credentials_shows_the_form_at_the_code(notebook, env):
    env("couchdrop", "bob")
    with capture_output() as captured:
        assert "waiting" in repr(notebook.run_line_magic("login", "couchdrop"))
    assert "application/vnd.jupyter.widget-view+json" in captured.outputs[0].data


def test_prompt_in_a_notebook_uses_prompts_not_the_form(notebook, person, sandbox):
    person[0].append("alice-sandbox")
    with capture_output() as captured:
        session = notebook.run_line_magic(
            "login", f"couchdrop --url {sandbox.urls['couchdrop']} -u alice --prompt"
        )
    assert session.username == "alice"
    assert not any("application/vnd.jupyter.widget-view+json" in o.data for o in captured.outputs)


# -- no password on the line ----------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "couchdrop -u alice -p s3cret",
        "couchdrop -u alice -ps3cret",
        "couchdrop -u alice --password s3cret",
        "couchdrop -u alice --password=s3cret",
        "couchdrop -u alice --pass s3cret",
        "couchdrop -u alice password=s3cret",
        "couchdrop alice s3cret",
        "couchdrop -u alice --token s3cret",
        "couchdrop -u alice --secret s3cret",
        "couchdrop --url https://alice:s3cret@api.example.com",
        "iogates --share-url=https://alice:s3cret@files.example.com/show/abc",
    ],
)
def test_anything_that_may_be_a_password_is_refused(line):
    assert _screen(line.split()) is not None


@pytest.mark.parametrize(
    "line",
    [
        "couchdrop",
        "couchdrop -u alice --url https://x --as work --prompt",
        "rocketchat --token --user-id abc --url=https://x",
        "iogates --share-url https://x/show/abc",
        "couchdrop --url https://proxy.example.com:8443/api -u me@example.com",
    ],
)
def test_ordinary_lines_pass_the_screen(line):
    assert _screen(line.split()) is None


def test_a_password_on_the_line_is_refused_and_removed_from_history(ip, sandbox):
    password = "Line-Password-93d1"
    run(ip, "before = 1")
    result, captured = run(ip, f"%login couchdrop -u alice -p {password}")
    assert isinstance(result.error_in_exec, nbauth.UsageError)
    assert "form" in str(result.error_in_exec) and "NBAUTH_<SERVICE>_PASSWORD" in str(
        result.error_in_exec
    )
    assert password not in captured.stdout + captured.stderr
    number = result.execution_count
    history = ip.history_manager
    assert history.input_hist_raw[number] == PLACEHOLDER
    assert password not in history.input_hist_parsed[number]
    assert password not in ip.user_ns[f"_i{number}"]
    assert password not in ip.user_ns["In"][number]
    assert password not in result.info.raw_cell
    run(ip, "after = 2")
    assert password not in ip.user_ns["_ii"]
    history.writeout_cache()
    time.sleep(0.1)
    with sqlite3.connect(history.hist_file) as db:
        rows = db.execute("SELECT source, source_raw FROM history").fetchall()
    assert rows and not any(password in source + raw for source, raw in rows)
    assert ("before = 1", "before = 1") in rows


def test_other_lines_of_the_cell_stay_in_the_parsed_history_the_raw_cell_goes_whole(ip):
    result, _ = run(ip, "x = 41\n%login rocketchat --password hunter2\ny = x + 1")
    history = ip.history_manager
    lines = history.input_hist_parsed[result.execution_count].split("\n")
    assert lines == ["x = 41", PLACEHOLDER, "y = x + 1"]
    assert history.input_hist_raw[result.execution_count] == CELL_PLACEHOLDER


def test_a_password_in_the_database_already_written_is_scrubbed_too(ip):
    history = ip.history_manager
    password = "Written-Already-77ab"
    # A cell whose row the saving thread wrote before the magic ran: write it out first.
    original = ip.run_line_magic

    def after_writeout(name, line, *args, **kwargs):
        if name == "login":
            history.writeout_cache()
        return original(name, line, *args, **kwargs)

    ip.run_line_magic = after_writeout
    try:
        result, _ = run(ip, f"%login couchdrop -u alice --password={password}")
    finally:
        del ip.run_line_magic
    assert isinstance(result.error_in_exec, nbauth.UsageError)
    history.writeout_cache()
    with sqlite3.connect(history.hist_file) as db:
        rows = db.execute("SELECT source || source_raw FROM history").fetchall()
    assert not any(password in row[0] for row in rows)


# -- help, errors, the other magics ---------------------------------------------------


def test_login_help_is_generated_from_its_arguments(ip):
    with capture_output() as captured:
        ip.run_cell("%login?")
    text = captured.stdout + "".join(o.data.get("text/plain", "") for o in captured.outputs)
    for piece in ("--share-url SHARE_URL", "--as ALIAS", "--prompt", "NBAUTH_<SERVICE>_URL"):
        assert piece in text


def test_an_unknown_service_lists_the_known_ones_without_a_traceback(ip):
    result, captured = run(ip, "%login dropbox")
    assert isinstance(result.error_in_exec, nbauth.UsageError)
    shown = captured.stdout + captured.stderr
    assert "Known services: couchdrop, iogates, rocketchat" in shown
    assert "Traceback" not in shown


def test_argument_errors_are_nbauth_usage_errors(ip):
    with pytest.raises(nbauth.UsageError, match=r"%login.*See %login\?"):
        ip.run_line_magic("login", "")
    with pytest.raises(nbauth.UsageError, match="--form and --prompt"):
        ip.run_line_magic("login", "couchdrop --form --prompt")


def test_whoami_returns_the_profile_card_on_the_profile_table(ip, env):
    env("rocketchat")
    ip.run_line_magic("login", "rocketchat --as chat")
    card = ip.run_line_magic("whoami", "")
    assert 'class="nbauth-card"' in card._repr_html_() and str(card).startswith("Profile:")
    table = card.frame
    assert isinstance(table, pd.DataFrame) and list(table.columns) == ["field", "value"]
    assert dict(zip(table["field"], table["value"], strict=True))["username"] == "alice"
    assert ip.run_line_magic("whoami", "chat").frame.equals(table)


def test_whoami_without_a_session_says_how_to_log_in(ip):
    with pytest.raises(nbauth.NotLoggedIn):
        ip.run_line_magic("whoami", "")


def test_nbauth_sessions_is_the_session_table(ip, env):
    env("iogates")
    session = ip.run_line_magic("login", "iogates")
    table = ip.run_line_magic("nbauth", "sessions")
    assert table.loc[0, "alias"] == "iogates" and table.loc[0, "current"]
    assert session.token.reveal() not in table.to_string()


def test_an_unknown_nbauth_command_lists_the_commands(ip):
    with pytest.raises(nbauth.UsageError, match="Use one of: sessions, doctor, ls WHERE:PATH"):
        ip.run_line_magic("nbauth", "list")
    with pytest.raises(nbauth.UsageError, match="Use one of"):
        ip.run_line_magic("nbauth", "")


def test_nbauth_ls_lists_a_folder_with_the_services_session(ip, sandbox):
    alice = sandbox.user("couchdrop", "alice")
    nbauth.login("couchdrop", url=sandbox.urls["couchdrop"], username="alice",
                 password=alice.password)  # fmt: skip
    nbauth.login("iogates", share_url=sandbox.share_urls["open"])  # now the current session

    reports = ip.run_line_magic("nbauth", "ls couchdrop:/reports")
    assert list(reports["filename"]) == ["q3.csv", "q4.csv"]
    assert list(reports["path"]) == ["/reports/q3.csv", "/reports/q4.csv"]
    shared = ip.run_line_magic("nbauth", "ls iogates:/")
    assert "IMG_0752.JPG" in set(shared["name"])


def test_nbauth_ls_takes_an_alias_and_a_quoted_path(ip, sandbox):
    dave = sandbox.user("couchdrop", "dave")
    nbauth.login("couchdrop", url=sandbox.urls["couchdrop"], username="dave",
                 password=dave.password, alias="work")  # fmt: skip
    listing = ip.run_line_magic("nbauth", "ls 'work:/notes'")
    assert list(listing["filename"]) == ["todo.txt"]


def test_nbauth_ls_says_what_is_wrong_with_its_target(ip, sandbox):
    with pytest.raises(nbauth.UsageError, match=r"needs \[WHERE:\]PATH"):
        ip.run_line_magic("nbauth", "ls reports")
    with pytest.raises(nbauth.UsageError, match="neither a session's alias nor a service"):
        ip.run_line_magic("nbauth", "ls nowhere:/")
    with pytest.raises(nbauth.NotLoggedIn, match="%login couchdrop"):
        ip.run_line_magic("nbauth", "ls couchdrop:/")
    alice = sandbox.user("rocketchat", "alice")
    nbauth.login("rocketchat", url=sandbox.urls["rocketchat"], username="alice",
                 password=alice.password)  # fmt: skip
    with pytest.raises(nbauth.UsageError, match=r"no ls\(\).*rooms\(\), messages\(\)"):
        ip.run_line_magic("nbauth", "ls rocketchat:/")


def test_logout_forgets_the_current_session(ip, env, capsys):
    env("couchdrop")
    ip.run_line_magic("login", "couchdrop")
    ip.run_line_magic("logout", "")
    assert "Logged out of Couchdrop" in capsys.readouterr().out
    with pytest.raises(nbauth.NotLoggedIn):
        nbauth.session()


def test_logout_all_and_by_alias(ip, env):
    env("couchdrop")
    env("iogates")
    ip.run_line_magic("login", "couchdrop --as one")
    ip.run_line_magic("login", "couchdrop --as two")
    ip.run_line_magic("login", "iogates")
    ip.run_line_magic("logout", "one")
    assert set(nbauth.sessions()["alias"]) == {"two", "iogates"}
    ip.run_line_magic("logout", "--all")
    assert nbauth.sessions().empty
    with pytest.raises(nbauth.UsageError, match="not both"):
        ip.run_line_magic("logout", "two --all")


def test_logout_revoke_ends_a_personal_access_token(ip, env, sandbox):
    token, user_id = sandbox.rocketchat_pat
    env("rocketchat", username=None, password=None, token=token, user_id=user_id)
    ip.run_line_magic("login", "rocketchat")
    ip.run_line_magic("logout", "--revoke")
    with pytest.raises(nbauth.AccessDenied):
        ip.run_line_magic("login", "rocketchat")


def test_doctor_reports_the_kernel_and_hides_secret_values(ip, env, monkeypatch):
    env("couchdrop")
    ip.run_line_magic("login", "couchdrop")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxyuser:Proxy-Pass-55@proxy.example:3128")
    report = ip.run_line_magic("nbauth", "doctor")
    found = dict(zip(report.frame["check"], report.frame["found"], strict=True))
    assert found["front end"].startswith("terminal IPython")
    assert found["stdin"].startswith("nobody can answer")
    assert found["proxy"] == "HTTPS_PROXY=http://***@proxy.example:3128"
    assert "NBAUTH_COUCHDROP_PASSWORD" in found["NBAUTH_ variables"]
    assert "server clock" in found["clock vs couchdrop"]
    text = repr(report) + report._repr_html_()
    assert "Proxy-Pass-55" not in text and "alice-sandbox" not in text


def test_load_ext_imports_no_heavy_library(tmp_path):
    """%load_ext nbauth registers the magics without importing httpx, pandas or ipywidgets, nor
    the keyring code (nbauth.vault), which loads at the first %login (or on the warm-up's
    thread, turned off here: tests/test_warm.py watches which thread imports what)."""
    import subprocess

    heavy = ("httpx", "pandas", "ipywidgets", "nbauth.vault")
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance().run_line_magic('load_ext', 'nbauth')\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    env = {**os.environ, "IPYTHONDIR": str(tmp_path), "NBAUTH_WARM_UP": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_third_party_service_is_one_module_and_one_entry_point(
    ip, sandbox, tmp_path, monkeypatch
):
    """A package that registers a service in the nbauth.services group gets %login and the form."""
    from nbauth.form import LoginForm

    source = (
        "from nbauth.services.rocketchat import RocketChat\n\n\n"
        "class TeamChat(RocketChat):\n"
        "    name = 'teamchat'\n"
        "    title = 'Team Chat'\n"
    )
    with installed_service(
        tmp_path, monkeypatch, "teamchat", "teamchat_nbauth", source, "TeamChat"
    ):
        user = sandbox.user("rocketchat", "alice")
        monkeypatch.setenv("NBAUTH_TEAMCHAT_URL", sandbox.urls["rocketchat"])
        monkeypatch.setenv("NBAUTH_TEAMCHAT_USERNAME", user.username)
        monkeypatch.setenv("NBAUTH_TEAMCHAT_PASSWORD", user.password)
        session = ip.run_line_magic("login", "teamchat")
        assert (session.service, session.title, session.username) == (
            "teamchat",
            "Team Chat",
            "alice",
        )
        assert ("Team Chat", "teamchat") in LoginForm().service.options


# -- lines that cannot be split, suspect text, credentials on the line, log files ----------

#: %login lines that may hold a secret, with CANARY where the secret is, and the option the
#: refusal may name (None: it names none).
SUSPECT_LINES = [
    ("couchdrop -u alice -p it'sCANARY", None),  # an unclosed quote: shlex cannot split it
    ('couchdrop -u alice --password "CANARY', None),
    ("couchdrop -u alice -pCANARY", "'-p…'"),
    ("couchdrop -u alice password:CANARY", "'password'"),
    ("couchdrop -u alice --password=CANARY", "'--password'"),
    ("couchdrop -u alice --Password CANARY", "'--password'"),
    ('couchdrop -u alice "-pCANARY"', "'-p…'"),
    ("rocketchat --token CANARY", "'--token'"),
    ("--token CANARY", "'--token'"),  # the service forgotten: the token is not taken for one
    ("rocketchat --token=CANARY", "'--token'"),
    # IPython's argparse splits without backslash escapes: 'alice\' and 'CANARY'
    ("couchdrop -u alice\\ CANARY", None),
    # spaces neither split breaks a word at: the password would be part of the word before
    ("couchdrop\u00a0-pCANARY", None),
    ("couchdrop -u alice\u2003CANARY", None),
    ("couchdrop -u alice\u3000--password CANARY", None),
    ("couchdrop -u alice\u200bCANARY", None),  # a zero-width space
]


def history_rows(ip):
    history = ip.history_manager
    history.writeout_cache()
    with sqlite3.connect(history.hist_file) as db:
        return db.execute("SELECT source || source_raw FROM history").fetchall()


def assert_out_of_history(ip, number, canary):
    """No copy IPython keeps of cell ``number`` holds ``canary``: In, _ih, _iN, raw history,
    the SQLite history."""
    history = ip.history_manager
    assert canary not in ip.user_ns["In"][number]
    assert canary not in ip.user_ns["_ih"][number]
    assert canary not in ip.user_ns[f"_i{number}"]
    assert canary not in history.input_hist_raw[number]
    assert not any(canary in row for (row,) in history_rows(ip))


@pytest.mark.parametrize(("rest", "named"), SUSPECT_LINES)
def test_a_suspect_line_is_refused_scrubbed_and_not_quoted(ip, rest, named):
    canary = f"Canary{secrets.token_hex(6)}"
    result, captured = run(ip, f"%login {rest.replace('CANARY', canary)}")
    error = result.error_in_exec
    assert isinstance(error, nbauth.UsageError), error
    message = str(error)
    assert message.startswith("%login takes no password on its line")
    assert canary not in message and canary not in captured.stdout + captured.stderr
    assert "Traceback" not in captured.stdout + captured.stderr
    if named is not None:
        assert named in message  # the option, by its name only
    assert ip.history_manager.input_hist_raw[result.execution_count] == PLACEHOLDER
    assert_out_of_history(ip, result.execution_count, canary)
    figures.add("canary checks: %login lines (history, messages, log files)", 1)
    figures.add("canary hits", 0)


@pytest.mark.parametrize("rest", [rest for rest, _ in SUSPECT_LINES])
def test_the_screen_names_no_suspect_text(rest):
    problem = _screen_line(rest.replace("CANARY", "Sekr1t"))
    assert problem is not None and "Sekr1t" not in problem and "sekr1t" not in problem


@pytest.mark.parametrize(
    ("magic", "line"),
    [
        ("logout", '"x'),
        ("whoami", "'x"),
        ("logout", "--all 'x"),
        ("nbauth", 'ls "couchdrop:/x'),
        ("nbauth", "sessions 'x"),
        ("nbauth", 'doctor "x'),
    ],
)
def test_an_unclosed_quote_is_a_usage_error_in_every_magic(ip, magic, line):
    result, captured = run(ip, f"%{magic} {line}")
    assert isinstance(result.error_in_exec, nbauth.UsageError), result.error_in_exec
    message = str(result.error_in_exec)
    assert "a quote on it is not closed" in message
    assert "'x" not in message and '"x' not in message
    assert "Traceback" not in captured.stdout + captured.stderr


def test_an_unknown_nbauth_command_names_its_first_word_only(ip):
    canary = f"Canary{secrets.token_hex(6)}"
    with pytest.raises(nbauth.UsageError) as caught:
        ip.run_line_magic("nbauth", f"login couchdrop -p {canary}")
    assert "Unknown %nbauth command 'login'." in caught.value.message
    assert canary not in caught.value.message
    with pytest.raises(nbauth.UsageError) as caught:
        ip.run_line_magic("nbauth", f"-p{canary}")
    assert canary not in caught.value.message
    with pytest.raises(nbauth.UsageError, match=r"takes one \[WHERE:\]PATH"):
        ip.run_line_magic("nbauth", "ls couchdrop:/a b")


def share_key(share_url):
    """The part of an ioGates share URL that opens the share."""
    return urlsplit(share_url).path.split("/")[4]


def test_a_share_url_on_the_line_logs_in_and_leaves_the_history(ip, sandbox):
    share_url = sandbox.share_urls["open"]
    result, captured = run(ip, f"s = %login iogates --share-url {share_url}")
    assert result.success and ip.user_ns["s"].kind == "share-url"
    assert "removed from this kernel's history" in captured.stdout
    assert "NBAUTH_IOGATES_SHARE_URL" in captured.stdout
    assert share_key(share_url) not in captured.stdout + captured.stderr
    assert PLACEHOLDER in ip.history_manager.input_hist_raw[result.execution_count]
    assert_out_of_history(ip, result.execution_count, share_key(share_url))
    figures.add("canary checks: %login lines (history, messages, log files)", 1)
    figures.add("canary hits", 0)


def test_a_share_url_line_for_another_service_is_scrubbed_as_well(ip, sandbox):
    share_url = sandbox.share_urls["open"]
    result, _ = run(ip, f"%login couchdrop --share-url {share_url}")
    assert isinstance(result.error_in_exec, nbauth.UsageError)
    assert share_key(share_url) not in str(result.error_in_exec)
    assert_out_of_history(ip, result.execution_count, share_key(share_url))


@pytest.fixture
def logging_on(ip, tmp_path):
    """Start IPython's %logstart log with the given options; stopped when the test ends."""
    started = []

    def start(options="", name=None):
        path = tmp_path / (name or "session-log.py")
        result, _ = run(ip, f"%logstart {options} {path if name is None else name} over")
        assert result.success and ip.logger.log_active
        started.append(path)
        return path

    yield start
    if ip.logger.logfile is not None:
        ip.run_line_magic("logstop", "")


@pytest.mark.parametrize("options", ["", "-o", "-t", "-r", "-o -t -r"])
def test_a_refused_or_scrubbed_line_leaves_no_copy_in_the_logstart_log(
    ip, sandbox, logging_on, options
):
    canaries_ = [f"Canary{secrets.token_hex(6)}" for _ in range(3)]
    # one refused before the log starts: %logstart copies the history so far into the log
    run(ip, f"%login couchdrop -u alice -p {canaries_[0]}")
    log = logging_on(options)
    run(ip, "before = 1")
    refused, _ = run(ip, f"%login couchdrop -u alice -p it's{canaries_[1]}")
    assert "and from the IPython log" in str(refused.error_in_exec)
    assert str(log) in str(refused.error_in_exec)
    run(ip, f"x = 1\n%login couchdrop --password={canaries_[2]}\ny = 2")
    share_url = sandbox.share_urls["open"]
    shared, _ = run(ip, f"%login iogates --share-url {share_url}")  # -o logs its Out too
    assert shared.success
    run(ip, "after = 2")
    data = log.read_bytes()
    for canary in [*canaries_, share_key(share_url)]:
        assert canary.encode() not in data
    assert b"before = 1" in data and b"after = 2" in data
    if "-r" in options:  # the raw cell goes whole: which raw line held %login is not sure
        assert b"y = 2" not in data and CELL_PLACEHOLDER.encode() in data
    else:
        assert b"y = 2" in data
    assert data.count(PLACEHOLDER.encode()) >= 3
    if "-o" in options:
        assert b"#[Out]# <nbauth.Session 'iogates'" in data
    if "-t" in options:
        stamps = re.findall(rb"# \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d\n", data)
        assert len(stamps) >= 4
    figures.add("canary checks: %login lines (history, messages, log files)", 4)
    figures.add("canary hits", 0)


def test_the_log_is_scrubbed_after_the_working_folder_changed(
    ip, logging_on, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    logging_on("", name="relative-log.py")  # IPython keeps the relative name
    monkeypatch.chdir(tmp_path.parent)
    canary = f"Canary{secrets.token_hex(6)}"
    result, _ = run(ip, f"%login couchdrop -p {canary}")
    assert "and from the IPython log" in str(result.error_in_exec)
    assert canary.encode() not in (tmp_path / "relative-log.py").read_bytes()
    figures.add("canary checks: %login lines (history, messages, log files)", 1)
    figures.add("canary hits", 0)


def test_a_log_that_cannot_be_rewritten_is_named(ip, logging_on, monkeypatch):
    log = logging_on("")
    monkeypatch.setattr("nbauth.history._same_file", lambda handle, name: None)
    result, _ = run(ip, f"%login couchdrop -p Canary{secrets.token_hex(6)}")
    message = str(result.error_in_exec)
    assert f"nbauth could not remove it from the IPython log file ({log})" in message


# -- %login lines IPython runs without the % or its name: automagic, aliases, continuations ---

#: Cells that call %login with a secret where a line-by-line search for "%login" misses it,
#: CANARY standing for the secret; SHARE_URL for a share URL (its key is the canary then).
HIDDEN_LOGIN_CELLS = {
    "automagic": "login couchdrop -u alice -pCANARY",
    "automagic, two spaces": "  login  couchdrop --password=CANARY",
    "automagic share URL": "login iogates --share-url SHARE_URL",
    "backslash continuation": "%login couchdrop -u alice \\\n    --password CANARY",
    "continuation, assigned": "s = %login couchdrop -u alice \\\n  -pCANARY",
    "alias": "%lg couchdrop -u alice -pCANARY",
    "alias of an alias": "%lg2 couchdrop -u alice -pCANARY",
    "alias, automagic": "lg couchdrop -u alice -pCANARY",
    "alias share URL": "%lg iogates --share-url SHARE_URL",
    "a call over two lines": "x = 1\nget_ipython().run_line_magic(\n  'login', '-pCANARY'\n)",
    "the name in a variable": "name = 'login'\nget_ipython().run_line_magic(name, '-pCANARY')",
    "under %%capture": "%%capture\n%login couchdrop -u alice -pCANARY",
}


@pytest.fixture
def aliases(ip):
    """%alias_magic lg login, and lg2 for lg; both gone when the test ends."""
    ip.run_line_magic("alias_magic", "lg login")
    ip.run_line_magic("alias_magic", "lg2 lg")
    yield
    for name in ("lg", "lg2"):
        ip.magics_manager.magics["line"].pop(name, None)
        ip.magics_manager.magics["cell"].pop(name, None)


def every_copy(ip, number, log):
    """Every copy of cell ``number`` IPython keeps, by where it is, plus the bytes of the
    history database and of the log file."""
    history = ip.history_manager
    history.writeout_cache()
    ns = ip.user_ns
    copies = {
        "In": ns["In"][number],
        "_ih": ns["_ih"][number],
        "_iN": ns[f"_i{number}"],
        "_i, _ii, _iii": repr([ns.get(name) for name in ("_i", "_ii", "_iii")]),
        "_i00": history._i00,
        "input_hist_raw": history.input_hist_raw[number],
        "input_hist_parsed": history.input_hist_parsed[number],
        "history rows": repr(history_rows(ip)),
    }
    return {name: text.encode() for name, text in copies.items()} | {
        "history database file": Path(history.hist_file).read_bytes(),
        "log file": log.read_bytes(),
    }


@pytest.mark.parametrize("log_options", ["-o -t", "-r"])
@pytest.mark.parametrize("case", list(HIDDEN_LOGIN_CELLS))
def test_a_login_line_ipython_runs_without_its_percent_or_its_name_leaves_no_copy(
    ip, sandbox, aliases, logging_on, log_options, case
):
    cell = HIDDEN_LOGIN_CELLS[case]
    canary = f"Canary{secrets.token_hex(6)}"
    if "SHARE_URL" in cell:
        share_url = sandbox.share_urls["open"]
        cell, canary = cell.replace("SHARE_URL", share_url), share_key(share_url)
    cell = cell.replace("CANARY", canary)
    log = logging_on(log_options)
    run(ip, "before = 1")
    result, captured = run(ip, cell)
    number = result.execution_count
    if "SHARE_URL" in HIDDEN_LOGIN_CELLS[case]:
        assert result.success and "removed from this kernel's history" in captured.stdout
    elif case == "under %%capture":  # the error went into what %%capture captured
        assert result.success
    else:
        assert isinstance(result.error_in_exec, nbauth.UsageError), result.error_in_exec
        assert str(result.error_in_exec).startswith("%login takes no password on its line")
    assert canary not in str(result.error_in_exec) + captured.stdout + captured.stderr
    assert canary not in result.info.raw_cell + str(result.info.transformed_cell)
    run(ip, "after = 2")  # the next cells take _i, _ii from the scrubbed _i00
    run(ip, "after = 3")
    found = {
        where for where, data in every_copy(ip, number, log).items() if canary.encode() in data
    }
    assert found == set()
    assert b"before = 1" in log.read_bytes() and b"after = 3" in log.read_bytes()
    assert ip.history_manager.input_hist_raw[number] in (PLACEHOLDER, CELL_PLACEHOLDER)
    figures.add("canary checks: %login lines (history, messages, log files)", 1)
    figures.add("canary hits", 0)


def test_the_parsed_copy_keeps_the_cells_other_lines(ip, aliases):
    cell = "x = 1\n%login couchdrop -u alice \\\n  --password Canary-Kept-Out\ny = 2"
    result, _ = run(ip, cell)
    assert isinstance(result.error_in_exec, nbauth.UsageError)
    parsed = ip.history_manager.input_hist_parsed[result.execution_count]
    assert parsed.split("\n") == ["x = 1", PLACEHOLDER, "y = 2"]
    result, _ = run(ip, "x = 1\nget_ipython().run_line_magic(\n  'lg', '-pCanary-Kept-Out')\ny = 2")
    assert isinstance(result.error_in_exec, nbauth.UsageError)
    parsed = ip.history_manager.input_hist_parsed[result.execution_count]
    assert parsed.split("\n") == ["x = 1", PLACEHOLDER, "y = 2"]


def test_without_automagic_a_bare_login_is_not_a_login_line(ip, aliases, monkeypatch):
    from nbauth.history import login_line

    assert login_line(ip).search("lg couchdrop")
    monkeypatch.setattr(ip, "automagic", False)
    pattern = login_line(ip)
    assert not pattern.search("login = 3") and not pattern.search("lg couchdrop")
    assert pattern.search("%lg2 couchdrop") and pattern.search("run_line_magic('lg', '')")
    assert not pattern.search("%login_other x") and not pattern.search("%logout")


@pytest.mark.parametrize(
    ("odd", "named"),
    [
        ("\u00a0", "U+00A0, a space that is not a plain one"),
        ("\u2003", "U+2003, a space that is not a plain one"),
        ("\u202f", "U+202F, a space that is not a plain one"),
        ("\u1680", "U+1680, a space that is not a plain one"),
        ("\u200b", "U+200B, an invisible character"),
        ("\ufeff", "U+FEFF, an invisible character"),
    ],
)
def test_a_line_with_an_odd_space_is_refused_naming_its_code_point_only(ip, odd, named):
    canary = f"Canary{secrets.token_hex(6)}"
    result, captured = run(ip, f"%login couchdrop{odd}-p{canary}")
    message = str(result.error_in_exec)
    assert isinstance(result.error_in_exec, nbauth.UsageError)
    assert message.startswith("%login takes no password on its line") and named in message
    assert canary not in message + captured.stdout + captured.stderr
    assert_out_of_history(ip, result.execution_count, canary)
    assert _screen_line(f"couchdrop -u alice{odd}x") is not None
    for breaks_the_line in ("\x0b", "\x0c", "\x85", "\u2028"):  # one that reaches the magic
        assert _screen_line(f"couchdrop -u alice{breaks_the_line}x") is not None
    assert _screen_line("couchdrop -u alice\t--url https://x") is None  # a tab is a space
    figures.add("canary checks: %login lines (history, messages, log files)", 1)
    figures.add("canary hits", 0)


@pytest.mark.parametrize(
    "name",
    ["couchdrop\u00a0-pCANARY", "couchdrop -pCANARY", "CANARY", "dropbox/CANARY", "é-CANARY"],
)
def test_an_unknown_service_is_quoted_only_when_it_looks_like_a_name(name):
    from nbauth import services

    canary = f"Canary{secrets.token_hex(6)}"
    for call in (services.get, lambda given: nbauth.login(given, username="a", password="b")):
        with pytest.raises(nbauth.UsageError) as caught:
            call(name.replace("CANARY", canary))
        message = caught.value.message
        assert message.startswith("Unknown service") and "Known services: couchdrop" in message
        if name == "CANARY":  # it looks like a name: quoted, as a typo's should be
            assert f"'{canary}'" in message
        else:
            assert canary not in message and canary[:8] not in message
            assert "does not look like a service's name" in message
    figures.add("canary checks: messages naming an unknown service", 2)
    figures.add("canary hits", 0)


def test_a_typo_of_a_service_is_still_quoted():
    with pytest.raises(nbauth.UsageError, match=r"Unknown service 'dropbox'\. Known"):
        nbauth.services.get("dropbox")
    with pytest.raises(nbauth.UsageError, match=r"Unknown service ' '\. Known"):
        nbauth.services.get(" ")
