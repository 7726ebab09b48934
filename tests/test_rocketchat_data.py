"""Rocket.Chat as data: ``s.rooms()`` and ``s.messages()`` against the sandbox over real HTTP.

The requests a history takes are read from httpx's own log records, so the paging rules
(at most 100 a page, nothing asked for after a short page) are checked on the wire. Rooms a
test adds (``sandbox.add_room``) have unique names and go at the sandbox's reset after it.
"""

import logging
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest
from helpers import login_as

import nbauth
from nbauth.explore.rocketchat import WORKERS, _in_flight
from nbauth.explore.rocketchat_tables import Columns, message_frame

login = login_as("rocketchat")

ROOM_COLUMNS = ["id", "name", "type", "messages", "users", "last_message"]
MESSAGE_COLUMNS = ["id", "ts", "username", "text", "thread_id", "attachments"]


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def seed_room(sandbox, name):
    return next(room for room in sandbox.seed.rooms if room.name == name)


def seeded_rows(messages):
    """What messages() must give for seed messages, newest first (a file post has no text)."""
    return [
        (
            m.id,
            m.ts,
            m.username,
            "" if m.attachment else m.text,
            m.thread_id,
            1 if m.attachment else 0,
        )
        for m in reversed(messages)
    ]


def rows(frame):
    return [
        (
            r.id,
            r.ts.to_pydatetime(),
            r.username,
            r.text,
            None if pd.isna(r.thread_id) else r.thread_id,
            r.attachments,
        )
        for r in frame.itertuples()
    ]


def added(sandbox, kind="c", count=0, members=("alice", "bob")):
    """A new room of ``count`` messages: (its name, its messages oldest first)."""
    room = sandbox.add_room(unique(f"edge-{count}"), kind, list(members), count)
    return room.name, room.messages


@pytest.fixture
def history_requests(caplog):
    """The *.history requests made so far, as dicts of their query, with the thread each was
    sent from, read from httpx's log records."""
    caplog.set_level(logging.INFO, logger="httpx")

    def made():
        found = []
        for record in caplog.records:
            sent = re.search(r"HTTP Request: GET (\S+)", record.getMessage())
            if sent and urlsplit(sent[1]).path.endswith(".history"):
                query = dict(parse_qsl(urlsplit(sent[1]).query))
                found.append({**query, "thread": record.threadName})
        return found

    return made


def pages_of(requests):
    return sorted((int(q["offset"]), int(q["count"])) for q in requests)


# -- rooms ------------------------------------------------------------------------------------


def test_rooms_of_alice_are_the_seeds_with_readable_types_and_utc_times(sandbox):
    frame = login(sandbox).rooms()
    assert list(frame.columns) == ROOM_COLUMNS
    assert str(frame["last_message"].dt.tz) == "UTC"
    expected = {
        (
            room.id,
            "dave" if room.kind == "d" else room.fname or room.name,
            word,
            len(room.messages),
            size,
        )
        for room, word, size in (
            (seed_room(sandbox, "general"), "channel", 4),
            (seed_room(sandbox, "random"), "channel", 3),
            (seed_room(sandbox, "project-x"), "private", 2),
            (seed_room(sandbox, "alice-dave"), "direct", 2),
            (next(room for room in sandbox.seed.rooms if room.parent), "channel", 2),
        )
    }
    assert set(frame[ROOM_COLUMNS[:5]].itertuples(index=False, name=None)) == expected
    last = {room.id: room.messages[-1].ts for room in sandbox.seed.rooms}
    assert all(row.last_message == last[row.id] for row in frame.itertuples())
    assert frame["last_message"].is_monotonic_decreasing  # the most recently active first


