"""The transport rules (nbauth/_http.py): plain HTTP only to loopback unless allowed, TLS checks
on by default with a CA bundle through verify=, a warning when they are off, and retries of a
GET answered 503 but never of a login POST. Against the sandbox over real HTTP(S)."""

import asyncio
import time
import warnings

import pytest
import trustme
from helpers import login_as

import nbauth
from nbauth._http import is_loopback
from nbauth.request import LoginRequest
from nbauth.sandbox import running

UNRESOLVABLE = "http://example.invalid"  # .invalid never resolves (RFC 6761)


# -- plain http:// ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["localhost", "LocalHost", "localhost.", "127.0.0.1", "127.8.9.10", "::1", "[::1]"]
)
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    ["example.com", "10.0.0.1", "128.0.0.1", "0.0.0.0", "::2", "localhost.example.com", "", "::"],
)
def test_hosts_that_are_not_loopback(host):
    assert not is_loopback(host)


@pytest.mark.parametrize("service", ["couchdrop", "rocketchat", "iogates"])
def test_plain_http_to_another_host_is_refused_before_any_request(service):
    """An unresolvable host proves no request was tried: one would end in ConnectionFailed."""
    started = time.perf_counter()
    with pytest.raises(nbauth.UsageError) as caught:
        nbauth.login(service, url=UNRESOLVABLE, username="alice", password="pw-never-sent")
    assert time.perf_counter() - started < 0.5
    message = caught.value.message
    assert "http://example.invalid" in message and "unencrypted" in message
    assert "allow_insecure=True" in message and "--allow-insecure" in message


@pytest.mark.parametrize(
    "where",
    [
        {"share_url": "http://files.example.invalid/show/15/59817e24914f1/x"},
        {"url": "http://10.1.2.3:8080", "username": "a", "password": "pw"},
        {"url": "http://[2001:db8::1]", "username": "a", "password": "pw"},
    ],
)
def test_a_share_url_or_an_address_is_refused_too(where):
    with pytest.raises(nbauth.UsageError, match="unencrypted"):
        nbauth.login("iogates", timeout=0.2, **where)


def test_couchdrop_file_host_over_plain_http_is_refused(sandbox):
    with pytest.raises(nbauth.UsageError, match=r"http://files\.example\.invalid is plain HTTP"):
        login_as("couchdrop")(sandbox, fileio_url="http://files.example.invalid")


def test_alogin_refuses_plain_http_too():
    with pytest.raises(nbauth.UsageError, match="unencrypted"):
        asyncio.run(nbauth.alogin("couchdrop", url=UNRESOLVABLE, username="a", password="pw"))


def test_allow_insecure_lets_the_request_go_out():
    with pytest.raises(nbauth.ConnectionFailed, match=r"could not connect to example\.invalid"):
        nbauth.login(
            "couchdrop", url=UNRESOLVABLE, username="a", password="pw", allow_insecure=True
        )


def test_allow_insecure_takes_a_bool_only():
    with pytest.raises(nbauth.UsageError, match="allow_insecure= must be True or False"):
        nbauth.login("couchdrop", url=UNRESOLVABLE, username="a", password="pw", allow_insecure=1)


def test_loopback_by_name_needs_no_flag(sandbox):
    url = sandbox.urls["rocketchat"].replace("127.0.0.1", "localhost")
    assert login_as("rocketchat")(sandbox, url=url).url == url


def test_loopback_ipv6_needs_no_flag():
    try:
        sandbox = running(host="::1")
        sb = sandbox.__enter__()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        assert sb.urls["iogates"].startswith("http://[::1]:")
        assert login_as("iogates")(sb).username == "alice"
    finally:
        sandbox.__exit__(None, None, None)


def test_login_magic_refuses_plain_http_and_takes_allow_insecure(ip, monkeypatch):
    monkeypatch.setenv("NBAUTH_COUCHDROP_PASSWORD", "pw-never-sent")
    monkeypatch.setenv("NBAUTH_COUCHDROP_USERNAME", "alice")
    with pytest.raises(nbauth.UsageError, match="--allow-insecure"):
        ip.run_line_magic("login", f"couchdrop --url {UNRESOLVABLE}")
    with pytest.raises(nbauth.ConnectionFailed, match="could not connect"):
        ip.run_line_magic("login", f"couchdrop --url {UNRESOLVABLE} --allow-insecure")


def test_the_form_keeps_allow_insecure_from_the_magic():
    from nbauth.form import LoginForm

    for allowed, expected in ((False, "unencrypted"), (True, "could not connect")):
        given = {"url": UNRESOLVABLE, "username": "a"}
        request = LoginRequest.from_environment("couchdrop", given, allow_insecure=allowed)
        form = LoginForm.from_request(request)
        form.password.value = "pw-never-sent"
        form.button.click()
        assert expected in form.status.value


def test_session_clients_follow_the_login_rule(sandbox):
    session = login_as("couchdrop")(sandbox)
    with pytest.raises(nbauth.UsageError, match="unencrypted"):
        session.client(base_url=UNRESOLVABLE)
    with session.client(base_url="http://localhost:1") as client:
        assert str(client.base_url).startswith("http://localhost:1")
    allowed = login_as("couchdrop")(sandbox, allow_insecure=True)
    with allowed.client(base_url=UNRESOLVABLE) as client:
        assert client.base_url.host == "example.invalid"


