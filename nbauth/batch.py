"""Many logins at once: ``login_many`` and ``alogin_many``.

A table of accounts (a DataFrame, or a list of dicts) logs in on asyncio, at most
``concurrency`` logins in flight, each row one ``LoginRequest`` run by ``nbauth.api.arun``, so
every check and masking rule of a single login holds. A row that fails is recorded in its own
row and never stops the others. The result is a table with no secret in it; the sessions are
stored under their aliases, as ``login`` stores them.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from . import _checks, _redact, services
from .api import arun
from .errors import NbAuthError, UsageError
from .progress import bar as progress_bar
from .request import LoginRequest
from .secret import Secret
from .services.fields import every

if TYPE_CHECKING:
    import pandas as pd

    from ._session import Session
    from .tables import Storage

__all__ = ["DEFAULT_CONCURRENCY", "alogin_many", "login_many"]

DEFAULT_CONCURRENCY = 16
#: The result's first columns; the storage columns follow.
COLUMNS = ("alias", "service", "ok", "error", "username")


#: Cells that hold a credential. They go to the login only: a share URL opens its share.
def secret_columns(names: list[str]) -> tuple[str, ...]:
    """The columns a row's credentials come in, left out of the result: the sensitive fields
    of the services named (nbauth.services.fields)."""
    declared = every(services.get(name) for name in names)
    return tuple(name for name, field in declared.items() if field.sensitive)


@_redact.scrubbed
def login_many(
    rows: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    storage: bool = True,
    progress: bool | None = None,
    check_shares: bool = False,
) -> pd.DataFrame:
    """Log in every row of ``rows`` at once, at most ``concurrency`` at a time.

    Each row (a dict, or a DataFrame row) holds ``service`` and the keyword arguments of
    ``nbauth.login`` (``username``, ``password``, ``token``, ``share_url``, ``user_id``,
    ``code``, ``url``, ``timeout``...); an empty cell (None, NaN) means "not given". Without an
    ``alias``, a row is stored as ``<service>-<i>``, ``i`` being its position. Returns one row
    per input row: alias, service, ok, error, username and, unless ``storage=False``, the
    account's storage figures. ``progress`` shows a tqdm bar (default: only in a notebook).
    Works in a running event loop too (a Jupyter kernel): the logins then run on a thread of
    their own, and an interrupt stops them (the sessions already made stay stored).

    An ioGates share-URL row is one request: the token, whose answer holds the storage. The
    share itself is not read, so a share that needs an SMS code refuses its first call, not
    its login. ``check_shares=True`` reads each share too (one more request per row) and
    records a share that needs a code as its row's error, without having an SMS sent: a batch
    must not text every share owner's phone. A row with a ``code`` always completes its check.
    """
    batch = _Batch(rows, concurrency, storage, progress, check_shares)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(batch.run())
    # This thread's loop is busy running the caller and cannot be re-entered.
    with ThreadPoolExecutor(1, thread_name_prefix="nbauth-login-many") as pool:
        running = pool.submit(asyncio.run, batch.run())
        try:
            return running.result()
        except KeyboardInterrupt:  # a notebook's stop button: stop the logins still running
            batch.cancel()
            raise


@_redact.scrubbed_async
async def alogin_many(
    rows: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    storage: bool = True,
    progress: bool | None = None,
    check_shares: bool = False,
) -> pd.DataFrame:
    """The async twin of ``login_many``: same arguments, same result."""
    return await _Batch(rows, concurrency, storage, progress, check_shares).run()


class _Row:
    """One row's login: where it is stored, and its login's keyword arguments."""

    def __init__(self, alias: str, service: str, arguments: dict[str, Any]):
        self.alias = alias
        self.service = service
        self.arguments = arguments
        #: The row's credentials, to mask wherever a message might echo one: as passwords,
        #: which show nothing of themselves.
        self.secrets = [
            Secret(v if isinstance(v, Secret) else str(v), "password")
            for v in (arguments.get(k) for k in secret_columns([service]))
            if v is not None
        ]

    def forget(self) -> None:
        """Drop the row's credentials once its login is over: a frame that still holds the
        row (a traceback's, after an interrupt) then holds none."""
        for name in secret_columns([self.service]):
            self.arguments.pop(name, None)
        self.secrets = []


class _Batch:
    """The checked rows and options of one batch; ``run`` logs them in."""

    def __init__(self, rows: Any, concurrency: Any, storage: Any, progress: Any, check_shares: Any):
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise UsageError(
                f"concurrency= must be a whole number of at least 1, not {concurrency!r}."
            )
        if not isinstance(storage, bool):
            raise UsageError(f"storage= must be True or False, not {storage!r}.")
        if progress is not None and not isinstance(progress, bool):
            raise UsageError(
                f"progress= must be True, False or None (a bar in a notebook), not {progress!r}."
            )
        if not isinstance(check_shares, bool):
            raise UsageError(f"check_shares= must be True or False, not {check_shares!r}.")
        self.rows, self.index = _read(rows)
        for row in self.rows:
            if row.service == "iogates" and "share_url" in row.arguments:
                row.arguments.setdefault("share_check", "read" if check_shares else "skip")
        self.concurrency = concurrency
        self.storage: bool = storage
        # Shown here, in the caller's thread: a notebook shows output of the cell's own thread.
        self.bar = progress_bar(len(self.rows), progress, "nbauth logins", "login")
        self._stop = threading.Event()
        self._task: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None

    async def run(self) -> pd.DataFrame:
        """``concurrency`` workers take rows from one iterator: exactly that many logins in
        flight, and no task per row waiting its turn."""
        import pandas as pd

        task = asyncio.current_task()
        assert task is not None
        self._task = (asyncio.get_running_loop(), task)
        results: list[dict[str, Any]] = [{} for _ in self.rows]
        todo = iter(enumerate(self.rows))
        failed = 0

        async def worker() -> None:
            nonlocal failed
            for i, row in todo:  # one shared iterator: each row is taken by one worker
                results[i] = await self.login(row)
                failed += not results[i]["ok"]
                if self.bar is not None:
                    self.bar.set_postfix(failed=failed, refresh=False)
                    self.bar.update(1)

        try:
            if self._stop.is_set():
                raise asyncio.CancelledError
            await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(self.rows)))))
        finally:
            for row in self.rows:  # done, failed or interrupted: no row keeps its password
                row.forget()
            if self.bar is not None:
                self.bar.close()
        frame: pd.DataFrame = pd.DataFrame(results, columns=None if results else list(COLUMNS))
        # Byte counts stay whole numbers beside missing ones; no error at all is still text.
        frame = frame.convert_dtypes().astype({"error": "string"})
        if self.index is not None:
            frame.index = self.index
        return frame

    async def login(self, row: _Row) -> dict[str, Any]:
        """One row of the result: the login, then its storage, both in this row's turn."""
        result: dict[str, Any] = {
            "alias": row.alias,
            "service": row.service,
            "ok": False,
            "error": None,
            "username": _shown(row.arguments.get("username")),
        }
        try:
            request = LoginRequest.from_arguments(row.service, alias=row.alias, **row.arguments)
            session = await arun(request)
        except Exception as exc:  # recorded in its row: the other logins go on
            result["error"] = _described(exc, row)
            return result
        result.update(service=session.service, ok=True, username=session.username)
        if self.storage:
            result.update(await _storage_columns(session, row))
        return result

    def cancel(self) -> None:
        """Stop the batch from another thread; the sessions already made stay stored."""
        self._stop.set()
        if self._task is not None:
            loop, task = self._task
            with contextlib.suppress(RuntimeError):  # its loop has already finished
                loop.call_soon_threadsafe(task.cancel)


