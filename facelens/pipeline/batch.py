"""Batch ingest: discover files, skip known content, find and align faces in worker
processes, embed the chips of many images in batches, store each image with its faces in one
transaction, index the accepted faces.

dlib's detector runs on one core, so its throughput comes from processes. The main process
reads and hashes each file and sends its bytes to a worker (so the analysed bytes are exactly
the hashed ones); the worker decodes, detects, aligns and checks, and sends back the aligned
chips; the main process embeds the chips of many images in one call (the network's throughput
is in its batches, not its single-chip latency, and one process can hold the GPU). Only the
main process writes to the store and the index. Every image is committed on its own, so an
interrupted run loses at most the images in flight, and a rerun skips everything already
stored (by sha256) and resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass
from pathlib import Path

from facelens.config import Settings
from facelens.errors import FacelensError, ImageNotFoundError
from facelens.ingest_report import IngestFailure
from facelens.pipeline.analyse import FacePipeline, PreparedImage
from facelens.pipeline.decode import decode_image, read_image_bytes
from facelens.types import ImageAnalysis

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


@dataclass(frozen=True, slots=True)
class PreparedFile:
    location: str
    sha256: str
    outcome: PreparedImage | IngestFailure


def prepare_bytes(pipeline: FacePipeline, location: str, sha256: str, data: bytes) -> PreparedFile:
    """Decode, detect, align and check one file's faces; a bad file becomes its failure."""
    try:
        image = decode_image(
            data,
            max_image_bytes=pipeline.settings.max_image_bytes,
            max_image_pixels=pipeline.settings.max_image_pixels,
            max_decode_bytes=pipeline.settings.max_decode_bytes,
            name=location,
        )
        return PreparedFile(location, sha256, pipeline.prepare(image))
    except Exception as exc:  # one bad file never aborts the batch
        return PreparedFile(location, sha256, failure(location, exc))


def analyse_bytes(pipeline: FacePipeline, location: str, sha256: str, data: bytes) -> AnalysedFile:
    """One file analysed on its own (an upload, a fetched URL): prepared and embedded."""
    (analysed,) = embed_files(pipeline, [prepare_bytes(pipeline, location, sha256, data)])
    return analysed


def _worker_prepare(location: str, sha256: str, data: bytes) -> PreparedFile:
    assert _worker_pipeline is not None, "worker not initialised"
    return prepare_bytes(_worker_pipeline, location, sha256, data)


def embed_files(
    pipeline: FacePipeline, prepared: list[PreparedFile], *, probe: bool = False
) -> list[AnalysedFile]:
    """``prepared`` files with their chips embedded in one go (``probe``: as search photos).
    If embedding fails, every file of the batch is reported with that failure (and the next
    batch goes on)."""
    images = [p.outcome for p in prepared if isinstance(p.outcome, PreparedImage)]
    try:
        analyses = pipeline.embed_prepared(images, probe=probe)
    except Exception as exc:
        return [
            AnalysedFile(p.location, p.sha256, failure(p.location, exc))
            if isinstance(p.outcome, PreparedImage)
            else AnalysedFile(p.location, p.sha256, p.outcome)
            for p in prepared
        ]
    embedded = iter(analyses)
    return [
        AnalysedFile(
            p.location,
            p.sha256,
            next(embedded) if isinstance(p.outcome, PreparedImage) else p.outcome,
        )
        for p in prepared
    ]


def _without_chips(prepared: PreparedFile) -> AnalysedFile:
    """A failure, or an image with no accepted face: its analysis as it stands."""
    outcome = prepared.outcome
    if isinstance(outcome, PreparedImage):
        return AnalysedFile(
            prepared.location,
            prepared.sha256,
            ImageAnalysis(outcome.width, outcome.height, outcome.faces),
        )
    return AnalysedFile(prepared.location, prepared.sha256, outcome)


class EmbedBatcher:
    """Holds prepared files until their chips fill a batch of ``batch_size``, then hands the
    batch over."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self._held: list[PreparedFile] = []
        self._chips = 0

    def add(self, prepared: PreparedFile) -> list[PreparedFile]:
        self._held.append(prepared)
        if isinstance(prepared.outcome, PreparedImage):
            self._chips += len(prepared.outcome.chips)
        return self.flush() if self._chips >= self.batch_size else []

    def flush(self) -> list[PreparedFile]:
        held, self._held, self._chips = self._held, [], 0
        return held


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
    """Analyse what ``read_files`` yields: faces found and aligned in ``workers`` processes
    (in this one when 1), their chips embedded by ``pipeline`` in batches of
    ``embed_batch_size``. Results come back in completion order, a batch at a time.

    A batch is embedded on a thread of its own (ONNX Runtime lets go of the GIL), so that
    while it runs this thread goes on handing files to the workers and the caller goes on
    storing the previous batch."""
    batcher = EmbedBatcher(settings.embed_batch_size)
    with ThreadPoolExecutor(1, thread_name_prefix="facelens-embed") as embedder:
        running: Future[list[AnalysedFile]] | None = None
        for item in _prepare_files(items, settings, workers, pipeline):
            if not isinstance(item, PreparedFile):
                yield item
                continue
            if not isinstance(item.outcome, PreparedImage) or not item.outcome.chips:
                yield _without_chips(item)  # nothing to embed: no need to wait for a batch
                continue
            batch = batcher.add(item)
            if batch:
                if running is not None:
                    yield from running.result()
                running = embedder.submit(embed_files, pipeline, batch)
        if running is not None:
            yield from running.result()
        yield from embed_files(pipeline, batcher.flush())


def _prepare_files(
    items: Iterator[ReadFile | IngestFailure | None],
    settings: Settings,
    workers: int,
    pipeline: FacePipeline,
) -> Iterator[PreparedFile | IngestFailure | None]:
    if workers <= 1:
        for item in items:
            if isinstance(item, ReadFile):
                yield prepare_bytes(pipeline, item.location, item.sha256, item.data)
            else:
                yield item
        return
    # spawn: dlib and FAISS hold native state that is not safe to fork.
    context = multiprocessing.get_context("spawn")
    # Enough work queued that the workers keep detecting while this process embeds a batch.
    max_in_flight = workers * 4 + settings.embed_batch_size
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(worker_settings(settings, workers),),
    ) as pool:
        pending: dict[Future[PreparedFile], ReadFile] = {}

        def collect(block_until: int) -> Iterator[PreparedFile]:
            while len(pending) > block_until:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    item = pending.pop(future)
                    try:
                        yield future.result()
                    except Exception as exc:  # e.g. a worker killed by the OS
                        yield PreparedFile(item.location, item.sha256, failure(item.location, exc))

        try:
            for item in items:
                if not isinstance(item, ReadFile):
                    yield item
                    continue
                pending[pool.submit(_worker_prepare, item.location, item.sha256, item.data)] = item
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
