"""Reading many Couchdrop files: Dask workers with a delegated session against pandas in the kernel.

200 CSV files of 1 MB each in a Couchdrop folder of alice's, 20 ms added to every answer of the
sandbox, read three ways, interleaved over a few rounds (medians):

1. Dask: ``dd.read_csv("couchdrop:///bench-.../*.csv", blocksize=None,
   storage_options={"session": s.delegate(...)}).compute()`` on a ``distributed.LocalCluster``
   of 2 worker processes on loopback, from the call to the whole DataFrame in the kernel
   (the kernel's glob and sample read, the workers' downloads and parsing, the frames sent
   back). ``.persist()`` (the same read, the frames left in the workers' memory) is shown too.
2. sequential: ``pd.concat([pd.read_csv("couchdrop://" + path) for path in paths])`` in the
   kernel, with the kernel's session.
3. a thread pool in the kernel of as many threads as the cluster has (``THREADS``), the same
   ``pd.read_csv`` calls, then ``pd.concat``.

And, for reference, Dask's own floor on this machine: the same bytes as local files (in a
temporary folder), ``dd.read_csv(..., blocksize=None)`` on the same cluster, ``.compute()`` and
``.persist()``: no network, no nbauth.

``dask_read_rates`` works against a sandbox already running in another process, as run.py
starts one; by hand::

    python -m nbauth.sandbox --env-file /tmp/sb.env --rate-limit off &
    source /tmp/sb.env && python benchmarks/dask_read.py
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

FILES = 200
FILE_BYTES = 1_000_000
LATENCY = 0.020
WORKERS = 2
#: Threads per worker process. The reads wait on the network most of the time (20 ms per
#: answer), so each process runs several at once; the kernel's thread pool gets the same total.
THREADS_PER_WORKER = 4
THREADS = WORKERS * THREADS_PER_WORKER
#: The ways, in the order of the first round (the next goes backwards, and so on).
WAYS = ("dask", "dask_persist", "sequential", "threads", "local", "local_persist")
#: The issue's target: Dask at least this many times faster than the sequential read.
DASK_RATIO = 3.0


def one_file(index: int) -> bytes:
    """About FILE_BYTES of CSV: an id, a timestamp, a sensor, two readings and a note."""
    rows = []
    size = 0
    row = 0
    header = "id,ts,sensor,value,delta,note\n"
    size += len(header)
    while size < FILE_BYTES:
        line = (
            f"{index * 100_000 + row},2026-01-{1 + index % 28:02}T{row % 24:02}:{row % 60:02}:00,"
            f"s{(index * 7 + row) % 97},{(index * 31 + row * 17) % 10_000 / 7:.4f},"
            f"{(row * 13) % 201 - 100},reading {row % 11}\n"
        )
        rows.append(line)
        size += len(line)
        row += 1
    return (header + "".join(rows)).encode()


def dask_read_rates(
    base_url: str, password: str, control: httpx.Client, rounds: int = 3
) -> dict[str, Any]:
    """Median seconds of each way (and what each read), after one warm-up round."""
    import tempfile

    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client, LocalCluster, wait

    import nbauth

    local = tempfile.TemporaryDirectory(prefix="nbauth-dask-read-")
    for i in range(FILES):
        with open(os.path.join(local.name, f"part-{i:03}.csv"), "wb") as f:
            f.write(one_file(i))
    alias = f"dask-{secrets.token_hex(3)}"
    s = nbauth.login("couchdrop", url=base_url, username="alice", password=password, alias=alias)
    folder = f"/bench-{secrets.token_hex(3)}"
    s.mkdir(folder)
    paths = [f"{folder}/part-{i:03}.csv" for i in range(FILES)]
    with ThreadPoolExecutor(8) as pool:  # the upload is set-up, not measured
        list(pool.map(lambda i: s.upload(one_file(i), paths[i]), range(FILES)))
    sizes = [entry["size"] for entry in s.ls(folder).to_dict("records")]
    urls = [f"couchdrop://{alias}@{path}" for path in paths]
    delegation = s.delegate(expires=3600)
    answer = control.post(f"{base_url}/_sandbox/knobs", json={"latency": LATENCY})
    answer.raise_for_status()

    def sequential() -> pd.DataFrame:
        return pd.concat([pd.read_csv(url) for url in urls], ignore_index=True)

    def threads() -> pd.DataFrame:
        with ThreadPoolExecutor(THREADS) as pool:
            return pd.concat(list(pool.map(pd.read_csv, urls)), ignore_index=True)

    times: dict[str, list[float]] = {way: [] for way in WAYS}
    rows: dict[str, int] = {}
    try:
        with (
            LocalCluster(
                n_workers=WORKERS,
                threads_per_worker=THREADS_PER_WORKER,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster),
        ):

            def read(where: str, **options: Any) -> Any:
                return dd.read_csv(f"{where}/*.csv", blocksize=None, **options)

            def computed(where: str, **options: Any) -> Callable[[], pd.DataFrame]:
                return lambda: read(where, **options).compute()

            def persisted(where: str, **options: Any) -> Callable[[], Any]:
                def run() -> Any:
                    frame = read(where, **options).persist()
                    wait(frame)
                    return frame

                return run

            ours = {"storage_options": {"session": delegation}}
            ways: dict[str, Callable[[], Any]] = {
                "dask": computed(f"couchdrop://{folder}", **ours),
                "dask_persist": persisted(f"couchdrop://{folder}", **ours),
                "sequential": sequential,
                "threads": threads,
                "local": computed(local.name),
                "local_persist": persisted(local.name),
            }
            order = list(WAYS)
            for index in range(rounds + 1):  # round 0 warms up (imports, connections, workers)
                for name in order if index % 2 == 0 else order[::-1]:
                    started = time.perf_counter()
                    result = ways[name]()
                    spent = time.perf_counter() - started
                    if isinstance(result, pd.DataFrame):
                        rows[name] = len(result)
                    else:  # persisted: counted once the clock stopped, then let go
                        rows[name] = int(result.shape[0].compute())
                    del result
                    if index:
                        times[name].append(spent)
    finally:
        control.post(f"{base_url}/_sandbox/knobs", json={"latency": 0.0})
        s.logout()
        local.cleanup()
    medians = {name: statistics.median(spent) for name, spent in times.items()}
    return {
        "files": FILES,
        "mb": sum(sizes) / 1e6,
        "rows": rows,
        "seconds": medians,
        "runs": times,
        "threads": THREADS,
        "dask_vs_sequential": medians["sequential"] / medians["dask"],
        "dask_vs_threads": medians["threads"] / medians["dask"],
        "persist_vs_sequential": medians["sequential"] / medians["dask_persist"],
    }


def describe(found: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """The information rows beside the target's: the thread pool and ``.persist()``."""
    seconds = found["seconds"]
    return [
        (
            f"the same {found['files']} files on a thread pool of {found['threads']} in the "
            "kernel (as many threads as the cluster) vs the sequential read; Dask vs the pool",
            f"{seconds['threads']:.2f} s: {seconds['sequential'] / seconds['threads']:.2f}x "
            f"the sequential read's speed; Dask at {found['dask_vs_threads']:.2f}x the pool's",
            "(information)",
            None,
        ),
        (
            "the same Dask read with `.persist()` (frames left in the workers) vs the "
            "sequential read",
            f"{seconds['dask_persist']:.2f} s: {found['persist_vs_sequential']:.2f}x the "
            "sequential read's speed",
            "(information)",
            None,
        ),
        (
            "reference, Dask's own floor here: the same bytes as local files, `dd.read_csv` "
            "on the same cluster (no network, no nbauth), `.compute()` and `.persist()`",
            f"{seconds['local']:.2f} s and {seconds['local_persist']:.2f} s (a 3x target needs "
            f"{seconds['sequential'] / 3:.2f} s)",
            "(information)",
            None,
        ),
    ]


def main() -> int:
    import httpx

    url = os.environ["NBAUTH_COUCHDROP_URL"]
    with httpx.Client(timeout=30) as control:
        found = dask_read_rates(url, os.environ["NBAUTH_COUCHDROP_PASSWORD"], control)
    seconds = found["seconds"]
    print(
        f"{found['files']} files, {found['mb']:.0f} MB, {LATENCY * 1000:g} ms latency: Dask "
        f"(.compute()) {seconds['dask']:.2f} s vs sequential {seconds['sequential']:.2f} s: "
        f"{found['dask_vs_sequential']:.2f}x its speed (target >= {DASK_RATIO:g}x)"
    )
    for figure, measured, _, _ in describe(found):
        print(f"{figure}: {measured}")
    print("runs (s):", {way: [round(t, 2) for t in spent] for way, spent in found["runs"].items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
