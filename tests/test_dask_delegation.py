"""Delegation without a cluster: what a Delegation is, how it pickles (the one deliberate
exception to a Secret's refusal), its time limit, its Dask token, and what the filesystems do
with it and without it in another process. The real cluster is tests/test_dask.py."""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

import fsspec
import pandas as pd
import pytest
from helpers import login_as, record_calls

import nbauth
from nbauth._calls import Call
from nbauth.delegation import Delegation, NotDelegated
from nbauth.fs import LISTINGS_TTL
from nbauth.secret import Secret

ROOT = Path(__file__).resolve().parents[1]
couchdrop = login_as("couchdrop")
iogates = login_as("iogates")


def q3(sandbox) -> bytes:
    return sandbox.seed.couchdrop_files["alice"]["/reports/q3.csv"]


# -- the object ------------------------------------------------------------------------------


def test_a_delegation_names_its_session_and_masks_the_token(sandbox):
    s = couchdrop(sandbox, alias="work")
    d = nbauth.delegate("work", expires=600)
    assert isinstance(d, Delegation) and d == d and d != s.delegate()
    assert (d.service, d.alias, d.url, d.username) == ("couchdrop", "work", s.url, "alice")
    assert d.token == s.token and isinstance(d.token, Secret)
    shown = [repr(d), str(d), repr(d.token), f"{d.token}", repr([d]), repr({"session": d})]
    assert not any(s.token.reveal() in text for text in shown)
    assert s.token.masked in repr(d) and "expires 20" in repr(d)
    assert d.expires_at is not None and abs(d.expires_at.timestamp() - time.time() - 600) < 5
    assert nbauth.delegate(service="couchdrop").alias == "work"
    assert s.delegate().expires_at is None  # as long as the token


@pytest.mark.parametrize("expires", [0, -1, float("nan"), float("inf"), "3600", True])
def test_expires_is_a_positive_number_of_seconds(sandbox, expires):
    s = couchdrop(sandbox)
    with pytest.raises(nbauth.UsageError, match="expires="):
        s.delegate(expires=expires)


def test_no_session_to_delegate_says_how_to_log_in():
    with pytest.raises(nbauth.NotLoggedIn, match="Log in"):
        nbauth.delegate()
    with pytest.raises(nbauth.NotLoggedIn, match="%login couchdrop"):
        nbauth.delegate(service="couchdrop")


def test_the_token_pickles_inside_the_delegation_and_nowhere_else(sandbox):
    """A Secret still refuses pickling, alone or in any container; the Delegation, made on
    purpose, pickles with the token's value, and comes back whole and masked."""
    s = couchdrop(sandbox)
    d = s.delegate(expires=600)
    raw = s.token.reveal().encode()
    for alone in (d.token, {"token": d.token}, [d.token], s):
        with pytest.raises(TypeError, match="refuses to pickle"):
            pickle.dumps(alone)
    data = pickle.dumps(d)
    assert raw in data  # the deliberate exception: what SECURITY.md says travels
    back = pickle.loads(data)
    assert isinstance(back, Delegation) and back == d and back.token == d.token
    assert back.deadline == d.deadline and back.details == {"fileio_url": s.details["fileio_url"]}
    assert raw.decode() not in repr(back)
    with pytest.raises(TypeError, match="refuses to pickle"):
        pickle.dumps(back.token)
    import cloudpickle  # what Dask's comms use for what pickle cannot

    assert cloudpickle.loads(cloudpickle.dumps(d)) == d


def test_the_delegated_session_reads_without_being_stored(sandbox, monkeypatch):
    s = couchdrop(sandbox)
    d = pickle.loads(pickle.dumps(s.delegate(expires=600)))
    sent = record_calls(monkeypatch)
    delegated = d.session()
    assert sent == [] and delegated is d.session()  # made once, with no request
    assert delegated.download("/reports/q3.csv") == q3(sandbox)
    assert nbauth.sessions()["alias"].tolist() == [s.alias]  # not stored in this process
    assert type(delegated).__name__ == "DelegatedCouchdropSession" and delegated.token == s.token


