"""``session.client()`` and ``aclient()``: httpx clients that carry the session's token through
an ``httpx.Auth`` (``nbauth._client.SessionAuth``), never in their default headers or any repr,
send it only to the session's own origin (or the ``base_url`` given), never to another host by
an absolute URL or a redirect, and keep the login's plain-HTTP rule for every request.

What arrives at the other origin is recorded server-side: by the sandbox's ioGates delivery
host (its download links redirect from 127.0.0.1 to localhost, and it keeps each request's
headers), and by small recording servers on loopback (tests/recorders.py) for the headers of
Couchdrop and Rocket.Chat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import figures
import httpx
import pytest
from helpers import login_as
from recorders import RecordingServer

import nbauth
from nbauth.sandbox import Sandbox

SERVICES = ["couchdrop", "rocketchat", "iogates"]
#: A call on the session's own API that answers 200 with its token, per service.
ME = {"couchdrop": "/manage/account", "rocketchat": "/api/v1/me", "iogates": "/api/files"}


@pytest.fixture
def server_a() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


@pytest.fixture
def server_b() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


def session_of(sandbox: Sandbox, service: str, **kw: Any) -> nbauth.Session:
    if service == "iogates":
        return nbauth.login(
            "iogates",
            url=sandbox.urls["iogates"],
            username="alice",
            password=sandbox.user("iogates", "alice").password,
            **kw,
        )
    return login_as(service)(sandbox, **kw)


def token_headers(session: nbauth.Session) -> dict[str, str]:
    """The session's auth headers whose value holds its token (Rocket.Chat's X-User-Id is an
    id, not a secret, but it goes nowhere else either)."""
    return {k.lower(): v for k, v in session.auth_headers().items()}


def carried(received: dict[str, Any], session: nbauth.Session) -> list[str]:
    """The session's auth headers (or its token in any header) in a recorded request."""
    token = session.token.reveal()
    headers = received["header_dict"]
    found = [name for name in token_headers(session) if name in headers]
    found += [f"token in {name}" for name, value in headers.items() if token in value]
    return found


# -- reprs and headers ------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_the_client_holds_no_token_in_its_headers_or_reprs(sandbox, service):
    session = session_of(sandbox, service)
    token = session.token.reveal()
    with session.client() as client:
        assert isinstance(client.auth, httpx.Auth)
        shown = {
            "client.headers": repr(client.headers) + repr(dict(client.headers)),
            "repr(client.auth)": repr(client.auth),
            "vars(client.auth)": repr(vars(client.auth)),
            "repr(client)": repr(client) + repr(vars(client)),
            "event hooks": repr(client.event_hooks),
        }
        assert client.get(ME[service]).status_code == 200  # the API takes the token all the same
    found = [where for where, text in shown.items() if token in text]
    figures.add("canary checks: session client paths", len(shown))
    figures.add("canary hits", len(found))
    assert found == []
    assert session.token.masked in repr(client.auth) and "SessionAuth" in repr(client.auth)
    assert token in "".join(session.auth_headers().values())  # still the raw headers


def test_the_async_client_holds_no_token_either(sandbox):
    session = session_of(sandbox, "rocketchat")

    async def call() -> tuple[str, int]:
        async with session.aclient() as client:
            answer = await client.get("/api/v1/me")
            return repr(client.headers) + repr(client.auth), answer.status_code

    shown, status = asyncio.run(call())
    assert status == 200 and session.token.reveal() not in shown


# -- another origin: a redirect, an absolute URL ----------------------------------------------


