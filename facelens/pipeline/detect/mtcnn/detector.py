"""The ``mtcnn`` detector: MTCNN's cascade on ONNX Runtime, giving dlib-HOG-like boxes.

MTCNN (Zhang et al., 2016; facenet-pytorch's weights) finds faces from ``min_face_px`` (the
setting ``mtcnn_min_face_size_px``, 20 by default) where dlib's HOG at one upsampling stops at
about 37 px. Stages as facenet-pytorch's ``detect_face``: P-Net on an image pyramid (scale
factor 0.709), NMS at 0.5 within each scale and 0.7 across; R-Net on 24 x 24 crops of the
regressed, squared boxes; O-Net on 48 x 48 crops, which gives the probability, the final box
and five points. Thresholds 0.6, 0.7, 0.7; the last NMS at 0.7 of the smaller box.

**The box is dlib's, not MTCNN's.** facelens's quality gate (``min_face_size_px``) measures the
box's short side, its thresholds were chosen on dlib HOG's boxes, and the dlib ResNet embedder
expects chips aligned by dlib's 5-point shape predictor run inside a dlib-style box. MTCNN's own
box is taller and placed lower. So each face's box is made from MTCNN's five points (eye
centres, nose tip, mouth corners) by ``dlib_like_box``, whose constants were fitted to the box
dlib's HOG gives the same face (``bench/mtcnn_box_fit.py``). The points themselves are not
dlib's five landmarks (``Detection.landmarks``), so none are returned: the aligner runs dlib's
shape predictor in the box, as for HOG.

**Upright faces only.** O-Net also passes faces turned sideways, with their five points bunched
in a corner of the box (so the box made from them is a third of the face), and a shape
predictor that expects upright faces would align them badly. A face is kept only when its
points span its MTCNN box and stand within 45 degrees of upright (``upright``); the pipeline's
turns (``pipeline.turns``) then find a sideways face upright in a turned copy of the photo.

**The score** is O-Net's face probability, over 0.7 for every face returned (its own threshold),
so it always passes ``min_detector_score`` (0.2 by default, a HOG-scaled gate): with this
detector MTCNN's thresholds do the rejecting, and ``min_detector_score`` only matters when set
above 0.7.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from PIL import Image

from facelens.config import Settings
from facelens.pipeline.decode import RgbImage
from facelens.pipeline.detect.base import Detector, RawFace
from facelens.pipeline.detect.mtcnn import cascade
from facelens.pipeline.detect.mtcnn.cascade import Candidates, Floats
from facelens.pipeline.detect.mtcnn.graph_cache import graph_files
from facelens.pipeline.embed.onnx_session import make_session

#: facenet-pytorch's defaults: P-Net, R-Net and O-Net thresholds and the pyramid's factor.
THRESHOLDS = (0.6, 0.7, 0.7)
SCALE_FACTOR = 0.709
#: Crops a single R-Net or O-Net call takes at most (memory stays small on huge images).
BATCH = 512


@dataclass(frozen=True, slots=True)
class BoxConstants:
    """How ``dlib_like_box`` makes dlib's box from MTCNN's points. With the eyes' midpoint E,
    the inter-ocular distance e, the distance m from E to the mouth corners' midpoint, the
    unit vector u from E towards the mouth, v at right angles to it (the image's right on an
    upright face) and n the nose tip's offset along v from the midpoint of E and the mouth:

        side   = side_per_eyes * e + side_per_mouth * m
        centre = E + centre_along * m * u + centre_nose * n * v
    """

    side_per_eyes: float
    side_per_mouth: float
    centre_along: float
    centre_nose: float


#: Fitted by ``bench/mtcnn_box_fit.py`` (least squares; bench/results/mtcnn-box-fit.json) on
#: 600 LFW photos (seed 1) where HOG at one upsampling and MTCNN each found one face, the same
#: one. On the 300 photos held out, the box's IoU with HOG's is 0.84 in the median (10th
#: percentile 0.74; MTCNN's own box: 0.72 and 0.64), its side 0.98 of HOG's (0.89-1.10).
BOX_CONSTANTS = BoxConstants(
    side_per_eyes=1.2987, side_per_mouth=1.0932, centre_along=0.4195, centre_nose=-0.0629
)


#: ``upright``'s bounds: the side of the box made from the points over MTCNN's box width (0.97 to
#: 1.28 on the central faces of 400 LFW photos; 0.29 to 0.33 on sideways sample photos), and
#: the eyes-to-mouth direction's angle from straight down (LFW: 19 degrees at most).
MIN_POINTS_SPAN = 0.6
MAX_ROLL_DEGREES = 45.0


class Face(NamedTuple):
    """One face MTCNN found: its own box (x1, y1, x2, y2), probability, five points (5, 2)
    (left eye, right eye, nose, left and right mouth corner, as seen in the image)."""

    box: tuple[float, float, float, float]
    probability: float
    points: Floats


class FaceFrame(NamedTuple):
    """E, e, m, u, v and n of ``BoxConstants``."""

    eyes: npt.NDArray[np.float64]
    eye_distance: float
    mouth_distance: float
    down: npt.NDArray[np.float64]
    right: npt.NDArray[np.float64]
    nose_offset: float


def face_frame(points: Floats) -> FaceFrame:
    """The measures of a face's five MTCNN points (5, 2) that its dlib-like box is made of."""
    pts = np.asarray(points, dtype=np.float64)
    eyes = (pts[0] + pts[1]) / 2
    mouth = (pts[3] + pts[4]) / 2
    mouth_distance = float(np.hypot(*(mouth - eyes)))
    down = (mouth - eyes) / mouth_distance if mouth_distance > 0 else np.array([0.0, 1.0])
    right = np.array([down[1], -down[0]])
    nose_offset = float((pts[2] - (eyes + mouth) / 2) @ right)
    eye_distance = float(np.hypot(*(pts[1] - pts[0])))
    return FaceFrame(eyes, eye_distance, mouth_distance, down, right, nose_offset)


