"""The converted ONNX model in the user's cache, made at first use from the installed dlib file.

Next to ``<name>.onnx`` lies ``<name>.json`` with the sha256 of the source ``.dat`` and of the
``.onnx`` and the converter's version. The model is converted again when the source file or
the converter changed, or when the ``.onnx`` no longer has the recorded hash. Files are
written to a temporary name and renamed, so processes converting at once never read half a
file.
"""

from __future__ import annotations

import logging
from pathlib import Path

from facelens.errors import ModelConversionError
from facelens.pipeline.models import (
    RESNET_EMBEDDER_FILE,
    cache_folder,
    model_path,
    read_manifest,
    sha256_hex,
    write_cached_model,
)

log = logging.getLogger(__name__)

#: Bump when the graph the converter builds changes, so cached models are rebuilt.
CONVERTER_VERSION = 1


def converted_model(cache_dir: Path | None = None, source: Path | None = None) -> Path:
    """Path of the ONNX model of dlib's ResNet file ``source`` (default: the installed
    ``face_recognition_models`` one) in ``cache_dir`` (default ``~/.cache/facelens/models``),
    converting it first when there is no up-to-date copy."""
    source = source or model_path(RESNET_EMBEDDER_FILE)
    folder = cache_folder(cache_dir)
    stem = source.stem
    onnx_path, manifest_path = folder / f"{stem}.onnx", folder / f"{stem}.json"
    source_bytes = source.read_bytes()
    source_sha = sha256_hex(source_bytes)
    manifest = read_manifest(manifest_path)
    if (
        manifest is not None
        and manifest.get("source_sha256") == source_sha
        and manifest.get("converter_version") == CONVERTER_VERSION
        and onnx_path.is_file()
        and sha256_hex(onnx_path.read_bytes()) == manifest.get("onnx_sha256")
    ):
        return onnx_path
    # Only a conversion needs the onnx package, a second of every start-up if imported above.
    from facelens.pipeline.embed.dlib_onnx.resnet import build_model
    from facelens.pipeline.embed.dlib_onnx.serialize import read_network

    log.info("converting %s to ONNX in %s", source.name, folder)
    model = build_model(read_network(source_bytes, source=str(source))).SerializeToString()
    record = {
        "source": source.name,
        "source_sha256": source_sha,
        "onnx_sha256": sha256_hex(model),
        "converter_version": CONVERTER_VERSION,
    }
    write_cached_model({onnx_path: model}, manifest_path, record, what="the converted model",
                       error=ModelConversionError)  # fmt: skip
    return onnx_path
