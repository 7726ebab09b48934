"""Plain HTTP to loopback is allowed because it never leaves the machine; through a proxy
(``HTTP_PROXY``, ``ALL_PROXY``, either case, where ``NO_PROXY`` does not cover the host) it does,
and the proxy reads it in clear. So nbauth treats such a URL as another machine's: refused
without ``allow_insecure=True``. The route is httpx's own (nbauth._urls): the same reading of the
variables, the same NO_PROXY rules, and nbauth's shared clients built from that reading.

A real proxy on loopback (tests/recorders.py) keeps every byte it receives; the sandbox's
passwords and tokens are unique canaries (tests/leaks.py). ``%nbauth doctor`` masks a proxy's
password in every form httpx takes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import figures
import httpx
import pytest
from leaks import canaries, canary_seed
from recorders import RecordingProxy
from test_secret_leaks import exception_texts, watching

import nbauth
from nbauth import _http, _urls
from nbauth.doctor import doctor
from nbauth.sandbox import Sandbox, running

SERVICES = ["couchdrop", "rocketchat", "iogates"]


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with running(seed=canary_seed()) as sandbox:
        sandbox.knobs["rocketchat"].rate_limit_calls = None  # many logins of one user
        yield sandbox


@pytest.fixture(autouse=True)
def _no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every proxy variable of the machine out of the way, before and after."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    yield


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    with RecordingProxy() as recording:
        yield recording


@pytest.fixture
def forwarding() -> Iterator[RecordingProxy]:
    with RecordingProxy(forward=True) as recording:
        yield recording


def log_in(sb: Sandbox, service: str, **kw: object) -> nbauth.Session:
    user = sb.user(service, "alice")
    return nbauth.login(
        service, url=sb.urls[service], username="alice", password=user.password, **kw
    )


def secrets_of(sb: Sandbox) -> dict[str, str]:
    return canaries(sb)


def leaked(sb: Sandbox, text: str) -> list[str]:
    return [name for name, value in secrets_of(sb).items() if value in text]


# -- a loopback login through a proxy ----------------------------------------------------------


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
@pytest.mark.parametrize("service", SERVICES)
def test_a_loopback_login_through_a_proxy_is_refused_before_anything_reaches_it(
    sb, proxy, monkeypatch, variable, service
):
    value = proxy.url if variable.isupper() else proxy.url.removeprefix("http://")  # no scheme
    monkeypatch.setenv(variable, value)
    with watching() as shown, pytest.raises(nbauth.UsageError) as caught:
        log_in(sb, service)
    message = caught.value.message
    assert f"through the proxy 127.0.0.1:{proxy.port} (from {variable})" in message
    assert "allow_insecure=True" in message and "NO_PROXY" in message
    assert proxy.received == []
    texts = {**exception_texts(caught.value), "log": "\n".join(shown["log"] + shown["warnings"])}
    found = [f"{n} in {where}" for where, t in texts.items() for n in leaked(sb, t)]
    figures.add("canary checks: proxy paths", 1)
    figures.add("canary hits", len(found))
    assert found == []


def test_async_logins_batches_and_the_magic_are_refused_too(sb, proxy, monkeypatch, ip):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    user = sb.user("rocketchat", "alice")
    with pytest.raises(nbauth.UsageError, match="through the proxy"):
        asyncio.run(
            nbauth.alogin(
                "rocketchat", url=sb.urls["rocketchat"], username="alice", password=user.password
            )
        )
    rows = [
        {
            "service": s,
            "url": sb.urls[s],
            "username": "alice",
            "password": sb.user(s, "alice").password,
        }
        for s in SERVICES
    ]
    table = nbauth.login_many(rows, progress=False)
    assert not table["ok"].any() and table["error"].str.contains("through the proxy").all()
    monkeypatch.setenv("NBAUTH_NONINTERACTIVE", "1")
    for name, value in {"URL": sb.urls["couchdrop"], "USERNAME": "alice"}.items():
        monkeypatch.setenv(f"NBAUTH_COUCHDROP_{name}", value)
    monkeypatch.setenv("NBAUTH_COUCHDROP_PASSWORD", sb.user("couchdrop", "alice").password)
    with pytest.raises(nbauth.UsageError, match="through the proxy"):
        ip.run_line_magic("login", "couchdrop")
    assert proxy.received == []
    figures.add("canary checks: proxy paths", 3)
    figures.add("canary hits", len(leaked(sb, table.to_string())))
    assert leaked(sb, table.to_string()) == []


def test_with_allow_insecure_it_goes_through_the_proxy_which_reads_the_password(
    sb, forwarding, monkeypatch
):
    """The control: the proxy is real, forwards, and sees a plain-HTTP password in clear."""
    monkeypatch.setenv("HTTP_PROXY", forwarding.url)
    session = log_in(sb, "couchdrop", allow_insecure=True)
    assert session.username == "alice"
    assert sb.user("couchdrop", "alice").password in forwarding.raw
    assert forwarding.received[0]["line"].startswith(f"POST {sb.urls['couchdrop']}/authenticate")


@pytest.mark.parametrize(
    "no_proxy",
    [
        ("NO_PROXY", "127.0.0.1"),
        ("no_proxy", "127.0.0.1"),
        ("NO_PROXY", "localhost,127.0.0.1,::1"),
        ("NO_PROXY", "*"),
        ("NO_PROXY", "example.com, 127.0.0.1"),
        ("NO_PROXY", "http://127.0.0.1"),
    ],
)
def test_no_proxy_covering_loopback_reaches_it_directly(sb, proxy, monkeypatch, no_proxy):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv(*no_proxy)
    for service in SERVICES:
        assert log_in(sb, service).username == "alice"
    assert proxy.received == []


@pytest.mark.parametrize("no_proxy", ["localhost", "127.0.0.2", "127.0.0.1:1"])
def test_no_proxy_that_does_not_cover_the_host_is_refused(sb, proxy, monkeypatch, no_proxy):
    """httpx matches NO_PROXY by name (no lookup), address and port: so does nbauth."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    with pytest.raises(nbauth.UsageError, match="through the proxy"):
        log_in(sb, "iogates")
    assert proxy.received == []


