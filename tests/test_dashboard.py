"""The dashboard (nbauth.dashboard, notebooks/dashboard.ipynb): a login form, then the person's
storage and recent activity as cards and charts.

From Python, the form is driven as a person would (fields, then the button) against the sandbox,
for each service; without matplotlib the tables take the charts' place. In a real browser, the
notebook is served by Voila on loopback, Chromium logs in through the form, and sees the cards
and a chart; then nothing Voila kept (its log, the page it rendered, the files it and its kernel
wrote) holds a password or token of the sandbox, whose every secret is a canary string.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import figures
import ipywidgets as widgets
import pandas as pd
import pytest
from browser import (
    ARTIFACTS,
    CHROMIUM_FLAGS,
    UI_TIMEOUT_MS,
    field,
    password_field,
    require_browser,
    screenshot_on_failure,
    status_line,
    voila_server,
)
from helpers import login_as
from leaks import canaries, canary_seed, find_leaks

from nbauth import dashboard, plots
from nbauth.cards import Card
from nbauth.dashboard import Dashboard
from nbauth.sandbox import Sandbox, running

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "dashboard.ipynb"
#: Whether the page shows ``count`` PNG images, each decoded and at least a column wide.
DRAWN = """count => {
  const charts = [...document.querySelectorAll("img[src^='data:image/png']")];
  return charts.length === count && charts.every(img => img.complete && img.naturalWidth > 300);
}"""
#: What each service's activity shows: the charts' titles, and a fragment of its card.
SHOWS = {
    "rocketchat": (["Messages per day", "Messages per hour of the day (UTC)"], "#general"),
    "iogates": (["Storage used and available"], "/Projects/Rushes/interview.wav"),
    "couchdrop": (["Largest folders"], "/reports/q3.csv"),
}


@pytest.fixture(autouse=True)
def _close_dashboards() -> Iterator[None]:
    """Close the test's dashboards when it ends, as a person closing the notebook would: a
    dashboard left open keeps its widgets in ipywidgets' registry for the tests after it."""
    yield
    gc.collect()
    for obj in gc.get_objects():
        if isinstance(obj, Dashboard):
            obj.close()


def logged_in(sandbox: Sandbox, service: str, username: str = "alice") -> Dashboard:
    """A dashboard whose form was filled in and clicked, as a person does."""
    board = Dashboard(service)
    board.form.url.value = sandbox.urls[service]
    board.form.username.value = username
    board.form.password.value = sandbox.user(service, username).password
    board.form.button.click()
    assert board.form.session is not None, board.form.status.value
    return board


def shown(outputs: Any) -> tuple[list[str], list[str], list[bytes]]:
    """An Output's display data: (text/plain, text/html, image/png) of each."""
    plain = [o["data"].get("text/plain", "") for o in outputs]
    html = [o["data"].get("text/html", "") for o in outputs]
    png = [o["data"]["image/png"] for o in outputs if "image/png" in o["data"]]
    return plain, html, png


@pytest.mark.parametrize("service", list(SHOWS))
def test_a_login_shows_the_activity_as_charts_and_cards(sandbox, service):
    board = logged_in(sandbox, service)
    titles, fragment = SHOWS[service]
    plain, html, png = shown(board.outputs)
    assert "Recent activity" in board.heading.value
    assert len(png) == len(titles)  # a chart each
    for title in titles:
        assert any(text.startswith(f"{title}") for text in plain), (title, plain)
    assert any('class="nbauth-card"' in h and fragment in h for h in html), fragment
    # the form's own result area has the profile and storage cards
    report = [o["data"].get("text/html", "") for o in board.form.result.outputs]
    assert any(">Profile<" in h for h in report) and any(">Storage<" in h for h in report)
    secrets = [sandbox.user(service, "alice").password, board.form.session.token.reveal()]
    everything = json.dumps([board.outputs, board.form.result.outputs], default=str)
    assert not [s for s in secrets if s in everything]


