"""A progress bar for long work (many logins, a long message history): tqdm's, when tqdm is
installed, by default only in a notebook, so scripts and CI stay quiet. tqdm is not a
dependency; without it the work runs without a bar."""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Any

from . import frontend


def bar(total: int | None, progress: bool | None, desc: str, unit: str) -> Any:
    """A tqdm bar, or None when none is wanted (``progress`` False, or None outside a
    notebook) or tqdm is missing (a warning then says so if ``progress`` was True)."""
    wanted = frontend.kind() == "notebook" if progress is None else progress
    if not wanted:
        return None
    try:
        tqdm = importlib.import_module("tqdm.auto").tqdm
    except ImportError:
        if progress:
            warnings.warn(
                f"progress=True needs tqdm (pip install tqdm); {desc} without a progress bar.",
                stacklevel=_outside_nbauth(),
            )
        return None
    return tqdm(total=total, desc=desc, unit=unit)


def _outside_nbauth() -> int:
    """The stack level of the first caller outside nbauth: the warning points at its line."""
    frame, level = sys._getframe(2), 2
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("nbauth"):
        frame, level = frame.f_back, level + 1
    return level
