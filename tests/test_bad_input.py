"""Bad input to a login, and tokens the server no longer takes: each ends in an NbAuthError
whose message says what to do, and never in a session half-stored or a stored one lost.

Every bad-input case runs twice: with an empty store, and with a good session already stored
under the alias the failed login would have used, which must come through untouched.
"""

import math

import pytest
from helpers import login_as

import nbauth
from nbauth.sandbox import running
from nbauth.sandbox.seed import Seed

#: A value that must appear in no message: the bad cases below carry it in their secrets.
CANARY = "canary-3f9a1c"
PAT_USER_ID = "aobEdbYhXfu5hkeqG"

# (service, login arguments, error, what the message must say: what is wrong and what to do)
BAD_INPUT = [
    ("dropbox", {}, nbauth.UsageError, r"Unknown service 'dropbox'\. Known services: couchdrop"),
    (" ", {}, nbauth.UsageError, r"Unknown service ' '\. Known services: couchdrop"),
    ("couchdrop", {"username": ""}, nbauth.UsageError, r"username= is empty\. Give its value"),
    ("rocketchat", {"username": " \t "}, nbauth.UsageError, r"username= is empty\. Give its"),
    ("iogates", {"password": ""}, nbauth.UsageError, r"password= is empty\. Give its value"),
    ("couchdrop", {"url": ""}, nbauth.UsageError, r"url= is empty\. Give its value"),
    ("couchdrop", {"url": "api.couchdrop.io"}, nbauth.UsageError, "not an http.s. URL like"),
    ("couchdrop", {"url": "ftp://example.com"}, nbauth.UsageError, "not an http.s. URL like"),
    ("couchdrop", {"url": "http://[::1"}, nbauth.UsageError, "not an http.s. URL like"),
    ("couchdrop", {"url": "http://a..b"}, nbauth.UsageError, "not an http.s. URL like"),
    ("couchdrop", {"url": "http://" + "a" * 64}, nbauth.UsageError, "not an http.s. URL like"),
    ("couchdrop", {"url": "http://h:99999"}, nbauth.UsageError, "not an http.s. URL like"),
    ("couchdrop", {"url": "http://h:port"}, nbauth.UsageError, "not an http.s. URL like"),
    ("couchdrop", {"url": "https://xn--/"}, nbauth.UsageError, "not an http.s. URL like"),
    ("couchdrop", {"url": "https://☃.com"}, nbauth.UsageError, "not an http.s. URL like"),
    ("rocketchat", {"url": "http://ex ample"}, nbauth.UsageError, "not an http.s. URL like"),
    # a user:password@ part is refused as such, whatever else is wrong (nbauth._urls)
    ("couchdrop", {"url": "http://u:" + CANARY + "@[::1"}, nbauth.UsageError, "user:password@"),
    *(
        ("iogates", {"share_url": url}, nbauth.UsageError, "share_url= must be the http.s. link")
        for url in (
            "ftp://files.example.com/show/15/" + CANARY,
            "file:///etc/passwd",
            "javascript:alert(1)",
            "files.example.com/show/15/" + CANARY,
            "https:///show/15/" + CANARY,
            "https://[::1/show/15/" + CANARY,
        )
    ),
    ("rocketchat", {"user_id": PAT_USER_ID}, nbauth.UsageError, "user_id= goes with token="),
    ("rocketchat", {"token": CANARY + "\n"}, nbauth.UsageError, "line break.*Paste the value"),
    ("couchdrop", {"token": CANARY + "\r\nx"}, nbauth.UsageError, "line break.*Paste the value"),
    ("iogates", {"token": "x\n" + CANARY}, nbauth.UsageError, "line break.*Paste the value"),
    ("rocketchat", {"code": "12\n34"}, nbauth.UsageError, "line break.*Paste the value"),
    ("couchdrop", {"token": CANARY + "é"}, nbauth.UsageError, "only printable ASCII.*Paste the"),
    ("iogates", {"token": CANARY + "\t"}, nbauth.UsageError, "only printable ASCII.*Paste the"),
    ("couchdrop", {"password": CANARY + "\ud800"}, nbauth.UsageError, "not text.*paste it again"),
    ("iogates", {"username": "al\udcffice"}, nbauth.UsageError, "not text.*paste it again"),
    ("couchdrop", {"timeout": math.nan}, nbauth.UsageError, "timeout= must be a positive number"),
    ("couchdrop", {"timeout": math.inf}, nbauth.UsageError, "timeout= must be a positive number"),
    ("couchdrop", {"timeout": 1e300}, nbauth.UsageError, "timeout= must be a positive number"),
    ("couchdrop", {"password": CANARY}, nbauth.AccessDenied, "wrong username or password.*Check"),
]


