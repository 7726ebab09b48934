"""Cards: a title over labels and values, a small table, or a note, shown as compact HTML in a
notebook and as plain text in a terminal.

A card is built on a DataFrame (``profile_frame()``, ``storage_frame()``, a listing) and only
changes how it looks: no index column, labels on the left, values left-aligned in the notebook's
own font, sizes in human units, notes wrapping at words. Every cell is HTML-escaped (a server's
words may hold markup). A card shows what it is given: the caller masks secrets first (the
profile table masks the session's, ``nbauth.report`` the storage table's).
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .tables import human_bytes

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Card", "profile_card", "storage_card", "table_card"]

#: Jupyter's colours where the front end has them (JupyterLab, Notebook 7, Voila), with fallbacks
#: for a front end that has none (nbconvert's HTML, VS Code).
MUTED = "var(--jp-ui-font-color2, #57606a)"
BORDER = "var(--jp-border-color2, #d0d7de)"
ERROR = "var(--jp-error-color1, #b00020)"
CARD = (
    "display:inline-block;vertical-align:top;box-sizing:border-box;max-width:100%;"
    "min-width:16em;margin:4px 8px 4px 0;padding:6px 12px 8px;"
    f"border:1px solid {BORDER};border-radius:6px;"
    "font-family:var(--jp-ui-font-family, system-ui, sans-serif);font-size:13px;line-height:1.4"
)
TITLE = "font-weight:600;margin:0 0 4px"
# Jupyter's own table style centres, right-aligns, stripes and fixes the layout: undone here.
TABLE = "border-collapse:collapse;table-layout:auto;width:auto;margin:0;border:none;font-size:13px"
ROW = "background:transparent"
LABEL = (
    f"text-align:left;vertical-align:top;font-weight:normal;color:{MUTED};"
    "padding:2px 16px 2px 0;white-space:nowrap;border:none"
)
HEADER = (
    f"text-align:left;vertical-align:bottom;font-weight:600;padding:2px 16px 2px 0;"
    f"white-space:nowrap;border:none;border-bottom:1px solid {BORDER}"
)
VALUE = (
    "text-align:left;vertical-align:top;padding:2px 16px 2px 0;border:none;"
    "white-space:normal;word-break:normal;overflow-wrap:anywhere;max-width:36em"
)
NOTE = "margin:4px 0 0;max-width:40em;white-space:normal;word-break:normal;overflow-wrap:anywhere"
#: Columns a generic table shows in human units when they hold byte counts.
SIZE_COLUMNS = ("size", "bytes")


@dataclass(repr=False)
class Card:
    """A titled card: ``rows`` of labels and values, or a ``table`` with a header, and a note.

    ``frame`` is the DataFrame the card was made from (``%whoami``'s card: ``card.frame``).
    """

    title: str
    rows: list[tuple[str, str, str | None]] = field(default_factory=list)  # label, value, tip
    table: pd.DataFrame | None = None
    note: str | None = None
    error: bool = False
    frame: pd.DataFrame | None = None

    # -- HTML -----------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        parts = [f'<div class="nbauth-card" style="{CARD}">']
        parts.append(f'<div class="nbauth-card-title" style="{TITLE}">{_esc(self.title)}</div>')
        if self.rows:
            parts.append(f'<table style="{TABLE}"><tbody>')
            for label, value, tip in self.rows:
                tipped = f' title="{_attr(tip)}"' if tip else ""
                parts.append(
                    f'<tr style="{ROW}"><th scope="row" style="{LABEL}">{_esc(label)}</th>'
                    f'<td style="{VALUE}"{tipped}>{_esc(value)}</td></tr>'
                )
            parts.append("</tbody></table>")
        if self.table is not None:
            parts.append(_table_html(self.table))
        if self.note:
            colour = f"color:{ERROR}" if self.error else f"color:{MUTED}" if self.shows else ""
            parts.append(f'<p class="nbauth-card-note" style="{NOTE};{colour}">')
            parts.append(f"{_esc(self.note)}</p>")
        parts.append("</div>")
        return "".join(parts)

    @property
    def shows(self) -> bool:
        """Whether the card shows figures (rows or a table), not only its note."""
        return bool(self.rows) or self.table is not None

    # -- text -----------------------------------------------------------------------------

    def text(self) -> str:
        """The card as plain text: ``Title:`` and its rows indented, or ``Title: note``."""
        if not self.shows:
            return f"{self.title}: {self.note or ''}".rstrip()
        lines = [f"{self.title}:"]
        if self.rows:
            width = max(len(label) for label, _, _ in self.rows)
            lines += [f"  {label.ljust(width)}  {value}" for label, value, _ in self.rows]
        if self.table is not None:
            lines += [f"  {line}" for line in _table_text(self.table)]
        if self.note:
            lines.append(f"  ({self.note})" if not self.error else f"  {self.note}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    __repr__ = __str__

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())


def profile_card(frame: pd.DataFrame, title: str = "Profile") -> Card:
    """A profile table (``field``, ``value``) as a card of labels and values."""
    pairs = zip(frame["field"], frame["value"], strict=True)
    rows: list[tuple[str, str, str | None]] = [(str(f), _readable(v), None) for f, v in pairs]
    note = None if rows else "The service told nothing about this account."
    return Card(title, rows=rows, note=note, frame=frame)


def storage_card(frame: pd.DataFrame, title: str = "Storage") -> Card:
    """A storage table as a card: figures (``item`` with a ``human`` value) as labels and values,
    each exact number in its tooltip; any other table as a table; a note-only table as its note.
    A note the table carries (``frame.attrs["note"]``) goes under it."""
    columns = list(frame.columns)
    if columns == ["note"]:
        return Card(title, note=str(frame["note"].iloc[0]) if len(frame) else None, frame=frame)
    note = frame.attrs.get("note")
    if {"item", "human"} <= set(columns):
        exact = next((c for c in ("bytes", "value") if c in columns), None)
        rows = []
        for _, row in frame.iterrows():
            tip = _exact(row[exact], row.get("unit", "bytes")) if exact else None
            rows.append((str(row["item"]), _readable(row["human"]), tip))
        return Card(title, rows=rows, note=note, frame=frame)
    return table_card(title, frame, note=note)


def table_card(
    title: str, frame: pd.DataFrame, note: str | None = None, columns: Sequence[str] = ()
) -> Card:
    """Any table as a card: its ``columns`` (default: all), no index, byte counts in a ``size``
    or ``bytes`` column in human units, times to the minute."""
    shown = frame.loc[:, list(columns)] if columns else frame
    if shown.empty:
        return Card(title, note=note or "Nothing to show.", frame=frame)
    cells = shown.copy()
    for column in cells.columns:
        cells[column] = [_cell(column, value) for value in shown[column]]
    return Card(title, table=cells, note=note, frame=frame)


# -- cells ------------------------------------------------------------------------------


def _esc(value: Any) -> str:
    """Text for an element's content: <, > and & escaped (quotes need not be, and stay readable
    to a search)."""
    return html.escape(str(value), quote=False)


def _attr(value: Any) -> str:
    """Text for an attribute's value: quotes escaped too."""
    return html.escape(str(value), quote=True)


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(value != value)  # None, NaN, NaT, pd.NA
    except (TypeError, ValueError):
        return False


