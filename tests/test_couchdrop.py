"""Couchdrop logins against the sandbox, over real HTTP on loopback."""

import pytest
from helpers import login_as

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
