"""Batch ingest: discover files, skip known content, analyse in worker processes, store each
image with its faces in one transaction, index the accepted faces.

dlib runs on one core, so throughput comes from processes. The main process reads and hashes
each file and sends its bytes to a worker (so the analysed bytes are exactly the hashed ones);
only the main process writes to the store and the index. Every image is committed on its own,
so an interrupted run loses at most the images in flight, and a rerun skips everything already
stored (by sha256) and resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from facelens.config import Settings
from facelens.errors import FacelensError, ImageNotFoundError
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import decode_image, read_image_bytes
from facelens.types import ImageAnalysis, IngestFailure

#: Extensions picked up when a folder is walked. Files named explicitly are always tried.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".jfif", ".pgm", ".ppm"}
)

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class AnalysedFile:
    location: str
    sha256: str
    outcome: ImageAnalysis | IngestFailure


def discover(paths: Iterable[Path], failures: list[IngestFailure] | None = None) -> list[Path]:
    """Image files under ``paths``, recursively, in a stable order; hidden entries skipped.

    A folder that cannot be listed (permissions, a vanished mount) is appended to ``failures``
    rather than skipped in silence; symlinked folders are not followed, so a loop cannot
    recur.
    """
    found: list[Path] = []

    def unreadable(error: OSError) -> None:
        if failures is not None:
            location = error.filename or "?"
            failures.append(failure(str(location), _unreadable_folder(error)))

    for path in paths:
        try:
            is_dir = path.is_dir()
        except OSError:  # e.g. inside a folder we may not enter: read_files names the cause
            is_dir = False
        if is_dir:
            for root, dirs, files in os.walk(path, onerror=unreadable):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                        found.append(Path(root) / name)
        else:
            found.append(path)  # missing files surface as per-file errors, not here
    return found


def _unreadable_folder(error: OSError) -> ImageNotFoundError:
    return ImageNotFoundError(
        f"{error.filename}: the folder cannot be read ({error.strerror}); its files were not "
        "ingested (give this account read and execute permission on it and run again)"
    )


def _location(path: Path) -> str:
    """The absolute path, symlinks resolved where they can be (a loop cannot)."""
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):  # RuntimeError: Python 3.11's "Symlink loop"
        return str(path.absolute())


def failure(location: str, error: BaseException) -> IngestFailure:
    if isinstance(error, FacelensError):
        return IngestFailure(location=location, error=error.code, message=str(error))
    return IngestFailure(
        location=location, error="internal_error", message=f"{type(error).__name__}: {error}"
    )


# --- worker side ------------------------------------------------------------------------

_worker_pipeline: FacePipeline | None = None


def _init_worker(settings: Settings) -> None:
    global _worker_pipeline
    _worker_pipeline = FacePipeline(settings)


def analyse_bytes(pipeline: FacePipeline, location: str, sha256: str, data: bytes) -> AnalysedFile:
    try:
        image = decode_image(
            data,
            max_image_bytes=pipeline.settings.max_image_bytes,
            max_image_pixels=pipeline.settings.max_image_pixels,
            max_decode_bytes=pipeline.settings.max_decode_bytes,
            name=location,
        )
        return AnalysedFile(location, sha256, pipeline.analyse(image))
    except Exception as exc:  # one bad file never aborts the batch
        return AnalysedFile(location, sha256, failure(location, exc))


def _worker_analyse(location: str, sha256: str, data: bytes) -> AnalysedFile:
    assert _worker_pipeline is not None, "worker not initialised"
    return analyse_bytes(_worker_pipeline, location, sha256, data)


# --- main side --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadFile:
    location: str
    sha256: str
    data: bytes


def read_files(
    files: Iterable[Path], settings: Settings, known_hashes: set[str]
) -> Iterator[ReadFile | IngestFailure | None]:
    """Read and hash each file: ``ReadFile`` to analyse, ``IngestFailure``, or ``None`` for a
    duplicate (content already stored, or seen earlier in this batch)."""
    for path in files:
        location = _location(path)
        try:
            data = read_image_bytes(path, settings.max_image_bytes)
        except FacelensError as exc:
            # The path as given: a dangling link's target is not a name the user knows.
            yield failure(str(path.absolute()), exc)
            continue
        sha256 = hashlib.sha256(data).hexdigest()
        if sha256 in known_hashes:
            yield None
            continue
        known_hashes.add(sha256)
        yield ReadFile(location, sha256, data)


def analyse_files(
    items: Iterator[ReadFile | IngestFailure | None],
    settings: Settings,
    workers: int,
    pipeline: FacePipeline,
) -> Iterator[AnalysedFile | IngestFailure | None]:
    """Analyse what ``read_files`` yields, in ``workers`` processes (in this one when 1).
    Results come back in completion order."""
    if workers <= 1:
        for item in items:
            if isinstance(item, ReadFile):
                yield analyse_bytes(pipeline, item.location, item.sha256, item.data)
            else:
                yield item
        return
    # spawn: dlib and FAISS hold native state that is not safe to fork.
    context = multiprocessing.get_context("spawn")
    max_in_flight = workers * 4
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(worker_settings(settings, workers),),
    ) as pool:
        pending: dict[Future[AnalysedFile], ReadFile] = {}

        def collect(block_until: int) -> Iterator[AnalysedFile]:
            while len(pending) > block_until:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    item = pending.pop(future)
                    try:
                        yield future.result()
                    except Exception as exc:  # e.g. a worker killed by the OS
                        yield AnalysedFile(item.location, item.sha256, failure(item.location, exc))

        try:
            for item in items:
                if not isinstance(item, ReadFile):
                    yield item
                    continue
                pending[pool.submit(_worker_analyse, item.location, item.sha256, item.data)] = item
                yield from collect(max_in_flight - 1)
            yield from collect(0)
        finally:
            for future in pending:
                future.cancel()


def worker_settings(settings: Settings, workers: int) -> Settings:
    """The settings of one of ``workers`` processes: the cores shared out among them. Left to
    itself, ONNX Runtime gives every process a thread a core, and the workers' threads then
    fight over the cores their detectors need (600 LFW photos on 2 cores, 2 workers: 22.6
    photos/s with a thread a core each, 30.3 with one each; bench/ingest.py)."""
    if settings.onnx_intra_op_threads or workers <= 1:
        return settings
    cores = os.cpu_count() or 1
    return settings.model_copy(update={"onnx_intra_op_threads": max(1, cores // workers)})


def default_workers(settings: Settings) -> int:
    return settings.ingest_workers or os.cpu_count() or 1
