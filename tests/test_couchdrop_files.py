"""Couchdrop's files through a session and through couchdrop:// paths, against the sandbox.

The sandbox is shared by the whole test run and keeps what is uploaded, so every test that
writes does it as dave, in a folder of its own (``space``); alice's seeded tree stays as seeded.
"""

from __future__ import annotations

import io
import secrets

import fsspec
import httpx
import pandas as pd
import pytest
from helpers import login_as, record_calls

import nbauth
from nbauth.explore import couchdrop as explore
from nbauth.explore.couchdrop import columns
from nbauth.sandbox.seed import SEED_EPOCH

login = login_as("couchdrop")
COLUMNS = ["filename", "path", "is_dir", "size", "modified"]


@pytest.fixture
def space(sandbox):
    """dave's session and a fresh folder of his to write in."""
    s = login(sandbox, "dave")
    folder = f"/t-{secrets.token_hex(4)}"
    s.mkdir(folder)
    return s, folder


def seeded(sandbox, user="alice"):
    return sandbox.seed.couchdrop_files[user]


# -- listing ------------------------------------------------------------------------------


def test_a_listing_is_a_table_of_the_seeded_files(sandbox):
    table = login(sandbox).ls("/reports")
    assert list(table.columns) == COLUMNS
    assert str(table["filename"].dtype) == "str" and table["is_dir"].dtype == bool
    assert table["size"].dtype == "Int64"
    assert str(table["modified"].dtype) == "datetime64[us, UTC]"
    files = seeded(sandbox)
    assert list(table["path"]) == ["/reports/q3.csv", "/reports/q4.csv"]
    assert list(table["filename"]) == ["q3.csv", "q4.csv"]
    assert list(table["size"]) == [len(files["/reports/q3.csv"]), len(files["/reports/q4.csv"])]
    assert not table["is_dir"].any()
    assert (table["modified"] == pd.Timestamp(SEED_EPOCH)).all()


def test_the_root_lists_folders_first_and_folders_have_no_time(sandbox):
    table = login(sandbox).ls()
    assert list(table["filename"]) == ["empty", "images", "reports", "readme.txt"]
    assert list(table["is_dir"]) == [True, True, True, False]
    assert table["modified"][:3].isna().all()
    assert table["modified"][3] == pd.Timestamp(SEED_EPOCH)
    assert table["size"][3] == len(seeded(sandbox)["/readme.txt"])


def test_an_empty_folder_is_an_empty_table_with_the_same_columns(sandbox):
    s = login(sandbox)
    empty = s.ls("empty")  # a relative path means the same as /empty
    assert empty.empty and list(empty.columns) == COLUMNS
    assert empty.dtypes.equals(s.ls("/reports").dtypes)


def test_a_big_folder_lists_whole_and_in_order(sandbox, space):
    s, folder = space
    sandbox.fill_couchdrop("dave", f"{folder}/many", 3000)
    table = s.ls(f"{folder}/many")
    assert len(table) == 3000
    assert list(table["filename"][:2]) == ["file-000000.txt", "file-000001.txt"]
    assert table["filename"].is_monotonic_increasing
    assert table["size"][2999] == len(b"2999\n")


def test_the_fill_control_route_fills_a_folder_from_another_process(sandbox, space):
    s, folder = space
    fill = f"{sandbox.urls['couchdrop']}/_sandbox/fill"
    answer = httpx.post(fill, json={"user": "dave", "folder": f"{folder}/f", "count": 5})
    assert answer.json() == {"user": "dave", "folder": f"{folder}/f", "count": 5}
    assert len(s.ls(f"{folder}/f")) == 5
    bad = [
        {"user": "nobody", "folder": "/x", "count": 1},
        {"user": "dave", "count": 1},
        {"user": "dave", "folder": "/notes/todo.txt/x", "count": 1},  # a file in the way
    ]
    for body in bad:
        assert httpx.post(fill, json=body).status_code == 400


def test_a_listing_reads_the_documented_size_spelling_and_skips_what_is_not_an_entry():
    found = columns(
        [
            {"filename": "a.csv", "size:": 12, "modtime": 1709542800, "is_dir": False},
            {"filename": "b", "size": True, "modtime": 10**30, "is_dir": True},
            {"size": 1},
            "junk",
        ],
        "/x",
    )
    assert found == {
        "filename": ["a.csv", "b"],
        "path": ["/x/a.csv", "/x/b"],
        "is_dir": [False, True],
        "size": [12, None],
        "modtime": [1709542800, None],
    }


