"""Keeping passwords and tokens out of log records, error messages and tracebacks.

httpx logs every request at INFO with its full URL, and httpcore logs response
headers at DEBUG. ioGates puts its token in URL paths (``/api/authinfo/{token}``),
so a notebook that turns logging on would print it. A filter on those loggers
masks, in every record, the secrets of the requests in flight (each ``Secret`` a
flow put in a ``Call``, and the credentials part of an ``Authorization`` value)
and the tokens of the stored sessions. The in-flight secrets live in a
ContextVar while their flow runs, so nothing keeps them afterwards. While a flow
fetches a download link (whose key is its credential), the key-like parts of any
redirect's ``location`` are masked too: the next link is logged before the flow
knows it.

A server may echo a secret in another form than it was sent: URL-encoded (a
form body, a query, or twice), HTML-escaped (an error page), JSON-escaped, in
base64 (``Basic``) or hex, in another case or fullwidth, or cut (a message
shortened to its first words). ``mask`` searches the text case-folded and
NFKC-normalised, and masks every run of RUN or more characters in a row of a
secret, in each of those forms, wherever it appears; a whole token shows its
last four characters (to tell tokens apart), anything else, and any password,
the mask alone. A URL-shaped secret (a share URL, a download link) is masked
whole, and its path, query and userinfo run by run: its scheme and host are no
secret, and a message may name them. A password too short for runs is masked
where a server's text repeats it whole (``echoed``). What it does not find: the
secret reversed, rot13'ed, spaced out, or in pieces shorter than RUN.

A failure's traceback keeps the frames it passed through, and with them their
locals: a Call whose URL holds a token, the password given to ``login``.
IPython's verbose mode, debuggers and error reporters show those, so ``scrub``
clears them, in the failure and in every exception chained to it (``__cause__``,
``__context__``: a KeyboardInterrupt's CancelledError): the traceback still says
where it failed, not what a frame held. ``scrubbed`` also empties the arguments
its own frame holds, the outermost nbauth frame, whose locals are the caller's
arguments, positional or not.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import traceback
import unicodedata
from collections import deque
from collections.abc import Callable, Collection, Coroutine, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from urllib.parse import quote, quote_plus

from .errors import NbAuthError, UsageError
from .secret import MASK, Secret

if TYPE_CHECKING:
    from ._calls import Call

__all__ = [
    "InFlight",
    "chained",
    "echoed",
    "install",
    "mask",
    "mask_locations",
    "mask_whole",
    "retire",
    "runs",
    "scrub",
    "scrubbed",
    "scrubbed_async",
]

P = ParamSpec("P")
R = TypeVar("R")

#: Shorter values are left alone: masking "401" out of "HTTP 401" hides more than it protects.
MIN_LENGTH = 6
#: Any run of this many characters in a row of a secret is masked (a cut or partly echoed one).
RUN = 8
#: httpx logs under "httpx", httpcore under "httpcore.<module>". A logger's filters do not apply
#: to its children's records, so each gets the filter; ``install`` also finds any others.
LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)

_live: ContextVar[Collection[Secret]] = ContextVar("nbauth_live_secrets", default=())
#: The running flow, which says whether one of its calls fetches a link whose key is its credential.
_flight: ContextVar[InFlight | None] = ContextVar("nbauth_flight", default=None)
_installed = False
_install_lock = threading.Lock()

#: Text that every encoding below leaves as it is (most tokens): only the raw form is searched.
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")
_PERCENT = re.compile(r"%[0-9A-F]{2}")
#: A URL-shaped secret: its scheme and host are not secret, its userinfo and the rest are.
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?:(?P<userinfo>[^/?#@]*)@)?[^/?#]*")
#: An auth header's value: a scheme word, then the credential.
_SCHEME_AND_CREDENTIAL = re.compile(r"[A-Za-z][A-Za-z0-9_-]* (?P<credential>\S+)")


def mask(text: str, secrets: Iterable[str | Secret]) -> str:
    """``text`` with its secrets masked: each whole secret of at least MIN_LENGTH characters,
    and every run of RUN or more characters in a row of one, raw, URL-encoded (``quote``,
    ``quote_plus``, a form body, twice), HTML-escaped, JSON-escaped, in base64 (standard or
    URL-safe, at any offset of the bytes encoded) or hex; the runs in any case and under NFKC
    (fullwidth letters), as ``text`` is searched case-folded and NFKC-normalised. A whole token
    shows its ``Secret.masked`` (the last four characters of a long one), anything else
    ``********``. A str is taken as a token; pass a Secret of kind ``"password"`` for a
    password.

    For text from elsewhere (a server's, a log record): in nbauth's own words use
    ``mask_whole``, since masking a word of nbauth's that happens to be in a password
    ("wrong username or ********") would tell which words the password holds."""
    return _masked(text, secrets, runs_too=True)


def mask_whole(text: str, secrets: Iterable[str | Secret]) -> str:
    """``text`` with each whole secret masked, in any of the forms ``mask`` knows, but not its
    runs: for a message nbauth wrote, whose server part ``echoed`` already masked."""
    return _masked(text, secrets, runs_too=False)


@contextmanager
def masked_errors(secrets: Collection[Secret]) -> Iterator[None]:
    """An NbAuthError leaving the block has each of ``secrets`` masked, whole, in its message
    (a server's echo of a login's password into its error text, say)."""
    try:
        yield
    except NbAuthError as exc:
        exc.args = (mask_whole(exc.message, secrets),)
        raise


def echoed(text: str, also: Iterable[str | Secret] = ()) -> str:
    """A server's text with the secrets of the running calls and of the stored sessions, and
    ``also``, masked (``mask``): what a server repeats goes into messages only so. A password
    of the running call shorter than MIN_LENGTH, too short for ``mask``, is masked too where
    it shows whole (in any of the forms ``mask`` knows, case kept): a refused login's text."""
    masked = mask(text, {*_secrets_now(), *also})
    flight = _flight.get()
    if flight is not None and flight.short:
        masked = _masked(masked, (), runs_too=False, short=flight.short)
    return masked


class _Derived:
    """What masking needs of one Secret: its forms, found whole (``every``; ``whole`` is the
    part of them ``mask`` looks for, the others being found as runs; ``folded_whole``, those
    of a secret too short for runs, case-folded), and its case-folded forms whose runs are
    masked, by group of ``_RUN_FORMS`` (``groups``), with the 4-character pieces any of a
    group's forms holds (``pieces``, None for no gate): a case-folded text that holds none of
    a group's pieces holds nothing of its forms."""

    __slots__ = ("every", "folded_whole", "groups", "hashed", "pieces", "whole")

    def __init__(self, secret: Secret) -> None:
        raw = secret.reveal()
        url = _URL.match(raw)
        if url is None:
            parts = [raw]
        else:  # a share URL or a download link: its host is public, the rest is not
            parts = [raw[url.end() :], *(url.group("userinfo") or "").split(":")[1:]]
        gated = len(raw) >= RUN
        groups, gates = [], []
        for make in _RUN_FORMS.values():
            # A short secret's runs come from its longer forms only (its hex, its base64...).
            forms = frozenset(
                folded
                for part in parts
                if len(part) >= MIN_LENGTH
                for form in make(part)
                if len(folded := _fold_text(form)) >= RUN and (len(part) >= RUN or form != part)
            )
            pieces = None
            if gated and (url is None or forms):
                pieces = frozenset(
                    form[at : at + 4] for form in forms for at in range(0, len(form) - 3, 4)
                )
            groups.append(forms)
            gates.append(pieces)
        #: Per group of _RUN_FORMS, its case-folded forms, and the pieces that gate them.
        self.groups: tuple[frozenset[str], ...] = tuple(groups)
        self.pieces: tuple[frozenset[str] | None, ...] = tuple(gates)
        self.hashed: dict[str, Any] | None = None
        self.every = {form: secret.masked for form in _forms(raw)}
        # A form's runs find it whole, unless it must show a token's tail, or is too short.
        whole_too = url is not None or len(raw) < RUN or secret.masked != MASK
        self.whole = self.every if whole_too else {}
        self.folded_whole = frozenset(
            _fold_text(form) for form in self.every if len(raw) < RUN and form
        )


def _derived(secret: Secret) -> _Derived:
    found = secret._derived
    if not isinstance(found, _Derived):
        found = secret._derived = _Derived(secret)
    return found


def _masked(
    text: str,
    secrets: Iterable[str | Secret],
    runs_too: bool,
    short: Iterable[Secret] = (),
) -> str:
    if not text:
        return text
    folded, owner = _fold(text)
    #: In a short text, a secret none of whose pieces is there is skipped at once.
    grams = (
        {folded[at : at + 4] for at in range(len(folded) - 3)}
        if len(folded) < HASHED_FROM
        else None
    )
    whole: dict[str, str] = {}  # a form searched for whole -> what replaces it
    folded_whole: set[str] = set()  # a case-folded form searched for whole in ``folded``
    parts: set[str] = set()  # case-folded forms whose every run of RUN is masked
    known: dict[str, Any] = {}  # their hashes, for a long text (kept with each secret)
    # The groups of forms (_RUN_FORMS, "text" first) the text may hold a run of; a long text is
    # hashed once whatever the forms, so it is not checked.
    active = [0]
    if runs_too:
        active += [
            index
            for index, check in enumerate(_GROUP_CHECKS, start=1)
            if grams is None or check(folded)
        ]
    for given in secrets:
        secret = given if isinstance(given, Secret) else Secret(given)
        if len(secret) < MIN_LENGTH:
            continue
        derived = _derived(secret)
        held = []  # the indexes of the groups of its forms the text may hold
        for index in active:
            pieces = derived.pieces[index]
            if grams is None or pieces is None or not grams.isdisjoint(pieces):
                held.append(index)
        if not held:
            continue
        if runs_too:
            for index in held:
                parts |= derived.groups[index]
            folded_whole |= derived.folded_whole
            if grams is None:
                known.update(_hashed_forms(derived))
        if held[0] != 0:
            continue  # the text holds none of its raw forms, so none of them whole
        for form, shown in (derived.whole if runs_too else derived.every).items():
            whole[form] = min(whole.get(form, shown), shown, key=len)
    for secret in short:  # too short for runs or for case-folding: whole, as sent
        whole.update((form, MASK) for form in _forms(secret.reveal()) if form)
    spans = [(*_back(owner, start, end), MASK) for start, end in runs(folded, parts, known)]
    for form in folded_whole:
        spans += [(*_back(owner, at, at + len(form)), MASK) for at in _places(folded, form)]
    for form, shown in whole.items():
        spans += [(at, at + len(form), shown) for at in _places(text, form)]
    return _replaced(text, spans) if spans else text


def _places(text: str, form: str) -> Iterator[int]:
    """Where ``form`` starts in ``text``, the copies not overlapping."""
    at = text.find(form)
    while at >= 0:
        yield at
        at = text.find(form, at + len(form))


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    """One character NFKC-normalised and case-folded (``_same`` is applied to the whole)."""
    return unicodedata.normalize("NFKC", char).casefold()


def _fold_text(text: str) -> str:
    return _fold(text)[0]


#: Characters a search takes as the same: base64's two alphabets (``+/`` and ``-_``).
_SAME = (("-", "+"), ("_", "/"))


def _fold(text: str) -> tuple[str, Any]:
    """``text`` as a search sees it: NFKC-normalised and case-folded character by character
    (``Ｋ`` and ``K`` become ``k``), with ``-`` and ``_`` as ``+`` and ``/``; and, when that
    changed its length (``ß`` -> ``ss``), the place in ``text`` of each of its characters
    (None when each stays in its place). ASCII is only lowered; a long text is folded with
    numpy, a character met once costing one lookup."""
    if text.isascii():
        folded = text.lower()
    elif len(text) >= HASHED_FROM:
        return _fold_long(text)
    else:
        chars = [char.lower() if char.isascii() else _fold_char(char) for char in text]
        folded = "".join(chars)
        if len(folded) != len(text) or any(len(char) != 1 for char in chars):
            owner = [at for at, char in enumerate(chars) for _ in char]
            return _same(folded), owner
    return _same(folded), None


def _same(text: str) -> str:
    for one, other in _SAME:
        text = text.replace(one, other)
    return text


def _fold_long(text: str) -> tuple[str, Any]:
    """``_fold`` of a long text that is not all ASCII, on its code points with numpy."""
    import numpy as np

    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    out = points.copy()
    out[(out >= ord("A")) & (out <= ord("Z"))] += np.uint32(32)
    wide = np.flatnonzero(points > 127)
    distinct, which = np.unique(points[wide], return_inverse=True)
    folds = [_fold_char(chr(code)) for code in distinct.tolist()]
    sizes = np.array([len(fold) for fold in folds], dtype=np.int64)
    owner = None
    if (sizes == 1).all():
        out[wide] = np.array([ord(fold) for fold in folds], dtype=np.uint32)[which]
    else:  # a character folds to several (or none): place each where it goes
        lengths = np.ones(len(points), dtype=np.int64)
        lengths[wide] = sizes[which]
        owner = np.repeat(np.arange(len(points)), lengths)
        starts = np.cumsum(lengths) - lengths
        grown = np.zeros(int(lengths.sum()), dtype=np.uint32)
        narrow = np.ones(len(points), dtype=bool)
        narrow[wide] = False
        grown[starts[narrow]] = out[narrow]
        for index, fold in enumerate(folds):
            at = starts[wide[which == index]]
            for offset, char in enumerate(fold):
                grown[at + offset] = ord(char)
        out = grown
    return _same(out.tobytes().decode("utf-32-le", "surrogatepass")), owner


def _back(owner: Any, start: int, end: int) -> tuple[int, int]:
    """The span of the original text that the case-folded span ``start:end`` comes from
    (``owner``: ``_fold``'s places, a list or a numpy array; None for the same places)."""
    if owner is None:
        return start, end
    return int(owner[start]), int(owner[end - 1]) + 1


def _replaced(text: str, spans: list[tuple[int, int, str]]) -> str:
    """``text`` with each span replaced. Overlapping or touching spans make one mask; one that
    is a whole token's (any runs it holds are inside it) shows that token's mask, with its
    tail; any other the mask alone."""
    spans.sort(key=lambda span: (span[0], -span[1]))
    out, done, group = [], 0, [spans[0]]
    for span in [*spans[1:], (len(text) + 1, 0, "")]:  # the last one only closes the group
        end = max(end for _, end, _ in group)
        if span[0] <= end:
            group.append(span)
            continue
        start = group[0][0]
        tails = [shown for s, e, shown in group if (s, e) == (start, end) and shown != MASK]
        out += [text[done:start], min(tails, key=len) if tails else MASK]
        done, group = end, [span]
    out.append(text[done:])
    return "".join(out)


def _forms(value: str) -> set[str]:
    """``value`` as a server may echo it: raw, URL-encoded (with either case of hex, ``+`` or
    ``%20`` for spaces, ``/`` kept or not, or twice), HTML-escaped (named, decimal or hex
    quotes) and JSON-escaped (``\\uXXXX`` or not, ``\\/`` or ``/``)."""
    if _PLAIN.fullmatch(value):
        return {value}
    encoded = [
        quote(value, safe="", errors="surrogatepass"),
        quote(value, safe="/", errors="surrogatepass"),
        quote_plus(value, safe="", errors="surrogatepass"),
        quote_plus(value, safe="/", errors="surrogatepass"),
    ]
    forms = {value, *encoded}
    forms.update(_PERCENT.sub(lambda hexed: hexed.group().lower(), form) for form in encoded)
    forms.update(quote(form, safe="") for form in encoded[::2])  # URL-encoded twice
    import html  # with its entity table, 2 ms of %load_ext: loaded at the first masking

    escaped = html.escape(value)
    forms |= {
        escaped,
        html.escape(value, quote=False),
        escaped.replace("&#x27;", "&#39;"),
        escaped.replace("&#x27;", "&#39;").replace("&quot;", "&#34;"),
    }
    for ascii_only in (True, False):
        dumped = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
        forms |= {dumped, dumped.replace("/", "\\/")}
    return {form for form in forms if form}


def _escaped_forms(value: str) -> set[str]:
    """Every character of ``value`` as an HTML or JSON escape (``&#75;``, ``&#x4b;``,
    ``\\u004b``), as a server that escapes all it repeats sends it."""
    return {
        "".join(f"&#{ord(char)};" for char in value),
        "".join(f"&#x{ord(char):x};" for char in value),
        "".join(f"\\u{ord(char):04x}" for char in value if ord(char) <= 0xFFFF),
    }


def _hex_forms(value: str) -> set[str]:
    """The bytes of ``value`` in hex: UTF-8, or UTF-16 in either order."""
    encodings = ("utf-8", "utf-16-le", "utf-16-be")
    return {value.encode(encoding, "surrogatepass").hex() for encoding in encodings}


def _base64_forms(value: str) -> set[str]:
    """The UTF-8 bytes of ``value`` in base64 (the URL-safe alphabet is the same to a search:
    ``_SAME``) at each of the 3 offsets the bytes encoded before it may leave (``Basic
    base64(user:password)``), without the characters that mix in bits not its own."""
    import base64

    data = value.encode("utf-8", "surrogatepass")
    forms = set()
    for shift in (0, 1, 2):
        padded = b"\0" * shift + data
        first, last = -(-8 * shift // 6), 8 * len(padded) // 6  # characters of its bits only
        forms.add(base64.b64encode(padded).decode("ascii")[first:last])
    return forms


#: The groups of forms whose runs are masked, and how each is made from a secret.
_RUN_FORMS: dict[str, Callable[[str], set[str]]] = {
    "text": _forms,
    "escaped": _escaped_forms,
    "hex": _hex_forms,
    "base64": _base64_forms,
}
#: What a case-folded text must hold to hold a run of the forms of each group after "text",
#: in order, checked once a text: a group it cannot hold costs nothing (most log lines hold
#: no 8 hex digits in a row).
_GROUP_CHECKS: tuple[Callable[[str], object], ...] = (
    lambda text: "&#" in text or "\\u" in text,
    re.compile(r"[0-9a-f]{8}").search,
    re.compile(r"[a-z0-9+/]{8}").search,
)


#: Texts longer than this are searched by hashing every run of RUN characters at once (numpy),
#: shorter ones piece by piece with str.find.
HASHED_FROM = 8192


def runs(
    text: str, values: Iterable[str], known: Mapping[str, Any] | None = None
) -> list[tuple[int, int]]:
    """The spans of ``text`` that are RUN or more characters in a row of one of ``values``
    (each span as long as the text and that value agree). ``known``: the hashes of values
    (``_hashes``) worked out before, for a long text."""
    values = [value for value in values if len(value) >= RUN]
    if not values or len(text) < RUN:
        return []
    found: list[tuple[int, int]] = []
    #: Per value and alignment (where in ``text`` the value would start), the end of the last
    #: run found: a seed inside it belongs to that run.
    reached: dict[tuple[int, int], int] = {}
    seeds = (
        _hashed_seeds(text, values, known or {})
        if len(text) >= HASHED_FROM
        else _found_seeds(text, values)
    )
    for hit, which, offset, size in seeds:
        value = values[which]
        key = (which, hit - offset)
        if reached.get(key, -1) > hit:
            continue
        before = _agree_back(text, hit, value, offset)
        after = _agree(text, hit + size, value, offset + size)
        start, end = hit - before, hit + size + after
        reached[key] = end
        if end - start >= RUN:
            found.append((start, end))
    return found


def _found_seeds(text: str, values: list[str]) -> Iterator[tuple[int, int, int, int]]:
    """Where ``text`` holds a 4-character piece of a value that starts at a multiple of 4 in
    it (every run of 8 contains one), found with str.find: (where, value, offset, 4)."""
    pieces: dict[str, list[tuple[int, int]]] = {}
    for which, value in enumerate(values):
        for offset in range(0, len(value) - 3, 4):
            pieces.setdefault(value[offset : offset + 4], []).append((which, offset))
    for piece, places in pieces.items():
        hit = text.find(piece)
        while hit >= 0:
            for which, offset in places:
                yield hit, which, offset, 4
            hit = text.find(piece, hit + 1)


#: The multiplier of the rolling hash of RUN characters (odd, so no bit is lost).
_FACTOR = 0x9E3779B97F4A7C15
#: The top bits of a hash that index the table of wanted ones (a megabyte of booleans).
_TABLE_BITS = 20


def _hashes(string: str) -> Any:
    """The hash of every RUN characters in a row of ``string`` (numpy, uint64)."""
    import numpy as np

    points = np.frombuffer(string.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    points = points.astype(np.uint64)
    count = len(points) - RUN + 1
    hashed = points[:count].copy()
    with np.errstate(over="ignore"):
        for k in range(1, RUN):
            hashed *= np.uint64(_FACTOR)
            hashed += points[k : k + count]
    return hashed


def _hashed_forms(derived: _Derived) -> dict[str, Any]:
    """The hashes of a secret's run forms, worked out at its first long text, then kept."""
    if derived.hashed is None:
        derived.hashed = {form: _hashes(form) for forms in derived.groups for form in forms}
    return derived.hashed


def _hashed_seeds(
    text: str, values: list[str], known: Mapping[str, Any]
) -> Iterator[tuple[int, int, int, int]]:
    """Where ``text`` holds one of the RUN-character pieces of a value, found by hashing
    every RUN characters of ``text`` at once with numpy: (where, value, offset, RUN). A long
    text then costs a few array passes, whatever the number of secrets."""
    import numpy as np

    arrays = [known[value] if value in known else _hashes(value) for value in values]
    sizes = [len(hashed) for hashed in arrays]
    wanted = np.concatenate(arrays)
    which = np.repeat(np.arange(len(values)), sizes)
    offsets = np.arange(len(wanted)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    order = np.argsort(wanted)
    wanted, which, offsets = wanted[order], which[order], offsets[order]
    text_hashes = _hashes(text)
    # A table of the wanted hashes' top bits picks the few places worth a binary search.
    table = np.zeros(1 << _TABLE_BITS, dtype=bool)
    table[wanted >> np.uint64(64 - _TABLE_BITS)] = True
    maybe = np.flatnonzero(table[text_hashes >> np.uint64(64 - _TABLE_BITS)])
    left = np.searchsorted(wanted, text_hashes[maybe])
    nearest = np.minimum(left, len(wanted) - 1)
    found = wanted[nearest] == text_hashes[maybe]
    for hit, at in zip(maybe[found].tolist(), left[found].tolist(), strict=True):
        while at < len(wanted) and wanted[at] == text_hashes[hit]:
            value, offset = values[int(which[at])], int(offsets[at])
            if text[hit : hit + RUN] == value[offset : offset + RUN]:
                yield hit, int(which[at]), offset, RUN
            at += 1


def _agree(a: str, i: int, b: str, j: int) -> int:
    """How many characters ``a[i:]`` and ``b[j:]`` have in common at their start."""
    most = min(len(a) - i, len(b) - j)
    same, step = 0, 8
    while same < most:
        step = min(step, most - same)
        if a[i + same : i + same + step] == b[j + same : j + same + step]:
            same, step = same + step, step * 2
        elif step == 1:
            break
        else:
            step //= 2
    return same


def _agree_back(a: str, i: int, b: str, j: int) -> int:
    """How many characters ``a[:i]`` and ``b[:j]`` have in common at their end."""
    most = min(i, j)
    same, step = 0, 8
    while same < most:
        step = min(step, most - same)
        if a[i - same - step : i - same] == b[j - same - step : j - same]:
            same, step = same + step, step * 2
        elif step == 1:
            break
        else:
            step //= 2
    return same


def secrets_in(call: Call) -> set[Secret]:
    """The Secrets ``call`` carries, of MIN_LENGTH characters or more. A header's
    ``Bearer <token>`` gives the token (ioGates also puts it in URL paths); a body's secrets
    (passwords, codes, share URLs) count as passwords, which show nothing of themselves when
    masked."""
    return {secret for secret in _carried(call) if len(secret) >= MIN_LENGTH}


def _carried(call: Call) -> set[Secret]:
    """Every Secret ``call`` carries, as ``secrets_in`` takes them, whatever their length."""
    found = set()
    for value in (call.headers or {}).values():
        if isinstance(value, Secret):
            raw = value.reveal()
            scheme = _SCHEME_AND_CREDENTIAL.fullmatch(raw)
            found.add(Secret(scheme.group("credential"), value.kind) if scheme else value)
    body = call.json if isinstance(call.json, dict) else None
    for values in (call.data, body):
        for value in (values or {}).values():
            if isinstance(value, Secret):
                found.add(Secret(value, "password"))
    found.update(call.url_secrets)
    return found


class InFlight:
    """The secrets of one running flow: the log filter masks them while the flow runs, and a
    failure leaving the flow has them masked in its message and its frames' locals cleared."""

    def __init__(self) -> None:
        self.secrets: set[Secret] = set()
        #: Whether a call of this flow fetches a link whose key is in its URL (``url_secrets``):
        #: a redirect's ``Location`` then names the next key before the flow knows it.
        self.fetches_links = False
        #: The passwords (and codes) of its calls shorter than MIN_LENGTH: ``echoed`` masks
        #: them whole in a server's text.
        self.short: set[Secret] = set()
        self._token: Token[Collection[Secret]] | None = None
        self._flight_token: Token[InFlight | None] | None = None

    def add(self, call: Call) -> None:
        carried = _carried(call)
        self.secrets |= {secret for secret in carried if len(secret) >= MIN_LENGTH}
        self.short |= {
            secret
            for secret in carried
            if secret.kind == "password" and 0 < len(secret) < MIN_LENGTH
        }
        if call.url_secrets:
            self.fetches_links = True

    def __enter__(self) -> InFlight:
        install()
        self._token = _live.set(self.secrets)
        self._flight_token = _flight.set(self)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._token is not None and self._flight_token is not None
        _live.reset(self._token)
        _flight.reset(self._flight_token)
        if exc is not None:
            scrub(exc, self.secrets)


def scrub(exc: BaseException, secrets: Iterable[str | Secret] = ()) -> None:
    """Mask ``secrets`` in the message of ``exc`` and of every NbAuthError chained to it, and
    clear the locals of every finished frame that ``exc`` or an exception chained to it
    (``__cause__``, ``__context__``, an ExceptionGroup's members) passed through. Running
    frames cannot be cleared and are skipped."""
    secrets = list(secrets)
    for link in chained(exc):
        if isinstance(link, NbAuthError) and secrets:
            link.args = (mask_whole(link.message, secrets),)
        traceback.clear_frames(link.__traceback__)


def chained(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception linked to it, each once."""
    found: list[BaseException] = []
    seen: set[int] = set()
    todo = [exc]
    while todo:
        link = todo.pop()
        if id(link) in seen:
            continue
        seen.add(id(link))
        found.append(link)
        todo += [e for e in (link.__cause__, link.__context__) if e is not None]
        members = getattr(link, "exceptions", ())  # an ExceptionGroup's (Python 3.11+)
        if isinstance(members, tuple):
            todo += [member for member in members if isinstance(member, BaseException)]
    return found


def scrubbed(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` whose failures leave no arguments or locals in their traceback.

    The wrapper's own frame stays in the traceback (it re-raises), holding the caller's
    arguments: it empties them before re-raising. A call that does not fit ``function``'s
    signature (``login("couchdrop", "alice", pw)``: its secrets positional) is a UsageError."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except BaseException as exc:
            misfit = _misfit(function, exc)
            args = ()  # type: ignore[assignment]  # this frame's own copies, which a
            kwargs.clear()  # traceback, %xmode Verbose and %debug would show
            scrub(exc)
            if misfit is not None:
                raise misfit from None
            raise

    return wrapper


def scrubbed_async(
    function: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """The twin of ``scrubbed`` for a coroutine function."""

    @functools.wraps(function)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await function(*args, **kwargs)
        except BaseException as exc:
            misfit = _misfit(function, exc)
            args = ()  # type: ignore[assignment]
            kwargs.clear()
            scrub(exc)
            if misfit is not None:
                raise misfit from None
            raise

    return wrapper


def _misfit(function: Callable[..., Any], exc: BaseException) -> UsageError | None:
    """The UsageError for a TypeError raised by the call itself (not from inside
    ``function``: its traceback has no frame below the wrapper's): arguments that do not fit.
    Python's message names the arguments, never their values."""
    if not isinstance(exc, TypeError) or exc.__traceback__ is None:
        return None
    if exc.__traceback__.tb_next is not None:
        return None
    name = function.__name__
    return UsageError(
        f"nbauth.{exc}. Give {name}() the service (or the rows) first and every other argument "
        f"by name, as in nbauth.{name}('couchdrop', username='alice', password=pw)."
        if name in ("login", "alogin")
        else f"nbauth.{exc}. Give its arguments by name (help(nbauth.{name}) lists them)."
    )


#: Where the secrets kept beyond one call come from (the session store registers its tokens):
#: the layers above tell this one, which imports none of them.
_kept: list[Callable[[], Iterable[Secret]]] = []


def keep_masking(source: Callable[[], Iterable[Secret]]) -> None:
    """Mask, from now on, the secrets ``source()`` gives at each record and message."""
    _kept.append(source)


#: How many logged-out sessions' tokens stay masked after their store forgot them (the latest).
RETIRED = 64
_retired: deque[Secret] = deque(maxlen=RETIRED)


def retire(secret: Secret) -> None:
    """Keep masking ``secret`` (a logged-out session's token) once its source no longer gives
    it: a client or a copy made before the logout may still print it."""
    if secret not in _retired:
        _retired.append(secret)


def _secrets_now() -> set[Secret]:
    kept = (secret for source in _kept for secret in source())
    return {*_live.get(), *kept, *tuple(_retired)}


#: A ``location`` header's value in a log record: httpcore's ``(b'location', b'VALUE')``, or
#: ``Location: VALUE``.
_LOCATION = re.compile(
    r"""location(?:['"]\s*,\s*b?['"]|\s*[:=]\s*)(?P<value>[^\s'",)\]}>]+)""", re.IGNORECASE
)
#: A part of a URL's path or query that may be a key: LOCATION_KEY characters or more between
#: separators.
LOCATION_KEY = 16
_KEY_LIKE = re.compile(rf"[^/?&=#;]{{{LOCATION_KEY},}}")


def mask_locations(text: str) -> str:
    """``text`` with the userinfo, and every path or query part of LOCATION_KEY characters or
    more, masked in each ``location`` header's value: a download link's redirect names the
    next link, whose key is its credential, before the flow that follows it knows it. The
    scheme, host and short parts (``/delivery/375/``) stay."""

    def masked(found: re.Match[str]) -> str:
        value = found.group("value")
        url = _URL.match(value)
        start = url.end() if url is not None else 0
        head = value[:start]
        if url is not None and url.group("userinfo") is not None:
            head = url.group("scheme") + MASK + "@" + head[url.end("userinfo") + 1 :]
        kept = found.group()[: found.start("value") - found.start()]
        return kept + head + _KEY_LIKE.sub(MASK, value[start:])

    return _LOCATION.sub(masked, text)


class _MaskSecrets(logging.Filter):
    """Rewrites a record whose text holds a live secret to its masked text; while a flow
    fetches a download link, also the key-like parts of any ``location`` it logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _secrets_now()
        flight = _flight.get()
        if secrets or (flight is not None and flight.fetches_links):
            text = record.getMessage()
            masked = mask(text, secrets) if secrets else text
            if flight is not None and flight.fetches_links:
                masked = mask_locations(masked)
            if masked != text:
                record.msg, record.args = masked, ()
        return True


def install() -> None:
    """Put the filter on httpx's and httpcore's loggers, once."""
    global _installed
    if _installed:
        return
    import httpcore  # noqa: F401  (httpx imports it only at its first request)

    with _install_lock:
        if _installed:
            return
        found = [name for name in logging.Logger.manager.loggerDict if name.startswith("httpcore.")]
        for name in {*LOGGERS, *found}:
            logging.getLogger(name).addFilter(_MaskSecrets())
        _installed = True
