"""Rocket.Chat conformance, proven by code nobody here wrote: the official JavaScript client
and the server's own validators and response types, against nbauth's sandbox.

1. `@rocket.chat/api-client`'s RestClient logs in to the sandbox (password, TOTP, e-mail code,
   resume), calls `me`, reads a history in two pages and logs out; each step is asserted on
   what the official client got back (tests/js/src/official_client.ts drives it).
2. nbauth's own Rocket.Chat calls (every way in, rooms, messages with a window, a limit and
   several pages, storage, logout, the errors) run against the sandbox with its request log
   on. Every query nbauth sent goes through the validator the server applies to that route
   (`@rocket.chat/rest-typings`' ajv schemas; a refusal shows ajv's `.errors`), every error
   answer nbauth read through the server's validator for its status, and every answer nbauth
   read is type-checked with `tsc --strict` against the response types of rest-typings
   (tests/js/src/answer_types.ts says which, and where the server's source overrides them).

The npm packages are installed into build/js/ on first use (tests/jsconformance.py). Without
Node the tests skip, or fail when CI is set; an npm registry that cannot be reached fails.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import httpx
import pytest
from jsconformance import NodeProject, find_node, prepare

import nbauth
from nbauth.sandbox import Sandbox
from nbauth.sandbox.common import REQUEST_LOG_SIZE
from nbauth.store import STORE

T = TypeVar("T")

#: Each Rocket.Chat route nbauth may call, and the validator the server runs on its query:
#: (validator name in @rocket.chat/rest-typings, or None and why there is none).
ROUTES: dict[str, tuple[str | None, str]] = {
    "GET /api/v1/channels.history": (
        "isChannelsHistoryProps",
        "channels.ts: addRoute('channels.history', {validateParams: isChannelsHistoryProps})",
    ),
    "GET /api/v1/groups.history": (
        "isGroupsHistoryProps",
        "groups.ts: API.v1.get('groups.history', {query: isGroupsHistoryProps})",
    ),
    "GET /api/v1/im.history": (
        "isDmHistoryProps",
        "im.ts: addRoute(['dm.history', 'im.history'], {validateParams: isDmHistoryProps})",
    ),
    "GET /api/v1/rooms.info": ("isRoomsInfoProps", "rest-typings' validator for rooms.info"),
    "GET /api/v1/subscriptions.get": (
        "isSubscriptionsGetProps",
        "subscriptions.ts: addRoute('subscriptions.get', {validateParams: ...})",
    ),
    "GET /api/v1/statistics": ("isStatisticsProps", "stats.ts: API.v1.get('statistics', ...)"),
    "POST /api/v1/login": (
        None,
        "no validator: the route takes any body (ApiClass.ts _initAuth); checked below against "
        "its loginCompatibility rules instead",
    ),
    "POST /api/v1/logout": (None, "no parameters (ApiClass.ts)"),
    "GET /api/v1/me": (None, "no validator; nbauth sends no query"),
    "GET /api/v1/rooms.get": (None, "no validator: the route reads updatedSince by hand"),
}
#: The routes nbauth's calls below must have reached, so that each check has something to check.
EXERCISED = set(ROUTES)
#: The server's validator for the body of an error answer, by status (rest-typings' Ajv.ts).
ERROR_VALIDATORS = {
    400: "validateBadRequestErrorResponse",
    401: "validateUnauthorizedErrorResponse",
    403: "validateForbiddenErrorResponse",
}
#: What the login route understands (ApiClass.ts, loginCompatibility): a password login with
#: these keys; anything else (a resume token) goes to Meteor's login handlers unchanged.
LOGIN_KEYS = {"user", "username", "email", "password", "code"}
#: A canary the validators must refuse: if they accept it, they check nothing.
BAD_QUERY = "roomId=GENERAL&count=100&offset=0&unknownParameter=1"
TS_ERROR = re.compile(r"^(?:.*/)?answers\.ts\((\d+),(\d+)\): error (TS\d+): (.*)$")
ROCKETCHAT_EPOCH = "2024-03-04T09:00:00Z"


@pytest.fixture(scope="session")
def node_project() -> NodeProject:
    return prepare()


def _retrying(call: Callable[[], T]) -> T:
    """`call()`, waiting out Rocket.Chat's rate limit (10 calls per route and caller) when
    nbauth reports it: these tests are about what is sent, not about the limit."""
    import time

    for _ in range(10):
        try:
            return call()
        except nbauth.RateLimited as limited:
            time.sleep(min(limited.retry_after or 1.0, 5.0) + 0.05)
    return call()


# -- 1. the official client ---------------------------------------------------------------


@pytest.fixture(scope="module")
def official(node_project: NodeProject, sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    """What RestClient got back at each step of each scenario, by scenario and step."""
    output = node_project.run(
        "official_client",
        {
            "baseUrl": sandbox.urls["rocketchat"],
            "scenarios": ["password", "totp", "email", "resume"],
        },
    )
    scenarios: dict[str, dict[str, Any]] = {}
    for name, result in output["results"].items():
        steps = {step["step"]: step for step in result["steps"]}
        scenarios[name] = {"steps": steps, "error": result.get("error")}
    return scenarios


def _steps(official: dict[str, dict[str, Any]], scenario: str) -> dict[str, Any]:
    result = official[scenario]
    assert result["error"] is None, f"the {scenario} scenario broke off:\n{result['error']}"
    steps: dict[str, Any] = result["steps"]
    return steps


def _logged_in(step: dict[str, Any], user_id: str, username: str) -> str:
    """Asserts a login answer the official client accepted; returns its token."""
    assert step["ok"], step
    body = step["body"]
    assert body["status"] == "success"
    assert body["data"]["userId"] == user_id
    assert body["data"]["me"]["username"] == username
    token = body["data"]["authToken"]
    assert isinstance(token, str) and len(token) >= 20
    return str(token)


def _refused(step: dict[str, Any], status: int) -> dict[str, Any]:
    assert not step["ok"], f"{step['step']} was not refused: {step}"
    assert step["status"] == status, step
    body: dict[str, Any] = step["body"]
    assert isinstance(body, dict), step
    return body


def test_official_client_password_login_me_history_logout(
    official: dict[str, dict[str, Any]], sandbox: Sandbox
) -> None:
    steps = _steps(official, "password")
    alice = sandbox.user("rocketchat", "alice")
    general = next(room for room in sandbox.seed.rooms if room.name == "general")

    _refused(steps["login-wrong-password"], 401)
    _logged_in(steps["login"], alice.user_id, "alice")

    me = steps["me"]
    assert me["ok"] and me["body"]["success"] is True
    assert (me["body"]["_id"], me["body"]["username"]) == (alice.user_id, "alice")

    room = steps["rooms.info"]["body"]["room"]
    assert (room["_id"], room["name"], room["t"]) == (general.id, "general", "c")

    seeded = {message.id for message in general.messages}
    first = steps["channels.history"]["body"]["messages"]
    second = steps["channels.history-offset"]["body"]["messages"]
    assert len(first) == len(second) == 5
    for page in (first, second):
        assert {m["rid"] for m in page} == {general.id}
        assert {m["_id"] for m in page} <= seeded
        stamps = [datetime.fromisoformat(m["ts"].replace("Z", "+00:00")) for m in page]
        assert stamps == sorted(stamps, reverse=True), "a page is newest first"
    # offset=5 continues where the first page stopped: older messages, none repeated
    assert not {m["_id"] for m in first} & {m["_id"] for m in second}
    assert second[0]["ts"] < first[-1]["ts"]

    assert steps["logout"]["ok"]
    assert steps["logout"]["body"] == {
        "status": "success",
        "data": {"message": "You've been logged out!"},
    }
    _refused(steps["me-after-logout"], 401)


def test_official_client_totp_two_factor(
    official: dict[str, dict[str, Any]], sandbox: Sandbox
) -> None:
    steps = _steps(official, "totp")
    refused = _refused(steps["login-without-code"], 401)
    assert refused["error"] == "totp-required"
    assert refused["details"]["method"] == "totp"
    _logged_in(steps["login-with-code"], sandbox.user("rocketchat", "bob").user_id, "bob")
    assert steps["me"]["ok"] and steps["me"]["body"]["username"] == "bob"
    assert steps["logout"]["ok"]


def test_official_client_email_two_factor(
    official: dict[str, dict[str, Any]], sandbox: Sandbox
) -> None:
    steps = _steps(official, "email")
    refused = _refused(steps["login-without-code"], 401)
    assert refused["error"] == "totp-required"
    assert refused["details"]["method"] == "email"
    _logged_in(steps["login-with-code"], sandbox.user("rocketchat", "carol").user_id, "carol")
    assert steps["me"]["ok"] and steps["me"]["body"]["username"] == "carol"
    assert steps["logout"]["ok"]


def test_official_client_resume_login(
    official: dict[str, dict[str, Any]], sandbox: Sandbox
) -> None:
    steps = _steps(official, "resume")
    alice = sandbox.user("rocketchat", "alice")
    token = _logged_in(steps["login"], alice.user_id, "alice")
    assert _logged_in(steps["resume"], alice.user_id, "alice") == token
    assert steps["me"]["ok"] and steps["me"]["body"]["_id"] == alice.user_id
    assert steps["logout"]["ok"]
    _refused(steps["resume-after-logout"], 401)


# -- 2. what nbauth sends and reads ------------------------------------------------------


def _control(sandbox: Sandbox, method: str, route: str, **kwargs: Any) -> Any:
    response = httpx.request(
        method, f"{sandbox.urls['rocketchat']}/_sandbox/{route}", timeout=10, **kwargs
    )
    response.raise_for_status()
    return response.json()


def test_sandbox_request_log_keeps_what_was_sent(sandbox: Sandbox) -> None:
    """The log these tests read: method, path, the raw query and the status of each request
    outside /_sandbox/, the bodies only while asked for; a reset empties it."""
    base = sandbox.urls["rocketchat"]
    httpx.get(f"{base}/api/v1/me?a=1%202&a=3", timeout=10)  # no token: 401
    log = _control(sandbox, "GET", "requests")
    assert log["bodies"] is False
    assert log["requests"][-1] == {
        "method": "GET",
        "path": "/api/v1/me",
        "query": "a=1%202&a=3",
        "status": 401,
    }
    assert _query(log["requests"][-1]) == {"a": ["1 2", "3"]}

    assert _control(sandbox, "POST", "requests", json={"bodies": True})["requests"] == []
    httpx.post(f"{base}/api/v1/login", json={"user": "nobody", "password": "x"}, timeout=10)
    (entry,) = _control(sandbox, "GET", "requests")["requests"]
    assert json.loads(entry["request_body"]) == {"user": "nobody", "password": "x"}
    assert entry["status"] == 401 and json.loads(entry["response_body"])["success"] is False

    bad = httpx.post(f"{base}/_sandbox/requests", json={"bodies": "yes"}, timeout=10)
    assert bad.status_code == 400
    sandbox.reset()
    assert _control(sandbox, "GET", "requests") == {"bodies": False, "requests": []}


def _nbauth_calls(sandbox: Sandbox) -> set[int]:
    """Every Rocket.Chat call nbauth makes, each way in, as an admin and as ordinary users.
    Returns the positions in the request log of the requests the test itself sent."""
    url = sandbox.urls["rocketchat"]

    def login(name: str, **kwargs: Any) -> Any:
        kwargs.setdefault("password", sandbox.user("rocketchat", name).password)
        return _retrying(
            lambda: nbauth.login("rocketchat", url=url, username=name, alias=name, **kwargs)
        )

    alice = login("alice")
    _retrying(alice.rooms)
    window = {"oldest": "2024-03-04T12:00:00Z", "latest": "2024-03-05T06:00:00Z"}
    _retrying(lambda: alice.messages("#general", limit=20, **window))
    _retrying(lambda: alice.messages("general", limit=150))  # two pages
    _retrying(lambda: alice.messages("project-x", limit=5))  # a private group
    _retrying(lambda: alice.messages("@dave", limit=5))  # a direct message
    with pytest.raises(nbauth.NotFound):
        alice.messages("no-such-room")  # rooms.info: 400 error-room-not-found
    _retrying(alice.storage_frame)
    alice.logout()

    with pytest.raises(nbauth.TwoFactorRequired):
        login("bob")
    bob = login("bob", code=sandbox.totp("rocketchat", "bob"))
    _retrying(lambda: bob.messages("random", limit=3))
    _retrying(bob.storage_frame)  # an ordinary user: refused
    bob.logout()

    with pytest.raises(nbauth.TwoFactorRequired):
        login("carol")
    carol = login("carol", code=sandbox.email_code("carol"))
    _retrying(lambda: carol.messages("random", limit=3))  # not joined: found by rooms.info
    carol.logout()

    first = login("alice")
    resumed = _retrying(
        lambda: nbauth.login("rocketchat", url=url, token=first.token.reveal(), alias="resumed")
    )
    _retrying(resumed.rooms)
    resumed.logout()

    token, user_id = sandbox.rocketchat_pat
    pat = _retrying(
        lambda: nbauth.login("rocketchat", url=url, token=token, user_id=user_id, alias="pat")
    )
    _retrying(pat.rooms)
    pat.logout()

    dave = login("dave")
    with pytest.raises(nbauth.NbAuthError):
        dave.messages("project-x")  # a private group he is not in: rooms.info not-allowed
    _retrying(dave.storage_frame)
    dave.logout()

    # a token ended elsewhere (another client logged it out): 401 on the next call
    ended = login("alice")
    headers = {"X-Auth-Token": ended.token.reveal(), "X-User-Id": ended.user_id}
    foreign = {len(_control(sandbox, "GET", "requests")["requests"])}
    httpx.post(f"{url}/api/v1/logout", headers=headers, timeout=10).raise_for_status()
    with pytest.raises(nbauth.SessionExpired):
        ended.rooms()
    return foreign


@pytest.fixture(scope="module")
def wire(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The requests nbauth sent to Rocket.Chat and the answers it got, as the sandbox saw
    them on the wire (its request log, with bodies)."""
    _control(sandbox, "POST", "requests", json={"bodies": True})
    try:
        foreign = _nbauth_calls(sandbox)
        log = _control(sandbox, "GET", "requests")
    finally:
        STORE.clear()
        _control(sandbox, "POST", "requests", json={"bodies": False})
    assert len(log["requests"]) < REQUEST_LOG_SIZE, "the request log overflowed: requests lost"
    return [entry for index, entry in enumerate(log["requests"]) if index not in foreign]


