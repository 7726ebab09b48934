"""The checks every entry point makes of its text arguments, before anything is sent or stored.

A lone surrogate (``"\\ud800"``, text garbled on its way from a clipboard or a file read with
the wrong encoding) cannot be encoded, so httpx or the OS would fail on it mid-call with a raw
UnicodeEncodeError; a NUL (``"\\x00"``) is cut or refused by servers and the OS alike. Either is
a UsageError here, naming the argument and never repeating its value (it may be a password).
A value of the wrong type where a name is expected (``login([])``, ``session({})``) is one too.
"""

from __future__ import annotations

import os
import re
from typing import Any

from .errors import UsageError

__all__ = ["ca_problem", "local_path", "problem", "text"]


def problem(value: str) -> str | None:
    """What is wrong with ``value`` as text to send or store, or None."""
    if "\0" in value:
        return (
            "holds a NUL character (\\x00); it was probably pasted with extra text. Type or "
            "paste the value alone"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return (
            "holds characters that are not text (lone surrogates); it was garbled on its way "
            "here. Type or paste it again"
        )
    return None


def text(
    value: Any,
    argument: str,
    *,
    title: str | None = None,
    service: str | None = None,
    what: str = "a string",
) -> str:
    """``value`` if it is a str fit to send, else a UsageError naming ``argument`` (as
    ``path=``, ``room=``...) and, with ``title``, the service."""
    where = f"{title}: " if title else ""
    if not isinstance(value, str):
        raise UsageError(
            f"{where}{argument}= must be {what}, not {type(value).__name__}.", service=service
        )
    wrong = problem(value)
    if wrong is not None:
        raise UsageError(f"{where}{argument}= {wrong}.", service=service)
    return value


def local_path(
    value: Any, argument: str, *, title: str | None = None, service: str | None = None
) -> str:
    """A path on this machine (str or os.PathLike) the OS can take, as a str. Undecodable file
    names (surrogate escapes) are fine; a NUL or a lone surrogate that no file name holds is a
    UsageError naming ``argument``."""
    where = f"{title}: " if title else ""
    try:
        found = os.fspath(value)
    except TypeError:
        raise UsageError(
            f"{where}{argument}= must be a path (str or pathlib.Path), not {type(value).__name__}.",
            service=service,
        ) from None
    path = os.fsdecode(found) if isinstance(found, bytes) else str(found)
    try:
        os.fsencode(path)
    except UnicodeError:
        wrong: str | None = problem(path) or "cannot be a file name here"
    else:
        wrong = problem(path) if "\0" in path else None
    if wrong is not None:
        raise UsageError(f"{where}{argument}= {wrong}.", service=service)
    return path


#: How OpenSSL finds a CA in a folder (SSL_CERT_DIR, verify=folder): by subject hash.
_HASHED = re.compile(r"[0-9a-f]{8}\.(?:r)?[0-9]+")


def ca_problem(path: str, folder: bool) -> str | None:
    """What makes ``path`` unusable as a CA bundle (a PEM file) or, with ``folder``, as a folder
    of CA certificates as OpenSSL reads one (each under its subject hash, as ``openssl rehash``
    names them); None when it is usable. OpenSSL reads such a folder only when a handshake needs
    it, so without this a wrong one shows as a certificate that "could not be verified"."""
    if "\0" in path:
        return problem(path)
    try:
        os.fsencode(path)  # a file name the OS cannot take (a lone surrogate)
    except UnicodeError:
        return problem(path) or "cannot be a file name here"
    if not os.path.exists(path):
        return "does not exist"
    if folder:
        if not os.path.isdir(path):
            return "is a file, not a folder"
        try:
            hashed = sorted(entry for entry in os.listdir(path) if _HASHED.fullmatch(entry))
        except OSError as exc:
            return f"cannot be read ({exc.strerror or type(exc).__name__})"
        if not hashed:
            return "holds no certificate named by its subject hash (run `openssl rehash` on it)"
        return _pem_problem(os.path.join(path, hashed[0]))
    if os.path.isdir(path):
        return "is a folder, not a file"
    return _pem_problem(path)


def _pem_problem(path: str) -> str | None:
    """What makes the file at ``path`` no PEM file of CA certificates, or None."""
    import ssl

    try:
        with open(path, "rb") as found:
            start = found.read(1 << 20)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    if not start.strip():
        return "is empty"
    try:
        ssl.create_default_context().load_verify_locations(cafile=path)
    except (ssl.SSLError, OSError, ValueError):
        return "holds no PEM certificate"
    return None
