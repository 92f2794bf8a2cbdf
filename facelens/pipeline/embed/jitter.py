"""Jittered copies of an aligned chip, as dlib's ``num_jitters`` makes them: each copy is the
chip slightly shifted (up to 2% of its size), zoomed (97% to 100%) and turned (up to 3
degrees), and mirrored half of the time (dlib's ``jitter_image``, cut by dlib's own
``extract_image_chip``).

dlib draws them from a generator shared by the whole process, so the same photo gives another
embedding at every search. Here the generator is seeded by the chip's pixels: the same chip
always gives the same copies, so a search can be repeated and give the same scores.
"""

from __future__ import annotations

import hashlib

import dlib
import numpy as np

from facelens.pipeline.decode import RgbImage

MAX_TURN_DEGREES = 3.0
MIN_ZOOM = 0.97
MAX_ZOOM = 0.99999
MAX_SHIFT = 0.02
#: dlib jitters inside the chip less this border (its ``shrink_rect(get_rect(img), 3)``).
BORDER_PX = 3


def jittered_copies(chip: RgbImage, count: int) -> list[RgbImage]:
    """``count`` jittered copies of a square chip, the same ones for the same chip."""
    side = chip.shape[0]
    if chip.shape[1] != side:
        raise ValueError(f"jitter needs a square chip, not {chip.shape[1]}x{side}")
    seed = int.from_bytes(hashlib.sha256(np.ascontiguousarray(chip).tobytes()).digest()[:8])
    rng = np.random.default_rng(seed)
    inner = side - 2 * BORDER_PX  # the shrunk rectangle's width and height
    centre = (BORDER_PX + (side - 1 - BORDER_PX) + 1) // 2  # dlib's center() of it
    copies = []
    for _ in range(count):
        shift_x = round(rng.uniform(-MAX_SHIFT, MAX_SHIFT) * inner)
        shift_y = round(rng.uniform(-MAX_SHIFT, MAX_SHIFT) * inner)
        box = int(inner / rng.uniform(MIN_ZOOM, MAX_ZOOM))
        turn = float(np.deg2rad(rng.uniform(-MAX_TURN_DEGREES, MAX_TURN_DEGREES)))
        left, top = centre + shift_x - box // 2, centre + shift_y - box // 2
        crop = dlib.rectangle(left, top, left + box - 1, top + box - 1)
        copy = np.asarray(
            dlib.extract_image_chip(
                np.ascontiguousarray(chip),
                dlib.chip_details(crop, dlib.chip_dims(side, side), turn),
            ),
            dtype=np.uint8,
        )
        if rng.random() > 0.5:
            copy = copy[:, ::-1]
        copies.append(np.ascontiguousarray(copy))
    return copies