# -- TLS --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A sandbox serving HTTPS with a certificate of a test CA, and that CA's bundle."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    server = folder / "server.pem"
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(server)
    bundle = folder / "ca.pem"
    ca.cert_pem.write_to_path(bundle)
    other = folder / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(other)
    with running(tls=(str(server), str(server))) as sb:
        yield sb, str(bundle), str(other)


@pytest.mark.parametrize("service", ["couchdrop", "rocketchat", "iogates"])
def test_https_with_the_right_ca_bundle_works(tls, service):
    sb, bundle, _ = tls
    assert sb.urls[service].startswith("https://127.0.0.1:")
    with warnings.catch_warnings():
        warnings.simplefilter("error", nbauth.InsecureWarning)
        session = login_as(service)(sb, verify=bundle)
        session.storage()
    assert session.username == "alice" and session.verify == bundle


def test_a_ca_bundle_may_be_a_path_object(tls, tmp_path):
    sb, bundle, _ = tls
    from pathlib import Path

    assert login_as("iogates")(sb, verify=Path(bundle)).kind == "password"


@pytest.mark.parametrize("which", ["system CAs", "another CA"])
def test_an_unknown_ca_is_a_clear_connection_failed(tls, which):
    sb, _, other = tls
    verify = True if which == "system CAs" else other
    with pytest.raises(nbauth.ConnectionFailed) as caught:
        login_as("couchdrop")(sb, verify=verify)
    message = caught.value.message
    assert "TLS certificate of 127.0.0.1" in message and "could not be verified" in message
    assert "verify='/path/to/ca-bundle.pem'" in message


def test_verify_false_works_and_warns_at_the_callers_line(tls):
    sb, _, _ = tls
    with pytest.warns(nbauth.InsecureWarning, match="verification is off") as caught:
        session = login_as("rocketchat")(sb, verify=False)
    assert session.username == "alice"
    assert len(caught) == 1 and issubclass(caught[0].category, UserWarning)
    assert caught[0].filename.endswith("helpers.py")  # the line that called nbauth.login
    with pytest.warns(nbauth.InsecureWarning, match="verify='/path/to/ca-bundle.pem'"):
        session.storage()
    with pytest.warns(nbauth.InsecureWarning):
        session.client().close()


def test_alogin_with_verify_false_warns_too(tls):
    sb, _, _ = tls
    user = sb.user("iogates", "alice")

    async def log_in():
        return await nbauth.alogin(
            "iogates",
            url=sb.urls["iogates"],
            username="alice",
            password=user.password,
            verify=False,
        )

    with pytest.warns(nbauth.InsecureWarning) as caught:
        session = asyncio.run(log_in())
    assert session.kind == "password" and caught[0].filename == __file__


def test_plain_http_warns_nothing_about_tls(sandbox):
    with warnings.catch_warnings():
        warnings.simplefilter("error", nbauth.InsecureWarning)
        login_as("couchdrop")(sandbox, verify=False)


# -- retries ----------------------------------------------------------------------------


def requests_made(knobs, fail_times):
    """How many requests the server answered with the injected failure: what fail_times lost."""
    return fail_times - knobs.fail_times


def test_a_get_answered_503_is_retried_until_it_succeeds(sandbox):
    session = login_as("couchdrop")(sandbox)
    knobs = sandbox.knobs["couchdrop"]
    knobs.fail_status, knobs.fail_times, knobs.retry_after = 503, 2, 0
    assert session.storage().rows
    assert knobs.fail_times == 0


def test_without_retry_after_the_wait_backs_off(sandbox):
    session = login_as("couchdrop")(sandbox)
    knobs = sandbox.knobs["couchdrop"]
    knobs.fail_status, knobs.fail_times = 503, 2
    started = time.perf_counter()
    assert session.storage().rows
    assert 0.55 < time.perf_counter() - started < 2.0  # 0.2 s, then 0.4 s


def test_retries_stop_after_three(sandbox):
    session = login_as("couchdrop")(sandbox)
    knobs = sandbox.knobs["couchdrop"]
    knobs.fail_status, knobs.fail_times, knobs.retry_after = 503, 10, 0
    with pytest.raises(nbauth.ServiceError, match="HTTP 503"):
        session.storage()
    assert requests_made(knobs, 10) == 4  # the first try and three retries


def test_a_long_retry_after_is_not_waited_for(sandbox):
    session = login_as("couchdrop")(sandbox)
    knobs = sandbox.knobs["couchdrop"]
    knobs.fail_status, knobs.fail_times, knobs.retry_after = 503, 10, 60
    started = time.perf_counter()
    with pytest.raises(nbauth.ServiceError, match="HTTP 503"):
        session.storage()
    assert time.perf_counter() - started < 0.5 and requests_made(knobs, 10) == 1


