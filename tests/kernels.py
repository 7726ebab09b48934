"""Real Jupyter kernels for the tests: an environment of their own, and a notebook run the way
CI and papermill run it.

Each kernel gets its own IPYTHONDIR and NBAUTH_CONFIG_DIR and no inherited NBAUTH_*, so what it
writes (history, device ids) lands in the test's folder and nothing leaks in from the developer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

import nbformat
from nbclient import NotebookClient

KERNEL = "python3"  # jupyter_client runs its "python" with this interpreter (the venv's)


def kernel_env(tmp: Path, **variables: str) -> dict[str, str]:
    """This process's environment without NBAUTH_*, private IPython and nbauth folders, and
    ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAUTH_")}
    env.update(
        IPYTHONDIR=str(tmp / "ipython"),
        NBAUTH_CONFIG_DIR=str(tmp / "nbauth-config"),
        PYDEVD_DISABLE_FILE_VALIDATION="1",  # quiets the debugger's warning on stderr
    )
    env.update(variables)
    return env


def execute(
    nb: nbformat.NotebookNode, tmp: Path, env: dict[str, str], log: IO[Any] | None = None
) -> nbformat.NotebookNode:
    """Run ``nb`` the way CI and papermill do: a fresh kernel, no input allowed.

    ``log`` takes the kernel process's own stdout and stderr (warnings, crashes).
    """
    client = NotebookClient(
        nb,
        timeout=60,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(tmp)}},
        record_timing=True,
    )
    client.execute(env=env, stdout=log, stderr=log)
    return nb


def text_of(cell: nbformat.NotebookNode) -> str:
    """Everything a cell's outputs show as text: streams, text/plain, text/html, errors."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        data = output.get("data", {})
        parts += [data.get("text/plain", ""), data.get("text/html", "")]
        parts += [output.get("ename", ""), output.get("evalue", "")]
    return "\n".join(parts)
