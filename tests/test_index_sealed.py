"""Templates encrypted at rest in the persisted index, on both backends and both tiers of
``faiss-tiered``: no file holds a template in plain, the same key reopens the index as it was,
another key (or none, or a key for plain files) opens it empty without an error, ``rekey``
re-seals every file, and erasure leaves a row of zeros."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

from facelens.errors import DecryptionError
from facelens.index import IndexOptions, VectorIndex, available_indexes, create_index
from facelens.index.faiss_tiered import FaissTieredIndex
from facelens.index.tiered_files import spread_sample
from facelens.index.vector_file import PLAIN_NAME, SEALED_NAME, VectorFile
from facelens.pipeline.embed.base import l2_normalise
from facelens.security.crypto import TemplateCipher, generate_key
from facelens.types import FloatArray, IdArray, ModelId

MODEL = ModelId("test-model", "1", 128)
PEOPLE, PER_PERSON = 300, 10  # 3,000 faces: past ANN's ann_min_faces

ANN: dict[str, Any] = {
    "ann_min_faces": 2000,
    "ann_nlist": 32,
    "ann_nprobe": 8,
    "ann_pq_subquantizers": 32,
    "build_in_background": False,
}
#: name: (backend, IndexOptions fields)
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "flat": ("faiss-flat", {}),
    "tiered-exact": ("faiss-tiered", {}),
    "tiered-approximate": ("faiss-tiered", ANN),
}
configs = pytest.mark.parametrize("config", list(CONFIGS))
tiered_configs = pytest.mark.parametrize("config", ["tiered-exact", "tiered-approximate"])


def face_like(seed: int) -> tuple[IdArray, FloatArray, FloatArray]:
    """People as clusters on the sphere (as tests/test_ann.py makes them): gallery faces with
    ids from 1, and one fresh query a person."""
    rng = np.random.default_rng(seed)
    centres = l2_normalise(rng.standard_normal((PEOPLE, MODEL.dim)).astype(np.float32))

    def samples(per_person: int) -> FloatArray:
        noise = 0.6 * rng.standard_normal((PEOPLE, per_person, MODEL.dim)) / np.sqrt(MODEL.dim)
        return l2_normalise((centres[:, None, :] + noise).reshape(-1, MODEL.dim).astype(np.float32))

    gallery = samples(PER_PERSON)
    return np.arange(1, len(gallery) + 1, dtype=np.int64), gallery, samples(1)


def open_index(
    config: str, folder: Path, cipher: TemplateCipher | None, **overrides: Any
) -> VectorIndex:
    backend, fields = CONFIGS[config]
    return create_index(backend, MODEL, folder, IndexOptions(**fields | overrides, cipher=cipher))


def filled(config: str, folder: Path, cipher: TemplateCipher | None, seed: int = 1) -> VectorIndex:
    ids, gallery, _ = face_like(seed)
    index = open_index(config, folder, cipher)
    index.add(ids, gallery)
    index.remove(ids[::97])
    if config == "tiered-approximate":
        assert isinstance(index, FaissTieredIndex) and index.approximate
    return index


def files_holding(folder: Path, vectors: FloatArray) -> list[str]:
    """Names of the files under ``folder`` that hold the float32 bytes of any of ``vectors``,
    at any byte offset: every 8-byte word at each of the 8 alignments is matched against the
    vectors' first 8 bytes, and each match is checked in full."""
    needles = {vector.astype("<f4").tobytes() for vector in vectors}
    prefixes = np.array([np.frombuffer(needle[:8], dtype="<u8")[0] for needle in needles])
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        raw = np.frombuffer(data, dtype=np.uint8)
        for shift in range(8):
            words = raw[shift : shift + (len(raw) - shift) // 8 * 8].view("<u8")
            for offset in shift + 8 * np.flatnonzero(np.isin(words, prefixes)):
                if data[offset : offset + MODEL.dim * 4] in needles:
                    found.append(path.name)
    return sorted(set(found))


def faiss_bytes(index: VectorIndex) -> bytes | None:
    """The plain serialisation of the FAISS index that ``index`` persists, if any."""
    inner = index._ivf if isinstance(index, FaissTieredIndex) else getattr(index, "_index", None)
    return None if inner is None else faiss.serialize_index(inner).tobytes()


def same_results(a: VectorIndex, b: VectorIndex, queries: FloatArray) -> None:
    np.testing.assert_array_equal(a.ids(), b.ids())
    a_scores, a_ids = a.search(queries, k=5)
    b_scores, b_ids = b.search(queries, k=5)
    np.testing.assert_array_equal(a_ids, b_ids)
    np.testing.assert_allclose(a_scores, b_scores, atol=1e-6)


def test_every_backend_is_sealed_here_or_says_that_it_keeps_no_files_of_its_own(
    tmp_path: Path,
) -> None:
    """A backend keeping its vectors in files of its own runs these tests (it seals them); one
    whose vectors live in a database facelens does not seal (milvus) says so with
    ``owns_files``, and tests/test_index_milvus.py states what it does instead."""
    sealed_here = {backend for backend, _ in CONFIGS.values()}
    for backend in available_indexes():
        index = create_index(backend, MODEL, tmp_path / backend)
        assert index.owns_files == (backend in sealed_here), backend


@pytest.fixture
def key() -> TemplateCipher:
    return TemplateCipher(generate_key())


@pytest.fixture
def other_key() -> TemplateCipher:
    return TemplateCipher(generate_key())


@pytest.mark.parametrize("config", [*CONFIGS, "tiered-background"])
def test_given_a_key_when_persisted_then_no_file_holds_a_template(
    config: str, tmp_path: Path, key: TemplateCipher
) -> None:
    ids, gallery, _ = face_like(seed=1)
    if config == "tiered-background":  # the build thread must write nothing in plain either
        index = open_index("tiered-approximate", tmp_path, key, build_in_background=True)
        index.add(ids, gallery)
        assert index.wait_for_build(timeout_s=120)
        assert isinstance(index, FaissTieredIndex) and index.approximate
    else:
        index = filled(config, tmp_path, key)
    index.persist()
    assert files_holding(tmp_path, gallery) == []
    plain = faiss_bytes(index)
    if plain is not None:  # the FAISS file (flat vectors, or PQ codes: a lossy template)
        windows = [plain[:64], plain[len(plain) // 2 : len(plain) // 2 + 64], plain[-64:]]
        for path in tmp_path.rglob("*"):
            data = path.read_bytes()
            assert not any(window in data for window in windows), path.name
    if isinstance(index, FaissTieredIndex):
        assert not (tmp_path / PLAIN_NAME).exists()
        assert '"sealed_with": "' + key.key_id + '"' in (tmp_path / "state.json").read_text()


@configs
def test_given_no_key_then_files_are_plain_and_round_trip(config: str, tmp_path: Path) -> None:
    _, gallery, queries = face_like(seed=1)
    index = filled(config, tmp_path, None)
    index.persist()
    # Plain files hold the templates (which also shows ``files_holding`` finds them).
    expected = "faiss-flat.faiss" if config == "flat" else PLAIN_NAME
    assert expected in files_holding(tmp_path, gallery)
    assert not (tmp_path / SEALED_NAME).exists()
    same_results(index, open_index(config, tmp_path, None), queries)


@configs
def test_given_the_same_key_when_reopened_then_same_ids_and_results(
    config: str, tmp_path: Path
) -> None:
    _, _, queries = face_like(seed=1)
    key = generate_key()
    index = filled(config, tmp_path, TemplateCipher(key))
    index.persist()
    # A cipher made anew from the same key, as a restarted process makes it.
    reopened = open_index(config, tmp_path, TemplateCipher(key))
    assert reopened.count() == index.count()
    same_results(index, reopened, queries)
    if config == "tiered-approximate":
        assert isinstance(reopened, FaissTieredIndex) and reopened.approximate


@configs
def test_given_another_key_when_reopened_then_empty_without_error_and_usable(
    config: str, tmp_path: Path, key: TemplateCipher, other_key: TemplateCipher, caplog: Any
) -> None:
    ids, gallery, queries = face_like(seed=2)
    index = filled(config, tmp_path, key, seed=2)
    index.persist()
    with caplog.at_level(logging.WARNING, logger="facelens.index"):
        reopened = open_index(config, tmp_path, other_key)
    assert reopened.count() == 0
    assert "not the configured key" in caplog.text
    if isinstance(reopened, FaissTieredIndex):  # the vector file was cleared, nothing half left
        assert sorted(p.name for p in tmp_path.iterdir()) == [SEALED_NAME]
        assert (tmp_path / SEALED_NAME).stat().st_size == 0
    # The engine then repairs it from the store: re-adding works, and persists under the key.
    reopened.add(ids, gallery)
    reopened.remove(ids[::97])
    reopened.persist()
    again = open_index(config, tmp_path, other_key)
    same_results(index, again, queries)
    assert open_index(config, tmp_path, key).count() == 0


@configs
def test_given_plain_files_when_opened_with_a_key_then_discarded_and_vice_versa(
    config: str, tmp_path: Path, key: TemplateCipher, caplog: Any
) -> None:
    _, gallery, _ = face_like(seed=3)
    filled(config, tmp_path / "plain", None, seed=3).persist()
    with caplog.at_level(logging.WARNING, logger="facelens.index"):
        assert open_index(config, tmp_path / "plain", key).count() == 0
    assert "is not sealed" in caplog.text
    # The plain templates are gone at once, not at the next persist.
    assert files_holding(tmp_path / "plain", gallery) == []

    filled(config, tmp_path / "sealed", key, seed=3).persist()
    assert open_index(config, tmp_path / "sealed", None).count() == 0
    assert "no template key is configured" in caplog.text


@configs
def test_given_rekey_then_the_new_key_opens_the_same_index_and_the_old_one_does_not(
    config: str, tmp_path: Path, key: TemplateCipher, other_key: TemplateCipher
) -> None:
    _, gallery, queries = face_like(seed=4)
    index = filled(config, tmp_path, key, seed=4)
    index.persist()
    index.rekey(other_key)
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert files_holding(tmp_path, gallery) == []
    same_results(index, index, queries)  # still answers in this process
    reopened = open_index(config, tmp_path, other_key)
    assert reopened.count() == index.count()
    same_results(index, reopened, queries)
    assert open_index(config, tmp_path, key).count() == 0


@configs
def test_given_plain_files_when_rekeyed_then_sealed_and_no_plain_copy_remains(
    config: str, tmp_path: Path, key: TemplateCipher
) -> None:
    _, gallery, queries = face_like(seed=5)
    index = filled(config, tmp_path, None, seed=5)
    index.persist()
    index.rekey(key)
    assert files_holding(tmp_path, gallery) == []
    assert not (tmp_path / PLAIN_NAME).exists()
    same_results(index, open_index(config, tmp_path, key), queries)


@tiered_configs
def test_given_a_removed_face_when_persisted_then_its_row_is_zeros(
    config: str, tmp_path: Path, key: TemplateCipher
) -> None:
    ids, gallery, _ = face_like(seed=6)
    index = open_index(config, tmp_path, key, ann_max_dead_share=1.0)
    index.add(ids, gallery)
    gone, kept = 123, 124
    assert index.remove(np.array([gone])) == 1
    index.persist()
    data = (tmp_path / SEALED_NAME).read_bytes()
    row = MODEL.dim * 4 + 28
    assert data[gone * row : (gone + 1) * row] == bytes(row)
    assert any(data[kept * row : (kept + 1) * row])
    reopened = open_index(config, tmp_path, key)
    assert gone not in reopened.ids() and reopened.count() == len(ids) - 1


@pytest.mark.parametrize("config", ["flat", "tiered-approximate"])
def test_given_an_altered_sealed_index_file_then_empty_without_error(
    config: str, tmp_path: Path, key: TemplateCipher, caplog: Any
) -> None:
    filled(config, tmp_path, key).persist()
    path = tmp_path / ("faiss-flat.faiss" if config == "flat" else "ivfpq.faiss")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="facelens.index"):
        assert open_index(config, tmp_path, key).count() == 0
    assert "does not open with the configured key" in caplog.text


def test_given_an_index_file_of_several_chunks_then_it_round_trips_and_damage_is_caught(
    tmp_path: Path, key: TemplateCipher, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    monkeypatch.setattr("facelens.index.base.SEALED_CHUNK_BYTES", 4096)
    _, _, queries = face_like(seed=7)
    index = filled("flat", tmp_path, key, seed=7)
    index.persist()
    path = tmp_path / "faiss-flat.faiss"
    assert path.stat().st_size > 100 * (4096 + 28)
    same_results(index, open_index("flat", tmp_path, key), queries)
    whole = path.read_bytes()
    altered = bytearray(whole)
    altered[50 * (4096 + 28) + 100] ^= 1  # in a chunk in the middle, opened as FAISS reads
    path.write_bytes(bytes(altered))
    with caplog.at_level(logging.WARNING, logger="facelens.index"):
        assert open_index("flat", tmp_path, key).count() == 0
    assert "does not open with the configured key" in caplog.text
    path.write_bytes(whole + whole[-(4096 + 28) :])  # a chunk too many: it does not open
    assert open_index("flat", tmp_path, key).count() == 0
    path.write_bytes(whole[: 4096 + 28])  # one whole chunk left
    assert open_index("flat", tmp_path, key).count() == 0


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="Linux only")
@pytest.mark.parametrize("sealed", [False, True])
def test_given_rows_to_read_then_the_kernel_is_told_them_all_before_the_first_is_read(
    tmp_path: Path, key: TemplateCipher, monkeypatch: pytest.MonkeyPatch, sealed: bool
) -> None:
    """A re-rank reads 256 rows scattered over a file of gigabytes. Faulted in one by one on a
    cold page cache they took 1.9 s at 10 million faces; told to the kernel first, 0.02 s."""
    cipher = key if sealed else None
    _, gallery, _ = face_like(seed=9)
    vectors = VectorFile(tmp_path / ("v.sealed" if sealed else "v.f32"), MODEL.dim, cipher)
    vectors.write(np.arange(1, 40), gallery[:39])
    vectors.flush()
    advised: list[tuple[int, int]] = []
    advise = os.posix_fadvise

    def recording(fd: int, offset: int, length: int, advice: int) -> None:
        assert advice == os.POSIX_FADV_WILLNEED
        advised.append((offset, length))
        advise(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", recording)
    read = vectors.read(np.array([[30, -1, 3, 5, 6, 7, 10**6]]))
    np.testing.assert_array_equal(read[0, [0, 2, 3, 4, 5]], gallery[[29, 2, 4, 5, 6]])
    row = MODEL.dim * 4 + (28 if sealed else 0)
    assert advised == [(3 * row, row), (5 * row, 3 * row), (30 * row, row)]


def test_given_a_sealed_row_moved_to_another_id_then_it_does_not_open(
    tmp_path: Path, key: TemplateCipher
) -> None:
    _, gallery, _ = face_like(seed=8)
    vectors = VectorFile(tmp_path / SEALED_NAME, MODEL.dim, key)
    vectors.write(np.array([3, 5]), gallery[:2])
    np.testing.assert_array_equal(vectors.read(np.array([[5, -1, 4, 3]]))[0, [3, 0]], gallery[:2])
    assert not vectors.read(np.array([-1, 4, 10**6])).any(), "padding and empty rows: zeros"
    vectors.flush()
    row = MODEL.dim * 4 + 28
    data = bytearray((tmp_path / SEALED_NAME).read_bytes())
    data[3 * row : 4 * row], data[5 * row : 6 * row] = (
        data[5 * row : 6 * row],
        data[3 * row : 4 * row],
    )
    (tmp_path / SEALED_NAME).write_bytes(bytes(data))
    with pytest.raises(DecryptionError):
        VectorFile(tmp_path / SEALED_NAME, MODEL.dim, key).read(np.array([3]))


def test_given_a_collection_searched_again_then_its_vectors_come_from_memory_until_a_change(
    key: TemplateCipher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search within a small collection scans it exactly; sealed, it opened every row on
    every search (45.7 ms against 8.8 ms plain at 20,000 faces). Kept opened in memory, the
    next search opens none; any change to the index empties what was kept."""
    index = filled("tiered-approximate", tmp_path, key)
    ids, _, queries = face_like(1)
    allowed = ids[100:1100]
    expected = index.search(queries, 10, allowed_ids=allowed)
    opened: list[int] = []
    read = VectorFile.read

    def counting(self: VectorFile, which: IdArray) -> FloatArray:
        opened.append(which.size)
        return read(self, which)

    monkeypatch.setattr(VectorFile, "read", counting)
    again = index.search(queries, 10, allowed_ids=allowed)
    assert opened == [] and np.array_equal(again[1], expected[1])
    gone = int(expected[1][0][0])
    assert index.remove(np.array([gone])) == 1
    after = index.search(queries, 10, allowed_ids=allowed)
    assert opened, "removed: read afresh"
    assert gone not in after[1]


def test_given_live_ids_then_the_sample_read_on_open_is_spread_over_them() -> None:
    live = np.zeros(1000, dtype=bool)
    live[[3, 500, 501, 998]] = True
    assert spread_sample(live, 4).tolist() == [3, 500, 998]  # 250 and 750: the next live
    assert spread_sample(np.zeros(5, dtype=bool), 16).tolist() == []
    assert spread_sample(np.zeros(0, dtype=bool), 16).tolist() == []
    every = np.ones(10_000, dtype=bool)
    assert spread_sample(every, 16).tolist() == [625 * i for i in range(16)]
