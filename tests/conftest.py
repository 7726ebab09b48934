"""Shared fixtures: one sandbox for the whole test session, reset after every test that used it,
and an empty session store and a private config folder for every test.

Starting the servers once keeps the suite fast; the resets keep one test's knobs (latency,
failures, rate limits) and sessions from leaking into the next.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from nbauth.sandbox import Sandbox, running
from nbauth.store import STORE

# IPython must never touch the developer's ~/.ipython (history, profiles) during tests, nor
# kernels leave connection files in ~/.local/share/jupyter/runtime.
os.environ["IPYTHONDIR"] = tempfile.mkdtemp(prefix="nbauth-ipython-")
os.environ["JUPYTER_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="nbauth-jupyter-runtime-")


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with running() as sb:
        yield sb


@pytest.fixture(autouse=True)
def _reset_sandbox_after_test(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sandbox" in request.fixturenames:
        sandbox: Sandbox = request.getfixturevalue("sandbox")
        sandbox.reset()


@pytest.fixture(autouse=True)
def _fresh_kernel_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """No sessions from an earlier test, and nothing written to the real ~/.config."""
    for name in list(os.environ):
        if name.startswith("NBAUTH_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NBAUTH_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
    STORE.clear()
    yield
    STORE.clear()
    from nbauth.settings import NbAuth

    if NbAuth.initialized():
        settings = NbAuth.instance()
        for name, trait in settings.traits(config=True).items():
            setattr(settings, name, trait.default())


@pytest.fixture(scope="session")
def ip(tmp_path_factory: pytest.TempPathFactory):
    """A real IPython shell with nbauth loaded and its history in a SQLite file of its own."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = str(tmp_path_factory.mktemp("ipython") / "history.sqlite")
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "nbauth")
    return shell


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The security and reliability figures this run measured (tests/figures.py)."""
    import figures

    if not figures.FIGURES:
        return
    terminalreporter.section("nbauth figures (also in build/figures.json)")
    for line in figures.lines():
        terminalreporter.write_line(line)
    figures.save()
