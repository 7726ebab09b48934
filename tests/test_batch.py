"""login_many / alogin_many against the sandbox: every way in across the three services in one
batch, failures recorded per row, sessions stored under their aliases with the tokens the servers
issued, no secret in the result, the concurrency bound, and the event-loop and progress cases."""

import asyncio
import math
import signal
import sys
import threading
import time

import pandas as pd
import pytest

import nbauth
from nbauth import batch


def mixed_rows(sandbox):
    """One row per way in, two rows that must fail, and one row with a code column."""
    url = sandbox.urls
    pw = {s: {n: sandbox.user(s, n).password for n in sandbox.seed.users[s]} for s in url}
    pat, user_id = sandbox.rocketchat_pat
    return [
        {"service": "couchdrop", "url": url["couchdrop"], "username": "alice",
         "password": pw["couchdrop"]["alice"]},
        {"service": "couchdrop", "url": url["couchdrop"], "token": sandbox.couchdrop_admin_token,
         "alias": "cd-admin"},
        {"service": "couchdrop", "url": url["couchdrop"], "username": "dave",
         "password": "not-daves-password", "alias": "cd-wrong"},
        {"service": "Rocket.Chat", "url": url["rocketchat"], "username": "dave",
         "password": pw["rocketchat"]["dave"]},
        {"service": "rocketchat", "url": url["rocketchat"], "token": pat, "user_id": user_id,
         "alias": "rc-pat"},
        {"service": "rocketchat", "url": url["rocketchat"], "username": "bob",
         "password": pw["rocketchat"]["bob"], "code": sandbox.totp("rocketchat", "bob")},
        {"service": "rocketchat", "url": url["rocketchat"], "username": "alice",
         "password": "not-alices-password", "alias": "rc-wrong"},
        {"service": "iogates", "share_url": sandbox.share_urls["open"], "alias": "io-share"},
        {"service": "iogates", "url": url["iogates"], "username": "dave",
         "password": pw["iogates"]["dave"], "timeout": 10},
    ]  # fmt: skip


def secrets_of(sandbox):
    """Every credential the sandbox knows and every token it issued: none may reach a result."""
    found = {sandbox.couchdrop_admin_token, sandbox.rocketchat_pat[0]}
    for service, users in sandbox.seed.users.items():
        found |= {user.password for user in users.values()}
        found |= {token for _, token in sandbox.issued(service)}
    for share_url in sandbox.share_urls.values():
        found |= {share_url, share_url.split("/show/")[1]}
    found |= {share.key for share in sandbox.seed.shares.values()}
    return found | {"not-daves-password", "not-alices-password"}


def rendered(frame):
    return "\n".join(
        [frame.to_string(), frame.to_json(), frame.to_html(), repr(frame.to_dict("records"))]
    )