def roll_degrees(frame: FaceFrame) -> float:
    """How far the face is turned in the image plane: 0 when the mouth is straight below the
    eyes, positive when the face leans to the image's left (clockwise up to 180)."""
    return float(np.degrees(np.arctan2(frame.down[0], frame.down[1])))


def upright(face: Face, box: tuple[float, float, float, float] | None = None) -> bool:
    """Whether ``face``'s points span its box and it stands within ``MAX_ROLL_DEGREES`` of
    upright (see the module's docstring). ``box``: its ``dlib_like_box``, if made already."""
    x1, _, x2, _ = box or dlib_like_box(face.points)
    width = face.box[2] - face.box[0]
    spans = width > 0 and (x2 - x1) / width >= MIN_POINTS_SPAN
    return spans and abs(roll_degrees(face_frame(face.points))) <= MAX_ROLL_DEGREES


def dlib_like_box(
    points: Floats, constants: BoxConstants = BOX_CONSTANTS
) -> tuple[float, float, float, float]:
    """The square box (x1, y1, x2, y2) dlib's HOG would give the face with MTCNN points
    ``points`` (5, 2)."""
    f = face_frame(points)
    side = constants.side_per_eyes * f.eye_distance + constants.side_per_mouth * f.mouth_distance
    along = constants.centre_along * f.mouth_distance
    cx, cy = f.eyes + along * f.down + constants.centre_nose * f.nose_offset * f.right
    half = side / 2
    return (float(cx - half), float(cy - half), float(cx + half), float(cy + half))


