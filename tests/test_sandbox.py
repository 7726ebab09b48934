"""The sandbox speaks the documented shapes of Couchdrop, Rocket.Chat and ioGates.

Raw httpx only (and the real rocketchat_API client once), so these tests check the wire format
the nbauth client will meet, not the client itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from rocketchat_API.APIExceptions.RocketExceptions import (  # type: ignore[import-untyped]
    RocketApiException,
)
from rocketchat_API.rocketchat import RocketChat  # type: ignore[import-untyped]

from nbauth.sandbox import Sandbox, Seed, couchdrop, running

#: A wrong password on newer servers (the login error override: `error` is a number) ...
INCORRECT = {
    "success": False,
    "error": 401,
    "status": "error",
    "message": "Incorrect login or password",
}
#: ... and on older ones (knob `wrong_password="unauthorized"`).
UNAUTHORIZED = {
    "success": False,
    "error": "Unauthorized",
    "status": "error",
    "message": "Unauthorized",
}
LOGGED_OUT = "You must be logged in to do this."
HTTP = httpx.Client(timeout=5)  # one client for the module: creating one per call is slow


def other_code(code: str) -> str:
    """A code of the same length that is not `code`."""
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


def couchdrop_login(sb: Sandbox, username: str, **extra: str) -> httpx.Response:
    password = sb.user("couchdrop", username).password
    form = {"username": username, "password": password, **extra}
    return HTTP.post(f"{sb.urls['couchdrop']}/authenticate", data=form)


def rc_login(sb: Sandbox, body: dict[str, Any], **headers: str) -> httpx.Response:
    return HTTP.post(f"{sb.urls['rocketchat']}/api/v1/login", json=body, headers=headers)


def rc_get(sb: Sandbox, path: str, token: str, user_id: str, **params: Any) -> httpx.Response:
    headers = {"X-Auth-Token": token, "X-User-Id": user_id}
    return HTTP.get(f"{sb.urls['rocketchat']}/api/v1/{path}", headers=headers, params=params)


def rc_password(sb: Sandbox, name: str) -> str:
    return sb.user("rocketchat", name).password


def iogates_login(sb: Sandbox, body: dict[str, Any]) -> httpx.Response:
    return HTTP.post(f"{sb.urls['iogates']}/api/authtoken", json=body)


def iogates_get(sb: Sandbox, path: str, token: str) -> httpx.Response:
    return HTTP.get(f"{sb.urls['iogates']}{path}", headers={"Authorization": f"Bearer {token}"})


# -- the sandbox itself ---------------------------------------------------------------------


def test_env_logs_in_alice_on_every_service(sandbox: Sandbox) -> None:
    env = sandbox.env
    assert set(sandbox.urls) == {"couchdrop", "rocketchat", "iogates"}
    assert not any(url.endswith("/") for url in sandbox.urls.values())
    cd = HTTP.post(
        f"{env['NBAUTH_COUCHDROP_URL']}/authenticate",
        data={
            "username": env["NBAUTH_COUCHDROP_USERNAME"],
            "password": env["NBAUTH_COUCHDROP_PASSWORD"],
        },
    )
    rc = HTTP.post(
        f"{env['NBAUTH_ROCKETCHAT_URL']}/api/v1/login",
        json={
            "user": env["NBAUTH_ROCKETCHAT_USERNAME"],
            "password": env["NBAUTH_ROCKETCHAT_PASSWORD"],
        },
    )
    io = HTTP.post(
        f"{env['NBAUTH_IOGATES_URL']}/api/authtoken",
        json={
            "username": env["NBAUTH_IOGATES_USERNAME"],
            "password": env["NBAUTH_IOGATES_PASSWORD"],
        },
    )
    assert [cd.status_code, rc.status_code, io.status_code] == [200, 200, 200]
    assert rc.json()["data"]["me"]["username"] == "alice"
    assert io.json()["profile"]["username"] == "alice"


def test_issued_records_which_user_got_which_token(sandbox: Sandbox) -> None:
    bob = couchdrop_login(sandbox, "bob", code=sandbox.totp("couchdrop", "bob")).json()["token"]
    dave = couchdrop_login(sandbox, "dave").json()["token"]
    assert sandbox.issued("couchdrop")[-2:] == [("bob", bob), ("dave", dave)]
    over_http = HTTP.get(f"{sandbox.urls['couchdrop']}/_sandbox/issued").json()["issued"]
    assert over_http[-1] == {"username": "dave", "token": dave}


def test_canary_seed_passwords_and_tokens_are_the_ones_served() -> None:
    seed = Seed.demo(password_suffix="canary-7f3e")
    seed = dataclasses.replace(seed, couchdrop_admin_token="canary-admin-token")
    with running(seed) as sb:
        assert sb.user("rocketchat", "alice").password == "alice-canary-7f3e"
        good = rc_login(sb, {"user": "alice", "password": "alice-canary-7f3e"})
        demo = rc_login(sb, {"user": "alice", "password": "alice-sandbox"})
        admin = {"token": "canary-admin-token"}
        account = HTTP.get(f"{sb.urls['couchdrop']}/manage/account", headers=admin)
    assert (good.status_code, demo.status_code, account.status_code) == (200, 401, 200)


def test_blackhole_never_answers(sandbox: Sandbox) -> None:
    with pytest.raises(httpx.ReadTimeout):
        HTTP.get(sandbox.blackhole_url, timeout=0.5)


def test_closed_url_refuses_connections(sandbox: Sandbox) -> None:
    with pytest.raises(httpx.ConnectError):
        HTTP.get(sandbox.closed_url, timeout=2)


# -- knobs ----------------------------------------------------------------------------------


def test_latency_knob_delays_requests(sandbox: Sandbox) -> None:
    sandbox.knobs["iogates"].latency = 0.3
    started = time.monotonic()
    iogates_login(sandbox, {"username": "alice", "password": "wrong"})
    assert time.monotonic() - started >= 0.3


def test_fail_knob_fails_n_times_with_json_and_retry_after(sandbox: Sandbox) -> None:
    knobs = sandbox.knobs["couchdrop"]
    knobs.fail_status, knobs.fail_times, knobs.retry_after = 503, 2, 7
    first, second = couchdrop_login(sandbox, "alice"), couchdrop_login(sandbox, "alice")
    third = couchdrop_login(sandbox, "alice")
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert first.json() == {"error": "Service Unavailable"}
    assert first.headers["Retry-After"] == "7"


def test_fail_html_knob_sends_a_proxy_error_page(sandbox: Sandbox) -> None:
    sandbox.knobs["rocketchat"].update({"fail_status": 502, "fail_html": True})
    response = rc_login(sandbox, {"user": "alice", "password": rc_password(sandbox, "alice")})
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "<html>" in response.text and "502 Bad Gateway" in response.text


def test_knobs_and_reset_over_http(sandbox: Sandbox) -> None:
    base = sandbox.urls["iogates"]
    set_knobs = HTTP.post(f"{base}/_sandbox/knobs", json={"fail_status": 500})
    assert set_knobs.json()["fail_status"] == 500
    assert iogates_login(sandbox, {"username": "alice", "password": "x"}).status_code == 500
    assert HTTP.post(f"{base}/_sandbox/knobs", json={"bogus": 1}).status_code == 400
    HTTP.post(f"{base}/_sandbox/reset")
    assert sandbox.knobs["iogates"].fail_status is None
    assert iogates_login(sandbox, {"username": "alice", "password": "x"}).status_code == 401


def test_a_real_servers_rate_limit_is_the_default() -> None:
    with running() as fresh:
        knobs = fresh.knobs["rocketchat"]
        assert (knobs.rate_limit_calls, knobs.rate_limit_window) == (10, 60.0)
        assert (knobs.page_cap, knobs.default_count, knobs.infinite_count) == (100, 50, True)


def test_rocketchat_login_rate_limit_headers_and_429(sandbox: Sandbox) -> None:
    """Ten logins a window from one address, whoever logs in (nobody bypasses it yet)."""
    sandbox.knobs["rocketchat"].rate_limit_window = 60
    body = {"user": "alice", "password": rc_password(sandbox, "alice")}
    allowed = [rc_login(sandbox, body) for _ in range(10)]
    refused = rc_login(sandbox, body)
    assert {r.status_code for r in allowed} == {200}
    assert allowed[0].headers["X-RateLimit-Limit"] == "10"
    assert [r.headers["X-RateLimit-Remaining"] for r in allowed] == [str(9 - i) for i in range(10)]
    assert refused.status_code == 429
    assert refused.json() == {
        "success": False,
        "error": "Error, too many requests. Please slow down. You must wait 60 seconds before "
        "trying this endpoint again. [error-too-many-requests]",
    }
    reset_ms = int(refused.headers["X-RateLimit-Reset"])
    assert time.time() * 1000 < reset_ms <= (time.time() + 61) * 1000
    sandbox.reset()
    assert rc_login(sandbox, body).status_code == 200


def test_rocketchat_limits_every_route_per_route_and_lets_admins_through(sandbox: Sandbox) -> None:
    sandbox.knobs["rocketchat"].rate_limit_window = 60
    dave = rc_login(sandbox, {"user": "dave", "password": rc_password(sandbox, "dave")}).json()
    token, user_id = dave["data"]["authToken"], dave["data"]["userId"]
    me = [rc_get(sandbox, "me", token, user_id) for _ in range(11)]
    assert [r.status_code for r in me] == [200] * 10 + [429]
    assert rc_get(sandbox, "rooms.get", token, user_id).status_code == 200  # a route of its own
    assert rc_get(sandbox, "me", "nope", user_id).status_code == 401  # refused tokens: not counted
    pat, alice = sandbox.rocketchat_pat
    admin = [rc_get(sandbox, "me", pat, alice) for _ in range(12)]
    assert {r.status_code for r in admin} == {200}  # api-bypass-rate-limit
    assert "X-RateLimit-Limit" not in admin[0].headers


def test_rocketchat_rate_limit_window_resets(sandbox: Sandbox) -> None:
    sandbox.knobs["rocketchat"].rate_limit_calls = 2
    sandbox.knobs["rocketchat"].rate_limit_window = 0.3
    body = {"user": "dave", "password": rc_password(sandbox, "dave")}
    assert [rc_login(sandbox, body).status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(0.35)
    assert rc_login(sandbox, body).status_code == 200
    sandbox.knobs["rocketchat"].rate_limit_calls = None  # an admin turned it off
    assert {rc_login(sandbox, body).status_code for _ in range(5)} == {200}


# -- Couchdrop ------------------------------------------------------------------------------


def test_couchdrop_login_form_and_json(sandbox: Sandbox) -> None:
    form = couchdrop_login(sandbox, "alice")
    password = sandbox.user("couchdrop", "alice").password
    as_json = HTTP.post(
        f"{sandbox.urls['couchdrop']}/authenticate",
        json={"username": "alice", "password": password, "system": "nbauth"},
    )
    assert form.status_code == as_json.status_code == 200
    assert form.json()["token"] != as_json.json()["token"]


def test_couchdrop_wrong_password_and_blocked_are_403(sandbox: Sandbox) -> None:
    wrong = couchdrop_login(sandbox, "alice", password="nope")
    blocked = couchdrop_login(sandbox, "mallory")
    assert wrong.status_code == 403 and "error" in wrong.json()
    assert blocked.status_code == 403
    assert blocked.json() == {"error": "Account is disabled"}


def test_couchdrop_totp_flow(sandbox: Sandbox) -> None:
    required = couchdrop_login(sandbox, "bob")
    wrong = couchdrop_login(sandbox, "bob", code=other_code(sandbox.totp("couchdrop", "bob")))
    good = couchdrop_login(sandbox, "bob", code=sandbox.totp("couchdrop", "bob"))
    assert required.status_code == 401
    assert required.json() == {"error": "2FA required", "method": "totp"}
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "Invalid 2FA code"}
    assert good.status_code == 200 and good.json()["token"]


def test_couchdrop_admin_token_and_permissions(sandbox: Sandbox) -> None:
    base = sandbox.urls["couchdrop"]
    admin = {"token": sandbox.couchdrop_admin_token}
    account = HTTP.get(f"{base}/manage/account", headers=admin)
    storage = HTTP.get(f"{base}/manage/account/storage", headers=admin)
    assert account.json()["account"]["username"] == "alice"
    assert list(storage.json()) == ["storage"]  # the 2016 server's and the docs' key
    assert {"id", "path", "store_type", "subpath"} <= set(storage.json()["storage"][0])


def test_couchdrop_manage_answers_a_non_admin_as_it_answers_a_dead_token(
    sandbox: Sandbox,
) -> None:
    """The 2016 server (routes_account.py): `if not token_object or not token_object.admin:
    return jsonify(err="Token was not valid"), 403` on every /manage route. The file host still
    takes dave's token: only that tells the two apart."""
    base = sandbox.urls["couchdrop"]
    dave = {"token": couchdrop_login(sandbox, "dave").json()["token"]}
    for headers in (dave, {"token": "not-a-token"}, {}):
        for path in ("/manage/account", "/manage/account/storage", "/manage/credentials"):
            denied = HTTP.get(f"{base}{path}", headers=headers)
            assert denied.status_code == 403
            assert denied.json() == {"err": "Token was not valid"}
    assert HTTP.post(f"{base}/file/lstat", data={"path": "/"}, headers=dave).status_code == 200
    dead = HTTP.post(f"{base}/file/lstat", data={"path": "/"}, headers={"token": "not-a-token"})
    assert dead.status_code == 403 and dead.json() == {"error": "Authentication Invalid"}


