"""Rocket.Chat as a real server treats an ordinary user (the evidence in docs/assumptions.md,
read in the server's source): every route rate limited, page caps an admin set, a
statistics route that refuses with 400, personal access tokens that log in as resume tokens,
e-mail codes that run out, wrong-password answers in either wording.

dave is the ordinary user (no admin role: rate limited, no view-statistics); alice is an
admin, whom the rate limit lets through. The sandbox's limit is a real server's 10 calls per
route, in a window of a second (conftest.TEST_KNOBS) unless a test sets another.
"""

import time

import httpx
import pytest
from helpers import login_as

import nbauth

login = login_as("rocketchat")


def history_route(sandbox):
    return "/api/v1/channels.historyget"


def limiter(sandbox):
    return sandbox.rocketchat_limiter


def added(sandbox, count, members=("alice", "bob", "dave")):
    room = sandbox.add_room(f"big-{count}-{time.monotonic_ns()}", "c", list(members), count)
    return room


# -- the rate limit ---------------------------------------------------------------------------


def test_an_ordinary_user_reads_a_long_history_within_the_rate_limit(sandbox, fake_tqdm):
    """Pages of 100 (count=0 refused): 11 history requests, one more than a window allows.
    nbauth waits for the window instead of meeting a 429; the bar says so."""
    sandbox.knobs["rocketchat"].infinite_count = False
    room = added(sandbox, 1000)
    s = login(sandbox, "dave")
    frame = s.messages(room.name, progress=True)
    assert len(frame) == 1000 and frame["id"].is_unique
    assert limiter(sandbox).counted[history_route(sandbox)] == 11
    assert limiter(sandbox).refused == {}  # no 429 reached anyone
    [bar] = fake_tqdm
    assert bar.count == 1000
    assert any(note.startswith("waiting 1 s for Rocket.Chat's rate limit") for note in bar.notes)


def test_a_whole_history_is_one_request_so_the_limit_is_never_near(sandbox):
    room = added(sandbox, 3000)
    s = login(sandbox, "dave")
    assert len(s.messages(room.name)) == 3000
    assert limiter(sandbox).counted[history_route(sandbox)] == 1


def test_a_429_from_a_window_spent_elsewhere_is_waited_out(sandbox):
    """Another program on the same address spent the window: the first request meets a 429,
    nbauth waits for the reset the server named and goes on."""
    s = login(sandbox, "dave")
    s.rooms()
    url = f"{sandbox.urls['rocketchat']}/api/v1/channels.history"
    headers = s.auth_headers()
    general = s.rooms().set_index("name").loc["general", "id"]
    for _ in range(10):
        httpx.get(url, params={"roomId": general, "count": 1}, headers=headers)
    started = time.perf_counter()
    assert len(s.messages("general")) == 250
    assert limiter(sandbox).refused[history_route(sandbox)] == 1
    assert time.perf_counter() - started < 2  # one window of a second, not more


def test_past_max_wait_the_rows_read_so_far_come_with_rate_limited(sandbox):
    knobs = sandbox.knobs["rocketchat"]
    knobs.infinite_count, knobs.rate_limit_window = False, 30
    room = added(sandbox, 1000)
    s = login(sandbox, "dave")
    started = time.perf_counter()
    with pytest.raises(nbauth.RateLimited, match=r"past max_wait=2 s") as caught:
        s.messages(room.name, max_wait=2)
    assert time.perf_counter() - started < 2  # a wait past the bound is not begun
    assert 25 < caught.value.retry_after <= 31
    partial = caught.value.partial
    newest = [m.id for m in reversed(room.messages)]
    assert list(partial["id"]) == newest[: len(partial)] and len(partial) == 950


def test_an_admin_is_not_rate_limited_and_pages_do_not_wait(sandbox):
    sandbox.knobs["rocketchat"].infinite_count = False
    room = added(sandbox, 1000, members=("alice", "bob"))
    started = time.perf_counter()
    assert len(login(sandbox).messages(room.name)) == 1000
    assert time.perf_counter() - started < 1
    assert history_route(sandbox) not in limiter(sandbox).counted


