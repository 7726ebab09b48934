"""Rocket.Chat logins against the sandbox, including the two-factor login other clients lack."""

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from helpers import login_as

import nbauth

login = login_as("rocketchat")


def me(session):
    """GET /api/v1/me with the session's token, sent by hand: these tests ask the server whether
    a token still works after a logout, and a logged-out session's own client refuses."""
    return httpx.get(f"{session.url}/api/v1/me", headers=session.auth_headers())


def test_password_login_returns_token_user_id_and_profile(sandbox):
    s = login(sandbox)
    assert s.username == "alice" and s.kind == "password"
    assert s.user_id == sandbox.user("rocketchat", "alice").user_id
    assert ("alice", s.token.reveal()) in sandbox.issued("rocketchat")
    assert {"name", "username", "emails", "roles", "status", "active"} <= set(s.profile)
    assert s.expires_at - datetime.now(timezone.utc) > timedelta(days=89)


def test_profile_frame_flattens_emails_and_roles(sandbox):
    frame = login(sandbox).profile_frame().set_index("field")["value"]
    assert "admin" in frame["roles"]
    assert "@" in frame["emails"]


def test_user_may_be_an_email_address(sandbox):
    email = sandbox.user("rocketchat", "alice").email
    assert login(sandbox, username=email).username == "alice"


def test_wrong_password_is_access_denied(sandbox):
    with pytest.raises(nbauth.AccessDenied) as caught:
        login(sandbox, password="wrong-password-123")
    assert caught.value.status == 401
    assert "wrong username or password" in str(caught.value)


def test_blocked_user_is_access_denied_saying_blocked(sandbox):
    with pytest.raises(nbauth.AccessDenied, match="blocked"):
        login(sandbox, "mallory")


def test_totp_required_then_the_code_completes_the_login(sandbox):
    with pytest.raises(nbauth.TwoFactorRequired) as caught:
        login(sandbox, "bob")
    assert caught.value.method == "totp"
    s = login(sandbox, "bob", code=sandbox.totp("rocketchat", "bob"))
    assert s.username == "bob"
    assert me(s).json()["username"] == "bob"


def test_email_two_factor_reports_its_method(sandbox):
    with pytest.raises(nbauth.TwoFactorRequired) as caught:
        login(sandbox, "carol")
    assert caught.value.method == "email"
    assert login(sandbox, "carol", code=sandbox.email_code("carol")).username == "carol"


def test_wrong_code_is_invalid_code(sandbox):
    with pytest.raises(nbauth.InvalidCode):
        login(sandbox, "bob", code="000000")


def test_personal_access_token_is_checked_with_me(sandbox):
    token, user_id = sandbox.rocketchat_pat
    s = nbauth.login("rocketchat", url=sandbox.urls["rocketchat"], token=token, user_id=user_id)
    assert s.kind == "personal-access-token" and s.username == "alice"
    assert s.expires_at is None


def test_a_wrong_personal_access_token_is_access_denied(sandbox):
    _, user_id = sandbox.rocketchat_pat
    with pytest.raises(nbauth.AccessDenied, match="personal access token"):
        nbauth.login(
            "rocketchat", url=sandbox.urls["rocketchat"], token="nope" * 8, user_id=user_id
        )


def test_resume_token_logs_in_again(sandbox):
    first = login(sandbox, alias="first")
    again = nbauth.login("rocketchat", url=sandbox.urls["rocketchat"], token=first.token)
    assert again.kind == "resume" and again.user_id == first.user_id
    assert me(again).status_code == 200


def test_logout_ends_the_token_on_the_server(sandbox):
    s = login(sandbox)
    nbauth.logout()
    assert me(s).status_code == 401
    with pytest.raises(nbauth.NotLoggedIn):
        nbauth.session()


def test_logout_keeps_a_personal_access_token_unless_revoke(sandbox):
    token, user_id = sandbox.rocketchat_pat
    url = sandbox.urls["rocketchat"]
    s = nbauth.login("rocketchat", url=url, token=token, user_id=user_id)
    s.logout()
    assert me(s).status_code == 200
    s = nbauth.login("rocketchat", url=url, token=token, user_id=user_id)
    s.logout(revoke=True)
    assert me(s).status_code == 401