def test_rooms_of_dave_leave_out_the_private_group_and_name_the_dm_after_alice(sandbox):
    frame = login(sandbox, "dave").rooms().set_index("name")
    assert sorted(frame.index) == [
        "Release plan",
        "Visitor Example",
        "alice",
        "general",
        "random",
    ]
    assert frame.loc["alice", "type"] == "direct"
    assert frame.loc["alice", "id"] == seed_room(sandbox, "alice-dave").id


def test_rooms_of_every_type_are_listed_by_their_readable_names(sandbox):
    """rooms.get returns every subscribed room: a livechat room (t "l") and a discussion
    (prid set, a random name, its title in fname) among them."""
    livechat = next(room for room in sandbox.seed.rooms if room.kind == "l")
    discussion = next(room for room in sandbox.seed.rooms if room.parent)
    frame = login(sandbox, "dave").rooms().set_index("id")
    assert frame.loc[livechat.id, ["name", "type"]].tolist() == ["Visitor Example", "livechat"]
    assert frame.loc[discussion.id, ["name", "type"]].tolist() == ["Release plan", "channel"]
    assert frame.loc[livechat.id, "messages"] == len(livechat.messages)


@pytest.mark.parametrize("reference", ["Release plan", "#Release plan", "name", "id"])
def test_a_discussion_is_found_by_its_title_its_name_or_its_id(sandbox, reference):
    discussion = next(room for room in sandbox.seed.rooms if room.parent)
    reference = {"name": discussion.name, "id": discussion.id}.get(reference, reference)
    frame = login(sandbox, "dave").messages(reference)
    assert rows(frame) == seeded_rows(discussion.messages)


@pytest.mark.parametrize("reference", ["Visitor Example", "guest-1042"])
def test_the_agent_reads_a_livechat_room_through_the_channel_route(
    sandbox, history_requests, reference
):
    livechat = next(room for room in sandbox.seed.rooms if room.kind == "l")
    frame = login(sandbox, "dave").messages(reference)
    assert rows(frame) == seeded_rows(livechat.messages)
    assert set(frame["username"]) == {"guest-1042", "dave"}
    assert [q["roomId"] for q in history_requests()] == [livechat.id]


# -- messages of each kind of room ------------------------------------------------------------


def test_channel_messages_are_the_seeded_ones_newest_first(sandbox):
    general = seed_room(sandbox, "general")
    frame = login(sandbox).messages("general")
    assert list(frame.columns) == MESSAGE_COLUMNS
    assert str(frame["ts"].dt.tz) == "UTC" and frame["attachments"].dtype == "int64"
    assert rows(frame) == seeded_rows(general.messages)
    assert frame["thread_id"].notna().sum() == 30 and frame["attachments"].sum() == 12


def test_private_group_messages_by_hash_name(sandbox):
    frame = login(sandbox).messages("#project-x")
    assert rows(frame) == seeded_rows(seed_room(sandbox, "project-x").messages)


def test_direct_messages_by_at_username_or_by_id_for_both_people(sandbox):
    dm = seed_room(sandbox, "alice-dave")
    alice, dave = login(sandbox), login(sandbox, "dave")
    assert rows(alice.messages("@dave")) == seeded_rows(dm.messages)
    assert rows(dave.messages("@alice")) == seeded_rows(dm.messages)
    assert rows(alice.messages(dm.id)) == seeded_rows(dm.messages)


def test_a_public_channel_not_joined_is_read_through_rooms_info(sandbox):
    name, messages = added(sandbox, "c", 5, members=("bob", "carol"))
    assert rows(login(sandbox).messages(name)) == seeded_rows(messages)


def test_a_room_made_after_the_rooms_were_listed_is_found(sandbox):
    s = login(sandbox)
    s.rooms()
    name, messages = added(sandbox, "c", 3)
    assert rows(s.messages(name)) == seeded_rows(messages)