# -- reading ------------------------------------------------------------------------------


def test_downloads_are_the_seeded_bytes(sandbox):
    s = login(sandbox)
    for path, content in seeded(sandbox).items():
        if content is not None:
            assert s.download(path) == content, path


def test_open_reads_binary_and_text(sandbox):
    s = login(sandbox)
    content = seeded(sandbox)["/reports/q3.csv"]
    with s.open("/reports/q3.csv") as binary:
        assert binary.read() == content
    with s.open("/reports/q3.csv", "r") as text:
        assert text.readline() == "region,revenue,units\n"
        assert text.read() == content.decode()[len("region,revenue,units\n") :]


def test_open_decodes_with_the_given_encoding(space):
    s, folder = space
    s.upload("café".encode("latin-1"), f"{folder}/latin.txt")
    with s.open(f"{folder}/latin.txt", "r", encoding="latin-1") as text:
        assert text.read() == "café"


def test_other_open_modes_are_usage_errors(sandbox):
    s = login(sandbox)
    for mode in ("ab", "r+", "x"):
        with pytest.raises(nbauth.UsageError, match=r"reading .* or writing"):
            s.open("/readme.txt", mode)


# -- writing ------------------------------------------------------------------------------


def test_uploads_of_bytes_a_local_file_and_a_file_object_are_listed(space, tmp_path):
    s, folder = space
    local = tmp_path / "local.csv"
    local.write_bytes(b"a,b\n1,2\n")
    s.upload(b"raw bytes", f"{folder}/bytes.bin")
    s.upload(local, f"{folder}/from-path.csv")
    s.upload(str(local), f"{folder}/from-str.csv")
    s.upload(io.BytesIO(b"\x00\x01\x02"), f"{folder}/from-object.bin")
    table = s.ls(folder).set_index("filename")
    assert dict(table["size"]) == {
        "bytes.bin": 9,
        "from-object.bin": 3,
        "from-path.csv": 8,
        "from-str.csv": 8,
    }
    assert s.download(f"{folder}/from-object.bin") == b"\x00\x01\x02"


@pytest.fixture
def fields(monkeypatch):
    """The upload calls nbauth sends, as (file host, multipart field names) per request; and
    a kernel that has not uploaded anywhere yet (nothing remembered)."""
    monkeypatch.setattr(explore, "upload_field", {})
    calls = record_calls(monkeypatch)

    def uploads():
        return [(c.url.split("/file/")[0], list(c.files or {})) for c in calls if c.files]

    return uploads


def test_an_upload_sends_the_field_file_once_as_the_server_source_reads_it(space, fields):
    s, folder = space
    s.upload(b"one part", f"{folder}/a.txt")
    s.upload(b"again", f"{folder}/b.txt")
    host = s.details["fileio_url"]
    assert fields() == [(host, ["file"]), (host, ["file"])]
    assert s.download(f"{folder}/a.txt") == b"one part"


@pytest.mark.parametrize("status", [400, 500])
def test_a_server_that_reads_data_costs_one_more_request_once_per_host(
    sandbox, space, fields, status
):
    """The docs' field: the first upload sends `file`, is told the file is missing (400, or
    500 as the 2016 server said it), sends `data` once, and every later upload to that host
    sends `data` alone. A second host (the same sandbox by another name) starts afresh."""
    s, folder = space
    sandbox.knobs["couchdrop"].update(
        {"couchdrop_upload_field": "data", "couchdrop_upload_missing_status": status}
    )
    first = s.upload(b"first", f"{folder}/1.txt")
    s.upload(b"second", f"{folder}/2.txt")
    with s.open(f"{folder}/3.txt", "wb") as written:
        written.write(b"third")
    host = s.details["fileio_url"]
    assert fields() == [(host, ["file"]), (host, ["data"]), (host, ["data"]), (host, ["data"])]
    assert first["size"] == 5
    assert [s.download(f"{folder}/{n}.txt") for n in (1, 2, 3)] == [b"first", b"second", b"third"]
    other_url = sandbox.urls["couchdrop"].replace("127.0.0.1", "localhost")
    other = login(sandbox, "dave", url=other_url, alias="other")
    other.upload(b"elsewhere", f"{folder}/4.txt")
    assert fields()[4:] == [(other_url, ["file"]), (other_url, ["data"])]


