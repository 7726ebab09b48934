"""Take a ``%login`` line that held a credential out of IPython's history and log.

IPython stores a cell before running it, so by the time ``%login`` sees a
password (or a share URL) on its line, copies of that line are already kept in
six places: the ``In``/``_ih`` lists (parsed and raw), the ``_iN`` variable and
the history manager's ``_i00``, the running cell's ``ExecutionInfo``, the
SQLite history database, which a background thread writes from a cache, and,
while ``%logstart`` is on, IPython's log file (``ipython_log.py`` or the file
named), written and flushed before the cell runs. ``scrub_current_cell``
rewrites every copy of the current cell.

The parsed copies (``In``, the database's ``source``, a log without ``-r``) are
Python: each logical line that calls the magic (``run_line_magic('login', ...)``,
a backslash-continued or bracketed call included) is replaced with a comment,
and the rest of the cell kept. The raw copies (``_iN``, ``_i00``, the running
cell's ``raw_cell``, the database's ``source_raw``, a ``%logstart -r`` log) hold
what was typed, in which a line cannot be told for sure (``login ...`` without
``%`` under IPython's automagic, a ``%lg`` alias made with ``%alias_magic``, a
line continued with a backslash): the whole cell is replaced.

Nothing here can reach the notebook file or what the front end already
received; the error that follows tells the person to delete the line there.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sqlite3
import tokenize
from collections.abc import Callable
from typing import Any

__all__ = ["CELL_PLACEHOLDER", "PLACEHOLDER", "login_line", "scrub", "scrub_current_cell"]

PLACEHOLDER = "# (nbauth removed a %login line here: it held, or may have held, a credential)"
#: What replaces a whole cell of several lines (its raw copies): a cell of one line becomes
#: PLACEHOLDER.
CELL_PLACEHOLDER = (
    "# (nbauth removed this cell: a %login line in it held, or may have held, a credential)"
)
#: A line that calls ``%login`` by its own name, escaped or through ``run_line_magic``. A
#: shell's own pattern (``login_line``) adds its aliases and, under automagic, a bare name.
LOGIN_LINE = re.compile(r"%login(?![\w.])|run_line_magic\(\s*['\"]login['\"]", re.MULTILINE)


def login_line(shell: Any) -> re.Pattern[str]:
    """The pattern of a line that calls ``%login`` in ``shell``: by its name or the name of any
    ``%alias_magic`` alias that leads to it (``shell.magics_manager.magics['line']``), with
    ``%``, through ``run_line_magic``, or (while IPython's automagic is on) bare at the start
    of a line."""
    names = sorted(_login_names(shell))
    either = "|".join(re.escape(name) for name in names)
    parts = [rf"%(?:{either})(?![\w.])", rf"run_line_magic\(\s*['\"](?:{either})['\"]"]
    if getattr(shell, "automagic", False) is True:
        parts.append(rf"^\s*(?:{either})(?:\s|$)")
    return re.compile("|".join(parts), re.MULTILINE)


def _login_names(shell: Any) -> set[str]:
    """``login`` and the line magics that are aliases of it, directly or through another."""
    names = {"login"}
    try:
        from IPython.core.magic import MagicAlias

        magics = dict(shell.magics_manager.magics["line"])
    except (AttributeError, ImportError, KeyError, TypeError):
        return names
    aliases = {
        name: magic.magic_name
        for name, magic in magics.items()
        if isinstance(magic, MagicAlias) and magic.magic_kind == "line" and isinstance(name, str)
    }
    grown = True
    while grown:
        found = {name for name, target in aliases.items() if target in names}
        grown = not found <= names
        names |= found
    return names


def scrub(text: str, pattern: re.Pattern[str] = LOGIN_LINE) -> str:
    """A parsed (Python) cell with each logical line that calls ``%login`` replaced by the
    placeholder, its continuation lines too (a backslash, brackets or a string over several
    lines make one logical line of several); the whole cell when no line can be told (none
    matches, or the text is not Python that ``tokenize`` reads)."""
    lines = text.split("\n")
    spans = _logical_lines(text) if pattern.search(text) else None
    if spans is None:
        return whole(text)
    covered = {number for first, last in spans for number in range(first, last + 1)}
    spans += [(number, number) for number in range(len(lines)) if number not in covered]
    gone = [
        (first, last) for first, last in spans if pattern.search("\n".join(lines[first : last + 1]))
    ]
    if not gone:
        return whole(text)
    starts = {first for first, _ in gone}
    dropped = {number for first, last in gone for number in range(first, last + 1)}
    kept = []
    for number, line in enumerate(lines):
        if number not in dropped:
            kept.append(line)
        elif number in starts:  # one placeholder per logical line, its continuation dropped
            kept.append(line[: len(line) - len(line.lstrip())] + PLACEHOLDER)
    return "\n".join(kept)


def whole(text: str) -> str:
    """What replaces a whole cell: the placeholder (the cell's own trailing newline kept)."""
    body = text.rstrip("\n")
    shown = PLACEHOLDER if "\n" not in body else CELL_PLACEHOLDER
    return shown + text[len(body) :]


def _logical_lines(text: str) -> list[tuple[int, int]] | None:
    """The (first, last) physical line numbers (from 0) of each logical line of Python
    ``text``: a line continued by a backslash, a bracket or a multi-line string is one. None
    when ``tokenize`` cannot read it."""
    spans = []
    first: int | None = None
    skip = {tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                if first is not None:
                    spans.append((first, token.end[0] - 1))
                first = None
            elif token.type not in skip and first is None:
                first = token.start[0] - 1
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None
    return spans


def scrub_current_cell(shell: Any) -> list[str]:
    """Remove the running cell's ``%login`` lines from every history IPython keeps, and from
    its log file while ``%logstart`` is on: line by line in the parsed copies, the whole cell
    in the raw ones (see the module's text).

    Returns what could not be rewritten (the history database when it is read-only or
    locked, the log file when it cannot be read back), each named with its path: empty when
    every copy was cleaned.
    """
    history = getattr(shell, "history_manager", None)
    if history is None:
        return []
    pattern = login_line(shell)
    number = _cell_number(shell, history)
    ours = _holds_the_cell(shell, history, pattern)

    def parsed(text: str) -> str:
        return scrub(text, pattern)

    # What the log got is the cell as it ran; take it before the copies below are rewritten.
    logged = _logged_texts(shell, history, pattern, parsed)
    if ours:
        history.input_hist_parsed[-1] = parsed(history.input_hist_parsed[-1])
        history.input_hist_raw[-1] = whole(history.input_hist_raw[-1])
        if isinstance(history._i00, str):
            history._i00 = whole(history._i00)
        key = f"_i{number}"
        if isinstance(shell.user_ns.get(key), str):
            shell.user_ns[key] = whole(shell.user_ns[key])
    if not _scrub_running_cell(shell, pattern, parsed) and ours:
        _scrub_when_done(shell, parsed)
    failed = []
    if ours and not _scrub_database(history, number, parsed):
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
    """The stored cell's number (IPython 9 counts it up before the cell runs, 8 after): the
    running cell's, unless that one is not stored (the body ``%%capture`` runs as a cell)."""
    running = _running_result(shell)
    number = getattr(running, "execution_count", None)
    stored = getattr(getattr(running, "info", None), "store_history", False) is True
    return number if isinstance(number, int) and stored else len(history.input_hist_raw) - 1


def _holds_the_cell(shell: Any, history: Any, pattern: re.Pattern[str]) -> bool:
    """Whether the history's last entry is the cell that called ``%login``: it calls the magic
    by a name the pattern knows, or it is the running cell (which then called it some other
    way: ``run_line_magic(name, ...)`` with the name in a variable)."""
    raw, parsed = (getattr(history, name, None) for name in ("input_hist_raw", "input_hist_parsed"))
    if not raw or not parsed or not isinstance(raw[-1], str) or not isinstance(parsed[-1], str):
        return False
    if pattern.search(raw[-1]) or pattern.search(parsed[-1]):
        return True
    info = getattr(_running_result(shell), "info", None)
    cell = getattr(info, "raw_cell", None)
    return bool(getattr(info, "store_history", False)) and (
        isinstance(cell, str) and cell.rstrip("\n") == raw[-1]
    )


def _logged_texts(
    shell: Any, history: Any, pattern: re.Pattern[str], parsed: Callable[[str], str]
) -> list[tuple[str, str]]:
    """The running cell as IPython logged it, each with what replaces it: raw with
    ``%logstart -r`` (the whole cell goes), else as transformed (its %login lines go); from
    the running cell, else from the history lists."""
    logger = getattr(shell, "logger", None)
    if getattr(logger, "logfile", None) is None:
        return []
    raw_log = getattr(logger, "log_raw_input", False) is True
    info = getattr(_running_result(shell), "info", None)
    name = "raw_cell" if raw_log else "transformed_cell"
    texts = [getattr(info, name, None)]
    entries = getattr(history, "input_hist_raw" if raw_log else "input_hist_parsed", None)
    if entries and _holds_the_cell(shell, history, pattern):
        texts.append(entries[-1])
    replace = whole if raw_log else parsed
    return [(text, replace(text)) for text in texts if isinstance(text, str) and text.strip()]


def _scrub_running_cell(shell: Any, pattern: re.Pattern[str], parsed: Callable[[str], str]) -> bool:
    """The running cell's ``ExecutionInfo``: its raw cell whole, its transformed one line by
    line. Left alone when it neither calls the magic by a known name nor is stored in the
    history (a cell run by another, as ``%%capture`` does, is not the one that called it).
    Whether the running cell is the one the history stored."""
    info: Any = getattr(_running_result(shell), "info", None)
    raw = getattr(info, "raw_cell", None)
    transformed = getattr(info, "transformed_cell", None)
    if info is None or not isinstance(raw, str):
        return False
    named = pattern.search(raw) or (isinstance(transformed, str) and pattern.search(transformed))
    stored = getattr(info, "store_history", False) is True
    if named or stored:
        info.raw_cell = whole(raw)
        if isinstance(transformed, str):
            info.transformed_cell = parsed(transformed)
    return stored


def _scrub_when_done(shell: Any, parsed: Callable[[str], str]) -> None:
    """Scrub the ``ExecutionInfo`` of the stored cell when it ends: the cell ``%login`` ran in
    was another's (``%%capture`` runs its body as a cell of its own), so the stored one's is
    out of reach until then."""
    events = getattr(shell, "events", None)
    if events is None:
        return

    def after(result: Any) -> None:
        info: Any = getattr(result, "info", None)
        if getattr(info, "store_history", False) is not True:
            return  # the inner cell's end: the stored one is still running
        with contextlib.suppress(ValueError):
            events.unregister("post_run_cell", after)
        if isinstance(info.raw_cell, str):
            info.raw_cell = whole(info.raw_cell)
        if isinstance(info.transformed_cell, str):
            info.transformed_cell = parsed(info.transformed_cell)

    events.register("post_run_cell", after)


def _scrub_database(history: Any, number: int, parsed: Callable[[str], str]) -> bool:
    """Fix the entry in the write cache, or the row the saving thread already wrote: its
    ``source`` (parsed) line by line, its ``source_raw`` whole.

    The thread writes and empties the cache while holding the cache lock, so
    under that lock the entry is in exactly one of the two places.
    """
    if not history.enabled:
        return True
    with history.db_input_cache_lock:
        history.db_input_cache = [
            (line, parsed(source), whole(raw)) if line == number else (line, source, raw)
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
                        (parsed(source), whole(raw), history.session_number, number),
                    )
        except sqlite3.Error:
            return False
    return True


def _scrub_log(logger: Any, logged: list[tuple[str, str]]) -> str | None:
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


def _without_last(text: str, logged: list[tuple[str, str]]) -> str:
    """``text`` with the last copy of each candidate replaced, the longest first. A candidate
    inside a longer one (the cell ``%%capture`` runs, inside the cell that holds it) is
    replaced only where the log holds it again after that one."""
    done: list[tuple[str, int]] = []  # (a candidate replaced, where its replacement ends)
    for cell, shown in sorted(set(logged), key=lambda pair: -len(pair[0])):
        start = text.rfind(cell)
        if start < 0:
            continue
        if any(cell in longer and start < end for longer, end in done):
            continue
        text = text[:start] + shown + text[start + len(cell) :]
        done = [
            (longer, end if end <= start else end - len(cell) + len(shown)) for longer, end in done
        ]
        done.append((cell, start + len(shown)))
    return text
