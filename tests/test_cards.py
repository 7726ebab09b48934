"""Results to look at: the profile and storage as compact HTML cards (nbauth.cards, shown by the
report after %login, %whoami and the form), with a text fallback for terminals; and charts
(nbauth.plots) where a picture says it better, which give their table back without matplotlib.

The cards are checked as a person would find them wanting: an index column, right-aligned or cut
values, sizes in bytes, a note wrapping mid-word in monospace, a secret of the session.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from helpers import login_as
from IPython.core.formatters import DisplayFormatter
from IPython.utils.capture import capture_output
from kernels import execute, kernel_env

from nbauth import plots, report
from nbauth.cards import Card, profile_card, storage_card, table_card
from nbauth.form import LoginForm
from nbauth.tables import Storage, profile_frame, storage_frame

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PNG = b"\x89PNG\r\n\x1a\n"
#: A note long enough to wrap: the kind a service's storage or profile gives.
LONG_NOTE = (
    "No storage connections shown: Couchdrop lets only admins read them, and 'dave' is not one "
    "(its token is valid: the file host accepted it). Log in as an admin to see them."
)


def formatted(item: object) -> dict[str, object]:
    """What a front end gets for ``item``: IPython's formats of it."""
    data, _ = DisplayFormatter().format(item)
    return data


def cells(html: str, tag: str) -> list[str]:
    """The opening tags ``<tag ...>`` of an HTML text."""
    return re.findall(rf"<{tag}\b[^>]*>", html)


# -- the cards ------------------------------------------------------------------------------


def test_a_profile_card_has_no_index_labels_on_the_left_and_readable_values():
    frame = profile_frame({"username": "alice", "account": {"admin": True, "plan": "<b>pro</b>"}})
    card = profile_card(frame)
    html = card._repr_html_()
    assert 'class="nbauth-card"' in html and ">Profile<" in html
    # a label and a value per row, nothing else: no index column, no header row
    assert html.count("<tr") == len(frame) and "<thead" not in html
    assert all(re.search(r">\s*\d+\s*<", row) is None for row in html.split("<tr")[1:])
    labels, values = cells(html, "th"), cells(html, "td")
    assert len(labels) == len(values) == len(frame)
    assert all("text-align:left" in tag for tag in labels + values)
    assert all("white-space:normal" in v and "word-break:normal" in v for v in values)
    assert ">account.admin</th>" in html and ">yes</td>" in html  # a boolean reads as yes/no
    assert "&lt;b&gt;pro&lt;/b&gt;" in html and "<b>pro" not in html  # a server's markup, escaped
    assert card.text() == (
        "Profile:\n  username       alice\n  account.admin  yes\n  account.plan   <b>pro</b>"
    )
    assert card.frame is frame


def test_a_storage_card_shows_human_sizes_with_the_exact_figure_in_a_tooltip():
    rows = [
        {"item": "max_file_size", "bytes": 0, "human": "unlimited"},
        {"item": "available_storage", "bytes": 29301996265, "human": "27.3 GiB"},
    ]
    card = storage_card(storage_frame(Storage(rows)))
    html = card._repr_html_()
    assert ">27.3 GiB</td>" in html and 'title="29,301,996,265 bytes"' in html
    assert "29301996265" not in html  # the raw byte count only in the tooltip, with commas
    assert card.text().splitlines() == [
        "Storage:",
        "  max_file_size      unlimited",
        "  available_storage  27.3 GiB",
    ]


def test_a_storage_table_card_has_a_header_and_no_index_and_keeps_its_note():
    rows = [
        {"path": "/", "store_type": "hosted", "subpath": "", "id": "st-hosted"},
        {"path": "/reports", "store_type": "s3", "subpath": "acme-reports/", "id": "st-reports"},
    ]
    card = storage_card(storage_frame(Storage(rows, note="Figures as of this morning.")))
    html = card._repr_html_()
    assert [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<th\b.*?</th>", html)] == [
        "path",
        "store_type",
        "subpath",
        "id",
    ]
    assert html.count("<tr") == 3  # the header and two rows
    assert "Figures as of this morning." in html
    assert card.text().splitlines()[1].split() == ["path", "store_type", "subpath", "id"]
    assert card.text().splitlines()[2].startswith("  /         hosted")  # left-aligned


