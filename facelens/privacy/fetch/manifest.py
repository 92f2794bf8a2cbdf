"""The manifest an operator lists images in: a CSV file of image URLs and the pages they
appeared on (for provenance), read row by row, each bad row a located problem.

Only ``image_url`` is ever fetched (``facelens.privacy.fetch.client``); ``page_url`` is
recorded, never requested.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from facelens.errors import ManifestError, ManifestRowError
from facelens.ingest_report import IngestFailure
from facelens.pipeline.batch import failure
from facelens.privacy.fetch.addresses import ALLOWED_SCHEMES
from facelens.types import Provenance

REQUIRED_COLUMNS = ("image_url", "page_url")
OPTIONAL_COLUMNS = ("licence_ref", "captured_at")


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    image_url: str
    page_url: str
    line: int
    licence_ref: str | None = None
    captured_at: datetime | None = None

    def provenance(self) -> Provenance:
        return Provenance(
            origin_url=self.image_url,
            page_url=self.page_url,
            captured_at=self.captured_at,
            licence_ref=self.licence_ref,
        )


@dataclass(slots=True)
class Manifest:
    path: Path
    entries: list[ManifestEntry] = field(default_factory=list)
    problems: list[IngestFailure] = field(default_factory=list)


def read_manifest(path: Path | str) -> Manifest:
    """Read a CSV manifest with a header row: ``image_url``, ``page_url`` and optionally
    ``licence_ref`` and ``captured_at`` (ISO 8601; a value without a zone is taken as UTC).

    A bad row becomes a problem located at ``path:line`` and the other rows still load; a file
    that cannot be used at all raises ``ManifestError``.
    """
    path = Path(path)
    manifest = Manifest(path=path)
    fix = "write a UTF-8 CSV file whose header row names image_url and page_url"
    try:
        # utf-8-sig: spreadsheet programs often start CSV files with a byte order mark.
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            header = next(reader, None)
            if header is None:
                raise ManifestError(f"manifest {path} is empty; {fix}")
            columns = [name.strip().lower() for name in header]
            missing = [name for name in REQUIRED_COLUMNS if name not in columns]
            if missing:
                raise ManifestError(
                    f"manifest {path} has no {' or '.join(missing)} column "
                    f"(header: {', '.join(header) or 'empty'}); {fix}"
                )
            first_line: dict[str, int] = {}
            for values in reader:
                line = reader.line_num  # physical line, so quoted newlines don't shift it
                if not any(value.strip() for value in values):
                    continue
                try:
                    entry = _parse_row(columns, values, line, first_line)
                except ManifestRowError as exc:
                    manifest.problems.append(failure(f"{path}:{line}", exc))
                    continue
                first_line[entry.image_url] = line
                manifest.entries.append(entry)
    except FileNotFoundError:
        raise ManifestError(f"manifest {path} does not exist; check the path") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ManifestError(f"manifest {path} is not a CSV text file ({exc}); {fix}") from None
    except OSError as exc:
        raise ManifestError(
            f"manifest {path} cannot be read ({exc.strerror or exc}); check the path and "
            "its permissions"
        ) from None
    return manifest


def _parse_row(
    columns: list[str], values: list[str], line: int, first_line: dict[str, int]
) -> ManifestEntry:
    if len(values) > len(columns):
        raise ManifestRowError(
            f"line {line} has {len(values)} fields but the header has {len(columns)}; "
            "put values that contain commas in double quotes"
        )
    row = {name: value.strip() for name, value in zip(columns, values, strict=False)}
    image_url = _absolute_url(row.get("image_url", ""), "image_url", line)
    page_url = _absolute_url(row.get("page_url", ""), "page_url", line)
    if image_url in first_line:
        raise ManifestRowError(
            f"line {line} repeats image_url {image_url} already listed on line "
            f"{first_line[image_url]}; it is fetched once, delete the repeated row"
        )
    captured_text = row.get("captured_at", "")
    captured_at = None
    if captured_text:
        try:
            captured_at = datetime.fromisoformat(captured_text)
        except ValueError:
            raise ManifestRowError(
                f"line {line}: captured_at {captured_text!r} is not an ISO 8601 date or "
                "datetime; write e.g. 2024-05-31 or 2024-05-31T14:00:00Z, or leave it empty"
            ) from None
        if captured_at.tzinfo is None:
            captured_at = captured_at.replace(tzinfo=UTC)
    return ManifestEntry(
        image_url=image_url,
        page_url=page_url,
        line=line,
        licence_ref=row.get("licence_ref") or None,
        captured_at=captured_at,
    )


def _absolute_url(value: str, column: str, line: int) -> str:
    problem = None
    if not value:
        problem = "is empty"
    else:
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            problem = f"is not a valid URL ({exc})"
        else:
            if url.scheme not in ALLOWED_SCHEMES:
                problem = "is not an http or https URL"
            elif not url.host:
                problem = "has no host"
    if problem:
        shown = f" {value!r}" if value else ""
        raise ManifestRowError(
            f"line {line}: {column}{shown} {problem}; write the full address, "
            "e.g. https://example.org/photo.jpg"
        )
    return value
