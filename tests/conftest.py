"""Shared fixtures: one sandbox for the whole test session, reset after every test that used it,
and an empty session store and a private config folder for every test.

Starting the servers once keeps the suite fast; the resets keep one test's knobs (latency,
failures, rate limits) and sessions from leaking into the next.
"""

from __future__ import annotations

import os
import sys
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nbauth.sandbox import Sandbox, running
from nbauth.store import STORE

# IPython must never touch the developer's ~/.ipython (history, profiles) during tests, nor
# kernels leave connection files in ~/.local/share/jupyter/runtime.
os.environ["IPYTHONDIR"] = tempfile.mkdtemp(prefix="nbauth-ipython-")
os.environ["JUPYTER_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="nbauth-jupyter-runtime-")


#: Rocket.Chat's rate limit as a real server's default (10 calls per route and caller), in a
#: window of a second instead of a minute, so that tests meet it without waiting long.
TEST_KNOBS = {"rate_limit_window": 1.0}


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with running(knobs=TEST_KNOBS) as sb:
        yield sb


@pytest.fixture
def no_rate_limit(sandbox: Sandbox) -> None:
    """Rocket.Chat's rate limit off, as an admin may set a server (API_Enable_Rate_Limiter):
    for tests of hundreds of logins from one address, which a real server's limit of ten a
    window would refuse, about something else than that limit."""
    sandbox.knobs["rocketchat"].rate_limit_calls = None


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


@pytest.fixture
def notebook(ip, monkeypatch):
    """The shell seen as a notebook kernel whose front end allows input (JupyterLab)."""

    class Kernel:
        _allow_stdin = True

    monkeypatch.setattr(ip, "kernel", Kernel(), raising=False)
    return ip


#: The tests that need no server, kernel or browser: `make unit` runs this folder alone.
UNIT = Path(__file__).resolve().parent / "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test outside tests/unit is an integration test (the sandbox, real kernels and
    browsers, the fuzzer): `make integration` runs them (`pytest -m integration`)."""
    for item in items:
        if UNIT not in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The security and reliability figures this run measured (tests/figures.py)."""
    import figures

    if not figures.FIGURES:
        return
    terminalreporter.section("nbauth figures (also in build/figures.json)")
    for line in figures.lines():
        terminalreporter.write_line(line)
    figures.save()


@pytest.fixture
def fake_tqdm(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """tqdm.auto (not a dependency of nbauth) replaced by a recorder; returns the bars made."""
    made: list[Any] = []

    class Bar:
        def __init__(self, total: int | None, **options: Any) -> None:
            self.total, self.count, self.closed = total, 0, 0
            self.options: dict[str, Any] = options
            self.postfix: dict[str, Any] = {}
            self.notes: list[str] = []
            made.append(self)

        def update(self, n: int) -> None:
            self.count += n

        def set_postfix(self, refresh: bool = True, **values: Any) -> None:
            self.postfix = values

        def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
            self.notes.append(text)

        def close(self) -> None:
            self.closed += 1

    module = types.ModuleType("tqdm.auto")
    module.tqdm = Bar  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", module)
    return made