@pytest.mark.parametrize("follow", ["client option", "per request"])
def test_an_iogates_redirect_to_another_host_carries_no_token(sandbox, follow):
    """The sandbox's download links answer 302 to the file on localhost (another origin than
    127.0.0.1): httpx drops Authorization there, but would keep the ``token`` header."""
    session = session_of(sandbox, "iogates")
    sandbox.knobs["iogates"].update({"iogates_download_redirect": True})
    options = {"follow_redirects": True} if follow == "client option" else {}
    with session.client(**options) as client:
        files = client.get("/api/files").json()["files"]
        link = next(f["download"] for f in files if f.get("download"))
        answer = client.get(link, follow_redirects=True) if not options else client.get(link)
    assert answer.status_code == 200 and answer.history[0].status_code == 302
    arrived = sandbox.iogates_delivered[-1]
    assert answer.url.host == "localhost"
    found = carried({"header_dict": {k.lower(): v for k, v in arrived.items()}}, session)
    figures.add("canary checks: session client paths", 1)
    figures.add("canary hits", len(found))
    assert found == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_redirect_to_another_origin_carries_none_of_the_auth_headers(
    sandbox, server_a, server_b, service
):
    """The client points at server A (base_url=), which redirects to server B: A gets the
    headers, B none. Then the same to the other name of loopback on A's own port."""
    session = session_of(sandbox, service)
    with session.client(base_url=server_a.url, follow_redirects=True) as client:
        client.get("/redirect", params={"to": server_b.url + "/landed"})
        client.get("/redirect", params={"to": server_a.url_as("localhost") + "/landed"})
    assert len(server_a.received) == 3 and len(server_b.received) == 1
    assert carried(server_a.received[0], session)  # the control: A, the base_url, has them
    found = carried(server_b.received[0], session) + carried(server_a.received[2], session)
    assert server_a.received[2]["header_dict"]["host"].startswith("localhost:")
    figures.add("canary checks: session client paths", 2)
    figures.add("canary hits", len(found))
    assert found == []


@pytest.mark.parametrize("service", SERVICES)
def test_an_absolute_url_to_another_host_carries_no_token(sandbox, server_b, service):
    session = session_of(sandbox, service)
    with session.client() as client:
        assert client.get(ME[service]).status_code == 200
        assert client.get(server_b.url + "/elsewhere").status_code == 200
        assert client.get(server_b.url_as("localhost") + "/elsewhere").status_code == 200
    found = [hit for received in server_b.received for hit in carried(received, session)]
    figures.add("canary checks: session client paths", 2)
    figures.add("canary hits", len(found))
    assert len(server_b.received) == 2 and found == []


def test_an_async_redirect_carries_no_token(sandbox, server_a, server_b):
    session = session_of(sandbox, "couchdrop")

    async def call() -> None:
        async with session.aclient(base_url=server_a.url, follow_redirects=True) as client:
            await client.get("/redirect", params={"to": server_b.url + "/landed"})
            await client.get(server_b.url + "/direct")

    asyncio.run(call())
    found = [hit for received in server_b.received for hit in carried(received, session)]
    figures.add("canary checks: session client paths", 2)
    figures.add("canary hits", len(found))
    assert carried(server_a.received[0], session) and len(server_b.received) == 2
    assert found == []


def test_headers_given_for_a_request_are_kept(sandbox, server_a):
    session = session_of(sandbox, "couchdrop")
    with session.client(base_url=server_a.url, headers={"X-Mine": "1"}) as client:
        client.get("/x", headers={"token": "another-token"})
    headers = server_a.received[0]["header_dict"]
    assert headers["token"] == "another-token" and headers["x-mine"] == "1"


def test_event_hooks_given_still_run_after_nbauths_check(sandbox, server_a, server_b):
    session = session_of(sandbox, "rocketchat")
    seen = []
    with session.client(
        base_url=server_a.url, follow_redirects=True, event_hooks={"request": [seen.append]}
    ) as client:
        client.get("/redirect", params={"to": server_b.url + "/landed"})
    assert [str(r.url.host) for r in seen] == ["127.0.0.1", "127.0.0.1"]
    assert not carried(server_b.received[0], session)
    assert "x-auth-token" not in {k.lower() for k in seen[1].headers}


def test_auth_is_the_clients_own(sandbox):
    session = session_of(sandbox, "couchdrop")
    with pytest.raises(nbauth.UsageError, match="sets auth= itself"):
        session.client(auth=("someone", "pw"))


