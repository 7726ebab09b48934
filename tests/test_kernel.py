"""nbauth in real Jupyter kernels: headless with nbclient (CI, papermill), and driven over the
kernel protocol with jupyter_client the way JupyterLab does it (stdin allowed).

test_magics.py covers the logic in-process; these tests check what only a real kernel shows:
what ``allow_stdin`` really is, what travels on the iopub and stdin channels, and what a saved
notebook keeps. The kernels reach the sandbox, which serves from a thread of this process on
loopback. Each runs with its own IPYTHONDIR and NBAUTH_CONFIG_DIR and no inherited NBAUTH_*.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import nbformat
import pytest
from jupyter_client import KernelManager
from kernels import KERNEL, execute, kernel_env, text_of
from nbclient.exceptions import CellExecutionError

from nbauth.history import PLACEHOLDER

WIDGET = "application/vnd.jupyter.widget-view+json"
SERVICES = ("couchdrop", "rocketchat", "iogates")


def user_env(sandbox: Any, service: str, name: str, **extra: str) -> dict[str, str]:
    user = sandbox.user(service, name)
    prefix = f"NBAUTH_{service.upper()}_"
    values = {"URL": sandbox.urls[service], "USERNAME": user.username, "PASSWORD": user.password}
    values.update({k.upper(): v for k, v in extra.items()})
    return {prefix + key: value for key, value in values.items()}


# -- headless: nbclient ---------------------------------------------------------------------


def notebook(*sources: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def seconds_running(cell: nbformat.NotebookNode) -> float:
    """How long the kernel took over the cell: its execute_input to its execute_reply."""
    timing = cell.metadata.execution

    def moment(key: str) -> datetime:  # Python 3.10's fromisoformat does not take a "Z"
        return datetime.fromisoformat(timing[key].replace("Z", "+00:00"))

    return (moment("shell.execute_reply") - moment("iopub.execute_input")).total_seconds()


def test_nbclient_logs_in_from_the_variables_and_saves_no_secret(sandbox, tmp_path):
    issued_before = {s: len(sandbox.issued(s)) for s in SERVICES}
    nb = notebook(
        "%load_ext nbauth",
        "s = %login couchdrop",
        "%login rocketchat",
        "%login iogates",
        "%whoami",
        "%nbauth sessions",
        "%logout --all",
    )
    execute(nb, tmp_path, kernel_env(tmp_path, **sandbox.env))

    outputs = [text_of(cell) for cell in nb.cells]
    assert not any(o.output_type == "error" for c in nb.cells for o in c.outputs)
    assert "Logged in to Couchdrop" in outputs[1] and "as alice" in outputs[1]
    assert "Logged in to Rocket.Chat" in outputs[2]
    assert "Logged in to ioGates" in outputs[3]
    assert "alice" in outputs[4]  # the profile table
    assert all(alias in outputs[5] for alias in SERVICES)  # the session table
    for title in ("Couchdrop", "Rocket.Chat", "ioGates"):
        assert f"Logged out of {title}" in outputs[6]

    saved = nbformat.writes(nb)
    tokens = [t for s in SERVICES for _, t in sandbox.issued(s)[issued_before[s] :]]
    assert len(tokens) >= len(SERVICES)  # each login got a token, so the check below means it
    for secret in [sandbox.user(s, "alice").password for s in SERVICES] + tokens:
        assert secret not in saved


def test_nbclient_without_variables_fails_at_once_naming_them(tmp_path):
    nb = notebook("%load_ext nbauth", "%login couchdrop")
    with pytest.raises(CellExecutionError) as caught:
        execute(nb, tmp_path, kernel_env(tmp_path))

    error = caught.value
    assert error.ename == "UsageError"
    assert "NBAUTH_COUCHDROP_USERNAME" in error.evalue
    assert "NBAUTH_COUCHDROP_PASSWORD" in error.evalue
    assert "nobody can type it here" in error.evalue
    cell = nb.cells[1]
    assert seconds_running(cell) < 1.0
    assert not any(WIDGET in output.get("data", {}) for output in cell.outputs)  # no form


def test_nbclient_two_factor_without_the_code_variable_names_it(sandbox, tmp_path):
    nb = notebook("%load_ext nbauth", "%login couchdrop")
    env = kernel_env(tmp_path, **user_env(sandbox, "couchdrop", "bob"))
    with pytest.raises(CellExecutionError) as caught:
        execute(nb, tmp_path, env)
    assert caught.value.ename == "TwoFactorRequired"
    assert "NBAUTH_COUCHDROP_CODE" in caught.value.evalue
    assert not any(WIDGET in output.get("data", {}) for output in nb.cells[1].outputs)


def test_nbclient_two_factor_with_the_code_variable_logs_in(sandbox, tmp_path):
    nb = notebook("%load_ext nbauth", "%login couchdrop")
    code = sandbox.totp("couchdrop", "bob")
    env = kernel_env(tmp_path, **user_env(sandbox, "couchdrop", "bob", code=code))
    execute(nb, tmp_path, env)
    shown = text_of(nb.cells[1])
    assert "Logged in to Couchdrop" in shown and "as bob" in shown
    assert sandbox.user("couchdrop", "bob").password not in nbformat.writes(nb)


# -- a person at the front end: jupyter_client with allow_stdin=True -------------------------


@dataclass
class Run:
    """One executed cell: the shell reply, its iopub messages and the stdin requests made."""

    reply: dict[str, Any]
    iopub: list[dict[str, Any]]
    asked: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return str(self.reply["content"]["status"])

    @property
    def stdout(self) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.iopub
            if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
        )

    @property
    def displayed(self) -> list[dict[str, Any]]:
        kinds = ("display_data", "execute_result")
        return [m["content"]["data"] for m in self.iopub if m["msg_type"] in kinds]

    def messages_holding(self, text: str) -> list[str]:
        """The msg_types of the iopub messages that carry ``text`` anywhere."""
        return [m["msg_type"] for m in self.iopub if text in json.dumps(m, default=str)]


def run(
    kc: Any, code: str, answers: Sequence[str | Callable[[], str]] = (), timeout: float = 30
) -> Run:
    """Execute ``code`` as JupyterLab does (stdin allowed), typing ``answers`` into the input
    boxes the kernel asks for; an answer may be computed when asked. An unexpected question
    gets an empty answer, so a wrong prompt fails the cell instead of hanging it."""
    pending = list(answers)
    iopub: list[dict[str, Any]] = []
    asked: list[dict[str, Any]] = []

    def answer(msg: dict[str, Any]) -> None:
        asked.append(msg["content"])
        given = pending.pop(0) if pending else ""
        kc.input(given() if callable(given) else given)

    started = time.monotonic()
    reply = kc.execute_interactive(
        code, allow_stdin=True, timeout=timeout, output_hook=iopub.append, stdin_hook=answer
    )
    return Run(reply, iopub, asked, time.monotonic() - started)


@pytest.fixture(scope="module")
def kernel(sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One kernel for the interactive tests, with nbauth loaded and no NBAUTH_* variables."""
    tmp = tmp_path_factory.mktemp("kernel")
    km = KernelManager(kernel_name=KERNEL)
    km.start_kernel(env=kernel_env(tmp))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        assert run(kc, "%load_ext nbauth").status == "ok"
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_missing_password_shows_the_form_and_the_cell_returns(kernel, sandbox):
    result = run(kernel, f"%login rocketchat --url {sandbox.urls['rocketchat']} -u alice")
    assert result.status == "ok"
    assert result.seconds < 5  # the form is shown; the cell does not wait for its button
    assert result.asked == []
    forms = [data for data in result.displayed if WIDGET in data]
    assert len(forms) == 1
    assert "--prompt" in forms[0]["text/plain"]


