"""The Python API around the services: the store, aliases, the session table, bad input."""

import pickle
from importlib.metadata import entry_points

import pytest
from helpers import login_as

import nbauth
from nbauth import services


def test_every_built_in_service_registers_through_the_entry_point_group():
    registered = {ep.name: ep.value for ep in entry_points(group="nbauth.services")}
    assert {"couchdrop", "rocketchat", "iogates"} <= set(registered)
    assert services.names() == sorted(registered)
    assert services.get("Rocket.Chat").name == "rocketchat"


def test_an_unknown_service_lists_the_known_ones():
    with pytest.raises(nbauth.UsageError, match="Known services: couchdrop, iogates, rocketchat"):
        nbauth.login("dropbox", username="a", password="b")


def test_sessions_table_has_one_masked_row_per_session(sandbox):
    for service in ("couchdrop", "rocketchat", "iogates"):
        login_as(service)(sandbox)
    table = nbauth.sessions()
    assert list(table.columns) == [
        "alias", "service", "url", "username", "obtained", "expires", "token", "current",
    ]  # fmt: skip
    assert list(table["alias"]) == ["couchdrop", "rocketchat", "iogates"]
    assert list(table["current"]) == [False, False, True]
    rendered = table.to_string() + table.to_html()
    for alias in table["alias"]:
        assert nbauth.session(alias).token.reveal() not in rendered


def test_a_second_login_with_the_same_alias_replaces_the_first(sandbox):
    first = login_as("rocketchat")(sandbox)
    second = login_as("rocketchat")(sandbox)
    assert nbauth.session("rocketchat") is second is not first
    assert len(nbauth.sessions()) == 1


def test_aliases_keep_two_accounts_of_one_service(sandbox):
    login_as("iogates")(sandbox, alias="mine")
    shared = nbauth.login("iogates", share_url=sandbox.share_urls["open"], alias="shared")
    assert nbauth.session() is shared
    assert nbauth.session("mine").kind == "password"


def test_logout_of_the_current_session_makes_the_previous_one_current(sandbox):
    first = login_as("couchdrop")(sandbox)
    login_as("iogates")(sandbox)
    nbauth.logout()
    assert nbauth.session() is first


def test_session_for_an_unknown_alias_says_how_to_log_in():
    with pytest.raises(nbauth.NotLoggedIn, match="%login SERVICE --as work"):
        nbauth.session("work")


def test_a_failed_login_leaves_the_store_as_it_was(sandbox):
    kept = login_as("couchdrop")(sandbox)
    with pytest.raises(nbauth.AccessDenied):
        nbauth.login("couchdrop", url=sandbox.urls["couchdrop"], username="alice", password="bad")
    assert nbauth.session("couchdrop") is kept


def test_session_repr_and_pickle_never_show_the_token(sandbox):
    s = login_as("rocketchat")(sandbox)
    assert s.token.reveal() not in repr(s)
    assert "alice" in repr(s)
    with pytest.raises(TypeError, match="refuses to pickle"):
        pickle.dumps(s)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"username": "   ", "password": "pw"}, "username= is empty"),
        ({"username": "alice"}, "needs username= and password="),
        ({"password": "pw"}, "needs username= and password="),
        ({"token": "abc\ndef"}, "line break"),
        ({"token": "t", "username": "alice", "password": "pw"}, "not both"),
        ({"url": "chat.example.com", "username": "a", "password": "b"}, "not an http"),
        ({"url": "ftp://chat.example.com", "username": "a", "password": "b"}, "not an http"),
        ({"user_id": "abc", "username": "a", "password": "b"}, "user_id= goes with token="),
        ({"share_url": "https://x", "username": "a", "password": "b"}, "take no share_url="),
        ({"username": "a", "password": "b", "system": "x"}, "take no system="),
        ({"username": "a", "password": "b", "timeout": 0}, "positive number"),
        ({"username": "a", "password": "b", "alias": "two words"}, "without spaces"),
    ],
)
def test_bad_input_is_a_usage_error_before_anything_is_sent(kwargs, message):
    kwargs.setdefault("url", "http://127.0.0.1:9")
    with pytest.raises(nbauth.UsageError, match=message):
        nbauth.login("rocketchat", **kwargs)


def test_a_share_url_that_is_not_http_is_refused():
    with pytest.raises(nbauth.UsageError, match="share_url= must be"):
        nbauth.login("iogates", share_url="file:///etc/passwd")


def test_a_password_echoed_by_the_server_is_masked_in_the_message(sandbox):
    secret = "canary-password-7f3a9c"
    sandbox.knobs["couchdrop"].fail_status = 500
    sandbox.knobs["couchdrop"].fail_body = f"could not check password {secret}"
    with pytest.raises(nbauth.ServiceError) as caught:
        nbauth.login("couchdrop", url=sandbox.urls["couchdrop"], username="a", password=secret)
    assert secret not in str(caught.value)


def test_import_nbauth_loads_no_heavy_library():
    """Nor does reaching the API (``from nbauth import login``): they load at the first login."""
    import subprocess
    import sys

    heavy = ("httpx", "pandas", "ipywidgets", "fsspec", "nbauth.explore", "nbauth.fs")
    check = f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    reach = "nbauth.login, nbauth.alogin, nbauth.login_many, nbauth.Session, nbauth.sessions"
    code = f"import sys, nbauth; {check}; {reach}; {check}"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "[]"]


def test_a_data_call_of_another_service_names_the_sessions_own(sandbox):
    session = nbauth.login("iogates", share_url=sandbox.share_urls["open"])
    with pytest.raises(nbauth.UsageError, match=r"ioGates sessions have no rooms\(\)\. Theirs"):
        session.rooms()
    assert not hasattr(session, "messages")  # an AttributeError too, for hasattr and getattr
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        session.nothing  # noqa: B018 - any other name is a plain AttributeError


def test_the_current_or_latest_session_of_a_service_is_found(sandbox):
    from nbauth.store import STORE

    with pytest.raises(nbauth.NotLoggedIn, match=r"No Couchdrop session.*%login couchdrop"):
        STORE.of_service("couchdrop")
    alice = sandbox.user("couchdrop", "alice")
    first = nbauth.login("couchdrop", url=sandbox.urls["couchdrop"], username="alice",
                         password=alice.password, alias="first")  # fmt: skip
    second = nbauth.login("couchdrop", url=sandbox.urls["couchdrop"], username="alice",
                          password=alice.password, alias="second")  # fmt: skip
    share = nbauth.login("iogates", share_url=sandbox.share_urls["open"])
    assert STORE.of_service("couchdrop") is second  # the latest, as the current is ioGates
    assert STORE.of_service("iogates") is share
    assert STORE.of_service("couchdrop", "first") is first
    with pytest.raises(nbauth.UsageError, match="'iogates' is ioGates, not Couchdrop"):
        STORE.of_service("couchdrop", share.alias)
