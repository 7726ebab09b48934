"""A real JupyterLab 4 or Notebook 7 server and a real Chromium, for the browser tests.

The server runs from this virtualenv on loopback with a random token, and everything it or its
kernels write (notebooks, checkpoints, IPython history, Jupyter settings and runtime files, its
own log) lands in one folder the test owns, so a leak check can read all of it. The helpers that
drive the page use what a person sees: cell prompts, field labels, the button's text.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import httpx
import nbformat
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

FRONTENDS = ("lab", "notebook")
CHROMIUM_CANDIDATES = ("chromium", "/usr/bin/chromium")
# These keep Chromium from stalling on a closed network; Playwright adds a fresh temp profile.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts" / "browser"
SERVER_START_TIMEOUT = 60.0
SERVER_STOP_TIMEOUT = 10.0
KERNEL_START_TIMEOUT = 60.0
UI_TIMEOUT_MS = 30_000
SAVE_TIMEOUT = 30.0
POLL = 0.1
# Save widget state with the notebook, so the leak check reads it too, and skip JupyterLab's
# "get Jupyter news?" prompt, which covers part of the page (and the news feed it would fetch).
LAB_SETTINGS = {
    "@jupyter-widgets/jupyterlab-manager/plugin": {"saveState": True},
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def require_browser(candidates: tuple[str, ...] = CHROMIUM_CANDIDATES) -> str:
    """The Chromium to drive. Without it or Playwright the test skips, or fails when CI is set:
    in CI a browser that silently went missing must not turn the browser tests into skips."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the playwright package is not installed: pip install -e '.[dev]'")
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    _missing(f"Chromium not found ({', '.join(candidates)}): apt-get install chromium")


def _missing(message: str) -> NoReturn:
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set, so the browser tests must run, but {message}", pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class ServerFolders:
    """A running server's address, its token, and the folders it and its kernels write to."""

    base_url: str
    token: str
    state_dir: Path

    @property
    def root_dir(self) -> Path:
        return self.state_dir / "root"

    @property
    def ipython_dir(self) -> Path:
        return self.state_dir / "ipython"

    @property
    def config_dir(self) -> Path:
        return self.state_dir / "config"


@dataclass(frozen=True)
class JupyterServer(ServerFolders):
    """A running JupyterLab or Notebook 7 server (``frontend``)."""

    frontend: str

    @property
    def history_db(self) -> Path:
        return self.ipython_dir / "profile_default" / "history.sqlite"

    @property
    def log(self) -> Path:
        return self.state_dir / "server.log"

    def page_url(self, notebook: str) -> str:
        """The notebook in this front end; Lab forgets the last test's tabs (``reset``)."""
        if self.frontend == "lab":
            return f"{self.base_url}/lab/tree/{notebook}?reset&token={self.token}"
        return f"{self.base_url}/notebooks/{notebook}?token={self.token}"

    def api(self, method: str, path: str) -> httpx.Response:
        headers = {"Authorization": f"token {self.token}"}
        response = httpx.request(method, f"{self.base_url}/api/{path}", headers=headers)
        response.raise_for_status()
        return response

    def kernel_state(self, notebook: str) -> str | None:
        """The execution state of the kernel of ``notebook``'s session, None before it has one."""
        for session in self.api("GET", "sessions").json():
            if session["path"] == notebook and session.get("kernel"):
                return str(session["kernel"]["execution_state"])
        return None

    def shut_down_kernels(self) -> None:
        """End every session and its kernel, which closes the kernel's history database."""
        for session in self.api("GET", "sessions").json():
            self.api("DELETE", f"sessions/{session['id']}")


