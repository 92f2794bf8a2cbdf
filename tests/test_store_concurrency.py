"""The store contract under concurrency: two OS processes writing into one PostgreSQL-backed
store at the same time lose nothing and duplicate nothing.

Each process (``multiprocessing`` with ``spawn``: a fresh interpreter, its own engine and
connection pool) makes the same two collections, adds the same images (by sha256) and images
of its own, with a model neither has stored yet, and appends to the audit chain. Afterwards
every image is stored exactly once, its faces once, each shared image reported as added by
exactly one process (``None``, a duplicate, to the other), and the audit chain is whole.

(The SQLite store is one process's: the engine's data folder lock keeps a second out.)
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from facelens.config import Settings
from facelens.privacy.audit import verify
from facelens.security.crypto import TemplateCipher, generate_key
from facelens.store import MetadataStore, create_store
from facelens.types import ModelId, Provenance
from tests.store_support import analysis

#: A model first stored by the race itself (both processes create its row at once).
RACE_MODEL = ModelId("race-model", "1", 4)
COLLECTIONS = ("c", "d")
SHARED = [f"{i:064x}" for i in range(30)]
AUDITS_EACH = 15


def own_images(worker: int) -> list[str]:
    return [f"{worker + 1:x}{i:063x}" for i in range(15)]


def faces_of(sha: str) -> int:
    """How many accepted faces the image of ``sha`` has (1 to 3, the same in every process)."""
    return int(sha[-1], 16) % 3 + 1


def ingest(worker: int, url: str, key: bytes, data_dir: str, start: Any, results: Any) -> None:
    """One process's writes, each phase begun by both at once (the ``start`` barrier);
    ``results`` gets
    (worker, [(collection, sha, face ids or None)]) or (worker, an error's text)."""
    try:
        settings = Settings(data_dir=Path(data_dir), store_url=url)
        store = create_store(settings, TemplateCipher(key))
        start.wait(60)
        for i in range(AUDITS_EACH):  # both at once, in a tight loop
            store.append_audit(f"worker-{worker}", "ingest", "start", {"i": i})
        start.wait(60)
        added: list[tuple[str, str, list[int] | None]] = []
        shas = SHARED + own_images(worker)
        # Interleaved (shared, own, shared...), the shared ones in the same order in both.
        order = sorted(shas, key=lambda s: (shas.index(s) % len(SHARED), s not in SHARED))
        for i, sha in enumerate(order):
            collection = COLLECTIONS[i % 2] if sha not in SHARED else COLLECTIONS[0]
            store.ensure_collection(collection)
            result = store.add_image(
                collection=collection,
                location=f"/photos/{sha}.jpg",
                sha256=sha,
                analysis=analysis(faces_of(sha), 1, seed=i, model=RACE_MODEL),
                provenance=Provenance(),
            )
            added.append((collection, sha, None if result is None else result.face_ids.tolist()))
        store.close()
        results.put((worker, added))
    except Exception as exc:  # reported to the test, which fails with it
        start.abort()  # the other process is not left waiting
        results.put((worker, f"{type(exc).__name__}: {exc}"))


@pytest.fixture
def shared_store(postgres_url: str, tmp_path: Path) -> tuple[Settings, bytes]:
    return Settings(data_dir=tmp_path, store_url=postgres_url), generate_key()


def test_given_two_processes_ingesting_at_once_then_every_image_is_stored_exactly_once(
    shared_store: tuple[Settings, bytes],
) -> None:
    settings, key = shared_store
    assert settings.store_url is not None
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    url = settings.store_url.get_secret_value()
    workers = [
        context.Process(target=ingest, args=(w, url, key, str(settings.data_dir), start, results))
        for w in range(2)
    ]
    for process in workers:
        process.start()
    reported = dict(results.get(timeout=120) for _ in workers)
    for process in workers:
        process.join(30)
        assert process.exitcode == 0
    for worker, outcome in reported.items():
        assert not isinstance(outcome, str), f"worker {worker} failed: {outcome}"

    store: MetadataStore = create_store(settings, TemplateCipher(key))
    try:
        assert_stored_once(store, reported)
    finally:
        store.close()


def assert_stored_once(store: MetadataStore, reported: dict[int, Any]) -> None:
    expected = {(COLLECTIONS[0], sha) for sha in SHARED}
    winners: Counter[tuple[str, str]] = Counter()
    added_faces: dict[tuple[str, str], list[int]] = {}
    for outcome in reported.values():
        for collection, sha, face_ids in outcome:
            expected.add((collection, sha))
            if face_ids is not None:
                winners[(collection, sha)] += 1
                added_faces[(collection, sha)] = face_ids
    assert set(winners) == expected and set(winners.values()) == {1}, "each added once"
    assert sorted(store.collection_names()) == sorted(COLLECTIONS)
    stored = Counter(
        (image.collection, image.sha256)
        for collection in COLLECTIONS
        for image in store.images(collection, limit=1000)
    )
    assert set(stored) == expected and set(stored.values()) == {1}, "nothing lost or doubled"
    for (collection, sha), face_ids in added_faces.items():
        assert len(face_ids) == faces_of(sha)
        assert store.image_face_ids(collection, sha).tolist() == face_ids
    every_face = sorted(f for ids in added_faces.values() for f in ids)
    assert store.indexed_face_ids(RACE_MODEL).tolist() == every_face
    ids, vectors = next(store.embeddings(RACE_MODEL))
    assert sorted(ids.tolist()) == every_face and vectors.shape == (len(every_face), 4)
    counts = store.counts()
    assert (counts.images, counts.faces_accepted) == (len(expected), len(every_face))
    assert counts.faces_rejected == len(expected), "one rejected face an image, once"
    entries = store.audit_entries()
    assert len(entries) == 2 * AUDITS_EACH
    assert verify(entries).intact, "the chain has no gap and no fork"
