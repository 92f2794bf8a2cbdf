"""``python -m facelens.pipeline.detect.mtcnn``: fetch MTCNN's weights (once) and build its
graphs in the model cache folder (``onnx_model_dir``, from the environment as everywhere), so
that the first detection, a test or an ingest worker never downloads. Prints the folder."""

from __future__ import annotations

import sys

from facelens.config import Settings
from facelens.errors import FacelensError
from facelens.pipeline.detect.mtcnn.graph_cache import graph_files


def main() -> int:
    try:
        files = graph_files(Settings().onnx_model_dir)
    except FacelensError as error:
        sys.stderr.write(f"MTCNN's weights are not ready: {error}\n")
        return 1
    sys.stdout.write(f"MTCNN's weights and graphs are in {files['pnet'].parent}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