def test_a_delegated_session_cannot_log_out_hand_out_clients_or_delegate_again(sandbox):
    delegated = couchdrop(sandbox).delegate(expires=600).session()
    for call in (delegated.logout, delegated.client, delegated.aclient, delegated.delegate):
        with pytest.raises(nbauth.UsageError, match="delegated session"):
            call()


def test_an_expired_delegation_refuses_every_request_with_session_expired(sandbox, monkeypatch):
    s = couchdrop(sandbox)
    d = s.delegate(expires=0.3)
    delegated = d.session()
    time.sleep(0.4)
    sent = record_calls(monkeypatch)
    with pytest.raises(nbauth.SessionExpired) as caught:
        delegated.download("/reports/q3.csv")
    assert sent == []  # refused before the request
    message = caught.value.message
    assert "'couchdrop'" in message and "expired at" in message
    assert "nbauth.delegate('couchdrop', expires=3600)" in message
    assert s.token.reveal() not in message
    with pytest.raises(nbauth.SessionExpired):
        d.session()
    s.download("/reports/q3.csv")  # the kernel's own session is not limited


def test_the_time_is_checked_before_each_request_of_a_call(sandbox):
    """A call of several requests stops at the first request after the deadline."""
    d = couchdrop(sandbox).delegate(expires=0.3)

    def flow():
        yield Call("GET", "http://127.0.0.1:9/one")
        time.sleep(0.4)
        yield Call("GET", "http://127.0.0.1:9/two")

    guarded = d.guard(flow())
    assert next(guarded).url.endswith("/one")
    with pytest.raises(nbauth.SessionExpired):
        guarded.send(None)


# -- Dask's tokens ---------------------------------------------------------------------------


def test_the_same_session_gives_the_same_dask_token_in_any_thread(sandbox):
    from dask.base import normalize_token, tokenize

    s = couchdrop(sandbox)
    one, two = s.delegate(expires=60), s.delegate()
    assert tokenize(one) == tokenize(two) == tokenize(pickle.loads(pickle.dumps(one)))
    assert s.token.reveal() not in repr(normalize_token({"session": one}))
    fs = fsspec.filesystem("couchdrop", session=one)
    tokens = []
    thread = threading.Thread(
        target=lambda: tokens.append(tokenize(fsspec.filesystem("couchdrop", session=two)))
    )
    thread.start()
    thread.join()
    kernel = fsspec.filesystem("couchdrop")  # the kernel's session, no delegation
    assert tokens == [tokenize(fs)] == [tokenize(kernel)]
    assert fs._fs_token == pickle.loads(pickle.dumps(fs))._fs_token
    other = couchdrop(sandbox, "dave", alias="dave")
    assert tokenize(fsspec.filesystem("couchdrop", session=other.delegate())) != tokenize(fs)
    again = couchdrop(sandbox)  # a new login: a new session
    assert tokenize(again.delegate()) != tokenize(one)


def test_an_open_file_tokenizes_by_its_session_and_still_pickles_its_delegation(sandbox):
    """Dask names an fsspec OpenFile by pickling it; that pickle (hashed, never sent) holds the
    session's name, while a real pickle of the same OpenFile carries the delegation."""
    from dask.base import tokenize

    s = couchdrop(sandbox)
    first, second = (
        fsspec.open_files("couchdrop:///reports/q3.csv", session=d)[0]
        for d in (s.delegate(expires=60), s.delegate())
    )
    assert tokenize(first) == tokenize(second)
    data = pickle.dumps(first)
    assert s.token.reveal().encode() in data
    assert pickle.loads(data).fs.delegation == first.fs.delegation


# -- the filesystems with and without one ----------------------------------------------------


