"""A warm first login (issue 16, item 6): ``%load_ext nbauth`` starts loading what the first
``%login`` needs (httpx, pandas, ipywidgets, the request, service and session modules, the
shared HTTP client) on a thread of its own, and returns without waiting for it.

Each test runs a fresh IPython process, since a module loads once per process: this one's
are long loaded. The timing figure itself is the benchmark's (``benchmarks/run.py``,
``warm_login``); here is what makes it: who imports what, and when, and that a %login that
comes at once neither deadlocks nor fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

#: What a first %login needs and %load_ext must leave to the thread.
HEAVY = ("httpx", "pandas", "ipywidgets", "nbauth.request", "nbauth.api", "nbauth.form")
HEAVY += ("nbauth.services.couchdrop", "nbauth.services.rocketchat", "nbauth.services.iogates")
HEAVY += ("nbauth.explore", "nbauth.vault", "nbauth.prompt")

#: Records every module loaded, by the thread that loaded it: a finder put first on the meta
#: path, which Python asks only for a module not loaded yet (by ``import`` or importlib).
RECORD = """
import json, sys, threading, time
loaded = []
class Recorder:
    def find_spec(self, name, path=None, target=None):
        loaded.append((name, threading.current_thread().name))
sys.meta_path.insert(0, Recorder())
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
"""


def ipython(code: str, tmp: Path, *args: str, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter with a private IPython folder; its last line of
    output, as JSON."""
    variables = {k: v for k, v in os.environ.items() if not k.startswith("NBAUTH_")}
    variables.update(IPYTHONDIR=str(tmp / "ipython"), NBAUTH_CONFIG_DIR=str(tmp / "config"))
    variables.update(env)
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=variables,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_load_ext_leaves_the_first_logins_imports_to_a_thread_and_returns(tmp_path):
    code = (
        RECORD
        + f"""
shell.run_line_magic("load_ext", "nbauth")
by_load_ext = [name for name, thread in loaded if thread == "MainThread"]
from nbauth.magics import WARM
warmed = WARM.wait(60)
by_thread = {{name: thread for name, thread in loaded}}
print(json.dumps({{
    "by_load_ext": by_load_ext,
    "warmed": warmed,
    "heavy": {{name: by_thread.get(name) for name in {HEAVY!r}}},
}}))
"""
    )
    seen = ipython(code, tmp_path)
    assert "nbauth.magics" in seen["by_load_ext"]  # it did load nbauth there
    assert not set(HEAVY) & set(seen["by_load_ext"]), "%load_ext itself imported them"
    assert seen["warmed"]
    assert seen["heavy"] == dict.fromkeys(HEAVY, "nbauth-warm-up")


def test_a_login_after_the_warm_up_loads_none_of_its_modules(tmp_path, sandbox):
    code = (
        RECORD
        + """
import contextlib, io
shell.run_line_magic("load_ext", "nbauth")
from nbauth.magics import WARM
WARM.wait(60)
before = len(loaded)
with contextlib.redirect_stdout(io.StringIO()):
    session = shell.run_line_magic("login", "couchdrop")
print(json.dumps({"user": session.username, "loaded": [name for name, _ in loaded[before:]]}))
"""
    )
    seen = ipython(code, tmp_path, **sandbox.env)
    assert seen["user"] == "alice"
    heavy = ("httpx", "httpcore", "pandas", "numpy", "pyarrow", "ipywidgets", "nbauth", "ssl")
    assert [name for name in seen["loaded"] if name.split(".")[0] in heavy] == []


#: A %login at once, or a few milliseconds after %load_ext: the thread is then at some point of
#: its imports, which the login's own imports meet (each delay another point).
AT_ONCE = """
import contextlib, io, sys, time, json
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "nbauth")
time.sleep(float(sys.argv[1]))
with contextlib.redirect_stdout(io.StringIO()) as out:
    session = shell.run_line_magic("login", sys.argv[2])
print(json.dumps({"user": session.username, "said": out.getvalue().splitlines()[0]}))
"""


def test_a_login_right_after_load_ext_neither_deadlocks_nor_fails(tmp_path, sandbox):
    """Twelve fresh processes, each a %login at a moment of its own into the thread's imports;
    a deadlock would hang one past its timeout (a _DeadlockError, fail it)."""
    cases = [(delay, service) for delay in (0, 0.002, 0.01, 0.03, 0.08, 0.2) for service in
             ("couchdrop", "iogates")]  # fmt: skip

    def one(case: tuple[float, str]) -> dict:
        delay, service = case
        folder = tmp_path / f"{service}-{delay}"
        folder.mkdir()
        return ipython(AT_ONCE, folder, str(delay), service, **sandbox.env)

    with ThreadPoolExecutor(max_workers=2) as pool:
        seen = list(pool.map(one, cases))
    for (_, service), run in zip(cases, seen, strict=True):
        assert run["user"] == "alice"
        title = {"couchdrop": "Couchdrop", "iogates": "ioGates"}[service]
        assert run["said"].startswith(f"Logged in to {title} at http://127.0.0.1:")


def test_nbauth_warm_up_0_turns_it_off(tmp_path):
    code = (
        RECORD
        + """
shell.run_line_magic("load_ext", "nbauth")
time.sleep(1.0)
from nbauth.magics import WARM
print(json.dumps({"warmed": WARM.is_set(), "pandas": "pandas" in sys.modules}))
"""
    )
    assert ipython(code, tmp_path, NBAUTH_WARM_UP="0") == {"warmed": False, "pandas": False}


@pytest.mark.parametrize("pause", [0, 0.3])
def test_a_process_that_ends_while_the_thread_imports_exits_cleanly(tmp_path, pause):
    """``ipython -c '%load_ext nbauth'`` ends at once: the thread, a daemon, must not keep it
    alive, nor crash it at exit."""
    code = f"import time\n%load_ext nbauth\ntime.sleep({pause})\nprint('{{}}')"
    variables = {k: v for k, v in os.environ.items() if not k.startswith("NBAUTH_")}
    variables.update(IPYTHONDIR=str(tmp_path))
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-m", "IPython", "--no-banner", "-c", code],
            env=variables,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Fatal" not in done.stderr and "Traceback" not in done.stderr