def test_prompt_asks_on_the_stdin_channel_with_the_password_hidden(kernel, sandbox):
    password = sandbox.user("couchdrop", "bob").password
    codes: list[str] = []

    def code() -> str:
        codes.append(sandbox.totp("couchdrop", "bob"))
        return codes[-1]

    result = run(
        kernel,
        f"%login couchdrop --url {sandbox.urls['couchdrop']} -u bob --prompt",
        answers=[password, code],
    )
    assert result.asked == [
        {"prompt": "Couchdrop password: ", "password": True},
        {"prompt": "Couchdrop two-factor code: ", "password": True},
    ]
    assert result.status == "ok"
    assert "Logged in to Couchdrop" in result.stdout and "as bob" in result.stdout
    assert not any(WIDGET in data for data in result.displayed)
    assert result.messages_holding(password) == []
    assert result.messages_holding(codes[0]) == []


def test_a_password_on_the_line_is_refused_and_leaves_no_copy_in_the_kernel(kernel):
    canary = "SomeCanary123"
    result = run(kernel, f"%login couchdrop -u alice -p {canary}")
    assert result.status == "error"
    content = result.reply["content"]
    assert content["ename"] == "UsageError"
    assert "no password on its line" in content["evalue"]
    assert "removed from this kernel's history" in content["evalue"]
    assert canary not in json.dumps(content)
    # The front end's own code comes back as the execute_input broadcast before the kernel runs
    # it; nothing can recall that one (the form and NBAUTH_*_PASSWORD avoid it).
    assert result.messages_holding(canary) == ["execute_input"]

    number = content["execution_count"]
    check = run(
        kernel,
        "hm = get_ipython().history_manager\n"
        "hm.writeout_cache()\n"
        f"print(repr(In[{number}]), repr(_i{number}), repr(_ih[{number}]), sep='\\n')\n"
        "print(hm.hist_file)",
    )
    assert check.status == "ok"
    *copies, hist_file = check.stdout.strip().split("\n")
    assert copies == [repr(PLACEHOLDER)] * 3
    history = run(kernel, "%history -n -l 3")
    assert history.status == "ok"
    assert PLACEHOLDER in history.stdout and canary not in history.stdout
    with sqlite3.connect(hist_file) as db:
        rows = db.execute("SELECT source, source_raw FROM history").fetchall()
    assert "%load_ext nbauth" in [raw for _, raw in rows]  # the file is the kernel's history
    assert not any(canary in source + raw for source, raw in rows)
