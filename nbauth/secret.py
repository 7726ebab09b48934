"""Secret: a password or token that never shows itself.

Notebooks echo the last expression of a cell, print reprs in tracebacks and
save outputs to disk, so a secret must be safe to display by accident. Its
repr, str, format and HTML repr show a mask; pickling it is refused; only
``reveal()`` gives the raw value, and nbauth calls it at the moment a request
is built.
"""

from __future__ import annotations

from typing import NoReturn

__all__ = ["Secret"]

MASK = "********"


class Secret:
    """A string that is masked everywhere it could be displayed."""

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret):
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"a secret must be a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """The raw value. Pass it on; do not print it."""
        return self._value

    @property
    def masked(self) -> str:
        """A form safe to show: the last four characters of long tokens, nothing of short ones."""
        if len(self._value) >= 20:
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