# -- paging on the wire ------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 100, 250])
def test_a_whole_history_is_one_request_where_the_server_allows_count_0(
    sandbox, history_requests, count
):
    """API_Allow_Infinite_Count is on by default: count=0 brings every message at once."""
    name, messages = added(sandbox, "c", count)
    frame = login(sandbox).messages(name)
    made = history_requests()
    assert pages_of(made) == [(0, 0)]
    assert all(q["showThreadMessages"] == "true" and "oldest" not in q for q in made)
    assert rows(frame) == seeded_rows(messages)


@pytest.mark.parametrize(
    ("count", "pages"),
    [
        (0, [(0, 0)]),
        (30, [(0, 0)]),  # the default count (50) held all: the room's count says so
        (100, [(0, 0), (50, 100)]),
        (250, [(0, 0), (50, 100), (150, 100), (250, 100)]),  # a full page: the next one ends it
    ],
)
def test_where_count_0_is_refused_pages_of_the_cap_follow_the_default_count(
    sandbox, history_requests, count, pages
):
    sandbox.knobs["rocketchat"].infinite_count = False  # count=0 gives API_Default_Count (50)
    name, messages = added(sandbox, "c", count)
    frame = login(sandbox).messages(name)
    assert pages_of(history_requests()) == pages
    assert rows(frame) == seeded_rows(messages)


@pytest.mark.parametrize("window", [False, True])
def test_a_page_the_servers_cap_cut_short_is_not_taken_for_the_end(sandbox, window):
    """An admin lowered API_Upper_Count_Limit to 40 and refused count=0: every page is
    shorter than asked, and the whole history still comes back."""
    knobs = sandbox.knobs["rocketchat"]
    knobs.page_cap, knobs.infinite_count = 40, False
    general = seed_room(sandbox, "general").messages
    s = login(sandbox)
    frame = s.messages("general", oldest=general[0].ts) if window else s.messages("general")
    assert rows(frame) == seeded_rows(general)


def test_an_empty_room_gives_an_empty_table_with_the_columns_and_types(sandbox):
    name, _ = added(sandbox, "p", 0)
    frame = login(sandbox).messages(name)
    assert list(frame.columns) == MESSAGE_COLUMNS and frame.empty
    assert str(frame["ts"].dt.tz) == "UTC" and frame["attachments"].dtype == "int64"


def test_over_a_network_the_pages_are_asked_for_at_once(sandbox, history_requests):
    """For an admin (no rate limit) on a server that refuses count=0."""
    name, messages = added(sandbox, "c", 1000)
    s = login(sandbox)
    sandbox.knobs["rocketchat"].latency = 0.02  # a server across a network
    sandbox.knobs["rocketchat"].infinite_count = False
    frame = s.messages(name)
    made = history_requests()
    full = [(offset, 100) for offset in range(50, 1000, 100)]
    assert pages_of(made) == [(0, 0), *full]
    assert len({q["thread"] for q in made if q["thread"].startswith("nbauth-messages")}) > 1
    assert rows(frame) == seeded_rows(messages)


def test_pages_overlap_only_when_a_round_trip_outlasts_the_work_on_a_page_twice():
    assert _in_flight(wall=0.0010, cpu=0.0007) == 1  # loopback: threads would only cost
    assert _in_flight(wall=0.0210, cpu=0.0008) == WORKERS  # a network's round trips
    assert _in_flight(wall=0.0010, cpu=0.0) == WORKERS


# -- limit ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "limit", "pages"),
    [
        (101, 30, [(0, 30)]),  # smaller than a page: one page of 30
        (250, 150, [(0, 100), (100, 50)]),  # larger than a page: the last page cut to fit
        (101, 500, [(0, 0)]),  # larger than the room: all of it at once
        (100, 100, [(0, 0)]),  # exactly the room: all of it too
    ],
)
def test_limit_keeps_the_newest_and_asks_for_no_more_than_it_needs(
    sandbox, history_requests, count, limit, pages
):
    name, messages = added(sandbox, "c", count)
    frame = login(sandbox).messages(name, limit=limit)
    assert pages_of(history_requests()) == pages
    assert rows(frame) == seeded_rows(messages)[:limit]