def _read(rows: Any) -> tuple[list[_Row], pd.Index | None]:
    """The rows as logins, or a UsageError naming the rows that cannot be one."""
    import pandas as pd

    if isinstance(rows, pd.DataFrame):
        records: list[Any] = rows.to_dict("records")
        index: pd.Index | None = rows.index
    elif isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Iterable):
        raise UsageError(
            "login_many takes a DataFrame or a list of dicts, one per account, "
            f"not {type(rows).__name__}."
        )
    else:
        records, index = list(rows), None
    made, problems = [], []
    for i, record in enumerate(records):
        if not isinstance(record, Mapping) or not all(isinstance(k, str) for k in record):
            problems.append(f"row {i} is not a dict with text keys")
            continue
        given = {k: _plain(v) for k, v in record.items() if _given(v)}
        service, alias = given.pop("service", None), given.pop("alias", None)
        if not isinstance(service, str) or not service.strip():
            problems.append(f"row {i} has no service")
        elif alias is not None and not isinstance(alias, str):
            problems.append(f"row {i}'s alias is not text")
        else:
            name = _service_name(service)
            made.append(_Row(alias.strip() if alias else f"{name}-{i}", name, given))
    if problems:
        raise UsageError(
            f"login_many: {'; '.join(problems[:5])}{'...' if len(problems) > 5 else ''}. Give each "
            f"row a service ({', '.join(services.names())}) and its login's keyword arguments."
        )
    _refuse_shared_aliases(made)
    return made, index


