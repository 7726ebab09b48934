"""`make demo`: start the sandbox, log in to all three services, print the tables.

It logs in exactly as a user would, from the NBAUTH_* environment variables
that the sandbox hands out, so what it prints is what a notebook would show.
"""

from __future__ import annotations

import os
import sys

import nbauth

from . import running

SERVICES = ("couchdrop", "rocketchat", "iogates")


def login_from_env(service: str, env: dict[str, str]) -> nbauth.Session:
    prefix = f"NBAUTH_{service.upper()}_"
    return nbauth.login(
        service,
        url=env[prefix + "URL"],
        username=env[prefix + "USERNAME"],
        password=env[prefix + "PASSWORD"],
    )


def main() -> int:
    import pandas as pd

    pd.set_option("display.width", 120)
    pd.set_option("display.max_colwidth", 60)
    with running() as sb:
        env = {**os.environ, **sb.env}
        for service in SERVICES:
            session = login_from_env(service, env)
            print(f"\n=== {session.title}: logged in as {session.username} at {session.url}")
            print("\nProfile:")
            print(session.profile_frame().to_string(index=False))
            print("\nStorage:")
            print(session.storage_frame().to_string(index=False))
        print("\n=== Sessions in this kernel (tokens masked):")
        print(nbauth.sessions().to_string(index=False))
        for service in SERVICES:
            nbauth.logout(service)
    print("\nAll three logins worked; the sandbox has stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
