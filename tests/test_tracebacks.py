"""No secret in a traceback a person can show: IPython's verbose traceback (``%xmode Verbose``,
which prints the frames' variables), the post-mortem debugger (``%debug``, where ``p password``,
``up`` and ``p locals()`` read any frame), and the chained exceptions of an interrupt
(``KeyboardInterrupt`` and the ``CancelledError`` behind it) during ``login_many``.

Each password is a unique canary, given to nbauth by a call (``_canary()``), never through a
variable of the cell, so whatever shows it came from nbauth's frames. A frame's locals are
searched deeply: the values, their containers and the attributes of the objects they hold.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import signal
import sys
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import figures
import pytest
from IPython.core.ultratb import VerboseTB
from IPython.utils.capture import capture_output
from kernels import KERNEL, kernel_env

import nbauth
from nbauth.secret import Secret

CANARY = "canary-tb-" + secrets.token_hex(8)


def _canary() -> str:
    return CANARY


# -- searching what a frame holds ------------------------------------------------------------


def chained(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception its ``__cause__``/``__context__`` links reach."""
    found: list[BaseException] = []
    todo = [exc]
    while todo:
        link = todo.pop()
        if all(link is not other for other in found):
            found.append(link)
            todo += [e for e in (link.__cause__, link.__context__) if e is not None]
    return found


