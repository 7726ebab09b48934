"""couchdrop:// and iogates:// read by Dask on a real cluster: ``distributed.LocalCluster`` with
two worker processes on loopback, and a sandbox of canary secrets (tests/leaks.py) over
loopback HTTP, seeded with CSV files for Couchdrop and ioGates.

Each read on the workers is compared with a sequential pandas read in the kernel; a worker
without a delegation and an expired delegation fail with their NbAuthErrors; and every place
Dask writes or shows things (worker, nanny and scheduler logs, the workers' httpx and httpcore
logs at DEBUG, task names and prefixes, the graph's repr, what ``tokenize`` hashes, the task
stream, the dashboard's pages) is searched byte for byte for every canary."""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import pickle
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import figures
import fsspec
import httpx
import pandas as pd
import pytest
from helpers import login_as
from leaks import canaries, canary_seed

import nbauth
from nbauth.delegation import NotDelegated
from nbauth.sandbox import Sandbox, running
from nbauth.sandbox.seed import SEED_EPOCH, IoFile

dd = pytest.importorskip("dask.dataframe")
db = pytest.importorskip("dask.bag")
distributed = pytest.importorskip("distributed")

couchdrop = login_as("couchdrop")
iogates = login_as("iogates")

#: Couchdrop files of alice's: six days of readings in /logs, and one more a folder down.
LOGS = {f"/logs/2026-01-{day:02}.csv": day for day in range(1, 7)}
DEEP = {"/logs/archive/2025-12-31.csv": 31}
#: ioGates files of alice's, in the folder Data: big enough for several blocks of BLOCK bytes.
DATA = {f"/Data/part-{i}.csv": i for i in range(4)}
BLOCK = 1024


def readings(seed: int, rows: int) -> bytes:
    frame = pd.DataFrame(
        {
            "day": [seed] * rows,
            "sensor": [f"s{(seed * 7 + r) % 5}" for r in range(rows)],
            "value": [round((seed * 31 + r * 17) % 1000 / 10, 1) for r in range(rows)],
        }
    )
    return frame.to_csv(index=False).encode()


def dask_seed() -> Any:
    """A canary seed (unique passwords and tokens) with the CSV files above."""
    seed = canary_seed()
    alice = dict(seed.couchdrop_files["alice"])
    alice.update({path: readings(day, 50) for path, day in {**LOGS, **DEEP}.items()})
    files = list(seed.iogates_files)
    when = SEED_EPOCH + timedelta(days=40)
    files.append(IoFile(8000, "alice", "Data", None, None, when))
    for path, i in DATA.items():
        name = path.rsplit("/", 1)[1]
        files.append(IoFile(8001 + i, "alice", name, 8000, readings(i, 300), when))
    return dataclasses.replace(
        seed,
        couchdrop_files={**seed.couchdrop_files, "alice": alice},
        iogates_files=tuple(files),
    )


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with running(seed=dask_seed()) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def _sandbox_back(sb: Sandbox) -> Iterator[None]:
    yield
    sb.reset()


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Any, Any]]:
    """Two worker processes on loopback, two threads each, the dashboard on a free port. The
    workers log httpx and httpcore at DEBUG into a list (``_captured``)."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=2,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as local,
        distributed.Client(local) as client,
    ):
        client.run(_capture_http_logs)
        yield local, client


CAPTURED: list[str] = []


class _Into(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        CAPTURED.append(f"{record.name} {record.getMessage()}")


def _capture_http_logs() -> None:
    """On a worker: httpx's and httpcore's records, DEBUG and up, kept in CAPTURED."""
    handler = _Into(logging.DEBUG)
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)


def _captured() -> list[str]:
    return list(CAPTURED)


def _read(open_file: Any) -> tuple[int, bytes]:
    """On a worker: its process id and the file's bytes."""
    with open_file as f:
        return os.getpid(), f.read()


def kernel_frame(protocol: str, paths: list[str]) -> pd.DataFrame:
    """The sequential pandas read in the kernel, with the kernel's own session."""
    return pd.concat([pd.read_csv(f"{protocol}://{p}") for p in sorted(paths)], ignore_index=True)


def same(dask_frame: pd.DataFrame, kernel: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        dask_frame.reset_index(drop=True), kernel, check_dtype=False, check_index_type=False
    )


# -- the reads ---------------------------------------------------------------------------------


