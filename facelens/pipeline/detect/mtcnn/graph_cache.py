"""MTCNN's ONNX graphs in the model cache folder, built from the weights when missing.

The graphs lie in the weights' folder beside a ``graphs.json`` recording the sha256 of the
weights and of each graph and the builder's version; they are built again (``graphs``) when
any of these no longer matches. Reading them needs ONNX Runtime only: the onnx package, about
a second of every start-up, is imported for a build alone.
"""

from __future__ import annotations

import logging
from pathlib import Path

from facelens.errors import ModelIntegrityError
from facelens.pipeline.detect.mtcnn.weights import (
    NETWORKS,
    WEIGHTS_SHA256,
    load_weights,
    weights_folder,
)
from facelens.pipeline.models import read_manifest, sha256_hex, write_cached_model

log = logging.getLogger(__name__)

#: Bump when ``graphs`` builds different graphs, so cached ones are rebuilt.
BUILDER_VERSION = 1


def graph_files(cache_dir: Path | None = None) -> dict[str, Path]:
    """Each network's ONNX file in the cache, built from the (fetched, checked) weights
    when there is no up-to-date copy."""
    folder = weights_folder(cache_dir)
    files = {name: folder / f"{name}.onnx" for name in NETWORKS}
    manifest_path = folder / "graphs.json"
    manifest = read_manifest(manifest_path)
    recorded = manifest.get("onnx_sha256") if manifest is not None else None
    if (
        manifest is not None
        and manifest.get("builder_version") == BUILDER_VERSION
        and manifest.get("weights_sha256") == WEIGHTS_SHA256
        and isinstance(recorded, dict)
        and all(
            files[name].is_file() and sha256_hex(files[name].read_bytes()) == recorded.get(name)
            for name in NETWORKS
        )
    ):
        return files
    from facelens.pipeline.detect.mtcnn.graphs import build_graph  # the onnx package: builds only

    weights = load_weights(cache_dir)
    log.info("building MTCNN's ONNX graphs in %s", folder)
    built = {name: build_graph(name, weights[name]).SerializeToString() for name in NETWORKS}
    record = {
        "source": "facenet-pytorch 2.6.0, facenet_pytorch/data/{pnet,rnet,onet}.pt",
        "weights_sha256": WEIGHTS_SHA256,
        "onnx_sha256": {name: sha256_hex(model) for name, model in built.items()},
        "builder_version": BUILDER_VERSION,
    }
    written = {files[name]: model for name, model in built.items()}
    write_cached_model(written, manifest_path, record, what="MTCNN's graphs",
                       error=ModelIntegrityError)  # fmt: skip
    return files