def test_a_list_of_dicts_logs_in_every_row_and_records_the_failures(sandbox):
    frame = nbauth.login_many(mixed_rows(sandbox))

    assert list(frame.columns[:5]) == ["alias", "service", "ok", "error", "username"]
    assert list(frame["alias"]) == [
        "couchdrop-0", "cd-admin", "cd-wrong", "rocketchat-3", "rc-pat", "rocketchat-5",
        "rc-wrong", "io-share", "iogates-8",
    ]  # fmt: skip
    assert list(frame["service"]) == ["couchdrop"] * 3 + ["rocketchat"] * 4 + ["iogates"] * 2
    failed = frame[~frame["ok"]]
    assert list(failed["alias"]) == ["cd-wrong", "rc-wrong"]
    host = {name: url.removeprefix("http://") for name, url in sandbox.urls.items()}
    errors = list(failed["error"])
    assert errors[0].startswith(
        f"AccessDenied: Couchdrop login failed (HTTP 403 from {host['couchdrop']})"
    )
    assert errors[1].startswith(
        f"AccessDenied: Rocket.Chat login failed (HTTP 401 from {host['rocketchat']})"
    )
    assert frame.loc[frame["ok"], "error"].isna().all()
    assert list(frame["username"]) == [
        "alice", "alice", "dave", "dave", "alice", "bob", "alice", "alice", "dave",
    ]  # fmt: skip

    # Every successful row is a stored session holding the token its server issued to that user.
    issued = {service: set(sandbox.issued(service)) for service in sandbox.urls}
    for row in frame[frame["ok"]].itertuples():
        session = nbauth.session(row.alias)
        assert (session.service, session.username) == (row.service, row.username)
        if session.kind == "password":
            assert (session.username, session.token.reveal()) in issued[row.service]
    assert ("share:open", nbauth.session("io-share").token.reveal()) in issued["iogates"]
    assert nbauth.session("rc-pat").token.reveal() == sandbox.rocketchat_pat[0]
    assert nbauth.session("cd-admin").token.reveal() == sandbox.couchdrop_admin_token
    assert sorted(nbauth.sessions()["alias"]) == sorted(frame.loc[frame["ok"], "alias"])
    for alias in ("cd-wrong", "rc-wrong"):
        with pytest.raises(nbauth.NotLoggedIn):
            nbauth.session(alias)

    # The storage figures, flattened into columns of each row.
    dave = sandbox.user("iogates", "dave")
    by_alias = frame.set_index("alias")
    assert by_alias.loc["iogates-8", "max_file_size"] == dave.max_file_size
    assert by_alias.loc["iogates-8", "available_storage"] == dave.available_storage
    assert by_alias.loc["couchdrop-0", "storage"] == "/ hosted; /reports s3 acme-reports/"
    assert by_alias.loc["rc-pat", "uploads_size"] > 0  # alice is admin: server-wide statistics
    assert "view-statistics" in by_alias.loc["rocketchat-3", "storage_note"]  # dave may not read


def test_no_secret_reaches_the_result(sandbox):
    frame = nbauth.login_many(mixed_rows(sandbox))
    text = rendered(frame)
    leaked = [secret for secret in secrets_of(sandbox) if secret in text]
    assert not leaked
    assert not {"password", "token", "code", "share_url"} & set(frame.columns)


def test_a_dataframe_with_empty_cells_keeps_its_index(sandbox):
    pat, user_id = sandbox.rocketchat_pat
    rows = pd.DataFrame(
        {
            "service": ["couchdrop", "rocketchat", "iogates", "iogates"],
            "url": [sandbox.urls["couchdrop"], sandbox.urls["rocketchat"], None, None],
            "username": ["dave", None, None, None],
            "password": [sandbox.user("couchdrop", "dave").password, None, None, None],
            "token": [None, pat, None, None],
            "user_id": [None, user_id, None, None],
            "share_url": [None, None, sandbox.share_urls["open"], sandbox.share_urls["expired"]],
            "alias": ["dave", None, "share", None],
            "timeout": [5, math.nan, math.nan, 7],  # a float column, NaN where not given
        },
        index=["a", "b", "c", "d"],
    )
    frame = nbauth.login_many(rows)
    assert list(frame.index) == ["a", "b", "c", "d"]
    assert list(frame["alias"]) == ["dave", "rocketchat-1", "share", "iogates-3"]
    assert list(frame["ok"]) == [True, True, True, False]
    assert "This share has expired" in frame.loc["d", "error"]
    assert nbauth.session("dave").timeout == 5
    assert nbauth.session("rocketchat-1").timeout == 30
    # dave may not read the storage connections (Couchdrop allows it to admins only).
    assert "only admins" in frame.loc["a", "storage_note"]
    assert not [secret for secret in secrets_of(sandbox) if secret in rendered(frame)]


def test_storage_false_reads_no_storage(sandbox, monkeypatch):
    def no_storage_call(self):
        raise AssertionError("storage was read")

    monkeypatch.setattr(nbauth.Session, "astorage", no_storage_call)
    frame = nbauth.login_many(mixed_rows(sandbox), storage=False)
    assert list(frame.columns) == ["alias", "service", "ok", "error", "username"]
    assert frame["ok"].sum() == 7


