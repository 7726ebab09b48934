"""What is on the other end of the kernel: a notebook, a terminal, or nobody.

nbauth asks a person for credentials only when one can answer. A notebook
kernel that does not accept input (nbclient, papermill, CI: the execute
request said ``allow_stdin=False``), a terminal whose stdin is not a tty, and
``NBAUTH_NONINTERACTIVE=1`` all mean nobody will, so nbauth fails at once
instead of showing a form or a prompt that would wait forever.
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["can_ask", "kind", "shell"]

OFF = ("", "0", "false", "no", "off")


def shell() -> Any:
    """The running IPython shell, or None."""
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    return get_ipython()


def kind(ip: Any = None) -> str:
    """``'notebook'`` (a Jupyter kernel), ``'terminal'`` (IPython in a terminal) or ``'python'``."""
    ip = ip if ip is not None else shell()
    if ip is None:
        return "python"
    return "notebook" if getattr(ip, "kernel", None) is not None else "terminal"


def can_ask(ip: Any = None) -> tuple[bool, str]:
    """Whether a person can answer a form or a prompt now, and if not, why not."""
    if os.environ.get("NBAUTH_NONINTERACTIVE", "").strip().lower() not in OFF:
        return False, "NBAUTH_NONINTERACTIVE is set"
    ip = ip if ip is not None else shell()
    kernel = getattr(ip, "kernel", None)
    if kernel is not None:
        if getattr(kernel, "_allow_stdin", False):
            return True, ""
        return False, "this notebook runs without a person (the front end allows no input)"
    stdin = sys.stdin
    if stdin is not None and not stdin.closed and stdin.isatty():
        return True, ""
    return False, "stdin is not a terminal"
