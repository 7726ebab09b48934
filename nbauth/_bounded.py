"""Answers read up to a size: an endless body or a gzip bomb stops at a limit, not at the end
of the kernel's memory.

``nbauth._http`` sends every request streaming and reads the body here, decoding gzip and
deflate itself in steps of at most ``STEP`` bytes of output (zlib's ``max_length``): httpx's own
decoder expands a whole network chunk at once, and 64 KB of a gzip bomb is 64 MB. A JSON answer
(every login, profile, listing and history page) may hold ``answer_limit()`` bytes once decoded,
a few MB, which ``NBAUTH_MAX_ANSWER_MB`` changes; a download passes the size it asked for,
when that is more.
"""

from __future__ import annotations

import functools
import os
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING

from .errors import ServiceError, UsageError

if TYPE_CHECKING:
    import httpx

    from ._calls import Call, Peer

__all__ = ["ACCEPTED", "AnswerTooLarge", "Undecodable", "answer_limit", "aread", "read"]

#: The limit of a JSON answer when NBAUTH_MAX_ANSWER_MB is not set, in MB.
DEFAULT_MB = 8.0
#: The most decoded bytes one decoding step makes.
STEP = 64 * 1024
#: The content codings nbauth asks for and decodes itself (Accept-Encoding).
ACCEPTED = "gzip, deflate"
#: Headers that describe the encoded body, not the decoded one nbauth hands on.
ENCODED = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})


class AnswerTooLarge(ServiceError):
    """An answer that went past the most bytes its call allows."""


def answer_limit() -> int:
    """The most bytes a JSON answer may hold once decoded (NBAUTH_MAX_ANSWER_MB, default 8)."""
    return _limit(os.environ.get("NBAUTH_MAX_ANSWER_MB", ""))


@functools.lru_cache(maxsize=8)
def _limit(setting: str) -> int:
    text = setting.strip()
    if not text:
        return int(DEFAULT_MB * 2**20)
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = -1.0
    if not 0 < megabytes < 2**40:
        raise UsageError(
            f"NBAUTH_MAX_ANSWER_MB={text[:20]!r} is not a number of megabytes. Set it to the "
            f"most a service's JSON answer may hold (default {DEFAULT_MB:g}), or unset it."
        )
    return int(megabytes * 2**20)


def read(answer: httpx.Response, call: Call, service: Peer) -> httpx.Response:
    """``answer``, streamed, as a response whose body is read and decoded, or AnswerTooLarge."""
    body = _Body(answer, call, service)
    if answer.is_stream_consumed:  # made in memory (a test's MockTransport), not streamed
        return body.whole()
    if body.framed():
        answer.read()
        return answer
    for raw in answer.iter_raw():
        body.add(raw)
    return body.response()


async def aread(answer: httpx.Response, call: Call, service: Peer) -> httpx.Response:
    """The async twin of ``read``."""
    body = _Body(answer, call, service)
    if answer.is_stream_consumed:
        return body.whole()
    if body.framed():
        await answer.aread()
        return answer
    raws: AsyncIterator[bytes] = answer.aiter_raw()
    async for raw in raws:
        body.add(raw)
    return body.response()


class _Body:
    """The decoded body of one answer as it arrives, with its size checked at every step."""

    def __init__(self, answer: httpx.Response, call: Call, service: Peer) -> None:
        self.answer, self.call, self.service = answer, call, service
        # A call's own bound (a download's size) never goes below a JSON answer's limit: the
        # server's refusal of it (an error page) is no download, and may be longer than the file.
        self.limit = max(call.max_bytes or 0, answer_limit())
        self.parts: list[bytes] = []
        self.size = 0
        codings = answer.headers.get("content-encoding", "").lower()
        self.decoders = [_decoder(c.strip()) for c in reversed(codings.split(",")) if c.strip()]

    def add(self, raw: bytes) -> None:
        chunks: Iterable[bytes] = [raw]
        for decode in self.decoders:
            chunks = _steps(decode, chunks)
        for chunk in chunks:
            self.size += len(chunk)
            if self.size > self.limit:
                raise self.too_large()
            self.parts.append(chunk)

    def framed(self) -> bool:
        """Whether httpx may read the body itself: not encoded, and a Content-Length within the
        limit, which HTTP/1.1's framing holds the server to (h11 reads no byte past it)."""
        length = self.answer.headers.get("content-length", "")
        return not self.decoders and length.isdigit() and int(length) <= self.limit

    def whole(self) -> httpx.Response:
        """An answer that was read already: only its size is checked."""
        if len(self.answer.content) > self.limit:
            raise self.too_large()
        return self.answer

    def too_large(self) -> AnswerTooLarge:
        title = self.service.title
        if self.call.max_bytes is None:
            limit = f"{self.limit / 2**20:g} MB" if self.limit >= 2**20 else f"{self.limit:,} bytes"
            advice = (
                f"No {title} API answer should be that long: check that the URL points to the "
                f"{title} API (a proxy or another server may be answering). If it does, raise "
                "the limit with NBAUTH_MAX_ANSWER_MB."
            )
        else:
            limit = f"{self.limit:,} bytes"
            advice = "The server sent more than it was asked for; try again."
        return AnswerTooLarge(
            f"{title} answered with more than nbauth's limit of {limit} for this call, so "
            f"nbauth stopped reading (HTTP {self.answer.status_code}). {advice}",
            service=self.service.name,
            status=self.answer.status_code,
        )

    def response(self) -> httpx.Response:
        import httpx

        # The raw bytes: a header that is not ASCII (a file name in Content-Disposition) would
        # not go back into a response as decoded text.
        headers = [(k, v) for k, v in self.answer.headers.raw if k.lower() not in ENCODED]
        return httpx.Response(
            self.answer.status_code,
            headers=headers,
            content=b"".join(self.parts),
            request=self.answer.request,
            extensions={k: v for k, v in self.answer.extensions.items() if k != "network_stream"},
        )


class _Decoder:
    """One content coding, undone in steps of at most STEP bytes of output."""

    def __init__(self, wbits: int | None) -> None:
        self.wbits = wbits
        self.zlib = None if wbits is None else zlib.decompressobj(wbits)
        self.first = True

    def steps(self, data: bytes) -> Iterator[bytes]:
        if self.zlib is None:
            yield data
            return
        if self.first and self.wbits == zlib.MAX_WBITS and data:
            self.first = False
            # "deflate" is meant to be zlib-wrapped, but servers send raw deflate too (as httpx
            # also accepts): a zlib header is two bytes whose big-endian value is a multiple of 31.
            if len(data) < 2 or (data[0] << 8 | data[1]) % 31 or data[0] & 0x0F != 8:
                self.zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            while True:
                out = self.zlib.decompress(data, STEP)
                data = self.zlib.unconsumed_tail
                if out:
                    yield out
                if not data and len(out) < STEP:  # a full step may leave output pending
                    return
        except zlib.error:
            raise Undecodable() from None


class Undecodable(Exception):
    """A body its content coding cannot undo: nbauth._http reports a broken answer."""


def _decoder(coding: str) -> _Decoder:
    if coding in ("gzip", "x-gzip"):
        return _Decoder(zlib.MAX_WBITS | 16)
    if coding == "deflate":
        return _Decoder(zlib.MAX_WBITS)
    return _Decoder(None)  # identity, or a coding nobody asked for: passed on as it is


def _steps(decoder: _Decoder, chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield from decoder.steps(chunk)