def test_couchdrop_bad_token_is_authentication_invalid(sandbox: Sandbox) -> None:
    base = sandbox.urls["couchdrop"]
    for headers in ({}, {"token": "not-a-token"}):
        response = HTTP.post(f"{base}/file/ls", data={"path": "/"}, headers=headers)
        assert response.status_code == 403
        assert response.json() == {"error": "Authentication Invalid"}
    legacy = HTTP.post(
        f"{base}/file/ls", params={"path": "/", "token": sandbox.couchdrop_admin_token}
    )
    assert legacy.status_code == 200


def test_couchdrop_session_tokens_expire_but_admin_tokens_do_not(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(couchdrop, "SESSION_TTL", -1.0)  # issued already expired
    expired = {"token": couchdrop_login(sandbox, "alice").json()["token"]}
    admin = {"token": sandbox.couchdrop_admin_token}
    base = sandbox.urls["couchdrop"]
    refused = HTTP.post(f"{base}/file/ls", data={"path": "/"}, headers=expired)
    assert refused.status_code == 403 and refused.json() == {"error": "Authentication Invalid"}
    assert HTTP.post(f"{base}/file/ls", data={"path": "/"}, headers=admin).status_code == 200


def test_couchdrop_files_list_stat_download(sandbox: Sandbox) -> None:
    base, headers = sandbox.urls["couchdrop"], {"token": sandbox.couchdrop_admin_token}
    root = HTTP.post(f"{base}/file/ls", data={"path": "/"}, headers=headers).json()["ls"]
    reports = HTTP.post(f"{base}/file/ls", json={"path": "/reports"}, headers=headers).json()
    stat = HTTP.post(f"{base}/file/lstat", params={"path": "/empty"}, headers=headers).json()
    csv = HTTP.post(f"{base}/file/download", params={"path": "/reports/q3.csv"}, headers=headers)
    missing = HTTP.post(f"{base}/file/ls", data={"path": "/nope"}, headers=headers)
    assert {entry["filename"] for entry in root} == {"reports", "images", "readme.txt", "empty"}
    assert [e["filename"] for e in reports["ls"]] == ["q3.csv", "q4.csv"]
    assert set(reports["ls"][0]) == {"filename", "size", "modtime", "is_dir"}
    assert stat == {"lstat": {"filename": "empty", "size": 0, "modtime": 0, "is_dir": True}}
    assert csv.text.startswith("region,revenue,units\n")
    assert missing.status_code == 404 and "error" in missing.json()


def test_couchdrop_upload_and_mkdir(sandbox: Sandbox) -> None:
    base = sandbox.urls["couchdrop"]
    headers = {"token": couchdrop_login(sandbox, "dave").json()["token"]}
    made = HTTP.post(f"{base}/file/mkdir", params={"path": "/out"}, headers=headers)
    again = HTTP.post(f"{base}/file/mkdir", params={"path": "/out"}, headers=headers)
    multipart = HTTP.post(
        f"{base}/file/upload",
        params={"path": "/out/a.txt"},
        files={"file": ("a.txt", b"multipart bytes")},
        headers=headers,
    )
    raw = HTTP.post(
        f"{base}/file/upload", params={"path": "/out/b.bin"}, content=b"\x00raw", headers=headers
    )
    orphan = HTTP.post(
        f"{base}/file/upload", params={"path": "/no/such.txt"}, content=b"x", headers=headers
    )
    assert (made.status_code, again.status_code, multipart.status_code, raw.status_code) == (
        200,
        409,
        200,
        200,
    )
    assert orphan.status_code == 404
    fetched = HTTP.post(f"{base}/file/download", params={"path": "/out/a.txt"}, headers=headers)
    assert fetched.content == b"multipart bytes"
    listing = HTTP.post(f"{base}/file/ls", data={"path": "/out"}, headers=headers).json()["ls"]
    assert {(e["filename"], e["size"]) for e in listing} == {("a.txt", 15), ("b.bin", 4)}


@pytest.mark.parametrize("field", ["file", "data"])
@pytest.mark.parametrize("status", [400, 500])
def test_couchdrop_upload_reads_the_multipart_field_its_knob_names(
    sandbox: Sandbox, field: str, status: int
) -> None:
    """By default the field `file` (the 2016 server's `request.files['file']`); knob "data" as
    the docs spell it. Without it: the 2016 server's text, at 400 (assumed) or 500 (2016)."""
    sandbox.knobs["couchdrop"].update(
        {"couchdrop_upload_field": field, "couchdrop_upload_missing_status": status}
    )
    base = sandbox.urls["couchdrop"]
    headers = {"token": couchdrop_login(sandbox, "dave").json()["token"]}  # dave's tree only
    folder = f"/fields-{field}-{status}"
    HTTP.post(f"{base}/file/mkdir", params={"path": folder}, headers=headers)
    answers = {}
    for sent in ("file", "data", "other"):
        answers[sent] = HTTP.post(
            f"{base}/file/upload",
            params={"path": f"{folder}/{sent}.txt"},
            files={sent: ("x.txt", sent.encode())},
            headers=headers,
        )
    assert answers[field].status_code == 200
    for sent in {"file", "data", "other"} - {field}:
        assert answers[sent].status_code == status
        assert answers[sent].json() == {"err": "File was not provided"}
    got = HTTP.post(
        f"{base}/file/download", params={"path": f"{folder}/{field}.txt"}, headers=headers
    )
    assert got.content == field.encode()


def test_couchdrop_upload_knob_takes_only_file_or_data(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="bad knob"):
        sandbox.knobs["couchdrop"].update({"couchdrop_upload_field": "upload"})
    with pytest.raises(ValueError, match="bad knob"):
        sandbox.knobs["couchdrop"].update({"couchdrop_upload_missing_status": 200})


# -- Rocket.Chat ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"user": "alice"},
        {"user": "alice@example.org"},
        {"username": "alice"},
        {"email": "alice@example.org"},
        {"user": {"username": "alice"}},
        {"user": {"email": "alice@example.org"}},
    ],
)
def test_rocketchat_login_body_forms(sandbox: Sandbox, body: dict[str, Any]) -> None:
    response = rc_login(sandbox, {**body, "password": rc_password(sandbox, "alice")})
    assert response.status_code == 200
    payload = response.json()
    assert set(payload) == {"status", "data", "success"}
    assert payload["status"] == "success" and payload["success"] is True
    assert set(payload["data"]) == {"userId", "authToken", "me"}
    assert len(payload["data"]["userId"]) == 17 and len(payload["data"]["authToken"]) == 43
    assert payload["data"]["me"]["roles"] == ["user", "admin"]


