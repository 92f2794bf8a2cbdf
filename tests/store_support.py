"""Helpers the store contract tests share (``tests/test_store*.py``): a store of each
registered backend, and images with faces to put in it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from facelens.config import Settings
from facelens.pipeline.embed.base import l2_normalise
from facelens.privacy.policy import CollectionPolicy, LegalBasis
from facelens.security.crypto import TemplateCipher, generate_key
from facelens.store import MetadataStore, create_store
from facelens.store.sql import STORE_FILE
from facelens.types import (
    AnalysedFace,
    Box,
    Detection,
    Embedding,
    FaceQuality,
    FloatArray,
    IdArray,
    ImageAnalysis,
    ModelId,
    Provenance,
    SearchRecord,
)

MODEL = ModelId("test-model", "1", 4)

#: A legal basis for the collections the tests declare.
POLICY = CollectionPolicy(
    basis=LegalBasis.OTHER,
    basis_text="software testing",
    jurisdictions=["EU"],
    purpose="testing the store",
    retention_days=30,
)


def store_settings(request: pytest.FixtureRequest, data_dir: Path) -> Settings:
    """Settings for a new, empty store of the backend ``request.param`` names: SQLite in
    ``data_dir``, or a fresh database on the session's PostgreSQL server (``postgres_url``,
    started at its first use)."""
    backend = str(request.param)
    if backend == "postgresql":
        url = request.getfixturevalue("postgres_url")
        return Settings(data_dir=data_dir, store_backend=backend, store_url=url)
    return Settings(data_dir=data_dir, store_backend=backend)


def open_store(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[MetadataStore]:
    """A new store of the backend ``request.param`` names (for a fixture: closed after the
    test)."""
    settings = store_settings(request, data_dir)
    opened = create_store(settings, TemplateCipher(generate_key()))
    _OPENED[id(opened)] = settings
    yield opened
    opened.close()
    del _OPENED[id(opened)]


#: The settings each store the fixtures opened was made with, by the store's id.
_OPENED: dict[int, Settings] = {}


def settings_of(store: MetadataStore) -> Settings:
    """The settings ``store`` (from ``open_store``) was opened with: to open its data again."""
    return _OPENED[id(store)]


def database_url(store: MetadataStore) -> str:
    """An SQLAlchemy URL of ``store``'s database, to read its tables past the store."""
    settings = settings_of(store)
    if settings.store_url is not None:
        return settings.store_url.get_secret_value()
    return f"sqlite:///{settings.data_dir / STORE_FILE}"


def vectors(n: int, seed: int = 0) -> FloatArray:
    """``n`` unit vectors of ``MODEL``'s dimension, (n, dim) float32."""
    rng = np.random.default_rng(seed)
    return l2_normalise(rng.standard_normal((n, MODEL.dim)).astype(np.float32))


def analysis(
    n_accepted: int, n_rejected: int = 0, seed: int = 0, model: ModelId = MODEL
) -> ImageAnalysis:
    """An analysed image: ``n_accepted`` embedded faces, then ``n_rejected`` too small ones;
    face ``i``'s box starts at (10 i, 10 i) and its landmarks are (i + 0.5, 2 i)."""
    rng = np.random.default_rng(seed)
    faces = []
    for i in range(n_accepted + n_rejected):
        box = Box(10 * i, 10 * i, 10 * i + 50, 10 * i + 60)
        accepted = i < n_accepted
        vector = l2_normalise(rng.standard_normal((1, model.dim)).astype(np.float32))[0]
        landmarks = np.tile(np.array([i + 0.5, 2 * i], dtype=np.float32), (5, 1))
        faces.append(
            AnalysedFace(
                detection=Detection(box, 1.0, "test-detector"),
                landmarks=landmarks,
                quality=FaceQuality(50, 100.0, None if accepted else "too_small"),
                embedding=Embedding(vector, model) if accepted else None,
            )
        )
    return ImageAnalysis(width=640, height=480, faces=faces)


def add(
    store: MetadataStore,
    sha: str,
    n: int = 1,
    collection: str = "c",
    rejected: int = 0,
    provenance: Provenance | None = None,
) -> IdArray:
    """Store an image with ``n`` accepted faces (``collection`` made if missing) at
    ``/photos/{sha}.jpg``; returns the accepted face ids."""
    store.ensure_collection(collection)
    added = store.add_image(
        collection=collection,
        location=f"/photos/{sha}.jpg",
        sha256=sha,
        analysis=analysis(n, rejected, seed=len(sha) + n),
        provenance=provenance or Provenance(),
    )
    assert added is not None
    return added.face_ids


def search_record(
    account_id: int, purpose: str = "investigation", at: datetime | None = None
) -> SearchRecord:
    """A search made by ``account_id`` (the account name is filled in by the log)."""
    return SearchRecord(
        account_id=account_id,
        account_name="",
        purpose=purpose,
        case_ref="CASE-1",
        collections=["c"],
        probe_faces=1,
        results=2,
        matches=1,
        threshold=0.6,
        searched_at=at or datetime.now(UTC),
        probe_sha256=["p" * 64],
        result_face_ids=[3, 4],
    )
