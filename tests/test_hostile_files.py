"""Issue 12, item 5: a corpus of bad and odd files, generated here, ingested as one folder by
the real engine: nothing escapes, every bad file is a listed failure with a typed error and a
message, the good and odd ones are indexed, and a rerun finishes."""

from __future__ import annotations

import io
import os
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from facelens.engine import Engine
from tests.conftest import Declare

Maker = Callable[[Path], bytes | None]  # None: the maker made the entry itself


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def small(mode: str = "RGB", size: tuple[int, int] = (64, 48)) -> Image.Image:
    """A small picture with some structure (a gradient), converted to ``mode``."""
    x = np.linspace(0, 255, size[0], dtype=np.uint8)
    rgb = np.stack([np.tile(x, (size[1], 1))] * 3, axis=-1)
    rgb[:, :, 1] = rgb[:, :, 1][::-1]
    return Image.fromarray(rgb).convert(mode)


def png_chunk(kind: bytes, body: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_of(width: int, height: int, idat: bytes) -> bytes:
    """A greyscale PNG declaring ``width`` x ``height`` with the given compressed data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def with_exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(small(size=(60, 20)), "JPEG", exif=exif.tobytes())


def oriented(orientation: int) -> Maker:
    return lambda _: with_exif(orientation)


def bad_crc(_: Path) -> bytes:
    data = bytearray(encode(small(), "PNG"))
    data[29] ^= 0xFF  # the IHDR chunk's CRC
    return bytes(data)


def damaged_idat(_: Path) -> bytes:
    data = bytearray(encode(small(size=(200, 200)), "PNG"))
    for i in range(60, len(data) - 20, 7):
        data[i] ^= 0x5A
    return bytes(data)


def symlink_loop(path: Path) -> None:
    path.symlink_to(path.name)


def dangling(path: Path) -> None:
    path.symlink_to("no-such-file.jpg")


def fifo(path: Path) -> None:
    os.mkfifo(path)


def folder_named_like_an_image(path: Path) -> None:
    path.mkdir()
    (path / "inside.jpg").write_bytes(b"not an image, inside a folder named like one")


def animated(_: Path) -> bytes:
    frames = [small("P"), small("P").rotate(90)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def multipage_tiff(_: Path) -> bytes:
    buffer = io.BytesIO()
    small().save(buffer, "TIFF", save_all=True, append_images=[small("L")])
    return buffer.getvalue()


def huge_exif(_: Path) -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "x" * 60_000  # ImageDescription: near the 64 KB an APP1 segment holds
    return encode(small(), "JPEG", exif=exif.tobytes())


def bogus_exif(_: Path) -> bytes:
    return encode(small(), "JPEG", exif=b"Exif\x00\x00" + b"\xde\xad\xbe\xef" * 64)


def big_png_text(_: Path) -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("comment", "z" * 2_000_000, zip=True)
    return encode(small(), "PNG", pnginfo=info)


def wide(mode: str, fmt: str) -> Maker:
    def make(_: Path) -> bytes:
        values = np.asarray(small("L"), dtype=np.float32)
        array = {
            "I;16": (values * 257).astype("<u2"),
            "I": (values * 1000).astype(np.int32),
            "F": (values / 255).astype(np.float32),
        }[mode]
        return encode(Image.fromarray(array), fmt)

    return make


def plain(mode: str, fmt: str, size: tuple[int, int] = (64, 48)) -> Maker:
    return lambda _: encode(small(mode, size), fmt)


#: Files no decoder can use: each must be a listed failure.
BAD: dict[str, Maker] = {
    "empty.jpg": lambda _: b"",
    "text.jpg": lambda _: b"this is a text file, not a photo\n" * 10,
    "pdf.png": lambda _: b"%PDF-1.4\n" + b"0" * 300,
    "html.png": lambda _: b"<html><body><img src=x onerror=alert(1)></body></html>",
    "svg.png": lambda _: b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>',
    "zip.jpg": lambda _: b"PK\x03\x04" + bytes(200),
    "random.png": lambda _: np.random.default_rng(7).bytes(4096),
    "png-signature-only.png": lambda _: b"\x89PNG\r\n\x1a\n",
    "jpeg-soi-only.jpg": lambda _: b"\xff\xd8",
    "gif-header-only.gif": lambda _: b"GIF89a",
    "truncated.jpg": lambda _: encode(small(size=(400, 300)), "JPEG")[:600],
    "truncated.png": lambda _: encode(small(size=(200, 200)), "PNG")[:200],
    "truncated.gif": lambda _: encode(small("P", (200, 200)), "GIF")[:100],
    "truncated.bmp": lambda _: encode(small(size=(200, 200)), "BMP")[:500],
    "truncated.tif": lambda _: encode(small(size=(200, 200)), "TIFF")[:300],
    "truncated.webp": lambda _: encode(small(size=(200, 200)), "WEBP")[:60],
    "bad-crc.png": bad_crc,
    "damaged-idat.png": damaged_idat,
    "bomb-pixels.png": lambda _: png_of(100_000, 100_000, zlib.compress(bytes(1000))),
    "bomb-memory.png": lambda _: png_of(8900, 8900, zlib.compress(bytes(8901 * 8900), 9)),
    "bomb.gif": lambda _: b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00\x00\x00;",
    "bomb.bmp": lambda _: (
        encode(small(size=(2, 2)), "BMP")[:18]
        + struct.pack("<ii", 60000, 60000)
        + encode(small(size=(2, 2)), "BMP")[26:]
    ),
    "text-chunk-bomb.png": big_png_text,  # Pillow refuses text chunks that inflate past 1 MB
    "loop.jpg": symlink_loop,
    "dangling.jpg": dangling,
    "pipe.jpg": fifo,
    "named-like-an-image.jpg": folder_named_like_an_image,  # its inside.jpg is what fails
}

#: Odd but sound files: each is ingested (most hold no face).
ODD: dict[str, Maker] = {
    "mode-P.png": plain("P", "PNG"),
    "mode-LA.png": plain("LA", "PNG"),
    "mode-RGBA.png": plain("RGBA", "PNG"),
    "mode-1.png": plain("1", "PNG"),
    "mode-L.pgm": plain("L", "PPM"),
    "mode-RGB.ppm": plain("RGB", "PPM"),
    "mode-CMYK.jpg": plain("CMYK", "JPEG"),
    "mode-CMYK.tif": plain("CMYK", "TIFF"),
    "mode-I16.png": wide("I;16", "PNG"),
    "mode-I.tif": wide("I", "TIFF"),
    "mode-F.tif": wide("F", "TIFF"),
    "webp.webp": plain("RGB", "WEBP"),
    "bmp.bmp": plain("RGB", "BMP"),
    "progressive.jpg": lambda _: encode(small(size=(80, 60)), "JPEG", progressive=True),
    "one-pixel.png": plain("RGB", "PNG", (1, 1)),
    "thin.png": plain("RGB", "PNG", (1, 3000)),
    "jpeg-named.png": plain("RGB", "JPEG", (70, 50)),
    "trailing-garbage.jpg": lambda _: encode(small(size=(66, 40)), "JPEG") + b"\x00junk" * 100,
    "animated.gif": animated,
    "multipage.tif": multipage_tiff,
    "huge-exif.jpg": huge_exif,
    "bogus-exif.jpg": bogus_exif,
    **{f"exif-orientation-{o}.jpg": oriented(o) for o in range(1, 10)},  # 9: not a valid one
    "new\nline.jpg": plain("RGB", "JPEG", (61, 41)),
    "x..%2F..%2Fetc%2Fpasswd.jpg": plain("RGB", "JPEG", (62, 42)),
    "evil\\..\\..\\windows.jpg": plain("RGB", "JPEG", (63, 43)),
    "фото 😀 photo.jpg": plain("RGB", "JPEG", (64, 44)),
    ("l" * 240) + ".JPG": plain("RGB", "JPEG", (65, 45)),
}


def make_corpus(folder: Path, photos: Path) -> None:
    folder.mkdir()
    for name, maker in {**BAD, **ODD}.items():
        data = maker(folder / name)
        if data is not None:
            (folder / name).write_bytes(data)
    for name in ("obama.jpg", "biden.jpg"):  # the two real faces
        shutil.copy(photos / name, folder / name)
    shutil.copy(photos / "obama.jpg", folder / "same-bytes-again.jpg")  # duplicate in batch


def failed_name(location: str) -> str:
    path = Path(location)
    return path.parent.name if path.name == "inside.jpg" else path.name


def test_given_a_hostile_corpus_then_ingest_lists_every_bad_file_and_indexes_the_rest(
    engine: Engine, declare: Declare, photos: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "corpus"
    make_corpus(folder, photos)
    declare(engine, "corpus")
    kinds = len(BAD) + len(ODD)
    assert kinds >= 40

    report = engine.ingest([folder], "corpus", workers=1)

    failures = {failed_name(f.location): f for f in report.failures}
    assert sorted(failures) == sorted(BAD), {n: f.message for n, f in failures.items()}
    for failure in failures.values():
        assert failure.error != "internal_error", failure  # a typed error, not a crash
        assert failure.message, failure
    assert report.images_ingested == len(ODD) + 2, "every odd file and both faces"
    assert report.duplicates_skipped == 1
    assert report.faces_indexed >= 2
    assert engine.index.count() == report.faces_indexed
    print(f"hostile kinds: {kinds} ({len(BAD)} bad, {len(ODD)} odd); crashes: 0")

    again = engine.ingest([folder], "corpus", workers=1)
    assert sorted(failed_name(f.location) for f in again.failures) == sorted(BAD)
    assert again.images_ingested == 0
    assert again.duplicates_skipped == len(ODD) + 3