def test_rocketchat_login_form_encoded(sandbox: Sandbox) -> None:
    form = {"user": "alice", "password": rc_password(sandbox, "alice")}
    response = HTTP.post(f"{sandbox.urls['rocketchat']}/api/v1/login", data=form)
    assert response.status_code == 200 and response.json()["data"]["me"]["username"] == "alice"


def test_rocketchat_wrong_password_body(sandbox: Sandbox) -> None:
    response = rc_login(sandbox, {"user": "alice", "password": "wrong"})
    assert response.status_code == 401
    assert response.json() == INCORRECT
    sandbox.knobs["rocketchat"].wrong_password = "unauthorized"
    assert rc_login(sandbox, {"user": "alice", "password": "wrong"}).json() == UNAUTHORIZED


def test_rocketchat_blocked_user(sandbox: Sandbox) -> None:
    response = rc_login(sandbox, {"user": "mallory", "password": rc_password(sandbox, "mallory")})
    assert response.status_code == 401
    body = response.json()
    assert (body["success"], body["status"]) == (False, "error")
    assert body["error"] == "error-login-blocked-for-user"


def test_rocketchat_totp_flow(sandbox: Sandbox) -> None:
    login = {"user": "bob", "password": rc_password(sandbox, "bob")}
    required = rc_login(sandbox, login)
    invalid = rc_login(sandbox, {**login, "code": other_code(sandbox.totp("rocketchat", "bob"))})
    in_body = rc_login(sandbox, {**login, "code": sandbox.totp("rocketchat", "bob")})
    in_header = rc_login(sandbox, login, **{"x-2fa-code": sandbox.totp("rocketchat", "bob")})
    wrapped = rc_login(
        sandbox,
        {
            "totp": {
                "login": {"user": {"username": "bob"}, "password": login["password"]},
                "code": sandbox.totp("rocketchat", "bob"),
            }
        },
    )
    assert required.status_code == 401
    assert required.json() == {
        "success": False,
        "error": "totp-required",
        "status": "error",
        "details": {"method": "totp", "codeGenerated": False, "availableMethods": ["totp"]},
        "message": "TOTP Required",
    }
    assert invalid.status_code == 401
    assert invalid.json()["error"] == "totp-invalid" and invalid.json()["message"] == "TOTP Invalid"
    assert [in_body.status_code, in_header.status_code, wrapped.status_code] == [200, 200, 200]