def test_without_matplotlib_the_tables_take_the_charts_place(sandbox, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    assert not plots.available()
    board = logged_in(sandbox, "rocketchat")
    _, html, png = shown(board.outputs)
    assert png == []
    per_hour = next(h for h in html if "hour (UTC)" in h)  # pandas' own HTML table
    assert "<table" in per_hour and per_hour.count("<tr") == 24 + 2  # 24 hours, 2 header rows
    assert any("#general" in h for h in html)  # the rooms card is there as before


def test_a_new_login_replaces_the_activity(sandbox):
    board = logged_in(sandbox, "rocketchat")
    before = board.form.session
    board.form.username.value = "dave"
    board.form.password.value = sandbox.user("rocketchat", "dave").password
    board.form.button.click()
    assert board.form.session is not before and board.shown is board.form.session
    _, html, _ = shown(board.outputs)
    rooms = next(h for h in html if ">Rooms<" in h)
    assert "#project-x" not in rooms  # alice's private room, which dave is not in
    assert "@alice" in rooms


def test_the_activity_a_new_login_replaced_is_closed(sandbox):
    board = logged_in(sandbox, "rocketchat")
    first = board.activity.children
    board.form.password.value = sandbox.user("rocketchat", "alice").password
    board.form.button.click()
    assert board.activity.children and not set(first) & set(board.activity.children)
    assert all(old.comm is None for old in first)  # closed: the front ends drop them
    assert not set(first) & set(widgets.Widget.widgets.values())


def test_close_closes_every_widget_and_the_form(sandbox):
    board = logged_in(sandbox, "couchdrop")
    owned = [board.box, board.heading, board.activity, *board.activity.children, board.form.box]
    board.close()
    assert all(widget.comm is None for widget in owned)
    assert not set(owned) & set(widgets.Widget.widgets.values())
    assert board.form._closed
    json.dumps(widgets.Widget.get_manager_state(drop_defaults=False))  # nothing dangling


def test_logging_out_through_the_form_clears_the_activity(sandbox):
    board = logged_in(sandbox, "iogates")
    assert board.outputs
    board.form.log_out.click()
    assert board.form.session is None and board.shown is None
    assert board.outputs == [] and board.heading.value == ""


def test_a_failing_data_call_leaves_a_card_saying_why(sandbox):
    session = login_as("iogates")(sandbox)
    sandbox.knobs["iogates"].fail_status = 503
    (card,) = dashboard.overview(session)
    assert isinstance(card, Card) and card.error
    assert card.note.startswith("Not available.") and "503" in card.note


def test_the_largest_folders_add_up_every_file_under_each(sandbox):
    session = login_as("couchdrop")(sandbox)
    files = dashboard.tree(session)
    sizes = dashboard.folder_sizes(files)
    reports = session.ls("/reports")
    assert sizes["/reports"] == reports["size"].sum()
    assert sizes["/"] == session.ls("/").query("not is_dir")["size"].sum()  # /readme.txt
    assert list(sizes) == sorted(sizes, reverse=True)
    few = dashboard.tree(session, max_folders=1)
    assert "Only the first 1 folders" in few.attrs["note"] and len(few) < len(files)


def test_folder_sizes_count_nested_files_under_their_top_folder():
    files = pd.DataFrame(
        {
            "path": ["/a", "/a/b", "/a/b/c.bin", "/a/d.bin", "/e.bin"],
            "is_dir": [True, True, False, False, False],
            "size": [0, 0, 300, 100, 50],
        }
    )
    assert dashboard.folder_sizes(files).to_dict() == {"/a": 400, "/": 50}
    assert dashboard.folder_sizes(files, depth=2).to_dict() == {"/a/b": 300, "/a": 100, "/": 50}


# -- in a real browser, served by Voila ----------------------------------------------------


@pytest.fixture(scope="module")
def chromium_executable() -> str:
    return require_browser()


@pytest.fixture(scope="module")
def canary_sandbox() -> Iterator[Sandbox]:
    with running(seed=canary_seed()) as sb:
        yield sb


def test_the_voila_app_logs_in_and_shows_cards_and_a_chart(
    chromium_executable: str, canary_sandbox: Sandbox, tmp_path: Path
):
    from playwright.sync_api import sync_playwright

    alice = canary_sandbox.user("rocketchat", "alice")
    state = tmp_path / "voila"
    variables = {
        f"NBAUTH_{service.upper()}_URL": url for service, url in canary_sandbox.urls.items()
    }
    variables["NBAUTH_CONFIG_DIR"] = str(state / "nbauth-config")  # searched with the rest
    frames: list[bytes] = []
    with (
        voila_server(NOTEBOOK, state, variables) as voila,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path=chromium_executable, args=CHROMIUM_FLAGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1200})
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.on("websocket", lambda ws: ws.on("framereceived", _keep(frames)))
        with screenshot_on_failure(page, "voila-dashboard"):
            page.goto(voila.page_url)
            log_in_with_enter(page, alice.username, alice.password)
            status_line(page, "Logged in to Rocket.Chat")
            cards = page.locator(".nbauth-card")
            cards.filter(has_text="Profile").filter(has_text=alice.name).wait_for()
            cards.filter(has_text="Storage").wait_for()
            cards.filter(has_text="Rooms").filter(has_text="#general").wait_for(timeout=60_000)
            charts = page.locator("img[src^='data:image/png']")
            assert charts.count() == 2  # messages per day and per hour
            page.wait_for_function(DRAWN, arg=2)
            assert "import" not in page.inner_text("body")  # no code shown, only its outputs
            assert page.locator(".cm-editor, .jp-InputPrompt").count() == 0
            (state / "rendered.html").write_text(page.content())
            ARTIFACTS.mkdir(parents=True, exist_ok=True)  # docs/img/ has a copy, for the README
            page.screenshot(path=ARTIFACTS / "voila-dashboard.png", full_page=True)
        browser.close()

    secret_values = canaries(canary_sandbox)
    alice_tokens = [t for user, t in canary_sandbox.issued("rocketchat") if user == "alice"]
    assert alice_tokens and set(alice_tokens) <= set(secret_values.values())
    assert voila.log.stat().st_size, "Voila's log is empty"
    assert (voila.ipython_dir / "profile_default" / "history.sqlite").is_file()
    leaks = find_leaks(secret_values, [state])
    # what the kernel sent the page: the cards, the charts, the form's state
    echoed = [
        name for name, value in secret_values.items() if any(value.encode() in f for f in frames)
    ]
    figures.add("canary checks: Voila dashboard (log, page, files, frames)", 2)
    figures.add("canary hits", len(leaks) + len(echoed))
    assert leaks == []
    assert frames and echoed == []


def log_in_with_enter(page: Page, username: str, password: str) -> None:
    """Type the credentials and press Enter in the password field, as on any web login."""
    field(page, "Username").fill(username)
    password_field(page).fill(password)
    password_field(page).press("Enter")


def _keep(frames: list[bytes]) -> Any:
    def keep(payload: str | bytes) -> None:
        frames.append(payload.encode() if isinstance(payload, str) else payload)

    return keep