def _given(value: Any) -> bool:
    """Whether a cell holds a value: None, NaN, NA and NaT mean it was left empty."""
    import pandas as pd

    return not (pd.api.types.is_scalar(value) and pd.isna(value))


def _plain(value: Any) -> Any:
    """A numpy scalar as its Python value: ``login`` checks ``timeout`` and the flags by type."""
    import numpy as np

    return value.item() if isinstance(value, np.generic) else value


def _service_name(service: str) -> str:
    """The service's own name (``Rocket.Chat`` -> ``rocketchat``) for the alias and the result."""
    try:
        return services.get(service).name
    except UsageError:  # an unknown service: its row fails, and says so
        return service.strip()


def _refuse_shared_aliases(rows: list[_Row]) -> None:
    """Sessions are stored by alias: two rows with one alias would replace each other."""
    where: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        where.setdefault(row.alias, []).append(i)
    shared = {alias: found for alias, found in where.items() if len(found) > 1}
    if shared:
        listed = "; ".join(
            f"'{alias}' (rows {', '.join(map(str, found))})" for alias, found in shared.items()
        )
        raise UsageError(
            f"login_many: each row needs an alias of its own, since sessions are stored by "
            f"alias. Shared: {listed}. Change them, or leave alias out for <service>-<row>."
        )


async def _storage_columns(session: Session, row: _Row) -> dict[str, Any]:
    """The session's storage as columns of its row; a failure to read it goes in storage_note."""
    try:
        storage = await session.astorage()
    except Exception as exc:
        return {"storage_note": f"Storage not read: {_described(exc, row)}"}
    return _flattened(storage)


def _flattened(storage: Storage) -> dict[str, Any]:
    """Each figure (ioGates' max_file_size and available_storage, Rocket.Chat's server-wide
    upload statistics) in a column of its own, numbers as numbers; any other rows (Couchdrop's
    storage connections) as one text column; the service's note, if any, in storage_note."""
    columns: dict[str, Any] = {}
    others = []
    for entry in storage.rows:
        if "item" in entry:
            name = str(entry["item"]).replace(" ", "_")
            columns[name] = entry.get("bytes", entry.get("value"))
        else:
            others.append(" ".join(str(v) for k, v in entry.items() if k != "id" and v))
    if others:
        columns["storage"] = "; ".join(others)
    if storage.note:
        columns["storage_note"] = storage.note
    return columns


def _shown(username: Any) -> str | None:
    """A row's username for its result, when it is text a table can hold (a lone surrogate,
    which no table can, is the row's error instead)."""
    return username if isinstance(username, str) and _checks.problem(username) is None else None


def _described(exc: Exception, row: _Row) -> str:
    """The error as its row shows it, with any of the row's secrets masked."""
    if isinstance(exc, NbAuthError):
        text = f"{type(exc).__name__}: {exc.message}"
    else:  # not a failure nbauth knows: a bug, recorded so the batch goes on
        text = f"{type(exc).__name__} (a bug in nbauth, please report it): {exc}"
    return _redact.mask_whole(text, row.secrets)
