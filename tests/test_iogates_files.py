"""ioGates files against the sandbox: ls() tables rebuilt from the flat /api/files list, downloads
checked by md5, open(), the share's permissions and SMS check, the error mapping, no credential
in any message or log, and iogates:// paths in fsspec and pandas."""

import dataclasses
import hashlib
import http.server
import logging
import threading
from datetime import timedelta, timezone
from typing import ClassVar

import fsspec
import httpx
import pandas as pd
import pytest
import trustme
from helpers import login_as, record_calls

import nbauth
from nbauth import _http
from nbauth.explore import iogates as explore
from nbauth.explore.iogates import IoGatesSession, rebuild
from nbauth.sandbox import running
from nbauth.sandbox.seed import SEED_EPOCH
from nbauth.secret import Secret

login = login_as("iogates")
COLUMNS = ["id", "name", "path", "type", "is_dir", "size", "created", "md5"]


def seeded(sandbox, root=None):
    """{path: IoFile} of alice's seeded files, as the account (or the share of folder ``root``)
    should see them: worked out from the seed, not by nbauth."""
    files = {f.id: f for f in sandbox.seed.iogates_files if f.owner == "alice"}

    def path(item):
        parent = item.parent
        return ("" if parent in (None, root) else path(files[parent])) + "/" + item.name

    def inside(item):
        while item.parent is not None:
            if item.parent == root:
                return True
            item = files[item.parent]
        return root is None

    return {path(f): f for f in files.values() if f.id != root and inside(f)}


def share(sandbox, name="open", **kwargs):
    return nbauth.login("iogates", share_url=sandbox.share_urls[name], **kwargs)


def download_links(session):
    """The download links the server lists for ``session``, read past nbauth."""
    with session.client() as client:
        return [f["download"] for f in client.get("/api/files").json()["files"] if f["download"]]


def credentials(sandbox, *sessions):
    """Every token, share URL, share key and download link (and its key) in play."""
    found = {s.token.reveal() for s in sessions} | {t for _, t in sandbox.issued("iogates")}
    found |= set(sandbox.share_urls.values()) | {s.key for s in sandbox.seed.shares.values()}
    for session in sessions:
        for link in download_links(session):
            found |= {link, link.rsplit("/", 1)[1]}
    return found


# -- listing ----------------------------------------------------------------------------


def test_the_account_root_lists_its_top_folders_with_the_contract_columns(sandbox):
    top = login(sandbox).ls()
    assert list(top.columns) == COLUMNS
    assert list(top["path"]) == ["/Private", "/Projects"]
    assert list(top["name"]) == ["Private", "Projects"]
    assert top["is_dir"].all() and set(top["type"]) == {"dir"}
    assert list(top["id"]) == [380, 373]


def test_a_subfolder_lists_its_direct_children_and_recursive_its_subtree(sandbox):
    s = login(sandbox)
    assert list(s.ls("/Projects")["path"]) == ["/Projects/IMG_0752.JPG", "/Projects/Rushes"]
    assert list(s.ls("Projects/Rushes/")["name"]) == ["interview.wav", "notes.txt"]
    subtree = s.ls("/Projects", recursive=True)
    expected = sorted(p for p in seeded(sandbox) if p.startswith("/Projects/"))
    assert list(subtree["path"]) == expected


def test_the_whole_tree_is_rebuilt_at_the_seeded_paths(sandbox):
    everything = login(sandbox).ls("/", recursive=True).set_index("path")
    files = seeded(sandbox)
    assert sorted(everything.index) == sorted(files)
    for path, item in files.items():
        assert everything.loc[path, "id"] == item.id
        assert everything.loc[path, "is_dir"] == (item.content is None)


def test_columns_have_their_types_and_the_seeded_values(sandbox):
    table = login(sandbox).ls("/Projects", recursive=True)
    assert str(table["size"].dtype) == "Int64"
    assert isinstance(table["created"].dtype, pd.DatetimeTZDtype)
    assert table["created"].dt.tz == timezone.utc
    assert table["is_dir"].dtype == bool and table["id"].dtype == "int64"
    rows = table.set_index("path")
    for path, item in seeded(sandbox).items():
        if not path.startswith("/Projects/"):
            continue
        row = rows.loc[path]
        assert row["created"] == pd.Timestamp(item.created)
        if item.content is None:
            assert pd.isna(row["size"]) and pd.isna(row["md5"]) and row["type"] == "dir"
        else:
            assert row["size"] == len(item.content)
            assert row["md5"] == hashlib.md5(item.content).hexdigest()
    assert rows.loc["/Projects/IMG_0752.JPG", "type"] == "image"
    assert rows.loc["/Projects/IMG_0752.JPG", "created"] == SEED_EPOCH + timedelta(days=1)