def test_rocketchat_email_two_factor(sandbox: Sandbox) -> None:
    login = {"user": "carol", "password": rc_password(sandbox, "carol")}
    required = rc_login(sandbox, login)
    details = required.json()["details"]
    assert required.status_code == 401 and required.json()["error"] == "totp-required"
    assert details["method"] == "email" and details["codeGenerated"] is True
    code = sandbox.email_code("carol")
    over_http = HTTP.get(f"{sandbox.urls['rocketchat']}/_sandbox/email-codes").json()
    assert len(code) == 6 and over_http["codes"]["carol"] == code
    dashed = f"{code[:3]}-{code[3:]}"
    assert rc_login(sandbox, {**login, "code": dashed}).status_code == 200


def test_rocketchat_five_wrong_email_codes_end_the_code(sandbox: Sandbox) -> None:
    """EmailCheck: the fifth wrong code is totp-max-attempts; the next try e-mails a new code
    first, so a code sent with it is wrong, and the new code works."""
    login = {"user": "carol", "password": rc_password(sandbox, "carol")}
    rc_login(sandbox, login)
    first = sandbox.email_code("carol")
    wrong = [rc_login(sandbox, {**login, "code": other_code(first)}) for _ in range(5)]
    assert [r.json()["error"] for r in wrong] == ["totp-invalid"] * 4 + ["totp-max-attempts"]
    assert wrong[-1].status_code == 401
    assert wrong[-1].json()["message"] == "TOTP Maximun Failed Attempts Reached"
    after = rc_login(sandbox, {**login, "code": first})
    assert after.json()["error"] == "totp-invalid" and after.json()["details"]["codeGenerated"]
    second = sandbox.email_code("carol")
    assert second != first or len(second) == 6
    assert rc_login(sandbox, {**login, "code": second}).status_code == 200


