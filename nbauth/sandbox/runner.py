"""Runs the three emulated services as real HTTP servers on loopback, and hands out their URLs,
demo credentials and controls as one `Sandbox`.

Sockets are bound before uvicorn starts so the ports are known up front (and port 0 never
races), and all servers share one background thread and event loop, so a test session pays for
one thread and the caller's own thread stays free for blocking clients.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import pyotp
import uvicorn

from nbauth.sandbox.common import Knobs, ServiceApp
from nbauth.sandbox.couchdrop import Couchdrop
from nbauth.sandbox.iogates import IoGates
from nbauth.sandbox.rocketchat import RocketChat
from nbauth.sandbox.rocketchat_limits import RateLimiter
from nbauth.sandbox.seed import DEMO_USER, SERVICES, Room, Seed, User

START_TIMEOUT = 10.0


def base_url(host: str, port: int, scheme: str = "http") -> str:
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on accepted sockets that say TCP, and
    # without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    return sock


class Sandbox:
    """A running sandbox: URLs, demo credentials, issued tokens and fault knobs."""

    def __init__(
        self,
        seed: Seed,
        services: tuple[Couchdrop, RocketChat, IoGates],
        urls: Mapping[str, str],
        blackhole_url: str,
        closed_url: str,
        serving: _Serving,
    ) -> None:
        self.seed = seed
        self.urls = dict(urls)
        self.blackhole_url = blackhole_url
        self.closed_url = closed_url
        self._services: dict[str, ServiceApp[Any]] = {s.name: s for s in services}
        self._couchdrop, self._rocketchat, self._iogates = services
        self._serving = serving

    @property
    def env(self) -> dict[str, str]:
        """NBAUTH_<SERVICE>_URL/_USERNAME/_PASSWORD that log in each service's demo user."""
        env = {}
        for service in SERVICES:
            user = self.user(service, DEMO_USER)
            prefix = f"NBAUTH_{service.upper()}_"
            env[prefix + "URL"] = self.urls[service]
            env[prefix + "USERNAME"] = user.username
            env[prefix + "PASSWORD"] = user.password
        return env

    @property
    def knobs(self) -> dict[str, Knobs]:
        return {name: service.knobs for name, service in self._services.items()}

    @property
    def couchdrop_admin_token(self) -> str:
        return self.seed.couchdrop_admin_token

    @property
    def rocketchat_pat(self) -> tuple[str, str]:
        """(token, user id) of the demo user's personal access token."""
        return self.seed.rocketchat_pat, self.user("rocketchat", DEMO_USER).user_id

    @property
    def share_urls(self) -> dict[str, str]:
        return {name: share.url(self.urls["iogates"]) for name, share in self.seed.shares.items()}

    def user(self, service: str, name: str) -> User:
        return self.seed.user(service, name)

    def totp(self, service: str, name: str) -> str:
        secret = self.user(service, name).totp_secret
        if secret is None:
            raise ValueError(f"{name} has no TOTP two-factor on {service}")
        return str(pyotp.TOTP(secret).now())

    def sms_code(self, share_key_or_token: str) -> str:
        """Latest SMS code for a share ("sms" or its 32-hex key) or a share token."""
        return self._iogates.latest_sms_code(share_key_or_token)

    @property
    def rocketchat_limiter(self) -> RateLimiter:
        """Rocket.Chat's rate limiter: what it counted and refused, by route."""
        return self._rocketchat.limiter

    def email_code(self, username: str) -> str:
        return self._rocketchat.latest_email_code(username)

    def issued(self, service: str) -> list[tuple[str, str]]:
        """(username, token) pairs in issue order; ioGates share tokens as ("share:<name>", ...)."""
        return list(self._services[service].issued)

    def reset(self) -> None:
        """Knobs back to their defaults, rate-limit counters cleared and added rooms removed;
        tokens are kept."""
        for service in self._services.values():
            service.reset()

    def revoke(self, service: str, token: str) -> None:
        """End `token` on the server, as an expiry or an admin would: later calls are refused."""
        tokens: dict[str, dict[str, Any]] = {
            "couchdrop": self._couchdrop.sessions,
            "rocketchat": self._rocketchat.tokens,
            "iogates": self._iogates.grants,
        }
        tokens[service].pop(token, None)

    def add_room(self, name: str, kind: str, members: Sequence[str], count: int) -> Room:
        """A new Rocket.Chat room ("c" channel, "p" private, "d" direct) of `count` messages
        posted by `members` in turn. It lasts until `reset()`, which the test fixture calls
        after every test, so the seed's rooms stay the ones tests count."""
        return self._rocketchat.add_room(name, kind, members, count)

    @property
    def iogates_delivered(self) -> list[dict[str, str]]:
        """The headers of every request that reached where an ioGates download link redirects
        (another host name of the same server), oldest first; `reset()` clears them."""
        return list(self._iogates.delivered)

    def fill_couchdrop(self, user: str, folder: str, count: int) -> None:
        """Put `count` small files in `user`'s Couchdrop `folder` (made if missing): a big folder
        for listing tests. Call it between requests; `POST /_sandbox/fill` does it over HTTP."""
        self._couchdrop.fill(user, folder, count)

    def restart(self, downtime: float = 0.0) -> None:
        """Stop the servers, wait `downtime` seconds, then serve again on the same ports.

        Requests in flight may finish, open connections close, and connections tried meanwhile
        are refused. Accounts, issued tokens and knobs are kept, as a database would keep them.
        """
        self._serving.stop()
        time.sleep(downtime)
        self._serving = self._serving.again()


