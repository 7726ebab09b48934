"""`%login rocketchat` in a real browser: JupyterLab 4 and Notebook 7 served by this venv, driven
by Playwright in Debian's Chromium, against a sandbox whose every secret is a canary string.

The other tests drive the form's widgets from Python; only a browser shows that the form renders
in each front end, that typing, Enter and clicking reach the kernel, that every label fits, and
that what the front end saves (outputs, widget state, metadata), the kernel's IPython history
and the server's log hold no password or token afterwards.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import figures
import pytest
from browser import (
    CHROMIUM_FLAGS,
    FRONTENDS,
    UI_TIMEOUT_MS,
    JupyterServer,
    click_log_in,
    cut_text,
    field,
    jupyter_server,
    log_in,
    open_notebook,
    password_field,
    require_browser,
    run_cells,
    save_notebook,
    screenshot,
    screenshot_on_failure,
    status_line,
    text_fits,
    write_notebook,
)
from leaks import canaries, canary_seed, find_leaks

from nbauth import services
from nbauth.sandbox import Sandbox, running

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

LOGIN_CELLS = ("%load_ext nbauth", "%login rocketchat")
#: A self-hosted server's URL, longer than most: the URL field shows it whole.
LONG_URL = "https://chat.research-computing.university.example.org:8443"


@pytest.fixture(scope="module")
def chromium_executable() -> str:
    return require_browser()


@pytest.fixture(scope="module")
def chromium(chromium_executable: str) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def canary_sandbox() -> Iterator[Sandbox]:
    with running(seed=canary_seed()) as sb:
        # Rocket.Chat's limit of ten logins a minute from one address is not what these tests
        # are about, and they log in more often than that (as conftest's no_rate_limit).
        sb.knobs["rocketchat"].rate_limit_calls = None
        yield sb


@pytest.fixture(scope="module", params=FRONTENDS)
def jupyter(
    request: pytest.FixtureRequest,
    chromium_executable: str,
    canary_sandbox: Sandbox,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[JupyterServer]:
    """One server per front end for both tests; only the Rocket.Chat URL is configured, so
    `%login rocketchat` has to show the form."""
    state_dir = tmp_path_factory.mktemp(f"jupyter-{request.param}")
    variables = {"NBAUTH_ROCKETCHAT_URL": canary_sandbox.urls["rocketchat"]}
    with jupyter_server(request.param, state_dir, variables) as server:
        yield server


@pytest.fixture
def page(chromium: Browser, jupyter: JupyterServer) -> Iterator[Page]:
    """A fresh browser context; the test's kernels are shut down when it ends."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(UI_TIMEOUT_MS)
    yield context.new_page()
    context.close()
    jupyter.shut_down_kernels()


def open_login_form(page: Page, jupyter: JupyterServer, notebook: str) -> Path:
    """A new notebook with the login cells, opened and run until the form shows."""
    path = jupyter.root_dir / notebook
    write_notebook(path, *LOGIN_CELLS)
    open_notebook(page, jupyter, notebook)
    run_cells(page, len(LOGIN_CELLS))
    field(page, "Username").wait_for()
    return path


def assert_nothing_leaked(jupyter: JupyterServer, secret_values: dict[str, str]) -> None:
    """No secret in anything the server and its kernels wrote, read once the kernels have ended
    (and so closed their history): the notebooks and their checkpoints, the IPython history,
    Jupyter's settings, data and runtime files, and the server's log."""
    jupyter.shut_down_kernels()
    assert jupyter.history_db.is_file(), "the kernel kept no history to search"
    assert jupyter.log.stat().st_size, "the server's log is empty"
    leaks = find_leaks(secret_values, [jupyter.state_dir])
    figures.add("canary checks: browser sessions (JupyterLab, Notebook 7)", 1)
    figures.add("canary hits", len(leaks))
    assert not leaks, "\n".join(leaks)


def received_frames(page: Page) -> list[bytes]:
    """Every websocket frame the page receives from now on (the kernel's messages among them),
    as bytes."""
    frames: list[bytes] = []

    def keep(payload: str | bytes) -> None:
        frames.append(payload.encode() if isinstance(payload, str) else payload)

    page.on("websocket", lambda ws: ws.on("framereceived", keep))
    return frames