def test_a_share_lists_from_the_shared_folder(sandbox):
    s = share(sandbox)
    assert isinstance(s, IoGatesSession)
    assert list(s.ls()["path"]) == ["/IMG_0752.JPG", "/Rushes"]
    assert sorted(s.ls(recursive=True)["path"]) == sorted(seeded(sandbox, root=373))


def test_an_empty_folder_is_an_empty_table_with_the_columns(sandbox):
    empty = login(sandbox).ls("/Private/Archive")
    assert empty.empty and list(empty.columns) == COLUMNS
    assert str(empty["size"].dtype) == "Int64"
    assert isinstance(empty["created"].dtype, pd.DatetimeTZDtype)


def test_a_file_path_lists_that_file(sandbox):
    assert list(login(sandbox).ls("/Private/budget.csv")["id"]) == [381]


def test_info_and_listdir_give_fsspec_entries(sandbox):
    s = login(sandbox)
    assert s.info("/")["type"] == "directory"
    notes = s.info("/Projects/Rushes/notes.txt")
    assert notes == s.info(376)
    assert notes["name"] == "/Projects/Rushes/notes.txt"
    assert (notes["type"], notes["kind"], notes["size"]) == ("file", "other", 33)
    assert notes["created"].tzinfo is not None
    entries = s.listdir("/Projects")
    assert [(e["name"], e["type"]) for e in entries] == [
        ("/Projects/IMG_0752.JPG", "file"),
        ("/Projects/Rushes", "directory"),
    ]
    assert set(entries[0]) == {"name", "id", "type", "size", "created", "md5", "kind"}


# -- the tree rules, on lists the sandbox does not serve ----------------------------------


def item(item_id, name, parent=None, kind="other"):
    return {"id": item_id, "name": name, "parent": parent, "type": kind}


def paths(files):
    return {entry.id: entry.path for entry in rebuild(files)}


def test_a_child_of_a_file_sits_next_to_it_and_a_missing_parent_is_top_level():
    files = [
        item(1, "Film", kind="dir"),
        item(2, "cut.mov", 1, "movie"),
        item(3, "cut-v2.mov", 2, "movie"),  # a version of cut.mov
        item(4, "subs.srt", 3),  # attached to the version
        item(5, "lost.txt", 99),  # parent not in the list (a share's own folder)
    ]
    assert paths(files) == {
        1: "/Film",
        2: "/Film/cut.mov",
        3: "/Film/cut-v2.mov",
        4: "/Film/subs.srt",
        5: "/lost.txt",
    }


def test_siblings_with_one_name_keep_it_by_lowest_id_and_odd_names_are_made_safe():
    files = [
        item(7, "clip.mov"),
        item(3, "clip.mov"),
        item(9, "README"),
        item(10, "README"),
        item(11, "a/b"),
        item(12, ".."),
        item(13, None),
        "not an entry",
        {"id": "14", "name": "string id"},
    ]
    assert paths(files) == {
        3: "/clip.mov",
        7: "/clip (id 7).mov",
        9: "/README",
        10: "/README (id 10)",
        11: "/a_b",
        12: "/(id 12)",
        13: "/(id 13)",
    }
    assert {e.name for e in rebuild(files) if e.id == 7} == {"clip.mov"}  # ioGates' own name


def test_a_loop_of_parents_is_cut_where_it_closes():
    files = [item(1, "a", 2, "dir"), item(2, "b", 1, "dir"), item(3, "c.txt", 2)]
    found = paths(files)
    assert sorted(found.values()) in (
        ["/a", "/a/b", "/a/b/c.txt"],
        ["/b", "/b/a", "/b/c.txt"],
    )


# -- downloads --------------------------------------------------------------------------


def test_every_file_downloads_byte_for_byte_by_path_and_by_id(sandbox):
    s = login(sandbox)
    for path, item in seeded(sandbox).items():
        if item.content is not None:
            assert s.download(path) == item.content
            assert s.download(item.id) == item.content


