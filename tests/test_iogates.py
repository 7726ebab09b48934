"""ioGates logins against the sandbox: account, share URL, and the share's SMS code."""

import pytest
from helpers import login_as, record_calls

import nbauth
from nbauth.secret import Secret

login = login_as("iogates")


def test_account_login_carries_profile_and_storage(sandbox):
    s = login(sandbox)
    assert s.username == "alice" and s.kind == "password"
    assert ("alice", s.token.reveal()) in sandbox.issued("iogates")
    assert s.profile["status"] == "Active"
    storage = s.storage_frame().set_index("item")
    assert storage.loc["max_file_size", "human"] == "unlimited"
    assert storage.loc["available_storage", "bytes"] > 0
    assert storage.loc["available_storage", "human"].endswith("GiB")


def test_limited_account_shows_its_max_file_size(sandbox):
    storage = login(sandbox, "dave").storage_frame().set_index("item")
    assert storage.loc["max_file_size", "bytes"] == 524288000
    assert storage.loc["max_file_size", "human"] == "500.0 MiB"


def test_the_device_id_is_made_once_and_kept(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("NBAUTH_CONFIG_DIR", str(tmp_path))
    first = login(sandbox).details["device_id"]
    assert login(sandbox).details["device_id"] == first
    assert (tmp_path / "device_id").read_text().strip() == first


def test_share_url_login_uses_the_share_host_as_api_base(sandbox):
    s = nbauth.login("iogates", share_url=sandbox.share_urls["open"])
    assert s.url == sandbox.urls["iogates"] and s.kind == "share-url"
    assert s.profile["share"]["two_factor"] is False
    with s.client() as client:
        assert client.get("/api/files").status_code == 200


def test_share_with_sms_two_factor_then_the_code_completes_it(sandbox):
    url = sandbox.share_urls["sms"]
    with pytest.raises(nbauth.TwoFactorRequired) as caught:
        nbauth.login("iogates", share_url=url, device_id="test-device")
    assert caught.value.method == "sms"
    assert nbauth.sessions().empty
    code = sandbox.sms_code("sms")
    s = nbauth.login("iogates", share_url=url, device_id="test-device", code=code)
    with s.client() as client:
        assert client.get("/api/files").status_code == 200


@pytest.mark.parametrize("accepts", ["bearer", "token", "both"])
def test_every_login_and_call_works_whichever_header_form_the_server_reads(sandbox, accepts):
    """The help articles show `Authorization: Bearer`, the only public client sends a header
    named `token`: nbauth sends both, so a server that reads either one works."""
    sandbox.knobs["iogates"].update({"iogates_token_header": accepts})
    account = login(sandbox, alias="account")
    assert account.ls("/Projects")["name"].tolist() == ["IMG_0752.JPG", "Rushes"]
    with account.client() as client:
        assert client.get("/api/files").status_code == 200
    shared = nbauth.login("iogates", share_url=sandbox.share_urls["open"], alias="open")
    assert shared.profile["share"]["permissions"]["master"] is True  # read with the token
    url = sandbox.share_urls["sms"]
    with pytest.raises(nbauth.TwoFactorRequired):
        nbauth.login("iogates", share_url=url, device_id=f"hdr-{accepts}")
    code = sandbox.sms_code("sms")
    sms = nbauth.login("iogates", share_url=url, device_id=f"hdr-{accepts}", code=code)
    assert len(sms.ls("/", recursive=True)) > 0
    stored = nbauth.login("iogates", url=sandbox.urls["iogates"], token=account.token)
    assert stored.info("/Projects")["type"] == "directory"


def test_the_token_goes_in_both_header_forms_each_a_masked_secret(sandbox, monkeypatch):
    s = login(sandbox)
    calls = record_calls(monkeypatch)
    s.ls()
    (call,) = calls
    assert set(call.headers) == {"Authorization", "token"}
    assert all(isinstance(v, Secret) for v in call.headers.values())
    assert call.headers["Authorization"].reveal() == f"Bearer {s.token.reveal()}"
    assert call.headers["token"] == s.token and s.token.reveal() not in repr(call)
    assert s.auth_headers() == {
        "Authorization": f"Bearer {s.token.reveal()}",
        "token": s.token.reveal(),
    }


def test_share_check_read_stops_at_a_share_needing_sms_without_sending_one(sandbox):
    url = sandbox.share_urls["sms"]
    with pytest.raises(nbauth.TwoFactorRequired, match="No SMS was sent"):
        nbauth.login("iogates", share_url=url, device_id="read-device", share_check="read")
    token = next(t for who, t in reversed(sandbox.issued("iogates")) if who == "share:sms")
    with pytest.raises(LookupError):
        sandbox.sms_code(token)
    assert nbauth.login("iogates", share_url=sandbox.share_urls["open"], share_check="read")


def test_share_check_skip_logs_in_without_reading_the_share(sandbox):
    s = nbauth.login("iogates", share_url=sandbox.share_urls["sms"], share_check="skip")
    assert s.kind == "share-url" and "share" not in s.profile
    with s.client() as client:  # the server still holds the share to its SMS check
        assert client.get("/api/files").status_code == 401


def test_share_check_takes_only_its_three_values(sandbox):
    with pytest.raises(nbauth.UsageError, match="share_check= is one of sms, read, skip"):
        nbauth.login("iogates", share_url=sandbox.share_urls["open"], share_check="never")


def test_wrong_sms_code_is_invalid_code(sandbox):
    url = sandbox.share_urls["sms"]
    with pytest.raises(nbauth.TwoFactorRequired):
        nbauth.login("iogates", share_url=url, device_id="wrong-code-device")
    with pytest.raises(nbauth.InvalidCode, match="wrong"):
        nbauth.login("iogates", share_url=url, device_id="wrong-code-device", code="0000")


def test_expired_share_is_access_denied_with_the_server_reason(sandbox):
    with pytest.raises(nbauth.AccessDenied, match="expired"):
        nbauth.login("iogates", share_url=sandbox.share_urls["expired"])


def test_unknown_share_is_access_denied(sandbox):
    url = sandbox.share_urls["open"].rsplit("/show/", 1)[0] + "/show/1/abc/def/dir/1/1/0/0/0"
    with pytest.raises(nbauth.AccessDenied, match="share URL was not accepted"):
        nbauth.login("iogates", share_url=url)


def test_wrong_password_is_access_denied(sandbox):
    with pytest.raises(nbauth.AccessDenied) as caught:
        login(sandbox, password="wrong-password-123")
    assert caught.value.status == 401


def test_blocked_account_is_access_denied(sandbox):
    with pytest.raises(nbauth.AccessDenied, match="blocked"):
        login(sandbox, "mallory")


def test_stored_token_is_checked_and_reads_storage(sandbox):
    token = login(sandbox, alias="first").token
    s = nbauth.login("iogates", url=sandbox.urls["iogates"], token=token)
    assert s.kind == "token"
    assert "available_storage" in set(s.storage_frame()["item"])


def test_a_revoked_token_is_access_denied(sandbox):
    with pytest.raises(nbauth.AccessDenied, match="token was not accepted"):
        nbauth.login("iogates", url=sandbox.urls["iogates"], token="not-a-token")


def test_rate_limit_is_rate_limited(sandbox):
    sandbox.knobs["iogates"].fail_status = 429
    sandbox.knobs["iogates"].retry_after = 3
    with pytest.raises(nbauth.RateLimited) as caught:
        login(sandbox)
    assert caught.value.retry_after == 3


def test_server_error_page_is_a_service_error(sandbox):
    sandbox.knobs["iogates"].fail_status = 500
    sandbox.knobs["iogates"].fail_html = True
    with pytest.raises(nbauth.ServiceError, match="HTTP 500"):
        login(sandbox)


def test_unreachable_host_is_connection_failed(sandbox):
    with pytest.raises(nbauth.ConnectionFailed):
        nbauth.login("iogates", url=sandbox.closed_url, username="a", password="pw")


def test_timeout_is_connection_failed(sandbox):
    with pytest.raises(nbauth.ConnectionFailed, match="did not answer"):
        nbauth.login("iogates", url=sandbox.blackhole_url, username="a", password="pw", timeout=0.3)