def test_rocketchat_me_and_bad_token(sandbox: Sandbox) -> None:
    data = rc_login(sandbox, {"user": "dave", "password": rc_password(sandbox, "dave")}).json()[
        "data"
    ]
    me = rc_get(sandbox, "me", data["authToken"], data["userId"])
    bad = rc_get(sandbox, "me", "nope", data["userId"])
    assert me.status_code == 200
    assert me.json()["username"] == "dave" and me.json()["success"] is True
    assert me.json()["services"]["password"] == {"exists": True}
    assert bad.status_code == 401
    assert bad.json() == {
        "success": False,
        "error": LOGGED_OUT,
        "status": "error",
        "message": LOGGED_OUT,
    }


def test_rocketchat_resume_returns_the_same_token(sandbox: Sandbox) -> None:
    token = rc_login(sandbox, {"user": "alice", "password": rc_password(sandbox, "alice")}).json()[
        "data"
    ]["authToken"]
    resumed = rc_login(sandbox, {"resume": token})
    assert resumed.status_code == 200
    assert resumed.json()["data"]["authToken"] == token
    assert rc_login(sandbox, {"resume": "unknown"}).json() == INCORRECT


def test_rocketchat_logout_deletes_the_token(sandbox: Sandbox) -> None:
    data = rc_login(sandbox, {"user": "alice", "password": rc_password(sandbox, "alice")}).json()[
        "data"
    ]
    headers = {"X-Auth-Token": data["authToken"], "X-User-Id": data["userId"]}
    logout = HTTP.post(f"{sandbox.urls['rocketchat']}/api/v1/logout", headers=headers)
    assert logout.json() == {"status": "success", "data": {"message": "You've been logged out!"}}
    assert rc_get(sandbox, "me", data["authToken"], data["userId"]).status_code == 401