def test_a_host_that_stops_reading_data_is_sent_file_again_and_remembered(sandbox, space, fields):
    s, folder = space
    host = s.details["fileio_url"]
    sandbox.knobs["couchdrop"].update({"couchdrop_upload_field": "data"})
    s.upload(b"x", f"{folder}/1.txt")
    sandbox.knobs["couchdrop"].update({"couchdrop_upload_field": "file"})
    s.upload(b"y", f"{folder}/2.txt")
    s.upload(b"z", f"{folder}/3.txt")
    assert [f for _, f in fields()] == [["file"], ["data"], ["data"], ["file"], ["file"]]
    assert explore.upload_field == {host: "file"}


def test_a_server_that_finds_the_file_in_neither_field_says_so(sandbox, space, fields):
    s, folder = space
    sandbox.knobs["couchdrop"].update(
        {"fail_status": 400, "fail_times": 2, "fail_body": "File was not provided"}
    )
    with pytest.raises(nbauth.ServiceError, match="no file in the upload") as caught:
        s.upload(b"x", f"{folder}/x.txt")
    assert "'file' and then 'data'" in str(caught.value) and caught.value.status == 400
    assert [f for _, f in fields()] == [["file"], ["data"]]
    assert explore.upload_field == {}


def test_other_refusals_of_an_upload_are_not_sent_again(sandbox, space, fields):
    s, folder = space
    with pytest.raises(nbauth.AccessDenied):
        s.upload(b"x", "/shared/x.txt")  # dave may only read /shared
    with pytest.raises(nbauth.NotFound):
        s.upload(b"x", f"{folder}/no/such.txt")
    sandbox.knobs["couchdrop"].update({"fail_status": 500, "fail_times": 1})
    with pytest.raises(nbauth.ServiceError, match="HTTP 500"):
        s.upload(b"x", f"{folder}/x.txt")
    assert [f for _, f in fields()] == [["file"]] * 3


def test_an_upload_returns_the_new_entry_and_replaces_an_old_file(space):
    s, folder = space
    first = s.upload(b"one", f"{folder}/x.txt")
    entry = s.upload(b"second", f"{folder}/x.txt")
    assert first["size"] == 3
    assert entry["name"] == f"{folder}/x.txt" and entry["filename"] == "x.txt"
    assert entry["type"] == "file" and entry["size"] == 6
    assert entry["modified"].tzinfo is not None
    assert s.download(f"{folder}/x.txt") == b"second"


def test_open_for_writing_uploads_when_the_file_closes(space):
    s, folder = space
    with s.open(f"{folder}/w.bin", "wb") as binary:
        binary.write(b"\xffbinary")
        assert "w.bin" not in set(s.ls(folder)["filename"])  # nothing is sent before close
    with s.open(f"{folder}/w.txt", "w") as text:
        text.write("line one\nligne deux é\n")
    assert s.download(f"{folder}/w.bin") == b"\xffbinary"
    assert s.download(f"{folder}/w.txt") == "line one\nligne deux é\n".encode()


def test_a_with_block_that_fails_uploads_nothing(space):
    s, folder = space
    for mode in ("wb", "w"):
        with pytest.raises(RuntimeError), s.open(f"{folder}/half-{mode}", mode) as f:
            f.write(b"half" if mode == "wb" else "half")
            raise RuntimeError("interrupted")
    assert s.ls(folder).empty


def test_bad_upload_sources_are_usage_errors(space, tmp_path):
    s, folder = space
    with pytest.raises(nbauth.UsageError, match=r"text\.encode\(\)"):
        s.upload("just some text", f"{folder}/t.txt")
    local = tmp_path / "t.txt"
    local.write_text("x")
    with open(local) as text_mode, pytest.raises(nbauth.UsageError, match="open it with 'rb'"):
        s.upload(text_mode, f"{folder}/t.txt")
    with pytest.raises(nbauth.UsageError, match="not int"):
        s.upload(42, f"{folder}/t.txt")


def test_mkdir_makes_a_folder_and_refuses_an_existing_one(space):
    s, folder = space
    s.mkdir(f"{folder}/new")
    listed = s.ls(folder)
    assert list(listed["filename"]) == ["new"] and listed["is_dir"][0]
    assert s.ls(f"{folder}/new").empty
    with pytest.raises(nbauth.AlreadyExists, match="parents=True") as caught:
        s.mkdir(f"{folder}/new")
    assert isinstance(caught.value, FileExistsError) and caught.value.status == 409


