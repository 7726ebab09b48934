"""nbauth's performance figures, each against its target, measured side by side in one run.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/run.py``). It starts the sandbox in a
process of its own (``python -m nbauth.sandbox``, as a real server would be: its work runs on
the other core and its memory is not the kernel's), then measures:

1. start-up: ``python -c "import nbauth"`` against ``python -c pass`` (whole-process wall time,
   the two interleaved), and ``%load_ext nbauth`` in a fresh IPython (benchmarks/load_ext.py);
2. a password login through ``nbauth.login`` against the same POST with a reused
   ``httpx.Client`` and ``.json()``, for each service;
3. a Rocket.Chat login plus ``me`` through nbauth against the same through ``rocketchat-api``;
4. ``nbauth.login_many``: 500 ioGates share-URL logins with 20 ms added to every answer,
   against the ideal and against a sequential loop of ``rocketchat-api`` logins;
5. memory: the resident size ``import nbauth`` adds, and 1,000 sessions in one kernel;
6. data at scale: ``s.ls`` of 1k/10k/100k-entry Couchdrop folders and ``s.messages`` of
   1k/10k/50k-message Rocket.Chat rooms (rows per second; the latter beside ``rocketchat-api``);
7. an ordinary user's ``s.messages`` under Rocket.Chat's rate limit;
8. 200 Couchdrop CSVs of 1 MB with 20 ms latency read by Dask workers with a delegated session
   (``dd.read_csv``) against pandas in the kernel, sequentially and on a thread pool
   (benchmarks/dask_read.py).

A/B timings are interleaved in blocks, order alternating, over several rounds; each figure is a
median. It prints one table (figure, measured, target, met), then what each side does. It exits
2 when a figure could not be taken at all and, with ``--strict``, 1 when a target is missed.
The machine it was written for is a shared 2-core box: expect a few percent of noise between
runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
SERVICES = ("couchdrop", "rocketchat", "iogates")

#: Targets (the performance issue's), as ratios or absolute limits.
IMPORT_RATIO = 2.5
LOAD_EXT_MS = 15.0
LOGIN_RATIO = 1.10  # the one-pipeline issue lowered it from 1.15
ROCKETCHAT_RATIO = 1.0
BATCH_LOGINS = 500
#: login_many's default bound, and the one the two targets are measured at: the ideal is
#: written per concurrency (500 / concurrency x 20 ms), and against a loop whose logins take
#: 1.1x the latency, 15x at concurrency 16 leaves 1.19x of the ideal, which even bare httpx
#: only just reaches (the reference row shows it); 32 is the bound the targets are read at.
BATCH_DEFAULT = 16
BATCH_CONCURRENCY = 32
BATCH_SWEEP = (BATCH_DEFAULT, BATCH_CONCURRENCY, 64)
BATCH_LATENCY = 0.020
BATCH_IDEAL_RATIO = 1.5
BATCH_SPEEDUP = 15.0
IMPORT_RSS_MB = 5.0
#: Data at scale: "the per-row cost stays flat": the largest size's rows per second at least
#: this share of the best size's (the smallest pays its one request's fixed cost over few rows).
FLAT = 0.75
SESSIONS = 1000
SESSIONS_MB = 20.0
#: The first %login after %load_ext: at a person's pace at most this times the second; at once
#: (Run All) no slower than without the warm-up, give or take the noise of fresh processes.
WARM_RATIO = 1.5
WARM_RUN_ALL = 1.05


@dataclass
class Row:
    figure: str
    measured: str
    target: str
    #: None: a figure shown for information, with no target of its own.
    met: bool | None


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)

    def add(self, figure: str, measured: str, target: str, met: bool | None) -> None:
        self.rows.append(Row(figure, measured, target, met))
        print(f"  {figure}: {measured} (target {target})", file=sys.stderr, flush=True)


# -- the sandbox, in a process of its own ------------------------------------------------------


class Sandbox:
    """``python -m nbauth.sandbox`` on free loopback ports, driven through its /_sandbox/ routes."""

    def __init__(self, folder: Path) -> None:
        import httpx

        env_file = folder / "sandbox.env"
        self.process = subprocess.Popen(
            # Off, as a server's admin may turn it off: these figures time nbauth, not Rocket.Chat's
            # limit of 10 calls a minute (the rate-limit figure turns it on for its own reads).
            [
                PYTHON,
                "-m",
                "nbauth.sandbox",
                "--env-file",
                str(env_file),
                "--stop-with-parent",
                "--rate-limit",
                "off",
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("Sandbox ready"):
                break
        else:
            raise RuntimeError("the sandbox did not start")
        self.process.stdout.close()  # it prints nothing more
        values = {}
        for line in env_file.read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            values[key] = value.strip("'")
        self.urls = {s: values[f"NBAUTH_{s.upper()}_URL"] for s in SERVICES}
        self.control = httpx.Client(timeout=10)
        self.accounts = {s: self._get(s, "accounts") for s in SERVICES}

    def password(self, service: str, user: str = "alice") -> str:
        return str(self.accounts[service]["users"][user]["password"])

    def share_url(self, name: str = "open") -> str:
        return str(self.accounts["iogates"]["share_urls"][name])

    def knobs(self, service: str, **values: Any) -> None:
        answer = self.control.post(f"{self.urls[service]}/_sandbox/knobs", json=values)
        answer.raise_for_status()

    def _get(self, service: str, route: str) -> Any:
        answer = self.control.get(f"{self.urls[service]}/_sandbox/{route}")
        answer.raise_for_status()
        return answer.json()

    def stop(self) -> None:
        self.control.close()
        self.process.terminate()
        self.process.wait(10)


# -- timing ------------------------------------------------------------------------------------


def paired(
    a: Callable[[], object], b: Callable[[], object], rounds: int, blocks: int, block: int
) -> tuple[float, float, float]:
    """Per-call ms of ``a`` and ``b`` (medians over rounds) and the median of the rounds'
    ratios a/b. Each round runs ``blocks`` blocks of ``block`` calls of each, the order
    alternating, so drift and noise on the machine hit both sides alike."""
    times_a, times_b, ratios = [], [], []
    for r in range(rounds):
        spent = {id(a): 0.0, id(b): 0.0}
        for k in range(blocks):
            for f in (a, b) if (r + k) % 2 == 0 else (b, a):
                started = time.perf_counter()
                for _ in range(block):
                    f()
                spent[id(f)] += time.perf_counter() - started
        calls = blocks * block
        times_a.append(spent[id(a)] / calls * 1000)
        times_b.append(spent[id(b)] / calls * 1000)
        ratios.append(spent[id(a)] / spent[id(b)])
    return statistics.median(times_a), statistics.median(times_b), statistics.median(ratios)


def process_ms(code: str, env: dict[str, str]) -> float:
    """Wall time of a whole ``python -c code`` process, start to exit."""
    started = time.perf_counter()
    subprocess.run([PYTHON, "-c", code], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - started) * 1000


@contextmanager
def requests_seen() -> Iterator[list[str]]:
    """The HTTP requests httpx and urllib3 (under requests) make meanwhile, as 'METHOD /path',
    read from their own log records."""
    seen: list[str] = []
    pattern = re.compile(r'(?:HTTP Request: |")(GET|POST|PUT|DELETE) (\S+)')

    class Counter(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found = pattern.search(record.getMessage())
            if found:
                seen.append(f"{found[1]} {urlsplit(found[2]).path}")

    counter = Counter()
    loggers = [logging.getLogger("httpx"), logging.getLogger("urllib3.connectionpool")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(counter)
        logger.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(counter)
            logger.setLevel(level)


def described(requests: list[str]) -> str:
    return f"{len(requests)} request{'s' * (len(requests) != 1)}: {', '.join(requests)}"


# -- 1. start-up -------------------------------------------------------------------------------


def startup(results: Results, env: dict[str, str], rounds: int) -> None:
    for _ in range(3):  # warm the OS's file cache for both
        process_ms("import nbauth", env)
    bare, nbauth = [], []
    for i in range(rounds):
        pair = (("pass", bare), ("import nbauth", nbauth))
        for code, into in pair if i % 2 == 0 else pair[::-1]:
            into.append(process_ms(code, env))
    ratio = statistics.median(nbauth) / statistics.median(bare)
    results.add(
        '`python -c "import nbauth"` vs `python -c pass`',
        f"{statistics.median(nbauth):.1f} ms vs {statistics.median(bare):.1f} ms = {ratio:.2f}x",
        f"<= {IMPORT_RATIO}x",
        ratio <= IMPORT_RATIO,
    )
    results.notes.append(
        f"start-up: whole-process wall time of each `python -c`, {rounds} of each interleaved, "
        "medians; `import nbauth` imports none of httpx, pandas and ipywidgets (tested)."
    )

    sys.path.insert(0, str(HERE))
    from load_ext import once

    with tempfile.TemporaryDirectory() as ipython_dir:
        ipython_env = {**env, "IPYTHONDIR": ipython_dir}
        times: dict[str, list[float]] = {"nbauth": [], "storemagic": []}
        for i in range(rounds // 4):
            for name in ("nbauth", "storemagic") if i % 2 == 0 else ("storemagic", "nbauth"):
                times[name].append(once(name, ipython_env))
    ours, theirs = statistics.median(times["nbauth"]), statistics.median(times["storemagic"])
    results.add(
        "`%load_ext nbauth` in a running IPython",
        f"{ours:.1f} ms (IPython's own storemagic: {theirs:.1f} ms)",
        f"< {LOAD_EXT_MS:g} ms",
        ours < LOAD_EXT_MS,
    )
    results.notes.append(
        f"%load_ext: timed inside a fresh IPython shell per run ({rounds // 4} runs each, "
        "interleaved with storemagic's), as benchmarks/load_ext.py does."
    )


def warm_login(results: Results, sb: Sandbox, env: dict[str, str], rounds: int) -> None:
    """The first ``%login`` after ``%load_ext nbauth`` in a fresh IPython, which the warm-up
    thread ``%load_ext`` starts has (or has not) loaded for: half a second later (a person's
    pace), and once the thread is done, against the second ``%login``; at once (Run All)
    against the same with the warm-up off (``NBAUTH_WARM_UP=0``)."""
    child = """
