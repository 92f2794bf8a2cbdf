"""The files of a ``faiss-tiered`` index folder: reading the tiers from them, writing them
atomically, sealed or plain, and discarding them.

Files in the index folder: ``vectors.f32`` (the full vectors, row = face id; with a template
key ``vectors.sealed``, each row sealed), ``live.npy`` (which ids are indexed), ``ivfpq.faiss``
(the approximate index, once built; sealed with a template key, as its codes are a lossy copy
of the templates) and ``state.json`` (model, tier, parameters and ``sealed_with``, the id of the
key the files are sealed with), written last so a crash leaves the previous state.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from facelens.errors import DecryptionError
from facelens.index.base import write_sealed_file
from facelens.index.faiss_flat import read_sealed_index
from facelens.index.ivfpq import ADD_CHUNK, AnnParams, search_parameters
from facelens.index.vector_file import PLAIN_NAME, SEALED_NAME, VectorFile
from facelens.security.crypto import TemplateCipher
from facelens.types import IdArray, ModelId

STATE_NAME = "state.json"
LIVE_NAME = "live.npy"
IVF_NAME = "ivfpq.faiss"

LiveArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Tiers:
    """What the files hold, opened: which ids are indexed (``live[id]``), and the exact index
    (while small) or the approximate one with its parameters and search parameters."""

    live: LiveArray
    exact: Any | None
    ivf: Any | None
    ann: AnnParams | None
    search_params: Any


class TieredFiles:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.state = folder / STATE_NAME
        self.live = folder / LIVE_NAME
        self.ivf = folder / IVF_NAME

    def load(
        self,
        model: ModelId,
        backend: str,
        key_problem: Callable[[object], str | None],
        vectors: VectorFile,
        cipher: TemplateCipher | None,
    ) -> Tiers | str | None:
        """The tiers persisted for ``model`` by ``backend``; None when there are none (a new
        index, or another model's), or why they cannot be used: unreadable, or sealed with
        another key than ``cipher`` (``key_problem`` says why a recorded key id does not do,
        or None when it does)."""
        if not self.state.exists():
            return None  # a new index
        problem: str | None
        try:
            state = json.loads(self.state.read_text())
            if not isinstance(state, dict):
                raise ValueError("state.json holds no object")
        except (OSError, ValueError) as exc:
            state, problem = {}, f"cannot be read ({exc})"
        else:
            if state.get("model") != str(model) or state.get("backend") != backend:
                return None
            problem = key_problem(state.get("sealed_with"))
        if problem is None:
            try:
                return self._open(state, vectors, model.dim, cipher)
            except DecryptionError:
                problem = "does not open with the configured key"
            except Exception as exc:  # derived files: any damage means rebuild
                problem = f"cannot be read ({type(exc).__name__}: {exc})"
        return problem

    def _open(
        self, state: dict[str, Any], vectors: VectorFile, dim: int, cipher: TemplateCipher | None
    ) -> Tiers:
        """Read the files ``state`` names; raises, changing nothing, when one is unreadable."""
        live = np.load(self.live).astype(bool)
        ivf = None
        if state.get("ann"):
            if cipher is None:
                ivf = faiss.read_index(str(self.ivf))
            else:
                ivf = read_sealed_index(self.ivf, cipher)
        # The vector file must hold the faces the state names, under this key: a crash in
        # the middle of ``rekey`` leaves one re-sealed and the state not yet (a sample of
        # rows is read; DecryptionError when they do not open).
        sample = spread_sample(live, 16)
        if len(sample) and int(sample.max()) >= vectors.capacity:
            raise ValueError("the vector file holds fewer faces than the state names")
        vectors.read(sample)
        exact = None
        if ivf is None:
            ids = np.flatnonzero(live).astype(np.int64)
            exact = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
            for start in range(0, len(ids), ADD_CHUNK):
                chunk = ids[start : start + ADD_CHUNK]
                exact.add_with_ids(vectors.read(chunk), chunk)
            return Tiers(live, exact, None, None, None)
        ann = AnnParams(**state["ann"])
        return Tiers(live, None, ivf, ann, search_parameters(ann))

    def write(
        self,
        *,
        live: LiveArray,
        ivf: Any | None,
        ivf_changed: bool,
        ann: AnnParams | None,
        model: ModelId,
        backend: str,
        cipher: TemplateCipher | None,
    ) -> None:
        """Write ``live``, ``ivf`` (when ``ivf_changed`` or not yet on disk) and then the state
        naming them, each atomically (tmp + replace)."""
        if ivf is not None and (ivf_changed or not self.ivf.exists()):
            if cipher is None:
                tmp = self.ivf.with_suffix(".tmp")
                faiss.write_index(ivf, str(tmp))
                os.replace(tmp, self.ivf)
            else:
                write_sealed_file(self.ivf, faiss.serialize_index(ivf), cipher)
        live_tmp = self.folder / "live.tmp.npy"
        np.save(live_tmp, live)
        os.replace(live_tmp, self.live)
        state = {
            "model": str(model),
            "backend": backend,
            "ann": asdict(ann) if ann is not None else None,
            "sealed_with": cipher.key_id if cipher is not None else None,
        }
        state_tmp = self.state.with_suffix(".tmp")
        state_tmp.write_text(json.dumps(state))
        os.replace(state_tmp, self.state)
        if ivf is None:
            # No longer named by the state (cleared): its codes are of erased faces.
            self.ivf.unlink(missing_ok=True)

    def discard(self) -> None:
        """Remove every file, vector files included: ``state.json`` first, so that a crash
        midway never leaves a state naming files that are gone. Removed, not truncated: a
        process still mapping the old vector file keeps its pages."""
        self.state.unlink(missing_ok=True)
        for path in (
            self.ivf,
            self.live,
            self.ivf.with_suffix(".tmp"),
            self.ivf.with_name(self.ivf.name + ".tmp"),
            self.folder / "live.tmp.npy",
            self.state.with_suffix(".tmp"),
            self.folder / PLAIN_NAME,
            self.folder / SEALED_NAME,
            self.folder / (PLAIN_NAME + ".tmp"),
            self.folder / (SEALED_NAME + ".tmp"),
        ):
            path.unlink(missing_ok=True)


def spread_sample(live: LiveArray, n: int) -> IdArray:
    """Up to ``n`` live ids spread over ``live``: the first at or after each of ``n`` evenly
    spaced places. Listing every live id to pick them cost 0.15 s of each open at 10 million."""
    picked: set[int] = set()
    if not len(live):
        return np.zeros(0, dtype=np.int64)
    for place in np.linspace(0, len(live), num=n, endpoint=False).astype(np.int64).tolist():
        offset = int(np.argmax(live[place:]))  # the first True; 0 when there is none
        if live[place + offset]:
            picked.add(place + offset)
    return np.array(sorted(picked), dtype=np.int64)
