"""Couchdrop logins against the sandbox, over real HTTP on loopback."""

import pytest
from helpers import login_as, record_calls
from IPython.utils.capture import capture_output

import nbauth

login = login_as("couchdrop")


def test_password_login_returns_a_stored_session_with_the_issued_token(sandbox):
    s = login(sandbox)
    assert s.service == "couchdrop" and s.alias == "couchdrop"
    assert s.username == "alice" and s.kind == "password"
    assert ("alice", s.token.reveal()) in sandbox.issued("couchdrop")
    assert nbauth.session() is s
    assert s.expires_at is None


def test_profile_reads_the_account_on_first_use(sandbox):
    s = login(sandbox)
    profile = s.profile
    assert profile["token_kind"] == "session"
    assert profile["account"]["username"] == "alice"
    frame = s.profile_frame()
    assert list(frame.columns) == ["field", "value"]
    assert "account.email_address" in set(frame["field"])


def test_non_admin_profile_and_storage_say_what_the_token_may_not_read(sandbox):
    s = login(sandbox, "dave")
    assert "admin" in s.profile["account"]
    table = s.storage_frame()
    assert list(table.columns) == ["note"]
    assert "admin" in table["note"][0]


def test_a_non_admin_is_told_apart_from_a_dead_token_by_the_file_host(sandbox, monkeypatch):
    """Couchdrop answers dave's good token on /manage with the 403 "Token was not valid" a dead
    token gets (the 2016 server); one POST /file/lstat of / shows that the token is good."""
    s = login(sandbox, "dave")
    calls = record_calls(monkeypatch)
    profile = s.profile
    assert profile["username"] == "dave" and profile["token_kind"] == "session"
    assert profile["account"] == "admins only (the token is valid, not an admin's)"
    table = s.storage_frame()
    assert list(table.columns) == ["note"]
    assert "only admins" in table["note"][0] and "'dave' is not one" in table["note"][0]
    assert [(c.method, c.url.rsplit("/", 2)[-2:]) for c in calls] == [
        ("GET", ["manage", "account"]),
        ("POST", ["file", "lstat"]),
        ("GET", ["account", "storage"]),
        ("POST", ["file", "lstat"]),
    ]
    assert calls[1].data == {"path": "/"} and calls[1].url.startswith(s.details["fileio_url"])
    assert nbauth.session("couchdrop") is s  # still stored: nothing expired


def test_a_token_the_file_host_refuses_too_is_session_expired(sandbox):
    s = login(sandbox, "dave")
    sandbox.revoke("couchdrop", s.token.reveal())
    with pytest.raises(nbauth.SessionExpired, match="session 'couchdrop' was refused"):
        s.profile  # noqa: B018
    with pytest.raises(nbauth.SessionExpired):
        s.storage()


def test_a_non_admin_login_through_the_magic_shows_the_profile_and_why_no_storage(
    ip, sandbox, monkeypatch
):
    dave = sandbox.user("couchdrop", "dave")
    values = {"URL": sandbox.urls["couchdrop"], "USERNAME": "dave", "PASSWORD": dave.password}
    for key, value in values.items():
        monkeypatch.setenv(f"NBAUTH_COUCHDROP_{key}", value)
    with capture_output() as captured:
        session = ip.run_line_magic("login", "couchdrop")
    said = captured.stdout
    assert session.username == "dave" and nbauth.session("couchdrop") is session
    assert "Logged in to Couchdrop" in said and "as dave" in said
    said += "".join(o.data.get("text/plain", "") for o in captured.outputs)  # the cards, as text
    assert "Storage: No storage connections shown: Couchdrop lets only admins" in said
    assert "not available" not in said.lower() and "expired" not in said
    shown = "".join(o.data.get("text/html", "") for o in captured.outputs)
    assert "admins only (the token is valid, not an admin's)" in shown  # whole, not cut
    assert dave.password not in said + shown and session.token.reveal() not in said + shown