def test_read_csv_of_a_couchdrop_glob_on_the_workers_is_the_kernels_read(sb, cluster):
    s = couchdrop(sb)
    d = s.delegate(expires=600)
    ddf = dd.read_csv("couchdrop:///logs/*.csv", blocksize=None, storage_options={"session": d})
    assert ddf.npartitions == len(LOGS)
    same(ddf.compute(), kernel_frame("couchdrop", list(LOGS)))
    deep = dd.read_csv("couchdrop:///logs/**/*.csv", blocksize=None, storage_options={"session": d})
    same(deep.compute(), kernel_frame("couchdrop", [*LOGS, *DEEP]))


def test_read_csv_of_iogates_files_with_a_blocksize_reads_parts_with_ranges(sb, cluster):
    s = iogates(sb)
    sb.knobs["iogates"].iogates_download_redirect = True  # the link's host records each request
    ddf = dd.read_csv(
        "iogates:///Data/*.csv", blocksize=BLOCK, storage_options={"session": s.delegate()}
    )
    sizes = {path: len(readings(i, 300)) for path, i in DATA.items()}
    assert ddf.npartitions > len(DATA) and all(size > 2 * BLOCK for size in sizes.values())
    before = len(sb.iogates_delivered)
    same(ddf.compute(), kernel_frame("iogates", list(DATA)))
    ranges = [h.get("range") for h in sb.iogates_delivered[before:]]
    starts = {int(r.split("=")[1].split("-")[0]) for r in ranges if r}
    assert ranges and all(ranges) and max(starts) > 0  # parts, each a Range request


def test_a_couchdrop_blocksize_smaller_than_a_file_says_to_read_whole_files(sb, cluster):
    s = couchdrop(sb)
    ddf = dd.read_csv(
        "couchdrop:///logs/*.csv", blocksize=256, storage_options={"session": s.delegate()}
    )
    with pytest.raises(nbauth.UsageError) as caught:
        ddf.compute()
    assert "blocksize=None" in caught.value.message and "no byte ranges" in caught.value.message


def test_read_text_on_the_workers_is_the_kernels_lines(sb, cluster):
    s = couchdrop(sb)
    bag = db.read_text("couchdrop:///logs/*.csv", storage_options={"session": s.delegate()})
    lines = []
    for path in sorted(LOGS):
        with fsspec.open(f"couchdrop://{path}", "rt") as f:
            lines += f.readlines()
    assert bag.compute() == lines


def test_open_files_mapped_over_the_workers_are_the_kernels_bytes(sb, cluster):
    _, client = cluster
    s = couchdrop(sb)
    files = fsspec.open_files("couchdrop:///logs/*.csv", "rb", session=s.delegate(expires=600))
    assert [f.path for f in files] == sorted(LOGS)
    done = client.gather(client.map(_read, files, pure=False))
    assert [data for _, data in done] == [s.download(path) for path in sorted(LOGS)]
    assert os.getpid() not in {pid for pid, _ in done}  # read in the worker processes


# -- the failures a user meets -----------------------------------------------------------------


def test_a_worker_without_a_delegation_says_how_to_delegate(sb, cluster):
    _, client = cluster
    couchdrop(sb)
    ddf = dd.read_csv("couchdrop:///logs/*.csv", blocksize=None)  # the kernel's session only
    with pytest.raises(nbauth.NbAuthError) as caught:
        ddf.compute()
    assert type(caught.value) is NotDelegated and isinstance(caught.value, nbauth.NotLoggedIn)
    message = caught.value.message
    assert "nbauth.delegate('couchdrop', expires=3600)" in message
    assert "storage_options={'session':" in message
    assert not isinstance(caught.value, (TypeError, pickle.PicklingError))
    files = fsspec.open_files("couchdrop:///logs/*.csv", "rb")
    with pytest.raises(NotDelegated):
        client.gather(client.map(_read, files, pure=False))
    with pytest.raises(NotDelegated, match=r"nbauth\.delegate"):  # a path opened on the worker
        client.submit(pd.read_csv, "couchdrop:///logs/2026-01-01.csv", pure=False).result()


def test_an_expired_delegation_is_session_expired_on_the_workers(sb, cluster):
    s = couchdrop(sb)
    d = s.delegate(expires=3)
    ddf = dd.read_csv("couchdrop:///logs/*.csv", blocksize=None, storage_options={"session": d})
    assert d.deadline is not None and not d.expired()  # the kernel's part ran in time
    time.sleep(max(0.0, d.deadline - time.time()) + 0.2)
    with pytest.raises(nbauth.SessionExpired) as caught:
        ddf.compute()
    message = caught.value.message
    assert "delegation of the Couchdrop session 'couchdrop' expired at" in message
    assert "nbauth.delegate('couchdrop', expires=3600)" in message


