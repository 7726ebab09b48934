"""A dashboard for one person: a login form (nbauth.LoginForm), and once they are logged in, their
profile, storage and recent activity as cards and charts.

``notebooks/dashboard.ipynb`` shows one; ``voila notebooks/dashboard.ipynb`` serves it as a web
app that shows no code. What it shows under the form, by service:

- Rocket.Chat: the messages of the most recently active rooms in the DAYS before the latest one,
  per day and per hour (charts), and per room (a card);
- ioGates: storage used against what is left (a bar), and the newest files (a card);
- Couchdrop: the largest folders (a bar), and the files changed last (a card).

Charts need matplotlib (``pip install 'nbauth[plot]'``); without it their tables show instead.
The form's server for each service is ``NBAUTH_<SERVICE>_URL`` where that variable is set (the
sandbox sets them), else what the form would use anyway. Nothing here holds a secret: the form
keeps them, and a card or chart shows only names, counts, sizes and times.
"""

from __future__ import annotations

import base64
import os
from collections import deque
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from . import plots
from .cards import Card, table_card
from .errors import NbAuthError
from .form import LoginForm, _display_data

if TYPE_CHECKING:
    import pandas as pd

    from ._session import Session

__all__ = ["Dashboard", "folder_sizes", "overview", "recent_messages", "tree"]

#: Rocket.Chat: the days before the latest message that count as recent, the rooms read (the
#: most recently active first) and the messages read per room at most.
DAYS = 14
ROOMS = 10
PER_ROOM = 500
#: Couchdrop has no recursive listing: at most this many folders are listed, one call each.
MAX_FOLDERS = 200
#: Rows of a "newest files" card, and bars of a "largest folders" chart.
NEWEST = 8
LARGEST = 8
HEADING = "font-size:15px;font-weight:600;margin:12px 0 2px"
#: A chart's width in inches (100 pixels each): two side by side on a laptop's screen.
CHART_WIDTH = 5.6


class Dashboard:
    """The login form, and under it the logged-in person's recent activity.

    Show it as a cell's last expression. ``dashboard.form`` is the LoginForm (``form.session``
    the Session once logged in); ``dashboard.activity`` holds the activity's cards and charts,
    an Output each (``dashboard.outputs``: what they show).
    """

    def __init__(self, service: str | None = "rocketchat") -> None:
        self.form = LoginForm(service, url=_server_of(service))
        self.heading = widgets.HTML()
        #: The activity's cards and charts, side by side while they fit, then on the next line.
        self.activity = widgets.Box(layout=widgets.Layout(flex_flow="row wrap"))
        self.box = widgets.VBox([self.form.box, self.heading, self.activity])
        self.shown: Session | None = None
        self.form.service.observe(self._service_changed, names="value")
        # The form's status line changes at each step, and says so once a login succeeded (or
        # a session was logged out): then the activity follows the form's session.
        self.form.status.observe(self._status_changed, names="value")

    def _service_changed(self, change: dict[str, Any]) -> None:
        url = _server_of(change["new"])
        if url:
            self.form.url.value = url

    def _status_changed(self, _change: dict[str, Any]) -> None:
        session = self.form.session
        if session is self.shown:
            return
        self.shown = session
        if session is None:
            self._clear()
        else:
            self.show(session)  # in place of what was shown

    def _clear(self) -> None:
        """Take the activity away, closing its widgets (the front ends then drop them)."""
        old, self.activity.children = self.activity.children, ()
        for child in old:
            child.close()
        self.heading.value = ""

    def show(self, session: Session) -> None:
        """Put ``session``'s recent activity under the form, in place of any shown before."""
        self._clear()
        self.heading.value = f'<div style="{HEADING}">Recent activity</div>'
        self.activity.children = tuple(_shown(item) for item in overview(session))

    def close(self) -> None:
        """Close the form (dropping any password it holds) and every widget of the dashboard."""
        self._clear()
        self.form.close()
        for widget in (self.heading, self.activity, self.box):
            widget.close()

    @property
    def outputs(self) -> list[dict[str, Any]]:
        """What the activity shows, as display_data outputs (one per card or chart)."""
        return [output for child in self.activity.children for output in child.outputs]

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.box._repr_mimebundle_(**kwargs))
        bundle["text/plain"] = self.form._repr_mimebundle_(**kwargs).get("text/plain", "")
        return bundle

    def __repr__(self) -> str:
        return f"<nbauth Dashboard: {self.form!r}>"


