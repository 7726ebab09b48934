"""A Secret shows a mask wherever a notebook could display it."""

import copy
import pickle

import pytest

from nbauth import Secret

RAW = "s3cr3t-token-value-0123456789abcdef"


def test_repr_str_format_and_html_never_show_the_value():
    secret = Secret(RAW)
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret:>50}", secret._repr_html_()):
        assert RAW not in shown
        assert "********" in shown


def test_long_tokens_show_only_their_last_four_characters():
    assert Secret(RAW).masked == "********cdef"
    assert Secret("short").masked == "********"


def test_reveal_gives_the_raw_value():
    assert Secret(RAW).reveal() == RAW
    assert Secret(Secret(RAW)).reveal() == RAW


def test_pickling_is_refused():
    with pytest.raises(TypeError, match="refuses to pickle"):
        pickle.dumps(Secret(RAW))


def test_copies_compare_equal_without_revealing():
    secret = Secret(RAW)
    assert copy.deepcopy(secret) == secret
    assert Secret(RAW) == Secret(RAW)
    assert Secret(RAW) != Secret(RAW + "x")
    assert Secret(RAW) != RAW


def test_a_secret_must_be_a_string():
    with pytest.raises(TypeError):
        Secret(1234)  # type: ignore[arg-type]


def test_a_password_shows_nothing_of_itself_however_long():
    password = "correct horse battery staple 1234"
    secret = Secret(password, "password")
    assert secret.masked == "********"
    for shown in (repr(secret), str(secret), f"{secret}", secret._repr_html_()):
        assert password[-4:] not in shown
    assert Secret(secret).kind == "password"  # a copy keeps its kind
    assert Secret(secret, "token").kind == "token"
    assert Secret(RAW).kind == "token"  # a token unless told


def test_a_secret_kind_is_a_token_or_a_password():
    with pytest.raises(ValueError, match="token' or 'password"):
        Secret(RAW, "pin")  # type: ignore[arg-type]


def test_a_password_given_to_login_is_held_as_a_password_and_a_token_as_a_token():
    from nbauth.request import LoginRequest

    def held(**given):
        return LoginRequest.from_arguments("couchdrop", username="a", **given).checked().creds

    assert held(password=RAW).password.kind == "password"
    assert held(password=RAW, code="123456").code.kind == "password"
    assert held(token=RAW).token.kind == "token"
    assert held(password=Secret(RAW)).password.masked == "********"
