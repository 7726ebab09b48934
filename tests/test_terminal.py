"""nbauth in terminal IPython: a real pseudo-terminal driven with pexpect, and a stdin that is
not a terminal.

test_magics.py fakes the person with monkeypatched input/getpass; here the prompts go through a
real tty, so what it echoes and what IPython's history file keeps are the real thing. The
terminal is where history matters most: it persists across sessions.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import figures
import pexpect
import pytest

from nbauth.history import CELL_PLACEHOLDER, PLACEHOLDER

PROMPT = r"In \[\d+\]: "


def terminal_env(tmp: Path) -> dict[str, str]:
    """This process's environment without NBAUTH_*, with private IPython and nbauth folders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAUTH_")}
    env.update(
        IPYTHONDIR=str(tmp / "ipython"),
        NBAUTH_CONFIG_DIR=str(tmp / "nbauth-config"),
        TERM="dumb",
    )
    return env


class Terminal:
    """IPython in a pseudo-terminal, with everything it wrote kept in ``transcript``."""

    def __init__(self, tmp: Path) -> None:
        self.hist_file = tmp / "history.sqlite"
        self.transcript = io.StringIO()
        self.child = pexpect.spawn(
            sys.executable,
            [
                "-m",
                "IPython",
                "--simple-prompt",
                "--no-banner",
                "--colors=NoColor",
                f"--HistoryManager.hist_file={self.hist_file}",
            ],
            env=terminal_env(tmp),
            cwd=str(tmp),
            encoding="utf-8",
            timeout=10,
            dimensions=(50, 200),
        )
        self.child.logfile_read = self.transcript
        self.child.expect(PROMPT)

    def run(self, line: str) -> str:
        """Type ``line``, wait for the next prompt, and return what came after the echo."""
        self.child.sendline(line)
        self.child.expect_exact(line)
        self.child.expect(PROMPT)
        return str(self.child.before)

    def close(self) -> None:
        if self.child.isalive():
            self.child.close(force=True)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    """A fresh IPython (about 0.3 s) for each test, so one test's failure cannot leave the next
    one a terminal in an odd state."""
    term = Terminal(tmp_path)
    try:
        term.run("%load_ext nbauth")
        yield term
    finally:
        term.close()


def test_the_terminal_prompts_for_the_password_unechoed_then_the_code(terminal, sandbox):
    child = terminal.child
    password = sandbox.user("couchdrop", "bob").password
    line = f"%login couchdrop --url {sandbox.urls['couchdrop']} -u bob"
    child.sendline(line)
    child.expect_exact(line)
    child.expect_exact("Couchdrop password: ")
    child.sendline(password)
    child.expect_exact("Couchdrop two-factor code: ")
    assert password not in str(child.before)  # what came between the two prompts
    code = sandbox.totp("couchdrop", "bob")
    child.sendline(code)
    child.expect_exact("Logged in to Couchdrop")
    child.expect(PROMPT)
    after = str(child.before)
    assert "as bob" in after
    assert re.search(r"Profile:\s+username +bob\b", after)  # the profile card, as text
    shown = terminal.transcript.getvalue()
    assert password not in shown and code not in shown  # getpass turned the tty's echo off


def test_a_password_on_the_line_is_refused_and_kept_out_of_the_history_file(terminal):
    canary = "Terminal-Canary-1"
    shown = terminal.run(f"%login couchdrop -u alice -p {canary}")
    assert "UsageError: %login takes no password on its line" in shown
    assert "removed from this kernel's history" in shown
    assert "Traceback" not in shown
    assert canary not in shown  # the tty echoed the typed line; the message does not repeat it
    terminal.child.sendline("exit")
    terminal.child.expect(pexpect.EOF)
    terminal.child.close()
    assert terminal.child.exitstatus == 0
    with sqlite3.connect(terminal.hist_file) as db:
        rows = db.execute("SELECT source_raw FROM history").fetchall()
    lines = [raw for (raw,) in rows]
    assert "%load_ext nbauth" in lines  # the session was saved to this file
    assert PLACEHOLDER in lines
    assert not any(canary in raw for raw in lines)
    assert canary.encode() not in terminal.hist_file.read_bytes()