def overview(session: Session) -> list[Any]:
    """What the dashboard shows for ``session``: cards and charts (tables without matplotlib).
    A data call that fails leaves a card saying why instead."""
    make = VIEWS.get(session.service)
    if make is None:
        return [Card("Recent activity", note=f"No activity view for {session.title} yet.")]
    try:
        return make(session)
    except NbAuthError as exc:
        return [Card("Recent activity", note=f"Not available. {exc.message}", error=True)]


# -- Rocket.Chat ------------------------------------------------------------------------


def recent_messages(
    session: Any, days: int = DAYS, rooms: int = ROOMS, per_room: int = PER_ROOM
) -> pd.DataFrame:
    """The messages of the ``rooms`` most recently active rooms from ``days`` before the latest
    message on (at most ``per_room`` a room), newest first, with a ``room`` column
    (``#general``, ``@dave``)."""
    import pandas as pd

    listed = session.rooms().dropna(subset=["last_message"]).head(rooms)
    found = []
    if not listed.empty:
        since = listed["last_message"].max() - pd.Timedelta(days=days)
        for room in listed.itertuples(index=False):
            if room.last_message < since:
                continue
            got = session.messages(
                room.id, oldest=since.to_pydatetime(), limit=per_room, progress=False
            )
            found.append(got.assign(room=("@" if room.type == "direct" else "#") + room.name))
    if not found:
        empty: pd.DataFrame = pd.DataFrame(columns=["ts", "username", "room"])
        return empty
    joined: pd.DataFrame = pd.concat(found, ignore_index=True)
    newest_first: pd.DataFrame = joined.sort_values("ts", ascending=False, ignore_index=True)
    return newest_first


def _rocketchat(session: Session) -> list[Any]:
    import pandas as pd

    found = recent_messages(session)
    if found.empty:
        return [Card("Recent activity", note="No messages in the rooms this account is in.")]
    stamps = found["ts"]
    days = pd.date_range(stamps.min().floor("D"), stamps.max().floor("D"), freq="D")
    per_day = stamps.dt.floor("D").value_counts().reindex(days, fill_value=0).rename("messages")
    per_day.index = pd.Index(per_day.index.strftime("%b %d"), name="day (UTC)")
    per_hour = (
        stamps.dt.hour.value_counts()
        .reindex(range(24), fill_value=0)
        .rename_axis("hour (UTC)")
        .rename("messages")
    )
    rooms = (
        found.groupby("room")
        .agg(messages=("ts", "size"), people=("username", "nunique"), last=("ts", "max"))
        .sort_values("last", ascending=False)
        .reset_index()
    )
    span = f"{stamps.min():%b %d} to {stamps.max():%b %d %Y}"
    return [
        plots.bars(per_day, f"Messages per day, {span}", width=CHART_WIDTH),
        plots.bars(per_hour, "Messages per hour of the day (UTC)", width=CHART_WIDTH),
        table_card("Rooms", rooms, note=f"{len(found):,} messages, {span}."),
    ]


# -- ioGates ----------------------------------------------------------------------------