def test_mkdir_with_parents_makes_them_and_accepts_an_existing_folder(space):
    s, folder = space
    with pytest.raises(nbauth.NotFound, match=rf"s\.mkdir\('{folder}/a/b', parents=True\)"):
        s.mkdir(f"{folder}/a/b/c")
    s.mkdir(f"{folder}/a/b/c", parents=True)
    s.mkdir(f"{folder}/a/b/c", parents=True)
    s.mkdir(f"{folder}/a", parents=True)
    assert s.info(f"{folder}/a/b/c")["type"] == "directory"
    s.upload(b"x", f"{folder}/a/file")
    with pytest.raises(nbauth.AlreadyExists, match="a file is already at"):
        s.mkdir(f"{folder}/a/file", parents=True)


def test_an_upload_into_a_missing_folder_says_to_make_it(space):
    s, folder = space
    with pytest.raises(nbauth.NotFound, match=rf"s\.mkdir\('{folder}/nope', parents=True\)"):
        s.upload(b"x", f"{folder}/nope/x.txt")
    with pytest.raises(nbauth.AlreadyExists, match="a folder is at"):
        s.upload(b"x", folder)


# -- refusals -----------------------------------------------------------------------------


def test_permission_refusals_are_access_denied_with_the_servers_reason(sandbox):
    s = login(sandbox, "dave")
    reads = [lambda: s.ls("/private"), lambda: s.download("/private/salaries.csv")]
    for call in reads:
        with pytest.raises(nbauth.AccessDenied, match="may not read") as caught:
            call()
        assert isinstance(caught.value, PermissionError) and caught.value.status == 403
        assert "you do not have the right permissions" in str(caught.value)
    writes = [lambda: s.upload(b"x", "/shared/x.txt"), lambda: s.mkdir("/shared/sub")]
    for call in writes:
        with pytest.raises(nbauth.AccessDenied, match="may not write in '/shared'") as caught:
            call()
        assert "you cannot write to that folder" in str(caught.value)
    assert list(s.ls("/shared")["filename"]) == ["handbook.txt"]  # reading it is allowed
    assert s.download("/shared/handbook.txt") == seeded(sandbox, "dave")["/shared/handbook.txt"]


def test_a_missing_path_is_not_found_naming_it(sandbox):
    s = login(sandbox)
    for call in (lambda: s.ls("/nope"), lambda: s.download("/nope"), lambda: s.info("/nope")):
        with pytest.raises(nbauth.NotFound, match="'/nope'") as caught:
            call()
        assert isinstance(caught.value, FileNotFoundError) and caught.value.status == 404


def test_a_file_is_not_listed_and_a_folder_is_not_downloaded(sandbox):
    s = login(sandbox)
    with pytest.raises(nbauth.UsageError, match="not a folder"):
        s.ls("/readme.txt")
    with pytest.raises(nbauth.UsageError, match=r"s\.ls\('/reports'\)"):
        s.download("/reports")


def test_a_revoked_token_is_session_expired(sandbox, space):
    s, folder = space
    sandbox.revoke("couchdrop", s.token.reveal())
    calls = [
        lambda: s.ls(folder),
        lambda: s.download("/notes/todo.txt"),
        lambda: s.upload(b"x", f"{folder}/x"),
        lambda: s.mkdir(f"{folder}/y"),
    ]
    for call in calls:
        with pytest.raises(nbauth.SessionExpired, match="%login couchdrop"):
            call()


@pytest.mark.parametrize(
    ("status", "error", "says"),
    [
        (500, nbauth.ServiceError, "HTTP 500"),
        (422, nbauth.ServiceError, "storage behind"),
        (429, nbauth.RateLimited, "too many requests"),
    ],
)
def test_server_trouble_is_the_fitting_error(sandbox, status, error, says):
    s = login(sandbox)
    sandbox.knobs["couchdrop"].fail_status = status
    with pytest.raises(error, match=says):
        s.ls("/reports")


