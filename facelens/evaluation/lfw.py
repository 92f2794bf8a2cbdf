"""The LFW benchmark as files on disk: pair lists (View 1, View 2) and the 1:N split.

Read from the dataset folder given (for example ``../shared/datasets/lfw``); nothing is copied.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from facelens.errors import InvalidArgumentError

VIEW2_PAIRS = "pairs.txt"
VIEW1_TRAIN = "pairsDevTrain.txt"
VIEW1_TEST = "pairsDevTest.txt"
#: A person with 2 or more images is held out of the 1:N gallery (their images become
#: non-mated probes) when sha256(name) mod this is 0: a fixed, reproducible ~20% of them.
HOLDOUT_MODULUS = 5


@dataclass(frozen=True, slots=True)
class Pair:
    image_a: str  # path relative to the dataset root, e.g. images/Name/Name_0001.jpg
    image_b: str
    same: bool
    fold: int


@dataclass(frozen=True, slots=True)
class IdentificationSplit:
    """Open-set 1:N split (see ``identification_split``)."""

    gallery: list[str]
    mated_probes: list[str]
    nonmated_probes: list[str]
    gallery_people: int
    distractor_people: int
    held_out_people: int


class LfwDataset:
    def __init__(self, root: Path) -> None:
        self.root = root
        if not (root / VIEW2_PAIRS).is_file() or not (root / "images").is_dir():
            raise InvalidArgumentError(
                f"{root} does not look like LFW: expected {VIEW2_PAIRS} and images/ in it"
            )

    def path(self, relative: str) -> Path:
        return self.root / relative

    @staticmethod
    def image(name: str, number: int) -> str:
        return f"images/{name}/{name}_{number:04d}.jpg"

    def pairs(self, filename: str) -> list[Pair]:
        """Pairs of a protocol file. View 2's header is ``folds pairs_per_class``: each fold is
        that many same-person pairs then as many different-person pairs. View 1's files are
        one block (fold 0)."""
        lines = (self.root / filename).read_text().splitlines()
        header = lines[0].split()
        per_fold = 2 * int(header[1]) if len(header) == 2 else len(lines) - 1
        pairs = []
        for i, line in enumerate(lines[1:]):
            parts = line.split("\t")
            fold = i // per_fold
            if len(parts) == 3:
                name, a, b = parts
                pairs.append(Pair(self.image(name, int(a)), self.image(name, int(b)), True, fold))
            elif len(parts) == 4:
                name_a, a, name_b, b = parts
                pairs.append(
                    Pair(self.image(name_a, int(a)), self.image(name_b, int(b)), False, fold)
                )
            elif line.strip():
                raise InvalidArgumentError(f"{filename} line {i + 2}: cannot parse {line!r}")
        return pairs

    def people(self) -> dict[str, int]:
        """Every person with their number of images, from the folders on disk."""
        return {
            folder.name: sum(1 for _ in folder.glob("*.jpg"))
            for folder in sorted((self.root / "images").iterdir())
            if folder.is_dir()
        }

    def identification_split(self) -> IdentificationSplit:
        """The open-set 1:N protocol used by ``facelens eval lfw --protocol identification``:

        - people with 2 or more images are sorted by name; those with
          ``int(sha256(name), 16) % 5 == 0`` are held out: all their images are non-mated
          probes and none is in the gallery;
        - every other person with 2 or more images has image 0001 in the gallery and all their
          other images are mated probes;
        - every person with a single image is in the gallery as a distractor.
        """
        gallery, mated, nonmated = [], [], []
        gallery_people = distractors = held_out = 0
        for name, count in self.people().items():
            images = [self.image(name, n) for n in range(1, count + 1)]
            if count == 1:
                gallery.append(images[0])
                distractors += 1
            elif int(hashlib.sha256(name.encode()).hexdigest(), 16) % HOLDOUT_MODULUS == 0:
                nonmated.extend(images)
                held_out += 1
            else:
                gallery.append(images[0])
                mated.extend(images[1:])
                gallery_people += 1
        return IdentificationSplit(gallery, mated, nonmated, gallery_people, distractors, held_out)