def _readable(value: Any) -> str:
    """A cell as a person reads it: no ``nan``/``None``, yes/no for booleans."""
    if _missing(value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _cell(column: Any, value: Any) -> str:
    if _missing(value):
        return ""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "yes" if value else "no"
    if str(column) in SIZE_COLUMNS and isinstance(value, numbers.Real) and math.isfinite(value):
        return human_bytes(float(value))
    if hasattr(value, "strftime"):  # a Timestamp or datetime: to the minute
        return str(value.strftime("%Y-%m-%d %H:%M"))
    return str(value)


def _exact(value: Any, unit: Any) -> str | None:
    """A figure's tooltip: ``29,301,996,265 bytes``."""
    if _missing(value):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:,} {unit}" if unit and not _missing(unit) else f"{number:,}"


def _table_html(table: pd.DataFrame) -> str:
    head = "".join(f'<th style="{HEADER}">{_esc(c)}</th>' for c in table.columns)
    body = []
    for values in table.itertuples(index=False):
        cells = "".join(f'<td style="{VALUE}">{_esc(v)}</td>' for v in values)
        body.append(f'<tr style="{ROW}">{cells}</tr>')
    return (
        f'<table style="{TABLE}"><thead><tr style="{ROW}">{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _table_text(table: pd.DataFrame) -> list[str]:
    """A table's header and rows as text, every column left-aligned."""
    rows = [[str(c) for c in table.columns], *([str(v) for v in r] for r in table.values)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(table.columns))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