def test_part_of_a_file_comes_with_a_range(sandbox):
    s = login(sandbox)
    image = seeded(sandbox)["/Projects/IMG_0752.JPG"].content
    assert s.download("/Projects/IMG_0752.JPG", start=4, end=10) == image[4:10]
    assert s.download(375, start=-2) == image[-2:] == b"\xff\xd9"
    assert s.download(375, start=2000) == image[2000:]
    assert s.download(375, start=10, end=-10) == image[10:-10]
    assert s.download(375, start=10_000) == b""


def test_a_download_whose_bytes_do_not_match_the_listed_md5_fails(sandbox, monkeypatch):
    # Test only: the listing claims a wrong md5 for budget.csv; the bytes still come from the
    # sandbox's real download link, so only the check can notice.
    def wrong_md5(files):
        return [
            dataclasses.replace(e, md5="0" * 32) if e.path == "/Private/budget.csv" else e
            for e in rebuild(files)
        ]

    s = login(sandbox)
    monkeypatch.setattr(explore, "rebuild", wrong_md5)
    with pytest.raises(nbauth.ServiceError, match="do not match the md5") as caught:
        s.download("/Private/budget.csv")
    assert "'/Private/budget.csv'" in str(caught.value)
    assert s.download("/Projects/Rushes/notes.txt")  # the others still check out


def test_open_reads_binary_and_text(sandbox):
    s = login(sandbox)
    with s.open("/Projects/Rushes/notes.txt") as binary:
        assert binary.read() == b"Scene 4, take 2 is the good one.\n"
    with s.open("/Projects/Rushes/notes.txt", "r") as text:
        assert text.readline() == "Scene 4, take 2 is the good one.\n"
    image = seeded(sandbox)["/Projects/IMG_0752.JPG"].content
    with s.open(375, "r", encoding="latin-1", newline="") as text:
        assert text.read() == image.decode("latin-1")


@pytest.mark.parametrize("mode", ["w", "wb", "a", "r+", "x", "rb+"])
def test_write_modes_are_refused(sandbox, mode):
    with pytest.raises(nbauth.UsageError, match="ioGates files are read-only here"):
        login(sandbox).open("/Private/budget.csv", mode)


def test_a_folder_is_no_download(sandbox):
    with pytest.raises(nbauth.UsageError, match="'/Projects' is a folder"):
        login(sandbox).download("/Projects")


# -- errors -----------------------------------------------------------------------------


def test_a_missing_path_or_id_is_not_found_naming_it(sandbox):
    s = login(sandbox)
    for call in (
        lambda: s.ls("/Projects/Nope"),
        lambda: s.download("/Projects/nope.txt"),
        lambda: s.info("/nope"),
    ):
        with pytest.raises(nbauth.NotFound, match=r"no '/(Projects/)?[Nn]ope"):
            call()
    with pytest.raises(FileNotFoundError, match="file id 999999"):
        s.download(999999)
    with pytest.raises(nbauth.NotFound, match="shared folder"):
        share(sandbox).download("/Projects/IMG_0752.JPG")  # paths start inside the share
    with pytest.raises(nbauth.NotFound, match="HTTP 404"):
        share(sandbox).download(381)  # outside the share


@pytest.mark.parametrize("share_check", ["sms", "skip"])
def test_a_share_without_download_permission_is_access_denied(sandbox, share_check):
    s = share(sandbox, "view", share_check=share_check, alias="view")
    assert list(s.ls()["path"]) == ["/IMG_0752.JPG", "/Rushes"]  # listing is allowed
    with pytest.raises(nbauth.AccessDenied, match="does not allow downloading") as caught:
        s.download("/Rushes/notes.txt")
    assert isinstance(caught.value, PermissionError)
    assert s.details["share"]["permissions"]["master"] is False
    with pytest.raises(PermissionError):
        s.open(376)
    assert share(sandbox, "open", share_check=share_check).download(376)


def test_an_sms_share_logged_in_without_its_check_says_to_log_in_to_it_alone(sandbox):
    s = share(sandbox, "sms", share_check="skip", alias="smsy", device_id="files-skip")
    for call in (s.ls, lambda: s.download("/Rushes/notes.txt")):
        with pytest.raises(nbauth.TwoFactorRequired) as caught:
            call()
        assert caught.value.method == "sms" and caught.value.status == 401
        assert "nbauth.login('iogates', share_url=..., alias='smsy')" in str(caught.value)
        assert sandbox.share_urls["sms"] not in str(caught.value)