def test_retries_stay_within_the_timeout(sandbox):
    session = login_as("couchdrop")(sandbox, timeout=0.5)
    knobs = sandbox.knobs["couchdrop"]
    knobs.fail_status, knobs.fail_times = 503, 10
    with pytest.raises(nbauth.ServiceError, match="HTTP 503"):
        session.storage()
    assert requests_made(knobs, 10) == 2  # waited 0.2 s; 0.4 s more would pass 0.5 s


def test_an_async_get_login_is_retried(sandbox):
    """Couchdrop's admin-token login is a GET: it may be sent again."""
    knobs = sandbox.knobs["couchdrop"]
    knobs.fail_status, knobs.fail_times, knobs.retry_after = 503, 2, 0
    login = nbauth.alogin(
        "couchdrop", url=sandbox.urls["couchdrop"], token=sandbox.couchdrop_admin_token
    )
    session = asyncio.run(login)
    assert session.kind == "admin-token" and knobs.fail_times == 0


@pytest.mark.parametrize("service", ["couchdrop", "rocketchat", "iogates"])
@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_login_post_is_never_retried(sandbox, service, asynchronous):
    knobs = sandbox.knobs[service]
    knobs.fail_status, knobs.fail_times, knobs.retry_after = 503, 10, 0
    user = sandbox.user(service, "alice")
    args = {"url": sandbox.urls[service], "username": "alice", "password": user.password}
    started = time.perf_counter()
    with pytest.raises(nbauth.ServiceError, match="HTTP 503"):
        if asynchronous:
            asyncio.run(nbauth.alogin(service, **args))
        else:
            nbauth.login(service, **args)
    assert time.perf_counter() - started < 0.5 and requests_made(knobs, 10) == 1


@pytest.mark.parametrize("service", ["couchdrop", "rocketchat", "iogates"])
def test_429_is_rate_limited_with_retry_after_and_not_retried(sandbox, service):
    knobs = sandbox.knobs[service]
    knobs.fail_status, knobs.fail_times, knobs.retry_after = 429, 10, 2
    with pytest.raises(nbauth.RateLimited) as caught:
        login_as(service)(sandbox)
    assert caught.value.retry_after == 2 and requests_made(knobs, 10) == 1


# -- cookies and the async clients ------------------------------------------------------


def _cookie_server(seen):
    """A one-share ioGates that sets a cookie with each token and notes each request's Cookie."""
    import http.server
    import json
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self, body, cookie=None):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if cookie:
                self.send_header("Set-Cookie", cookie)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, self.headers.get("Cookie")))
            n = len(seen)
            self.answer({"token": f"cookie-test-token-{n}"}, cookie=f"sid=login{n}; Path=/")

        def do_GET(self):
            seen.append((self.path, self.headers.get("Cookie")))
            self.answer({"id": 1, "name": "share", "two_factor": False})

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def test_a_login_keeps_its_cookies_and_no_later_login_gets_them():
    """The shared clients keep no cookie: one login's cookies go with its own later requests
    only, in sync and async logins alike, and an async login's loop closes its clients."""
    from nbauth import _http

    seen = []
    url, server = _cookie_server(seen)
    share = f"{url}/show/15/59817e24914f1/x"
    loops = []

    async def two_alogins():
        loops.append(asyncio.get_running_loop())
        for _ in range(2):  # the second reuses the first's client
            await nbauth.alogin("iogates", share_url=share)

    try:
        nbauth.login("iogates", share_url=share)
        nbauth.login("iogates", share_url=share)
        asyncio.run(two_alogins())
    finally:
        server.shutdown()
        server.server_close()
    assert [path for path, _ in seen] == ["/api/authtoken", "/api/share"] * 4
    for i in range(0, 8, 2):
        assert seen[i][1] is None  # no cookie from an earlier login
        assert seen[i + 1][1] == f"sid=login{i + 1}"  # its own, from its first answer
    assert loops[0] not in _http._loops  # closed at the loop's shutdown


def test_the_shared_clients_read_no_answers_cookies(monkeypatch):
    """The shared clients' jars take no cookie, so they do not read any (httpx would, at some
    60 us an answer); the flow's own jar still reads its answers' cookies."""
    import http.cookiejar

    from nbauth import _http

    read_by = []
    extract = http.cookiejar.CookieJar.extract_cookies

    def recording(jar, response, request):
        read_by.append(jar)
        return extract(jar, response, request)

    monkeypatch.setattr(http.cookiejar.CookieJar, "extract_cookies", recording)
    seen = []
    url, server = _cookie_server(seen)

    async def alogin():
        await nbauth.alogin("iogates", share_url=f"{url}/show/15/59817e24914f1/x")
        async with _http._aclient(True) as client:  # the idle client that login gave back
            return client

    try:
        nbauth.login("iogates", share_url=f"{url}/show/15/59817e24914f1/x")
        async_client = asyncio.run(alogin())
    finally:
        server.shutdown()
        server.server_close()
    shared = {id(_http._client(True).cookies.jar), id(async_client.cookies.jar)}
    assert len(read_by) == 2  # each login's answer that set one, by the flow's own jar
    assert not shared & {id(jar) for jar in read_by}
    assert seen[1][1] == "sid=login1"  # the flow's jar did keep its cookie
