"""Bulk ingest analysed on a Ray cluster: the same stages as ``facelens.pipeline.batch``, with
Ray actors in place of the local worker processes.

The calling process (the driver) reads and hashes every file and drops those whose content
the collection already holds, exactly as local ingest does, so that nothing known is sent to
the cluster. What is left goes to Ray Data as rows of (path, sha256): no image bytes travel
through Ray, the workers read each file from its path (so every path must be readable, at the
same name, on every node: a shared filesystem) and check that its sha256 is still the one the
driver hashed (a file changed in between is reported, not analysed). Two stages of actors:

- detection actors (``map_batches`` on a pool of ``RayOptions.actors``, one CPU each), each
  holding a ``FacePipeline``: decode, detect, align, check quality; they send on the aligned
  chips;
- one embedding actor (``RayOptions.embed_gpus`` GPUs, 0 by default) that embeds the chips of
  many images in one call, as local ingest's main process does.

The analyses stream back to the driver (``iter_batches``), which stores them through the
engine's own path (legal basis, suppression of opted-out people, attribution, index), one
image a transaction: an interrupted run leaves what it stored, and a rerun skips it. Results
travel between the stages pickled (the cluster runs facelens's own code on both ends); image
bytes and embeddings are never logged, and Ray's progress bars are off.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import ray
import ray.data

from facelens.config import Settings
from facelens.distributed.options import LOCAL_CLUSTER, RayOptions
from facelens.errors import ClusterUnavailableError, ImageChangedError
from facelens.ingest_report import IngestFailure
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.batch import (
    AnalysedFile,
    PreparedFile,
    ReadFile,
    embed_files,
    failure,
    prepare_bytes,
    worker_settings,
)
from facelens.pipeline.decode import read_image_bytes

#: The column the stages hand on: one pickled ``PreparedFile`` or ``AnalysedFile`` a row.
ITEM = "item"


def prepare_path(pipeline: FacePipeline, location: str, sha256: str) -> PreparedFile:
    """Read the file at ``location`` on this node, check it is still the content hashed as
    ``sha256``, and prepare it (``prepare_bytes``); a bad file becomes its failure."""
    try:
        data = read_image_bytes(Path(location), pipeline.settings.max_image_bytes)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ImageChangedError(
                f"{location}: the file changed after it was hashed; ingest it again"
            )
    except Exception as exc:
        return PreparedFile(location, sha256, failure(location, exc))
    return prepare_bytes(pipeline, location, sha256, data)


class DetectActor:
    """A detection actor: a pipeline of its own, rows of (location, sha256) in, pickled
    ``PreparedFile`` out."""

    def __init__(self, settings: Settings) -> None:
        self.pipeline = FacePipeline(settings)

    def __call__(self, batch: pa.Table) -> pa.Table:
        locations: list[str] = batch.column("location").to_pylist()
        hashes: list[str] = batch.column("sha256").to_pylist()
        prepared = [
            pickle.dumps(prepare_path(self.pipeline, location, sha256))
            for location, sha256 in zip(locations, hashes, strict=True)
        ]
        return pa.table({ITEM: pa.array(prepared, pa.binary())})


class EmbedActor:
    """The embedding actor: pickled ``PreparedFile`` in, pickled ``AnalysedFile`` out, the
    chips of the whole batch embedded in one call."""

    def __init__(self, settings: Settings) -> None:
        self.pipeline = FacePipeline(settings)

    def __call__(self, batch: pa.Table) -> pa.Table:
        prepared: list[PreparedFile] = [pickle.loads(b) for b in batch.column(ITEM).to_pylist()]
        analysed = [pickle.dumps(a) for a in embed_files(self.pipeline, prepared)]
        return pa.table({ITEM: pa.array(analysed, pa.binary())})


def worker_pythonpath() -> str:
    """The workers' PYTHONPATH: the folder this process imported facelens from first, so that
    a worker on a node with the same layout imports the same code (a folder a node lacks is
    passed over by Python)."""
    own = str(Path(__file__).resolve().parents[2])  # the folder holding facelens/
    inherited = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join(p for p in (own, inherited) if p)


@contextmanager
def connected(options: RayOptions) -> Iterator[None]:
    """Connected to the cluster ``options.address`` names for the block (and disconnected
    after it: the cluster goes on). A process already connected (``ray.init`` called by the
    caller, with its own runtime environment) keeps its connection whatever the address, and
    ``""`` requires one."""
    if not options.address or ray.is_initialized():
        if not ray.is_initialized():
            raise RuntimeError("no Ray connection: call ray.init first or give an address")
        yield
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    arguments: dict[str, Any] = {
        "runtime_env": {"env_vars": {"PYTHONPATH": worker_pythonpath()}},
        "logging_level": logging.WARNING,
        "log_to_driver": False,
    }
    if options.address == LOCAL_CLUSTER:
        arguments["include_dashboard"] = False
    else:
        _check_reachable(options.address)
    try:
        ray.init(address=options.address, **arguments)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterUnavailableError(
            f"cannot join the Ray cluster at {options.address!r} ({exc}); start it "
            "(ray start --head) or give the head's HOST:PORT"
        ) from exc
    try:
        yield
    finally:
        ray.shutdown()


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Ray Data's own notes (execution started and finished, progress bars off) kept out of
    the command's output; its warnings still show."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _no_progress_bars() -> Iterator[None]:
    """Ray Data's progress bars off (the command shows its own), as they were after."""
    context = ray.data.DataContext.get_current()
    before = context.enable_progress_bars, context.print_on_execution_start
    context.enable_progress_bars = context.print_on_execution_start = False
    try:
        yield
    finally:
        context.enable_progress_bars, context.print_on_execution_start = before


