"""Face sizes in bands: the one definition the ingest report, ``stats`` and search use.

A face's size is the short side of its detection box in pixels of the decoded image
(``Box.short_side``, what the ``min_face_size_px`` gate measures and the store keeps as
``size_px``). The edges put the default gate (40 px) on a band edge, so faces just under it
(32-40 px) and far under it are told apart, and faces that passed but are small (40-64 px)
show apart from the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: A face whose short side is under this many pixels is flagged small in search results. LFW's
#: faces, on which facelens's accuracy is measured, are about 108 px (the median short side of
#: the default detector's boxes on a sample of them); a face under 64 px holds about a third
#: of their pixels, so a match on it is weaker evidence. It is the upper edge of the smallest
#: band indexed at the default gate, and depends on no setting.
SMALL_FACE_PX = 64


@dataclass(frozen=True, slots=True)
class SizeBand:
    """Faces with ``min_px <= size < max_px`` (``max_px`` None: no upper edge)."""

    name: str
    min_px: int
    max_px: int | None

    def holds(self, size_px: int) -> bool:
        return self.min_px <= size_px and (self.max_px is None or size_px < self.max_px)


#: Every band, smallest first; each size is in exactly one. Names carry the unit.
SIZE_BANDS: tuple[SizeBand, ...] = (
    SizeBand("<24px", 0, 24),
    SizeBand("24-32px", 24, 32),
    SizeBand("32-40px", 32, 40),
    SizeBand("40-64px", 40, 64),
    SizeBand("64-128px", 64, 128),
    SizeBand(">=128px", 128, None),
)


def size_band(size_px: int) -> str:
    """The name of the band ``size_px`` (short side of the box, pixels) falls in."""
    for band in SIZE_BANDS:
        if band.holds(size_px):
            return band.name
    raise ValueError(f"no size band holds {size_px} px: a size is 0 px or more")


def in_band_order(counts: Mapping[str, int]) -> dict[str, int]:
    """``counts`` by band name, smallest band first (a name that is no band, last)."""
    rank = {band.name: n for n, band in enumerate(SIZE_BANDS)}
    return dict(sorted(counts.items(), key=lambda item: rank.get(item[0], len(rank))))
