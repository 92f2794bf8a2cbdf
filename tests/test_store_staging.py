"""The store contract, staged embeddings: another model's embeddings kept by face while a
data folder is re-indexed, and the switch that moves them in at once, for every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from facelens.errors import ConflictError, InvalidArgumentError
from facelens.pipeline.embed.base import l2_normalise
from facelens.security.crypto import TemplateCipher, generate_key
from facelens.store import MetadataStore, available_stores
from facelens.types import ModelId
from tests.store_support import MODEL, add, open_store

NEW = ModelId("other-model", "2", 6)


@pytest.fixture(params=available_stores())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    yield from open_store(request, tmp_path)


def new_vectors(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return l2_normalise(rng.standard_normal((n, NEW.dim)).astype(np.float32))


def test_given_staged_embeddings_then_they_are_listed_by_model_and_restaged_in_place(
    store: MetadataStore,
) -> None:
    faces = add(store, "a" * 64, n=3, rejected=1).tolist()
    assert store.staged_face_ids(NEW).tolist() == []
    store.stage_embeddings(NEW, faces[:2], new_vectors(2))
    store.stage_embeddings(NEW, faces[1:2], new_vectors(1, seed=9))  # the newer one wins
    assert store.staged_face_ids(NEW).tolist() == faces[:2]
    assert store.staged_face_ids(MODEL).tolist() == []
    with pytest.raises(InvalidArgumentError, match="vectors"):
        store.stage_embeddings(NEW, faces, new_vectors(2))
    store.delete_faces([faces[0]])
    assert store.staged_face_ids(NEW).tolist() == faces[1:2], "a deleted face takes its own"


def test_given_every_face_staged_then_the_switch_moves_them_in_and_keeps_persons(
    store: MetadataStore,
) -> None:
    faces = add(store, "a" * 64, n=2, rejected=1).tolist() + add(store, "b" * 64).tolist()
    person = store.get_or_create_person("Ada")
    store.assign_faces(person, faces[:2])
    store.stage_embeddings(NEW, faces[:2], new_vectors(2))
    with pytest.raises(ConflictError, match="1 accepted faces"):
        store.switch_model(NEW, {"model": "new"})
    assert store.get_meta("model") is None and store.indexed_face_ids(NEW).tolist() == []
    staged = new_vectors(3)
    store.stage_embeddings(NEW, faces, staged)
    # Key rotation while staged: the staged embeddings are re-sealed with the rest.
    store.reseal_templates(store.cipher, TemplateCipher(generate_key()))
    store.set_meta("gone", "x")
    assert store.switch_model(NEW, {"model": "new", "gone": None}) == 3
    assert store.get_meta("model") == "new" and store.get_meta("gone") is None
    assert store.indexed_face_ids(MODEL).tolist() == []
    [(ids, vectors)] = list(store.embeddings(NEW))
    assert ids.tolist() == faces
    np.testing.assert_allclose(vectors, staged, atol=1e-7)
    assert store.staged_face_ids(NEW).tolist() == []
    assert store.persons()[0].face_ids == faces[:2], "persons keep their faces"
    assert store.counts().faces_rejected == 1
