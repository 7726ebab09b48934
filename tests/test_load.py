"""1,000 logins at once across the three sandbox services, on threads and on asyncio: every one
succeeds, every session holds the token the server issued to its user, no two share a token,
and the store, read all along by another thread, is never caught in a broken state.

The asyncio batch is not throttled: the sandbox takes the 1,000 connections at once (measured:
no listen-queue overflow, and each login waits about 2 s, on 2 cores, for the one event loop
serving them all). Client and sandbox share this process, so it needs some 2,000 file
descriptors; the test raises the soft limit when it is lower.
"""

import asyncio
import resource
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import figures
import pytest

import nbauth

N = 1_000
#: Several users a service, bob with TOTP two-factor (carol's e-mail codes are single-use).
USERS = {
    "couchdrop": ("alice", "bob", "dave"),
    "rocketchat": ("alice", "bob", "dave"),
    "iogates": ("alice", "dave"),
}


@pytest.fixture
def enough_file_descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * N if hard == resource.RLIM_INFINITY else min(hard, 4 * N)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def batch(sandbox):
    """N logins, round robin over every (service, user), each under an alias of its own."""
    pairs = [(service, name) for service, names in USERS.items() for name in names]
    logins = []
    for i in range(N):
        service, name = pairs[i % len(pairs)]
        user = sandbox.user(service, name)
        arguments = {
            "url": sandbox.urls[service],
            "username": name,
            "password": user.password,
            "alias": f"{service}-{name}-{i}",
        }
        if user.totp_secret:
            arguments["code"] = sandbox.totp(service, name)
        logins.append((service, arguments))
    return logins


class StoreWatcher(threading.Thread):
    """Reads the session table over and over while the logins run; records what is wrong.
    It pauses between reads: a table of 1,000 rows built back to back holds the GIL enough to
    double the batch's time."""

    def __init__(self):
        super().__init__(name="store-watcher")
        self.stop = threading.Event()
        self.reads = 0
        self.problems = []

    def run(self):
        while not self.stop.is_set():
            table = nbauth.sessions()
            self.reads += 1
            if table["alias"].duplicated().any():
                self.problems.append("an alias listed twice")
            if len(table) and table["current"].sum() != 1:
                self.problems.append(f"{table['current'].sum()} current sessions")
            self.stop.wait(0.005)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join()


def check_batch(sandbox, logins, results, label, seconds):
    failures = [r for r in results if isinstance(r, BaseException)]
    figures.add(f"concurrent logins ({label})", len(results))
    figures.add(f"concurrent login failures ({label})", len(failures))
    figures.put(
        f"1,000 {'threaded' if label == 'threads' else label} logins, seconds", round(seconds, 2)
    )
    assert not failures, failures[:3]

    issued = {service: set(sandbox.issued(service)) for service in USERS}
    for (service, arguments), session in zip(logins, results, strict=True):
        assert (session.service, session.alias) == (service, arguments["alias"])
        assert session.username == arguments["username"]
        assert (session.username, session.token.reveal()) in issued[session.service]
    tokens = [session.token.reveal() for session in results]
    assert len(set(tokens)) == N, "two sessions hold one token"

    table = nbauth.sessions()
    assert sorted(table["alias"]) == sorted(arguments["alias"] for _, arguments in logins)
    current = table.loc[table["current"], "alias"]
    assert len(current) == 1 and nbauth.session() is nbauth.session(current.iloc[0])

    for session in results:
        session.logout()
    assert nbauth.sessions().empty


def test_1000_logins_on_threads(sandbox, enough_file_descriptors, no_rate_limit):
    logins = batch(sandbox)

    def login(job):
        service, arguments = job
        try:
            return nbauth.login(service, **arguments)
        except nbauth.NbAuthError as exc:
            return exc

    started = time.monotonic()
    with StoreWatcher() as watcher, ThreadPoolExecutor(max_workers=64) as pool:
        results = list(pool.map(login, logins))
    assert watcher.reads > 0 and not watcher.problems, watcher.problems[:3]
    check_batch(sandbox, logins, results, "threads", time.monotonic() - started)


def test_1000_logins_on_asyncio(sandbox, enough_file_descriptors, no_rate_limit):
    logins = batch(sandbox)

    async def all_at_once():
        jobs = (nbauth.alogin(service, **arguments) for service, arguments in logins)
        return await asyncio.gather(*jobs, return_exceptions=True)

    started = time.monotonic()
    with StoreWatcher() as watcher:
        results = asyncio.run(all_at_once())
    assert watcher.reads > 0 and not watcher.problems, watcher.problems[:3]
    check_batch(sandbox, logins, results, "asyncio", time.monotonic() - started)