def _iogates(session: Session) -> list[Any]:
    files = tree(session)
    is_file = ~files["is_dir"].astype(bool)
    used = float(files.loc[is_file, "size"].fillna(0).sum())
    storage = session.storage_frame()
    shown: list[Any] = []
    if {"item", "bytes"} <= set(storage.columns):
        left = storage.loc[storage["item"] == "available_storage", "bytes"]
        if len(left):
            title = "Storage used and available"
            shown.append(plots.usage(used, float(left.iloc[0]), title, width=CHART_WIDTH))
    if not shown:
        shown.append(Card("Storage", note="ioGates told no available storage for this login."))
    newest = files[is_file].sort_values("created", ascending=False).head(NEWEST)
    shown.append(table_card("Newest files", newest, columns=("path", "type", "size", "created")))
    return shown


# -- Couchdrop --------------------------------------------------------------------------


def _couchdrop(session: Session) -> list[Any]:
    files = tree(session)
    is_file = ~files["is_dir"].astype(bool)
    note = files.attrs.get("note")
    if not is_file.any():
        return [Card("Files", note=note or "No files in this account.")]
    largest = folder_sizes(files).head(LARGEST)
    changed = files[is_file].sort_values("modified", ascending=False).head(NEWEST)
    return [
        plots.bars(largest, "Largest folders", horizontal=True, sizes=True, width=CHART_WIDTH),
        table_card("Changed last", changed, note, columns=("path", "size", "modified")),
    ]


# -- files ------------------------------------------------------------------------------


def tree(session: Any, path: str = "/", max_folders: int = MAX_FOLDERS) -> pd.DataFrame:
    """Every file and folder under ``path``, as ``session.ls`` lists them. ioGates lists a tree
    in one call; Couchdrop lists one folder a call, so at most ``max_folders`` folders are read
    (breadth first), and ``frame.attrs["note"]`` says when some were left out."""
    import pandas as pd

    if session.service == "iogates":
        listed: pd.DataFrame = session.ls(path, recursive=True)
        return listed
    frames, todo, read = [], deque([path]), 0
    while todo and read < max_folders:
        listing = session.ls(todo.popleft())
        read += 1
        frames.append(listing)
        todo.extend(listing.loc[listing["is_dir"].astype(bool), "path"])
    found: pd.DataFrame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if todo:
        found.attrs["note"] = f"Only the first {max_folders} folders were read."
    return found


def folder_sizes(files: pd.DataFrame, depth: int = 1) -> pd.Series[Any]:
    """The bytes of the files under each folder ``depth`` levels down (``/reports``), the
    largest first; the files above that depth count under their own folder (``/``)."""
    is_file = ~files["is_dir"].astype(bool)
    paths = files.loc[is_file, "path"].astype(str)
    parts = paths.str.strip("/").str.split("/")
    folder = ["/" + "/".join(p[: min(depth, len(p) - 1)]) for p in parts]
    sizes = files.loc[is_file, "size"].fillna(0).astype("int64")
    summed = sizes.groupby(folder).sum().sort_values(ascending=False, kind="stable")
    named: pd.Series[Any] = summed.rename_axis("folder").rename("size")
    return named


def _shown(item: Any) -> widgets.Output:
    """An Output widget showing ``item``: its binary data (a chart's PNG) in base64, as a
    kernel sends it (an Output's outputs go to the front end as JSON)."""
    output = _display_data(item)
    output["data"] = {
        kind: base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
        for kind, value in output["data"].items()
    }
    # Jupyter's output area takes the whole width it is given: a chart gets its own width, so
    # that two stand side by side; a card takes the line.
    wide = f"{round(CHART_WIDTH * plots.DPI) + 16}px" if isinstance(item, plots.Chart) else "100%"
    shown = widgets.Output(layout=widgets.Layout(width=wide, max_width="100%", margin="0 8px 0 0"))
    shown.outputs = (output,)
    return shown


def _server_of(service: str | None) -> str | None:
    """``NBAUTH_<SERVICE>_URL``, where it is set."""
    if not service:
        return None
    return os.environ.get(f"NBAUTH_{service.upper()}_URL") or None


VIEWS = {"rocketchat": _rocketchat, "iogates": _iogates, "couchdrop": _couchdrop}
