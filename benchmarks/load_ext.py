"""How much ``%load_ext nbauth`` costs, side by side with two extensions IPython ships.

Each run is a fresh interpreter with IPython already imported and a shell made, so what is
timed is the extension's own imports and registration. Run: ``.venv/bin/python
benchmarks/load_ext.py [runs]``. It prints medians and the ratio to storemagic.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

EXTENSIONS = ("nbauth", "storemagic", "autoreload")
TIMED = """
import time
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
started = time.perf_counter()
shell.run_line_magic("load_ext", {name!r})
print((time.perf_counter() - started) * 1000)
"""


def once(name: str, env: dict[str, str]) -> float:
    code = TIMED.format(name=name)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return float(done.stdout.split()[-1])


def main(runs: int = 9) -> None:
    with tempfile.TemporaryDirectory() as ipython_dir:
        env = {**os.environ, "IPYTHONDIR": ipython_dir}
        medians = {}
        for _ in range(runs):  # interleaved, so machine noise hits every extension alike
            for name in EXTENSIONS:
                medians.setdefault(name, []).append(once(name, env))
    base = statistics.median(medians["storemagic"])
    print(f"%load_ext, median of {runs} fresh interpreters each")
    for name, times in medians.items():
        median = statistics.median(times)
        print(f"  {name:<11} {median:6.1f} ms   {median / base:5.1f}x storemagic")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 9)