def test_an_https_proxy_variable_leaves_plain_http_direct(sb, proxy, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    assert log_in(sb, "rocketchat").username == "alice"
    assert proxy.received == []


def test_a_change_of_the_variables_is_seen_at_the_next_login(sb, forwarding, monkeypatch):
    assert log_in(sb, "couchdrop").username == "alice"  # the shared clients exist, direct
    monkeypatch.setenv("HTTP_PROXY", forwarding.url)
    with pytest.raises(nbauth.UsageError, match="through the proxy"):
        log_in(sb, "couchdrop")
    log_in(sb, "couchdrop", allow_insecure=True)
    assert len(forwarding.received) == 1  # the shared client of the new reading uses it
    monkeypatch.delenv("HTTP_PROXY")
    assert log_in(sb, "couchdrop").username == "alice"
    assert len(forwarding.received) == 1


def test_a_later_call_through_a_proxy_set_since_the_login_is_refused(sb, proxy, monkeypatch):
    """A session's later calls send its token: a proxy variable set after the login would
    carry it in clear, so they keep the login's rule."""
    sessions = {service: log_in(sb, service) for service in SERVICES}
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    calls = {
        "couchdrop storage": lambda: sessions["couchdrop"].storage(),
        "couchdrop files": lambda: sessions["couchdrop"].ls("/"),
        "rocketchat rooms": lambda: sessions["rocketchat"].rooms(),
        "iogates files": lambda: sessions["iogates"].ls("/"),
        "iogates storage, async": lambda: asyncio.run(sessions["iogates"].astorage()),
        "rocketchat client": lambda: sessions["rocketchat"].client(),
        "couchdrop async client": lambda: sessions["couchdrop"].aclient(),
    }
    for name, call in calls.items():
        sessions["iogates"]._storage = None
        with pytest.raises(nbauth.UsageError, match="through the"):
            call()
        assert proxy.received == [], name
    figures.add("canary checks: proxy paths", len(calls))
    figures.add("canary hits", len(proxy.received))


def test_a_session_client_follows_its_own_routing(sb, proxy, forwarding, monkeypatch):
    session = log_in(sb, "rocketchat")
    token = session.token.reveal()
    with pytest.raises(nbauth.UsageError, match=r"client's proxy 127\.0\.0\.1"):
        session.client(proxy=proxy.url)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    with pytest.raises(nbauth.UsageError, match=rf"from HTTP_PROXY|proxy 127.0.0.1:{proxy.port}"):
        session.client()
    with session.client(trust_env=False) as client:  # the variables ignored: direct
        assert client.get("/api/v1/me").status_code == 200
    assert proxy.received == []
    monkeypatch.setenv("HTTP_PROXY", forwarding.url)
    allowed = log_in(sb, "rocketchat", allow_insecure=True)
    with allowed.client() as client:  # allowed at login: through the proxy, token and all
        assert client.get("/api/v1/me").status_code == 200
    assert allowed.token.reveal() in forwarding.raw and token not in forwarding.raw


# -- the decision is httpx's ---------------------------------------------------------------------

ENVIRONMENTS = [
    {},
    {"HTTP_PROXY": "http://proxy.example:3128"},
    {"http_proxy": "proxy.example:3128"},
    {"ALL_PROXY": "http://proxy.example:3128"},
    {"HTTPS_PROXY": "http://proxy.example:3128"},
    {"HTTP_PROXY": "http://proxy.example:3128", "NO_PROXY": "127.0.0.1"},
    {"HTTP_PROXY": "http://proxy.example:3128", "NO_PROXY": "localhost"},
    {"HTTP_PROXY": "http://proxy.example:3128", "no_proxy": "::1,localhost"},
    {"ALL_PROXY": "http://proxy.example:3128", "NO_PROXY": ".localdomain,127.0.0.0/8"},
    {"ALL_PROXY": "http://proxy.example:3128", "NO_PROXY": "*"},
    {"ALL_PROXY": "http://proxy.example:3128", "NO_PROXY": "http://127.0.0.1:8000"},
    {"HTTP_PROXY": "http://proxy.example:3128", "REQUEST_METHOD": "GET"},
    {"HTTP_PROXY": "http://a.example:1", "http_proxy": "http://b.example:2"},
]
URLS = [
    "http://127.0.0.1",
    "http://127.0.0.1:8000",
    "http://127.0.0.2:9",
    "http://localhost:8000",
    "http://[::1]:8000",
    "http://localhost.localdomain",
    "https://127.0.0.1",
]


@pytest.mark.parametrize(
    "env", ENVIRONMENTS, ids=lambda e: ",".join(f"{k}={v}" for k, v in e.items()) or "none"
)
def test_the_route_equals_httpxs_own(monkeypatch, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reading = _urls.read_proxies()
    theirs = httpx.Client()  # a default httpx client reads the same variables
    ours = _http._client(True)  # nbauth's shared client, made from nbauth's reading
    for text in URLS:
        url = httpx.URL(text)
        by_httpx = theirs._transport_for_url(url) is not theirs._transport
        assert (reading.proxy_for(url) is not None) == by_httpx, text
        assert (ours._transport_for_url(url) is not ours._transport) == by_httpx, text
        assert (_urls.route(url) is not None) == by_httpx, text
        assert (_urls.route(url, theirs) is not None) == by_httpx, text
    theirs.close()


# -- bad proxy variables, and the doctor ------------------------------------------------------

PROXY_CANARY = "proxycanary" + "7f3e9a"
PROXY_VALUES = [
    f"http://user:{PROXY_CANARY}@proxy.example:3128",
    f"user:{PROXY_CANARY}@proxy.example:3128",  # no scheme: httpx adds http://
    f"http://user:p#{PROXY_CANARY}@proxy.example:3128",
    f"http://user:p?{PROXY_CANARY}@proxy.example:3128",
    f"http://user:p@{PROXY_CANARY}@proxy.example:3128",
    f"http://user:p%40{PROXY_CANARY}@proxy.example:3128",
    f"user:p#{PROXY_CANARY}@proxy.example:3128",
    f"user:a://{PROXY_CANARY}@proxy.example:3128",
    f"socks5://user:{PROXY_CANARY}@proxy.example:1080",
    f"http://{PROXY_CANARY}@proxy.example:3128",
]


def doctor_proxy_row(ip):
    """``%nbauth doctor``'s proxy row, once no form of the report shows the canary."""
    report = doctor(ip)
    texts = repr(report) + report._repr_html_() + report.frame.to_string()
    figures.add("canary checks: proxy paths", 1)
    figures.add("canary hits", int(PROXY_CANARY in texts))
    assert PROXY_CANARY not in texts
    return report.frame.set_index("check").loc["proxy"]


@pytest.mark.parametrize("value", PROXY_VALUES)
@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "http_proxy"])
def test_the_doctor_masks_a_proxy_password_in_every_form(ip, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    row = doctor_proxy_row(ip)
    assert f"{variable}=" in row["found"] and "***@proxy.example" in row["found"]
    assert "NO_PROXY=localhost,127.0.0.1" in row["found"]  # as it is


#: Proxy values with a credential after the host (a path, a query, a fragment), and what the
#: doctor shows of each: the scheme, the host and the port, nothing more.
PROXY_PATHS = {
    f"http://127.0.0.1:9/{PROXY_CANARY}": "http://127.0.0.1:9",
    f"http://127.0.0.1:9/?auth={PROXY_CANARY}": "http://127.0.0.1:9",
    f"http://proxy.example:3128#{PROXY_CANARY}": "http://proxy.example:3128",
    f"http://[::1]:3128/p/{PROXY_CANARY}?x=1": "http://[::1]:3128",
    f"proxy.example:3128/{PROXY_CANARY}": "proxy.example:3128",
    f"http://user:pw@proxy.example:3128/x?token={PROXY_CANARY}": "http://***@proxy.example:3128",
    f"socks5://proxy.example:1080/{PROXY_CANARY}\n": "socks5://proxy.example:1080",
}


@pytest.mark.parametrize("value", list(PROXY_PATHS))
@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "all_proxy"])
def test_the_doctor_shows_a_proxy_as_scheme_host_and_port_only(ip, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    row = doctor_proxy_row(ip)
    assert f"{variable}={PROXY_PATHS[value]}" in row["found"]


@pytest.mark.parametrize("value", PROXY_VALUES)
def test_a_proxy_variable_httpx_cannot_use_is_a_usage_error_naming_it(sb, monkeypatch, value):
    """httpx's own error for these quotes the URL up to the broken part, password included;
    nbauth names the variable instead, for the login, a session's calls and its client."""
    session = log_in(sb, "rocketchat")
    monkeypatch.setenv("HTTP_PROXY", value)
    try:
        httpx.Client().close()
        return  # httpx takes this one: nothing to refuse
    except ImportError:
        pass  # socks5 without socksio
    except (httpx.InvalidURL, ValueError):
        pass
    user = sb.user("iogates", "alice")
    attempts = {
        "login": lambda: nbauth.login(
            "iogates", url=sb.urls["iogates"], username="alice", password=user.password
        ),
        "a session's call": lambda: session.rooms(),
        "a session's client": lambda: session.client(),
    }
    for name, attempt in attempts.items():
        with watching() as shown, pytest.raises(nbauth.UsageError) as caught:
            attempt()
        texts = {**exception_texts(caught.value), "log": "\n".join(shown["log"])}
        assert "HTTP_PROXY" in caught.value.message, name
        found = [where for where, text in texts.items() if PROXY_CANARY in text]
        figures.add("canary checks: proxy paths", 1)
        figures.add("canary hits", len(found))
        assert found == [], name


def test_the_doctor_says_when_loopback_goes_through_the_proxy(ip, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    advice = doctor(ip).frame.set_index("check").loc["proxy", "advice"]
    assert "through the proxy" in advice and "NO_PROXY" in advice
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1,::1")
    advice = doctor(ip).frame.set_index("check").loc["proxy", "advice"]
    assert "reached directly" in advice
