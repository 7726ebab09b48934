"""Files nbauth writes: readable by their owner only, from the moment they exist.

A file is created with mode 0600 in one ``os.open`` call (so no other user can open it between
its creation and a later chmod), written to a temporary name and moved into place, so a reader
never sees half of it. A folder nbauth makes gets 0700, whatever the umask (``os.mkdir``'s mode
is cut by the umask, so it is set again with chmod; the folder is empty until then). A file or
folder an older nbauth left readable by others is tightened the next time nbauth uses it.

Only what nbauth owns is changed: a path owned by another user, or a symbolic link, is left as
it is, and the folders above nbauth's own are never touched, only created when missing.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["FILE_MODE", "FOLDER_MODE", "private_folder", "tighten", "write_private"]

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(folder: str | os.PathLike[str]) -> Path:
    """``folder``, made (with any missing parents) as 0700, or tightened to 0700 if it is
    nbauth's and others may read it. Raises OSError when it cannot be made."""
    path = Path(folder)
    missing = []
    for level in (path, *path.parents):
        if level.exists():
            break
        missing.append(level)
    for level in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            os.mkdir(level, FOLDER_MODE)
            _chmod(level, FOLDER_MODE)
    tighten(path)
    return path


def write_private(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write ``data`` to ``path`` as a file only its owner may read or write (0600), in the
    folder ``path`` names (which must exist): created under a temporary name with that mode,
    then moved into place."""
    target = Path(path)
    content = data.encode("utf-8") if isinstance(data, str) else data
    # mkstemp opens with O_CREAT | O_EXCL and mode 0600: nobody else can open it, ever.
    handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            if hasattr(os, "fchmod"):  # exactly 0600, whatever the umask took away
                os.fchmod(out.fileno(), FILE_MODE)
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


def tighten(path: str | os.PathLike[str]) -> None:
    """Make a file of nbauth's 0600 and a folder 0700 if others may read or enter it. Leaves
    alone what it cannot change, what another user owns, and symbolic links."""
    try:
        found = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(found.st_mode) or found.st_uid != _uid():
        return
    wanted = FOLDER_MODE if stat.S_ISDIR(found.st_mode) else FILE_MODE
    if stat.S_IMODE(found.st_mode) & 0o077:
        with contextlib.suppress(OSError):
            _chmod(path, stat.S_IMODE(found.st_mode) & wanted)


def _chmod(path: str | os.PathLike[str], mode: int) -> None:
    os.chmod(path, mode)


def _uid() -> int:
    getuid = getattr(os, "getuid", None)  # not on Windows, where modes mean little
    return int(getuid()) if getuid is not None else os.lstat(Path.home()).st_uid