def test_a_storage_failure_is_noted_and_the_login_kept(sandbox, monkeypatch):
    async def broken(self):
        raise nbauth.ServiceError("Couchdrop storage failed (HTTP 500): the server had an error.")

    monkeypatch.setattr(nbauth.Session, "astorage", broken)
    frame = nbauth.login_many(mixed_rows(sandbox)[:1])
    assert frame["ok"].tolist() == [True]
    assert frame["storage_note"].iloc[0] == (
        "Storage not read: ServiceError: Couchdrop storage failed (HTTP 500): the server had an "
        "error."
    )
    assert nbauth.session("couchdrop-0")


def test_a_bug_in_one_login_is_recorded_without_its_secrets_and_the_batch_goes_on(
    sandbox, monkeypatch
):
    real = batch.arun

    async def buggy(request):
        if request.alias == "cd-admin":
            raise KeyError(f"token {request.values['token'].reveal()}")
        return await real(request)

    monkeypatch.setattr(batch, "arun", buggy)
    rows = mixed_rows(sandbox)
    rows[1]["token"] = nbauth.Secret(rows[1]["token"])  # a Secret is taken like text
    frame = nbauth.login_many(rows)
    error = frame.set_index("alias").loc["cd-admin", "error"]
    assert error.startswith("KeyError (a bug in nbauth, please report it): ")
    assert sandbox.couchdrop_admin_token not in error
    assert frame["ok"].sum() == 6


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ({"service": "couchdrop"}, "a DataFrame or a list of dicts"),
        ("couchdrop", "a DataFrame or a list of dicts"),
        ([{"service": "couchdrop"}, ["iogates"]], "row 1 is not a dict"),
        ([{"username": "alice", "password": "pw"}], "row 0 has no service"),
        ([{"service": math.nan, "token": "t"}], "row 0 has no service"),
        ([{"service": "iogates", "alias": 3, "token": "t"}], "row 0's alias is not text"),
        (
            [{"service": "iogates", "token": "t", "alias": "x"}] * 2
            + [{"service": "iogates", "token": "t"}, {"service": "iogates", "alias": "iogates-2"}],
            r"Shared: 'x' \(rows 0, 1\); 'iogates-2' \(rows 2, 3\)",
        ),
    ],
)
def test_a_batch_that_cannot_run_is_refused_before_any_login(sandbox, rows, message):
    before = {service: len(sandbox.issued(service)) for service in sandbox.urls}
    with pytest.raises(nbauth.UsageError, match=message):
        nbauth.login_many(rows)
    assert {service: len(sandbox.issued(service)) for service in sandbox.urls} == before
    assert nbauth.sessions().empty


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 0}, "concurrency= must be a whole number of at least 1"),
        ({"concurrency": True}, "concurrency="),
        ({"concurrency": 2.5}, "concurrency="),
        ({"storage": "yes"}, "storage= must be True or False"),
        ({"progress": "auto"}, "progress= must be True, False or None"),
    ],
)
def test_bad_options_are_usage_errors(options, message):
    with pytest.raises(nbauth.UsageError, match=message):
        nbauth.login_many([], **options)


def test_no_rows_give_an_empty_table():
    frame = nbauth.login_many([])
    assert frame.empty
    assert list(frame.columns) == ["alias", "service", "ok", "error", "username"]


def test_at_most_concurrency_logins_are_in_flight(sandbox, monkeypatch):
    """ioGates password logins are one request each (the storage comes with the answer), so with
    L seconds of latency N rows take ceil(N / concurrency) * L: not N * L, and not less."""
    latency, n, concurrency = 0.2, 24, 8
    sandbox.knobs["iogates"].latency = latency
    in_flight, peak = 0, 0
    real = batch.arun

    async def counted(request):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await real(request)
        finally:
            in_flight -= 1

    monkeypatch.setattr(batch, "arun", counted)
    dave = sandbox.user("iogates", "dave")
    rows = [
        {"service": "iogates", "url": sandbox.urls["iogates"], "username": "dave",
         "password": dave.password}
    ] * n  # fmt: skip
    started = time.perf_counter()
    frame = nbauth.login_many(rows, concurrency=concurrency)
    seconds = time.perf_counter() - started

    assert frame["ok"].all()
    assert peak == concurrency
    ideal = math.ceil(n / concurrency) * latency
    assert ideal <= seconds < ideal + 0.4, seconds  # half the concurrency would take 2 * ideal