def test_a_note_alone_wraps_at_words_and_is_no_monospace_block():
    card = storage_card(storage_frame(Storage([], note=LONG_NOTE)))
    html = card._repr_html_()
    assert "<table" not in html and "<pre" not in html and "monospace" not in html
    note = re.search(r'<p class="nbauth-card-note" style="([^"]*)">(.*?)</p>', html)
    assert note and "white-space:normal" in note[1] and "word-break:normal" in note[1]
    assert "'dave'" in note[2]  # whole, quotes as typed
    assert card.text() == f"Storage: {LONG_NOTE}"  # one line: a terminal wraps it


def test_a_table_card_shows_sizes_in_human_units_and_times_to_the_minute():
    listing = pd.DataFrame(
        {
            "path": ["/a.bin", "/b"],
            "is_dir": [False, True],
            "size": [3 * 1024**3, 0],
            "modified": pd.to_datetime(["2024-03-04 09:00:31", None], utc=True),
        }
    )
    html = table_card("Files", listing)._repr_html_()
    assert ">3.0 GiB</td>" in html and ">2024-03-04 09:00</td>" in html
    assert ">no</td>" in html and ">yes</td>" in html
    assert "NaT" not in html and "nan" not in html.lower()


def test_a_card_shows_as_html_in_a_notebook_and_as_text_in_a_terminal():
    card = Card("Storage", note="Nothing to see.")
    data = formatted(card)
    assert data["text/plain"] == "Storage: Nothing to see."
    assert str(data["text/html"]).startswith('<div class="nbauth-card"')


# -- where the cards show -------------------------------------------------------------------


def test_login_shows_the_profile_and_storage_as_cards(ip, sandbox, monkeypatch):
    for key, value in sandbox.env.items():
        if key.startswith("NBAUTH_COUCHDROP_"):
            monkeypatch.setenv(key, value)
    with capture_output() as captured:
        session = ip.run_line_magic("login", "couchdrop")
    assert captured.stdout.startswith("Logged in to Couchdrop")
    shown = [o.data for o in captured.outputs]
    assert len(shown) == 2
    profile, storage = shown
    assert 'class="nbauth-card"' in profile["text/html"] and ">Profile<" in profile["text/html"]
    assert ">alice@example.org</td>" in profile["text/html"]
    assert ">st-reports</td>" in storage["text/html"]
    assert profile["text/plain"].startswith("Profile:\n  username ")
    assert not re.search(r"^\s*0\s", profile["text/plain"], re.M)  # no 0..N index
    assert session.profile_frame().columns.tolist() == ["field", "value"]  # still DataFrames
    assert isinstance(session.storage_frame(), pd.DataFrame)


def test_whoami_shows_the_profile_card(ip, sandbox, monkeypatch):
    for key, value in sandbox.env.items():
        if key.startswith("NBAUTH_IOGATES_"):
            monkeypatch.setenv(key, value)
    ip.run_line_magic("login", "iogates")
    card = ip.run_line_magic("whoami", "")  # the cell's value, which the shell then shows
    shown, _ = ip.display_formatter.format(card)
    assert ">Profile<" in shown["text/html"] and ">Alice Example</td>" in shown["text/html"]
    assert shown["text/plain"].startswith("Profile:\n")


def test_the_form_shows_the_cards_in_its_result_area(sandbox):
    form = LoginForm("iogates", url=sandbox.urls["iogates"])
    form.username.value = "alice"
    form.password.value = sandbox.user("iogates", "alice").password
    form.button.click()
    html = [o["data"]["text/html"] for o in form.result.outputs if "data" in o]
    assert [">Profile<" in h for h in html] == [True, False]
    assert ">27.3 GiB</td>" in html[1]


