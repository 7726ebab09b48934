"""Paths as the data calls and the fsspec filesystems take them."""

from __future__ import annotations

__all__ = ["clean"]


def clean(path: str) -> str:
    """``path`` as an absolute path with no empty or ``.`` parts: ``/reports/q3.csv``."""
    return "/" + "/".join(part for part in path.split("/") if part not in ("", "."))
