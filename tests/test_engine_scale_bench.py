"""bench/engine_scale.py end to end on a small folder: filled through the store's bulk path,
then opened, searched by ``facelens search``, served and searched over HTTP, and measured
again with ``--measure-only``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.live_server import free_port

BENCH = Path(__file__).parent.parent / "bench" / "engine_scale.py"


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(BENCH), "--repeats", "1", "--searches", "2", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def test_given_a_small_folder_then_every_figure_is_measured_and_measured_again(
    tmp_path: Path,
) -> None:
    data, out = tmp_path / "data", tmp_path / "scale.json"
    port = str(free_port())
    filled = _run("--data", data, "--faces", "300", "--collection-faces", "40", "--port", port,
                  "--out", out)  # fmt: skip
    assert filled.returncode == 0, filled.stderr
    result = json.loads(out.read_text())
    assert result["faces"] == result["faces_indexed"] == 301  # and the probe photo's face
    assert result["collection_faces"] == 41
    assert result["store"] == "sqlite" and result["embeddings"] == "random"
    assert result["store_fill_s"] > 0 and result["index_build_s"] >= 0
    for key in ("open_s_median", "cli_search_s_median", "serve_startup_s_median",
                "api_plain_ms_p50", "api_filtered_ms_p99"):  # fmt: skip
        assert result[key] > 0, key
    assert len(result["raw"]["latency_ms"]["filtered"]) == 2

    again = _run("--data", data, "--faces", "300", "--measure-only", "--port", port,
                 "--out", out)  # fmt: skip
    assert again.returncode == 0, again.stderr
    measured = json.loads(out.read_text())
    assert measured["embeddings"] == "as filled before" and "store_fill_s" not in measured
    assert measured["faces"] == 301 and measured["collection_faces"] == 41
    assert measured["api_plain_ms_p50"] > 0


def test_given_a_filled_folder_then_a_new_fill_into_it_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    refused = _run("--data", data, "--faces", "10", "--out", tmp_path / "x.json")
    assert refused.returncode != 0 and "exists: give a new folder" in refused.stderr
    missing = _run("--data", tmp_path / "none", "--faces", "10", "--measure-only",
                   "--out", tmp_path / "x.json")  # fmt: skip
    assert missing.returncode != 0 and "does not exist: fill it first" in missing.stderr