@pytest.mark.parametrize("limit", [5, 100])
def test_a_limit_met_by_the_first_page_ends_there_over_a_network_too(
    sandbox, history_requests, limit
):
    name, messages = added(sandbox, "c", 250)
    s = login(sandbox)
    sandbox.knobs["rocketchat"].latency = 0.02  # pages would go out at once after the first
    frame = s.messages(name, limit=limit)
    assert pages_of(history_requests()) == [(0, limit)]
    assert rows(frame) == seeded_rows(messages)[:limit]


def test_limit_zero_asks_for_nothing(sandbox, history_requests):
    frame = login(sandbox).messages("general", limit=0)
    assert frame.empty and list(frame.columns) == MESSAGE_COLUMNS
    assert history_requests() == []


@pytest.mark.parametrize("bad", [-1, 2.5, True, "10"])
def test_a_bad_limit_is_a_usage_error(sandbox, bad):
    with pytest.raises(nbauth.UsageError, match="limit= takes a whole number"):
        login(sandbox).messages("general", limit=bad)


# -- oldest / latest ----------------------------------------------------------------------------


def test_oldest_and_latest_keep_the_messages_between_them_both_included(sandbox, history_requests):
    general = seed_room(sandbox, "general").messages
    s = login(sandbox)
    frame = s.messages("general", oldest=general[10].ts, latest=general[20].ts)
    assert rows(frame) == seeded_rows(general[10:21])
    first, then = history_requests()  # a window's count is unknown: an empty page ends it
    assert first["inclusive"] == "true" and first["oldest"].endswith("Z")
    assert (first["count"], then["offset"], then["count"]) == ("0", "11", "100")


def test_naive_datetimes_are_utc_and_strings_may_carry_an_offset(sandbox):
    general = seed_room(sandbox, "general").messages
    s = login(sandbox)
    naive = general[30].ts.replace(tzinfo=None)
    in_paris = general[40].ts.astimezone(timezone(timedelta(hours=1))).isoformat()
    assert rows(s.messages("general", oldest=naive, latest=in_paris)) == seeded_rows(general[30:41])
    assert rows(s.messages("general", latest=general[2].ts.isoformat())) == seeded_rows(general[:3])
    assert rows(s.messages("general", oldest="2024-03-05T13:50:00Z")) == seeded_rows(
        [m for m in general if m.ts >= datetime(2024, 3, 5, 13, 50, tzinfo=timezone.utc)]
    )


def test_a_window_of_several_pages_is_read_page_by_page_to_its_short_page(
    sandbox, history_requests
):
    sandbox.knobs["rocketchat"].infinite_count = False
    general = seed_room(sandbox, "general").messages
    frame = login(sandbox).messages("general", oldest=general[20].ts, latest=general[230].ts)
    assert rows(frame) == seeded_rows(general[20:231])
    assert pages_of(history_requests()) == [(0, 0), (50, 100), (150, 100)]


def test_a_window_with_a_limit(sandbox):
    general = seed_room(sandbox, "general").messages
    frame = login(sandbox).messages("general", oldest=general[0].ts, limit=5)
    assert rows(frame) == seeded_rows(general)[:5]


@pytest.mark.parametrize(
    ("oldest", "latest", "message"),
    [
        ("2024-03-06", "2024-03-05", "is after latest="),
        ("yesterday-ish", None, "oldest= takes a datetime or an ISO 8601 string"),
        (None, 1709542800, "latest= takes a datetime"),
    ],
)
def test_a_bad_window_is_a_usage_error(sandbox, oldest, latest, message):
    with pytest.raises(nbauth.UsageError, match=message):
        login(sandbox).messages("general", oldest=oldest, latest=latest)


# -- errors ------------------------------------------------------------------------------------


