"""Verification and identification metrics, on plain arrays of similarity scores.

Conventions: a higher score means more alike; a comparison "matches" at threshold ``t`` when
its score is ``>= t``. FAR (= FMR) is the share of different-person comparisons that match,
TAR (= 1 - FNMR) the share of same-person comparisons that match. For 1:N search, FPIR is the
share of non-mated searches that return any candidate at or above ``t``, FNIR the share of
mated searches whose mate is not among the candidates at or above ``t``. Terms follow ISO/IEC
19795-1 and NIST FRVT 1:N.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Scores = npt.NDArray[np.floating]
Labels = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Roc:
    """Operating points at every distinct threshold, from strictest to most lenient."""

    thresholds: npt.NDArray[np.float64]
    far: npt.NDArray[np.float64]
    tar: npt.NDArray[np.float64]


def roc(scores: Scores, same: Labels) -> Roc:
    """FAR and TAR at each distinct score used as threshold (plus one above all scores)."""
    scores = np.asarray(scores, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    if same.all() or not same.any():
        raise ValueError("a ROC needs both same-person and different-person comparisons")
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    sorted_same = same[order]
    # Last index of each run of equal scores: the threshold admits the whole run.
    last = np.r_[np.flatnonzero(np.diff(sorted_scores) != 0), len(scores) - 1]
    true_accepts = np.cumsum(sorted_same)[last]
    false_accepts = np.cumsum(~sorted_same)[last]
    thresholds = np.r_[np.inf, sorted_scores[last]]
    tar = np.r_[0.0, true_accepts / same.sum()]
    far = np.r_[0.0, false_accepts / (~same).sum()]
    return Roc(thresholds=thresholds, far=far, tar=tar)


def auc(curve: Roc) -> float:
    """Area under the ROC (TAR against FAR)."""
    return float(np.trapezoid(curve.tar, curve.far))


def eer(curve: Roc) -> float:
    """Equal error rate: where FAR meets FRR (= 1 - TAR), linearly interpolated."""
    frr = 1.0 - curve.tar
    diff = curve.far - frr  # rises from -1 to +1 as the threshold loosens
    i = int(np.argmax(diff >= 0))
    if i == 0:
        return float(curve.far[0])
    d0, d1 = diff[i - 1], diff[i]
    w = d0 / (d0 - d1) if d1 != d0 else 0.0
    return float(curve.far[i - 1] + w * (curve.far[i] - curve.far[i - 1]))


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    target_far: float
    threshold: float
    far: float
    tar: float


def tar_at_far(curve: Roc, target_far: float) -> OperatingPoint:
    """The most lenient threshold whose FAR is still at most ``target_far``, and its TAR."""
    allowed = np.flatnonzero(curve.far <= target_far)
    i = int(allowed[-1])
    return OperatingPoint(
        target_far=target_far,
        threshold=float(curve.thresholds[i]),
        far=float(curve.far[i]),
        tar=float(curve.tar[i]),
    )


def best_accuracy_threshold(scores: Scores, same: Labels) -> float:
    """The threshold with the highest accuracy on these comparisons (midpoint between scores)."""
    curve = roc(scores, same)
    n_same = int(np.sum(same))
    n_diff = len(same) - n_same
    correct = curve.tar * n_same + (1.0 - curve.far) * n_diff
    i = int(np.argmax(correct))
    if i == 0:
        return float(np.nextafter(curve.thresholds[1], np.inf))
    if i + 1 < len(curve.thresholds):
        return float((curve.thresholds[i] + curve.thresholds[i + 1]) / 2.0)
    return float(curve.thresholds[i])


def accuracy(scores: Scores, same: Labels, threshold: float) -> float:
    return float(np.mean((np.asarray(scores) >= threshold) == np.asarray(same)))


@dataclass(frozen=True, slots=True)
class FoldedAccuracy:
    """The LFW protocol: per fold, the threshold chosen on the other folds."""

    fold_accuracies: list[float]
    fold_thresholds: list[float]

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_accuracies))

    @property
    def std(self) -> float:
        """Sample standard deviation over folds (n - 1), as LFW asks."""
        return float(np.std(self.fold_accuracies, ddof=1)) if len(self.fold_accuracies) > 1 else 0.0

    @property
    def standard_error(self) -> float:
        return self.std / float(np.sqrt(len(self.fold_accuracies)))


def folded_accuracy(scores: Scores, same: Labels, folds: npt.NDArray[np.integer]) -> FoldedAccuracy:
    scores = np.asarray(scores)
    same = np.asarray(same, dtype=bool)
    folds = np.asarray(folds)
    accuracies, thresholds = [], []
    for fold in np.unique(folds):
        test = folds == fold
        threshold = best_accuracy_threshold(scores[~test], same[~test])
        thresholds.append(threshold)
        accuracies.append(accuracy(scores[test], same[test], threshold))
    return FoldedAccuracy(fold_accuracies=accuracies, fold_thresholds=thresholds)


# --- open-set identification (1:N) ---------------------------------------------------------


def cmc(mate_ranks: npt.NDArray[np.integer], max_rank: int) -> npt.NDArray[np.float64]:
    """Share of mated searches whose mate is at rank <= r, for r = 1..max_rank.
    ``mate_ranks`` are 1-based; 0 means the mate was not in the candidate list."""
    ranks = np.asarray(mate_ranks)
    return np.array([np.mean((ranks >= 1) & (ranks <= r)) for r in range(1, max_rank + 1)])


@dataclass(frozen=True, slots=True)
class IdentificationPoint:
    target_fpir: float
    threshold: float
    fpir: float
    fnir: float


def fnir_at_fpir(
    nonmated_top_scores: Scores, mate_scores: Scores, target_fpir: float
) -> IdentificationPoint:
    """FNIR at the most lenient threshold whose FPIR is at most ``target_fpir``.

    ``nonmated_top_scores``: the best candidate score of each non-mated search.
    ``mate_scores``: the mate's score in each mated search, ``-inf`` when the mate was not in
    the candidate list.
    """
    top = np.sort(np.asarray(nonmated_top_scores, dtype=np.float64))[::-1]
    allowed = int(np.floor(target_fpir * len(top)))  # false positives we may accept
    threshold = float(np.nextafter(top[allowed], np.inf)) if allowed < len(top) else -np.inf
    mates = np.asarray(mate_scores, dtype=np.float64)
    return IdentificationPoint(
        target_fpir=target_fpir,
        threshold=threshold,
        fpir=float(np.mean(top >= threshold)),
        fnir=float(np.mean(mates < threshold)),
    )


# --- per-group -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupRates:
    group: str
    genuine_pairs: int
    impostor_pairs: int
    fnmr: float | None
    fmr: float | None


def group_rates(
    scores: Scores,
    same: Labels,
    groups_a: Sequence[str | None],
    groups_b: Sequence[str | None],
    threshold: float,
) -> list[GroupRates]:
    """FMR and FNMR per group at one global threshold, over the comparisons whose two images
    both belong to the group (the convention of NIST's demographic study, NISTIR 8280)."""
    scores = np.asarray(scores)
    same = np.asarray(same, dtype=bool)
    labels = sorted({g for g in [*groups_a, *groups_b] if g is not None})
    out = []
    for label in labels:
        inside = np.array(
            [a == label and b == label for a, b in zip(groups_a, groups_b, strict=True)]
        )
        genuine = inside & same
        impostor = inside & ~same
        out.append(
            GroupRates(
                group=label,
                genuine_pairs=int(genuine.sum()),
                impostor_pairs=int(impostor.sum()),
                fnmr=float(np.mean(scores[genuine] < threshold)) if genuine.any() else None,
                fmr=float(np.mean(scores[impostor] >= threshold)) if impostor.any() else None,
            )
        )
    return out


def fmr_ratio(rates: list[GroupRates]) -> float | None:
    """Highest group FMR over lowest; None when fewer than two groups have an FMR or the
    lowest is zero (the ratio is then unbounded: report the counts instead)."""
    fmrs = [r.fmr for r in rates if r.fmr is not None]
    if len(fmrs) < 2 or min(fmrs) == 0:
        return None
    return max(fmrs) / min(fmrs)