def _server(service: ServiceApp[Any], tls: tuple[str, str] | None = None) -> uvicorn.Server:
    config = uvicorn.Config(
        service.app(),
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    return uvicorn.Server(config)


async def _serve_all(servers: list[uvicorn.Server], sockets: list[socket.socket]) -> None:
    pairs = zip(servers, sockets, strict=True)
    await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in pairs))


def _wait_started(servers: list[uvicorn.Server], thread: threading.Thread) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not all(server.started for server in servers):
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox servers did not start")
        time.sleep(0.01)


class _Serving:
    """The services' servers on one background thread, until `stop()`."""

    def __init__(
        self,
        services: Sequence[ServiceApp[Any]],
        sockets: list[socket.socket],
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.services = services
        self.tls = tls
        self.addresses = [sock.getsockname()[:2] for sock in sockets]
        self.servers = [_server(service, tls) for service in services]
        self.thread = threading.Thread(
            target=asyncio.run, args=(_serve_all(self.servers, sockets),), name="nbauth-sandbox"
        )
        self.thread.start()
        try:
            _wait_started(self.servers, self.thread)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop serving; uvicorn closes the listening sockets."""
        for server in self.servers:
            server.should_exit = True
        self.thread.join()

    def again(self) -> _Serving:
        """The same services served anew on the same addresses (after `stop()`)."""
        sockets = [listening_socket(host, port) for host, port in self.addresses]
        try:
            return _Serving(self.services, sockets, self.tls)
        except BaseException:
            for sock in sockets:
                sock.close()
            raise


@contextmanager
def running(
    seed: Seed | None = None,
    latency: float = 0.0,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: tuple[str, str] | None = None,
    knobs: Mapping[str, Any] | None = None,
) -> Iterator[Sandbox]:
    """Serve the three services until the block ends.

    `port` 0 picks free ports; N serves Couchdrop on N, Rocket.Chat on N+1 and ioGates on N+2.
    `tls` = (certfile, keyfile) serves HTTPS with that certificate (a test CA's, say), so
    clients can be tried against certificate checks. `knobs` sets the services' default
    knobs (`{"rate_limit_window": 1.0}`, say); `reset()` goes back to them.
    """
    scheme = "https" if tls else "http"
    seed = seed or Seed.demo()
    defaults = Knobs(latency=latency)
    defaults.update(knobs or {})
    services = (Couchdrop(seed, defaults), RocketChat(seed, defaults), IoGates(seed, defaults))
    with ExitStack() as stack:
        sockets = [
            stack.enter_context(listening_socket(host, port + i if port else 0))
            for i in range(len(services))
        ]
        blackhole = stack.enter_context(listening_socket(host, 0))
        with listening_socket(host, 0) as probe:
            closed_port = probe.getsockname()[1]
        ports = [sock.getsockname()[1] for sock in sockets]
        urls = {
            name: base_url(host, port, scheme) for name, port in zip(SERVICES, ports, strict=True)
        }
        sandbox = Sandbox(
            seed,
            services,
            urls,
            blackhole_url=base_url(host, blackhole.getsockname()[1], scheme),
            closed_url=base_url(host, closed_port, scheme),
            serving=_Serving(services, sockets, tls),
        )
        try:
            yield sandbox
        finally:
            sandbox._serving.stop()