@contextmanager
def jupyter_server(
    frontend: str, state_dir: Path, variables: dict[str, str]
) -> Iterator[JupyterServer]:
    """Run ``jupyter lab`` or ``jupyter notebook`` until the block ends; its kernels see
    ``variables`` and none of this process's NBAUTH_* variables."""
    port, token = _free_port(), secrets.token_hex(16)
    server = JupyterServer(f"http://127.0.0.1:{port}", token, state_dir, frontend=frontend)
    server.root_dir.mkdir(parents=True)
    _write_settings(server.config_dir)
    command = [
        sys.executable,
        "-m",
        "jupyterlab" if frontend == "lab" else "notebook",
        "--allow-root",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",  # another port would be one this test does not watch
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={server.root_dir}",
    ]
    with server.log.open("wb") as log:
        process = subprocess.Popen(
            command, env=_server_env(server, variables), stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_up(server, process)
        yield server
    finally:
        _stop(process)


def _server_env(server: ServerFolders, variables: dict[str, str]) -> dict[str, str]:
    """This venv first on PATH (the kernel must import nbauth), private IPython and Jupyter
    folders, and no NBAUTH_* but ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAUTH_")}
    venv_bin = str(Path(sys.executable).parent)
    env.update(
        PATH=os.pathsep.join([venv_bin, env.get("PATH", "")]),
        IPYTHONDIR=str(server.ipython_dir),
        JUPYTER_CONFIG_DIR=str(server.config_dir),
        JUPYTER_DATA_DIR=str(server.state_dir / "data"),
        JUPYTER_RUNTIME_DIR=str(server.state_dir / "runtime"),
        PYDEVD_DISABLE_FILE_VALIDATION="1",  # quiets the debugger's warning in the log
    )
    env.update(variables)
    return env


def _write_settings(config_dir: Path) -> None:
    for plugin, values in LAB_SETTINGS.items():
        path = config_dir / "lab" / "user-settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(server: JupyterServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter {server.frontend} exited:\n{server.log.read_text()}")
        try:
            server.api("GET", "status")
            return
        except httpx.HTTPError:
            time.sleep(POLL)
    raise RuntimeError(f"jupyter {server.frontend} did not answer:\n{server.log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the server then shuts its kernels down), SIGKILL if it does not exit."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(SERVER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


@dataclass(frozen=True)
class VoilaServer(ServerFolders):
    """A running Voila app of one notebook (the same folders as a JupyterServer's, for
    ``_server_env``)."""

    @property
    def connection_dir(self) -> Path:
        return self.state_dir / "connections"

    @property
    def log(self) -> Path:
        return self.state_dir / "voila.log"

    @property
    def page_url(self) -> str:
        return f"{self.base_url}/?token={self.token}"


@contextmanager
def voila_server(
    notebook: Path, state_dir: Path, variables: dict[str, str]
) -> Iterator[VoilaServer]:
    """Serve a copy of ``notebook`` with ``voila`` on loopback until the block ends; its kernels
    see ``variables`` and none of this process's NBAUTH_* variables. Everything Voila and its
    kernels write (the copy, connection files, IPython history, Jupyter's folders, its log) lands
    under ``state_dir``. The block's end stops it (SIGTERM: its kernels shut down and close their
    history), so a leak check after the block reads all of it."""
    port, token = _free_port(), secrets.token_hex(16)
    server = VoilaServer(f"http://127.0.0.1:{port}", token, state_dir)
    server.root_dir.mkdir(parents=True)
    server.connection_dir.mkdir()
    copy = server.root_dir / notebook.name
    shutil.copyfile(notebook, copy)
    command = [
        sys.executable,
        "-m",
        "voila",
        str(copy),
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        f"--port={port}",
        "--Voila.port_retries=0",
        f"--Voila.token={token}",
        f"--Voila.connection_dir_root={server.connection_dir}",
    ]
    with server.log.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=server.root_dir,
            env=_server_env(server, variables),  # it has a JupyterServer's folders
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_voila(server, process)
        yield server
    finally:
        _stop(process)


def _wait_for_voila(server: VoilaServer, process: subprocess.Popen[bytes]) -> None:
    """Until Voila serves its static files (asking for the page would start a kernel)."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"voila exited:\n{server.log.read_text()}")
        try:
            if httpx.get(f"{server.base_url}/voila/static/voila.js").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(POLL)
    raise RuntimeError(f"voila did not answer:\n{server.log.read_text()}")


def write_notebook(path: Path, *sources: str) -> None:
    cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def open_notebook(page: Page, server: JupyterServer, notebook: str) -> None:
    """Open ``notebook`` and wait until its kernel is idle, on the server and on the page.

    Notebook 7's execution indicator says "idle" for a moment before the kernel even starts,
    so the page's word counts only once the server has the session's kernel.
    """
    page.goto(server.page_url(notebook))
    page.locator(".jp-Notebook").wait_for()
    deadline = time.monotonic() + KERNEL_START_TIMEOUT
    while server.kernel_state(notebook) != "idle":
        if time.monotonic() > deadline:
            raise TimeoutError(f"the kernel of {notebook} did not start")
        time.sleep(POLL)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status=idle]").wait_for()


