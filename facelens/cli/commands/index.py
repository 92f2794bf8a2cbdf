"""``facelens index``: the vector index, derived from the store."""

from __future__ import annotations

import typer

from facelens.cli.options import DEFAULT_DATA, DataOption, JsonOption, cli_actor, engine_for
from facelens.cli.render import emit_json, out

app = typer.Typer(help="The vector index (derived from the store).", no_args_is_help=True)


@app.command("rebuild")
def index_rebuild(data: DataOption = DEFAULT_DATA, json_output: JsonOption = False) -> None:
    """Rebuild the index from the store (the source of truth)."""
    with engine_for(data, json_output) as engine:
        count = engine.rebuild_index()
        engine.audit(cli_actor(), "cli index rebuild", "index", {"faces": count})
    if json_output:
        emit_json({"faces_indexed": count})
    else:
        out.print(f"index rebuilt from the store: {count} faces")


@app.command("calibrate")
def index_calibrate(data: DataOption = DEFAULT_DATA, json_output: JsonOption = False) -> None:
    """Measure again the threshold that holds search_target_fpir on this gallery (ingest does
    it by itself once the gallery has changed by a tenth; run it after large erasures)."""
    with engine_for(data, json_output) as engine:
        calibration = engine.calibrate(caller=cli_actor())
        decision = engine.decision(None)
    if json_output:
        emit_json(
            None
            if calibration is None
            else {
                "scores": calibration.scores,
                "gallery_faces": calibration.gallery_faces,
                "sampled_faces": calibration.sample.size,
                "target_fpir": decision.target_fpir,
                "threshold": decision.threshold,
                "estimated_fpir": decision.estimated_fpir,
                "expected_false_candidates": decision.expected_false_candidates,
            }
        )
    elif calibration is None:
        out.print(
            f"not calibrated: the gallery has {decision.gallery_faces:,} faces, under "
            "score_min_gallery_faces; searches decide on similarity against match_threshold"
        )
    else:
        out.print(
            f"calibrated on {calibration.gallery_faces:,} faces ({calibration.sample.size:,} "
            f"searched against the rest): {calibration.scores} threshold "
            f"{decision.threshold:.4f} holds FPIR {decision.target_fpir:g} "
            f"(measured {decision.estimated_fpir:.4f}; "
            f"{decision.expected_false_candidates:.2f} strangers per search above it)",
            highlight=False,
        )
