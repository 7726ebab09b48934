"""Servers that fail under a batch of logins: answers cut off mid-body, a sandbox restarted in
the middle, a server that never answers, and one that trickles its body.

What must hold: each affected login raises ConnectionFailed (never another exception, never a
hang past its timeout), the others succeed, and the store holds exactly the logins that
succeeded, each complete and still usable.
"""

import asyncio
import inspect
import time
from concurrent.futures import ThreadPoolExecutor

import figures
import pytest

import nbauth
from nbauth.api import DEFAULT_TIMEOUT
from nbauth.sandbox import running

N = 200
SERVICES = ("couchdrop", "rocketchat", "iogates")


def batch(sandbox):
    """N logins under aliases of their own: passwords (one request) on every service, and
    ioGates share URLs and Rocket.Chat personal access tokens, whose logins make more than
    one request or check a token, so a fault can also land in the middle of a login."""
    pat, user_id = sandbox.rocketchat_pat
    logins = []
    for i in range(N):
        service = SERVICES[i % 3]
        arguments = {"url": sandbox.urls[service], "alias": f"{service}-{i}"}
        if service == "iogates" and i % 2:
            arguments = {"share_url": sandbox.share_urls["open"], "alias": f"share-{i}"}
        elif service == "rocketchat" and i % 2:
            arguments |= {"token": pat, "user_id": user_id}
        else:
            name = ("alice", "dave")[i // 6 % 2]
            arguments |= {"username": name, "password": sandbox.user(service, name).password}
        logins.append((service, arguments))
    return logins


def attempt(service, arguments):
    try:
        return nbauth.login(service, **arguments)
    except nbauth.NbAuthError as exc:
        return exc


def check_outcome(logins, results):
    """Every login succeeded or raised ConnectionFailed; the store holds exactly the sessions
    that succeeded, each complete and usable. Returns (failed, lost or half-stored)."""
    sessions = [r for r in results if isinstance(r, nbauth.Session)]
    failed = [r for r in results if isinstance(r, nbauth.ConnectionFailed)]
    others = [r for r in results if not isinstance(r, (nbauth.Session, nbauth.ConnectionFailed))]
    assert not others, others[:3]
    assert len(sessions) + len(failed) == N
    for exc in failed:
        assert "Try again" in exc.message or "running" in exc.message, exc.message

    stored = {s.alias: s for s in (nbauth.session(a) for a in nbauth.sessions()["alias"])}
    wanted = {s.alias: s for s in sessions}
    lost = len(wanted.keys() ^ stored.keys()) + sum(stored[a] is not wanted[a] for a in stored)
    for (service, arguments), result in zip(logins, results, strict=True):
        if isinstance(result, nbauth.Session):
            assert (result.service, result.alias) == (service, arguments["alias"])
            complete = result.token.reveal() and result.username and result.profile
            lost += not complete
            result.storage_frame()  # a call with the token: the server still takes it
    figures.add("sessions lost or half-stored", lost)
    return len(failed), lost


@pytest.mark.parametrize("runner", ["threads", "asyncio"])
def test_answers_cut_off_mid_body_fail_only_their_logins(sandbox, runner, no_rate_limit):
    drops = {"couchdrop": 10, "rocketchat": 10, "iogates": 15}
    for service, times in drops.items():
        # one answer in four cut off: some land on the second request of a share-URL login
        sandbox.knobs[service].update({"drop_times": times, "drop_every": 4})
    logins = batch(sandbox)
    if runner == "threads":
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(lambda job: attempt(*job), logins))
    else:

        async def all_at_once():
            jobs = (nbauth.alogin(service, **arguments) for service, arguments in logins)
            return await asyncio.gather(*jobs, return_exceptions=True)

        results = asyncio.run(all_at_once())

    injected = sum(t - (sandbox.knobs[s].drop_times or 0) for s, t in drops.items())
    figures.add("faults injected", injected)
    failed, lost = check_outcome(logins, results)
    assert injected == sum(drops.values())  # the batch met every one
    assert failed == injected  # each cut-off answer failed its own login, and no other
    assert lost == 0


def test_a_login_cut_off_at_its_second_request_stores_nothing():
    with running() as sb:  # its own, so the share-URL login makes its requests 1 and 2
        sb.knobs["iogates"].update({"drop_times": 1, "drop_every": 2})
        with pytest.raises(nbauth.ConnectionFailed, match="Try again"):
            nbauth.login("iogates", share_url=sb.share_urls["open"])
        assert [name for name, _ in sb.issued("iogates")] == ["share:open"]  # a token was issued
        assert sb.knobs["iogates"].drop_times == 0  # and the share's details were cut off
    figures.add("faults injected", 1)
    assert nbauth.sessions().empty


def test_a_sandbox_restarted_mid_batch_fails_only_the_logins_it_met():
    """Logins start every 5 ms; the sandbox goes down after 0.3 s and comes back 0.2 s later."""
    unlimited = {"rate_limit_calls": None}  # a batch of Rocket.Chat logins from one address
    with (
        running(knobs=unlimited) as sb,
        ThreadPoolExecutor(1) as side,
        ThreadPoolExecutor(32) as pool,
    ):
        logins = batch(sb)
        started = time.monotonic()

        def at(seconds):
            time.sleep(max(0.0, started + seconds - time.monotonic()))

        def paced(i):
            at(0.005 * i)
            return attempt(*logins[i])

        def restart():
            at(0.3)
            sb.restart(downtime=0.2)

        restarted = side.submit(restart)
        results = list(pool.map(paced, range(N)))
        restarted.result()
        figures.add("faults injected", 1)
        failed, lost = check_outcome(logins, results)
    assert 0 < failed < N - 50  # before and after the restart, logins got through
    assert lost == 0


@pytest.mark.parametrize("runner", ["sync", "async"])
def test_a_server_that_never_answers_fails_within_the_timeout(sandbox, runner):
    arguments = {"url": sandbox.blackhole_url, "username": "a", "password": "b", "timeout": 0.5}
    started = time.monotonic()
    with pytest.raises(nbauth.ConnectionFailed, match=r"did not answer within 0\.5 s.*timeout="):
        if runner == "sync":
            nbauth.login("couchdrop", **arguments)
        else:
            asyncio.run(nbauth.alogin("couchdrop", **arguments))
    assert time.monotonic() - started < 1.0
    assert nbauth.sessions().empty


def test_the_default_timeout_is_at_most_30_seconds():
    assert DEFAULT_TIMEOUT <= 30
    for function in (nbauth.login, nbauth.alogin):
        assert inspect.signature(function).parameters["timeout"].default == DEFAULT_TIMEOUT


@pytest.mark.parametrize("runner", ["sync", "async"])
def test_a_body_trickled_slower_than_the_timeout_fails_within_about_the_timeout(sandbox, runner):
    sandbox.knobs["rocketchat"].slow_body = 2.0  # each piece of the body 2 s after the last
    user = sandbox.user("rocketchat", "alice")
    arguments = {"url": sandbox.urls["rocketchat"], "username": "alice", "password": user.password}
    started = time.monotonic()
    with pytest.raises(nbauth.ConnectionFailed, match=r"did not answer within 0\.5 s"):
        if runner == "sync":
            nbauth.login("rocketchat", timeout=0.5, **arguments)
        else:
            asyncio.run(nbauth.alogin("rocketchat", timeout=0.5, **arguments))
    assert time.monotonic() - started < 1.0
    assert nbauth.sessions().empty
