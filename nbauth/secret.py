"""Secret: a password or token that never shows itself.

Notebooks echo the last expression of a cell, print reprs in tracebacks and
save outputs to disk, so a secret must be safe to display by accident. Its
repr, str, format and HTML repr show a mask; pickling it is refused; only
``reveal()`` gives the raw value, and nbauth calls it at the moment a request
is built.

A Secret has a kind. A ``"token"`` (the default: session tokens, API tokens,
download links) of 20 characters or more shows its last four characters after
the mask, so that two sessions' tokens can be told apart. A ``"password"``
(passwords, one-time codes, share URLs: what a person chose or what opens a
share) shows the mask alone, whatever its length: the end of a password is
part of it.
"""

from __future__ import annotations

from typing import Any, Literal, NoReturn

__all__ = ["KINDS", "MASK", "Secret"]

MASK = "********"
#: What a Secret is: a token may show a short tail to tell it apart, a password none.
KINDS = ("token", "password")
#: The shortest token that shows its last four characters.
TAIL_FROM = 20


class Secret:
    """A string that is masked everywhere it could be displayed."""

    __slots__ = ("_derived", "_kind", "_value")

    def __init__(
        self, value: str | Secret, kind: Literal["token", "password"] | None = None
    ) -> None:
        """``kind`` is ``"token"`` or ``"password"``; by default a Secret's own kind, else
        ``"token"``."""
        if isinstance(value, Secret):
            kind = kind or value.kind
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"a secret must be a str, not {type(value).__name__}")
        if kind not in (None, *KINDS):
            raise ValueError(f"a secret's kind is 'token' or 'password', not {kind!r}")
        self._value = value
        self._kind: Literal["token", "password"] = kind or "token"
        #: What nbauth._redact works out to find the value in text (its encoded forms), kept
        #: here so that it lives exactly as long as the Secret and no longer.
        self._derived: Any = None

    @property
    def kind(self) -> Literal["token", "password"]:
        """``"token"`` (may show a short tail when masked) or ``"password"`` (never does)."""
        return self._kind

    def reveal(self) -> str:
        """The raw value. Pass it on; do not print it."""
        return self._value

    @property
    def masked(self) -> str:
        """A form safe to show: the last four characters of a long token; nothing of a short
        one, nor of any password."""
        if self._kind == "token" and len(self._value) >= TAIL_FROM:
            return MASK + self._value[-4:]
        return MASK

    def __repr__(self) -> str:
        return f"Secret('{self.masked}')"

    def __str__(self) -> str:
        return self.masked

    def __format__(self, spec: str) -> str:
        return format(self.masked, spec)

    def _repr_html_(self) -> str:
        return f"<code>{self.masked}</code>"

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        printer.text(repr(self))  # type: ignore[attr-defined]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            import hmac

            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("nbauth refuses to pickle a Secret: it would write the value to disk")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self
