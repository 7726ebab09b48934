"""Charts where a picture says it better than a table: storage used against what is left, messages
per day or per hour, the largest folders.

A chart is drawn by pandas' plotting on matplotlib, the optional extra ``plot``
(``pip install 'nbauth[plot]'``, which ``nbauth[lab]`` includes). Without matplotlib every
function here returns the table it would have drawn, so a notebook shows the figures either way.

A ``Chart`` is drawn once, into PNG bytes, on a figure of its own that pyplot does not track:
nothing is shown twice, nothing waits for a GUI, and a terminal sees the table as text. The
data it draws is what it is given (counts, sizes, names): no secret goes into a chart.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .tables import human_bytes

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Chart", "available", "bars", "usage"]

#: Inches at 100 dots per inch: about a notebook's cell width, and short.
SIZE = (7.0, 2.6)
DPI = 100
COLOURS = ("#1f77b4", "#d0d7de")
#: Byte units (B, KiB, MiB...) and the round steps an axis in one of them ticks at.
STEPS_OF_1024 = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
NICE_STEPS = (1, 2, 2.5, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)


def available() -> bool:
    """Whether charts can be drawn: matplotlib is importable (the ``plot`` extra)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Chart:
    """A drawn chart and the table it shows: PNG in a notebook, the table as text elsewhere."""

    title: str
    frame: pd.DataFrame
    png: bytes

    def _repr_png_(self) -> bytes:
        return self.png

    def text(self) -> str:
        return f"{self.title}:\n{self.frame.to_string()}"

    def __str__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())


def bars(
    data: pd.DataFrame | pd.Series[Any],
    title: str,
    *,
    horizontal: bool = False,
    sizes: bool = False,
    xlabel: str | None = None,
    ylabel: str | None = None,
    width: float = SIZE[0],
) -> Chart | pd.DataFrame:
    """``data`` (a Series or a DataFrame of one or more numeric columns, its index the bars'
    labels) as bars; ``sizes=True`` reads the numbers as bytes and labels the axis in KiB, MiB...
    ``width`` is in inches (100 pixels each). Without matplotlib: the table."""
    import pandas as pd

    frame = data.to_frame() if isinstance(data, pd.Series) else data
    if not available():
        return frame
    figure, axes = _figure(width)
    single = len(frame.columns) == 1
    colour = COLOURS[0] if single else None
    if horizontal:
        frame.plot.barh(ax=axes, legend=not single, color=colour)
    else:
        frame.plot.bar(ax=axes, legend=not single, color=colour, rot=0)
    axes.set_title(title, loc="left", fontsize=11)
    axes.set_xlabel(xlabel if xlabel is not None else ("" if horizontal else frame.index.name))
    axes.set_ylabel(ylabel if ylabel is not None else "")
    if horizontal:
        axes.invert_yaxis()  # the first row on top, as in the table
    if sizes:
        _bytes_axis(axes.xaxis if horizontal else axes.yaxis, float(frame.max().max()))
    _thin_labels(axes, len(frame), horizontal)
    return Chart(title, frame, _png(figure))


def usage(
    used: float, left: float, title: str = "Storage", width: float = SIZE[0]
) -> Chart | pd.DataFrame:
    """Storage used against what is left, as one horizontal bar of two parts, each labelled in
    human units with its share. Without matplotlib: the table (``used``, ``available``)."""
    import pandas as pd

    total = used + left
    share = {"used": used, "available": left}
    frame: pd.DataFrame = pd.DataFrame(
        {
            "bytes": [int(used), int(left)],
            "human": [human_bytes(used), human_bytes(left)],
            "share": [_percent(v, total) for v in share.values()],
        },
        index=pd.Index(list(share), name="storage"),
    )
    if not available():
        return frame
    figure, axes = _figure(width, height=1.6)
    labels = [
        f"{name} {human} ({part})" for name, human, part in frame[["human", "share"]].itertuples()
    ]
    bar: pd.DataFrame = pd.DataFrame([list(share.values())], columns=labels, index=[""])
    bar.plot.barh(stacked=True, ax=axes, color=list(COLOURS), width=0.6, legend=False)
    axes.set_title(title, loc="left", fontsize=11)
    axes.set_xlim(0, total or 1)
    axes.tick_params(axis="y", left=False)
    _bytes_axis(axes.xaxis, total)
    figure.legend(loc="outside lower center", ncol=2, frameon=False)
    return Chart(title, frame, _png(figure))


# -- drawing ----------------------------------------------------------------------------


def _figure(width: float, height: float = SIZE[1]) -> tuple[Any, Any]:
    """A figure pyplot does not track (so it is never shown twice nor kept), and its axes."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = figure.subplots()
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return figure, axes


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _bytes_axis(axis: Any, top: float) -> None:
    """Ticks at round numbers of the unit the largest value is shown in (0, 5, 10, 15 GiB),
    labelled in human units."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    unit = 1024 ** min(len(STEPS_OF_1024) - 1, int(math.log(max(top, 1), 1024)))
    wanted = top / unit / 5
    step = next((s for s in NICE_STEPS if s >= wanted), NICE_STEPS[-1])
    axis.set_major_locator(MultipleLocator(step * unit))
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: human_bytes(value)))


def _thin_labels(axes: Any, count: int, horizontal: bool) -> None:
    """At most about 12 category labels, so that 24 hours or 30 days stay legible."""
    if horizontal or count <= 12:
        return
    step = -(-count // 12)
    for number, label in enumerate(axes.get_xticklabels()):
        label.set_visible(number % step == 0)


def _percent(value: float, total: float) -> str:
    if not total:
        return "0%"
    share = 100 * value / total
    return f"{share:.1f}%" if share >= 0.1 or not value else "<0.1%"
