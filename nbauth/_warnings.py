"""nbauth's warnings, shown at the user's own line: the first caller outside nbauth."""

from __future__ import annotations

import sys
import warnings

__all__ = ["warn"]


def warn(warning: Warning) -> None:
    """Issue ``warning`` with the stack level of the first frame outside nbauth, so that it
    points at the line of the notebook or script that called nbauth."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and _in_nbauth(frame):
        frame, level = frame.f_back, level + 1
    warnings.warn(warning, stacklevel=level + 1)


def _in_nbauth(frame: object) -> bool:
    name = getattr(frame, "f_globals", {}).get("__name__", "")
    return str(name).split(".")[0] == "nbauth"
