"""Decode: every bad input is a typed error with a message naming the file and the limit."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facelens.decode import decode_image, load_image
from facelens.errors import (
    CorruptImageError,
    ImageNotFoundError,
    ImageTooLargeError,
    UnsupportedImageError,
)

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
