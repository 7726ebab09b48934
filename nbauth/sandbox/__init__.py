"""The sandbox: real HTTP servers on loopback that emulate Couchdrop, Rocket.Chat and ioGates.

Demos and tests use it to log in with no internet. It needs the `sandbox` extra (starlette,
uvicorn, pyotp), which is why `import nbauth` never imports this package.

    from nbauth.sandbox import running
    with running() as sb:
        sb.urls["rocketchat"], sb.env, sb.knobs["iogates"].fail_status = ...
"""

from nbauth.sandbox.common import Knobs
from nbauth.sandbox.runner import Sandbox, running
from nbauth.sandbox.seed import Seed, User

__all__ = ["Knobs", "Sandbox", "Seed", "User", "running"]
