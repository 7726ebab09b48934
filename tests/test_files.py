"""Every file nbauth writes is its owner's only: 0600, in a 0700 folder, from the moment it is
created, under a permissive umask (022, and 000 where even the owner's umask protects nothing);
a file or folder an older nbauth left readable by others is tightened when nbauth next uses it.

The files: ioGates' device id (``$NBAUTH_CONFIG_DIR/device_id``, else under
``$XDG_CONFIG_HOME`` or ``~/.config``), the sandbox's ``--env-file`` (which holds the demo
passwords and tokens) and what ``make demo`` writes under ``build/demo``.

"From the moment it is created" is checked by watching every file and folder the process
creates while nbauth writes: each ``os.open`` with ``O_CREAT`` and each ``os.mkdir`` must ask
for no permission for others, and no file may be opened for writing with ``open()`` (whose mode
0666 the umask alone would cut down).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import figures
import nbformat
import pytest

import nbauth
from nbauth.sandbox.__main__ import write_atomically

UMASKS = [0o022, 0o000]


def mode(path: Path) -> int:
    figures.add("file and folder modes checked (0600 files, 0700 folders)", 1)
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(params=UMASKS, ids=["umask 022", "umask 000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    before = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(before)


#: Set while a test watches what the process creates; audit hooks cannot be removed.
_WATCHING: list[tuple[Path, list[str]]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _WATCHING or event != "open":
        return
    path, how, flags = args
    folder, problems = _WATCHING[-1]
    if not isinstance(path, (str, bytes, os.PathLike)) or not isinstance(flags, int):
        return
    inside = str(os.fsdecode(path)).startswith(str(folder))
    if inside and how is not None and flags & os.O_CREAT:  # open(), not os.open
        problems.append(f"{path} created by open({how!r}): mode 0666 minus the umask")


sys.addaudithook(_audit)


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """The problems of what is created under tmp_path meanwhile: a file or folder made with
    permissions for others, or a file written through open()."""
    problems: list[str] = []
    real_open, real_mkdir = os.open, os.mkdir

    def watched_open(path: Any, flags: int, mode: int = 0o777, *args: Any, **kwargs: Any) -> int:
        inside = str(os.fsdecode(path)).startswith(str(tmp_path))
        if inside and flags & os.O_CREAT and mode & 0o077:
            problems.append(f"{path} created by os.open with mode {mode:o}")
        return real_open(path, flags, mode, *args, **kwargs)

    def watched_mkdir(path: Any, mode: int = 0o777, *args: Any, **kwargs: Any) -> None:
        if str(os.fsdecode(path)).startswith(str(tmp_path)) and mode & 0o077:
            problems.append(f"{path} made by os.mkdir with mode {mode:o}")
        real_mkdir(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", watched_open)
    monkeypatch.setattr(os, "mkdir", watched_mkdir)
    _WATCHING.append((tmp_path, problems))
    try:
        yield problems
    finally:
        _WATCHING.pop()


def iogates_login(sandbox: Any) -> nbauth.Session:
    """An ioGates login: its first use of the device id in this kernel (the id is kept per
    folder, and every test has a folder of its own)."""
    user = sandbox.user("iogates", "alice")
    return nbauth.login(
        "iogates", url=sandbox.urls["iogates"], username="alice", password=user.password
    )


# -- the device id -------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["NBAUTH_CONFIG_DIR", "XDG_CONFIG_HOME"])
def test_the_device_id_is_made_private_under_any_umask(
    sandbox, tmp_path, monkeypatch, umask, created, where
):
    base = tmp_path / "home" / "config"  # neither exists yet
    if where == "NBAUTH_CONFIG_DIR":
        folder = base / "nbauth"
        monkeypatch.setenv("NBAUTH_CONFIG_DIR", str(folder))
    else:
        monkeypatch.delenv("NBAUTH_CONFIG_DIR")
        monkeypatch.setenv("XDG_CONFIG_HOME", str(base))
        folder = base / "nbauth"
    iogates_login(sandbox)
    device_id = folder / "device_id"
    assert device_id.read_text().startswith("nbauth-")
    assert mode(device_id) == 0o600
    assert [mode(p) for p in (folder, base, base.parent)] == [0o700] * 3
    assert sorted(p.name for p in folder.iterdir()) == ["device_id"]  # no temporary left
    assert created == []


def test_a_device_id_left_readable_by_an_older_version_is_tightened(
    sandbox, tmp_path, monkeypatch, umask
):
    folder = tmp_path / "old-nbauth"
    folder.mkdir()
    (folder / "device_id").write_text("nbauth-0123456789abcdef\n")
    os.chmod(folder, 0o755)
    os.chmod(folder / "device_id", 0o644)
    monkeypatch.setenv("NBAUTH_CONFIG_DIR", str(folder))
    session = iogates_login(sandbox)
    assert session.details["device_id"] == "nbauth-0123456789abcdef"  # kept, not made anew
    assert (mode(folder), mode(folder / "device_id")) == (0o700, 0o600)


def test_a_config_folder_of_another_user_or_a_link_is_left_alone(tmp_path):
    from nbauth import _files

    target = tmp_path / "elsewhere"
    target.write_text("x")
    os.chmod(target, 0o644)
    link = tmp_path / "link"
    link.symlink_to(target)
    _files.tighten(link)
    assert mode(target) == 0o644  # a link is not followed


# -- the sandbox's env file ----------------------------------------------------------------


def test_the_env_file_is_private_from_its_first_byte(tmp_path, umask, created):
    path = tmp_path / "new" / "sandbox.env"
    write_atomically(path, "export NBAUTH_ROCKETCHAT_PASSWORD='x'\n")
    assert path.read_text() == "export NBAUTH_ROCKETCHAT_PASSWORD='x'\n"
    assert (mode(path), mode(path.parent)) == (0o600, 0o700)
    assert [p.name for p in path.parent.iterdir()] == ["sandbox.env"]
    assert created == []


def test_an_env_file_left_readable_is_replaced_by_a_private_one(tmp_path, umask):
    path = tmp_path / "sandbox.env"
    path.write_text("old")
    os.chmod(path, 0o644)
    write_atomically(path, "new")
    assert (path.read_text(), mode(path)) == ("new", 0o600)


def test_the_sandbox_cli_writes_its_env_file_private_under_umask_000(tmp_path):
    path = tmp_path / "binder" / "sandbox.env"
    before = os.umask(0)
    try:
        server = subprocess.Popen(
            [sys.executable, "-m", "nbauth.sandbox", "--env-file", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    finally:
        os.umask(before)
    try:
        deadline = time.monotonic() + 60
        while not path.exists() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "NBAUTH_COUCHDROP_PASSWORD" in path.read_text()
        assert (mode(path), mode(path.parent)) == (0o600, 0o700)
    finally:
        server.terminate()
        server.wait(timeout=30)


# -- make demo's build/demo ----------------------------------------------------------------


def test_the_demo_output_is_private(tmp_path, umask, created):
    from nbauth.sandbox.demo import save

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    out = tmp_path / "build" / "demo"
    ipynb, html = save(notebook, out, "quickstart")
    assert nbformat.reads(ipynb.read_text(), as_version=4).cells[0].source == "1 + 1"
    assert "<html" in html.read_text()
    assert [mode(p) for p in (ipynb, html, out, out.parent)] == [0o600, 0o600, 0o700, 0o700]
    assert created == []


def test_a_demo_folder_left_open_is_tightened(tmp_path, umask):
    from nbauth.sandbox.demo import save

    out = tmp_path / "demo"
    out.mkdir()
    os.chmod(out, 0o755)
    save(nbformat.v4.new_notebook(), out, "quickstart")
    assert mode(out) == 0o700