def test_alogin_many_runs_in_the_callers_loop(sandbox):
    async def main():
        return await nbauth.alogin_many(mixed_rows(sandbox), concurrency=3)

    frame = asyncio.run(main())
    assert frame["ok"].sum() == 7
    assert nbauth.session("io-share").kind == "share-url"


def test_login_many_works_inside_a_running_event_loop(sandbox):
    """As in a Jupyter kernel, whose loop runs in the main thread while a cell executes."""

    async def cell():
        asyncio.get_running_loop()
        return nbauth.login_many(mixed_rows(sandbox))

    frame = asyncio.run(cell())
    assert frame["ok"].sum() == 7
    assert nbauth.session("rc-pat").user_id == sandbox.rocketchat_pat[1]


def test_an_interrupt_stops_the_batch_and_keeps_the_sessions_made(sandbox):
    """A notebook's stop button: KeyboardInterrupt in the main thread while the logins run on
    the batch's own thread (inside a running loop) cancels them instead of waiting for all."""
    sandbox.knobs["iogates"].latency = 0.2
    dave = sandbox.user("iogates", "dave")
    rows = [
        {
            "service": "iogates",
            "url": sandbox.urls["iogates"],
            "username": "dave",
            "password": dave.password,
        }
    ] * 40  # fmt: skip; 10 rounds of 0.2 s at concurrency 4
    main = threading.main_thread().ident
    threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT)).start()

    async def cell():
        return nbauth.login_many(rows, concurrency=4)

    # Not asyncio.run: from Python 3.11 on, its own SIGINT handler defers the interrupt.
    loop = asyncio.new_event_loop()
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        loop.run_until_complete(cell())
    loop.close()
    assert time.perf_counter() - started < 1.2
    assert 4 <= len(nbauth.sessions()) < 40


def test_no_progress_bar_outside_a_notebook_unless_asked(sandbox, fake_tqdm):
    rows = mixed_rows(sandbox)
    nbauth.login_many(rows)
    assert fake_tqdm == []
    nbauth.login_many(rows, progress=True)
    [bar] = fake_tqdm
    assert (bar.total, bar.count, bar.closed, bar.postfix) == (9, 9, 1, {"failed": 2})


def test_a_notebook_shows_a_progress_bar_by_default(sandbox, fake_tqdm, monkeypatch):
    monkeypatch.setattr("nbauth.frontend.kind", lambda ip=None: "notebook")
    nbauth.login_many(mixed_rows(sandbox)[:2])
    [bar] = fake_tqdm
    assert (bar.total, bar.count, bar.closed) == (2, 2, 1)
    nbauth.login_many(mixed_rows(sandbox)[:2], progress=False)
    assert len(fake_tqdm) == 1


