"""The mtcnn detector: its weights read without torch (and nothing else read), its ONNX graphs
equal to a numpy forward pass of the same weights, and on real photos: HOG's faces with boxes
like HOG's, small faces HOG misses, nothing on face-free photos.

The weights are facenet-pytorch's, fetched from PyPI by ``scripts/setup.sh`` (``python -m
facelens.pipeline.detect.mtcnn``) into the model cache; a test only reads them there.
"""

from __future__ import annotations

import io
import pickle
import shutil
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest
from PIL import Image

from facelens.config import Settings
from facelens.errors import ModelIntegrityError, UnsafeModelFileError
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import RgbImage
from facelens.pipeline.detect import Detector, create_detector
from facelens.pipeline.detect.mtcnn.detector import MtcnnDetector, upright
from facelens.pipeline.detect.mtcnn.graph_cache import graph_files
from facelens.pipeline.detect.mtcnn.graphs import HEADS, INPUT_NAME, LAYERS
from facelens.pipeline.detect.mtcnn.torch_file import read_state_dict
from facelens.pipeline.detect.mtcnn.weights import (
    NETWORKS,
    WEIGHTS_SHA256,
    extract_weights,
    load_weights,
    read_weights,
    weight_files,
)
from facelens.pipeline.embed.base import similarity

Array = npt.NDArray[np.float64]


@pytest.fixture(scope="module")
def weights() -> dict[str, dict[str, npt.NDArray[Any]]]:
    return load_weights()


@pytest.fixture(scope="module")
def mtcnn() -> MtcnnDetector:
    detector = create_detector(Settings(detector="mtcnn"))
    assert isinstance(detector, MtcnnDetector)
    return detector


@pytest.fixture(scope="module")
def hog() -> Detector:
    return create_detector(Settings(detector="hog", detect_upsample_times=1))


def rgb(path: Path) -> RgbImage:
    return np.asarray(Image.open(path).convert("RGB"))


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


# --- the graphs, against a numpy forward pass of the same weights -------------------------


def conv(x: Array, weight: Array, bias: Array) -> Array:
    """NCHW convolution, stride 1, no padding."""
    k = weight.shape[2]
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))
    out: Array = np.einsum("nchwij,ocij->nohw", windows, weight) + bias[None, :, None, None]
    return out


def max_pool(x: Array, kernel: int, stride: int) -> Array:
    """torch's MaxPool2d with ceil_mode=True: windows running past the edge are cut short."""
    n, c, h, w = x.shape
    out_h = -(-(h - kernel) // stride) + 1
    out_w = -(-(w - kernel) // stride) + 1
    padded = np.full((n, c, (out_h - 1) * stride + kernel, (out_w - 1) * stride + kernel), -np.inf)
    padded[:, :, :h, :w] = x
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kernel, kernel), axis=(2, 3))
    pooled: Array = windows[:, :, ::stride, ::stride].max(axis=(4, 5))
    return pooled


def prelu(x: Array, slope: Array) -> Array:
    shape = (1, -1, 1, 1) if x.ndim == 4 else (1, -1)
    return np.where(x > 0, x, x * slope.reshape(shape))


def softmax(x: Array) -> Array:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    out: Array = e / e.sum(axis=1, keepdims=True)
    return out


def reference(network: str, w: dict[str, Array], images: npt.NDArray[np.uint8]) -> list[Array]:
    """facenet-pytorch's forward pass, written from its module definitions, in float64."""
    x = (images.astype(np.float64).transpose(0, 3, 1, 2) - 127.5) * 0.0078125
    for spec in LAYERS[network]:
        if spec[0] == "conv":
            x = conv(x, w[f"{spec[1]}.weight"], w[f"{spec[1]}.bias"])
        elif spec[0] == "prelu":
            x = prelu(x, w[f"{spec[1]}.weight"])
        elif spec[0] == "pool":
            x = max_pool(x, spec[1], spec[2])
        elif spec[0] == "flatten":
            x = x.transpose(0, 3, 2, 1).reshape(len(x), -1)  # torch's permute(0, 3, 2, 1)
        else:
            x = x @ w[f"{spec[1]}.weight"].T + w[f"{spec[1]}.bias"]
    outputs = []
    for _, layer, with_softmax in HEADS[network]:
        weight, bias = w[f"{layer}.weight"], w[f"{layer}.bias"]
        head = conv(x, weight, bias) if x.ndim == 4 else x @ weight.T + bias
        outputs.append(softmax(head) if with_softmax else head)
    return outputs