def _route(entry: dict[str, Any]) -> str:
    return f"{entry['method']} {entry['path']}"


def _query(entry: dict[str, Any] | str) -> dict[str, Any]:
    """A query string as the server's router gives it to a validator: each key's value, or
    the list of them when the key repeats."""
    raw = entry if isinstance(entry, str) else entry["query"]
    params: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if key in params:
            params[key] = (
                [*params[key], value]
                if isinstance(params[key], list)
                else [
                    params[key],
                    value,
                ]
            )
        else:
            params[key] = value
    return params


def _where(entry: dict[str, Any]) -> str:
    query = f"?{entry['query']}" if entry["query"] else ""
    return f"{entry['method']} {entry['path']}{query} -> {entry['status']}"


def test_nbauth_reached_every_rocketchat_route_it_uses(wire: list[dict[str, Any]]) -> None:
    """Every route nbauth called has a row in ROUTES (a new one needs its validator looked
    up), and the calls above reached each row, so no check below passes by checking nothing."""
    routes = {_route(entry) for entry in wire}
    assert routes <= set(ROUTES), f"routes without a ROUTES row: {sorted(routes - set(ROUTES))}"
    assert routes >= EXERCISED, f"not exercised: {sorted(EXERCISED - routes)}"


@pytest.fixture(scope="module")
def validated(
    wire: list[dict[str, Any]], node_project: NodeProject
) -> dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Each logged request whose route has a validator, and each error answer nbauth read,
    with the validator's verdict: by route ("error 400", ... for the answers)."""
    checks: list[dict[str, Any]] = [
        {"id": "canary", "validator": "isChannelsHistoryProps", "data": _query(BAD_QUERY)}
    ]
    entries: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(wire):
        validator = ROUTES.get(_route(entry), (None, ""))[0]
        if validator is not None:
            checks.append({"id": f"q{index}", "validator": validator, "data": _query(entry)})
            entries[f"q{index}"] = entry
        if entry["status"] in ERROR_VALIDATORS and entry["path"] != "/api/v1/login":
            body = json.loads(entry["response_body"])
            name = ERROR_VALIDATORS[entry["status"]]
            checks.append({"id": f"a{index}", "validator": name, "data": body})
            entries[f"a{index}"] = entry
    verdicts = {result["id"]: result for result in node_project.run("validate", checks)}
    canary = verdicts.pop("canary")
    assert not canary["valid"], "isChannelsHistoryProps accepted an unknown parameter"
    assert any(
        e.get("params", {}).get("additionalProperty") == "unknownParameter"
        for e in canary["errors"]
    ), canary
    by_route: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for key, verdict in verdicts.items():
        entry = entries[key]
        group = _route(entry) if key.startswith("q") else f"error {entry['status']}"
        by_route[group].append((entry, verdict))
    return by_route