def holding(value: Any, needles: list[str], where: str, seen: set[int], depth: int = 0) -> list:
    """``where`` for every canary found in ``value``, its items and its objects' attributes."""
    if id(value) in seen or depth > 10:
        return []
    seen.add(id(value))
    if isinstance(value, (str, bytes)):
        text = value if isinstance(value, str) else value.decode("utf-8", "replace")
        return [f"{needle} in {where}" for needle in needles if needle in text]
    if isinstance(value, (Secret, types.ModuleType, type, int, float, bool)) or value is None:
        return []  # a Secret shows a mask; modules and classes are not a frame's own data
    found = []
    if isinstance(value, dict):
        for key, item in list(value.items()):
            found += holding(key, needles, f"{where} key", seen, depth + 1)
            found += holding(item, needles, f"{where}[{key!r}]", seen, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for i, item in enumerate(list(value)):
            found += holding(item, needles, f"{where}[{i}]", seen, depth + 1)
    elif isinstance(value, types.FunctionType):
        for i, cell in enumerate(value.__closure__ or ()):
            try:
                content = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            found += holding(content, needles, f"{where}.<closure {i}>", seen, depth + 1)
    elif isinstance(value, BaseException):
        found += holding(value.args, needles, f"{where}.args", seen, depth + 1)
        found += holding(vars(value), needles, f"{where}.__dict__", seen, depth + 1)
    else:
        attributes = getattr(value, "__dict__", None)
        if isinstance(attributes, dict):
            found += holding(attributes, needles, f"{where}.__dict__", seen, depth + 1)
        for slot in getattr(type(value), "__slots__", ()):
            if isinstance(slot, str) and hasattr(value, slot):
                found += holding(getattr(value, slot), needles, f"{where}.{slot}", seen, depth + 1)
    return found


def in_frames(exc: BaseException, needles: list[str]) -> tuple[list[str], int]:
    """The canaries in any frame of ``exc`` or of an exception chained to it, and how many
    frames were searched. The caller's frames (those before nbauth's first, in ``exc``'s
    traceback: this test's, IPython's and the cell's) hold what the caller passed, which is not
    nbauth's to hide; every other frame is searched, nbauth's, asyncio's and the threads'."""
    callers = set()
    tb = exc.__traceback__
    while tb is not None and not _in_nbauth(tb.tb_frame):
        callers.add(id(tb.tb_frame))
        tb = tb.tb_next
    found, frames = [], 0
    for link in chained(exc):
        found += holding(link, needles, type(link).__name__, set())
        tb = link.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if id(frame) not in callers and frame.f_globals.get("__name__") != __name__:
                frames += 1
                name = f"{type(link).__name__}: {frame.f_code.co_name} locals"
                found += holding(dict(frame.f_locals), needles, name, set())
            tb = tb.tb_next
    return found, frames


def _in_nbauth(frame: types.FrameType) -> bool:
    return str(frame.f_globals.get("__name__", "")).split(".")[0] == "nbauth"


# -- IPython: %xmode Verbose and %debug ------------------------------------------------------

#: What a person types into the post-mortem debugger, at the frame where it stops and at every
#: frame above it.
LOOK = ["p password", "p args", "p kwargs", "p locals()", "p self.__dict__"]
UP, DOWN = [*LOOK, "up"] * 30, [*LOOK, "down"] * 30
DEBUG_SCRIPT = "\n".join(["skip_hidden False", "where", *UP, *DOWN, "q"]) + "\n"


@pytest.fixture
def verbose(ip) -> Iterator[Any]:
    ip.run_line_magic("xmode", "Verbose")
    ip.user_ns["_canary"] = _canary
    try:
        yield ip
    finally:
        ip.run_line_magic("xmode", "Context")
        ip.user_ns.pop("_canary", None)


def debugged(ip, monkeypatch) -> str:
    """What %debug prints while a person walks every frame of the last failure."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(DEBUG_SCRIPT))
    with capture_output() as shown:
        ip.InteractiveTB.pdb = None  # a debugger of its own, reading and writing these streams
        ip.run_line_magic("debug", "")
    return shown.stdout + shown.stderr


def shown_by(ip, cell: str, monkeypatch) -> tuple[BaseException, dict[str, str]]:
    """Run ``cell`` in the shell under %xmode Verbose; return its failure and what a person
    sees of it: the traceback shown, the whole verbose traceback with every frame, and the
    post-mortem debugger walking each frame."""
    with capture_output() as shown:
        result = ip.run_cell(cell)
    failure = result.error_in_exec
    assert failure is not None, shown.stdout
    etype, value, tb = sys.last_type, sys.last_value, sys.last_traceback
    assert value is failure
    texts = {
        "shown traceback": shown.stdout + shown.stderr,
        "every frame, verbose": VerboseTB(theme_name="nocolor").text(etype, value, tb),
        "%debug": debugged(ip, monkeypatch),
    }
    return failure, texts


def _wrong_password_cell(call: str, sandbox) -> str:
    return call.format(url=sandbox.urls["couchdrop"])


CELLS = {
    "login, secrets positional": 'nbauth.login("couchdrop", "alice", _canary())',
    "login, secrets positional and url": (
        'nbauth.login("couchdrop", "alice", _canary(), url="{url}")'
    ),
    "login, by keyword, wrong password": (
        'nbauth.login("couchdrop", url="{url}", username="alice", password=_canary())'
    ),
    "login, by keyword, a bad argument after the password": (
        'nbauth.login("couchdrop", url="{url}", username="alice", password=_canary(), timeout=-1)'
    ),
    "alogin, secrets positional": 'await nbauth.alogin("couchdrop", "alice", _canary())',
    "alogin, by keyword, wrong password": (
        'await nbauth.alogin("couchdrop", url="{url}", username="alice", password=_canary())'
    ),
    "login_many, positional options": (
        'nbauth.login_many([{{"service": "couchdrop", "url": "{url}", "username": "alice", '
        '"password": _canary()}}], 4)'
    ),
}


@pytest.mark.parametrize("name", list(CELLS))
def test_no_frame_of_a_failed_login_shows_the_password(verbose, sandbox, monkeypatch, name):
    import nbauth

    verbose.user_ns["nbauth"] = nbauth
    failure, texts = shown_by(verbose, _wrong_password_cell(CELLS[name], sandbox), monkeypatch)
    assert isinstance(failure, nbauth.NbAuthError), texts["shown traceback"]
    assert "*** Oldest frame" in texts["%debug"]  # it walked every frame, the cell's and above
    found = [f"canary in {where}" for where, text in texts.items() if CANARY in text]
    found += in_frames(failure, [CANARY])[0]
    figures.add("canary checks: tracebacks and debugger", len(texts) + 1)
    figures.add("canary hits", len(found))
    assert found == []


def test_a_call_that_does_not_fit_is_a_usage_error_naming_no_value():
    with pytest.raises(nbauth.UsageError, match=r"positional argument.*by name") as caught:
        nbauth.login("couchdrop", "alice", CANARY)
    assert CANARY not in str(caught.value)
    with pytest.raises(nbauth.UsageError, match="by name"):
        asyncio.run(nbauth.alogin("couchdrop", "alice", CANARY))
    with pytest.raises(nbauth.UsageError, match="by name"):
        nbauth.login_many([], 4)


def test_an_interrupted_login_shows_no_password_in_any_frame(verbose, sandbox, monkeypatch):
    """The stop button while the server is slow: KeyboardInterrupt through httpx's frames."""
    verbose.user_ns["nbauth"] = nbauth
    sandbox.knobs["couchdrop"].latency = 1.0
    main = threading.main_thread().ident
    threading.Timer(0.4, signal.pthread_kill, (main, signal.SIGINT)).start()
    cell = 'nbauth.login("couchdrop", url="{url}", username="alice", password=_canary())'
    failure, texts = shown_by(verbose, _wrong_password_cell(cell, sandbox), monkeypatch)
    assert isinstance(failure, KeyboardInterrupt)
    assert "nbauth" in texts["shown traceback"]  # a full traceback, through nbauth's frames
    found = [f"canary in {where}" for where, text in texts.items() if CANARY in text]
    found += in_frames(failure, [CANARY])[0]
    figures.add("canary checks: tracebacks and debugger", len(texts) + 1)
    figures.add("canary hits", len(found))
    assert found == []


# -- interrupting login_many -----------------------------------------------------------------


def rows(sandbox, count: int = 40) -> tuple[list[dict[str, str]], list[str]]:
    """``count`` ioGates logins, each with a password of its own (wrong ones: a mistyped
    password is a person's real one)."""
    passwords = [f"canary-row{i}-{secrets.token_hex(6)}" for i in range(count)]
    made = [
        {"service": "iogates", "url": sandbox.urls["iogates"], "username": "dave", "password": p}
        for p in passwords
    ]
    return made, passwords


def interrupted(run: Any, sandbox, after: float = 0.5) -> BaseException:
    """The exception ``run()`` ends with when the main thread is interrupted ``after`` seconds
    in, while every login takes 0.2 s."""
    sandbox.knobs["iogates"].latency = 0.2
    # A real SIGINT, as the stop button sends: it also wakes a main thread blocked on a lock.
    main = threading.main_thread().ident
    timer = threading.Timer(after, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    started = time.perf_counter()
    try:
        run()
    except BaseException as exc:  # what the interrupt leaves is the subject
        failure = exc
    else:
        pytest.fail("the batch was not interrupted")
    finally:
        timer.cancel()
    assert time.perf_counter() - started < 3
    return failure


def check_no_row_password(failure: BaseException, passwords: list[str]) -> None:
    found, frames = in_frames(failure, passwords)
    figures.add("canary checks: interrupted batches", 1)
    figures.add("canary hits", len(found))
    assert frames > 0
    assert found == []


def test_an_interrupt_inside_a_running_loop_leaves_no_password_in_any_frame(sandbox):
    """As in a Jupyter kernel: the batch runs on its own thread, the main thread is told to
    stop (the stop button's SIGINT)."""
    given, passwords = rows(sandbox)

    async def cell() -> Any:
        return nbauth.login_many(given, concurrency=4)

    loop = asyncio.new_event_loop()
    try:
        failure = interrupted(lambda: loop.run_until_complete(cell()), sandbox)
    finally:
        loop.close()
    assert isinstance(failure, KeyboardInterrupt)
    check_no_row_password(failure, passwords)


def test_an_interrupt_of_asyncio_run_leaves_no_password_in_the_cancelled_error(sandbox):
    """Outside a running loop login_many runs asyncio.run, whose SIGINT handler cancels the
    batch: the KeyboardInterrupt carries the CancelledError that went through the logins."""
    given, passwords = rows(sandbox)
    failure = interrupted(lambda: nbauth.login_many(given, concurrency=4), sandbox)
    assert isinstance(failure, KeyboardInterrupt)
    chain = [type(link).__name__ for link in chained(failure)]
    assert "CancelledError" in chain
    check_no_row_password(failure, passwords)


def test_an_interrupt_of_alogin_many_leaves_no_password_in_the_cancelled_error(sandbox):
    given, passwords = rows(sandbox)
    failure = interrupted(lambda: asyncio.run(nbauth.alogin_many(given, concurrency=4)), sandbox)
    assert isinstance(failure, KeyboardInterrupt)
    assert "CancelledError" in [type(link).__name__ for link in chained(failure)]
    check_no_row_password(failure, passwords)


WALK = """
import sys, types
from nbauth.secret import Secret

def _chained(exc):
    found, todo = [], [exc]
    while todo:
        link = todo.pop()
        if all(link is not other for other in found):
            found.append(link)
            todo += [e for e in (link.__cause__, link.__context__) if e is not None]
    return found

def _contents(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None

def _holding(value, needles, seen, depth=0):
    if id(value) in seen or depth > 10:
        return 0
    seen.add(id(value))
    if isinstance(value, (str, bytes)):
        text = value if isinstance(value, str) else value.decode("utf-8", "replace")
        return sum(needle in text for needle in needles)
    if isinstance(value, (Secret, types.ModuleType, type, int, float, bool)) or value is None:
        return 0
    items = []
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    elif isinstance(value, types.FunctionType):
        items = [_contents(cell) for cell in value.__closure__ or ()]
    elif isinstance(value, BaseException):
        items = [value.args, vars(value)]
    else:
        items = [getattr(value, "__dict__", None)]
        items += [getattr(value, s, None) for s in getattr(type(value), "__slots__", ())]
    return sum(_holding(item, needles, seen, depth + 1) for item in items)

_failure = sys.last_value
_callers = set()
_tb = _failure.__traceback__
while _tb is not None and not _tb.tb_frame.f_globals.get("__name__", "").startswith("nbauth"):
    _callers.add(id(_tb.tb_frame))  # the kernel's and the cell's: what the caller passed
    _tb = _tb.tb_next
_frames = _hits = 0
for _link in _chained(_failure):
    _hits += _holding(_link, _passwords, set())
    _tb = _link.__traceback__
    while _tb is not None:
        _name = _tb.tb_frame.f_globals.get("__name__")
        if id(_tb.tb_frame) not in _callers and _name != "__main__":
            _frames += 1
            _hits += _holding(dict(_tb.tb_frame.f_locals), _passwords, set())
        _tb = _tb.tb_next
print("RESULT", type(_failure).__name__, _frames, _hits)
"""


def test_the_stop_button_in_a_real_kernel_leaves_no_password_in_any_frame(sandbox, tmp_path):
    """A real kernel, interrupted by its manager (the stop button) while login_many runs on the
    batch's thread; a next cell walks ``sys.last_value``'s chain and every frame's locals."""
    from jupyter_client import KernelManager

    given, passwords = rows(sandbox)
    km = KernelManager(kernel_name=KERNEL)
    km.start_kernel(env=kernel_env(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        setup = f"import nbauth\n_rows = {given!r}\n_passwords = [r['password'] for r in _rows]"
        assert kc.execute_interactive(setup, timeout=30)["content"]["status"] == "ok"
        sandbox.knobs["iogates"].latency = 0.2
        running = kc.execute("nbauth.login_many(_rows, concurrency=4)")
        time.sleep(1.5)  # the kernel imports pandas and starts the batch
        km.interrupt_kernel()
        interrupted_reply = kc.get_shell_msg(timeout=30)
        assert interrupted_reply["parent_header"]["msg_id"] == running
        assert interrupted_reply["content"]["ename"] == "KeyboardInterrupt"
        shown: list[str] = []

        def keep(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                shown.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                shown.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

        for _ in range(10):  # after a failed cell the kernel aborts what it is sent for a moment
            reply = kc.execute_interactive(WALK, timeout=60, output_hook=keep)
            if reply["content"]["status"] != "aborted":
                break
            time.sleep(0.5)
        assert reply["content"]["status"] == "ok", shown
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    [result] = [line for text in shown for line in text.splitlines() if line.startswith("RESULT")]
    _, kind, frames, hits = result.split()
    figures.add("canary checks: interrupted batches", 1)
    figures.add("canary hits", int(hits))
    assert kind == "KeyboardInterrupt"
    assert int(frames) > 0
    assert int(hits) == 0
    assert len(passwords) == 40