def test_a_filesystem_takes_only_a_delegation_of_its_own_service_and_alias(sandbox):
    s = couchdrop(sandbox, alias="work")
    with pytest.raises(nbauth.UsageError, match="not a Session: a Session stays in the kernel"):
        fsspec.filesystem("couchdrop", session=s)
    with pytest.raises(nbauth.UsageError, match="not str"):
        fsspec.filesystem("couchdrop", session="work")
    with pytest.raises(nbauth.UsageError, match="reads with a iogates session"):
        fsspec.filesystem("iogates", session=s.delegate())
    with pytest.raises(nbauth.UsageError, match="names the session 'other'"):
        fsspec.core.url_to_fs("couchdrop://other@/reports", session=s.delegate())
    fs, path = fsspec.core.url_to_fs("couchdrop://work@/reports/q3.csv", session=s.delegate())
    assert fs.cat_file(path) == q3(sandbox)


def test_a_delegated_filesystem_reads_with_the_delegation_after_logout(sandbox):
    s = couchdrop(sandbox)
    d = s.delegate(expires=600)
    nbauth.logout()  # forgets the session in the kernel: the delegation is a copy
    table = pd.read_csv("couchdrop:///reports/q3.csv", storage_options={"session": d})
    assert table.equals(pd.read_csv(io.BytesIO(q3(sandbox))))


