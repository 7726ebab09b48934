"""`make demo`: start the sandbox, run `notebooks/quickstart.ipynb` headless, keep the executed
notebook and an HTML copy under `build/demo/`, and print the tables it showed.

The notebook logs in exactly as a person's would, from the NBAUTH_* variables the sandbox hands
out, in a real kernel with no one to ask; what the terminal shows is read back from the
executed notebook, so it is what a reader of `build/demo/quickstart.html` sees.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nbauth.sandbox.runner import running

ROOT = Path(__file__).resolve().parents[2]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m nbauth.sandbox.demo", description=__doc__)
    parser.add_argument("--notebook", type=Path, default=ROOT / "notebooks" / "quickstart.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "demo")
    return parser.parse_args(argv)


def execute(path: Path, env: dict[str, str]) -> Any:
    """The notebook at ``path``, run top to bottom in a fresh kernel with ``env`` set.

    The kernel talks to this process over IPC (Unix sockets in a private temporary folder),
    not TCP: ipykernel warns that a TCP kernel without CurveZMQ keys sends code and outputs
    in plain text, which here are the sandbox's demo logins, and any local user could reach
    its ports. Only this user can open the sockets' folder.
    """
    import tempfile

    import nbformat
    from nbclient import NotebookClient
    from traitlets.config import Config

    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="nbauth-demo-kernel-") as sockets:
        config = Config()
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = f"{sockets}/kernel"
        client = NotebookClient(notebook, kernel_name="python3", timeout=120, config=config)
        client.execute(cwd=str(path.parent), env={**os.environ, **env})
    return notebook


def shown_text(notebook: Any) -> Iterator[str]:
    """Each code cell's source and the plain text of what it printed or displayed."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        yield f"\n>>> {cell.source}"
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            if text:
                yield text.rstrip("\n")


def save(notebook: Any, out: Path, name: str) -> tuple[Path, Path]:
    import nbformat
    from nbconvert import HTMLExporter

    from nbauth import _files

    _files.private_folder(out)  # the executed notebook shows the sandbox's demo credentials
    ipynb, html = out / f"{name}.ipynb", out / f"{name}.html"
    _files.write_private(ipynb, nbformat.writes(notebook).rstrip("\n") + "\n")
    body, _ = HTMLExporter().from_notebook_node(notebook)
    _files.write_private(html, body)
    return ipynb, html


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from nbclient.exceptions import CellExecutionError

    with running() as sb:
        print(f"Sandbox running; executing {args.notebook.name} headless ...", flush=True)
        try:
            notebook = execute(args.notebook, {**sb.env, "NBAUTH_NONINTERACTIVE": "1"})
        except CellExecutionError as failed:
            print(f"{args.notebook.name} failed:\n{failed}", file=sys.stderr)
            return 1
    for text in shown_text(notebook):
        print(text)
    ipynb, html = save(notebook, args.out, args.notebook.stem)
    print(f"\nSaved the executed notebook: {ipynb}\nand an HTML copy: {html}")
    print("All three logins worked; the sandbox has stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
