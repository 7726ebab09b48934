"""Memory figures, each taken in a fresh interpreter that ``benchmarks/run.py`` starts.

``memory_child.py import``: the resident size (VmRSS) ``import nbauth`` adds.
``memory_child.py sessions N``: N logins kept in the kernel (one alias each, the three services
in turn), after a warm-up login to each service so that httpx and the service modules are
already loaded: the resident size they add, and what tracemalloc sees still allocated.
``memory_child.py traced N``: the same logins with tracemalloc on (its own bookkeeping inflates
the resident size, so that run reports only the traced bytes).

The sandbox's URLs and demo credentials come in the NBAUTH_BENCH variable (JSON). Each run
prints one JSON object.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from typing import Any


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def logins(config: dict[str, Any]) -> list[dict[str, Any]]:
    """One login of each kind, as keyword arguments of nbauth.login."""
    urls, passwords = config["urls"], config["passwords"]
    return [
        {
            "service": "couchdrop",
            "url": urls["couchdrop"],
            "username": "alice",
            "password": passwords["couchdrop"],
        },
        {
            "service": "rocketchat",
            "url": urls["rocketchat"],
            "username": "alice",
            "password": passwords["rocketchat"],
        },
        {"service": "iogates", "share_url": config["share_url"]},
    ]


def main(argv: list[str]) -> dict[str, Any]:
    mode = argv[0]
    if mode == "import":
        gc.collect()
        before = rss_kb()
        import nbauth  # the figure: what this import adds

        gc.collect()
        return {"added_kb": rss_kb() - before}
    count = int(argv[1])
    config = json.loads(os.environ["NBAUTH_BENCH"])
    import nbauth

    kinds = logins(config)
    for kind in kinds:  # warm-up: httpx, the service modules and the connections
        nbauth.login(**kind, alias=f"warm-{kind['service']}")
    gc.collect()
    tracing = mode == "traced"
    if tracing:
        import tracemalloc

        tracemalloc.start()
    before = rss_kb()
    for i in range(count):
        nbauth.login(**kinds[i % len(kinds)], alias=f"s{i}")
    gc.collect()
    after = rss_kb()
    from nbauth.store import STORE

    held = len(STORE.all()) - len(kinds)
    result: dict[str, Any] = {"sessions": held, "added_kb": after - before}
    if tracing:
        result["traced_bytes"] = tracemalloc.get_traced_memory()[0]
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
