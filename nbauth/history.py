"""Take a ``%login`` line that held a password out of IPython's history.

IPython stores a cell before running it, so by the time ``%login`` sees a
password on its line, copies of that line are already kept in five places:
the ``In``/``_ih`` lists (parsed and raw), the ``_iN`` variable and the
history manager's ``_i00``, the running cell's ``ExecutionInfo``, and the
SQLite history database, which a background thread writes from a cache.
``scrub_current_cell`` rewrites every copy of the current cell, replacing each
line that calls ``%login`` with a comment.

Nothing here can reach the notebook file or what the front end already
received; the error that follows tells the person to delete the line there.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

__all__ = ["PLACEHOLDER", "scrub_current_cell"]

PLACEHOLDER = "# (nbauth removed a %login line here: it held a password)"
LOGIN_LINE = re.compile(r"%login\b|run_line_magic\(\s*['\"]login['\"]")


def scrub(text: str) -> str:
    """``text`` with every line that calls ``%login`` replaced by the placeholder."""
    lines = text.split("\n")
    return "\n".join(
        line[: len(line) - len(line.lstrip())] + PLACEHOLDER if LOGIN_LINE.search(line) else line
        for line in lines
    )


def scrub_current_cell(shell: Any) -> bool:
    """Remove the running cell's ``%login`` lines from every history IPython keeps.

    False when the history database could not be rewritten (read-only, locked).
    """
    history = getattr(shell, "history_manager", None)
    if history is None:
        return True
    number = _cell_number(shell, history)
    for name in ("input_hist_parsed", "input_hist_raw"):
        entries = getattr(history, name)
        if entries and LOGIN_LINE.search(entries[-1]):
            entries[-1] = scrub(entries[-1])
    if LOGIN_LINE.search(history._i00 or ""):
        history._i00 = scrub(history._i00)
    key = f"_i{number}"
    if LOGIN_LINE.search(str(shell.user_ns.get(key, ""))):
        shell.user_ns[key] = scrub(shell.user_ns[key])
    _scrub_running_cell(shell)
    return _scrub_database(history, number)


def _running_result(shell: Any) -> Any:
    return getattr(getattr(shell, "displayhook", None), "exec_result", None)


def _cell_number(shell: Any, history: Any) -> int:
    """The running cell's number (IPython 9 counts it up before the cell runs, 8 after)."""
    number = getattr(_running_result(shell), "execution_count", None)
    return number if isinstance(number, int) else len(history.input_hist_raw) - 1


def _scrub_running_cell(shell: Any) -> None:
    info = getattr(_running_result(shell), "info", None)
    for name in ("raw_cell", "transformed_cell"):
        text = getattr(info, name, None)
        if isinstance(text, str) and LOGIN_LINE.search(text):
            setattr(info, name, scrub(text))


def _scrub_database(history: Any, number: int) -> bool:
    """Fix the entry in the write cache, or the row the saving thread already wrote.

    The thread writes and empties the cache while holding the cache lock, so
    under that lock the entry is in exactly one of the two places.
    """
    if not history.enabled:
        return True
    with history.db_input_cache_lock:
        history.db_input_cache = [
            (line, scrub(source), scrub(raw)) if line == number else (line, source, raw)
            for line, source, raw in history.db_input_cache
        ]
        try:
            with history.db:
                rows = history.db.execute(
                    "SELECT source, source_raw FROM history WHERE session = ? AND line = ?",
                    (history.session_number, number),
                ).fetchall()
                for source, raw in rows:
                    history.db.execute(
                        "UPDATE history SET source = ?, source_raw = ? "
                        "WHERE session = ? AND line = ?",
                        (scrub(source), scrub(raw), history.session_number, number),
                    )
        except sqlite3.Error:
            return False
    return True
