"""Figures the security and reliability tests measure, printed at the end of `make test` (see
conftest.pytest_terminal_summary) and written to build/figures.json for SECURITY.md.

A test adds to a counter, ``add("fuzz cases: couchdrop", 10_000)``, or sets a value; the
summary shows whatever the tests that ran recorded, so a figure is never a hard-coded number.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

FIGURES: dict[str, int | float | str] = {}
_lock = threading.Lock()
OUT = Path(__file__).resolve().parents[1] / "build" / "figures.json"


def add(name: str, amount: int | float = 1) -> None:
    with _lock:
        current = FIGURES.get(name, 0)
        assert isinstance(current, (int, float)), name
        FIGURES[name] = current + amount


def put(name: str, value: int | float | str) -> None:
    with _lock:
        FIGURES[name] = value


def lines() -> list[str]:
    shown = _with_total()
    width = max(len(name) for name in shown)
    return [f"{name:<{width}}  {value}" for name, value in sorted(shown.items())]


def _with_total() -> dict[str, int | float | str]:
    """The figures, and the sum of every "canary checks: ..." one: the leak paths checked."""
    paths = [v for k, v in FIGURES.items() if k.startswith("canary checks:")]
    total = {"leak paths checked (every canary check)": sum(paths)} if paths else {}
    return {**FIGURES, **total}  # type: ignore[dict-item]


def save() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(dict(sorted(_with_total().items())), indent=2) + "\n")