def test_the_token_is_in_no_error_message(sandbox, space):
    s, folder = space
    token = s.token.reveal()
    failures = [
        lambda: s.ls("/private"),
        lambda: s.upload(b"x", "/shared/x"),
        lambda: s.ls("/nope"),
        lambda: s.mkdir(folder),
        lambda: s.ls("/notes/todo.txt"),
    ]
    messages = []
    for call in failures:
        with pytest.raises(nbauth.NbAuthError) as caught:
            call()
        messages += [str(caught.value), repr(caught.value)]
    sandbox.revoke("couchdrop", token)
    with pytest.raises(nbauth.SessionExpired) as caught:
        s.ls("/")
    messages += [str(caught.value), repr(caught.value), repr(s)]
    assert not [m for m in messages if token in m]


def test_a_couchdrop_session_has_no_rooms_and_says_what_it_has(sandbox):
    s = login(sandbox)
    with pytest.raises(nbauth.UsageError, match=r"ls\(\), download\(\), open\(\), upload\(\)"):
        s.rooms()
    assert not hasattr(s, "messages")


# -- couchdrop:// -------------------------------------------------------------------------


def test_pandas_reads_a_couchdrop_url_with_the_current_session(sandbox):
    login(sandbox)
    table = pd.read_csv("couchdrop:///reports/q3.csv")
    assert table.equals(pd.read_csv(io.BytesIO(seeded(sandbox)["/reports/q3.csv"])))


def test_an_alias_in_the_url_picks_that_session(sandbox):
    login(sandbox, alias="work")  # alice
    login(sandbox, "dave")  # now the current Couchdrop session
    table = pd.read_csv("couchdrop://work@/reports/q3.csv")
    assert table.equals(pd.read_csv(io.BytesIO(seeded(sandbox)["/reports/q3.csv"])))
    with pytest.raises(FileNotFoundError):
        pd.read_csv("couchdrop:///reports/q3.csv")  # dave has no /reports


def test_fsspec_writes_then_reads_a_file(space):
    s, folder = space
    with fsspec.open(f"couchdrop://{folder}/notes.txt", "wt") as f:
        f.write("written through fsspec\n")
    with fsspec.open(f"couchdrop://{folder}/notes.txt", "rt") as f:
        assert f.read() == "written through fsspec\n"
    assert s.info(f"{folder}/notes.txt")["size"] == len("written through fsspec\n")


def test_the_filesystem_lists_and_describes_entries(space):
    _, folder = space
    fs = fsspec.filesystem("couchdrop")
    fs.pipe_file(f"{folder}/p.bin", b"0123456789")
    fs.makedirs(f"{folder}/d/e")
    entries = fs.ls(folder)
    assert {(e["name"], e["type"], e["size"]) for e in entries} == {
        (f"{folder}/d", "directory", 0),
        (f"{folder}/p.bin", "file", 10),
    }
    assert sorted(fs.ls(folder, detail=False)) == [f"{folder}/d", f"{folder}/p.bin"]
    assert fs.info(f"{folder}/p.bin")["modified"].tzinfo is not None
    assert fs.isdir(f"{folder}/d/e") and fs.isfile(f"{folder}/p.bin")
    assert fs.cat_file(f"{folder}/p.bin", start=2, end=5) == b"234"
    assert not fs.exists(f"{folder}/none")
    with pytest.raises(FileExistsError):
        fs.makedirs(f"{folder}/d/e")
    fs.makedirs(f"{folder}/d/e", exist_ok=True)
    with pytest.raises(FileExistsError):
        fs.mkdir(f"{folder}/d")
    with pytest.raises(FileExistsError):
        fs.pipe_file(f"{folder}/p.bin", b"again", mode="create")


def test_a_transaction_uploads_at_commit_and_nothing_when_it_fails(space):
    _, folder = space
    fs = fsspec.filesystem("couchdrop")
    with fs.transaction:
        with fs.open(f"{folder}/kept.bin", "wb") as f:
            f.write(b"kept")
        assert not fs.exists(f"{folder}/kept.bin")
    assert fs.cat_file(f"{folder}/kept.bin") == b"kept"
    with pytest.raises(RuntimeError), fs.transaction:
        with fs.open(f"{folder}/dropped.bin", "wb") as f:
            f.write(b"dropped")
        raise RuntimeError("the transaction fails")
    assert not fs.exists(f"{folder}/dropped.bin")


def test_no_couchdrop_session_is_not_logged_in_naming_the_login():
    with pytest.raises(nbauth.NotLoggedIn, match="%login couchdrop"):
        pd.read_csv("couchdrop:///reports/q3.csv")