@pytest.mark.parametrize(
    ("network", "shape"),
    [("pnet", (2, 31, 46, 3)), ("pnet", (1, 12, 12, 3)), ("rnet", (5, 24, 24, 3)),
     ("onet", (3, 48, 48, 3))],
)  # fmt: skip
def test_given_random_images_then_each_graph_equals_the_numpy_forward_pass_within_1e_4(
    weights: dict[str, dict[str, npt.NDArray[Any]]], network: str, shape: tuple[int, ...]
) -> None:
    images = np.random.default_rng(sum(shape)).integers(0, 256, size=shape, dtype=np.uint8)
    session = ort.InferenceSession(str(graph_files()[network]), providers=["CPUExecutionProvider"])
    got = session.run(None, {INPUT_NAME: images})
    w = {k: v.astype(np.float64) for k, v in weights[network].items()}
    want = reference(network, w, images)
    assert [o.name for o in session.get_outputs()] == [h[0] for h in HEADS[network]]
    for out, expected in zip(got, want, strict=True):
        assert out.shape == expected.shape
        np.testing.assert_allclose(out, expected, atol=1e-4, rtol=0)


def test_given_the_cached_weights_then_they_are_the_pinned_files_and_graphs_are_cached() -> None:
    files = weight_files()
    assert sorted(files) == sorted(NETWORKS)
    for name, path in files.items():
        assert read_weights(path, WEIGHTS_SHA256[name])
    assert graph_files() == graph_files()  # built once, then found up to date


# --- faces on real photos ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"])
def test_given_sample_photos_then_hogs_faces_are_found_with_boxes_like_hogs(
    photos: Path, mtcnn: MtcnnDetector, hog: Detector, name: str
) -> None:
    image = rgb(photos / name)
    by_hog = [d.box.as_tuple() for d in hog.detect(image)]
    by_mtcnn = mtcnn.detect(image)
    assert by_hog
    for box in by_hog:
        best = max(by_mtcnn, key=lambda d: iou(d.box.as_tuple(), box))
        assert iou(best.box.as_tuple(), box) >= 0.5, (best.box, box)
        assert best.score > 0.7 and best.landmarks is None
        assert best.detector == "mtcnn(min=20)"


def test_given_the_astronaut_then_her_face_is_found_where_hog_finds_it(
    astronaut: Path, mtcnn: MtcnnDetector, hog: Detector
) -> None:
    image = rgb(astronaut)
    face = max(hog.detect(image), key=lambda d: d.score).box.as_tuple()
    assert max(iou(d.box.as_tuple(), face) for d in mtcnn.detect(image)) >= 0.5


def test_given_mtcnns_box_then_the_face_embeds_as_in_hogs_box(
    photos: Path, pipeline: FacePipeline
) -> None:
    """The shape predictor runs inside the dlib-like box: the same chip, near enough."""
    with_mtcnn = FacePipeline(
        Settings(detector="mtcnn"), aligner=pipeline.aligner, embedder=pipeline.embedder
    )
    image = pipeline.load(photos / "biden.jpg")
    (by_hog,) = pipeline.analyse(image).faces
    accepted = [f for f in with_mtcnn.analyse(image).faces if f.accepted]
    assert len(accepted) == 1
    assert by_hog.embedding is not None and accepted[0].embedding is not None
    assert similarity(by_hog.embedding, accepted[0].embedding) > 0.99


def test_given_a_blurred_face_like_patch_then_it_may_be_detected_but_is_never_indexed(
    photos: Path, pipeline: FacePipeline
) -> None:
    """At its default smallest face (20 px) MTCNN, like facenet-pytorch, finds a blurred
    patch of obama.jpg's background at 0.86-0.94 (MTCNN's own thresholds pass it); the quality
    gate rejects it, so the photo still gives one indexed face."""
    with_mtcnn = FacePipeline(
        Settings(detector="mtcnn"), aligner=pipeline.aligner, embedder=pipeline.embedder
    )
    image = rgb(photos / "obama.jpg")
    for scene in (image, np.asarray(Image.fromarray(image).resize((512, 640)))):
        faces = with_mtcnn.analyse(scene).faces
        assert sum(f.accepted for f in faces) == 1
        assert faces[0].accepted and faces[0].box.short_side > 100
        assert all(f.quality.rejection_reason in ("too_small", "too_blurry") for f in faces[1:])


def small_face_scene(
    photos: Path, hog: Detector, face_px: float
) -> tuple[RgbImage, tuple[float, ...]]:
    """obama.jpg shrunk so that HOG's box of his face is ``face_px`` on a side, on grey."""
    full = rgb(photos / "obama.jpg")
    (found,) = hog.detect(full)
    scale = face_px / found.box.short_side
    size = (round(full.shape[1] * scale), round(full.shape[0] * scale))
    small = np.asarray(Image.fromarray(full).resize(size, Image.Resampling.LANCZOS))
    canvas = np.full((300, 400, 3), 128, dtype=np.uint8)
    canvas[100 : 100 + size[1], 150 : 150 + size[0]] = small
    x1, y1, x2, y2 = (v * scale for v in found.box.as_tuple())
    return canvas, (x1 + 150, y1 + 100, x2 + 150, y2 + 100)


