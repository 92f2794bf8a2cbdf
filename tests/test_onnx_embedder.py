"""dlib's ResNet converted to ONNX: the reader, the cache, and answers identical to dlib's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dlib
import numpy as np
import pytest

from facelens.config import Settings
from facelens.errors import ExecutionProviderError, ModelConversionError
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import RgbImage
from facelens.pipeline.embed.dlib_onnx.cache import converted_model
from facelens.pipeline.embed.dlib_onnx.embedder import OnnxResNetEmbedder
from facelens.pipeline.embed.dlib_onnx.serialize import read_network, read_network_file
from facelens.pipeline.embed.dlib_resnet import DlibResNetEmbedder
from facelens.pipeline.embed.registry import available_embedders, create_embedder
from facelens.pipeline.models import RESNET_EMBEDDER_FILE, model_path
from facelens.types import FloatArray

ort = pytest.importorskip("onnxruntime")

SAMPLES = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("onnx-models")
    converted_model(folder)
    return folder


@pytest.fixture(scope="module")
def chips(
    pipeline: FacePipeline, photos: Path, astronaut: Path, grace_hopper: Path
) -> list[RgbImage]:
    """Every detected face of the sample photos, aligned as the pipeline aligns them."""
    found = []
    for path in [photos / name for name in SAMPLES] + [astronaut, grace_hopper]:
        image = pipeline.load(path)
        for detection in pipeline.detector.detect(image):
            found.append(pipeline.aligner.align(image, detection.box).chip)
    assert len(found) >= 6
    return found


def dlib_descriptors(chips: list[RgbImage]) -> FloatArray:
    net = dlib.face_recognition_model_v1(str(model_path(RESNET_EMBEDDER_FILE)))
    return np.asarray([np.asarray(d) for d in net.compute_face_descriptor(chips, 0)], np.float32)


def test_given_the_sample_chips_then_onnx_descriptors_equal_dlibs_within_1e_4(
    model_dir: Path,
    chips: list[RgbImage],
) -> None:
    session = ort.InferenceSession(
        str(converted_model(model_dir)), providers=["CPUExecutionProvider"]
    )
    onnx_out = session.run(None, {"chips": np.stack(chips)})[0]
    dlib_out = dlib_descriptors(chips)
    worst = float(np.abs(onnx_out - dlib_out).max())
    print(f"max abs difference onnx vs dlib over {len(chips)} chips: {worst:.3g}")
    assert onnx_out.shape == dlib_out.shape == (len(chips), 128)
    assert worst < 1e-4


@pytest.mark.parametrize("flip_average", [False, True])
def test_given_embedder_onnx_then_the_pipeline_embeds_as_with_dlib(
    pipeline: FacePipeline,
    model_dir: Path,
    photos: Path,
    astronaut: Path,
    grace_hopper: Path,
    flip_average: bool,
) -> None:
    settings = Settings(
        embedder="onnx",
        onnx_model_dir=model_dir,
        embed_batch_size=2,  # several calls, the last one short
        embed_flip_average=flip_average,
    )
    onnx = FacePipeline(settings, detector=pipeline.detector, aligner=pipeline.aligner)
    dlib_pipeline = FacePipeline(
        settings.model_copy(update={"embedder": "dlib"}),
        detector=pipeline.detector,
        aligner=pipeline.aligner,
    )
    assert isinstance(onnx.embedder, OnnxResNetEmbedder)
    assert isinstance(dlib_pipeline.embedder, DlibResNetEmbedder)
    assert onnx.model == dlib_pipeline.model == pipeline.model
    worst = 0.0
    for path in [photos / "obama.jpg", photos / "biden.jpg", astronaut, grace_hopper]:
        image = onnx.load(path)
        a, b = onnx.analyse(image).accepted_faces, dlib_pipeline.analyse(image).accepted_faces
        assert len(a) == len(b) >= 1
        for fa, fb in zip(a, b, strict=True):
            assert fa.embedding is not None and fb.embedding is not None
            assert fa.embedding.model == fb.embedding.model
            worst = max(worst, float(np.abs(fa.embedding.vector - fb.embedding.vector).max()))
    print(f"max abs difference of normalised embeddings (flip_average={flip_average}): {worst:.3g}")
    assert worst < 1e-4


def test_the_embedder_registry_names_every_backend() -> None:
    assert available_embedders() == ["dlib", "onnx", "onnx_file"]
    assert isinstance(create_embedder(Settings()), OnnxResNetEmbedder)  # the default
    assert isinstance(create_embedder(Settings(embedder="dlib")), DlibResNetEmbedder)


def test_given_cuda_without_its_provider_then_a_typed_error_says_what_to_do(
    model_dir: Path,
) -> None:
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    embedder = OnnxResNetEmbedder(provider="cuda", cache_dir=model_dir)
    with pytest.raises(ExecutionProviderError, match="embed_provider='cpu'"):
        embedder.embed([np.zeros((150, 150, 3), np.uint8)])


def test_given_a_cached_model_then_it_is_reused_and_rebuilt_when_stale(tmp_path: Path) -> None:
    source = tmp_path / RESNET_EMBEDDER_FILE
    shutil.copyfile(model_path(RESNET_EMBEDDER_FILE), source)
    first = converted_model(tmp_path / "cache", source)
    manifest_path = first.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    assert set(manifest) >= {"source_sha256", "onnx_sha256", "converter_version"}
    stamp = first.stat().st_mtime_ns
    assert converted_model(tmp_path / "cache", source).stat().st_mtime_ns == stamp

    first.write_bytes(b"damaged")  # a damaged copy no longer has the recorded hash
    assert converted_model(tmp_path / "cache", source).read_bytes() != b"damaged"

    manifest_path.write_text(json.dumps({**manifest, "source_sha256": "0" * 64}))
    converted_model(tmp_path / "cache", source)  # a changed source is converted again
    assert json.loads(manifest_path.read_text())["source_sha256"] == manifest["source_sha256"]


def test_given_a_cache_folder_that_cannot_be_written_then_a_typed_error_names_the_setting(
    tmp_path: Path,
) -> None:
    in_the_way = tmp_path / "a-file"  # a file where the folder should be: root cannot either
    in_the_way.write_text("not a folder")
    with pytest.raises(
        ModelConversionError, match=r"cannot write the converted model.*onnx_model_dir"
    ):
        converted_model(in_the_way / "cache")
    assert in_the_way.read_text() == "not a folder"


def test_given_a_file_that_is_not_the_network_then_the_reader_says_so(tmp_path: Path) -> None:
    data = model_path(RESNET_EMBEDDER_FILE).read_bytes()
    network = read_network(data)
    assert network.input_means == pytest.approx((122.782, 117.001, 104.298), abs=1e-3)
    assert [layer.kind for layer in network.layers].count("con_4") == 29
    with pytest.raises(ModelConversionError, match="truncated"):
        read_network(data[: len(data) // 2])
    other = tmp_path / "shape_predictor.dat"
    shutil.copyfile(model_path("shape_predictor_5_face_landmarks.dat"), other)
    with pytest.raises(ModelConversionError, match="reinstall"):
        read_network_file(other)