def _refusals(results: list[tuple[dict[str, Any], dict[str, Any]]], what: str) -> str:
    lines = []
    for entry, verdict in results:
        if not verdict["valid"]:
            shown = entry["query"] if what == "query" else entry["response_body"]
            errors = json.dumps(verdict["errors"], indent=1)
            lines.append(f"{_where(entry)}\n  {what}: {shown}\n  ajv errors: {errors}")
    return "\n".join(lines)


@pytest.mark.parametrize("route", sorted(r for r, (v, _) in ROUTES.items() if v is not None))
def test_nbauth_queries_pass_the_servers_validator(
    route: str, validated: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]
) -> None:
    results = validated.get(route, [])
    assert results, f"nbauth sent no {route} request to check"
    refused = _refusals(results, "query")
    assert not refused, f"{ROUTES[route][0]} refused what nbauth sent:\n{refused}"


def test_error_answers_nbauth_reads_pass_the_servers_validator(
    validated: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]],
) -> None:
    """Every error nbauth read outside the login route (whose errors have that route's own
    shape, ApiClass.ts) has a shape the server's validator for its status allows."""
    seen = {group for group in validated if group.startswith("error ")}
    assert {"error 400", "error 401"} <= seen, f"the calls above should meet both: {seen}"
    refused = "\n".join(_refusals(validated[group], "answer") for group in sorted(seen))
    assert not refused.strip(), f"the server's error validators refused:\n{refused}"