def test_a_batch_logged_sms_share_says_the_same(sandbox):
    row = {"service": "iogates", "share_url": sandbox.share_urls["sms"], "alias": "io-sms"}
    assert nbauth.login_many([row])["ok"].all()
    with pytest.raises(nbauth.TwoFactorRequired, match="receive the SMS"):
        nbauth.session("io-sms").ls()


def test_a_revoked_token_is_session_expired(sandbox):
    account = login(sandbox, alias="account")
    shared = share(sandbox, alias="shared")
    for s, path in ((account, "/Projects/Rushes/notes.txt"), (shared, "/Rushes/notes.txt")):
        sandbox.revoke("iogates", s.token.reveal())
        calls = (s.ls, s.download, s.info, s.open)
        for call in calls:
            with pytest.raises(nbauth.SessionExpired, match=f"%login iogates --as {s.alias}"):
                call(path)
        with pytest.raises(nbauth.SessionExpired, match="HTTP 401"):
            s.download(376)


def test_a_refusal_quotes_the_server_and_a_404_names_the_path(sandbox):
    s = login(sandbox)
    sandbox.knobs["iogates"].update({"fail_status": 403, "fail_body": "Files are locked"})
    with pytest.raises(nbauth.AccessDenied, match=r'HTTP 403.*"Files are locked"'):
        s.ls("/Projects")
    sandbox.knobs["iogates"].update({"fail_status": 404, "fail_body": None})
    with pytest.raises(nbauth.NotFound, match="listing of '/Projects' failed"):
        s.ls("/Projects")


def with_link(monkeypatch, path, link):
    """Test only: the listing gives ``path`` the download link ``link``."""

    def relinked(files):
        return [
            dataclasses.replace(e, download=Secret(link)) if e.path == path else e
            for e in rebuild(files)
        ]

    monkeypatch.setattr(explore, "rebuild", relinked)


def test_no_credential_shows_in_any_error(sandbox, monkeypatch):
    account = login(sandbox, alias="account")
    view = share(sandbox, "view", alias="view", share_check="skip")
    sms = share(sandbox, "sms", alias="smsy", share_check="skip", device_id="files-leak")
    secrets = credentials(sandbox, account, view)
    link = download_links(account)[0]
    errors = []

    def caught(call):
        with pytest.raises(nbauth.NbAuthError) as failure:
            call()
        errors.append(failure.value)

    caught(lambda: view.download("/IMG_0752.JPG"))
    caught(sms.ls)
    caught(lambda: account.download("/nope"))
    prefix, key = link.rsplit("/", 1)
    with_link(monkeypatch, "/Private/budget.csv", f"{prefix}/{key[::-1]}")  # a wrong key
    caught(lambda: account.download("/Private/budget.csv"))
    assert isinstance(errors[-1], nbauth.NotFound) and "link is gone" in str(errors[-1])
    closed = sandbox.closed_url + link.split(sandbox.urls["iogates"])[1]
    with_link(monkeypatch, "/Private/budget.csv", closed)
    caught(lambda: account.download("/Private/budget.csv"))
    assert isinstance(errors[-1], nbauth.ConnectionFailed)
    with_link(monkeypatch, "/Private/budget.csv", "http://files.example.com/dl/" + key)
    caught(lambda: account.download("/Private/budget.csv"))
    assert isinstance(errors[-1], nbauth.UsageError) and "files.example.com" in str(errors[-1])
    monkeypatch.undo()
    sandbox.revoke("iogates", account.token.reveal())
    caught(account.ls)

    for error in errors:
        text = f"{error} {error!r} {error.args}"
        assert not [secret for secret in secrets if secret in text], text


def test_the_download_link_is_masked_in_the_http_log(sandbox, caplog):
    s = login(sandbox)
    link = next(u for u in download_links(s) if "/381/" in u)
    caplog.set_level(logging.DEBUG)
    assert s.download("/Private/budget.csv")
    logged = [r.getMessage() for r in caplog.records if r.name.startswith(("httpx", "httpcore"))]
    assert any("HTTP Request: GET" in text and "/api/files" in text for text in logged)
    assert any("********" + link[-4:] in text for text in logged)
    assert not [text for text in logged if link.rsplit("/", 1)[1] in text]
    assert not [text for text in logged if s.token.reveal() in text]


# -- download links that redirect ---------------------------------------------------------

#: What any HTTP client sends; a redirect's target may get these and the Range, nothing else.
PLAIN_HEADERS = {"host", "accept", "accept-encoding", "connection", "user-agent"}
NOTES = b"Scene 4, take 2 is the good one.\n"