def unpickled_elsewhere(data: bytes, code: str) -> str:
    """What ``code`` prints in a new Python process that has unpickled ``data`` as ``fs``."""
    script = (
        "import pickle, sys\n"
        "fs = pickle.loads(sys.stdin.buffer.read())\n"
        "try:\n"
        f"    {code}\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, '|', exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], input=data, capture_output=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def test_a_filesystem_in_another_process_without_a_delegation_says_how_to_delegate(sandbox):
    couchdrop(sandbox)
    fs = fsspec.filesystem("couchdrop")
    assert fs.ls("/reports", detail=False)  # in the kernel it reads with the kernel's session
    shown = unpickled_elsewhere(pickle.dumps(fs), "print(fs.ls('/reports'))")
    kind, _, message = shown.partition(" | ")
    assert kind == "NotDelegated" and issubclass(NotDelegated, nbauth.NotLoggedIn)
    assert "nbauth.delegate('couchdrop', expires=3600)" in message
    assert "storage_options={'session':" in message and "SECURITY.md" in message


def test_a_filesystem_in_another_process_with_a_delegation_reads(sandbox):
    s = iogates(sandbox)
    fs = fsspec.filesystem("iogates", session=s.delegate(expires=600))
    shown = unpickled_elsewhere(pickle.dumps(fs), "print(fs.cat_file('/Private/budget.csv'))")
    assert shown.strip() == repr(b"item,cost\ncamera,1200\n")


# -- what Dask reads ---------------------------------------------------------------------------


def test_info_after_a_glob_costs_no_request_until_the_listing_expires(sandbox, monkeypatch):
    couchdrop(sandbox)
    fs = fsspec.filesystem("couchdrop", listings_expiry_time=0.5)
    found = fs.glob("/reports/*.csv")
    sent = record_calls(monkeypatch)
    infos = [fs.info(path) for path in found] + [fs.info("couchdrop:///reports/q4.csv")]
    assert sent == [] and [i["size"] for i in infos[:2]] == [
        len(q3(sandbox)),
        len(sandbox.seed.couchdrop_files["alice"]["/reports/q4.csv"]),
    ]
    time.sleep(0.6)
    fs.info("/reports/q3.csv")
    assert [call.url.rsplit("/", 1)[1] for call in sent] == ["lstat"]
    assert fsspec.filesystem("couchdrop").dircache.listings_expiry_time == LISTINGS_TTL


def test_a_write_forgets_the_listing_and_a_new_login_clears_them(sandbox):
    couchdrop(sandbox, "dave")
    fs = fsspec.filesystem("couchdrop", auto_mkdir=True)
    folder = f"/delegation-{time.time_ns()}"
    fs.pipe_file(f"{folder}/a.csv", b"a\n1\n")
    assert fs.ls(folder, detail=False) == [f"{folder}/a.csv"]
    fs.pipe_file(f"{folder}/b.csv", b"b\n2\n")
    with fs.open(f"{folder}/c.csv", "wb") as f:
        f.write(b"c\n3\n")
    assert fs.ls(folder, detail=False) == [f"{folder}/a.csv", f"{folder}/b.csv", f"{folder}/c.csv"]
    couchdrop(sandbox)  # alice now: dave's folder is not hers, nor its kept listing
    with pytest.raises(FileNotFoundError):
        fs.ls(folder)


def test_iogates_reads_one_listing_for_a_whole_tree(sandbox, monkeypatch):
    iogates(sandbox)
    fs = fsspec.filesystem("iogates")
    sent = record_calls(monkeypatch)
    found = fs.find("/", withdirs=True)
    assert "/Projects/Rushes/notes.txt" in found and "/Private/Archive" in found
    assert [fs.info(path)["type"] for path in ("/Projects", "/Private/budget.csv")] == [
        "directory",
        "file",
    ]
    assert fs.glob("/**/*.txt") == ["/Projects/Rushes/notes.txt"]
    assert [call.url.rsplit("/api/", 1)[1] for call in sent] == ["files"]


def test_a_couchdrop_file_downloads_at_its_first_read_and_refuses_a_part(sandbox, monkeypatch):
    couchdrop(sandbox)
    fs = fsspec.filesystem("couchdrop")
    data = q3(sandbox)
    sent = record_calls(monkeypatch)
    with fs.open("/reports/q3.csv") as f:
        assert sent == []  # nothing yet
        assert f.read(6) == data[:6] and f.seek(-4, 2) == len(data) - 4 and f.read() == data[-4:]
    assert [call.url.rsplit("/", 1)[1] for call in sent] == ["download"]
    with fs.open("/reports/q3.csv") as f:  # how Dask checks that a block reaches the end
        f.seek(len(data))
        assert f.read(100) == b"" and f.seek(0) == 0 and f.read() == data
    with fs.open("/reports/q3.csv") as f, pytest.raises(nbauth.UsageError) as caught:
        f.seek(10)
        f.read(5)
    assert "blocksize=None" in caught.value.message and "byte 10 of" in caught.value.message
    assert fs.cat_file("/reports/q3.csv", start=2, end=5) == data[2:5]


def test_an_iogates_file_reads_its_parts_with_ranges(sandbox, monkeypatch):
    iogates(sandbox)
    fs = fsspec.filesystem("iogates")
    data = next(f.content for f in sandbox.seed.iogates_files if f.name == "IMG_0752.JPG")
    sandbox.knobs["iogates"].iogates_download_redirect = True  # the link's host records
    with fs.open("/Projects/IMG_0752.JPG", block_size=512, cache_type="none") as f:
        f.seek(1000)
        assert f.read(100) == data[1000:1100]
        f.seek(0)
        assert f.read() == data
    ranges = [headers.get("range") for headers in sandbox.iogates_delivered]
    assert ranges == ["bytes=1000-1099", f"bytes=0-{len(data) - 1}"]
    assert isinstance(f, fsspec.spec.AbstractBufferedFile)


def test_an_iogates_part_that_is_the_whole_file_is_checked_against_its_md5(sandbox, monkeypatch):
    from nbauth.explore import iogates as explore

    iogates(sandbox)
    rebuild = explore.rebuild

    def wrong_md5(files):
        return [
            explore.Entry(**{**entry.__dict__, "md5": "0" * 32}) if entry.md5 else entry
            for entry in rebuild(files)
        ]

    monkeypatch.setattr(explore, "rebuild", wrong_md5)
    with (
        fsspec.filesystem("iogates").open("/Private/budget.csv") as f,
        pytest.raises(nbauth.ServiceError, match="md5"),
    ):
        f.read()


# -- the package ---------------------------------------------------------------------------------


def test_import_nbauth_and_delegate_import_no_dask_distributed_or_fsspec():
    code = (
        "import sys, nbauth\n"
        "nbauth.delegate\n"
        "import nbauth.delegation, nbauth._session\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed', "
        "'fsspec', 'cloudpickle'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.strip() == "[]", done.stderr