def test_without_tqdm_the_batch_runs_without_a_bar(sandbox, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import tqdm.auto fails
    monkeypatch.setattr("nbauth.frontend.kind", lambda ip=None: "notebook")
    assert nbauth.login_many(mixed_rows(sandbox)[:1])["ok"].all()  # quietly, by default
    with pytest.warns(UserWarning, match="pip install tqdm") as caught:
        nbauth.login_many(mixed_rows(sandbox)[:1], progress=True)
    assert caught[0].filename == __file__


def test_import_nbauth_still_loads_no_heavy_library_and_exports_the_batch():
    import subprocess

    code = (
        "import sys, nbauth; assert 'login_many' in nbauth.__all__; "
        "print(sorted(m for m in ('httpx', 'pandas', 'nbauth.batch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert nbauth.login_many is batch.login_many and nbauth.alogin_many is batch.alogin_many


def test_login_many_in_a_jupyter_kernel(sandbox, tmp_path):
    """A real kernel: its event loop runs while the cell does, and it is a notebook, so the
    progress bar (tqdm's widget, tqdm being installed with the dev extra) is on by default."""
    import nbformat
    from kernels import execute, kernel_env, text_of

    cells = [
        "import asyncio, os, warnings, nbauth\n"
        "warnings.simplefilter('error')\n"
        "asyncio.get_running_loop()  # the kernel's own\n"
        "rows = [{'service': 'iogates', 'share_url': os.environ['SHARE_URL']}] * 5\n"
        "frame = nbauth.login_many(rows)\n"
        "print(frame['ok'].tolist(), sorted(nbauth.sessions()['alias']))",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in cells])
    execute(nb, tmp_path, kernel_env(tmp_path, SHARE_URL=sandbox.share_urls["open"]))
    printed = [o["text"] for o in nb.cells[0].outputs if o.get("output_type") == "stream"]
    assert "".join(printed).strip() == (
        "[True, True, True, True, True] "
        "['iogates-0', 'iogates-1', 'iogates-2', 'iogates-3', 'iogates-4']"
    )
    assert "nbauth logins" in text_of(nb.cells[0])  # the bar, shown in the cell


def share_rows(sandbox, device_id):
    return [
        {"service": "iogates", "share_url": sandbox.share_urls[name], "alias": f"io-{name}",
         "device_id": device_id}
        for name in ("open", "sms")
    ]  # fmt: skip


def requests_logged(caplog):
    return [r.getMessage().split(" ")[2:4] for r in caplog.records if r.name == "httpx"]


def test_a_share_row_is_one_request_and_texts_nobody(sandbox, caplog):
    caplog.set_level("INFO", logger="httpx")
    frame = nbauth.login_many(share_rows(sandbox, "batch-one-request"), storage=True)

    assert frame["ok"].all()
    made = requests_logged(caplog)
    assert [method for method, _ in made] == ["POST", "POST"]
    assert all(url.endswith("/api/authtoken") for _, url in made)
    # The storage came with the token; the share needing SMS was not read, so nobody was texted.
    assert frame.set_index("alias").loc["io-sms", "available_storage"] > 0
    assert nbauth.session("io-sms").profile.get("share") is None
    with pytest.raises(LookupError):
        sandbox.sms_code(nbauth.session("io-sms").token.reveal())


def test_check_shares_reads_each_share_and_fails_one_needing_sms_without_sending_it(sandbox):
    frame = nbauth.login_many(share_rows(sandbox, "batch-check"), check_shares=True)

    by_alias = frame.set_index("alias")
    assert by_alias.loc["io-open", "ok"]
    assert nbauth.session("io-open").profile["share"]["two_factor"] is False
    assert not by_alias.loc["io-sms", "ok"]
    error = by_alias.loc["io-sms", "error"]
    assert error.startswith("TwoFactorRequired: ") and "No SMS was sent" in error
    token = next(t for who, t in reversed(sandbox.issued("iogates")) if who == "share:sms")
    with pytest.raises(LookupError):
        sandbox.sms_code(token)


def test_a_share_row_with_its_code_completes_the_sms_check(sandbox):
    url = sandbox.share_urls["sms"]
    with pytest.raises(nbauth.TwoFactorRequired):  # a single login has the SMS sent
        nbauth.login("iogates", share_url=url, device_id="batch-code")
    code = sandbox.sms_code("sms")
    row = {"service": "iogates", "share_url": url, "device_id": "batch-code", "code": code}

    frame = nbauth.login_many([row])

    assert frame["ok"].all(), frame["error"].iloc[0]
    assert nbauth.session("iogates-0").profile["share"]["two_factor"] is True


def test_check_shares_must_be_a_flag():
    with pytest.raises(nbauth.UsageError, match="check_shares= must be True or False"):
        nbauth.login_many([], check_shares="yes")
