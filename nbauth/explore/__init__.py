"""Each service's data calls, as the methods of its own Session subclass.

After a login, the next step is one line: ``s.ls("/reports")``, ``s.download(...)``,
``s.rooms()``, ``s.messages("general")``. Each module here is a Session subclass that turns
the service's documented file or message API into DataFrames and bytes, using the session's
token and the same transport rules as the login (timeouts, TLS, 503 retries, masking).
"""

from __future__ import annotations

__all__ = ["clean"]


def clean(path: str) -> str:
    """``path`` as an absolute path with no empty or ``.`` parts: ``/reports/q3.csv``."""
    return "/" + "/".join(part for part in path.split("/") if part not in ("", "."))
