"""Background jobs over server-side folders, with progress the API reports: ingest, and
batch search.

An ingest job ingests a few files at a time, taking the engine lock for each batch only, so
searches go on meanwhile. A search job analyses its probes on a pipeline of its own, outside
the lock, and takes it for each probe's index, store and log part only (``search_many``).
Jobs live in memory: a restart forgets them (and a search job's results with them); rerunning
an ingest job resumes (the engine skips files already in the collection).
"""

from __future__ import annotations

import itertools
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facelens.api.links import with_links
from facelens.batch_search import BatchSearchSummary, ProbeOutcome
from facelens.engine import Engine
from facelens.errors import NotFoundError
from facelens.ingest_report import IngestReport
from facelens.pipeline.analyse import PipelinePool
from facelens.pipeline.batch import discover
from facelens.types import Caller, Provenance, to_jsonable

_BATCH_FILES = 8


@dataclass
class IngestJob:
    id: int
    folder: Path
    collection: str
    status: str = "queued"  # queued, running, done, failed
    files_total: int = 0
    files_done: int = 0
    error: str | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    report: IngestReport | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "job_id": self.id,
            "folder": str(self.folder),
            "collection": self.collection,
            "status": self.status,
            "files_total": self.files_total,
            "files_done": self.files_done,
            "error": self.error,
            "report": to_jsonable(self.report) if self.report else None,
        }


class IngestJobs:
    def __init__(self) -> None:
        self._jobs: dict[int, IngestJob] = {}
        self._ids = itertools.count(1)

    def get(self, job_id: int) -> IngestJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no ingest job {job_id}")
        return job

    def start(
        self,
        engine: Engine,
        lock: AbstractContextManager[Any],
        folder: Path,
        collection: str,
        provenance: Provenance,
        actor: str,
    ) -> IngestJob:
        """``actor`` is named in the audit log with the images each batch stores; ``lock``
        is the one every engine call holds (the service's)."""
        job = IngestJob(next(self._ids), folder, collection)
        self._jobs[job.id] = job
        threading.Thread(
            target=self._run,
            args=(job, engine, lock, provenance, actor),
            name=f"ingest-job-{job.id}",
            daemon=True,
        ).start()
        return job

    @staticmethod
    def _run(
        job: IngestJob,
        engine: Engine,
        lock: AbstractContextManager[Any],
        provenance: Provenance,
        actor: str,
    ) -> None:
        job.status = "running"
        total = IngestReport(collection=job.collection)
        try:
            files = discover([job.folder], total.failures)  # unreadable folders, listed
            job.files_total = len(files)
            for start in range(0, len(files), _BATCH_FILES):
                with lock:
                    part = engine.ingest(
                        files[start : start + _BATCH_FILES],
                        job.collection,
                        provenance=provenance,
                        workers=1,
                        actor=actor,
                    )
                total.merge(part)
                job.files_done = min(start + _BATCH_FILES, len(files))
            job.status = "done"
        except Exception as exc:  # reported through the API, not lost in a thread
            job.status, job.error = "failed", str(exc)
        finally:
            job.report = total
            job.finished_at = time.time()


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """What a search job searches with, and why (each probe is logged with it)."""

    probes: list[Path]
    purpose: str
    case_ref: str
    top_k: int | None = None
    threshold: float | None = None
    collections: list[str] = field(default_factory=list)


@dataclass
class SearchJob:
    id: int
    request: SearchRequest
    #: The account that started it: the only one that may see it (its results are searches).
    account_id: int
    status: str = "queued"  # queued, running, done, failed
    probes_total: int = 0
    probes_done: int = 0
    error: str | None = None
    summary: BatchSearchSummary = field(default_factory=BatchSearchSummary)
    results: list[ProbeOutcome] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "job_id": self.id,
            "probes": [str(p) for p in self.request.probes],
            "purpose": self.request.purpose,
            "case_ref": self.request.case_ref,
            "status": self.status,
            "probes_total": self.probes_total,
            "probes_done": self.probes_done,
            "error": self.error,
            "summary": to_jsonable(self.summary),
            # A copy: the job's thread appends meanwhile.
            "results": [_outcome(r) for r in list(self.results)],
        }


def _outcome(outcome: ProbeOutcome) -> dict[str, Any]:
    result = outcome.result
    return {
        "probe": outcome.probe,
        "error": to_jsonable(outcome.error),
        # As POST /searches answers it: its search_id first.
        "result": {"search_id": result.search_id, **with_links(to_jsonable(result))}
        if result is not None
        else None,
    }


class SearchJobs:
    def __init__(self) -> None:
        self._jobs: dict[int, SearchJob] = {}
        self._ids = itertools.count(1)

    def get(self, job_id: int, account_id: int) -> SearchJob:
        """The job, for the account that started it; another's is answered as none, so ids
        say nothing about other people's searches."""
        job = self._jobs.get(job_id)
        if job is None or job.account_id != account_id:
            raise NotFoundError(f"no search job {job_id} of yours")
        return job

    def start(
        self,
        engine: Engine,
        lock: AbstractContextManager[Any],
        pipelines: PipelinePool,
        request: SearchRequest,
        caller: Caller,
    ) -> SearchJob:
        """``caller`` (an account) is named with every search in the logs; ``lock`` is the
        one every engine call holds (the service's)."""
        assert caller.account_id is not None, "a search job belongs to an account"
        job = SearchJob(next(self._ids), request, caller.account_id)
        self._jobs[job.id] = job
        threading.Thread(
            target=self._run,
            args=(job, engine, lock, pipelines, caller),
            name=f"search-job-{job.id}",
            daemon=True,
        ).start()
        return job

    @staticmethod
    def _run(
        job: SearchJob,
        engine: Engine,
        lock: AbstractContextManager[Any],
        pipelines: PipelinePool,
        caller: Caller,
    ) -> None:
        job.status = "running"
        request = job.request

        def progress(done: int, total: int) -> None:
            job.probes_done, job.probes_total = done, total

        try:
            with pipelines.borrow() as pipeline:
                for outcome in engine.search_many(
                    request.probes, request.top_k, request.threshold, request.collections,
                    purpose=request.purpose, case_ref=request.case_ref, caller=caller,
                    progress=progress, pipeline=pipeline, lock=lock,
                ):  # fmt: skip
                    job.summary.count(outcome)
                    job.results.append(outcome)
            job.status = "done"
        except Exception as exc:  # reported through the API, not lost in a thread
            job.status, job.error = "failed", str(exc)