import contextlib, io, json, sys, threading, time
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
started = time.perf_counter()
shell.run_line_magic("load_ext", "nbauth")
loaded = time.perf_counter()
from nbauth.magics import WARM
warmed = []
def note():
    warmed.append(WARM.wait(60) and time.perf_counter())
threading.Thread(target=note, daemon=True).start()  # (never set with NBAUTH_WARM_UP=0)
if sys.argv[1] == "warmed":
    WARM.wait(60)
else:
    time.sleep(float(sys.argv[1]))
times = []
with contextlib.redirect_stdout(io.StringIO()):
    for _ in range(2):
        began = time.perf_counter()
        session = shell.run_line_magic("login", "couchdrop")
        times.append((time.perf_counter() - began) * 1000)
assert session.username == "alice"
print(json.dumps({
    "load_ext": (loaded - started) * 1000, "first": times[0], "second": times[1],
    "warm_up": ((warmed[0] if warmed and warmed[0] else started) - started) * 1000,
}))
"""
    variables = {
        **env,
        "NBAUTH_COUCHDROP_URL": sb.urls["couchdrop"],
        "NBAUTH_COUCHDROP_USERNAME": "alice",
        "NBAUTH_COUCHDROP_PASSWORD": sb.password("couchdrop"),
    }
    cases = {
        "paced": ("0.5", {}),
        "warmed": ("warmed", {}),
        "run all": ("0", {}),
        "cold": ("0", {"NBAUTH_WARM_UP": "0"}),
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
    with tempfile.TemporaryDirectory() as ipython_dir:
        for i in range(rounds + 1):  # the first round warms the OS's file cache, and is dropped
            for name in list(cases) if i % 2 == 0 else list(cases)[::-1]:
                pause, extra = cases[name]
                done = subprocess.run(
                    [PYTHON, "-c", child, pause],
                    env={**variables, **extra, "IPYTHONDIR": ipython_dir},
                    cwd=ROOT,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                if i:
                    runs[name].append(json.loads(done.stdout.splitlines()[-1]))

    def median(name: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[name])

    def ratio(name: str) -> float:
        return statistics.median(run["first"] / run["second"] for run in runs[name])

    warm_up = median("warmed", "warm_up")
    paced = ratio("paced")
    results.add(
        "first `%login couchdrop` (from the sandbox's variables) 0.5 s after `%load_ext nbauth`"
        " in a fresh IPython vs the second `%login`",
        f"{median('paced', 'first'):.1f} ms vs {median('paced', 'second'):.1f} ms = "
        f"{paced:.2f}x (the warm-up took {warm_up:.0f} ms here)",
        f"<= {WARM_RATIO}x",
        paced <= WARM_RATIO,
    )
    results.add(
        "the same once the warm-up is done (its thread's end, however long it took)",
        f"{median('warmed', 'first'):.1f} ms vs {median('warmed', 'second'):.1f} ms = "
        f"{ratio('warmed'):.2f}x",
        "(information)",
        None,
    )
    run_all = median("run all", "first") / median("cold", "first")
    results.add(
        "the same with no pause (Run All): first `%login` with the warm-up vs without it "
        "(`NBAUTH_WARM_UP=0`)",
        f"{median('run all', 'first'):.0f} ms vs {median('cold', 'first'):.0f} ms = "
        f"{run_all:.2f}x (`%load_ext`: {median('run all', 'load_ext'):.1f} ms vs "
        f"{median('cold', 'load_ext'):.1f} ms)",
        f"<= {WARM_RUN_ALL}x (no slower, within noise)",
        run_all <= WARM_RUN_ALL,
    )
    results.notes.append(
        f"warm first login: {rounds} fresh IPython processes per case (after one dropped), the "
        "four cases interleaved; each runs `%load_ext nbauth`, waits (0.5 s, until the warm-up "
        "thread is done, or not at all), then `%login couchdrop` twice from NBAUTH_COUCHDROP_* "
        "(output discarded). The paced and done ratios are medians of each process's "
        "first/second; the Run All ratio compares the medians of the first logins. `%load_ext` "
        "starts a thread that imports httpx, pandas, ipywidgets and the request, service and "
        "session modules and makes the shared client; the warm-up figure is from `%load_ext` "
        "to the thread's end."
    )


# -- 2. password logins ------------------------------------------------------------------------


def password_logins(results: Results, sb: Sandbox, rounds: int) -> None:
    import httpx

    import nbauth
    from nbauth.services.iogates import device_id_of_this_user

    device = device_id_of_this_user()  # the id nbauth sends: the raw POST sends the same
    raw = httpx.Client()
    cases: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {}
    for service in SERVICES:
        url, password = sb.urls[service], sb.password(service)

        def ours(service: str = service, url: str = url, password: str = password) -> object:
            return nbauth.login(service, url=url, username="alice", password=password)

        if service == "couchdrop":  # a form POST
            form = {"username": "alice", "password": password, "system": "nbauth"}

            def theirs(url: str = url, form: dict[str, str] = form) -> object:
                return raw.post(f"{url}/authenticate", data=form).json()

        elif service == "rocketchat":
            body = {"user": "alice", "password": password}

            def theirs(url: str = url, body: dict[str, str] = body) -> object:
                return raw.post(f"{url}/api/v1/login", json=body).json()

        else:
            body = {"username": "alice", "password": password, "deviceId": device}

            def theirs(url: str = url, body: dict[str, str] = body) -> object:
                return raw.post(f"{url}/api/authtoken", json=body).json()

        cases[service] = (ours, theirs)

    titles = {"couchdrop": "Couchdrop", "rocketchat": "Rocket.Chat", "iogates": "ioGates"}
    for service, (ours, theirs) in cases.items():
        for _ in range(30):  # warm-up: imports, connections, caches
            ours()
            theirs()
        with requests_seen() as by_nbauth:
            ours()
        with requests_seen() as by_raw:
            theirs()
        mine, raw_ms, ratio = paired(ours, theirs, rounds=rounds, blocks=6, block=20)
        results.add(
            f"{titles[service]} password login: `nbauth.login` vs raw POST, reused "
            "`httpx.Client`, `.json()`",
            f"{mine:.3f} ms vs {raw_ms:.3f} ms = {ratio:.3f}x",
            f"<= {LOGIN_RATIO}x",
            ratio <= LOGIN_RATIO,
        )
        results.notes.append(
            f"{titles[service]} login: nbauth makes {described(by_nbauth)}; the raw side "
            f"{described(by_raw)} (same body). {rounds} rounds x 6 blocks x 20 calls each side, "
            "interleaved; the ratio is the median of the rounds' ratios."
        )
    raw.close()


# -- 3. Rocket.Chat login + me -----------------------------------------------------------------


def rocketchat_me(results: Results, sb: Sandbox, rounds: int) -> None:
    from rocketchat_API.rocketchat import RocketChat

    import nbauth

    url, password = sb.urls["rocketchat"], sb.password("rocketchat")

    def ours() -> object:
        session = nbauth.login("rocketchat", url=url, username="alice", password=password)
        with session.client() as client:
            return client.get("/api/v1/me").json()

    def theirs() -> object:
        return RocketChat("alice", password, server_url=url).me()

    def ours_profile() -> object:
        return nbauth.login("rocketchat", url=url, username="alice", password=password).profile

    for _ in range(20):
        ours()
        theirs()
        ours_profile()
    with requests_seen() as by_nbauth:
        ours()
    with requests_seen() as by_them:
        theirs()
    with requests_seen() as by_profile:
        ours_profile()
    mine, their_ms, ratio = paired(ours, theirs, rounds=rounds, blocks=5, block=10)
    results.add(
        "Rocket.Chat login + `me`: nbauth vs `rocketchat-api`",
        f"{mine:.3f} ms vs {their_ms:.3f} ms = {ratio:.3f}x",
        f"<= {ROCKETCHAT_RATIO}x",
        ratio <= ROCKETCHAT_RATIO,
    )
    short, their_ms, ratio = paired(ours_profile, theirs, rounds=rounds, blocks=5, block=10)
    results.add(
        "Rocket.Chat login with the profile: `nbauth.login(...).profile` vs `rocketchat-api` "
        "login + `me`",
        f"{short:.3f} ms vs {their_ms:.3f} ms = {ratio:.3f}x",
        "(information)",
        None,
    )
    results.notes.append(
        f"Rocket.Chat login + me: nbauth logs in with `nbauth.login` (its shared client) and "
        f"calls me with `session.client()`, a new client: {described(by_nbauth)}. "
        f"rocketchat-api: `RocketChat(user, password, server_url=...)` (a new requests.Session, "
        f"as its README shows) then `.me()`: {described(by_them)}. Both open one new connection "
        f"per iteration. nbauth's profile comes with its login answer, so "
        f"`nbauth.login(...).profile` needs {described(by_profile)}."
    )


# -- 4. login_many -----------------------------------------------------------------------------


def batch(results: Results, sb: Sandbox, rounds: int) -> None:
    from rocketchat_API.rocketchat import RocketChat

    import nbauth

    login_many = getattr(nbauth, "login_many", None)
    figure = (
        f"`nbauth.login_many`: {BATCH_LOGINS} ioGates share-URL logins, "
        f"{BATCH_LATENCY * 1000:g} ms added latency, `concurrency={BATCH_CONCURRENCY}`"
    )
    if login_many is None:
        results.add(figure, "not available (nbauth.login_many does not exist yet)", "-", None)
        results.unavailable.append("login_many")
        return
    share_url = sb.share_url("open")
    rows = [
        {"service": "iogates", "share_url": share_url, "alias": f"share{i}"}
        for i in range(BATCH_LOGINS)
    ]
    url, password = sb.urls["rocketchat"], sb.password("rocketchat")

    def batch_once(concurrency: int, check_shares: bool = False) -> float:
        started = time.perf_counter()
        frame = login_many(rows, concurrency=concurrency, check_shares=check_shares)
        spent = time.perf_counter() - started
        failed = int((~frame["ok"].astype(bool)).sum())
        if failed:
            raise RuntimeError(f"login_many: {failed} of {len(rows)} logins failed")
        return spent

    async def bare_httpx(concurrency: int) -> float:
        """The same share-URL POSTs through one ``httpx.AsyncClient``: the floor of the stack."""
        import httpx

        body = {"url": share_url, "deviceId": "benchmark"}
        todo = iter(range(BATCH_LOGINS))
        async with httpx.AsyncClient() as client:

            async def worker() -> None:
                for _ in todo:
                    (await client.post(f"{sb.urls['iogates']}/api/authtoken", json=body)).json()

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return time.perf_counter() - started

    login_many(rows[:BATCH_CONCURRENCY], concurrency=BATCH_CONCURRENCY)  # imports, pandas
    for _ in range(3):
        RocketChat("alice", password, server_url=url)
    for service in ("iogates", "rocketchat"):
        sb.knobs(service, latency=BATCH_LATENCY)
    times: dict[int, list[float]] = {c: [] for c in BATCH_SWEEP}
    checked_times: list[float] = []
    bare_times: list[float] = []
    try:
        with requests_seen() as per_share_login:
            login_many(rows[:1], concurrency=1)
        with requests_seen() as per_checked_login:
            login_many(rows[:1], concurrency=1, check_shares=True)
        with requests_seen() as per_rc_login:
            RocketChat("alice", password, server_url=url)
        sequential = 0.0
        chunk = BATCH_LOGINS // rounds
        for i in range(rounds):  # the sequential loop runs in chunks between the batches
            for concurrency in BATCH_SWEEP if i % 2 == 0 else BATCH_SWEEP[::-1]:
                times[concurrency].append(batch_once(concurrency))
            checked_times.append(batch_once(BATCH_DEFAULT, check_shares=True))
            bare_times.append(asyncio.run(bare_httpx(BATCH_DEFAULT)))
            started = time.perf_counter()
            for _ in range(chunk if i < rounds - 1 else BATCH_LOGINS - chunk * (rounds - 1)):
                RocketChat("alice", password, server_url=url)
            sequential += time.perf_counter() - started
    finally:
        for service in ("iogates", "rocketchat"):
            sb.knobs(service, latency=0.0)
    trips, checked_trips = len(per_share_login), len(per_checked_login)
    per_sequential = sequential / BATCH_LOGINS

    def figures(concurrency: int) -> tuple[float, float, float]:
        """Median time, the ideal, and the most a batch at this concurrency could gain on the
        sequential loop."""
        ideal = BATCH_LOGINS / concurrency * BATCH_LATENCY
        bound = per_sequential * concurrency / (trips * BATCH_LATENCY)
        return statistics.median(times[concurrency]), ideal, bound

    took, ideal, bound = figures(BATCH_CONCURRENCY)
    results.add(
        figure + ": time vs ideal (500 / concurrency x 20 ms)",
        f"{took * 1000:.0f} ms vs {ideal * 1000:.0f} ms = {took / ideal:.2f}x "
        f"({trips} round trip{'s' * (trips > 1)} per login)",
        f"<= {BATCH_IDEAL_RATIO}x",
        took / ideal <= BATCH_IDEAL_RATIO,
    )
    results.add(
        f"sequential `rocketchat-api` loop of {BATCH_LOGINS} logins (same latency) vs "
        f"`login_many` at concurrency {BATCH_CONCURRENCY}",
        f"{sequential * 1000:.0f} ms vs {took * 1000:.0f} ms = {sequential / took:.1f}x faster "
        f"(at most {bound:.1f}x possible at this concurrency)",
        f">= {BATCH_SPEEDUP:g}x",
        sequential / took >= BATCH_SPEEDUP,
    )
    others = []
    for concurrency in (c for c in BATCH_SWEEP if c != BATCH_CONCURRENCY):
        took, ideal, bound = figures(concurrency)
        default = " (the default)" if concurrency == BATCH_DEFAULT else ""
        others.append(
            f"{concurrency}{default}: {took * 1000:.0f} ms = {took / ideal:.2f}x ideal, "
            f"{sequential / took:.1f}x faster than the loop (at most {bound:.1f}x possible)"
        )
    results.add(
        "`nbauth.login_many` as above at other bounds",
        "; ".join(others),
        "(information)",
        None,
    )
    bare = statistics.median(bare_times)
    results.add(
        f"reference: the same {BATCH_LOGINS} POSTs through one bare `httpx.AsyncClient`, "
        f"{BATCH_DEFAULT} at a time",
        f"{bare * 1000:.0f} ms = {bare / figures(BATCH_DEFAULT)[1]:.2f}x ideal, "
        f"{sequential / bare:.1f}x faster than the loop",
        "(information)",
        None,
    )
    checked = statistics.median(checked_times)
    results.add(
        f"`login_many(..., check_shares=True)` at concurrency {BATCH_DEFAULT} "
        f"({checked_trips} round trips per login: the token, then the share)",
        f"{checked * 1000:.0f} ms = {checked / figures(BATCH_DEFAULT)[1]:.2f}x ideal, "
        f"{sequential / checked:.1f}x faster than the loop",
        "(information)",
        None,
    )
    results.notes.append(
        f"login_many: median of {rounds} batches per concurrency, interleaved; one share-URL "
        f"login makes {described(per_share_login)}: the token, whose answer holds the storage. "
        f"The share is not read by default (a share that needs an SMS code refuses its first "
        f"call instead); check_shares=True reads it too, {described(per_checked_login)}. "
        f"The rocketchat-api loop (`RocketChat(user, password, server_url=...)`, "
        f"{described(per_rc_login)} each) ran in {rounds} chunks between the batches; its "
        f"figure is their sum. The most a batch can gain on it is concurrency x (one "
        f"sequential login) / ({trips} x 20 ms)."
    )


# -- 6. data at scale -------------------------------------------------------------------------


def scale(results: Results, sb: Sandbox, rounds: int) -> None:
    """A Couchdrop folder of 1k/10k/100k entries through ``s.ls``, and a Rocket.Chat history of
    1k/10k/50k messages through ``s.messages`` beside a ``rocketchat-api`` loop."""
    from scale_couchdrop import listing_rates
    from scale_messages import message_rates

    listing = listing_rates(sb.urls["couchdrop"], sb.password("couchdrop"), sb.control, runs=rounds)
    best = max(row["rows_per_s"] for row in listing)
    results.add(
        "Couchdrop `s.ls` of a folder: rows per second by folder size",
        ", ".join(f"{r['entries']:,}: {r['rows_per_s']:,.0f}/s" for r in listing)
        + f" (largest size at {listing[-1]['rows_per_s'] / best:.2f}x the best rate)",
        f"flat: largest size >= {FLAT:g}x the best rate",
        listing[-1]["rows_per_s"] >= FLAT * best,
    )
    messages = message_rates(
        sb.urls["rocketchat"], sb.password("rocketchat"), sb.control, rounds=rounds
    )
    best = max(row["nbauth_rows_per_s"] for row in messages)
    results.add(
        "Rocket.Chat `s.messages` of a room: rows per second by history length",
        ", ".join(f"{r['messages']:,}: {r['nbauth_rows_per_s']:,.0f}/s" for r in messages)
        + f" (largest size at {messages[-1]['nbauth_rows_per_s'] / best:.2f}x the best rate)",
        f"flat: largest size >= {FLAT:g}x the best rate",
        messages[-1]["nbauth_rows_per_s"] >= FLAT * best,
    )
    results.add(
        "the same vs a `rocketchat-api` paginated loop plus `pd.DataFrame` (time ratio)",
        ", ".join(
            f"{r['messages']:,}: {r['nbauth_s'] * 1000:.0f} ms vs "
            f"{r['rocketchat_api_s'] * 1000:.0f} ms = {1 / r['ratio']:.2f}x"
            for r in messages
        ),
        "< 1.0x at every size",
        all(r["ratio"] > 1.0 for r in messages),
    )
    results.notes.append(
        f"scale: the sandbox fills a fresh Couchdrop folder per size (POST /_sandbox/fill) and "
        f"makes a channel per size (POST /_sandbox/rooms); medians of {rounds} runs after a "
        f"warm-up. s.ls is one request whatever the size; s.messages (alice, an admin) asks "
        f"count=0, which the sandbox answers with the whole history as a real server does by "
        f"default, and the rocketchat-api side calls channels_history(room, "
        f"count=100, offset=0, showThreadMessages='true'), which pages itself until a short "
        f"page, then pd.DataFrame; the two run interleaved. benchmarks/scale_couchdrop.py and "
        f"benchmarks/scale_messages.py also run on their own (the latter adds a 5 ms-latency "
        f"run)."
    )


# -- 7. an ordinary user under Rocket.Chat's rate limit -------------------------------------------


def rate_limited(results: Results, sb: Sandbox, rounds: int) -> None:
    """dave reads a 5,000-message room with the limiter at 10 calls per 1 s."""
    from rate_limit import CALLS, MESSAGES, WINDOW, describe, limited_reads

    rows = limited_reads(
        sb.urls["rocketchat"], sb.password("rocketchat", "dave"), sb.control, rounds
    )
    results.add(
        f"Rocket.Chat `s.messages` of {MESSAGES:,} messages as an ordinary user, limiter "
        f"{CALLS} calls per {WINDOW:g} s: time vs the least the limiter allows",
        "; ".join(describe(row) for row in rows),
        "every row, no 429, <= 1.2x the least",
        all(row["ratio"] <= 1.2 and row["refused"] == 0 for row in rows),
    )
    results.notes.append(
        f"rate limit: benchmarks/rate_limit.py. The sandbox's limiter scaled down from a real "
        f"server's 10 calls per 60 s to {CALLS} per {WINDOW:g} s, per route; dave has no "
        f"api-bypass-rate-limit. The least time for N history requests is the larger of the "
        f"same read with the limiter off and (ceil(N / {CALLS}) - 1) windows; medians of "
        f"{rounds} runs each way, interleaved ({3 * rounds} for the one-request read). "
        f"'count=0 refused' is a server whose admin turned API_Allow_Infinite_Count off, so "
        f"pages are at most 100. rocketchat-api's "
        f"channels_history(room, count=100, offset=0) pages until a short page and raises at "
        f"the first 429."
    )


# -- 8. many files read by Dask workers ------------------------------------------------------------


def dask_read(results: Results, sb: Sandbox, rounds: int) -> None:
    """200 Couchdrop CSVs of 1 MB, 20 ms latency: Dask workers (a delegated session) against
    pandas in the kernel, one file after another and on a thread pool (benchmarks/dask_read.py)."""
    from dask_read import (
        DASK_RATIO,
        FILES,
        LATENCY,
        THREADS_PER_WORKER,
        WORKERS,
        dask_read_rates,
        describe,
    )

    figure = (
        f"`dd.read_csv` of {FILES} Couchdrop CSVs of 1 MB, {LATENCY * 1000:g} ms added latency, "
        f"`LocalCluster` of {WORKERS} processes x {THREADS_PER_WORKER} threads, `.compute()`, "
        f"vs a sequential `pd.concat` of `pd.read_csv` in the kernel"
    )
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        results.add(figure, "not available (pip install 'nbauth[dask]')", "-", None)
        results.unavailable.append("dask")
        return
    found = dask_read_rates(sb.urls["couchdrop"], sb.password("couchdrop"), sb.control, rounds)
    seconds = found["seconds"]
    results.add(
        figure,
        f"{seconds['dask']:.2f} s vs {seconds['sequential']:.2f} s: Dask at "
        f"{found['dask_vs_sequential']:.2f}x the sequential read's speed",
        f">= {DASK_RATIO:g}x",
        found["dask_vs_sequential"] >= DASK_RATIO,
    )
    for row in describe(found):
        results.add(*row)
    results.notes.append(
        f"Dask: benchmarks/dask_read.py. {FILES} files ({found['mb']:.0f} MB, "
        f"{found['rows']['sequential']:,} rows) uploaded to a fresh folder of alice's, then "
        f"{LATENCY * 1000:g} ms added to every Couchdrop answer; each way read them all "
        f"{rounds} times, the ways interleaved and their order alternating, after a warm-up "
        f"round; medians. Dask: dd.read_csv('couchdrop:///folder/*.csv', blocksize=None, "
        f"storage_options={{'session': s.delegate(expires=3600)}}) on a LocalCluster of "
        f"{WORKERS} worker processes x {THREADS_PER_WORKER} threads on loopback, timed from the "
        f"call (glob and sample read in the kernel) to the whole DataFrame back in the kernel; "
        f".persist() leaves the frames in the workers. Sequential and thread pool: "
        f"pd.read_csv('couchdrop://alias@/...') with the kernel's session, then pd.concat. "
        f"Each file is one download request (Couchdrop sends whole files); the sandbox, the "
        f"scheduler, both workers and the kernel share the machine's {os.cpu_count()} CPUs."
    )


# -- 5. memory ---------------------------------------------------------------------------------


def memory(results: Results, sb: Sandbox, env: dict[str, str], rounds: int) -> None:
    config = {
        "urls": sb.urls,
        "passwords": {s: sb.password(s) for s in SERVICES},
        "share_url": sb.share_url("open"),
    }
    child_env = {**env, "NBAUTH_BENCH": json.dumps(config)}

    def child(*args: str) -> dict[str, Any]:
        done = subprocess.run(
            [PYTHON, str(HERE / "memory_child.py"), *args],
            env=child_env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        answer: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
        return answer

    added = statistics.median(child("import")["added_kb"] for _ in range(rounds)) / 1024
    results.add(
        "resident size added by `import nbauth`",
        f"{added:.2f} MB",
        f"<= {IMPORT_RSS_MB:g} MB",
        added <= IMPORT_RSS_MB,
    )
    held = child("sessions", str(SESSIONS))
    traced = child("traced", str(SESSIONS))
    resident = held["added_kb"] / 1024
    results.add(
        f"a kernel holding {SESSIONS:,} sessions: resident size they add",
        f"{resident:.2f} MB (Python objects still allocated: "
        f"{traced['traced_bytes'] / 2**20:.2f} MB)",
        f"< {SESSIONS_MB:g} MB",
        resident < SESSIONS_MB and held["sessions"] == SESSIONS,
    )
    results.notes.append(
        f"memory: VmRSS from /proc/self/status in fresh interpreters (benchmarks/memory_child.py)"
        f"; `import nbauth` median of {rounds}. The {SESSIONS:,} sessions are password logins to "
        f"Couchdrop and Rocket.Chat and share-URL logins to ioGates in turn, each under its own "
        f"alias, after one warm-up login per service (httpx and the service modules already "
        f"loaded); tracemalloc, in a second run, counts what is still allocated after gc."
    )


# -- the table ---------------------------------------------------------------------------------


def table(results: Results) -> str:
    lines = ["| figure | measured | target | met |", "|---|---|---|---|"]
    for row in results.rows:
        met = "-" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(f"| {row.figure} | {row.measured} | {row.target} | {met} |")
    return "\n".join(lines)


def compiled() -> None:
    """Compile nbauth's bytecode first, as pip does when it installs the wheel: an editable
    install under PYTHONDONTWRITEBYTECODE=1 (this machine sets it) would otherwise compile every
    module again in each fresh process, some 40 ms of every import figure."""
    import compileall

    import nbauth

    compileall.compile_dir(Path(nbauth.__file__).parent, quiet=1)


def main(argv: list[str]) -> int:
    strict = "--strict" in argv
    started = time.perf_counter()
    results = Results()
    compiled()
    with tempfile.TemporaryDirectory(prefix="nbauth-bench-") as folder:
        # The ioGates device id lives here, not in the user's ~/.config.
        os.environ["NBAUTH_CONFIG_DIR"] = folder
        env = dict(os.environ)
        print("nbauth benchmarks (each figure as it is taken):", file=sys.stderr, flush=True)
        startup(results, env, rounds=40)
        sb = Sandbox(Path(folder))
        try:
            warm_login(results, sb, env, rounds=5)
            password_logins(results, sb, rounds=7)
            rocketchat_me(results, sb, rounds=7)
            batch(results, sb, rounds=4)
            memory(results, sb, env, rounds=5)
            scale(results, sb, rounds=5)
            rate_limited(results, sb, rounds=3)
            dask_read(results, sb, rounds=3)
        finally:
            sb.stop()
    print(
        f"\nnbauth {__import__('nbauth').__version__}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}; sandbox in its own process on "
        f"loopback; total {time.perf_counter() - started:.0f} s\n"
    )
    print(table(results))
    print()
    for note in results.notes:
        print(f"- {note}")
    missed = [row.figure for row in results.rows if row.met is False]
    print()
    if missed:
        print(f"{len(missed)} target(s) missed.")
    if results.unavailable:
        print(f"Not available: {', '.join(results.unavailable)}.")
    met = sum(row.met is True for row in results.rows)
    print(f"{met} of {sum(row.met is not None for row in results.rows)} targets met.")
    if results.unavailable:
        return 2
    return 1 if strict and missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
