"""What ``facelens search`` writes for a batch of probes: JSON lines, a CSV a spreadsheet opens,
each probe on the terminal, and the summary; and the ``--json`` shape of one search, which a
batch's lines share."""

from __future__ import annotations

import csv
import json
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from facelens.batch_search import BatchSearchSummary, ProbeOutcome
from facelens.cli.render import out, print_search_result
from facelens.errors import InvalidArgumentError
from facelens.types import SearchResult, to_jsonable

#: The CSV's columns: one row per probe face and match (a probe that failed: one row, with
#: its error; a probe face with no gallery face to compare with: one row, without a rank).
CSV_COLUMNS = (
    "probe",
    "probe_face",
    "rank",
    "similarity",
    "normalised_score",
    "is_match",
    "face_id",
    "person_name",
    "image_location",
    "collection",
    "error",
)
#: A spreadsheet runs a cell that starts with one of these as a formula ("CSV injection"):
#: a person's name or a file name must stay text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def search_json(result: SearchResult) -> dict[str, Any]:
    """One search as ``--json`` prints it. The command line's searches have no row in the
    (per-account) search log, so no ``search_id``."""
    return {k: v for k, v in to_jsonable(result).items() if k != "search_id"}


def probe_json(outcome: ProbeOutcome) -> dict[str, Any]:
    """One probe of a batch: its path, ``error`` (null, or its code and message) and, when it
    was searched, the fields of ``search_json``."""
    found = {"probe": outcome.probe, "error": to_jsonable(outcome.error)}
    return found if outcome.result is None else found | search_json(outcome.result)


def csv_rows(outcome: ProbeOutcome) -> list[dict[str, Any]]:
    if outcome.result is None:
        assert outcome.error is not None
        return [{"probe": outcome.probe, "error": f"{outcome.error.code}: {outcome.error.message}"}]
    rows: list[dict[str, Any]] = []
    for n, face in enumerate(outcome.result.faces, start=1):
        if not face.matches:
            rows.append({"probe": outcome.probe, "probe_face": n})
        for rank, m in enumerate(face.matches, start=1):
            rows.append(
                {
                    "probe": outcome.probe,
                    "probe_face": n,
                    "rank": rank,
                    "similarity": round(m.similarity, 6),
                    # Empty when the gallery is too small to normalise against.
                    "normalised_score": "" if m.normalised_score is None else m.normalised_score,
                    "is_match": "true" if m.is_match else "false",
                    "face_id": m.face_id,
                    "person_name": m.person_name or "",
                    "image_location": m.image_location,
                    "collection": m.collection,
                }
            )
    return rows


def _as_text(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value  # what spreadsheets themselves use to mark a cell as text
    return value


class BatchOutput:
    """Where a batch's outcomes go as they come, so an interrupted batch keeps what it did:
    ``--jsonl`` (a line each), ``--csv`` (rows each) and the terminal: each probe that was
    not searched unless ``quiet``, and each result too with ``results``."""

    def __init__(
        self, jsonl: Path | None, csv_path: Path | None, *, results: bool, quiet: bool
    ) -> None:
        self.jsonl_path, self.csv_path = jsonl, csv_path
        self.results, self.quiet = results, quiet
        self._files = ExitStack()
        self._jsonl: IO[str] | None = None
        self._csv: csv.DictWriter[str] | None = None

    def __enter__(self) -> BatchOutput:
        if self.jsonl_path is not None:
            self._jsonl = self._open(self.jsonl_path, "--jsonl", "utf-8")
        if self.csv_path is not None:
            # With a byte order mark: Excel reads a CSV without one in the system's legacy
            # code page, and non-ASCII names and paths come out garbled.
            handle = self._open(self.csv_path, "--csv", "utf-8-sig")
            self._csv = csv.DictWriter(handle, CSV_COLUMNS)
            self._csv.writeheader()
        return self

    def _open(self, path: Path, option: str, encoding: str) -> IO[str]:
        try:
            # newline="": the csv module writes its own line ends (CRLF, as RFC 4180 says).
            return self._files.enter_context(path.open("w", encoding=encoding, newline=""))
        except OSError as exc:
            raise InvalidArgumentError(f"{option} {path}: cannot write ({exc.strerror})") from exc

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._files.close()

    def write(self, outcome: ProbeOutcome) -> None:
        if self._jsonl is not None:
            self._jsonl.write(json.dumps(probe_json(outcome), ensure_ascii=False) + "\n")
            self._jsonl.flush()
        if self._csv is not None:
            for row in csv_rows(outcome):
                self._csv.writerow({k: _as_text(v) for k, v in row.items()})
        if self.quiet:
            return
        if outcome.result is None:
            assert outcome.error is not None
            what = "no usable face" if outcome.no_face else "failed"
            colour = "yellow" if outcome.no_face else "red"
            out.print(
                f"[{colour}]{what}[/] {outcome.probe}: {outcome.error.message}",
                highlight=False,
                soft_wrap=True,
            )
        elif self.results:
            out.print(f"[bold]{outcome.probe}[/]", highlight=False, soft_wrap=True)
            print_search_result(outcome.result)


def print_batch_summary(summary: BatchSearchSummary, written: list[Path]) -> None:
    out.print(
        f"{summary.probes} probes: {summary.searched} searched ({summary.with_match} with a "
        f"match), {summary.no_face} without a usable face, {summary.failed} failed",
        highlight=False,
    )
    for path in written:
        out.print(f"results in {path}", highlight=False, soft_wrap=True)