class MtcnnDetector(Detector):
    """MTCNN on ONNX Runtime (CPU). Sessions are made on first use, from the graphs cached in
    ``cache_dir`` (``onnx_model_dir``), built and their weights fetched first if need be."""

    name = "mtcnn"

    def __init__(
        self,
        max_side_px: int,
        min_face_px: int = 20,
        *,
        intra_op_threads: int = 0,
        cache_dir: Path | None = None,
    ) -> None:
        super().__init__(max_side_px)
        if min_face_px < 12:
            raise ValueError("min_face_px must be at least 12 (P-Net's window)")
        self.min_face_px = min_face_px
        self.intra_op_threads = intra_op_threads
        self.cache_dir = cache_dir
        self._sessions: dict[str, Any] | None = None

    @property
    def description(self) -> str:
        return f"{self.name}(min={self.min_face_px})"

    def sessions(self) -> dict[str, Any]:
        """The three networks' ONNX Runtime sessions, by name (``pnet``, ``rnet``, ``onet``)."""
        if self._sessions is None:
            self._sessions = {
                name: make_session(
                    path,
                    provider="cpu",
                    intra_op_threads=self.intra_op_threads,
                    backend="detector='mtcnn'",
                )
                for name, path in graph_files(self.cache_dir).items()
            }
        return self._sessions

    def _detect(self, image: RgbImage) -> list[RawFace]:
        found = []
        for face in self.faces(image):
            box = dlib_like_box(face.points)
            if upright(face, box):
                found.append(RawFace(box, face.probability))
        return found

    def faces(self, image: RgbImage) -> list[Face]:
        """MTCNN's own output on ``image`` (H, W, 3 uint8): boxes, probabilities, points."""
        height, width = image.shape[:2]
        picture = Image.fromarray(np.ascontiguousarray(image))
        found = self._proposals(picture, height, width)
        if len(found):
            found = self._refined(picture, found, height, width)
        if not len(found):
            return []
        boxes, points = self._output(picture, found, height, width)
        return [
            Face(tuple(map(float, box[:4])), float(score), pts)  # type: ignore[arg-type]
            for box, score, pts in zip(boxes.boxes, boxes.scores, points, strict=True)
        ]

    def _run(self, network: str, batch: np.ndarray) -> list[Floats]:
        session = self.sessions()[network]
        parts = [
            session.run(None, {_input(session): batch[start : start + BATCH]})
            for start in range(0, len(batch), BATCH)
        ]
        return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]

    def _proposals(self, picture: Image.Image, height: int, width: int) -> Candidates:
        """Stage 1: P-Net over the pyramid; regressed, squared boxes."""
        per_scale = []
        for scale in cascade.pyramid_scales(height, width, self.min_face_px, SCALE_FACTOR):
            h, w = cascade.scaled_size(height, width, scale)
            level = cascade.resized(picture, h, w)[None]
            pnet = self.sessions()["pnet"]
            regression, probability = pnet.run(None, {_input(pnet): level})
            found = cascade.pnet_candidates(regression[0], probability[0, 1], scale, THRESHOLDS[0])
            per_scale.append(found.take(cascade.nms(found.boxes, found.scores, 0.5)))
        found = Candidates.concat(per_scale)
        found = found.take(cascade.nms(found.boxes, found.scores, 0.7))
        boxes = cascade.regressed(found.boxes, found.regression, inclusive=False)
        return Candidates(cascade.squared(boxes), found.scores, found.regression)

    def _cropped(
        self, picture: Image.Image, found: Candidates, height: int, width: int, side: int
    ) -> tuple[Candidates, np.ndarray]:
        windows, usable = cascade.crop_windows(found.boxes, height, width)
        return found.take(usable), cascade.crops(picture, windows[usable], side)

    def _refined(
        self, picture: Image.Image, found: Candidates, height: int, width: int
    ) -> Candidates:
        """Stage 2: R-Net on 24 x 24 crops; the passing boxes regressed and squared."""
        found, batch = self._cropped(picture, found, height, width, 24)
        if not len(found):
            return found
        regression, probability = self._run("rnet", batch)
        score = probability[:, 1]
        passed = score > THRESHOLDS[1]
        found = Candidates(found.boxes[passed], score[passed], regression[passed])
        found = found.take(cascade.nms(found.boxes, found.scores, 0.7))
        boxes = cascade.squared(cascade.regressed(found.boxes, found.regression))
        return Candidates(boxes, found.scores, found.regression)

    def _output(
        self, picture: Image.Image, found: Candidates, height: int, width: int
    ) -> tuple[Candidates, Floats]:
        """Stage 3: O-Net on 48 x 48 crops: probability, final boxes and five points."""
        found, batch = self._cropped(picture, found, height, width, 48)
        if not len(found):
            return found, np.zeros((0, 5, 2), np.float32)
        regression, landmarks, probability = self._run("onet", batch)
        score = probability[:, 1]
        passed = score > THRESHOLDS[2]
        boxes = found.boxes[passed]
        points = cascade.landmark_points(boxes, landmarks[passed])
        final = Candidates(
            cascade.regressed(boxes, regression[passed]), score[passed], regression[passed]
        )
        keep = cascade.nms(final.boxes, final.scores, 0.7, overlap="min")
        return final.take(keep), points[keep]


def _input(session: Any) -> str:
    """The name of a network's one input, as its graph (``graphs.INPUT_NAME``) gives it."""
    name: str = session.get_inputs()[0].name
    return name


def from_settings(settings: Settings) -> MtcnnDetector:
    return MtcnnDetector(
        settings.detect_max_side_px,
        settings.mtcnn_min_face_size_px,
        intra_op_threads=settings.onnx_intra_op_threads,
        cache_dir=settings.onnx_model_dir,
    )