def test_a_non_admin_token_logs_in_as_a_user_token(sandbox):
    dave = login(sandbox, "dave", alias="dave")
    s = nbauth.login("couchdrop", url=sandbox.urls["couchdrop"], token=dave.token.reveal())
    assert s.kind == "token" and s.username is None
    assert s.profile["token_kind"] == "user" and "admins only" in s.profile["account"]
    assert s.ls("/shared")["filename"].tolist() == ["handbook.txt"]
    assert "only admins" in s.storage().note


def test_storage_lists_the_storage_connections(sandbox):
    table = login(sandbox).storage_frame()
    assert {"path", "store_type"} <= set(table.columns)
    assert len(table) >= 1


def test_wrong_password_is_access_denied(sandbox):
    with pytest.raises(nbauth.AccessDenied) as caught:
        login(sandbox, password="not-the-password")
    assert caught.value.status == 403 and caught.value.service == "couchdrop"
    assert "HTTP 403" in str(caught.value) and "Couchdrop" in str(caught.value)
    assert "not-the-password" not in str(caught.value)


def test_blocked_account_is_access_denied_with_the_server_reason(sandbox):
    with pytest.raises(nbauth.AccessDenied, match="disabled"):
        login(sandbox, "mallory")


def test_two_factor_required_then_the_code_completes_the_login(sandbox):
    with pytest.raises(nbauth.TwoFactorRequired) as caught:
        login(sandbox, "bob")
    assert caught.value.status == 401 and caught.value.method == "totp"
    assert "code=" in str(caught.value)
    assert nbauth.sessions().empty
    s = login(sandbox, "bob", code=sandbox.totp("couchdrop", "bob"))
    assert s.username == "bob"


def test_wrong_code_is_invalid_code_and_names_the_admin_token_fallback(sandbox):
    with pytest.raises(nbauth.InvalidCode, match="admin API token"):
        login(sandbox, "bob", code="000000")


def test_admin_token_is_checked_before_it_is_stored(sandbox):
    s = nbauth.login(
        "couchdrop", url=sandbox.urls["couchdrop"], token=sandbox.couchdrop_admin_token
    )
    assert s.kind == "admin-token" and s.username == "alice"
    assert s.profile["token_kind"] == "admin"


def test_a_refused_admin_token_is_not_stored(sandbox):
    with pytest.raises(nbauth.AccessDenied, match="token was refused"):
        nbauth.login("couchdrop", url=sandbox.urls["couchdrop"], token="x" * 32)
    assert nbauth.sessions().empty


def test_session_client_makes_further_calls_on_the_file_host(sandbox):
    s = login(sandbox)
    assert s.details["fileio_url"] == sandbox.urls["couchdrop"]
    with s.client(base_url=s.details["fileio_url"]) as client:
        listing = client.post("/file/ls", data={"path": "/"}).json()
    assert "reports" in {entry["filename"] for entry in listing["ls"]}


def test_rate_limit_is_rate_limited_with_retry_after(sandbox):
    sandbox.knobs["couchdrop"].fail_status = 429
    sandbox.knobs["couchdrop"].retry_after = 7
    with pytest.raises(nbauth.RateLimited) as caught:
        login(sandbox)
    assert caught.value.retry_after == 7 and caught.value.status == 429


@pytest.mark.parametrize("html", [False, True])
def test_server_error_is_a_service_error_naming_the_status(sandbox, html):
    sandbox.knobs["couchdrop"].fail_status = 502
    sandbox.knobs["couchdrop"].fail_html = html
    with pytest.raises(nbauth.ServiceError, match="HTTP 502"):
        login(sandbox)


def test_unreachable_host_is_connection_failed(sandbox):
    with pytest.raises(nbauth.ConnectionFailed, match="could not connect"):
        nbauth.login("couchdrop", url=sandbox.closed_url, username="alice", password="pw")


def test_a_server_that_never_answers_fails_within_the_timeout(sandbox):
    with pytest.raises(nbauth.ConnectionFailed, match=r"did not answer within 0\.5 s"):
        nbauth.login(
            "couchdrop", url=sandbox.blackhole_url, username="a", password="pw", timeout=0.5
        )
