"""Decode: every bad input is a typed error with a message naming the file and the limit."""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facelens.config import Settings
from facelens.errors import (
    CorruptImageError,
    ImageNotFoundError,
    ImageTooLargeError,
    UnsupportedImageError,
)
from facelens.pipeline.analyse import FacePipeline
from facelens.pipeline.decode import decode_image, load_image

MAX_BYTES = 10_000_000
MAX_PIXELS = 10_000_000


def decode(data: bytes, name: str = "image") -> np.ndarray:
    return decode_image(data, max_image_bytes=MAX_BYTES, max_image_pixels=MAX_PIXELS, name=name)


def load(path: Path) -> np.ndarray:
    return load_image(path, max_image_bytes=MAX_BYTES, max_image_pixels=MAX_PIXELS)


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def test_given_a_jpeg_when_decoded_then_rgb_uint8_of_its_size(photos: Path) -> None:
    rgb = load(photos / "obama.jpg")
    assert rgb.dtype == np.uint8
    assert rgb.shape == (1137, 910, 3)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16", "CMYK"])
def test_given_any_colour_mode_when_decoded_then_rgb(mode: str) -> None:
    image = Image.new("RGB", (40, 30), (200, 100, 50)).convert(mode)
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    rgb = decode(encode(image, fmt))
    assert rgb.shape == (30, 40, 3)


def test_given_exif_rotation_when_decoded_then_orientation_applied() -> None:
    image = Image.new("RGB", (60, 20), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    rgb = decode(encode(image, "JPEG", exif=exif.tobytes()))
    assert rgb.shape == (60, 20, 3)


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        (b"", UnsupportedImageError, "empty"),
        (b"this is a text file, not a photo", UnsupportedImageError, "not an image format"),
        (b"%PDF-1.4\n" + b"0" * 100, UnsupportedImageError, "not an image format"),
    ],
)
def test_given_non_images_when_decoded_then_typed_error(
    data: bytes, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        decode(data, name="upload.jpg")


@pytest.mark.parametrize("keep_bytes", [5000, 40_000])
def test_given_truncated_jpeg_when_decoded_then_corrupt_error(
    photos: Path, keep_bytes: int
) -> None:
    data = (photos / "obama3.jpg").read_bytes()
    with pytest.raises(CorruptImageError, match="damaged or truncated"):
        decode(data[:keep_bytes], name="cut.jpg")


def test_given_too_many_bytes_then_too_large_with_the_limit() -> None:
    data = encode(Image.new("RGB", (100, 100)), "PNG")
    with pytest.raises(ImageTooLargeError, match="limit of 10 bytes"):
        decode_image(data, max_image_bytes=10, max_image_pixels=10_000_000)


def test_given_too_many_pixels_then_refused_before_decoding() -> None:
    data = encode(Image.new("L", (3000, 3000)), "PNG")
    with pytest.raises(ImageTooLargeError, match="3000x3000 = 9000000 pixels"):
        decode_image(data, max_image_bytes=10_000_000, max_image_pixels=1_000_000)


def test_given_missing_or_oversized_file_then_typed_error(tmp_path: Path) -> None:
    with pytest.raises(ImageNotFoundError, match="no such file"):
        load(tmp_path / "missing.jpg")
    with pytest.raises(ImageNotFoundError, match="not a regular file"):
        load(tmp_path)
    big = tmp_path / "big.png"
    big.write_bytes(encode(Image.new("RGB", (200, 200)), "PNG"))
    with pytest.raises(ImageTooLargeError, match="FACELENS_MAX_IMAGE_BYTES"):
        load_image(big, max_image_bytes=100, max_image_pixels=10_000_000)


# --- issue 12, item 4: wide modes, the memory budget, frames --------------------------------


def grey_16bit(photo: Path) -> Image.Image:
    """The photo as 16-bit greyscale using the whole 16-bit range (as a scanner writes it)."""
    grey = np.asarray(Image.open(photo).convert("L"), dtype=np.uint16) * 257
    return Image.fromarray(grey.astype("<u2"))  # mode I;16


@pytest.mark.parametrize(
    "kind", ["png-16", "tiff-16b", "tiff-int32", "tiff-float", "tiff-float-wide"]
)
def test_given_a_wide_mode_photo_when_decoded_then_it_looks_like_the_8bit_one(
    grace_hopper: Path, kind: str
) -> None:
    expected = np.asarray(Image.open(grace_hopper).convert("L"), dtype=np.float32)
    wide = np.asarray(grey_16bit(grace_hopper), dtype=np.float32)
    if kind == "png-16":
        data = encode(grey_16bit(grace_hopper), "PNG")
    elif kind == "tiff-16b":
        data = encode(Image.fromarray(wide.astype(">u2")), "TIFF")
    elif kind == "tiff-int32":
        data = encode(Image.fromarray(wide.astype(np.int32) * 1000), "TIFF")
    elif kind == "tiff-float":
        data = encode(Image.fromarray((wide / 65535).astype(np.float32)), "TIFF")
    else:  # physical units: say -40.0 to 215.0
        data = encode(Image.fromarray((wide / 257 - 40).astype(np.float32)), "TIFF")
    rgb = decode(data)
    assert rgb.shape == (*expected.shape, 3)
    assert np.abs(rgb[..., 0].astype(np.float32) - expected).mean() < 2.0, "not garbage"


@pytest.mark.parametrize("fmt", ["PNG", "TIFF-F"])
def test_given_a_face_photo_as_16bit_or_float_then_the_pipeline_finds_the_face(
    pipeline: FacePipeline, photos: Path, fmt: str
) -> None:
    wide = grey_16bit(photos / "obama.jpg")
    if fmt == "TIFF-F":
        wide = Image.fromarray((np.asarray(wide, dtype=np.float32) / 65535).astype(np.float32))
    data = encode(wide, fmt.split("-")[0])
    analysis = pipeline.analyse(decode(data))
    assert len(analysis.accepted_faces) == 1


def test_given_a_small_file_of_a_huge_picture_then_refused_before_its_pixels_are_decoded() -> None:
    data = encode(Image.new("1", (8900, 8900)), "PNG")  # a few hundred KB of pixels
    assert len(data) < 1_000_000
    budget = Settings().max_decode_bytes
    started = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match="FACELENS_MAX_DECODE_BYTES") as refused:
        decode_image(
            data, max_image_bytes=MAX_BYTES, max_image_pixels=100_000_000, max_decode_bytes=budget
        )
    assert time.perf_counter() - started < 0.5, "refused from the header alone"
    assert f"{budget} bytes" in str(refused.value) and "8900x8900" in str(refused.value)
    # With the budget raised, it decodes.
    rgb = decode_image(
        encode(Image.new("L", (3000, 3000)), "PNG"),
        max_image_bytes=MAX_BYTES,
        max_image_pixels=MAX_PIXELS,
        max_decode_bytes=10**9,
    )
    assert rgb.shape == (3000, 3000, 3)


def test_given_an_animated_gif_then_the_first_frame_and_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frames = [Image.new("RGB", (20, 10), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    with caplog.at_level(logging.WARNING, logger="facelens.pipeline.decode"):
        rgb = decode(buffer.getvalue(), name="anim.gif")
    assert rgb[0, 0, 0] > 200 and rgb[0, 0, 2] < 50, "the first frame"
    assert "anim.gif: 2 frames" in caplog.text and "first" in caplog.text
