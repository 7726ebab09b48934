"""The transport keeps httpx's parse of the URLs a kernel logs in to again and again
(``nbauth._http._parsed``), and only of URLs free of secrets as far as the call tells
(``_public``): a token in a path (ioGates sends it in a header too), a download link's key
(``url_secrets``) or a body's secret repeated in the URL keeps the URL out of the cache."""

from __future__ import annotations

import httpx

from nbauth import _http
from nbauth._calls import Call
from nbauth.secret import Secret

BASE = "https://chat.example.com"
PASSWORD = Secret("a-password-of-some-length")
TOKEN = Secret("a-token-of-some-length-0123")


def test_a_password_login_call_is_public_and_its_parse_is_kept():
    call = Call("POST", f"{BASE}/api/v1/login", json={"user": "alice", "password": PASSWORD})
    assert _http._public(call)
    _http._parsed.cache_clear()
    with httpx.Client() as client:
        first = _http._request(client, call, 5.0)
        second = _http._request(client, call, 5.0)
    assert first.url == second.url == httpx.URL(call.url)
    assert _http._parsed.cache_info().hits == 1  # the second request reused the first's parse
    assert b"a-password-of-some-length" in second.read()  # the body still carries the secret


def test_a_call_that_carries_a_secret_in_a_header_is_not_public():
    path_token = f"{BASE}/api/authinfo/{TOKEN.reveal()}"
    assert not _http._public(Call("GET", path_token, {"Authorization": TOKEN}))
    assert not _http._public(Call("GET", f"{BASE}/api/v1/me", {"X-Auth-Token": TOKEN}))


def test_a_link_with_a_key_of_its_own_is_not_public():
    key = Secret("k" * 32)
    assert not _http._public(Call("GET", f"{BASE}/dl/{key.reveal()}", url_secrets=(key,)))


def test_a_body_secret_repeated_in_the_url_is_not_public():
    url = f"{BASE}/login?pw={PASSWORD.reveal()}"
    assert not _http._public(Call("POST", url, data={"password": PASSWORD}))
    assert not _http._public(Call("POST", url, json={"password": PASSWORD}))


def test_a_url_kept_out_of_the_cache_is_sent_as_given():
    _http._parsed.cache_clear()
    call = Call("GET", f"{BASE}/api/v1/me", {"X-Auth-Token": TOKEN})
    with httpx.Client() as client:
        request = _http._request(client, call, 5.0)
    assert request.url == httpx.URL(call.url)
    assert _http._parsed.cache_info().currsize == 0
