"""Take a ``%login`` line that held a credential out of IPython's history and log.

IPython stores a cell before running it, so by the time ``%login`` sees a
password (or a share URL) on its line, copies of that line are already kept in
six places: the ``In``/``_ih`` lists (parsed and raw), the ``_iN`` variable and
the history manager's ``_i00``, the running cell's ``ExecutionInfo``, the
SQLite history database, which a background thread writes from a cache, and,
while ``%logstart`` is on, IPython's log file (``ipython_log.py`` or the file
named), written and flushed before the cell runs. ``scrub_current_cell``
rewrites every copy of the current cell, replacing each line that calls
``%login`` with a comment.

Nothing here can reach the notebook file or what the front end already
received; the error that follows tells the person to delete the line there.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from typing import Any

__all__ = ["PLACEHOLDER", "scrub_current_cell"]

PLACEHOLDER = "# (nbauth removed a %login line here: it held, or may have held, a credential)"
LOGIN_LINE = re.compile(r"%login\b|run_line_magic\(\s*['\"]login['\"]")


def scrub(text: str) -> str:
    """``text`` with every line that calls ``%login`` replaced by the placeholder."""
    lines = text.split("\n")
    return "\n".join(
        line[: len(line) - len(line.lstrip())] + PLACEHOLDER if LOGIN_LINE.search(line) else line
        for line in lines
    )


def scrub_current_cell(shell: Any) -> list[str]:
    """Remove the running cell's ``%login`` lines from every history IPython keeps, and from
    its log file while ``%logstart`` is on.

    Returns what could not be rewritten (the history database when it is read-only or
    locked, the log file when it cannot be read back), each named with its path: empty when
    every copy was cleaned.
    """
    history = getattr(shell, "history_manager", None)
    if history is None:
        return []
    number = _cell_number(shell, history)
    # What the log got is the cell as it ran; take it before the copies below are rewritten.
    logged = _cell_texts(shell, history)
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
    failed = []
    if not _scrub_database(history, number):
        failed.append(f"the history database ({getattr(history, 'hist_file', '?')})")
    log_failure = _scrub_log(getattr(shell, "logger", None), logged)
    if log_failure:
        failed.append(log_failure)
    return failed


def log_file(shell: Any) -> str | None:
    """The IPython log file ``%logstart`` writes to, None when no log is open."""
    logger = getattr(shell, "logger", None)
    if logger is None or getattr(logger, "logfile", None) is None:
        return None
    return os.path.abspath(str(logger.logfname))


def _running_result(shell: Any) -> Any:
    return getattr(getattr(shell, "displayhook", None), "exec_result", None)


def _cell_number(shell: Any, history: Any) -> int:
    """The running cell's number (IPython 9 counts it up before the cell runs, 8 after)."""
    number = getattr(_running_result(shell), "execution_count", None)
    return number if isinstance(number, int) else len(history.input_hist_raw) - 1


def _cell_texts(shell: Any, history: Any) -> list[str]:
    """The running cell as IPython may have logged it: transformed and raw (the log holds one
    of them, by ``%logstart -r``), from the running cell, else from the history lists."""
    info = getattr(_running_result(shell), "info", None)
    texts = [getattr(info, name, None) for name in ("transformed_cell", "raw_cell")]
    for name in ("input_hist_parsed", "input_hist_raw"):
        entries = getattr(history, name, None)
        texts.append(entries[-1] if entries else None)
    return [text for text in texts if isinstance(text, str) and LOGIN_LINE.search(text)]


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


def _scrub_log(logger: Any, logged: list[str]) -> str | None:
    """Rewrite the last copy of the running cell in the open ``%logstart`` file.

    IPython wrote the cell (transformed, or raw with ``-r``; after a timestamp comment with
    ``-t``) and flushed it before the cell ran; ``-o`` adds outputs after it, which a refused
    line has none of. The file is rewritten in place, through a second handle on the same
    file, and IPython's own handle is moved to its new end. None when it worked or nothing
    was logged; else what could not be cleaned, with its path.
    """
    handle = getattr(logger, "logfile", None)
    if handle is None or not logged:
        return None
    where = f"the IPython log file ({os.path.abspath(str(logger.logfname))})"
    try:
        handle.flush()
        path = _same_file(handle, str(logger.logfname))
        if path is None:
            return where
        with open(path, "r+", encoding="utf-8", newline="") as log:
            text = log.read()
            cleaned = _without_last(text, logged)
            if cleaned == text:
                return None
            log.seek(0)
            log.write(cleaned)
            log.truncate()
        with contextlib.suppress(OSError, ValueError):
            handle.seek(0, os.SEEK_END)
    except (OSError, UnicodeError):
        return where
    return None


def _same_file(handle: Any, name: str) -> str | None:
    """A path that opens the file ``handle`` writes to: its name, or (when the working folder
    changed since ``%logstart``) the process's own link to the descriptor; None when neither is
    that very file."""
    opened = os.fstat(handle.fileno())
    for path in (name, f"/proc/self/fd/{handle.fileno()}"):
        with contextlib.suppress(OSError):
            found = os.stat(path)
            if (found.st_dev, found.st_ino) == (opened.st_dev, opened.st_ino):
                return path
    return None


def _without_last(text: str, logged: list[str]) -> str:
    """``text`` with its last copy of the cell scrubbed: the latest of the candidates found."""
    best = max(((text.rfind(cell), cell) for cell in logged), key=lambda found: found[0])
    start, cell = best
    if start < 0:
        return text
    return text[:start] + scrub(cell) + text[start + len(cell) :]