def test_rocketchat_personal_access_token_and_logout_deleting_it(sandbox: Sandbox) -> None:
    token, user_id = sandbox.rocketchat_pat
    headers = {"X-Auth-Token": token, "X-User-Id": user_id}
    me = rc_get(sandbox, "me", token, user_id)
    HTTP.post(f"{sandbox.urls['rocketchat']}/api/v1/logout", headers=headers)
    after_logout = rc_get(sandbox, "me", token, user_id)
    sandbox.reset()
    after_reset = rc_get(sandbox, "me", token, user_id)
    assert me.status_code == 200 and me.json()["username"] == "alice"
    assert after_logout.status_code == 401
    assert after_reset.status_code == 200


def test_rocketchat_statistics_admin_only(sandbox: Sandbox) -> None:
    token, user_id = sandbox.rocketchat_pat
    stats = rc_get(sandbox, "statistics", token, user_id)
    dave = rc_login(sandbox, {"user": "dave", "password": rc_password(sandbox, "dave")}).json()[
        "data"
    ]
    denied = rc_get(sandbox, "statistics", dave["authToken"], dave["userId"])
    assert stats.status_code == 200 and {"uploadsTotal", "uploadsTotalSize"} <= set(stats.json())
    # getLastStatistics throws a plain Error: 400, and no errorType.
    assert denied.status_code == 400
    assert denied.json() == {"success": False, "error": "error-not-allowed"}


def test_rocketchat_rooms_and_history_pagination(sandbox: Sandbox) -> None:
    token, user_id = sandbox.rocketchat_pat
    rooms = rc_get(sandbox, "rooms.get", token, user_id).json()["update"]
    by_name = {room.get("fname", "dm"): room for room in rooms}
    assert set(by_name) == {"general", "random", "project-x", "dm", "Release plan"}
    discussion = by_name["Release plan"]
    assert discussion["prid"] == by_name["general"]["_id"] and discussion["name"] != "Release plan"
    general = by_name["general"]["_id"]
    first = rc_get(sandbox, "channels.messages", token, user_id, roomId=general).json()
    capped = rc_get(sandbox, "channels.messages", token, user_id, roomId=general, count=500).json()
    last = rc_get(
        sandbox, "channels.messages", token, user_id, roomId=general, offset=200, count=100
    ).json()
    assert (first["count"], first["total"], capped["count"], last["count"]) == (50, 250, 100, 50)
    message = first["messages"][0]
    assert {"_id", "rid", "msg", "ts", "u"} <= set(message) and message["rid"] == general
    assert first["messages"][0]["ts"] > first["messages"][1]["ts"]
    assert any("tmid" in m for m in capped["messages"]) and any(
        "attachments" in m for m in capped["messages"]
    )
    history = rc_get(
        sandbox, "channels.history", token, user_id, roomId=general, oldest=message["ts"]
    ).json()
    assert history["messages"] == []
    dm = rc_get(sandbox, "im.history", token, user_id, roomId=by_name["dm"]["_id"], count=3).json()
    assert len(dm["messages"]) == 3 and "total" not in dm
    group = rc_get(
        sandbox, "groups.messages", token, user_id, roomId=by_name["project-x"]["_id"]
    ).json()
    assert group["total"] == 12
    wrong_kind = rc_get(sandbox, "groups.history", token, user_id, roomId=general)
    assert (
        wrong_kind.status_code == 400 and wrong_kind.json()["errorType"] == "error-room-not-found"
    )
    # groups.history pages without getPaginationItems: 20 by default, no cap, 0 is all.
    group_id = by_name["project-x"]["_id"]
    sizes = [
        len(
            rc_get(sandbox, "groups.history", token, user_id, roomId=group_id, **count).json()[
                "messages"
            ]
        )
        for count in ({}, {"count": 0}, {"count": 500})
    ]
    assert sizes == [12, 12, 12]


def test_rocketchat_page_settings_are_knobs(sandbox: Sandbox) -> None:
    token, user_id = sandbox.rocketchat_pat
    general = next(room.id for room in sandbox.seed.rooms if room.name == "general")

    def size(**query: Any) -> int:
        query = {"roomId": general, "showThreadMessages": "true", **query}
        answer = rc_get(sandbox, "channels.history", token, user_id, **query)
        return len(answer.json()["messages"])

    assert (size(), size(count=0), size(count=500)) == (50, 250, 100)
    knobs = sandbox.knobs["rocketchat"]
    knobs.page_cap, knobs.default_count, knobs.infinite_count = 40, 30, False
    assert (size(), size(count=0), size(count=500)) == (30, 30, 40)