def test_the_same_session_and_path_give_the_same_keys(sb, cluster):
    s = couchdrop(sb)
    one = dd.read_csv(
        "couchdrop:///logs/*.csv", blocksize=None, storage_options={"session": s.delegate()}
    )
    two = dd.read_csv(
        "couchdrop:///logs/*.csv",
        blocksize=None,
        storage_options={"session": s.delegate(expires=60)},
    )
    assert one._name == two._name and set(one.dask) == set(two.dask)
    from dask.base import tokenize

    dave = couchdrop(sb, "dave", alias="dave")
    again = dd.read_csv(
        "couchdrop:///logs/*.csv", blocksize=None, storage_options={"session": s.delegate()}
    )
    assert again._name == one._name  # still alice's session, though dave logged in since
    alices, daves = (
        fsspec.open_files("couchdrop:///readme.txt", session=who.delegate())[0] for who in (s, dave)
    )
    assert tokenize(alices) != tokenize(daves)  # the same path, another session


# -- the canary search ---------------------------------------------------------------------------


def hits(secrets: dict[str, str], places: dict[str, bytes]) -> list[str]:
    return [
        f"{name} in {place}"
        for place, data in places.items()
        for name, value in secrets.items()
        if value.encode() in data
    ]


def recorded_tokenize_inputs(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every input Dask's tokenize hashes from now on, in the kernel: the pickles it makes of
    objects it has no other way to name, and the text of what it normalized."""
    import hashlib

    import dask.tokenize

    seen: list[bytes] = []
    hash_buffer_hex = dask.tokenize.hash_buffer_hex

    def recorded(buffer: Any, *args: Any) -> str:
        seen.append(bytes(memoryview(buffer)))
        return hash_buffer_hex(buffer, *args)

    class Hashlib:
        @staticmethod
        def md5(data: bytes, **kwargs: Any) -> Any:
            seen.append(bytes(data))
            return hashlib.md5(data, **kwargs)

    monkeypatch.setattr(dask.tokenize, "hash_buffer_hex", recorded)
    monkeypatch.setattr(dask.tokenize, "hashlib", Hashlib)
    return seen


def test_no_secret_in_dask_logs_task_names_graphs_tokens_or_dashboard(sb, cluster, monkeypatch):
    from dask.base import normalize_token
    from distributed import get_task_stream

    local, client = cluster
    hashed = recorded_tokenize_inputs(monkeypatch)
    client.run(CAPTURED.clear)
    cd, io_gates = couchdrop(sb), iogates(sb)
    d_cd, d_io = cd.delegate(expires=600), io_gates.delegate(expires=600)
    sb.knobs["iogates"].iogates_download_redirect = True
    with get_task_stream(client) as stream:
        collections: dict[str, Any] = {
            "couchdrop read_csv": dd.read_csv(
                "couchdrop:///logs/*.csv", blocksize=None, storage_options={"session": d_cd}
            ),
            "iogates read_csv": dd.read_csv(
                "iogates:///Data/*.csv", blocksize=BLOCK, storage_options={"session": d_io}
            ),
            "read_text": db.read_text(
                "couchdrop:///logs/**/*.csv", storage_options={"session": d_cd}
            ),
        }
        held = [client.persist(collection) for collection in collections.values()]
        distributed.wait(held)
        files = fsspec.open_files("couchdrop:///logs/*.csv", "rb", session=d_cd)
        mapped = client.map(_read, files, pure=False)
        distributed.wait(mapped)
        # paths of their own: the same session and path give the same keys, which the
        # persisted reads above already hold
        failing = {
            "range refused": dd.read_csv(
                "couchdrop:///logs/*.csv", blocksize=256, storage_options={"session": d_cd}
            ),
            "no delegation": dd.read_csv("couchdrop:///reports/*.csv", blocksize=None),
        }
        short = io_gates.delegate(expires=2)
        failing["expired"] = dd.read_csv(
            "iogates:///Private/*.csv", blocksize=None, storage_options={"session": short}
        )
        time.sleep(max(0.0, (short.deadline or 0) - time.time()) + 0.2)
        erred = [client.compute(collection) for collection in failing.values()]
        distributed.wait(erred)
    assert [type(future.exception()) for future in erred] == [
        nbauth.UsageError,
        NotDelegated,
        nbauth.SessionExpired,
    ]
    secrets = canaries(sb)
    secrets.update(
        {f"ioGates download key {i}": key for i, key in sb._iogates.download_keys.items()}
    )
    assert cd.token.reveal() in secrets.values() and io_gates.token.reveal() in secrets.values()

    places: dict[str, bytes] = {}

    def put(name: str, value: object) -> None:
        places[name] = value if isinstance(value, bytes) else str(value).encode()

    # the logs
    put("worker logs", client.get_worker_logs())
    put("nanny logs", client.get_worker_logs(nanny=True))
    put("scheduler logs", client.get_scheduler_logs())
    put("cluster logs", local.get_logs())
    http_logs = client.run(_captured)
    put("workers' httpx/httpcore DEBUG logs", http_logs)
    assert all(any("download" in line for line in lines) for lines in http_logs.values())
    assert "Compute Failed" in places["worker logs"].decode()  # the failures were logged
    # task names, the graph, what tokenize hashes
    for name, collection in {**collections, **failing}.items():
        graph = dict(collection.__dask_graph__())
        put(f"{name}: keys", list(graph))
        put(f"{name}: graph repr", repr(graph))
        put(f"{name}: task reprs", [repr(task) for task in graph.values()])
        put(f"{name}: tokenize inputs", normalize_token(collection))
    put("what tokenize hashed", hashed)
    put("tokenize inputs: storage options", normalize_token({"session": d_cd}))
    put("tokenize inputs: open files", normalize_token(files))
    put("tokenize inputs: filesystem", normalize_token(files[0].fs))
    put("task stream", stream.data)
    put(
        "scheduler: task names, prefixes, groups, specs",
        client.run_on_scheduler(_scheduler_view),
    )
    # the dashboard
    base = client.dashboard_link.rsplit("/", 1)[0]
    keys = client.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks])
    workers = list(client.scheduler_info()["workers"])
    pages = ["info/main/workers.html", "info/main/exceptions.html", "info/main/logs.html"]
    pages += [f"info/worker/{w}.html" for w in workers] + [f"info/logs/{w}.html" for w in workers]
    pages += [f"info/task/{key}.html" for key in keys]
    pages += ["json/identity.json", "json/counts.json", "json/index.html"]
    shown = 0
    with httpx.Client(timeout=30) as web:
        for page in pages:
            answer = web.get(f"{base}/{httpx.URL(page).raw_path.decode()}")
            shown += answer.status_code == 200
            put(f"dashboard {page}", answer.content)
    assert shown >= len(pages) - 3 and any("exception" in p for p in pages)
    del held, mapped, erred

    found = hits(secrets, places)
    figures.add("canary checks: Dask places searched", len(places))
    figures.add("canary hits", len(found))
    assert found == []
    # the controls: the search saw what tokenize hashed for these reads (their paths, and
    # OpenFiles pickled to be hashed, holding a session's name), and finds a token where it is
    # meant to be, in a delegation's pickle
    assert any(b"/logs/2026-01-01.csv" in data for data in hashed)
    assert any(b"named_only" in data for data in hashed)
    assert hits(secrets, {"a delegation's pickle": pickle.dumps(d_cd)}) == [
        f"{next(n for n, v in secrets.items() if v == cd.token.reveal())} in a delegation's pickle"
    ]


def _scheduler_view(dask_scheduler: Any) -> dict[str, Any]:
    return {
        "tasks": [str(key) for key in dask_scheduler.tasks],
        "prefixes": list(dask_scheduler.task_prefixes),
        "groups": list(dask_scheduler.task_groups),
        "specs": [repr(ts.run_spec) for ts in dask_scheduler.tasks.values()],
        "errors": [repr(ts.exception_text) for ts in dask_scheduler.tasks.values()],
    }


# -- the README --------------------------------------------------------------------------------


def test_the_readmes_dask_example_runs(sb, capsys):
    """README.md's Dask example, as written, with a session of each service in the kernel
    (it starts a cluster of its own, as it says)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("### Many files at once: Dask", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    couchdrop(sb)
    iogates(sb)
    exec(compile(block, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    means = pd.concat(pd.read_csv(io.BytesIO(readings(day, 50))) for day in LOGS.values())
    for sensor, mean in means.groupby("sensor")["value"].mean().items():
        assert sensor in printed and f"{mean:.4f}"[:5] in printed
    assert printed.rstrip().endswith(str(300 * len(DATA)))