def test_a_download_follows_the_link_to_another_host_without_any_credential(sandbox, monkeypatch):
    """The sandbox's links answer 302 to the file under another host name (127.0.0.1 ->
    localhost). nbauth follows it itself, and the request there carries no token, no
    Authorization, no cookie: only what any client sends."""
    s = login(sandbox)
    calls = record_calls(monkeypatch)
    assert s.download("/Projects/Rushes/notes.txt") == NOTES
    hops = [c for c in calls if "/api/" not in c.url]
    assert [httpx.URL(c.url).host for c in hops] == ["127.0.0.1", "localhost"]
    assert [dict(c.headers) for c in hops] == [{}, {}]
    arrived = sandbox.iogates_delivered
    assert len(arrived) == 1 and set(arrived[0]) <= PLAIN_HEADERS
    assert not [v for v in arrived[0].values() if s.token.reveal() in v]
    assert not _http._client(True).follow_redirects  # followed by the flow, not by httpx


def test_a_range_keeps_its_header_across_the_redirect(sandbox):
    s = login(sandbox)
    image = seeded(sandbox)["/Projects/IMG_0752.JPG"].content
    assert s.download(375, start=4, end=10) == image[4:10]
    assert s.download(375, start=-2) == image[-2:]
    ranges = [headers.get("range") for headers in sandbox.iogates_delivered]
    assert ranges == ["bytes=4-9", "bytes=-2"]
    assert set(sandbox.iogates_delivered[0]) <= PLAIN_HEADERS | {"range"}


@pytest.mark.parametrize("accepts", ["bearer", "token", "both"])
def test_downloads_work_whatever_header_form_the_server_reads(sandbox, accepts):
    sandbox.knobs["iogates"].update({"iogates_token_header": accepts})
    s = login(sandbox)
    assert s.download("/Projects/Rushes/notes.txt") == NOTES
    assert share(sandbox, "open", alias="shared").download("/Rushes/notes.txt") == NOTES
    assert not [h for h in sandbox.iogates_delivered if {"authorization", "token"} & set(h)]


