"""The leak canary: a sandbox whose every password and token is a unique string, and a search
for those strings in whatever a session leaves on disk (notebooks, history, logs).

The search reads raw bytes, so a secret in widget state, notebook metadata or a deleted but not
yet overwritten SQLite page counts as a leak too.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable
from pathlib import Path

from nbauth.sandbox import Sandbox, Seed


def canary_seed() -> Seed:
    """The demo seed with canary passwords (``<user>-canary<hex>``) and canary tokens."""
    mark = "canary" + secrets.token_hex(6)
    seed = Seed.demo(password_suffix=mark)
    return dataclasses.replace(
        seed,
        couchdrop_admin_token=f"{mark}cdtoken{secrets.token_hex(8)}",
        rocketchat_pat=f"{mark}pat{secrets.token_hex(8)}",
    )


def canaries(sb: Sandbox) -> dict[str, str]:
    """Every secret the sandbox knows, by a name for the failure message.

    Passwords, the long-lived tokens, the share keys (a share URL opens its share), and every
    session token the servers issued so far, so call it after the logins.
    """
    found = {
        f"{service} password of {user.username}": user.password
        for service, users in sb.seed.users.items()
        for user in users.values()
    }
    found["Couchdrop admin token"] = sb.couchdrop_admin_token
    found["Rocket.Chat personal access token"] = sb.rocketchat_pat[0]
    for name, share in sb.seed.shares.items():
        found[f"ioGates share key {name}"] = share.key
    for service in ("couchdrop", "rocketchat", "iogates"):
        for index, (username, token) in enumerate(sb.issued(service)):
            found[f"{service} token #{index} issued to {username}"] = token
    return found


def find_leaks(secret_values: dict[str, str], paths: Iterable[Path]) -> list[str]:
    """``"<secret name> in <path>"`` for every secret found in any file under ``paths``."""
    leaks = []
    for path in _files(paths):
        data = path.read_bytes()
        for name, value in secret_values.items():
            if value.encode() in data:
                leaks.append(f"{name} in {path}")
    return leaks


def _files(paths: Iterable[Path]) -> Iterable[Path]:
    for path in paths:
        if path.is_dir():
            yield from (p for p in sorted(path.rglob("*")) if p.is_file())
        elif path.is_file():
            yield path
