"""The machinery behind the flow tables (tests/unit/test_flows_*.py).

Each table row is one behaviour from docs/assumptions.md: the flow to run, the server's
answers in order, the calls the flow must make (exact method, URL, headers, body, query,
upload parts, bounds), and either what it returns or the error it raises. A row runs with
``nbauth.testing.drive``, the way httpx's own tests/test_auth.py drives an ``Auth.auth_flow``
with responses made by hand: no sandbox and no network, microseconds per row.

Secrets are compared as what they are: ``secret("pw", "password")`` matches a ``Secret``
holding "pw" of that kind, and nothing else (the plain string "pw" does not match), so a row
also says that a password, token or link travels wrapped, masked wherever it shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from nbauth import testing
from nbauth._calls import Call
from nbauth.errors import NbAuthError
from nbauth.secret import Secret
from nbauth.services.base import Granted, Service

# -- what is compared ----------------------------------------------------------------------


class Sent:
    """A Secret as a row expects it: its value and its kind (None: either kind)."""

    def __init__(self, value: str, kind: str | None) -> None:
        self.value, self.kind = value, kind

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sent):
            return NotImplemented
        kinds = {self.kind, other.kind} - {None}
        return self.value == other.value and len(kinds) <= 1

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"secret({self.value!r}, {self.kind!r})"


def secret(value: str, kind: str | None = "token") -> Sent:
    """A Secret holding ``value``, of ``kind`` ("token", "password", or None: either)."""
    return Sent(value, kind)


def plain(value: Any) -> Any:
    """``value`` with every Secret in it turned into a ``Sent``, so rows compare with ``==``."""
    if isinstance(value, Secret):
        return Sent(value.reveal(), value.kind)
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(item) for item in value)
    return value


def call(
    method: str,
    url: str,
    *,
    headers: Mapping[str, Any] | None = None,
    json: Any = None,
    data: Mapping[str, Any] | None = None,
    params: Mapping[str, str] | None = None,
    files: Mapping[str, tuple[str, bytes, str]] | None = None,
    url_secrets: tuple[Sent, ...] = (),
    max_bytes: int | None = None,
) -> dict[str, Any]:
    """One call a row expects, every part of it: what is not given must not be sent."""
    return {
        "method": method,
        "url": url,
        "headers": dict(headers or {}),
        "json": json,
        "data": None if data is None else dict(data),
        "params": None if params is None else dict(params),
        "files": None if files is None else dict(files),
        "url_secrets": tuple(url_secrets),
        "max_bytes": max_bytes,
    }


def shape(made: Call) -> dict[str, Any]:
    """A call the flow made, in the form ``call`` gives."""
    return {
        "method": made.method,
        "url": made.url,
        "headers": plain(dict(made.headers)),
        "json": plain(made.json),
        "data": None if made.data is None else plain(dict(made.data)),
        "params": None if made.params is None else dict(made.params),
        "files": None if made.files is None else dict(made.files),
        "url_secrets": plain(tuple(made.url_secrets)),
        "max_bytes": made.max_bytes,
    }


class Has:
    """A text holding each of ``words`` (a message, a note)."""

    def __init__(self, *words: str) -> None:
        self.words = words

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and all(word in other for word in self.words)

    def __hash__(self) -> int:
        return hash(self.words)

    def __repr__(self) -> str:
        return f"Has{self.words!r}"


class Near:
    """A number within ``within`` of ``value``, or a UTC datetime within ``within`` seconds of
    ``value`` (a timedelta from the moment the row runs)."""

    def __init__(self, value: float | timedelta, within: float = 5.0) -> None:
        self.value, self.within = value, within

    def __eq__(self, other: object) -> bool:
        if isinstance(self.value, timedelta):
            if not isinstance(other, datetime) or other.tzinfo is None:
                return False
            expected = datetime.now(timezone.utc) + self.value
            return abs((other - expected).total_seconds()) <= self.within
        if isinstance(other, bool) or not isinstance(other, (int, float)):
            return False
        return math.isfinite(other) and abs(other - self.value) <= self.within

    def __hash__(self) -> int:
        return hash((self.value, self.within))

    def __repr__(self) -> str:
        return f"Near({self.value!r}, within={self.within})"


@dataclass(frozen=True)
class Err:
    """The error a row expects: its class (exactly), the HTTP status it names (None: none), the
    words its message must hold, and any attributes (``method``, ``retry_after``...)."""

    cls: type[NbAuthError]
    status: int | None
    words: tuple[str, ...] = ()
    attrs: Mapping[str, Any] = field(default_factory=dict)
    #: Whether the message names its status ("HTTP 401"), as every error of an answer does.
    names_status: bool = True


def err(
    cls: type[NbAuthError],
    status: int | None,
    *words: str,
    names_status: bool = True,
    **attrs: Any,
) -> Err:
    return Err(cls, status, words, attrs, names_status)


# -- rows ------------------------------------------------------------------------------------

#: ``returns`` of a row that checks the result's attributes only (``fields``).
ANY = object()


@dataclass
class Row:
    """One behaviour: the flow, the answers, the calls, and the result or the error."""

    id: str
    flow: Callable[[], Any]
    #: The answers in order, or a function that makes them when the row runs (an answer
    #: that names an instant: X-RateLimit-Reset).
    answers: Sequence[testing.Answer] | Callable[[], Sequence[testing.Answer]]
    calls: Sequence[dict[str, Any]]
    #: The error the flow must raise.
    error: Err | None = None
    #: Attributes the result must have (a Granted's ``kind``, a Storage's ``note``...).
    fields: Mapping[str, Any] | None = None
    #: The result itself (a profile dict, bytes, None).
    returns: Any = ANY
    #: pytest marks (an xfail for a flow that gets the row wrong).
    marks: Sequence[Any] = ()


def params(rows: Iterable[Row]) -> list[Any]:
    """The rows as pytest parameters, each with its id; ids must be unique."""
    rows = list(rows)
    for row in rows:  # a row checks a result or an error, unless it makes no call at all
        assert row.error or row.fields is not None or row.returns is not ANY or not row.calls
    ids = [row.id for row in rows]
    repeated = {i for i in ids if ids.count(i) > 1}
    assert not repeated, f"two rows share an id: {sorted(repeated)}"
    return [pytest.param(row, id=row.id, marks=list(row.marks)) for row in rows]


def check(row: Row, service: Service, secrets: Iterable[str] = ()) -> testing.Driven[Any]:
    """Run ``row`` and check it: every call, in order, and every answer used; then the result
    or the error (its class, status, service, words and attributes). No secret of ``secrets``
    may show in an error message: a flow's own words never hold one."""
    answers = row.answers() if callable(row.answers) else row.answers
    done = testing.drive(row.flow(), answers)
    assert [shape(made) for made in done.calls] == list(row.calls)
    assert len(done.calls) == len(answers), "an answer of the row was never asked for"
    if row.error is None:
        if done.error is not None:
            raise done.error
        if row.returns is not ANY:
            assert plain(done.result) == row.returns
        if row.fields is not None:
            got = {name: plain(getattr(done.result, name)) for name in row.fields}
            assert got == dict(row.fields)
        return done
    expected = row.error
    assert done.error is not None, f"no error; the flow returned {done.result!r}"
    if type(done.error) is not expected.cls:
        raise AssertionError(f"expected {expected.cls.__name__}") from done.error
    error = done.error
    assert isinstance(error, NbAuthError)
    message = str(error)
    for word in expected.words:
        assert word in message, (word, message)
    assert error.status == expected.status, (error.status, message)
    if expected.status is not None and expected.names_status:
        assert f"HTTP {expected.status}" in message, message
    assert error.service == service.name, (error.service, message)
    assert service.title in message, message
    for name, value in expected.attrs.items():
        assert getattr(error, name) == value, (name, getattr(error, name))
    for value in secrets:
        assert value not in message, (value, message)
    return done


# -- sessions without a server ----------------------------------------------------------------


@dataclass
class Account:
    """A logged-in session as a service's flows read it (``nbauth.services.base.Account``)."""

    alias: str
    url: str
    token: Secret
    user_id: str | None = None
    username: str | None = None
    kind: str = "password"
    details: dict[str, Any] = field(default_factory=dict)
    seed: dict[str, Any] = field(default_factory=dict)

    @property
    def profile_seed(self) -> dict[str, Any]:
        return dict(self.seed)


def session(
    service: Service, url: str, granted: Granted, alias: str = "s", allow_insecure: bool = False
) -> Any:
    """The Session a login of ``service`` that was granted ``granted`` makes, as
    ``nbauth.api._store`` makes it, without storing it or any network."""
    from nbauth.explore import session_class

    return session_class(service.name)(
        service,
        alias,
        url,
        granted,
        timeout=5.0,
        verify=True,
        obtained_at=datetime.now(timezone.utc),
        allow_insecure=allow_insecure,
    )
