"""Ingest: files and folders, and the URLs a manifest lists, into a collection."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from facelens.distributed.options import RayOptions
from facelens.engine.erasure import Erasure
from facelens.engine.policy import Policy
from facelens.engine.state import INGEST_AUDIT_ACTION, ProgressCallback
from facelens.engine.suppression import Suppression
from facelens.errors import RefusedError
from facelens.ingest_report import IngestFailure, IngestReport
from facelens.pipeline.batch import (
    AnalysedFile,
    analyse_bytes,
    analyse_files,
    default_workers,
    discover,
    failure,
    read_files,
)
from facelens.store import MetadataStore
from facelens.types import Provenance

if TYPE_CHECKING:
    import httpx

    from facelens.privacy.fetch import FetchOptions, ManifestEntry

#: Write the index to disk after this many ingested images, so a crash costs little repair.
PERSIST_EVERY_IMAGES = 500
#: Ingest names who stored which images in the audit log every this many stored images (and
#: at the end), so that a killed ingest leaves at most this many stored but unattributed.
ATTRIBUTE_EVERY_IMAGES = 16


def _resolved(path: Path) -> str | None:
    """``path`` resolved, or None where it cannot be (a symlink loop: no file of ours)."""
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):
        return None


class _Attribution:
    """Who stored which images: written to the audit log in batches as they are stored."""

    def __init__(self, store: MetadataStore, actor: str | None, collection: str) -> None:
        self.store, self.actor, self.collection = store, actor, collection
        self.pending: list[int] = []

    def stored(self, image_id: int) -> None:
        self.pending.append(image_id)
        if len(self.pending) >= ATTRIBUTE_EVERY_IMAGES:
            self.flush()

    def flush(self) -> None:
        if self.actor is None or not self.pending:
            return
        self.store.append_audit(
            self.actor, INGEST_AUDIT_ACTION, self.collection, {"image_ids": self.pending}
        )
        self.pending = []


class Ingest(Policy, Suppression, Erasure):
    """Ingest of files, folders and manifests."""

    def ingest(
        self,
        paths: Iterable[str | Path],
        collection: str,
        *,
        provenance: Provenance | None = None,
        workers: int | None = None,
        progress: ProgressCallback | None = None,
        actor: str | None = None,
        ray: RayOptions | None = None,
    ) -> IngestReport:
        """Ingest image files and folders (recursively) into ``collection``.

        Files whose content is already in the collection are skipped; a file that fails is
        reported in ``IngestReport.failures`` and the rest go on. With ``actor``, the ids of
        the images stored are attributed to them in the audit log as they are stored (every
        ``ATTRIBUTE_EVERY_IMAGES``), so an ingest that is killed leaves few unattributed.

        With ``ray``, the files are analysed on a Ray cluster
        (``facelens.distributed.ray_ingest``: every path must be readable on every node) and
        ``workers`` is not used; what is known is skipped before anything is sent, and the
        results are stored here, exactly as a local ingest stores its own.
        """
        self.check_bulk_ingest(collection)
        started = time.perf_counter()
        unreadable: list[IngestFailure] = []
        files = discover((Path(p) for p in paths), unreadable)
        report = IngestReport(
            collection=collection, images_seen=len(files) + len(unreadable), failures=unreadable
        )
        known = self.store.known_image_hashes(collection)
        worker_count = workers or default_workers(self.settings)
        since_persist = 0
        done = 0
        attribution = _Attribution(self.store, actor, collection)
        try:
            for outcome in self._analysed(files, known, worker_count, ray):
                if outcome is None:
                    report.duplicates_skipped += 1
                elif isinstance(outcome, IngestFailure):
                    report.failures.append(outcome)
                else:
                    since_persist += self._store_analysed(
                        outcome, collection, provenance, report, attribution
                    )
                    if since_persist >= PERSIST_EVERY_IMAGES:
                        self._persist_index()
                        since_persist = 0
                done += 1
                if progress is not None:
                    progress(done, len(files))
        finally:
            # Also on interrupt: what is stored is indexed, persisted and attributed; a rerun
            # resumes.
            self._persist_index()
            attribution.flush()
            report.elapsed_s = time.perf_counter() - started
        # facelens's own copies (uploads) of files that were refused, failed or suppressed:
        # linked to no image, erasure and retention could never reach them.
        self._remove_owned_files([location for f in files if (location := _resolved(f))])
        self.calibrate_if_stale()
        return report

    def _analysed(
        self, files: list[Path], known: set[str], workers: int, ray: RayOptions | None
    ) -> Iterator[AnalysedFile | IngestFailure | None]:
        items = read_files(files, self.settings, known)
        if ray is None:
            return analyse_files(items, self.settings, workers, self.pipeline)
        from facelens.distributed.ray_ingest import analyse_on_ray  # Ray loads only if asked

        return analyse_on_ray(items, self.settings, ray)

    def ingest_manifest(
        self,
        manifest: str | Path,
        collection: str,
        *,
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Fetch exactly the image URLs a manifest lists (``facelens.privacy.fetch``: nothing else
        is ever fetched or followed) and ingest them, each with its page URL and fetch time as
        provenance. Bad rows, refused and failed URLs are reported; the rest go on. URLs
        already in the collection are not fetched again, so a rerun resumes."""
        # Imported here: httpx costs every other command 0.16 s of start-up (``facelens search``).
        from facelens.privacy.fetch import FetchOptions, new_client, read_manifest

        self.check_bulk_ingest(collection)
        started = time.perf_counter()
        parsed = read_manifest(manifest)
        report = IngestReport(
            collection=collection,
            images_seen=len(parsed.entries) + len(parsed.problems),
            failures=list(parsed.problems),
        )
        options = FetchOptions(
            max_bytes=self.settings.max_image_bytes,
            timeout_s=self.settings.fetch_timeout_s,
            allowed_networks=tuple(
                ipaddress.ip_network(n) for n in self.settings.fetch_allowed_networks
            ),
            user_agent="facelens (fetches only the image URLs an operator lists)",
        )
        fetched_urls = self.store.known_origin_urls(collection)
        known = self.store.known_image_hashes(collection)
        try:
            with new_client(options) as client:
                for done, entry in enumerate(parsed.entries, start=1):
                    self._ingest_listed(
                        entry, collection, options, client, fetched_urls, known, report
                    )
                    if progress is not None:
                        progress(done, len(parsed.entries))
        finally:
            self._persist_index()
            report.elapsed_s = time.perf_counter() - started
        self.calibrate_if_stale()
        return report

    def _ingest_listed(
        self,
        entry: ManifestEntry,
        collection: str,
        options: FetchOptions,
        client: httpx.Client,
        fetched_urls: set[str],
        known: set[str],
        report: IngestReport,
    ) -> None:
        from facelens.privacy.fetch import fetch_image  # see ingest_manifest

        url = entry.image_url
        if url in fetched_urls:
            report.duplicates_skipped += 1
            return
        try:
            fetched = fetch_image(url, options, client)
        except RefusedError as exc:
            report.refusals[exc.rule] = report.refusals.get(exc.rule, 0) + 1
            report.failures.append(failure(url, exc))
            return
        except Exception as exc:  # one bad URL never aborts the batch
            report.failures.append(failure(url, exc))
            return
        if fetched.sha256 in known:
            report.duplicates_skipped += 1
            return
        known.add(fetched.sha256)
        # facelens's own copy of the fetched image: the source that results point to, and
        # erased with the image record.
        path = (self.settings.data_dir / "fetched" / fetched.sha256[:2] / fetched.sha256).resolve()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(fetched.data)
            tmp.replace(path)
        analysed = analyse_bytes(self.pipeline, str(path), fetched.sha256, fetched.data)
        provenance = replace(entry.provenance(), fetched_at=fetched.fetched_at)
        if not self._store_analysed(analysed, collection, provenance, report):
            self._remove_owned_files([str(path)])  # not stored: keep no copy

    def _store_analysed(
        self,
        analysed: AnalysedFile,
        collection: str,
        provenance: Provenance | None,
        report: IngestReport,
        attribution: _Attribution | None = None,
    ) -> int:
        if isinstance(analysed.outcome, IngestFailure):
            report.failures.append(analysed.outcome)
            return 0
        analysis, suppressed = self._without_suppressed(analysed.outcome)
        report.faces_suppressed += suppressed
        if suppressed and not analysis.faces:
            return 0  # nothing but an opted-out person: keep no trace of the image
        added = self.store.add_image(
            collection=collection,
            location=analysed.location,
            sha256=analysed.sha256,
            analysis=analysis,
            provenance=provenance or Provenance(),
        )
        if added is None:
            report.duplicates_skipped += 1
            return 0
        if len(added.face_ids):
            self.index.add(added.face_ids, added.vectors)
        if attribution is not None:
            attribution.stored(added.image_id)
        report.images_ingested += 1
        for face in analysis.faces:  # indexed or rejected, by size band (and reason)
            report.count_face(face.quality.size_px, face.quality.rejection_reason)
        return 1
