"""Grouping unit face embeddings into proposed people: average-link agglomeration at a high
cosine similarity, incremental, built to split rather than merge.

**The rule.** Two groups join when the mean cosine similarity over every pair of their faces
(one face from each) is at least the threshold for their size: average linkage (UPGMA). For
unit vectors that mean is exact and cheap, ``sum(A) . sum(B) / (|A| |B|)``, so no pair is left
out of it. A single close look-alike, or a chain of them, cannot pull two people together:
every face of one group weighs on the decision, not the nearest one as in single linkage
(DBSCAN, connected components) or a neighbourhood vote (Chinese whispers). Two faces need
``threshold``; the smaller group's size ``k`` lowers it towards ``floor`` as ``1 / sqrt(k)``
(``required``), since a mean over more pairs is steadier. Groups join best margin first, so a
face goes where it fits best.

**Candidates.** Only groups linked by a pair of faces at or above ``floor`` are compared (a
pair of groups whose mean similarity reaches ``floor`` has such a pair); each face keeps its
``neighbours`` most similar faces above it.

**Incremental.** Groups made before are given as fixed groups: new faces (and groups of new
faces) may join one of them, by the same rule, but two fixed groups never join and a fixed
group never loses a face. A second run over new faces therefore leaves every earlier group in
place and adds to it, without clustering the earlier faces again.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from facelens.errors import InvalidArgumentError
from facelens.types import FloatArray

#: Each face's candidate links: its nearest faces at or above the threshold, at most this many.
DEFAULT_NEIGHBOURS = 50
_BLOCK_ROWS = 1024


@dataclass(frozen=True, slots=True)
class Grouping:
    """Where the new faces went, by their row in the vectors given.

    ``joined[j]``: the rows that joined fixed group ``j``; ``formed``: new groups of at least
    ``min_size`` rows (each ascending, the groups by their first row); ``single``: rows left
    alone (or in a group smaller than ``min_size``), ascending."""

    joined: dict[int, list[int]] = field(default_factory=dict)
    formed: list[list[int]] = field(default_factory=list)
    single: list[int] = field(default_factory=list)


def required(smaller: int, threshold: float, floor: float) -> float:
    """The average linkage two groups need to join when the smaller has ``smaller`` faces:
    ``threshold`` for two faces, then nearer ``floor`` as ``1 / sqrt(smaller)``, as the mean
    over more pairs of faces is less noisy (its spread falls as one over the square root)."""
    return floor + (threshold - floor) / math.sqrt(smaller)


def candidate_links(
    vectors: FloatArray,
    others: FloatArray | None = None,
    *,
    threshold: float,
    neighbours: int,
) -> list[tuple[int, int]]:
    """Pairs ``(i, j)`` with ``vectors[i] . others[j] >= threshold``, for each row ``i`` its
    ``neighbours`` most similar ``j``. Without ``others``, the rows are compared among
    themselves (``i == j`` left out)."""
    same = others is None
    others = vectors if others is None else others
    links: list[tuple[int, int]] = []
    if not len(vectors) or not len(others):
        return links
    k = min(neighbours, len(others))
    for start in range(0, len(vectors), _BLOCK_ROWS):
        block = vectors[start : start + _BLOCK_ROWS] @ others.T
        rows = np.arange(len(block))
        if same:  # a face is not its own neighbour
            cols = start + rows
            inside = cols < len(others)
            block[rows[inside], cols[inside]] = -np.inf
        top = np.argpartition(-block, k - 1, axis=1)[:, :k] if k < len(others) else None
        for r in rows:
            cols_r = top[r] if top is not None else np.arange(len(others))
            keep = cols_r[block[r, cols_r] >= threshold]
            links.extend((start + int(r), int(j)) for j in keep)
    return links


def group_faces(
    vectors: FloatArray,
    fixed: Sequence[FloatArray] = (),
    *,
    threshold: float,
    floor: float | None = None,
    min_size: int = 2,
    neighbours: int = DEFAULT_NEIGHBOURS,
) -> Grouping:
    """Group the rows of ``vectors`` ((n, d) unit float32), joining them to the ``fixed``
    groups ((k_j, d) unit float32 each) where they fit, by average linkage: two faces join at
    ``threshold`` (cosine similarity), larger groups nearer ``floor`` (``required``; without
    ``floor``, at ``threshold`` whatever their size)."""
    floor = threshold if floor is None else floor
    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    if not -1.0 <= floor <= threshold <= 1.0:
        raise InvalidArgumentError(
            f"cosine similarity thresholds with -1 <= floor <= threshold <= 1, not {floor} "
            f"and {threshold}"
        )
    if min_size < 2 or neighbours < 1:
        raise InvalidArgumentError("a group has at least 2 faces; a face at least 1 neighbour")
    n, m = len(vectors), len(fixed)
    dim = vectors.shape[1] if n else (fixed[0].shape[1] if m else 0)
    members = [np.asarray(f, dtype=np.float32).reshape(-1, dim) for f in fixed]
    # Nodes 0..m-1 are the fixed groups, m..m+n-1 the new faces.
    sums = np.zeros((m + n, max(dim, 1)), dtype=np.float64)
    sizes = np.ones(m + n, dtype=np.int64)
    for j, group in enumerate(members):
        if not len(group):
            raise InvalidArgumentError(f"fixed group {j} has no faces")
        sums[j], sizes[j] = group.sum(axis=0), len(group)
    sums[m:] = vectors
    linked: list[set[int]] = [set() for _ in range(m + n)]
    for i, j in candidate_links(vectors, threshold=floor, neighbours=neighbours):
        linked[m + i].add(m + j)
        linked[m + j].add(m + i)
    if m:
        owner = np.concatenate([np.full(len(g), j, dtype=np.int64) for j, g in enumerate(members)])
        pooled = np.concatenate(members)
        for i, r in candidate_links(vectors, pooled, threshold=floor, neighbours=neighbours):
            linked[m + i].add(int(owner[r]))
            linked[int(owner[r])].add(m + i)
    return _agglomerate(sums, sizes, linked, m, threshold, floor, min_size)


def _agglomerate(
    sums: np.ndarray,
    sizes: np.ndarray,
    linked: list[set[int]],
    m: int,
    threshold: float,
    floor: float,
    min_size: int,
) -> Grouping:
    """Join the best linked pair of groups while its average linkage reaches ``threshold``;
    nodes below ``m`` are fixed (never joined to each other)."""
    total = len(sizes)
    alive = np.ones(total, dtype=bool)
    version = np.zeros(total, dtype=np.int64)
    rows: list[list[int]] = [[] for _ in range(m)] + [[i] for i in range(total - m)]

    def margin(a: int, b: int) -> float:
        """How far the pair's average linkage is above the threshold for its size."""
        mean = float(sums[a] @ sums[b]) / float(sizes[a] * sizes[b])
        return mean - required(int(min(sizes[a], sizes[b])), threshold, floor)

    heap: list[tuple[float, int, int, int, int]] = []

    def push(a: int, b: int) -> None:
        if a < m and b < m:
            return
        score = margin(a, b)
        if score >= 0:
            heapq.heappush(heap, (-score, a, b, int(version[a]), int(version[b])))

    for a in range(total):
        for b in linked[a]:
            if a < b:
                push(a, b)
    while heap:
        _, a, b, va, vb = heapq.heappop(heap)
        if not (alive[a] and alive[b]) or version[a] != va or version[b] != vb:
            continue
        keep, gone = (a, b) if a < b else (b, a)  # a fixed group keeps its place
        sums[keep] += sums[gone]
        sizes[keep] += sizes[gone]
        rows[keep].extend(rows[gone])
        alive[gone] = False
        version[keep] += 1
        neighbours = (linked[keep] | linked[gone]) - {keep, gone}
        for c in linked[gone]:
            linked[c].discard(gone)
            linked[c].add(keep)
        linked[keep] = {c for c in neighbours if alive[c]}
        linked[gone] = set()
        for c in linked[keep]:
            push(keep, c)
    grouping = Grouping()
    for node in range(total):
        if not alive[node] or (node < m and not rows[node]):
            continue
        members = sorted(rows[node])
        if node < m:
            grouping.joined[node] = members
        elif len(members) >= min_size:
            grouping.formed.append(members)
        else:
            grouping.single.extend(members)
    grouping.formed.sort(key=lambda g: g[0])
    grouping.single.sort()
    return grouping