def test_a_refused_token_on_a_later_call_is_session_expired(sandbox):
    s = login(sandbox)
    with s.client() as client:
        client.post("/api/v1/logout")
    with pytest.raises(nbauth.SessionExpired, match="%login rocketchat"):
        s.storage()


def test_storage_shows_upload_statistics_to_admins(sandbox):
    table = login(sandbox).storage_frame()
    assert "uploads" in set(table["item"])


def test_storage_says_there_is_no_quota_to_other_users(sandbox):
    table = login(sandbox, "dave").storage_frame()
    assert "no per-user storage quota" in table["note"][0]


def test_rate_limit_gives_retry_after_from_the_reset_header(sandbox):
    sandbox.knobs["rocketchat"].login_rate_limit = 10  # Rocket.Chat's default: 10 a minute
    for _ in range(10):
        login(sandbox)
    with pytest.raises(nbauth.RateLimited) as caught:
        login(sandbox)
    assert caught.value.status == 429
    assert 0 < caught.value.retry_after <= 60
    assert "wait" in str(caught.value).lower()


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_is_a_service_error(sandbox, status):
    sandbox.knobs["rocketchat"].fail_status = status
    with pytest.raises(nbauth.ServiceError, match=f"HTTP {status}"):
        login(sandbox)


def test_html_error_page_is_a_service_error(sandbox):
    sandbox.knobs["rocketchat"].fail_status = 502
    sandbox.knobs["rocketchat"].fail_html = True
    with pytest.raises(nbauth.ServiceError, match="HTTP 502"):
        login(sandbox)


def test_unreachable_host_is_connection_failed(sandbox):
    with pytest.raises(nbauth.ConnectionFailed):
        nbauth.login("rocketchat", url=sandbox.closed_url, username="a", password="pw")


def test_timeout_is_connection_failed(sandbox):
    sandbox.knobs["rocketchat"].latency = 2.0
    with pytest.raises(nbauth.ConnectionFailed, match=r"did not answer within 0\.3 s"):
        login(sandbox, timeout=0.3)


def test_the_popular_client_cannot_do_what_nbauth_does(sandbox):
    """rocketchat_API has no two-factor login; nbauth's session hands it a working token."""
    from rocketchat_API.APIExceptions.RocketExceptions import RocketAuthenticationException
    from rocketchat_API.rocketchat import RocketChat

    bob = sandbox.user("rocketchat", "bob")
    with pytest.raises(RocketAuthenticationException):
        RocketChat(bob.username, bob.password, server_url=sandbox.urls["rocketchat"])
    s = login(sandbox, "bob", code=sandbox.totp("rocketchat", "bob"))
    client = RocketChat(
        auth_token=s.token.reveal(), user_id=s.user_id, server_url=sandbox.urls["rocketchat"]
    )
    assert client.me()["username"] == "bob"


async def _alogin(sandbox):
    alice = sandbox.user("rocketchat", "alice")
    return await nbauth.alogin(
        "rocketchat", url=sandbox.urls["rocketchat"], username="alice", password=alice.password
    )


def test_alogin_is_the_async_twin(sandbox):
    import asyncio

    s = asyncio.run(_alogin(sandbox))
    assert s.username == "alice" and nbauth.session("rocketchat") is s
    assert httpx.get(f"{s.url}/api/v1/me", headers=s.auth_headers()).json()["username"] == "alice"


def test_aclient_calls_the_api_with_the_session_headers(sandbox):
    import asyncio

    s = login(sandbox)

    async def me_async():
        async with s.aclient() as client:
            return (await client.get("/api/v1/me")).json()

    assert asyncio.run(me_async())["username"] == "alice"


def test_a_failed_server_logout_still_forgets_the_session(sandbox):
    login(sandbox)
    sandbox.knobs["rocketchat"].fail_status = 503
    with pytest.raises(nbauth.ServiceError, match="forgotten in the kernel"):
        nbauth.logout()
    assert nbauth.sessions().empty


def test_the_report_shows_a_storage_note_whole_in_the_storage_card(sandbox):
    from nbauth import report

    card = report.items(login(sandbox, "dave"))[2]
    assert card.title == "Storage" and not card.shows  # the note alone, no table
    assert "no per-user storage quota" in card.note and card.note.endswith(".")
    assert str(card) == f"Storage: {card.note}"
    assert "<table" not in card._repr_html_() and "white-space:normal" in card._repr_html_()