def test_nbauth_login_bodies_are_what_the_login_route_understands(
    wire: list[dict[str, Any]], sandbox: Sandbox
) -> None:
    """The server's login route turns {user|username|email, password, code} into Meteor's
    login (the code going to the TOTP handler); any other body must be a resume token."""
    bodies = [json.loads(e["request_body"]) for e in wire if _route(e) == "POST /api/v1/login"]
    assert bodies
    kinds = set()
    for body in bodies:
        if "password" in body:
            assert set(body) <= LOGIN_KEYS, body.keys()
            assert isinstance(body["password"], str)
            assert all(isinstance(body.get(k, ""), str) for k in ("user", "username", "code"))
            kinds.add("code" if "code" in body else "password")
        else:
            assert set(body) == {"resume"} and isinstance(body["resume"], str), body.keys()
            kinds.add("resume")
    assert kinds == {"password", "code", "resume"}


def test_routes_without_a_validator_get_no_unknown_parameter(wire: list[dict[str, Any]]) -> None:
    for entry in wire:
        route = _route(entry)
        if route in ("GET /api/v1/me", "POST /api/v1/logout"):
            assert entry["query"] == "", _where(entry)
        elif route == "GET /api/v1/rooms.get":
            query = _query(entry)
            assert set(query) <= {"updatedSince"}, _where(entry)
            if "updatedSince" in query:
                datetime.fromisoformat(query["updatedSince"].replace("Z", "+00:00"))