def test_an_unknown_room_is_not_found_and_the_closest_name_is_suggested(sandbox):
    s = login(sandbox)
    with pytest.raises(nbauth.NotFound, match="Did you mean 'general'") as close:
        s.messages("genral")
    with pytest.raises(nbauth.NotFound, match="#general, #random, #project-x, @dave"):
        s.messages("zzz-nothing-like-it")
    with pytest.raises(nbauth.NotFound, match="no direct messages with 'bob'"):
        s.messages("@bob")
    assert isinstance(close.value, FileNotFoundError) and close.value.service == "rocketchat"


def test_a_room_given_as_nothing_is_a_usage_error(sandbox):
    s = login(sandbox)
    for bad in ("", "  #", None):
        with pytest.raises(nbauth.UsageError, match=r"messages\(\) needs a room"):
            s.messages(bad)


def test_a_private_group_alice_is_not_in_is_access_denied(sandbox):
    group = sandbox.add_room(unique("private"), "p", ["bob", "carol"], 3)
    s = login(sandbox)
    with pytest.raises(nbauth.AccessDenied, match=f"'{group.name}' is a private room alice is"):
        s.messages(group.name)
    with pytest.raises(nbauth.AccessDenied):  # by id, the same
        s.messages(group.id)


def test_the_sandbox_hides_a_group_from_non_members_as_rocket_chat_does(sandbox):
    group = sandbox.add_room(unique("private"), "p", ["bob", "carol"], 3)
    s = login(sandbox)
    with s.client() as api:
        history = api.get("/api/v1/groups.history", params={"roomId": group.id})
        info = api.get("/api/v1/rooms.info", params={"roomName": group.name})
        missing = api.get("/api/v1/rooms.info", params={"roomName": unique("none")})
    assert history.status_code == 400 and history.json()["errorType"] == "error-room-not-found"
    assert info.status_code == 400
    assert info.json() == {"success": False, "error": "not-allowed", "errorType": "Not Allowed"}
    assert missing.json()["errorType"] == "error-room-not-found"


def test_a_revoked_token_is_session_expired_and_the_token_is_in_no_message(sandbox):
    s = login(sandbox)
    s.rooms()
    token = s.token.reveal()
    sandbox.revoke("rocketchat", token)
    failures = []
    for call in (s.rooms, lambda: s.messages("general"), lambda: s.messages("@dave")):
        with pytest.raises(nbauth.SessionExpired, match="%login rocketchat") as caught:
            call()
        failures.append(caught.value)
    assert all(f.status == 401 for f in failures)
    assert all(token not in str(f) and token not in repr(f) for f in failures)


def test_no_error_message_holds_the_token(sandbox):
    s = login(sandbox)
    token = s.token.reveal()
    name, _ = added(sandbox, "p", 1, members=("bob", "carol"))
    failures = []
    for room in ("genral", "@nobody", name, token, f"#{token}"):
        with pytest.raises(nbauth.NbAuthError) as caught:
            s.messages(room)
        failures.append(caught.value)
    assert {type(f) for f in failures} == {nbauth.NotFound, nbauth.AccessDenied}
    assert not any(token in str(f) or token in repr(f) for f in failures)


def test_a_429_is_waited_for_and_the_read_goes_on(sandbox):
    s = login(sandbox)
    s.rooms()
    knobs = sandbox.knobs["rocketchat"]
    knobs.fail_status, knobs.fail_times, knobs.retry_after = 429, 1, 1
    started = time.perf_counter()
    assert len(s.messages("general")) == 250
    assert time.perf_counter() - started >= 1