def test_rocketchat_livechat_rooms_are_read_by_their_agent_only(sandbox: Sandbox) -> None:
    livechat = next(room for room in sandbox.seed.rooms if room.kind == "l")
    dave = rc_login(sandbox, {"user": "dave", "password": rc_password(sandbox, "dave")}).json()
    token, user_id = dave["data"]["authToken"], dave["data"]["userId"]
    listed = rc_get(sandbox, "rooms.get", token, user_id).json()["update"]
    room = next(r for r in listed if r["_id"] == livechat.id)
    assert (room["t"], room["fname"], room["servedBy"]["username"]) == (
        "l",
        "Visitor Example",
        "dave",
    )
    history = rc_get(
        sandbox, "channels.history", token, user_id, roomId=livechat.id, showThreadMessages="true"
    )
    assert len(history.json()["messages"]) == len(livechat.messages)
    refused = rc_get(sandbox, "groups.history", token, user_id, roomId=livechat.id)
    assert refused.status_code == 400
    pat, alice = sandbox.rocketchat_pat  # not the agent: the room is not found for her
    assert rc_get(sandbox, "channels.history", pat, alice, roomId=livechat.id).status_code == 400


def test_rocketchat_api_client_logs_in_and_out(sandbox: Sandbox) -> None:
    client = RocketChat(
        "alice", rc_password(sandbox, "alice"), server_url=sandbox.urls["rocketchat"]
    )
    assert client.me()["username"] == "alice"
    assert client.logout()["status"] == "success"
    with pytest.raises(RocketApiException) as failure:
        client.me()
    assert failure.value.status_code == 401 and failure.value.error == LOGGED_OUT


# -- ioGates --------------------------------------------------------------------------------


def test_iogates_account_login(sandbox: Sandbox) -> None:
    good = iogates_login(
        sandbox,
        {
            "username": "alice",
            "password": sandbox.user("iogates", "alice").password,
            "deviceId": "d",
        },
    )
    wrong = iogates_login(sandbox, {"username": "alice", "password": "nope"})
    blocked = iogates_login(
        sandbox, {"username": "mallory", "password": sandbox.user("iogates", "mallory").password}
    )
    body = good.json()
    assert set(body) == {"token", "profile", "max_file_size", "available_storage"}
    assert set(body["profile"]) == {
        "id",
        "username",
        "realname",
        "accountname",
        "email",
        "address",
        "mobile",
        "expires",
        "status",
        "logo",
    }
    assert (body["max_file_size"], body["available_storage"]) == (0, 29301996265)
    assert wrong.status_code == 401 and "message" in wrong.json()
    assert blocked.status_code == 403 and blocked.json() == {"message": "Account is blocked"}
    assert iogates_get(sandbox, "/api/files", "bogus").json() == {"message": "Invalid token"}


def test_iogates_share_token_sees_only_the_shared_folder(sandbox: Sandbox) -> None:
    share = iogates_login(sandbox, {"url": sandbox.share_urls["open"], "deviceId": "d1"}).json()[
        "token"
    ]
    account = iogates_login(
        sandbox, {"username": "alice", "password": sandbox.user("iogates", "alice").password}
    ).json()["token"]
    shared = iogates_get(sandbox, "/api/files", share).json()
    everything = iogates_get(sandbox, "/api/files", account).json()
    shared_names = {f["name"] for f in shared["files"]}
    assert shared_names == {"Rushes", "IMG_0752.JPG", "notes.txt", "interview.wav"}
    assert {"Private", "budget.csv"} <= {f["name"] for f in everything["files"]}
    assert shared["map"] == {str(f["id"]): f["type"] for f in shared["files"]}
    assert iogates_get(sandbox, "/api/share", share).json()["two_factor"] is False


def test_iogates_same_share_and_device_get_the_same_token(sandbox: Sandbox) -> None:
    url = sandbox.share_urls["open"]
    first = iogates_login(sandbox, {"url": url, "deviceId": "laptop"}).json()["token"]
    again = iogates_login(sandbox, {"url": url, "deviceId": "laptop"}).json()["token"]
    other = iogates_login(sandbox, {"url": url, "deviceId": "phone"}).json()["token"]
    assert first == again != other


def test_iogates_expired_and_unknown_shares(sandbox: Sandbox) -> None:
    expired = iogates_login(sandbox, {"url": sandbox.share_urls["expired"], "deviceId": "d"})
    unknown = iogates_login(
        sandbox, {"url": f"{sandbox.urls['iogates']}/show/15/{'a' * 13}/{'b' * 32}/dir/1/1/0/0/0"}
    )
    assert expired.status_code == 403 and expired.json() == {"message": "This share has expired"}
    assert unknown.status_code == 401 and "message" in unknown.json()


