"""`python -m nbauth.sandbox`: serve the sandbox until SIGINT or SIGTERM, for notebooks and Binder.

It prints the URLs and every demo credential (sandbox secrets only, never real ones), can write
the NBAUTH_* variables to an env file a notebook or shell can source, and prints
"Sandbox ready." once everything listens. With --stop-with-parent it also stops when the process
that started it ends, so the sandbox `binder/start` runs beside a notebook server does not outlive
the server.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from nbauth.sandbox.runner import Sandbox, running
from nbauth.sandbox.seed import SERVICES, User

TITLES = {"couchdrop": "Couchdrop", "rocketchat": "Rocket.Chat", "iogates": "ioGates"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m nbauth.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="0: free ports; N: Couchdrop on N, Rocket.Chat on N+1, ioGates on N+2",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each request")
    parser.add_argument(
        "--rate-limit",
        type=rate_limit,
        default=rate_limit("10/60"),
        metavar="CALLS/SECONDS",
        help="Rocket.Chat's REST rate limit per route and user, as a real server's default "
        "(10/60), or 'off'",
    )
    parser.add_argument("--env-file", type=Path, help="write `export KEY='value'` lines here")
    parser.add_argument(
        "--stop-with-parent",
        action="store_true",
        help="stop when the process that started this one ends (binder/start, make lab)",
    )
    return parser.parse_args(argv)


def rate_limit(text: str) -> dict[str, Any]:
    """`--rate-limit 10/60` or `off`, as sandbox knobs."""
    if text == "off":
        return {"rate_limit_calls": None}
    calls, _, seconds = text.partition("/")
    try:
        knobs = {"rate_limit_calls": int(calls), "rate_limit_window": float(seconds)}
    except ValueError:
        raise argparse.ArgumentTypeError("give CALLS/SECONDS (10/60) or off") from None
    if knobs["rate_limit_calls"] < 0 or not knobs["rate_limit_window"] > 0:
        raise argparse.ArgumentTypeError("CALLS must be 0 or more and SECONDS more than 0")
    return knobs


def user_notes(user: User) -> list[str]:
    notes = []
    if user.admin:
        notes.append("admin")
    if user.totp_secret:
        notes.append(f"TOTP secret {user.totp_secret}")
    if user.email_2fa:
        notes.append("email 2FA (codes: GET /_sandbox/email-codes)")
    if user.blocked:
        notes.append("blocked")
    return notes


def describe(sb: Sandbox) -> str:
    """The URLs and demo credentials, as the CLI prints them."""
    lines = [f"{TITLES[name]:<12} {sb.urls[name]}" for name in SERVICES]
    lines += ["", "Demo credentials (sandbox only):"]
    for service in SERVICES:
        for user in sb.seed.users[service].values():
            notes = ", ".join(user_notes(user))
            lines.append(f"  {TITLES[service]:<12} {user.username:<8} {user.password}  {notes}")
    pat, user_id = sb.rocketchat_pat
    lines += [
        "",
        f"Couchdrop admin token (alice): {sb.couchdrop_admin_token}",
        f"Rocket.Chat personal access token (alice): {pat}  user id {user_id}",
        "ioGates share URLs (sms code: GET /_sandbox/sms):",
        *(f"  {name:<8} {url}" for name, url in sb.share_urls.items()),
    ]
    return "\n".join(lines)


def env_file_text(sb: Sandbox) -> str:
    values = {**sb.env, "NBAUTH_SANDBOX": "1"}
    quoted = {key: value.replace("'", "'\\''") for key, value in values.items()}
    return "".join(f"export {key}='{value}'\n" for key, value in quoted.items())


def write_atomically(path: Path, text: str) -> None:
    """Whoever waits for ``path`` to appear (binder/start) never reads half of it, and no other
    user of the machine reads it at all: it holds the demo passwords and tokens, so it is made
    0600 from its first byte (in a 0700 folder when the folder is made here), and a file left
    there readable by others is replaced by one that is not."""
    from nbauth import _files

    if not path.parent.exists():
        _files.private_folder(path.parent)
    _files.write_private(path, text)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    with running(latency=args.latency, host=args.host, port=args.port, knobs=args.rate_limit) as sb:
        print(describe(sb))
        if args.env_file:
            write_atomically(args.env_file, env_file_text(sb))
            print(f"\nEnvironment written to {args.env_file}")
        print("Sandbox ready.", flush=True)
        parent = os.getppid()
        while not stop.wait(0.5):
            if args.stop_with_parent and os.getppid() != parent:
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
