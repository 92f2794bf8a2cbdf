"""Many probe photos searched in one go: models loaded once, the probes' chips embedded
together, each probe searched and logged exactly as ``search`` does it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from facelens.batch_search import BatchSearchSummary, ProbeError, ProbeOutcome
from facelens.engine.probe import usable_faces
from facelens.engine.search import Search
from facelens.engine.state import BATCH_SEARCH_AUDIT_ACTION, ProgressCallback
from facelens.errors import FacelensError
from facelens.ingest_report import IngestFailure
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.batch import EmbedBatcher, PreparedFile, discover, embed_files, failure
from facelens.types import Caller


class BatchSearch(Search):
    """``search_many``: ``search`` over many probes."""

    def search_many(
        self,
        probes: Sequence[str | Path],
        top_k: int | None = None,
        threshold: float | None = None,
        collections: Sequence[str] | None = None,
        *,
        purpose: str | None = None,
        case_ref: str | None = None,
        caller: Caller | None = None,
        progress: ProgressCallback | None = None,
        pipeline: FacePipeline | None = None,
        lock: AbstractContextManager[Any] | None = None,
        per_person: bool = False,
    ) -> Iterator[ProbeOutcome]:
        """One ``ProbeOutcome`` per probe photo, in order: ``probes`` are files and folders
        (walked recursively for image files, as ``ingest`` does). Each probe is analysed as
        ``search`` analyses one (the probe detector, turns, ``probe_jitters``), its chips
        embedded with those of other probes (``embed_batch_size``), then searched and logged
        by ``search_analysed``: one search, with ``purpose`` and ``case_ref``, per probe with
        a usable face. A probe that cannot be read or has no usable face is an outcome with
        its error; it never stops the batch. The batch is audited as a whole too (counts),
        once the outcomes have been taken.

        Refused before any work without a purpose or case reference. The outcomes come as
        they are iterated; ``progress(done, total)`` counts probes analysed. Analysis needs no
        engine lock (give ``pipeline`` to run it on another); ``lock``, when given, is held
        around each probe's index, store and log part only. ``per_person``: each probe
        answered per person, as ``search`` answers it."""
        caller = caller or Caller.python()
        purpose, case_ref = self.check_search_purpose(purpose, case_ref, caller)
        top_k, _ = self.search_bounds(top_k, threshold)  # threshold None: the decision's
        unreadable: list[IngestFailure] = []
        files = discover([Path(p) for p in probes], unreadable)
        return self._search_files(
            files, unreadable, top_k, threshold, list(collections or []),
            purpose=purpose, case_ref=case_ref, caller=caller, progress=progress,
            pipeline=pipeline or self.pipeline, lock=lock or nullcontext(),
            per_person=per_person,
        )  # fmt: skip

    def _search_files(
        self,
        files: list[Path],
        unreadable: list[IngestFailure],
        top_k: int,
        threshold: float | None,
        collections: list[str],
        *,
        purpose: str,
        case_ref: str,
        caller: Caller,
        progress: ProgressCallback | None,
        pipeline: FacePipeline,
        lock: AbstractContextManager[Any],
        per_person: bool = False,
    ) -> Iterator[ProbeOutcome]:
        summary = BatchSearchSummary()
        search_ids: list[int] = []

        def searched(batch: list[PreparedFile]) -> Iterator[ProbeOutcome]:
            for analysed in embed_files(pipeline, batch, probe=True):
                outcome = analysed.outcome
                if isinstance(outcome, IngestFailure):
                    found = _failed(analysed.location, outcome)
                else:
                    try:
                        faces = usable_faces(outcome, "probe image")
                        with lock:
                            result = self.search_analysed(
                                outcome, faces, top_k, threshold, collections,
                                purpose=purpose, case_ref=case_ref, caller=caller,
                                per_person=per_person,
                            )  # fmt: skip
                        found = ProbeOutcome(analysed.location, result=result)
                    except FacelensError as exc:
                        found = _failed(analysed.location, failure(analysed.location, exc))
                summary.count(found)
                if found.result is not None and found.result.search_id is not None:
                    search_ids.append(found.result.search_id)
                yield found

        total = len(files) + len(unreadable)
        try:
            for folder in unreadable:  # a folder that cannot be listed, up front
                found = _failed(folder.location, folder)
                summary.count(found)
                yield found
            batcher = EmbedBatcher(self.settings.embed_batch_size)
            for done, path in enumerate(files, start=len(unreadable) + 1):
                # Held until the batch's chips are many enough: the outcomes stay in order.
                batch = batcher.add(self._prepared_probe(pipeline, path))
                if progress is not None:
                    progress(done, total)
                yield from searched(batch)
            yield from searched(batcher.flush())
        finally:
            # Also when cut short: the searches made are each logged already; this ties them
            # together and records the probes that were not searched.
            self.audit(
                caller,
                BATCH_SEARCH_AUDIT_ACTION,
                case_ref,
                {
                    "purpose": purpose,
                    "case_ref": case_ref,
                    "collections": collections,
                    "probes": summary.probes,
                    "searched": summary.searched,
                    "no_face": summary.no_face,
                    "failed": summary.failed,
                    "search_ids": search_ids,
                },
            )

    def _prepared_probe(self, pipeline: FacePipeline, path: Path) -> PreparedFile:
        """One probe decoded as ``search`` decodes it, its faces found and aligned; a file
        that cannot be used becomes its failure (a decoder's own error included)."""
        try:
            return PreparedFile(str(path), "", pipeline.prepare_probe(self._decode(path)))
        except Exception as exc:  # one bad probe never aborts the batch
            return PreparedFile(str(path), "", failure(str(path), exc))


def _failed(probe: str, failed: IngestFailure) -> ProbeOutcome:
    return ProbeOutcome(probe, error=ProbeError(failed.error, failed.message))
