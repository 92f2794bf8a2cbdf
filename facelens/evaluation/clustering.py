"""Scoring a clustering against the true identities: BCubed precision, recall and F.

BCubed (Bagga and Baldwin 1998; Amigó et al. 2009) scores each item: its precision is the
share of its cluster that has its identity, its recall the share of its identity that is in
its cluster; both are averaged over the items, and F is their harmonic mean. Every item
counts once, so a large identity weighs as many items as it has, and a face left alone is a
cluster of one (precision 1).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from facelens.errors import InvalidArgumentError


@dataclass(frozen=True, slots=True)
class BCubed:
    precision: float
    recall: float

    @property
    def f(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def bcubed(clusters: Sequence[Hashable], truth: Sequence[Hashable]) -> BCubed:
    """BCubed precision and recall of ``clusters`` (each item's cluster label) against
    ``truth`` (each item's identity), items in the same order."""
    if len(clusters) != len(truth):
        raise InvalidArgumentError(f"{len(clusters)} cluster labels for {len(truth)} items")
    if not clusters:
        raise InvalidArgumentError("BCubed needs at least one item")
    both = Counter(zip(clusters, truth, strict=True))
    cluster_sizes = Counter(clusters)
    truth_sizes = Counter(truth)
    # Each of the ``n`` items of a (cluster, identity) cell has n / |cluster| precision.
    precision = sum(n * n / cluster_sizes[c] for (c, _), n in both.items())
    recall = sum(n * n / truth_sizes[t] for (_, t), n in both.items())
    return BCubed(precision / len(clusters), recall / len(clusters))


def labels_of(groups: Sequence[Sequence[int]], count: int) -> list[int]:
    """Each of ``count`` items' cluster label from groups of item indexes; an item in no
    group is a cluster of its own."""
    labels = [-1] * count
    for label, group in enumerate(groups):
        for item in group:
            if labels[item] != -1:
                raise InvalidArgumentError(f"item {item} is in two groups")
            labels[item] = label
    next_label = len(groups)
    for item, label in enumerate(labels):
        if label == -1:
            labels[item] = next_label
            next_label += 1
    return labels