class Redirector(http.server.BaseHTTPRequestHandler):
    """A download host of its own: /loop/N redirects to /loop/N+1 forever, /ftp to an ftp URL,
    /far to plain http on another machine, /relative to /notes (a relative Location), which
    sends the notes. Every request's headers are kept in ``seen``."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        type(self).seen.append(dict((k.lower(), v) for k, v in self.headers.items()))
        targets = {
            "/ftp": "ftp://127.0.0.1/notes",
            "/far": "http://files.example.com/dl/" + "k" * 32,
            "/relative": "/notes",
        }
        if self.path.startswith("/loop/"):
            target = f"/loop/{int(self.path.rsplit('/', 1)[1]) + 1}"
        else:
            target = targets.get(self.path, "")
        if target:
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(NOTES)))
        self.end_headers()
        self.wfile.write(NOTES)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def redirector():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def seen(redirector):
    Redirector.seen.clear()
    return Redirector.seen


def test_a_relative_redirect_is_followed(sandbox, monkeypatch, redirector, seen):
    s = login(sandbox)
    with_link(monkeypatch, "/Projects/Rushes/notes.txt", f"{redirector}/relative")
    assert s.download("/Projects/Rushes/notes.txt") == NOTES
    assert len(seen) == 2 and all(set(h) <= PLAIN_HEADERS for h in seen)


def test_at_most_five_redirects_are_followed(sandbox, monkeypatch, redirector, seen):
    s = login(sandbox)
    with_link(monkeypatch, "/Projects/Rushes/notes.txt", f"{redirector}/loop/0")
    with pytest.raises(nbauth.ServiceError, match="redirected more than 5 times") as caught:
        s.download("/Projects/Rushes/notes.txt")
    assert caught.value.status == 302 and len(seen) == 6  # the link and 5 redirects


@pytest.mark.parametrize(
    ("path", "error", "says"),
    [
        ("/ftp", nbauth.ServiceError, "does not follow"),
        ("/far", nbauth.UsageError, "http://files.example.com is plain HTTP"),
    ],
)
def test_a_redirect_to_a_place_nbauth_does_not_follow_is_refused_before_it_is_sent(
    sandbox, monkeypatch, redirector, seen, path, error, says
):
    s = login(sandbox)
    with_link(monkeypatch, "/Projects/Rushes/notes.txt", redirector + path)
    with pytest.raises(error, match=says) as caught:
        s.download("/Projects/Rushes/notes.txt")
    assert len(seen) == 1  # the link itself; nothing was sent to the redirect's target
    assert "k" * 32 not in str(caught.value)


def test_a_redirect_from_https_down_to_plain_http_on_another_machine_is_refused(sandbox):
    s = login(sandbox, allow_insecure=True)
    link = Secret("https://files.example.com/download-file/1/" + "k" * 32)
    with pytest.raises(nbauth.ServiceError, match="does not follow"):
        s._redirect_target(link, "http://cdn.example.com/x", 302, "download of 'x'")
    loopback = s._redirect_target(link, "http://127.0.0.1:9/x", 302, "download of 'x'")
    assert loopback.reveal() == "http://127.0.0.1:9/x"
    onward = s._redirect_target(link, "https://cdn.example.com/x", 302, "download of 'x'")
    assert onward.reveal() == "https://cdn.example.com/x"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """An HTTPS sandbox whose certificate names both 127.0.0.1 and localhost."""
    folder = tmp_path_factory.mktemp("iogates-tls")
    ca = trustme.CA()
    server = folder / "server.pem"
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(server)
    bundle = folder / "ca.pem"
    ca.cert_pem.write_to_path(bundle)
    with running(tls=(str(server), str(server))) as sb:
        yield sb, str(bundle)


def test_over_https_the_redirect_is_followed_over_https(tls, monkeypatch):
    sb, bundle = tls
    s = login(sb, verify=bundle)
    calls = record_calls(monkeypatch)
    assert s.download("/Projects/Rushes/notes.txt") == NOTES
    hops = [c.url for c in calls if "/api/" not in c.url]
    assert [str(httpx.URL(u).copy_with(path="/")) for u in hops] == [
        sb.urls["iogates"] + "/",
        sb.urls["iogates"].replace("127.0.0.1", "localhost") + "/",
    ]
    assert sb.iogates_delivered and set(sb.iogates_delivered[0]) <= PLAIN_HEADERS


# -- iogates:// ---------------------------------------------------------------------------


def test_read_csv_through_iogates_paths_with_the_current_session_and_an_alias(sandbox):
    login(sandbox, alias="mine")
    assert pd.read_csv("iogates:///Private/budget.csv").to_dict("records") == [
        {"item": "camera", "cost": 1200}
    ]
    share(sandbox, alias="shared")  # now the current session, which cannot see /Private
    with pytest.raises(FileNotFoundError):
        pd.read_csv("iogates:///Private/budget.csv")
    assert list(pd.read_csv("iogates://mine@/Private/budget.csv")["cost"]) == [1200]
    with fsspec.open("iogates://shared@/Rushes/notes.txt", "rt") as text:
        assert text.read() == "Scene 4, take 2 is the good one.\n"


def test_fsspec_ls_info_and_cat_file(sandbox):
    login(sandbox)
    fs = fsspec.filesystem("iogates")
    assert fs.ls("/Projects", detail=False) == ["/Projects/IMG_0752.JPG", "/Projects/Rushes"]
    assert fs.ls("iogates:///Projects/Rushes")[0]["name"] == "/Projects/Rushes/interview.wav"
    assert fs.info("iogates:///Private/budget.csv")["size"] == len(b"item,cost\ncamera,1200\n")
    assert fs.isdir("/Private/Archive") and fs.ls("/Private/Archive") == []
    assert not fs.exists("/Private/nope.csv")
    assert fs.cat_file("/Private/budget.csv") == b"item,cost\ncamera,1200\n"
    assert fs.cat_file("/Private/budget.csv", start=5, end=9) == b"cost"
    assert fs.cat("/Projects/Rushes/notes.txt") == b"Scene 4, take 2 is the good one.\n"


def test_iogates_paths_are_read_only(sandbox):
    login(sandbox)
    with pytest.raises(nbauth.UsageError, match="read-only"):
        pd.DataFrame({"a": [1]}).to_csv("iogates:///Private/new.csv")
    with pytest.raises(nbauth.UsageError, match="read-only"):
        fsspec.open("iogates:///Private/budget.csv", "wb").open()


def test_without_a_session_iogates_paths_say_how_to_log_in():
    with pytest.raises(nbauth.NotLoggedIn, match="%login iogates"):
        pd.read_csv("iogates:///Private/budget.csv")
    with pytest.raises(nbauth.NotLoggedIn, match="%login iogates"):
        fsspec.filesystem("iogates").ls("/")