# -- 3. the answers nbauth read, against rest-typings' response types ---------------------

#: Routes whose sandbox answers the types refuse today: findings for the sandbox's owner,
#: each an xfail(strict=True) to remove when the sandbox changes.
ANSWER_FINDINGS = {
    "GET /api/v1/statistics": (
        "the sandbox sends 11 statistics fields; IStats, rest-typings' type for GET "
        "/v1/statistics, requires the whole record a real server sends (wizard, uniqueId, "
        "installedAt, os, process, deploy and some 130 more)"
    ),
    "GET /api/v1/me": (
        "settings.calendar is missing from the sandbox's user; IMeApiUser (core-typings 8.8.1) "
        "requires it"
    ),
    "POST /api/v1/login": (
        "data.me is the sandbox's /me user, without settings.calendar, which IMeApiUser requires"
    ),
    "GET /api/v1/rooms.get": (
        "the livechat room (t 'l') has no owner u, which IRoom requires (a direct message may "
        "lack it: createDirectRoom sets none; for livechat rooms no source was checked)"
    ),
}


@pytest.fixture(scope="module")
def typed(wire: list[dict[str, Any]], node_project: NodeProject) -> dict[str, Any]:
    """The 2xx answers nbauth read, written into generated/answers/answers.ts as constants,
    each passed to `check<ROUTE>` (tests/js/src/answer_types.ts) and checked with tsc --strict;
    also a canary, a real rooms.get answer with a
    wrong type in it, which tsc must refuse. Returns the answers counted by route and tsc's
    errors by route ("canary" for the canary's)."""
    lines = ["import { check } from '../../src/answer_types';"]
    owner: list[str | None] = [None, None]  # owner[n]: whose check is on line n (1-based)
    answers: dict[str, int] = defaultdict(int)

    def add(label: str, route: str, body: Any, comment: str) -> None:
        name = f"raw{len(lines)}"
        lines.append(f"// {comment}")
        lines.extend(f"const {name} = {json.dumps(body, indent=1)} as const;".splitlines())
        lines.append(f"check<{json.dumps(route)}>({name});")
        owner.extend([None] * (len(lines) + 1 - len(owner)))
        owner[-1] = label

    rooms_get: dict[str, Any] | None = None
    for entry in wire:
        route = _route(entry)
        if 200 <= entry["status"] < 300 and route in ROUTES:
            body = json.loads(entry["response_body"])
            add(route, route, body, _where(entry))
            answers[route] += 1
            if route == "GET /api/v1/rooms.get":
                rooms_get = json.loads(entry["response_body"])
    assert rooms_get is not None and rooms_get["update"], "no rooms.get answer to build on"
    rooms_get["update"][0]["msgs"] = "many"  # a number in IRoom
    add("canary", "GET /api/v1/rooms.get", rooms_get, "canary: msgs a string; tsc must refuse")

    folder = node_project.directory / "generated" / "answers"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "answers.ts").write_text("\n".join(lines) + "\n")
    tsconfig = {"extends": "../../tsconfig.json", "include": ["answers.ts"]}
    (folder / "tsconfig.json").write_text(json.dumps(tsconfig, indent=1))
    result = node_project.tsc(folder / "tsconfig.json")
    errors: dict[str, list[str]] = defaultdict(list)
    current: list[str] | None = None
    for line in (result.stdout + result.stderr).splitlines():
        found = TS_ERROR.match(line.replace(str(folder) + "/", ""))
        if found:
            number = int(found.group(1))
            label = owner[number] if number < len(owner) else None
            current = errors[label or "(elsewhere)"]
            current.append(f"line {number}: {found.group(3)} {found.group(4)}")
        elif current is not None and line.startswith(" "):
            current[-1] += "\n" + line
        elif line.strip():
            current = errors["(elsewhere)"]
            current.append(line)
    return {"answers": answers, "errors": errors, "file": folder / "answers.ts"}


