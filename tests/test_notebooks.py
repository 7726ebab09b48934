"""The example notebooks in `notebooks/`: each one runs top to bottom headless, the way CI,
papermill and `make demo` run it, against a sandbox whose every secret is a canary string; the
executed notebook, the kernel's IPython history and the kernel's own log hold none of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import figures
import nbformat
import pytest
from kernels import execute, kernel_env, text_of
from leaks import canaries, canary_seed, find_leaks

from nbauth.sandbox import Sandbox, running

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXAMPLES = ("quickstart", "couchdrop", "rocketchat", "iogates", "dashboard")
TITLES = {"couchdrop": "Couchdrop", "rocketchat": "Rocket.Chat", "iogates": "ioGates"}
PUBLIC_HOSTS = {
    "couchdrop": "https://api.couchdrop.io",
    "rocketchat": "https://open.rocket.chat",
    "iogates": "https://iogates.com",
}
# What each service notebook must show working, one fragment per way in and per data call.
SHOWN = {
    "quickstart": [f"Logged in to {title}" for title in TITLES.values()] + ["Logged out of"],
    "couchdrop": [
        "as alice (password login",
        "two-factor",
        "Couchdrop bob at",
        "q3.csv",
        "Alice's Couchdrop sandbox account",
        "q3-by-region.csv",
        "143900",
        "Largest folders:",  # a chart's title (its text/plain): drawn, not a table
    ],
    "rocketchat": [
        "as alice (password login",
        "(totp)",
        "Bob Example",
        "(email)",
        "carol",
        "project-x",
        "general",
        "alice-dave",
        "#general: messages per day:",  # charts' titles (their text/plain): drawn, not tables
        "#general: messages per hour (UTC):",
    ],
    "iogates": [
        "as alice (password login",
        "available_storage",
        "SMS code",
        "has expired",
        "/Projects/Rushes/interview.wav",
        "Scene 4, take 2",
        "camera",
        "Storage used and available:",  # a chart's title (its text/plain): drawn, not a table
    ],
    # Run headless, nobody logs in: the form shows (a terminal would get its text instead).
    "dashboard": ["login form for Rocket.Chat"],
}


@pytest.fixture(scope="module")
def canary_sandbox() -> Iterator[Sandbox]:
    with running(seed=canary_seed()) as sb:
        yield sb


def test_the_examples_are_all_there():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXAMPLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_notebook_is_saved_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert "widgets" not in nb.metadata


@pytest.mark.parametrize("name", EXAMPLES)
def test_first_cell_tells_how_to_use_the_real_service(name):
    first = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells[0].source
    assert "sandbox" in first.lower() and "real" in first.lower()
    assert "without those variables" in first
    if name in PUBLIC_HOSTS:
        assert PUBLIC_HOSTS[name] in first


@pytest.mark.parametrize("name", EXAMPLES)
def test_notebook_runs_headless_and_leaves_no_secret(name, canary_sandbox, tmp_path):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    env = kernel_env(tmp_path, **canary_sandbox.env)
    log = tmp_path / "kernel.log"
    with log.open("w") as kernel_log:
        execute(nb, NOTEBOOKS, env, log=kernel_log)
    saved = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, saved)

    shown = "\n".join(text_of(cell) for cell in nb.cells)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    for fragment in SHOWN[name]:
        assert fragment in shown, fragment
    secrets = canaries(canary_sandbox)
    # tokens were issued and are sought (the dashboard logs in only when a viewer types)
    assert any(" token #" in secret for secret in secrets) or name == "dashboard"
    assert (tmp_path / "ipython").is_dir()  # the kernel's history is where the search looks
    leaks = find_leaks(secrets, [saved, tmp_path / "ipython", log])
    figures.add("canary checks: executed notebooks", 1)
    figures.add("canary hits", len(leaks))
    assert leaks == []


def test_find_leaks_finds_a_secret_in_any_file(tmp_path):
    """The canary search itself: a secret anywhere under a folder, even in binary, is found."""
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "history.sqlite").write_bytes(b"\x00\x01 pw=alice-canary1 \xff")
    (tmp_path / "clean.txt").write_text("nothing here")
    found = find_leaks({"alice's password": "alice-canary1", "other": "zzz"}, [tmp_path])
    assert found == [f"alice's password in {tmp_path / 'deep' / 'history.sqlite'}"]