def test_two_factor_login_in_the_form(page: Page, jupyter: JupyterServer, canary_sandbox: Sandbox):
    name = f"{jupyter.frontend}-2fa"
    bob = canary_sandbox.user("rocketchat", "bob")
    frames = received_frames(page)
    codes: list[str] = []
    with screenshot_on_failure(page, name):
        saved = open_login_form(page, jupyter, "two-factor.ipynb")
        field(page, "Username").fill(bob.username)
        password_field(page).fill(bob.password)
        page.keyboard.press("Tab")  # leaving the field sends the password to the kernel
        page.locator("input[type=password][placeholder*=received]").wait_for()
        save_notebook(page, saved, showing="kept in the kernel")  # saved before the click
        assert bob.password not in saved.read_text()
        click_log_in(page)
        status_line(page, "asks for a second factor")
        codes.append(canary_sandbox.totp("rocketchat", bob.username))
        field(page, "Two-factor code").fill(codes[-1])
        click_log_in(page)
        status_line(page, "Logged in to Rocket.Chat")
        profile = page.locator("table", has_text=bob.name).filter(has_text=bob.username)
        profile.wait_for()
        save_notebook(page, saved, showing=bob.name)
        profile.scroll_into_view_if_needed()
        screenshot(page, name)
    secret_values = canaries(canary_sandbox)
    bob_tokens = [token for user, token in canary_sandbox.issued("rocketchat") if user == "bob"]
    assert bob_tokens, "no token was issued to bob, so the leak check would prove little"
    assert set(bob_tokens) <= set(secret_values.values())
    # What the kernel sent back to the browser: no echo_update (nor anything else) carries the
    # password or the code the page sent (a code is short: looked for as a widget value).
    assert frames, "no websocket frame was recorded"
    sent_back = [bob.password.encode()]
    sent_back += [f'"value":{sep}"{code}"'.encode() for code in codes for sep in ("", " ")]
    echoed = [frame for frame in frames if any(value in frame for value in sent_back)]
    figures.add("canary checks: login form (echoes, held secrets)", 1)
    figures.add("canary hits", len(echoed))
    assert not echoed, [b"echo_update" in frame for frame in echoed]  # not the canary itself
    assert_nothing_leaked(jupyter, secret_values)


def button(page: Page, name: str) -> Locator:
    return page.get_by_role("button", name=name, exact=True)


def assert_collapsed(page: Page) -> None:
    """The form after a login: its summary line with Log out and Log in again, no field."""
    from playwright.sync_api import expect

    status_line(page, "Logged in to Rocket.Chat at")
    expect(button(page, "Log out")).to_be_visible()
    expect(button(page, "Log in again")).to_be_visible()
    for hidden in (field(page, "Username"), button(page, "Log in"), password_field(page)):
        expect(hidden).to_have_count(0)


def test_enter_logs_in_from_the_password_then_the_code_field(
    page: Page, jupyter: JupyterServer, canary_sandbox: Sandbox
):
    """No click: Enter in the password field sends it and logs in, Enter in the code field
    completes the two-factor login, and the form collapses to its summary line."""
    name = f"{jupyter.frontend}-enter"
    bob = canary_sandbox.user("rocketchat", "bob")
    frames = received_frames(page)
    codes: list[str] = []
    with screenshot_on_failure(page, name):
        saved = open_login_form(page, jupyter, "enter.ipynb")
        field(page, "Username").fill(bob.username)
        password_field(page).fill(bob.password)
        password_field(page).press("Enter")
        status_line(page, "asks for a second factor")
        code = field(page, "Two-factor code")
        code.click()
        screenshot(page, f"{name}-code")  # Enter in the password field asked for the code
        codes.append(canary_sandbox.totp("rocketchat", bob.username))
        code.fill(codes[-1])
        code.press("Enter")
        assert_collapsed(page)
        save_notebook(page, saved, showing=bob.name)
        screenshot(page, f"{jupyter.frontend}-logged-in")
    secret_values = canaries(canary_sandbox)
    assert [user for user, _ in canary_sandbox.issued("rocketchat")].count("bob")
    sent_back = [bob.password.encode()]
    sent_back += [f'"value":{sep}"{code}"'.encode() for code in codes for sep in ("", " ")]
    echoed = [frame for frame in frames if any(value in frame for value in sent_back)]
    figures.add("canary checks: login form (echoes, held secrets)", 1)
    figures.add("canary hits", len(echoed))
    assert frames and not echoed
    assert_nothing_leaked(jupyter, secret_values)  # the collapsed form's state included


