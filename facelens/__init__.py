"""facelens: a face search engine for image collections you lawfully hold.

    import facelens
    from facelens.privacy.policy import CollectionPolicy, LegalBasis

    with facelens.open("facelens-data") as engine:
        # A collection says why it may be held before anything is ingested into it.
        engine.create_collection(
            "archive", CollectionPolicy(LegalBasis.PUBLIC_TASK, ["GB"], "press archive", 3650)
        )
        engine.ingest(["photos/"], collection="archive")
        # Every search says why (refused otherwise), and is logged with who asked.
        result = engine.search("probe.jpg", purpose="fraud check", case_ref="C-17")

Boxes are ``xyxy`` pixels of the EXIF-rotated image; similarities are cosine similarities in
[-1, 1]. Results are typed objects (``facelens.types``).
"""

from __future__ import annotations

from pathlib import Path

from facelens.batch_search import BatchSearchSummary, ProbeError, ProbeOutcome
from facelens.config import Settings
from facelens.engine import Engine
from facelens.ingest_report import IngestFailure, IngestReport
from facelens.person_fusion import PersonCandidate, PersonReferences, ReferenceCheck
from facelens.types import (
    Box,
    Match,
    ModelId,
    Person,
    ProbeFaceMatches,
    Provenance,
    SearchResult,
    Stats,
    VerifyResult,
)

__version__ = "0.1.0"


def open(path: str | Path | None = None, settings: Settings | None = None) -> Engine:
    """Open (or create) the engine whose store and index live in the folder ``path``.

    ``settings`` defaults to ``Settings()`` (environment variables ``FACELENS_*`` apply);
    ``path``, when given, overrides its ``data_dir``.
    """
    settings = settings or Settings()
    if path is not None:
        settings = settings.model_copy(update={"data_dir": Path(path)})
    return Engine(settings)


__all__ = [
    "BatchSearchSummary",
    "Box",
    "Engine",
    "IngestFailure",
    "IngestReport",
    "Match",
    "ModelId",
    "Person",
    "PersonCandidate",
    "PersonReferences",
    "ProbeError",
    "ProbeFaceMatches",
    "ProbeOutcome",
    "Provenance",
    "ReferenceCheck",
    "SearchResult",
    "Settings",
    "Stats",
    "VerifyResult",
    "__version__",
    "open",
]
