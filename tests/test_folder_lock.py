"""Issue 12, item 1: a lock on the data folder. `facelens keys rotate` while another process
(a server) has the folder open is refused with a message naming that process, and the folder
stays openable; a killed holder leaves no stale lock. Real processes, real photos."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from facelens.config import Settings
from facelens.engine import Engine
from facelens.errors import DataFolderInUseError
from facelens.pipeline.analyse import FacePipeline
from facelens.store.lock import FolderLock, holders
from tests.conftest import Cli, Declare

WORKTREE = Path(__file__).resolve().parents[1]
HOLD_OPEN = (
    "import sys, time, facelens\n"
    "engine = facelens.open(sys.argv[1])\n"
    "print('open', flush=True)\n"
    "time.sleep(120)\n"
)


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(WORKTREE)}


@pytest.fixture
def folder(tmp_path: Path, pipeline: FacePipeline, photos: Path, declare: Declare) -> Path:
    data = tmp_path / "data"
    with Engine(Settings(data_dir=data), pipeline=pipeline) as engine:
        declare(engine, "press")
        engine.ingest([photos / "obama.jpg", photos / "biden.jpg"], "press", workers=1)
    return data


@pytest.fixture
def holder(folder: Path) -> Iterator[subprocess.Popen[str]]:
    """A second process with an engine open on the folder (as `facelens serve` has)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_OPEN, str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "open"
    yield proc
    proc.kill()
    proc.wait()


def test_given_another_process_holds_the_folder_then_keys_rotate_is_refused_naming_it(
    folder: Path, holder: subprocess.Popen[str]
) -> None:
    cli = Cli(folder)
    before = cli.json("stats")
    output = cli("keys", "rotate", code=12)
    assert f"pid {holder.pid}" in output
    assert "stop it before rotating the key" in output
    assert "since" in output
    # Nothing changed: the folder opens, in this process and in the holder's.
    assert cli.json("stats")["faces_indexed"] == before["faces_indexed"] == 2
    assert cli("index", "rebuild", code=12).count("stop it before rebuilding the index") == 1
    # The holder dies (SIGKILL: no clean-up): its lock goes with it, rotation now works.
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert "templates re-sealed with the new key" in cli("keys", "rotate")
    after = cli.json("stats")
    assert after["faces_indexed"] == after["index_count"] == 2
    assert cli.json("index", "rebuild")["faces_indexed"] == 2


def test_given_shared_holders_then_each_is_listed_and_an_exclusive_one_excludes(
    tmp_path: Path,
) -> None:
    first = FolderLock(tmp_path, command="facelens serve")
    second = FolderLock(tmp_path, command="facelens stats")
    first.acquire_shared()
    second.acquire_shared()  # several readers and writers of the store are fine
    assert sorted(h.command for h in holders(tmp_path)) == ["facelens serve", "facelens stats"]
    refused = pytest.raises(DataFolderInUseError, match=r"`facelens serve` \(pid \d+, since ")
    with refused, second.exclusive("rotating the key"):
        pass
    assert second.mode == "shared"  # a refused upgrade keeps the shared hold
    first.release()
    with second.exclusive("rotating the key"):
        third = FolderLock(tmp_path, command="facelens search")
        with pytest.raises(DataFolderInUseError, match=r"facelens stats.*needs it alone"):
            third.acquire_shared(wait_s=0.1)
    third.acquire_shared(wait_s=0.1)
    third.release()
    second.release()
    assert holders(tmp_path) == []
