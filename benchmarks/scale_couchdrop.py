"""How fast ``s.ls`` lists a big Couchdrop folder: rows per second at 1,000, 10,000 and 100,000.

``listing_rates`` works against a sandbox already running in another process, as run.py starts
one (``python -m nbauth.sandbox``): the server's work then runs on its own core, as a real
server's would. run.py calls it with what its ``Sandbox`` helper holds::

    rows = listing_rates(sandbox.urls["couchdrop"], sandbox.password("couchdrop"),
                         sandbox.control)

For each size it fills a fresh folder of alice's (``POST /_sandbox/fill``), logs in with
nbauth, and times ``s.ls(folder)``: the median of a few runs after one warm-up. Each row also
gives ``table_s``, the client's own share (parsed JSON to DataFrame, timed alone): flat rows per
second there mean the client's cost per row does not grow with the folder.

Run by hand against a running sandbox (it starts nothing itself)::

    python -m nbauth.sandbox --env-file /tmp/sb.env &   # then, in another shell:
    source /tmp/sb.env && python benchmarks/scale_couchdrop.py
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

SIZES = (1_000, 10_000, 100_000)
RUNS = 5


def listing_rates(
    base_url: str,
    password: str,
    control: httpx.Client,
    sizes: Sequence[int] = SIZES,
    runs: int = RUNS,
) -> list[dict[str, Any]]:
    """One row per size: entries, ls_s (median seconds of ``s.ls``), rows_per_s, table_s and
    table_rows_per_s (the client's table building alone)."""
    import nbauth

    alias = f"scale-{secrets.token_hex(3)}"
    session = nbauth.login("couchdrop", url=base_url, username="alice", password=password,
                           alias=alias)  # fmt: skip
    rows = []
    try:
        for size in sizes:
            folder = f"/scale-{size}-{secrets.token_hex(3)}"
            filled = control.post(
                f"{base_url}/_sandbox/fill", json={"user": "alice", "folder": folder, "count": size}
            )
            filled.raise_for_status()
            if len(session.ls(folder)) != size:  # the warm-up run checks the whole listing came
                raise RuntimeError(f"the listing of {folder} is not {size} rows long")
            ls_s = median_seconds(runs, session.ls, folder)
            with session.client(base_url=session.details["fileio_url"]) as client:
                listing = client.post("/file/ls", data={"path": folder}).json()["ls"]
            table_s = median_seconds(runs, table, listing, folder)
            rows.append(
                {
                    "entries": size,
                    "ls_s": ls_s,
                    "rows_per_s": size / ls_s,
                    "table_s": table_s,
                    "table_rows_per_s": size / table_s,
                }
            )
    finally:
        session.logout()
    return rows


def table(listing: list[Any], folder: str) -> Any:
    """What ``s.ls`` does once the answer is parsed."""
    from nbauth.explore.couchdrop import columns, frame

    return frame(columns(listing, folder))


def median_seconds(runs: int, call: Callable[..., object], *args: Any) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call(*args)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    import httpx

    base_url = os.environ.get("NBAUTH_COUCHDROP_URL")
    if not base_url:
        print(__doc__, file=sys.stderr)
        return 2
    with httpx.Client(timeout=60) as control:
        accounts = control.get(f"{base_url}/_sandbox/accounts")
        accounts.raise_for_status()
        password = accounts.json()["users"]["alice"]["password"]
        rows = listing_rates(base_url, password, control)
    print(f"{'entries':>8} {'s.ls':>9} {'rows/s':>10} {'table':>9} {'table rows/s':>13}")
    for row in rows:
        print(
            f"{row['entries']:>8,} {row['ls_s'] * 1000:>7.1f}ms {row['rows_per_s']:>10,.0f} "
            f"{row['table_s'] * 1000:>7.1f}ms {row['table_rows_per_s']:>13,.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