def run_cells(page: Page, count: int) -> None:
    """Run the notebook's ``count`` cells from the keyboard, each once the one before has its
    execution count: Shift+Enter runs a cell and selects the next; the last runs with
    Ctrl+Enter, which does not add an empty cell below it."""
    prompts = page.locator(".jp-Cell .jp-InputPrompt")
    prompts.first.click()
    for number in range(1, count + 1):
        page.keyboard.press("Shift+Enter" if number < count else "ControlOrMeta+Enter")
        prompts.nth(number - 1).filter(has_text=f"[{number}]").wait_for()


def field(page: Page, label: str) -> Locator:
    """The login form's visible input labelled ``label``."""
    return page.get_by_label(label, exact=True).filter(visible=True)


def password_field(page: Page) -> Locator:
    return page.locator("input[type=password]").filter(visible=True)


def status_line(page: Page, showing: str) -> Locator:
    """The form's status line once it shows ``showing``."""
    status = page.locator(".widget-html", has_text=showing)
    status.wait_for()
    return status


def log_in(page: Page, username: str, password: str) -> None:
    field(page, "Username").fill(username)
    password_field(page).fill(password)
    click_log_in(page)


def click_log_in(page: Page) -> None:
    page.get_by_role("button", name="Log in", exact=True).click()


def save_notebook(page: Page, path: Path, showing: str) -> None:
    """Save with the keyboard from the first cell, and wait until the file on disk shows
    ``showing``."""
    page.locator(".jp-Cell .jp-InputPrompt").first.click()
    page.keyboard.press("ControlOrMeta+s")
    deadline = time.monotonic() + SAVE_TIMEOUT
    while showing not in path.read_text():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path.name} on disk never showed {showing!r}")
        time.sleep(POLL)


#: What is cut in the widgets on the page: a label, a button, a dropdown's choice, or an input's
#: value or placeholder wider than the room it has. Text is measured in the element's own font
#: (a canvas), since an input's or a select's scrollWidth does not count a placeholder or a
#: choice. Only what is shown counts (a hidden field's label has no width).
CUT_TEXT_JS = """
() => {
  const canvas = document.createElement("canvas").getContext("2d");
  const width = (el, text) => {
    const s = getComputedStyle(el);
    canvas.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
    return canvas.measureText(text).width;
  };
  const room = (el) => {
    const s = getComputedStyle(el);
    return el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
  };
  const shown = (el) =>
    el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const all = (...selectors) =>
    [...document.querySelectorAll(selectors.map((s) => `.jp-OutputArea-output ${s}`).join())]
      .filter(shown);
  const cut = [];
  const note = (kind, text, need, have) => {
    if (need > have + 0.5) {
      cut.push(`${kind} '${text}': needs ${Math.ceil(need)} px, has ${Math.floor(have)}`);
    }
  };
  for (const el of all(".widget-label", ".jupyter-widget-label", "button")) {
    const text = el.textContent.trim();
    const kind = el.tagName === "BUTTON" ? "button" : "label";
    if (text) note(kind, text, el.scrollWidth, el.clientWidth);
  }
  for (const el of all("select")) {
    for (const option of el.options) {
      note("choice", option.text, width(el, option.text) + 16, room(el));  // 16: the arrow
    }
  }
  for (const el of all("input[type=text]", "input[type=password]")) {
    if (el.placeholder) note("placeholder", el.placeholder, width(el, el.placeholder), room(el));
    if (el.value && el.type === "text") note("value", el.value, el.scrollWidth, el.clientWidth);
  }
  for (const el of all(".widget-html-content", ".jupyter-widget-html-content")) {
    const text = el.textContent.trim();
    if (text) note("text", text, el.scrollWidth, el.clientWidth);
  }
  return cut;
}
"""


def cut_text(page: Page) -> list[str]:
    """Every label, button, choice, value and placeholder of the page's widgets that does not
    fit, each with the width it needs and has (empty when all are whole)."""
    return list(page.evaluate(CUT_TEXT_JS))


def text_fits(page: Page, field: Locator, text: str) -> bool:
    """Whether ``text`` would show whole in ``field`` (measured, never typed)."""
    return bool(
        field.evaluate(
            """(el, text) => {
                const s = getComputedStyle(el);
                const canvas = document.createElement("canvas").getContext("2d");
                canvas.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
                const padding = parseFloat(s.paddingLeft) + parseFloat(s.paddingRight);
                return canvas.measureText(text).width <= el.clientWidth - padding;
            }""",
            text,
        )
    )


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path)
    return path


@contextmanager
def screenshot_on_failure(page: Page, name: str) -> Iterator[None]:
    """A ``<name>-failed.png`` of the page when the block raises, to see what went wrong."""
    try:
        yield
    except BaseException:
        screenshot(page, f"{name}-failed")
        raise
