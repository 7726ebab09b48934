"""A progress bar for long work (many logins, a long message history): tqdm's, when tqdm is
installed, by default only in a notebook, so scripts and CI stay quiet. tqdm is not a
dependency; without it the work runs without a bar."""

from __future__ import annotations

import importlib
from typing import Any

from . import _warnings, frontend


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
            _warnings.warn(
                UserWarning(
                    f"progress=True needs tqdm (pip install tqdm); {desc} without a progress bar."
                )
            )
        return None
    return tqdm(total=total, desc=desc, unit=unit)