# -- plain http -----------------------------------------------------------------------------


def test_plain_http_to_another_machine_is_refused_for_requests_and_redirects(sandbox, server_a):
    session = session_of(sandbox, "rocketchat")
    with session.client(base_url=server_a.url, follow_redirects=True) as client:
        with pytest.raises(nbauth.UsageError, match="plain HTTP to another machine"):
            client.get("http://example.invalid/api/v1/me")
        with pytest.raises(nbauth.UsageError, match="plain HTTP to another machine"):
            client.get("/redirect", params={"to": "http://example.invalid/api/v1/me"})
    assert len(server_a.received) == 1  # the redirect's first hop only


def test_allow_insecure_at_login_lets_the_client_go_there_without_the_token(sandbox, server_a):
    session = session_of(sandbox, "iogates", allow_insecure=True)
    client = session.client(base_url=server_a.url, follow_redirects=True)
    with client, pytest.raises(httpx.ConnectError):  # sent (no such host), no UsageError
        client.get("/redirect", params={"to": "http://example.invalid/"})
    assert carried(server_a.received[0], session)


def test_a_request_url_with_userinfo_is_refused(sandbox, server_b):
    session = session_of(sandbox, "couchdrop")
    with session.client() as client, pytest.raises(nbauth.UsageError, match="request's URL"):
        client.get(server_b.url.replace("//", "//me:secret-pw@") + "/x")
    assert server_b.received == []


# -- after logout -----------------------------------------------------------------------------


#: A data call per service, which goes to the server with the session's token.
DATA_CALL = {
    "couchdrop": lambda s: s.ls("/"),
    "rocketchat": lambda s: s.rooms(),
    "iogates": lambda s: s.ls("/"),
}


@pytest.mark.parametrize("kind", ["rocketchat personal access token", *SERVICES])
def test_a_logged_out_session_and_its_clients_make_no_more_calls(sandbox, kind, caplog):
    """After ``nbauth.logout()`` (which, for a personal access token, only forgets it in the
    kernel: the token still works on the server), the Session's calls and every client made
    from it before refuse with NotLoggedIn, before sending anything; the token stays masked
    in httpx's log."""
    if kind.endswith("personal access token"):
        token, user_id = sandbox.rocketchat_pat
        session = nbauth.login(
            "rocketchat", url=sandbox.urls["rocketchat"], token=token, user_id=user_id
        )
        service = "rocketchat"
    else:
        session, service = session_of(sandbox, kind), kind
    client, aclient = session.client(), session.aclient()
    assert client.get(ME[service]).status_code == 200
    secret = session.token.reveal()
    nbauth.logout()
    assert nbauth.sessions().empty
    refusals = []
    with pytest.raises(nbauth.NotLoggedIn) as caught:
        client.get(ME[service])
    refusals.append(caught.value)
    with pytest.raises(nbauth.NotLoggedIn) as caught:
        asyncio.run(aclient.get(ME[service]))
    refusals.append(caught.value)
    with pytest.raises(nbauth.NotLoggedIn) as caught:
        DATA_CALL[service](session)
    refusals.append(caught.value)
    with pytest.raises(nbauth.NotLoggedIn) as caught:
        session.client().get(ME[service])  # a client made after the logout too
    refusals.append(caught.value)
    for refusal in refusals:
        assert f"the session '{session.alias}' was logged out" in refusal.message
        assert f"%login {service}" in refusal.message and secret not in refusal.message
    session.logout()  # a second logout does nothing
    assert session.logged_out
    client.close()
    # The token, no longer in the store, is still masked in httpx's log: a URL that holds it
    with caplog.at_level("DEBUG"), httpx.Client() as plain:
        plain.get(f"{sandbox.urls[service]}/nowhere/{secret}")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/nowhere/" in logged and secret not in logged
    figures.add("canary checks: session client paths", len(refusals) + 1)
    figures.add("canary hits", 0)