def test_no_secret_of_the_session_reaches_a_card(sandbox):
    """A server that repeats the token in the profile or the storage figures: each card shows
    it masked, in HTML and in text."""
    session = login_as("couchdrop")(sandbox)
    token = session.token.reveal()
    session._profile = {"username": "alice", "echo": f"your token is {token}"}
    session._profile_complete = True
    session._storage = Storage([{"path": "/", "subpath": token}], note=f"Token {token} used.")
    items = report.items(session)
    shown = json.dumps([formatted(item) for item in items])
    assert token not in shown and token[-8:] not in shown
    assert "********" in items[1]._repr_html_() and "********" in items[2]._repr_html_()
    assert "********" in items[2].note


def test_a_card_that_cannot_be_had_says_why(sandbox):
    session = login_as("couchdrop")(sandbox)
    sandbox.knobs["couchdrop"].fail_status = 503
    _, profile, storage = report.items(session)
    assert profile.error and profile.note.startswith("Not available.")
    assert "color:var(--jp-error-color1" in storage._repr_html_()


# -- charts ----------------------------------------------------------------------------------


def test_a_chart_is_a_png_with_its_table_as_text_and_is_shown_once():
    import matplotlib.pyplot as plt

    per_hour = pd.Series(range(24), index=pd.RangeIndex(24, name="hour (UTC)"), name="messages")
    chart = plots.bars(per_hour, "Messages per hour")
    assert isinstance(chart, plots.Chart) and chart.png.startswith(PNG)
    data = formatted(chart)
    assert data["image/png"] == chart.png
    assert str(data["text/plain"]).startswith("Messages per hour:\n")
    assert "23" in str(data["text/plain"])
    assert plt.get_fignums() == []  # pyplot keeps no figure: nothing shows it a second time


def test_storage_used_against_available_is_one_bar_with_human_figures():
    chart = plots.usage(3 * 1024**3, 9 * 1024**3, "Storage")
    assert isinstance(chart, plots.Chart) and chart.png.startswith(PNG)
    assert chart.frame["human"].tolist() == ["3.0 GiB", "9.0 GiB"]
    assert chart.frame["share"].tolist() == ["25.0%", "75.0%"]


def test_without_matplotlib_a_chart_is_its_table(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    per_day = pd.Series([3, 5], index=pd.Index(["Mar 04", "Mar 05"], name="day"), name="n")
    assert not plots.available()
    table = plots.bars(per_day, "Messages per day")
    assert isinstance(table, pd.DataFrame) and table.equals(per_day.to_frame())
    used = plots.usage(1024, 3072)
    assert isinstance(used, pd.DataFrame) and used["human"].tolist() == ["1.0 KiB", "3.0 KiB"]


@pytest.mark.parametrize("matplotlib", ["installed", "unimportable"])
def test_the_rocketchat_notebook_shows_the_busiest_hours_as_a_chart(sandbox, tmp_path, matplotlib):
    """The busiest hours: a chart, or without matplotlib a table of 24 rows (it was 24 columns,
    whose middle pandas hid)."""
    env = kernel_env(tmp_path, **sandbox.env)
    if matplotlib == "unimportable":
        stub = tmp_path / "stub" / "matplotlib"
        stub.mkdir(parents=True)
        (stub / "__init__.py").write_text("raise ImportError('matplotlib made unimportable')\n")
        env["PYTHONPATH"] = str(stub.parent)
    nb = nbformat.read(NOTEBOOKS / "rocketchat.ipynb", as_version=4)
    execute(nb, NOTEBOOKS, env)
    (cell,) = [c for c in nb.cells if c.get("id") == "messages-per-hour"]
    (output,) = [o for o in cell.outputs if o.output_type == "execute_result"]
    if matplotlib == "installed":
        assert "image/png" in output.data
        assert output.data["text/plain"].startswith("#general: messages per hour (UTC):")
    else:
        assert "image/png" not in output.data
        html = output.data["text/html"]
        assert html.count("<tr") == 24 + 2  # 24 hours as rows, and pandas' 2 header rows
        assert "..." not in html