#: ``ray.cluster_resources``, typed (Ray leaves it unannotated).
_cluster_resources: Callable[[], dict[str, float]] = ray.cluster_resources


def _check_reachable(address: str) -> None:
    """Fails at once where a ``HOST:PORT`` refuses connections (``ray.init`` would retry for
    minutes); ``auto`` and other forms are left to Ray."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as exc:
        raise ClusterUnavailableError(
            f"no Ray head answers at {address} ({exc.strerror or exc}); start it with "
            f"ray start --head --port {port}, or give the head's HOST:PORT"
        ) from None


def _cluster_cpus() -> int:
    resources = _cluster_resources()
    return max(1, int(resources.get("CPU", 1)))


def analyse_on_ray(
    items: Iterable[ReadFile | IngestFailure | None], settings: Settings, options: RayOptions
) -> Iterator[AnalysedFile | IngestFailure | None]:
    """What ``analyse_files`` does, on Ray: ``items`` (``read_files``: failures and duplicates
    are passed on at once) analysed by the cluster, in completion order."""
    rows: list[dict[str, str]] = []
    for item in items:
        if isinstance(item, ReadFile):
            rows.append({"location": item.location, "sha256": item.sha256})
        else:
            yield item
    if not rows:
        return
    with connected(options), _quiet("ray.data"), _no_progress_bars():
        actors = options.actors or _cluster_cpus()
        dataset = (
            ray.data.from_items(rows)
            .map_batches(
                DetectActor,
                fn_constructor_args=(worker_settings(settings, actors),),
                batch_size=options.images_per_task,
                batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(size=actors),
                num_cpus=1,
            )
            .map_batches(
                EmbedActor,
                fn_constructor_args=(settings,),
                batch_size=settings.embed_batch_size,
                batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(size=1),
                # Beside the detectors on CPU, as local ingest's embedding thread is; alone
                # on its GPU otherwise.
                num_cpus=0,
                num_gpus=options.embed_gpus,
            )
        )
        batches = iter(dataset.iter_batches(batch_size=None, batch_format="pyarrow"))
        try:
            for batch in batches:
                table: pa.Table = batch  # batch_format="pyarrow"
                for blob in table.column(ITEM).to_pylist():
                    analysed: AnalysedFile = pickle.loads(blob)
                    yield analysed
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()  # an interrupted run: the dataset's execution stops with it
