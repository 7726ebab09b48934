"""Testing a service's protocol without a server: feed a flow its answers, see its calls.

A service is written as flows that yield ``Call``s and receive answers (``nbauth._calls``),
so a test can play the server, the way httpx's own auth tests drive an ``Auth.auth_flow`` by
hand::

    from nbauth import testing
    from nbauth.services.base import Credentials

    creds = Credentials("https://chat.example.com", {"username": "a", "password": Secret("pw")})
    done = testing.drive(service.login_flow(creds), [(401, {"error": "totp-required"})])
    done.calls[0].url      # what the flow asked for
    done.error             # TwoFactorRequired(...)

``drive`` takes the answers in order (a status and a JSON body, optionally headers, or an
``httpx.Response``); it runs in microseconds, with no sandbox and no network. ``answering``
puts a whole login (``nbauth.login`` with its checks, masking and store) in front of an
``httpx.MockTransport`` instead of the network, for tests that need the full path.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeAlias, TypeVar

import httpx

from ._calls import Call
from ._http import answering

__all__ = ["Answer", "Driven", "answering", "drive", "response"]

T = TypeVar("T")
#: A made-up answer: (status, JSON body), (status, JSON body, headers), or a Response.
Answer: TypeAlias = "tuple[int, Any] | tuple[int, Any, dict[str, str]] | httpx.Response"


@dataclass
class Driven(Generic[T]):
    """What a driven flow did: the calls it made, and what it returned or raised."""

    calls: list[Call] = field(default_factory=list)
    result: T | None = None
    error: BaseException | None = None


def drive(flow: Generator[Call, httpx.Response, T], answers: Iterable[Answer]) -> Driven[T]:
    """Run ``flow`` against ``answers``, one per call in order. A flow that asks for more calls
    than there are answers fails the test (AssertionError); answers left over are not used."""
    given = iter(answers)
    done: Driven[T] = Driven()
    answer: httpx.Response | None = None
    while True:
        try:
            call = flow.send(answer)  # type: ignore[arg-type]  # None starts the generator
        except StopIteration as stop:
            done.result = stop.value
            return done
        except Exception as exc:  # what the flow raised is the test's to check
            done.error = exc
            return done
        done.calls.append(call)
        made = next(given, None)
        if made is None:
            flow.close()
            raise AssertionError(
                f"the flow asked for call {len(done.calls)} ({call.method} "
                f"{call.url}) but the answers ran out"
            )
        answer = response(call, made)


def response(call: Call, answer: Answer) -> httpx.Response:
    """``answer`` as the ``httpx.Response`` to ``call``."""
    if isinstance(answer, httpx.Response):
        return answer
    status, body, *rest = answer
    headers = rest[0] if rest else {}
    request = httpx.Request(call.method, call.url)
    if isinstance(body, (bytes, str)):
        return httpx.Response(status, headers=headers, content=body, request=request)
    return httpx.Response(status, headers=headers, json=body, request=request)