def _arguments(sandbox, service, given):
    """alice's login to ``service`` with ``given`` laid over it; a token, share URL or user id
    stands in for her username and password, as the caller meant."""
    known = service if service in sandbox.urls else "couchdrop"
    arguments = {"url": sandbox.urls[known], "alias": "work"}
    if not {"token", "share_url", "user_id"} & set(given):
        arguments |= {"username": "alice", "password": sandbox.user(known, "alice").password}
    return arguments | given


def _case_id(case):
    service, given, _, _ = case
    return " ".join([repr(service), *(f"{k}={v!r}"[:40] for k, v in given.items())])


@pytest.mark.parametrize("stored_before", [False, True], ids=["empty store", "alias in use"])
@pytest.mark.parametrize(
    ("service", "given", "error", "says"), BAD_INPUT, ids=[_case_id(c) for c in BAD_INPUT]
)
def test_bad_input_fails_clearly_and_stores_nothing(
    sandbox, stored_before, service, given, error, says
):
    if stored_before:
        kept = login_as("couchdrop")(sandbox, alias="work")
    before = nbauth.sessions()
    with pytest.raises(error, match=says) as caught:
        nbauth.login(service, **_arguments(sandbox, service, given))
    assert CANARY not in caught.value.message
    assert "\ud800" not in caught.value.message
    assert nbauth.sessions().equals(before)
    if stored_before:
        assert nbauth.session() is nbauth.session("work") is kept


@pytest.mark.parametrize(
    "suffix",
    ["pässwörd-日本語-🔑-\u00a0-\u200d", "x" * 10_000, "ß" * 10_000],
    ids=["non-ASCII", "10,000 ASCII characters", "10,000 non-ASCII characters"],
)
def test_non_ascii_and_very_long_passwords_log_in_or_fail_clearly(suffix):
    with running(Seed.demo(password_suffix=suffix)) as sb:
        for service in ("couchdrop", "rocketchat", "iogates"):
            password = sb.user(service, "alice").password
            arguments = {"url": sb.urls[service], "username": "alice", "alias": service}
            session = nbauth.login(service, password=password, **arguments)
            assert (session.username, session.token.reveal()) in sb.issued(service)
            with pytest.raises(nbauth.AccessDenied, match="Check") as caught:
                nbauth.login(service, password=password[:-1] + "!", **arguments)
            assert suffix[:40] not in caught.value.message
            assert nbauth.session(service) is session
        assert list(nbauth.sessions()["alias"]) == ["couchdrop", "rocketchat", "iogates"]


def _expires(session, call):
    """``call(session)`` raises SessionExpired naming the %login that renews this session."""
    before = nbauth.sessions()
    with pytest.raises(nbauth.SessionExpired, match="expired or was revoked") as caught:
        call(session)
    message = caught.value.message
    assert f"%login {session.service} --as {session.alias}" in message
    assert session.token.reveal() not in message
    assert nbauth.sessions().equals(before)


def test_a_personal_access_token_revoked_by_logout_revoke_expires_its_twin(ip, sandbox):
    token, user_id = sandbox.rocketchat_pat
    url = sandbox.urls["rocketchat"]
    nbauth.login("rocketchat", url=url, token=token, user_id=user_id, alias="pat")
    twin = nbauth.login("rocketchat", url=url, token=token, user_id=user_id, alias="twin")
    ip.run_line_magic("logout", "pat --revoke")
    _expires(twin, lambda s: s.storage_frame())


def test_a_session_logged_out_by_another_client_expires(sandbox):
    session = login_as("rocketchat")(sandbox, alias="chat")
    with session.client() as other:
        assert other.post("/api/v1/logout").status_code == 200
    _expires(session, lambda s: s.storage_frame())
    nbauth.logout("chat")  # the server has nothing left to end: no error
    assert nbauth.sessions().empty


def test_expired_couchdrop_tokens_raise_session_expired():
    with running() as sb:  # its own: the admin token ends here for good
        files = login_as("couchdrop")(sb, alias="files")
        admin = nbauth.login("couchdrop", url=sb.urls["couchdrop"], token=sb.couchdrop_admin_token)
        for session in (files, admin):
            sb.revoke("couchdrop", session.token.reveal())
        _expires(files, lambda s: s.profile)
        _expires(files, lambda s: s.storage_frame())
        _expires(admin, lambda s: s.storage_frame())


@pytest.mark.parametrize("verify", [3, None, ["ca.pem"]])
def test_a_verify_that_is_neither_a_flag_nor_a_path_is_a_usage_error(sandbox, verify):
    with pytest.raises(nbauth.UsageError, match="verify= takes True, False or the path"):
        nbauth.login(
            "couchdrop",
            url=sandbox.urls["couchdrop"],
            username="alice",
            password="x",
            verify=verify,
        )
    assert nbauth.sessions().empty
