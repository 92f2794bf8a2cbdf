"""What normalised scores and the calibrated decision cost a search, through the engine.

    PYTHONPATH=. .venv/bin/python -m bench.search_scoring --lfw ../shared/datasets/lfw \\
        --faces 2000 --searches 200 --out bench/results/search-scoring.json

Ingests image 0001 of the first ``--faces`` LFW people (by name) into a new data folder (real
pipeline, store and index; ingest calibrates it), then searches image 0002 of the people who
have one, each probe analysed once beforehand so that only the search itself is timed
(``Engine.search_analysed``: index, normalisation, decision, records, the search log). Two
engines on the same folder, in this one process, alternate probe by probe: the baseline
(``score_normalisation=none``, ``search_decision=fixed``: raw similarity against 0.93) and
the defaults. Reported: median and p99 per search, their ratio, how long calibration took, and
the first search's time (the cohort is loaded then).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from facelens.config import Settings
from facelens.engine import Engine
from facelens.errors import NoFaceFoundError
from facelens.pipeline.analyse import FacePipeline
from facelens.privacy.policy import CollectionPolicy, LegalBasis
from facelens.types import AnalysedFace, ImageAnalysis

POLICY = CollectionPolicy(
    basis=LegalBasis.OTHER,
    basis_text="benchmark on LFW, a public research dataset",
    jurisdictions=["EU"],
    purpose="benchmark",
    retention_days=30,
)


def people(lfw: Path) -> list[tuple[str, int]]:
    rows = [line.split() for line in (lfw / "lfw-names.txt").read_text().splitlines()]
    return sorted((name, int(count)) for name, count in rows)


def image(lfw: Path, name: str, n: int) -> Path:
    return lfw / "images" / name / f"{name}_{n:04d}.jpg"


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--faces", type=int, default=2000, help="LFW people to ingest")
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    chosen = people(args.lfw)[: args.faces]
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        pipeline = FacePipeline(Settings())
        started = time.perf_counter()
        with Engine(Settings(data_dir=data), pipeline=pipeline) as engine:
            engine.create_collection("lfw", POLICY)
            report = engine.ingest(
                [image(args.lfw, n, 1) for n, _ in chosen], "lfw", workers=args.workers
            )
            ingest_s = time.perf_counter() - started
            started = time.perf_counter()
            calibration = engine.calibrate()
            calibrate_s = time.perf_counter() - started
            probes: list[tuple[ImageAnalysis, list[AnalysedFace]]] = []
            for name, count in chosen:
                if count >= 2 and len(probes) < args.searches:
                    try:
                        probes.append(engine.probe_faces(image(args.lfw, name, 2), "probe"))
                    except NoFaceFoundError:
                        continue
        baseline = Engine(
            Settings(data_dir=data, score_normalisation="none", search_decision="fixed"),
            pipeline=pipeline,
        )
        default = Engine(Settings(data_dir=data), pipeline=pipeline)
        times: dict[str, list[float]] = {"baseline": [], "default": []}
        first: dict[str, float] = {}
        rules: set[str] = set()
        try:
            for analysis, faces in probes:
                for label, engine in (("baseline", baseline), ("default", default)):
                    t0 = time.perf_counter()
                    result = engine.search_analysed(
                        analysis, faces, purpose="benchmark", case_ref="BENCH-1"
                    )
                    elapsed = (time.perf_counter() - t0) * 1000
                    first.setdefault(label, elapsed)
                    times[label].append(elapsed)
                    if label == "default" and result.decision is not None:
                        rules.add(result.decision.rule)
        finally:
            baseline.close()
            default.close()
    summary: dict[str, Any] = {
        label: {
            "median_ms": round(statistics.median(values[1:]), 2),
            "p99_ms": round(p99(values[1:]), 2),
            "first_ms": round(first[label], 1),
        }
        for label, values in times.items()
    }
    result_json = {
        "command": "python -m bench.search_scoring "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
        "gallery_faces": report.faces_indexed,
        "searches": len(probes),
        "ingest_s": round(ingest_s, 1),
        "calibrate_s": round(calibrate_s, 2),
        "calibrated": calibration is not None,
        "default_rules_seen": sorted(rules),
        **summary,
        "median_ratio_default_over_baseline": round(
            summary["default"]["median_ms"] / summary["baseline"]["median_ms"], 3
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result_json, indent=2) + "\n")
    print(json.dumps(result_json, indent=2))


if __name__ == "__main__":
    main()
