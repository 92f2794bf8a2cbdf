"""Arrays of face ids."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IdArray = npt.NDArray[np.int64]


def unique_ids(ids: npt.ArrayLike) -> IdArray:
    """The distinct ``ids``, sorted: ``np.unique`` by a sort. Since NumPy 2.3 ``np.unique``
    hashes integers, 11 s for 10 million ids on our 2 cores against under 1 s sorted, and
    the whole index's ids pass through here (the score cohort's sample, Milvus's id list)."""
    array = np.asarray(ids, dtype=np.int64).ravel()
    if len(array) < 2 or bool(np.all(array[1:] > array[:-1])):
        return array.copy()  # already distinct and sorted, as an index's ids come
    array = np.sort(array, kind="stable")  # timsort: near-sorted input in near-linear time
    keep = np.empty(len(array), dtype=bool)
    keep[0] = True
    np.not_equal(array[1:], array[:-1], out=keep[1:])
    return array[keep]