def test_given_a_sideways_photo_then_mtcnns_sideways_face_is_dropped_and_upright_ones_kept(
    photos: Path, mtcnn: MtcnnDetector
) -> None:
    """O-Net passes obama2.jpg turned sideways (0.92 at 270 degrees) with its five points
    bunched in a corner; kept, it was a small false face that stopped the turns from being
    tried (tests/test_turns.py)."""
    upright_image = Image.open(photos / "obama2.jpg").convert("RGB")
    sideways = np.asarray(upright_image.transpose(Image.Transpose.ROTATE_270))
    assert [f for f in mtcnn.faces(sideways) if not upright(f)], "O-Net passes it"
    assert mtcnn.detect(sideways) == []
    [face] = mtcnn.faces(np.asarray(upright_image))
    assert upright(face) and len(mtcnn.detect(np.asarray(upright_image))) == 1


def test_given_a_28_px_face_then_mtcnn_finds_it_and_hog_at_one_upsampling_does_not(
    photos: Path, mtcnn: MtcnnDetector, hog: Detector
) -> None:
    scene, truth = small_face_scene(photos, hog, 28.0)
    assert not any(iou(d.box.as_tuple(), truth) >= 0.4 for d in hog.detect(scene))
    found = [d for d in mtcnn.detect(scene) if iou(d.box.as_tuple(), truth) >= 0.5]
    assert len(found) == 1
    assert 22 <= found[0].box.short_side <= 34, found[0].box


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket"])
def test_given_face_free_photos_then_nothing_is_found(mtcnn: MtcnnDetector, name: str) -> None:
    from skimage import data

    assert mtcnn.detect(np.asarray(getattr(data, name)())) == []


def test_given_the_settings_then_the_description_names_the_smallest_face() -> None:
    detector = create_detector(Settings(detector="mtcnn", mtcnn_min_face_size_px=32))
    assert detector.description == "mtcnn(min=32)"


# --- what the weights reader refuses ---------------------------------------------------


def test_given_a_pickle_naming_os_system_then_it_is_refused_and_nothing_runs(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "ran"
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    with pytest.raises(UnsafeModelFileError, match=r"os\.system"):
        read_state_dict(payload, source="evil.pt")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("evil/data.pkl", payload)
    with pytest.raises(UnsafeModelFileError, match=r"os\.system"):
        read_state_dict(archive.getvalue(), source="evil.pt")
    # A global hidden as a reduce inside an allowed container is refused the same way.
    nested = b"\x80\x02ccollections\nOrderedDict\n)R(X\x01\x00\x00\x00a" + payload[:-1] + b"u."
    with pytest.raises(UnsafeModelFileError):
        read_state_dict(nested, source="evil.pt")
    assert not marker.exists()


def _fake_torch(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """Stand-ins named as torch's, so that pickle writes the globals a torch file holds."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args: Any) -> None: ...

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return FloatStorage, _rebuild_tensor_v2


def test_given_a_zip_layout_state_dict_then_its_tensors_come_back_with_their_strides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage_type, rebuild = _fake_torch(monkeypatch)

    class Storage:
        pass

    class Tensor:
        def __init__(self, offset: int, shape: tuple[int, ...], stride: tuple[int, ...]) -> None:
            self.args = (offset, shape, stride)

        def __reduce__(self) -> Any:
            return rebuild, (Storage(), *self.args, False, OrderedDict())

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            return ("storage", storage_type, "0", "cpu", 12) if isinstance(obj, Storage) else None

    state = OrderedDict(w=Tensor(0, (3, 4), (4, 1)), t=Tensor(1, (2, 3), (1, 4)))
    data = io.BytesIO()
    Pickler(data, protocol=2).dump(state)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("net/data.pkl", data.getvalue())
        out.writestr("net/data/0", np.arange(12, dtype="<f4").tobytes())
    got = read_state_dict(archive.getvalue())
    base = np.arange(12, dtype=np.float32)
    np.testing.assert_array_equal(got["w"], base.reshape(3, 4))
    np.testing.assert_array_equal(got["t"], base.reshape(3, 4)[:, 1:3].T)


def test_given_a_wheel_or_weights_not_the_pinned_ones_then_they_are_refused(
    tmp_path: Path,
) -> None:
    wheel = tmp_path / "facenet_pytorch-2.6.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as out:
        for name in NETWORKS:
            out.writestr(f"facenet_pytorch/data/{name}.pt", b"not the weights")
    folder = tmp_path / "cache"
    with pytest.raises(ModelIntegrityError, match="sha256") as caught:
        extract_weights(wheel, folder)
    assert caught.value.code == "model_integrity_failed"
    assert not folder.exists(), "nothing of a refused wheel is written"

    tampered = tmp_path / "pnet.pt"
    shutil.copyfile(weight_files()["pnet"], tampered)
    with tampered.open("r+b") as file:
        file.seek(-4, 2)
        file.write(b"\0\0\0\0")
    with pytest.raises(ModelIntegrityError, match="sha256"):
        read_weights(tampered, WEIGHTS_SHA256["pnet"])
