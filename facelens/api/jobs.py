"""Background ingest of server-side folders, with progress the API reports.

A job ingests a few files at a time, taking the engine lock for each batch only, so searches
go on meanwhile. Jobs live in memory: a restart forgets them, and rerunning one resumes (the
engine skips files already in the collection).
"""

from __future__ import annotations

import itertools
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facelens.engine import Engine
from facelens.errors import NotFoundError
from facelens.ingest_report import IngestReport
from facelens.pipeline.batch import discover
from facelens.types import Provenance, to_jsonable

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