def test_iogates_sms_two_factor_flow(sandbox: Sandbox) -> None:
    token = iogates_login(
        sandbox, {"url": sandbox.share_urls["sms"], "deviceId": "sms-device"}
    ).json()["token"]
    sms_path = f"{sandbox.urls['iogates']}/api/apiauth/twofactorsms/{token}"
    bearer = {"Authorization": f"Bearer {token}"}
    assert iogates_get(sandbox, "/api/share", token).json()["two_factor"] is True
    assert iogates_get(sandbox, "/api/files", token).status_code == 401
    no_pending = HTTP.post(sms_path, data={"authcode": "1234"}, headers=bearer)
    initiate = HTTP.get(sms_path, headers=bearer).json()
    code = sandbox.sms_code("sms")
    missing = HTTP.post(sms_path, data={}, headers=bearer)
    rejected = HTTP.post(sms_path, data={"authcode": other_code(code)}, headers=bearer)
    accepted = HTTP.post(sms_path, data={"authcode": code}, headers=bearer)
    assert no_pending.status_code == 403
    assert initiate["auth_required"] is True and initiate["type"] == "sms"
    assert len(code) == 4 and sandbox.sms_code(token) == code
    assert HTTP.get(f"{sandbox.urls['iogates']}/_sandbox/sms").json()["codes"]["sms"] == code
    assert [missing.status_code, rejected.status_code, accepted.status_code] == [400, 401, 200]
    assert iogates_get(sandbox, "/api/files", token).status_code == 200
    assert HTTP.get(sms_path, headers=bearer).json()["auth_required"] is False


def test_iogates_download_with_range_and_md5(sandbox: Sandbox) -> None:
    token = iogates_login(sandbox, {"url": sandbox.share_urls["open"], "deviceId": "dl"}).json()[
        "token"
    ]
    files = iogates_get(sandbox, "/api/files", token).json()["files"]
    image = next(f for f in files if f["name"] == "IMG_0752.JPG")
    whole = HTTP.get(image["download"], follow_redirects=True)
    part = HTTP.get(image["download"], headers={"Range": "bytes=0-3"}, follow_redirects=True)
    assert hashlib.md5(whole.content).hexdigest() == image["md5"]
    assert len(whole.content) == image["size"]
    assert part.status_code == 206 and part.content == whole.content[:4]
    assert part.headers["Content-Range"] == f"bytes 0-3/{image['size']}"
    assert HTTP.get(image["download"][:-4] + "XXXX", follow_redirects=True).status_code == 404
    single = iogates_get(sandbox, f"/api/file/{image['id']}", token).json()
    assert single["md5"] == image["md5"] and single["upload_filename"]
    assert iogates_get(sandbox, "/api/file/381", token).status_code == 404


def test_iogates_download_links_redirect_to_another_host_name_that_keeps_the_headers(
    sandbox: Sandbox,
) -> None:
    """A link on 127.0.0.1 answers 302 to the file on localhost (and back): another host, as
    the public client's links were. What arrives there is recorded for the client tests."""
    login = iogates_login(
        sandbox, {"username": "alice", "password": sandbox.user("iogates", "alice").password}
    )
    files = iogates_get(sandbox, "/api/files", login.json()["token"]).json()["files"]
    link = next(f["download"] for f in files if f["name"] == "notes.txt")
    assert link.startswith("http://127.0.0.1:")
    first = HTTP.get(link, headers={"X-Probe": "yes"})
    assert first.status_code == 302
    target = httpx.URL(first.headers["location"])
    assert target.host == "localhost" and target.port == httpx.URL(link).port
    assert "/delivery/" in target.path and target.path.rsplit("/", 1)[1] not in link
    back = HTTP.get(link.replace("127.0.0.1", "localhost"))
    assert httpx.URL(back.headers["location"]).host == "127.0.0.1"
    got = HTTP.get(target, headers={"X-Probe": "yes"})
    notes = next(f for f in sandbox.seed.iogates_files if f.name == "notes.txt")
    assert got.status_code == 200 and got.content == notes.content
    assert sandbox.iogates_delivered[-1]["x-probe"] == "yes"
    assert HTTP.get(str(target)[:-4] + "XXXX").status_code == 404
    sandbox.knobs["iogates"].update({"iogates_download_redirect": False})
    assert HTTP.get(link).content == notes.content


@pytest.mark.parametrize("accepts", ["bearer", "token", "both"])
def test_iogates_token_header_knob_picks_the_forms_the_server_reads(
    sandbox: Sandbox, accepts: str
) -> None:
    token = iogates_login(sandbox, {"url": sandbox.share_urls["open"], "deviceId": "hdr"}).json()[
        "token"
    ]
    sandbox.knobs["iogates"].update({"iogates_token_header": accepts})
    forms = {"bearer": {"Authorization": f"Bearer {token}"}, "token": {"token": token}}
    for form, headers in forms.items():
        answer = HTTP.get(f"{sandbox.urls['iogates']}/api/files", headers=headers)
        assert answer.status_code == (200 if accepts in (form, "both") else 401), form


# -- CLI ------------------------------------------------------------------------------------


def test_cli_prints_ready_writes_env_and_exits_on_sigint(tmp_path: Path) -> None:
    env_file = tmp_path / "sandbox.env"
    process = subprocess.Popen(
        [sys.executable, "-m", "nbauth.sandbox", "--env-file", str(env_file)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    try:
        lines = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if not line or line.strip() == "Sandbox ready.":
                break
        assert lines[-1].strip() == "Sandbox ready."
        text = env_file.read_text()
        assert "export NBAUTH_SANDBOX='1'\n" in text
        assert "export NBAUTH_ROCKETCHAT_USERNAME='alice'\n" in text
        url = next(line.split("'")[1] for line in text.splitlines() if "COUCHDROP_URL" in line)
        assert HTTP.post(f"{url}/authenticate", data={"username": "alice"}).status_code == 403
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()
