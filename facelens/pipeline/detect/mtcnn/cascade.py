"""MTCNN's cascade around its three networks, in numpy: the image pyramid, candidate boxes from
P-Net's map, non-maximum suppression, box regression and squaring, and the crops for R-Net and
O-Net. It follows facenet-pytorch's ``models/utils/detect_face.py`` step by step (which follows
the original MTCNN's MATLAB code), so that the same weights give the same faces.

Boxes are float arrays (n, 4) of x1, y1, x2, y2 in image pixels, with scores (n,) beside them.
Resizing, for the pyramid and the crops, is area averaging as facenet-pytorch's
``interpolate(mode="area")``, here Pillow's box filter on the uint8 image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

Floats = npt.NDArray[np.float32]
Indices = npt.NDArray[np.intp]

#: P-Net sees a 12 px window; its map has a cell every 2 px of the image it is given.
CELL_PX = 12
STRIDE_PX = 2


@dataclass(frozen=True, slots=True)
class Candidates:
    """Faces a stage passes on: boxes (n, 4) x1 y1 x2 y2, scores (n,), and each box's
    regression (n, 4) from the stage that scored it (shares of its width and height)."""

    boxes: Floats
    scores: Floats
    regression: Floats

    def __len__(self) -> int:
        return len(self.scores)

    def take(self, keep: Indices | npt.NDArray[np.bool_]) -> Candidates:
        return Candidates(self.boxes[keep], self.scores[keep], self.regression[keep])

    @classmethod
    def concat(cls, parts: list[Candidates]) -> Candidates:
        if not parts:
            return cls(
                np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 4), np.float32)
            )
        return cls(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.regression for p in parts]),
        )


def pyramid_scales(height: int, width: int, min_face_px: float, factor: float) -> list[float]:
    """Scales at which P-Net's 12 px window covers faces from ``min_face_px`` up to the
    image's short side, each ``factor`` times the one before."""
    scale = CELL_PX / min_face_px
    side = min(height, width) * scale
    scales = []
    while side >= CELL_PX:
        scales.append(scale)
        scale *= factor
        side *= factor
    return scales


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """facenet-pytorch's size of the image at ``scale``: (int(h * scale + 1), int(w * ...))."""
    return int(height * scale + 1), int(width * scale + 1)


def resized(image: Image.Image, height: int, width: int) -> npt.NDArray[np.uint8]:
    return np.asarray(image.resize((width, height), Image.Resampling.BOX))


def pnet_candidates(
    regression: Floats, probability: Floats, scale: float, threshold: float
) -> Candidates:
    """Boxes of the cells of one P-Net map (regression (4, H', W'), face probability
    (H', W')) scoring at least ``threshold``, in the pixels of the unscaled image."""
    ys, xs = np.nonzero(probability >= threshold)
    cells = np.stack([xs, ys], axis=1).astype(np.float32)
    top_left = np.floor((STRIDE_PX * cells + 1) / scale)
    bottom_right = np.floor((STRIDE_PX * cells + CELL_PX) / scale)
    boxes = np.concatenate([top_left, bottom_right], axis=1).astype(np.float32)
    return Candidates(boxes, probability[ys, xs].astype(np.float32), regression[:, ys, xs].T.copy())


def nms(boxes: Floats, scores: Floats, threshold: float, *, overlap: str = "union") -> Indices:
    """Greedy non-maximum suppression: the indices kept, best score first. ``union``: a box
    goes when its IoU with a kept one exceeds ``threshold`` (areas as torchvision's nms);
    ``min``: when the overlap over the smaller box does (areas counted inclusive, +1, as
    facenet-pytorch's ``nms_numpy``)."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.intp)
    x1, y1, x2, y2 = (boxes[:, i].astype(np.float64) for i in range(4))
    extra = 1.0 if overlap == "min" else 0.0
    area = (x2 - x1 + extra) * (y2 - y1 + extra)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        w = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + extra)
        h = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + extra)
        inter = w * h
        if overlap == "min":
            ratio = inter / np.minimum(area[best], area[rest])
        else:
            ratio = inter / (area[best] + area[rest] - inter)
        order = rest[ratio <= threshold]
    return np.asarray(keep, dtype=np.intp)


def regressed(boxes: Floats, regression: Floats, *, inclusive: bool = True) -> Floats:
    """Boxes moved by their regression, shares of the width and height (+1 when
    ``inclusive``, as facenet-pytorch's ``bbreg``; P-Net's step uses plain widths)."""
    extra = 1.0 if inclusive else 0.0
    w = boxes[:, 2] - boxes[:, 0] + extra
    h = boxes[:, 3] - boxes[:, 1] + extra
    scale = np.stack([w, h, w, h], axis=1)
    out: Floats = (boxes + regression * scale).astype(np.float32)
    return out


def squared(boxes: Floats) -> Floats:
    """Each box made a square of its longer side, about the same centre (``rerec``)."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    x1 = boxes[:, 0] + 0.5 * w - 0.5 * side
    y1 = boxes[:, 1] + 0.5 * h - 0.5 * side
    out: Floats = np.stack([x1, y1, x1 + side, y1 + side], axis=1).astype(np.float32)
    return out


def crop_windows(
    boxes: Floats, height: int, width: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """facenet-pytorch's ``pad``: each box truncated to whole pixels and clipped to the image,
    as (n, 4) x0 y0 x1 y1 slice bounds (x0 = x1 - 1 of the box, 1-based as MATLAB's), and which
    boxes keep any pixels."""
    whole = np.trunc(boxes).astype(np.int64)
    x0 = np.maximum(whole[:, 0], 1) - 1
    y0 = np.maximum(whole[:, 1], 1) - 1
    x1 = np.minimum(whole[:, 2], width)
    y1 = np.minimum(whole[:, 3], height)
    windows = np.stack([x0, y0, x1, y1], axis=1)
    return windows, (x1 > x0) & (y1 > y0)


def crops(image: Image.Image, windows: npt.NDArray[np.int64], side: int) -> npt.NDArray[np.uint8]:
    """The image inside each window, resized to ``side`` x ``side``: (n, side, side, 3)."""
    out = np.empty((len(windows), side, side, 3), dtype=np.uint8)
    for i, (x0, y0, x1, y1) in enumerate(windows.tolist()):
        region = (float(x0), float(y0), float(x1), float(y1))
        out[i] = np.asarray(image.resize((side, side), Image.Resampling.BOX, box=region))
    return out


def landmark_points(boxes: Floats, landmarks: Floats) -> Floats:
    """O-Net's landmarks (n, 10: five x then five y, shares of the inclusive box size) as
    (n, 5, 2) image pixels (facenet-pytorch's arithmetic, with its - 1)."""
    w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    xs = w * landmarks[:, :5] + boxes[:, 0:1] - 1
    ys = h * landmarks[:, 5:] + boxes[:, 1:2] - 1
    out: Floats = np.stack([xs, ys], axis=2).astype(np.float32)
    return out
