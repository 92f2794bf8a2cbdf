"""``facelens eval``: error rates of facelens's own pipeline on public benchmarks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import TaskID

from facelens.cli.exit_codes import fail
from facelens.cli.options import JsonOption
from facelens.cli.render import err, progress_bar
from facelens.cli.render_eval import print_eval_summary
from facelens.config import Settings
from facelens.errors import FacelensError
from facelens.pipeline.batch import default_workers

app = typer.Typer(help="Measure error rates on public benchmarks.", no_args_is_help=True)


@app.command("lfw")
def eval_lfw(
    root: Annotated[Path, typer.Option("--root", help="The LFW folder (pairs.txt, images/).")],
    protocol: Annotated[
        list[str] | None,
        typer.Option(
            "--protocol", help="view1, view2 or identification; repeat for several (default: all)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the JSON, plots and HTML.")] = Path(
        "eval-lfw"
    ),
    groups: Annotated[
        Path | None, typer.Option("--groups", help="CSV image,group for a per-group breakdown.")
    ] = None,
    impostor_pairs: Annotated[
        int,
        typer.Option(
            "--impostor-pairs",
            min=1,
            help="With --groups: different-person pairs per group for its FMR (NISTIR 8280 "
            "style, seeded).",
        ),
    ] = 2_000_000,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: one per core).")
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option(
            help="Embedding cache file (default: ~/.cache/facelens/eval-embeddings.sqlite)."
        ),
    ] = None,
    face_size_json: Annotated[
        Path | None,
        typer.Option(
            "--face-size-json",
            help="The JSON of bench/face_size.py: its curve of accuracy against face size "
            "goes into the report.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Run facelens's own pipeline on LFW: verification (View 1, View 2), open-set 1:N
    identification and, given a CSV, error rates per group."""
    from facelens.evaluation.face_size import load_curve
    from facelens.evaluation.report import split_curves, write_report
    from facelens.evaluation.run import PROTOCOLS, EvalOptions, evaluate_lfw

    settings = Settings()
    options = EvalOptions(
        root=root,
        protocols=protocol or list(PROTOCOLS),
        workers=workers or default_workers(settings),
        cache_path=cache or Path.home() / ".cache" / "facelens" / "eval-embeddings.sqlite",
        groups_csv=groups,
        impostor_pairs=impostor_pairs,
    )
    try:
        face_size = load_curve(face_size_json) if face_size_json is not None else None
        with progress_bar(disable=json_output) as progress:
            tasks: dict[str, TaskID] = {}

            def advance(label: str, done: int, total: int) -> None:
                if label not in tasks:
                    tasks[label] = progress.add_task(f"embed {label}", total=total)
                progress.update(tasks[label], completed=done, total=total)

            result = evaluate_lfw(settings, options, advance)
    except FacelensError as exc:
        fail(exc, False)  # the message on stderr only, even with --json (as it always was)
    written = write_report(result, out, face_size)
    figures, _ = split_curves(result)
    if json_output:
        print(json.dumps(figures, indent=2))
        return
    print_eval_summary(figures)
    out.mkdir(parents=True, exist_ok=True)
    err.print(f"wrote {', '.join(str(p) for p in written)}")