def test_an_ordinary_users_rooms_and_messages_under_a_lowered_page_cap(sandbox):
    """An admin lowered API_Upper_Count_Limit to 40 and turned count=0 off: every page is
    short, none is the end until the history is."""
    knobs = sandbox.knobs["rocketchat"]
    knobs.page_cap, knobs.infinite_count = 40, False
    general = next(room for room in sandbox.seed.rooms if room.name == "general")
    frame = login(sandbox, "dave").messages("general")
    assert list(frame["id"]) == [m.id for m in reversed(general.messages)]


# -- errors read from the body, not only the status ----------------------------------------------


def test_statistics_refused_with_400_is_the_storage_note_not_an_error(sandbox):
    """getLastStatistics throws error-not-allowed, which the REST layer answers with 400."""
    s = login(sandbox, "dave")
    table = s.storage_frame()
    assert table.empty or "no per-user storage quota" in table["note"][0]
    assert "may not read the server's upload statistics" in s.storage().note


@pytest.mark.parametrize("wording", ["incorrect", "unauthorized"])
def test_a_wrong_password_is_access_denied_in_either_wording(sandbox, wording):
    sandbox.knobs["rocketchat"].wrong_password = wording
    with pytest.raises(nbauth.AccessDenied, match="wrong username or password"):
        nbauth.login(
            "rocketchat", url=sandbox.urls["rocketchat"], username="dave", password="not-it"
        )


def test_five_wrong_email_codes_say_the_code_is_dead_and_how_to_get_a_new_one(sandbox):
    url = sandbox.urls["rocketchat"]
    password = sandbox.user("rocketchat", "carol").password

    def attempt(code=None):
        return nbauth.login("rocketchat", url=url, username="carol", password=password, code=code)

    with pytest.raises(nbauth.TwoFactorRequired):
        attempt()
    first = sandbox.email_code("carol")
    wrong = str((int(first) + 1) % 10**6).zfill(6)
    for _ in range(4):
        with pytest.raises(nbauth.InvalidCode, match="wrong or has expired"):
            attempt(wrong)
    with pytest.raises(nbauth.InvalidCode, match="too many wrong e-mail codes") as caught:
        attempt(wrong)
    assert "Log in again without code=" in str(caught.value)
    with pytest.raises(nbauth.TwoFactorRequired):
        attempt()  # the next try has a new code e-mailed ...
    assert attempt(sandbox.email_code("carol")).username == "carol"  # ... and it works


# -- tokens ---------------------------------------------------------------------------------------


def test_a_personal_access_token_without_its_user_id_survives_logout(sandbox):
    """The server takes a PAT given alone as a resume token, and its logout would delete it:
    nbauth cannot tell the two apart, so only revoke=True ends such a token."""
    pat, user_id = sandbox.rocketchat_pat
    url = sandbox.urls["rocketchat"]
    s = nbauth.login("rocketchat", url=url, token=pat)
    assert s.kind == "resume" and s.user_id == user_id
    s.logout()
    me = httpx.get(f"{url}/api/v1/me", headers={"X-Auth-Token": pat, "X-User-Id": user_id})
    assert me.status_code == 200  # still valid on the server
    s = nbauth.login("rocketchat", url=url, token=pat)
    s.logout(revoke=True)
    me = httpx.get(f"{url}/api/v1/me", headers={"X-Auth-Token": pat, "X-User-Id": user_id})
    assert me.status_code == 401


def test_a_token_nbauth_got_with_a_password_is_ended_by_a_plain_logout(sandbox):
    s = login(sandbox, "dave")
    headers = s.auth_headers()
    s.logout()
    assert httpx.get(f"{s.url}/api/v1/me", headers=headers).status_code == 401