def test_type_check_refuses_a_wrongly_shaped_answer(typed: dict[str, Any]) -> None:
    """The canary (a real rooms.get answer with `msgs` as a string) is refused: the type
    check can fail, and does on a wrong shape."""
    assert typed["errors"].get("canary"), "tsc accepted the canary: the type check is vacuous"
    assert "msgs" in "\n".join(typed["errors"]["canary"])
    assert not typed["errors"].get("(elsewhere)"), typed["errors"]["(elsewhere)"]


def _answer_case(route: str) -> Any:
    if route in ANSWER_FINDINGS:
        return pytest.param(
            route,
            marks=pytest.mark.xfail(
                strict=True, raises=AssertionError, reason=ANSWER_FINDINGS[route]
            ),
        )
    return route


@pytest.mark.parametrize("route", [_answer_case(route) for route in sorted(ROUTES)])
def test_answers_nbauth_reads_have_the_official_types(route: str, typed: dict[str, Any]) -> None:
    assert typed["answers"].get(route), f"nbauth read no 2xx answer of {route}"
    errors = typed["errors"].get(route, [])
    shown = "\n".join(errors)[:6000]
    assert not errors, (
        f"{len(errors)} answer(s) of {route} do not have the type tests/js/src/answer_types.ts "
        f"gives it (see {typed['file']}):\n{shown}"
    )


def test_offline_registry_fails_with_a_clear_message(tmp_path: Path) -> None:
    """npm pointed at a registry that does not answer, with an empty cache: the install fails
    with a message that says what could not be reached and why it is needed."""
    import os

    find_node()  # without Node this skips (or fails in CI) like the others
    env = dict(os.environ)
    env.update(
        npm_config_registry="http://127.0.0.1:9/",
        npm_config_cache=str(tmp_path / "npm-cache"),
        npm_config_fetch_retries="0",
        npm_config_fetch_timeout="5000",
    )
    with pytest.raises(pytest.fail.Exception) as failed:
        prepare(env=env, build=tmp_path / "js")
    message = str(failed.value)
    assert "npm could not reach http://127.0.0.1:9/" in message
    assert "Rocket.Chat's packages" in message
