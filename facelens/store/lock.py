"""The data-folder lock: every process that opens an engine on a folder holds it.

Ordinary opens (CLI commands, the server, the Python API) hold it shared: SQLite copes with
several readers and writers. Key rotation, schema migrations and index rebuilds need the folder
alone and take it exclusive; when another process holds it they are refused at once, naming
that process, rather than leaving it reading templates sealed with a key that is gone.

The lock is an OS lock (``flock``) on ``facelens.lock`` in the data folder: the kernel drops it
when its process dies, so a killed process never leaves a stale lock. Who holds it is written
to ``facelens.lock.d/<pid>-<token>.json`` (pid, command, since when, mode), each file itself
flocked by its holder, so that a file whose holder died is recognised (and removed) by anyone.
``flock`` locks belong to an open file, not a process: two engines of one process on one
folder are two holders.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from facelens.errors import DataFolderInUseError

LOCK_NAME = "facelens.lock"
HOLDERS_DIR = "facelens.lock.d"
#: How long a shared open waits for an exclusive holder (a migration, a short rebuild).
SHARED_WAIT_S = 5.0
_POLL_S = 0.05
_MAX_COMMAND_CHARS = 200


@dataclass(frozen=True, slots=True)
class Holder:
    pid: int
    command: str
    since: datetime
    mode: str  # "shared" or "exclusive"

    def describe(self) -> str:
        since = self.since.isoformat(timespec="seconds")
        return f"`{self.command}` (pid {self.pid}, since {since})"


def this_command() -> str:
    """The command line of this process, as a person would recognise it (``facelens serve``)."""
    argv = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    text = " ".join(argv)
    return text if len(text) <= _MAX_COMMAND_CHARS else text[: _MAX_COMMAND_CHARS - 3] + "..."


def _try_flock(handle: IO[bytes], operation: int) -> bool:
    try:
        fcntl.flock(handle.fileno(), operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def holders(data_dir: Path, skip: Path | None = None) -> list[Holder]:
    """The processes holding ``data_dir`` now (info files of dead ones are removed), but the
    one whose info file is ``skip``."""
    found: list[Holder] = []
    folder = data_dir / HOLDERS_DIR
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.json")):
        if path == skip:
            continue
        try:
            handle = path.open("rb")
        except OSError:
            continue  # removed meanwhile
        with handle:
            if _try_flock(handle, fcntl.LOCK_SH):
                # Nobody holds it: its process died (the kernel dropped its lock).
                path.unlink(missing_ok=True)
                continue
            try:
                info = json.loads(handle.read())
                found.append(
                    Holder(
                        int(info["pid"]),
                        str(info["command"]),
                        datetime.fromisoformat(info["since"]),
                        str(info["mode"]),
                    )
                )
            except (ValueError, KeyError, TypeError):
                continue  # being rewritten this instant
    return found


class FolderLock:
    """This process's hold on one data folder (see the module docstring)."""

    def __init__(self, data_dir: Path, command: str | None = None) -> None:
        self.data_dir = data_dir
        self.command = command or this_command()
        self.mode: str | None = None
        self._lock: IO[bytes] | None = None
        self._info: IO[bytes] | None = None
        self._info_path: Path | None = None
        self._since = datetime.now(UTC)

    # --- taking and leaving -------------------------------------------------------------

    def acquire_shared(self, wait_s: float = SHARED_WAIT_S) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = (self.data_dir / LOCK_NAME).open("ab")
        deadline = time.monotonic() + wait_s
        while not _try_flock(self._lock, fcntl.LOCK_SH):
            if time.monotonic() >= deadline:
                others = self.others()
                self._lock.close()
                self._lock = None
                raise DataFolderInUseError(
                    f"the data folder {self.data_dir} is in use by {_named(others)}, which "
                    "needs it alone; wait for it to finish, then retry"
                )
            time.sleep(_POLL_S)
        self.mode = "shared"
        self._write_info()

    def release(self) -> None:
        if self._info is not None:
            assert self._info_path is not None
            self._info_path.unlink(missing_ok=True)
            self._info.close()
            self._info = None
        if self._lock is not None:
            self._lock.close()  # closing drops the flock
            self._lock = None
        self.mode = None

    @contextmanager
    def exclusive(self, what: str, wait_s: float = 0.0) -> Iterator[None]:
        """Hold the folder alone while the block runs (``what``: "rotating the key"), then
        shared again. Refused with ``DataFolderInUseError`` naming the other holders."""
        if self.mode == "exclusive":  # nested: already alone
            yield
            return
        assert self._lock is not None, "acquire_shared first"
        deadline = time.monotonic() + wait_s
        while True:
            # Linux converts a flock by dropping the old one first: a refused upgrade leaves
            # none, so the shared lock is taken back (blocking: only an exclusive holder that
            # slipped into that instant can delay it, until it is done).
            if _try_flock(self._lock, fcntl.LOCK_EX):
                break
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_SH)
            if time.monotonic() >= deadline:
                raise DataFolderInUseError(
                    f"the data folder {self.data_dir} is in use by {_named(self.others())}; "
                    f"stop it before {what}"
                )
            time.sleep(_POLL_S)
        self.mode = "exclusive"
        self._write_info()
        try:
            yield
        finally:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_SH)
            self.mode = "shared"
            self._write_info()

    # --- who holds it ---------------------------------------------------------------------

    def others(self) -> list[Holder]:
        return holders(self.data_dir, skip=self._info_path)

    def _write_info(self) -> None:
        info = json.dumps(
            {
                "pid": os.getpid(),
                "command": self.command,
                "since": self._since.isoformat(),
                "mode": self.mode,
            }
        ).encode()
        if self._info is None:
            folder = self.data_dir / HOLDERS_DIR
            folder.mkdir(exist_ok=True)
            name = f"{os.getpid()}-{secrets.token_hex(4)}"
            # Written and flocked under a temporary name, then renamed: a reader never sees
            # it unlocked and takes it for a dead holder's.
            tmp = folder / f"{name}.tmp"
            handle = tmp.open("w+b")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            handle.write(info)
            handle.flush()
            self._info_path = folder / f"{name}.json"
            tmp.replace(self._info_path)
            self._info = handle
            return
        with suppress(OSError):
            self._info.seek(0)
            self._info.truncate()
            self._info.write(info)
            self._info.flush()


def _named(others: list[Holder]) -> str:
    if not others:
        return "another process (it gave no details)"
    return ", ".join(h.describe() for h in others)