def test_without_a_terminal_it_fails_at_once_naming_the_variables(tmp_path):
    # stdin is a pipe that stays open: a prompt would wait on it until the timeout.
    read_end, write_end = os.pipe()
    started = time.monotonic()
    try:
        done: Any = subprocess.run(
            [
                sys.executable,
                "-m",
                "IPython",
                "--simple-prompt",
                "--no-banner",
                f"--HistoryManager.hist_file={tmp_path / 'history.sqlite'}",
                "-c",
                "%load_ext nbauth\n%login couchdrop",
            ],
            stdin=read_end,
            capture_output=True,
            text=True,
            env=terminal_env(tmp_path),
            cwd=str(tmp_path),
            timeout=20,
        )
    finally:
        os.close(read_end)
        os.close(write_end)
    assert time.monotonic() - started < 15
    shown = done.stdout + done.stderr
    assert "stdin is not a terminal" in shown
    assert "NBAUTH_COUCHDROP_USERNAME" in shown and "NBAUTH_COUCHDROP_PASSWORD" in shown
    assert "Couchdrop username: " not in shown and "Couchdrop password: " not in shown
    assert done.returncode != 0


def test_suspect_lines_leave_no_copy_in_the_history_file_or_the_logstart_log(terminal, tmp_path):
    """A terminal with %logstart on (outputs and timestamps too): lines shlex cannot split, and a
    password glued to its option, are refused without a traceback or a quote of the line, and
    neither the history file nor the log keeps them."""
    canaries = [f"Canary{secrets.token_hex(6)}" for _ in range(3)]
    log = tmp_path / "session-log.py"
    terminal.run(f"%logstart -o -t {log}")
    terminal.run("before = 1")
    lines = [
        f"%login couchdrop -u alice -p it's{canaries[0]}",
        f'%login couchdrop -u alice --password "{canaries[1]}',
        f"%login couchdrop -u alice -p{canaries[2]}",
    ]
    for line in lines:
        shown = terminal.run(line)
        assert "UsageError: %login takes no password on its line" in shown
        assert "and from the IPython log" in shown
        assert "Traceback" not in shown and "ValueError" not in shown
        assert not any(canary in shown for canary in canaries)  # after the tty's own echo
    for line in ('%logout "x', "%whoami 'x", '%nbauth ls "couchdrop:/x'):
        shown = terminal.run(line)
        assert "UsageError: " in shown and "a quote on it is not closed" in shown
        assert "Traceback" not in shown and "ValueError" not in shown
    terminal.run("after = 2")
    terminal.child.sendline("exit")
    terminal.child.expect(pexpect.EOF)
    terminal.child.close()
    assert terminal.child.exitstatus == 0
    logged = log.read_bytes()
    assert b"before = 1" in logged and b"after = 2" in logged
    assert logged.count(PLACEHOLDER.encode()) == len(lines)
    history = terminal.hist_file.read_bytes()
    assert b"before = 1" in history
    for canary in canaries:
        assert canary.encode() not in logged
        assert canary.encode() not in history
    figures.add("canary checks: %login lines (history, messages, log files)", 2 * len(lines))
    figures.add("canary hits", 0)


def test_login_lines_without_their_percent_leave_no_copy_in_the_history_file_or_a_raw_log(
    terminal, tmp_path
):
    """Automagic (``login ...``), an ``%alias_magic`` alias, and a %login line continued with a
    backslash on the next prompt line: refused, and neither the history file nor a raw
    (``%logstart -r``) log keeps what was typed."""
    canaries = [f"Canary{secrets.token_hex(6)}" for _ in range(4)]
    log = tmp_path / "raw-log.py"
    terminal.run(f"%logstart -r {log}")
    terminal.run("%alias_magic lg login")
    terminal.run("before = 1")
    for line in (
        f"login couchdrop -u alice -p{canaries[0]}",
        f"%lg couchdrop -u alice --password={canaries[1]}",
        f"lg couchdrop -p{canaries[2]}",
    ):
        shown = terminal.run(line)
        assert "UsageError: %login takes no password on its line" in shown
        assert "and from the IPython log" in shown
    child = terminal.child
    child.sendline("%login couchdrop -u alice \\")
    child.expect_exact("...:")
    child.sendline(f"  --password {canaries[3]}")
    child.expect(PROMPT)
    assert "UsageError: %login takes no password on its line" in str(child.before)
    terminal.run("after = 2")
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    logged = log.read_bytes()
    history = terminal.hist_file.read_bytes()
    assert b"before = 1" in logged and b"after = 2" in logged and b"before = 1" in history
    assert logged.count(PLACEHOLDER.encode()) == 3  # the lines
    assert logged.count(CELL_PLACEHOLDER.encode()) == 1  # the cell of two lines, whole
    for canary in canaries:
        assert canary.encode() not in logged
        assert canary.encode() not in history
    figures.add("canary checks: %login lines (history, messages, log files)", 2 * len(canaries))
    figures.add("canary hits", 0)
