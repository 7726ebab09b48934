"""Paths as the data calls and the fsspec filesystems take them."""

from __future__ import annotations

import posixpath

__all__ = ["clean"]


def clean(path: str) -> str:
    """``path`` as an absolute, normalised path: ``"reports//./q3.csv"`` -> ``"/reports/q3.csv"``
    (``..`` goes up, never above ``/``)."""
    return posixpath.normpath("/" + path.lstrip("/"))
