"""The ``facelens`` command: outputs, ``--json`` shapes and exit codes, on real photos."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from facelens.cli.main import (
    EXIT_BAD_IMAGE,
    EXIT_INGEST_FAILURES,
    EXIT_NO_FACE,
    EXIT_NOT_FOUND,
    EXIT_REFUSED,
    EXIT_USAGE,
    app,
)

runner = CliRunner()
#: Every search says why (logged with the probe's hash and the faces shown).
WHY = ("--purpose", "command line test", "--case-ref", "T-1")


def run(*args: str | Path, code: int = 0, env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, [str(a) for a in args], env=env)
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result.stdout


def run_json(*args: str | Path, code: int = 0) -> Any:
    return json.loads(run(*args, "--json", code=code))


@pytest.fixture(scope="module")
def cli_data(tmp_path_factory: pytest.TempPathFactory, photos: Path) -> Path:
    """A data folder filled through the CLI: Obama (obama, obama3) and Biden, plus one bad file."""
    data = tmp_path_factory.mktemp("cli") / "data"
    folder = tmp_path_factory.mktemp("incoming")
    for name in ("obama.jpg", "obama3.jpg", "biden.jpg"):
        shutil.copy(photos / name, folder / name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    refused = runner.invoke(app, ["ingest", str(folder), "-c", "press", "--data", str(data)])
    assert refused.exit_code == EXIT_REFUSED
    assert "there is no collection 'press'" in refused.output
    run(
        "collection", "create", "press", "--basis", "public-task", "-j", "GB",
        "--purpose", "press archive", "--retention-days", "365", "--data", data,
    )  # fmt: skip
    output = run(
        "ingest",
        folder,
        "--collection",
        "press",
        "--source-url",
        "https://example.org/kit",
        "--workers",
        "2",
        "--data",
        data,
        code=EXIT_INGEST_FAILURES,
    )
    assert "3 images ingested, 3 faces indexed" in output
    assert "broken.jpg" in output and "failed" in output
    return data


def test_given_an_ingest_then_json_reports_every_count(cli_data: Path, photos: Path) -> None:
    report = run_json("ingest", photos / "obama.jpg", "-c", "press", "--data", cli_data)
    assert report == {
        "collection": "press",
        "images_seen": 1,
        "images_ingested": 0,
        "duplicates_skipped": 1,
        "faces_indexed": 0,
        "faces_rejected": {},
        "faces_indexed_by_size": {},
        "faces_rejected_by_size": {},
        "faces_suppressed": 0,
        "failures": [],
        "refusals": {},
        "elapsed_s": report["elapsed_s"],
        "images_per_s": report["images_per_s"],
    }


def test_given_a_probe_then_search_prints_the_person_first(cli_data: Path, photos: Path) -> None:
    output = run("search", photos / "obama2.jpg", *WHY, "--data", cli_data)
    lines = [line for line in output.splitlines() if line.strip().startswith(("1.", "2.", "3."))]
    assert "MATCH" in lines[0] and "obama" in lines[0]
    assert "below" in lines[2] and "biden.jpg" in lines[2]


def test_given_search_json_then_the_documented_shape(cli_data: Path, photos: Path) -> None:
    result = run_json("search", photos / "obama2.jpg", "--top-k", "2", *WHY, "--data", cli_data)
    assert set(result) == {
        "threshold",
        "model",
        "faces",
        "faces_rejected",
        "probe_turned_degrees",
        "decision",
        "person_fusion",
        "fused_probe_sha256",
    }
    assert (result["person_fusion"], result["fused_probe_sha256"]) == (None, [])
    # A gallery of three faces is too small to calibrate: decided on similarity.
    assert result["decision"]["rule"] == "fixed" and result["decision"]["scores"] == "raw"
    assert result["model"]["id"] == "dlib_face_recognition_resnet_model_v1@1/128"
    [face] = result["faces"]
    assert set(face["probe_box"]) == {"x1", "y1", "x2", "y2"}
    assert len(face["matches"]) == 2
    top = face["matches"][0]
    assert set(top) == {
        "face_id",
        "similarity",
        "is_match",
        "box",
        "image_id",
        "image_location",
        "collection",
        "person_id",
        "person_name",
        "provenance",
        "normalised_score",
        "size_px",
        "small_face",
    }
    assert top["normalised_score"] is None  # too small a gallery to normalise against
    assert (face["probe_size_px"], face["probe_small_face"]) == (317, False)
    box = top["box"]
    assert top["size_px"] == min(box["x2"] - box["x1"], box["y2"] - box["y1"])
    assert top["small_face"] is False
    assert top["is_match"] is True and Path(top["image_location"]).name.startswith("obama")
    assert top["provenance"]["origin_url"] == "https://example.org/kit"


def test_given_a_search_then_who_why_the_probe_hash_and_the_faces_shown_are_logged(
    cli_data: Path, photos: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(cli_data, data)
    result = run_json("search", photos / "obama2.jpg", *WHY, "--data", data)
    exported = tmp_path / "audit.jsonl"
    run("audit", "export", "--out", exported, "--data", data)
    searches = [
        entry
        for line in exported.read_text().splitlines()
        if (entry := json.loads(line))["action"] == "search"
    ]
    logged = searches[-1]  # the folder's earlier tests searched too
    assert logged["actor"].startswith("cli:")
    details = logged["details"]
    assert (details["purpose"], details["case_ref"]) == ("command line test", "T-1")
    assert details["probe_sha256"] == [face["probe_sha256"] for face in result["faces"]]
    assert details["result_face_ids"] == [m["face_id"] for m in result["faces"][0]["matches"]]
    report = run_json("report", "transparency", "--since", "2026-01-01", "--data", data)
    assert report["searches_by_purpose"] == {"command line test": len(searches)}


def test_given_a_search_without_purpose_or_case_then_refused_and_counted_by_rule(
    cli_data: Path, photos: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(cli_data, data)
    before = run_json("report", "transparency", "--since", "2026-01-01", "--data", data)
    for why in ((), ("--purpose", "command line test"), ("--case-ref", "T-1")):
        error = run_json("search", photos / "obama2.jpg", *why, "--data", data, code=EXIT_REFUSED)
        assert error["error"]["code"] == "purpose_required"
        assert "--purpose" in error["error"]["message"]
    report = run_json("report", "transparency", "--since", "2026-01-01", "--data", data)
    refused = before["refusals_by_rule"].get("purpose", 0)
    assert report["refusals_by_rule"]["purpose"] == refused + 3
    assert report["searches"] == before["searches"], "a refused search is not a search"


def test_given_two_photos_then_verify_answers(cli_data: Path, photos: Path) -> None:
    same = run_json("verify", photos / "obama.jpg", photos / "obama2.jpg", "--data", cli_data)
    assert same["same_person"] is True and same["similarity"] >= same["threshold"]
    output = run("verify", photos / "obama.jpg", photos / "biden.jpg", "--data", cli_data)
    assert "different people" in output


def test_given_persons_then_add_list_and_search_show_the_name(
    cli_data: Path, photos: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(cli_data, data)
    added = run_json(
        "person", "add", "Joe Biden", photos / "biden.jpg", "-c", "press", "--data", data
    )
    assert added["name"] == "Joe Biden" and len(added["face_ids"]) == 1
    assert run_json("person", "list", "--data", data) == [added]
    result = run_json("search", photos / "biden.jpg", "--top-k", "1", *WHY, "--data", data)
    assert result["faces"][0]["matches"][0]["person_name"] == "Joe Biden"
    run("delete", "--person", str(added["id"]), "--data", data)
    assert run_json("person", "list", "--data", data) == []


def test_given_delete_then_the_image_is_gone_from_search_and_stats(
    cli_data: Path, photos: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(cli_data, data)
    top = run_json("search", photos / "obama2.jpg", *WHY, "--data", data)["faces"][0]["matches"][0]
    assert run_json("delete", "--image", str(top["image_id"]), "--data", data) == {
        "faces_removed": 1
    }
    after = run_json("search", photos / "obama2.jpg", *WHY, "--data", data)["faces"][0]["matches"]
    assert top["face_id"] not in [m["face_id"] for m in after]
    stats = run_json("stats", "--data", data)
    assert stats["images"] == 2 and stats["faces_indexed"] == 2 and stats["index_count"] == 2
    assert run_json("index", "rebuild", "--data", data) == {"faces_indexed": 2}


def test_given_the_data_env_var_then_it_picks_the_folder(cli_data: Path) -> None:
    output = run("stats", env={"FACELENS_DATA": str(cli_data)})
    assert "faces_indexed" in output and "3" in output


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["search", "missing.jpg", *WHY], EXIT_BAD_IMAGE, "no such file"),
        (["delete", "--image", "424242"], EXIT_NOT_FOUND, "no image with id 424242"),
        (["delete", "--image", "1", "--face", "1"], EXIT_USAGE, "exactly one"),
        (["search", "PHOTO", "--top-k", "0"], 2, "top-k"),
    ],
)
def test_given_bad_requests_then_a_clear_message_and_exit_code(
    cli_data: Path, args: list[str], code: int, words: str
) -> None:
    result = runner.invoke(app, [*args, "--data", str(cli_data)])
    assert result.exit_code == code, result.output
    assert words in result.output


def test_given_a_photo_without_a_face_then_exit_code_no_face(
    cli_data: Path, tmp_path: Path
) -> None:
    from PIL import Image

    blank = tmp_path / "wall.png"
    Image.new("RGB", (300, 200), (120, 120, 120)).save(blank)
    error = run_json("search", blank, *WHY, "--data", cli_data, code=EXIT_NO_FACE)
    assert error["error"]["code"] == "no_face_found"


def test_given_the_console_script_then_help_lists_the_commands() -> None:
    script = Path(sys.executable).parent / "facelens"
    done = subprocess.run([script, "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    for command in ("ingest", "search", "verify", "person", "delete", "stats", "demo"):
        assert command in done.stdout


def test_given_the_console_script_then_it_ends_without_teardown_but_as_a_normal_exit_would(
    cli_data: Path, photos: Path
) -> None:
    """``main`` skips the interpreter's teardown (0.4 s of every command, after the answer):
    the answer is whole, the exit code kept, exit handlers run, and a thread still at work is
    waited for, as a normal exit does."""
    script = Path(sys.executable).parent / "facelens"
    searched = subprocess.run(
        [script, "search", photos / "obama2.jpg", *WHY, "--data", cli_data, "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert searched.returncode == 0, searched.stderr
    assert json.loads(searched.stdout)["faces"][0]["matches"]
    missing = subprocess.run(
        [script, "search", cli_data / "no-such.jpg", *WHY, "--data", cli_data],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert missing.returncode == EXIT_BAD_IMAGE and "no such file" in missing.stderr
    thread = "threading.Thread(target=lambda: (time.sleep(0.5), print('thread done'))).start()"
    for started in ("", thread):
        program = (
            "import atexit, os, sys, threading, time\n"
            "atexit.register(lambda: print('handler ran', flush=True))\n"
            "class Torn:\n    def __del__(self, write=os.write): write(1, b'torn down\\n')\n"
            "kept = Torn()\n"
            "sys.argv = ['facelens', '--help']\n"
            "from facelens.cli.main import main\n"
            f"{started}\n"
            "main()\n"
        )
        helped = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
        assert helped.returncode == 0, helped.stderr
        assert "search" in helped.stdout and "handler ran" in helped.stdout
        assert ("thread done" in helped.stdout) == bool(started)
        assert ("torn down" in helped.stdout) == bool(started), "teardown only to wait"


def test_given_stored_times_then_the_cli_json_gives_them_with_their_utc_offset(
    cli_data: Path, photos: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(cli_data, data)
    run("consent", "add", "--subject", "S-1", "--purpose", "building access", "--scope", "press",
        "--evidence", "form 7", "--data", data)  # fmt: skip
    run("subject", "access", photos / "obama2.jpg", "--ref", "SAR-1", "--data", data)
    stamps = [
        *[c["given_at"] for c in run_json("consent", "list", "--data", data)],
        *[r["created_at"] for r in run_json("subject", "list", "--data", data)],
    ]
    exported = tmp_path / "audit.jsonl"
    run("audit", "export", "--out", exported, "--data", data)
    stamps += [json.loads(line)["at"] for line in exported.read_text().splitlines()]
    assert len(stamps) > 2
    for stamp in stamps:
        assert stamp.endswith(("+00:00", "Z")), stamp
    assert run_json("audit", "verify", "--data", data)["intact"] is True


def test_given_a_sideways_probe_then_search_and_verify_say_the_turn(
    cli_data: Path, photos: Path, tmp_path: Path
) -> None:
    from PIL import Image

    sideways = tmp_path / "obama2-sideways.png"
    Image.open(photos / "obama2.jpg").transpose(Image.Transpose.ROTATE_270).save(sideways)
    output = run("search", sideways, *WHY, "--data", cli_data)
    assert "the probe photo was turned 270 degrees clockwise" in output
    assert run_json("search", sideways, *WHY, "--data", cli_data)["probe_turned_degrees"] == 270
    verified = run("verify", sideways, photos / "obama.jpg", "--data", cli_data)
    assert "photo A was turned 270 degrees clockwise" in verified and "same person" in verified