def test_the_collapsed_form_logs_out_and_in_again(
    page: Page, jupyter: JupyterServer, canary_sandbox: Sandbox
):
    from playwright.sync_api import expect

    name = f"{jupyter.frontend}-log-out"
    alice = canary_sandbox.user("rocketchat", "alice")
    with screenshot_on_failure(page, name):
        saved = open_login_form(page, jupyter, "log-out.ipynb")
        field(page, "Username").fill(alice.username)
        password_field(page).fill(alice.password)
        password_field(page).press("Enter")
        assert_collapsed(page)
        button(page, "Log in again").click()
        status_line(page, "stays logged in")
        expect(field(page, "Username")).to_have_value(alice.username)
        expect(button(page, "Log out")).to_have_count(0)
        password_field(page).fill(alice.password)
        password_field(page).press("Enter")
        assert_collapsed(page)
        button(page, "Log out").click()
        status_line(page, "Logged out of Rocket.Chat (session 'rocketchat').")
        expect(field(page, "Username")).to_be_visible()
        expect(button(page, "Log in again")).to_have_count(0)
        save_notebook(page, saved, showing="Logged out of Rocket.Chat")
        screenshot(page, name)
    alice_tokens = [t for user, t in canary_sandbox.issued("rocketchat") if user == "alice"]
    assert len(alice_tokens) >= 2
    assert_nothing_leaked(jupyter, canaries(canary_sandbox))


def test_every_label_and_placeholder_of_the_form_is_whole(
    page: Page, jupyter: JupyterServer, canary_sandbox: Sandbox
):
    """At the default width (a 1280 px window; Lab with its file browser open), for every
    service and way in: no label, button, choice, value or placeholder is cut, a long URL and a
    share link (masked) fit their fields, and so do the "received" placeholder and the
    collapsed summary, on one line with its buttons."""
    from playwright.sync_api import expect

    name = f"{jupyter.frontend}-labels"
    cut: dict[str, list[str]] = {}
    with screenshot_on_failure(page, name):
        open_login_form(page, jupyter, "labels.ipynb")
        chosen = page.locator(".jp-OutputArea-output select").first
        for service in (services.get(name) for name in services.names()):
            chosen.select_option(label=service.title)
            for method in service.methods:
                way_in = page.locator(".widget-toggle-buttons button", has_text=method.label)
                way_in.filter(visible=True).click()  # it shows once the kernel answered
                page.wait_for_timeout(300)  # and the fields of the way in follow
                cut[f"{service.title}, {method.label}"] = cut_text(page)
                if "share_url" in method.fields:  # masked: the link shows as one dot a character
                    dots = "\u2022" * len(canary_sandbox.share_urls["sms"])
                    assert text_fits(page, password_field(page), dots)
                else:
                    assert text_fits(page, field(page, "URL"), LONG_URL)
        button(page, "password").click()
        expect(field(page, "Token")).to_have_count(0)
        password_field(page).fill("not-a-password")
        password_field(page).press("Tab")
        page.locator("input[type=password][placeholder*=received]").wait_for()
        cut["received"] = cut_text(page)
        alice = canary_sandbox.user("rocketchat", "alice")
        field(page, "URL").fill(canary_sandbox.urls["rocketchat"])  # another service's was shown
        field(page, "Username").fill(alice.username)
        password_field(page).fill(alice.password)
        password_field(page).press("Enter")
        assert_collapsed(page)
        cut["collapsed"] = cut_text(page)
        line = status_line(page, "Logged in to Rocket.Chat at").bounding_box()
        last = button(page, "Log in again").bounding_box()
        assert line and last and line["height"] < 40  # one line of text, buttons beside it
        assert line["y"] <= last["y"] + last["height"] / 2 <= line["y"] + line["height"]
    assert len(cut) == 2 + 3 + 2 + 2, list(cut)  # each way in of each service, and the rest
    assert not any(cut.values()), {where: found for where, found in cut.items() if found}


def test_wrong_password_shows_the_error(
    page: Page, jupyter: JupyterServer, canary_sandbox: Sandbox
):
    name = f"{jupyter.frontend}-wrong-password"
    bob = canary_sandbox.user("rocketchat", "bob")
    wrong_password = f"wrong-canary{secrets.token_hex(8)}"
    with screenshot_on_failure(page, name):
        saved = open_login_form(page, jupyter, "wrong-password.ipynb")
        log_in(page, bob.username, wrong_password)
        error = status_line(page, "wrong username or password")
        host = canary_sandbox.urls["rocketchat"].removeprefix("http://")
        assert error.inner_text().startswith(f"Rocket.Chat login failed (HTTP 401 from {host})")
        assert password_field(page).input_value() == ""
        save_notebook(page, saved, showing="wrong username or password")
        screenshot(page, name)
    assert_nothing_leaked(jupyter, {**canaries(canary_sandbox), "wrong password": wrong_password})


def test_a_missing_browser_skips_the_tests(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_browser(candidates=("/nonexistent/chromium",))


def test_a_missing_browser_fails_the_tests_in_ci(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        require_browser(candidates=("/nonexistent/chromium",))


def test_missing_playwright_fails_the_tests_in_ci(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    with pytest.raises(pytest.fail.Exception, match="playwright"):
        require_browser()