def test_a_wait_past_max_wait_is_rate_limited(sandbox):
    s = login(sandbox)
    s.rooms()
    knobs = sandbox.knobs["rocketchat"]
    knobs.fail_status, knobs.fail_times, knobs.retry_after = 429, 1, 7
    with pytest.raises(nbauth.RateLimited, match="past max_wait=5 s") as caught:
        s.messages("general", max_wait=5)
    assert caught.value.retry_after == pytest.approx(7, abs=0.1)
    assert caught.value.partial.empty and list(caught.value.partial.columns) == MESSAGE_COLUMNS
    assert len(s.messages("general")) == 250  # the next try works


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "60", True])
def test_a_bad_max_wait_is_a_usage_error(sandbox, bad):
    with pytest.raises(nbauth.UsageError, match="max_wait= takes the seconds"):
        login(sandbox).messages("general", max_wait=bad)


def test_a_rocket_chat_session_has_no_file_calls_and_says_which_it_has(sandbox):
    s = login(sandbox)
    with pytest.raises(nbauth.UsageError, match=r"no ls\(\)\. Theirs are: rooms\(\), messages\(\)"):
        s.ls()
    assert not hasattr(s, "download")


# -- progress ----------------------------------------------------------------------------------


def test_progress_true_shows_a_bar_of_the_messages(sandbox, fake_tqdm):
    s = login(sandbox)
    s.messages("general")
    assert fake_tqdm == []  # not in a notebook: no bar unless asked
    s.messages("general", progress=True)
    [bar] = fake_tqdm
    assert (bar.total, bar.count, bar.closed) == (250, 250, 1)
    assert bar.options == {"desc": "#general", "unit": "msg"}


def test_a_notebook_shows_a_bar_for_a_long_history_only(sandbox, fake_tqdm, monkeypatch):
    monkeypatch.setattr("nbauth.frontend.kind", lambda ip=None: "notebook")
    s = login(sandbox)
    s.messages("random")  # one page
    assert fake_tqdm == []
    s.messages("general", limit=120)
    [bar] = fake_tqdm
    assert (bar.total, bar.count, bar.closed) == (120, 120, 1)
    s.messages("general", progress=False)
    assert len(fake_tqdm) == 1


# -- the table from odd pages --------------------------------------------------------------------


def test_pages_that_overlap_give_each_message_once_and_odd_entries_are_left_out():
    def message(i, **extra):
        return {"_id": f"m{i}", "ts": f"2024-03-04T09:0{i}:00.000Z", "msg": f"text {i}", **extra}

    first = Columns.of([message(3), message(2, tmid="m1"), "junk", {"msg": "no id"}])
    second = Columns.of(
        [
            message(2, msg="again"),  # a message posted meanwhile shifted the page by one
            message(1, u="not a user", attachments="nor a list", ts=12),
            {"_id": ["not", "a", "string"]},
        ]
    )
    assert (first.received, second.received) == (4, 3)
    frame = message_frame([first, second], None)
    assert list(frame["id"]) == ["m3", "m2", "m1"]
    assert list(frame["text"]) == ["text 3", "text 2", "text 1"]
    assert frame["username"].isna().all() and list(frame["attachments"]) == [0, 0, 0]
    assert frame["ts"].isna().tolist() == [False, False, True]
    assert list(message_frame([first, second], 2)["id"]) == ["m3", "m2"]


def test_the_sandbox_pages_a_room_of_50000_messages_as_fast_as_a_small_one(sandbox):
    name, _ = added(sandbox, "c", 50_000)
    s = login(sandbox)
    ids = s.rooms().set_index("name")["id"]

    def page(api, room, offset):
        query = {"roomId": ids[room], "count": 100, "offset": offset, "oldest": "2024-03-04T10Z"}
        query["showThreadMessages"] = "true"
        started = time.perf_counter()
        assert len(api.get("/api/v1/channels.history", params=query).json()["messages"]) == 100
        return time.perf_counter() - started

    with s.client() as api:
        small = min(page(api, "general", 0) for _ in range(5))
        large = max(min(page(api, name, offset) for _ in range(5)) for offset in (0, 49_000))
    # A pass over the room per request (what the benchmark would then measure) is ~50x this.
    assert large < 3 * small + 0.005
