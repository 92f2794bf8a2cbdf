"""What the command line prints: the consoles, ``--json`` output, the progress bar, and the
Rich tables and summaries of the commands' results (the one-line confirmations stay with
their commands)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from facelens.face_sizes import SIZE_BANDS
from facelens.ingest_report import IngestReport
from facelens.pipeline.quality import reason_in_words
from facelens.types import SearchDecision, SearchResult, to_jsonable

if TYPE_CHECKING:
    from facelens.doctor import DoctorReport
    from facelens.engine.reindex import ReindexReport
    from facelens.privacy.audit import AuditCheck
    from facelens.privacy.policy import CollectionPolicy
    from facelens.privacy.rights import AccessReport, RequestReview
    from facelens.privacy.transparency import TransparencyReport
    from facelens.types import Consent, Person, Stats, SubjectRequest

out = Console()
err = Console(stderr=True)


def emit_json(value: Any) -> None:
    print(json.dumps(to_jsonable(value), indent=2))


def progress_bar(*, disable: bool) -> Progress:
    """On stderr, so that stdout stays clean for ``--json``: task, bar, count, rate, ETA."""
    return Progress(
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err,
        disable=disable,
    )


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} img/s" if speed else "- img/s", style="progress.data.speed")


# --- ingest, search -----------------------------------------------------------------------


def face_size_table(
    indexed: dict[str, int],
    rejected: dict[str, dict[str, int]],
    min_face_size_px: int | None = None,
) -> Table | None:
    """Faces by size band (rows, only those with a face): indexed, and rejected by reason
    (columns, only reasons that occur); None when there is no face at all."""
    reasons = sorted(rejected)
    rows = [
        band.name
        for band in SIZE_BANDS
        if indexed.get(band.name) or any(rejected[r].get(band.name) for r in reasons)
    ]
    if not rows:
        return None
    table = Table(
        "size",
        "indexed",
        *(reason_in_words(r, min_face_size_px) for r in reasons),
        title="faces by size (short side of the box)",
        title_justify="left",
    )
    for band in rows:
        counts = [indexed.get(band, 0), *(rejected[r].get(band, 0) for r in reasons)]
        table.add_row(band, *(str(n) if n else "-" for n in counts))
    return table


def print_ingest_report(report: IngestReport, min_face_size_px: int | None = None) -> None:
    rejected = ", ".join(f"{n} {r}" for r, n in sorted(report.faces_rejected.items())) or "none"
    out.print(
        f"[bold]{report.collection}[/]: {report.images_ingested} images ingested, "
        f"{report.faces_indexed} faces indexed, rejected faces: {rejected}, "
        f"{report.duplicates_skipped} duplicates skipped, {len(report.failures)} failed "
        f"({report.elapsed_s:.1f} s, {report.images_per_s:.1f} images/s)",
        highlight=False,
    )
    sizes = face_size_table(
        report.faces_indexed_by_size, report.faces_rejected_by_size, min_face_size_px
    )
    if sizes is not None:
        out.print(sizes)
    if report.faces_suppressed:
        out.print(f"  {report.faces_suppressed} face(s) of people who opted out: not stored")
    for rule, count in sorted(report.refusals.items()):
        out.print(f"  [yellow]refused[/] {count} URL(s) by rule {rule}", highlight=False)
    for failure in report.failures:
        out.print(f"  [red]failed[/] {failure.location}: {failure.message}", highlight=False)


def turn_note(what: str, degrees: int) -> str:
    """A photo found only once turned: said, so a reviewer knows the boxes' frame."""
    return (
        f"{what} was turned {degrees} degrees clockwise before a face was found "
        "(boxes are on the photo as given)"
    )


def decision_note(decision: SearchDecision) -> str:
    """The rule that made matches, in words, with what it costs in strangers."""
    if decision.rule == "calibrated":
        assert decision.target_fpir is not None
        text = (
            f"matches: normalised score >= {decision.threshold:.2f}, calibrated on this "
            f"gallery ({decision.calibrated_gallery_faces:,} faces) so that at most "
            f"{decision.target_fpir:.1%} of searches for someone absent return a match"
        )
    else:
        text = f"matches: similarity >= {decision.threshold:.4f} (fixed)"
        if decision.measured_fmr is not None:
            text += f", false match rate {decision.measured_fmr:.3%} per comparison on LFW"
    if decision.expected_false_candidates is not None:
        text += f"; about {decision.expected_false_candidates:.2f} strangers per search above it"
    if decision.calibration_stale:
        text += " [yellow](calibration stale: the gallery changed by over a tenth)[/]"
    return text


def print_search_result(result: SearchResult) -> None:
    if result.probe_turned_degrees:
        out.print(turn_note("the probe photo", result.probe_turned_degrees))
    if result.decision is not None:
        out.print(decision_note(result.decision), highlight=False, soft_wrap=True)
    for n, face in enumerate(result.faces, start=1):
        box = ",".join(map(str, face.probe_box.as_tuple()))
        small = ", [yellow]small: weigh its matches with care[/]" if face.probe_small_face else ""
        out.print(
            f"[bold]probe face {n}[/] (box {box}, {face.probe_size_px} px{small}): "
            f"{len(face.matches)} nearest faces, "
            f"threshold {result.threshold:.4f}",
            highlight=False,
        )
        if not face.matches:
            out.print("  no faces in the gallery to compare with")
        for rank, m in enumerate(face.matches, start=1):
            verdict = "[green]MATCH[/]" if m.is_match else "[dim]below[/]"
            norm = f" (norm {m.normalised_score:.2f})" if m.normalised_score is not None else ""
            out.print(
                f"  {rank:>2}. {m.similarity:.3f}{norm} {verdict}  {m.person_name or '(unnamed)'}  "
                f"face {m.face_id} in {m.collection}: {m.image_location} "
                f"box {','.join(map(str, m.box.as_tuple()))} ({m.size_px} px"
                + (", [yellow]small face[/])" if m.small_face else ")"),
                highlight=False,
                soft_wrap=True,
            )
    if result.faces_rejected:
        reasons = ", ".join(f"{q.rejection_reason} ({q.size_px} px)" for q in result.faces_rejected)
        out.print(f"{len(result.faces_rejected)} probe face(s) not searched: {reasons}")


# --- the data folder ----------------------------------------------------------------------


def print_reindex_report(report: ReindexReport) -> None:
    out.print(
        f"[bold]{report.target_model}[/]: {report.faces} faces, {report.staged_now} "
        f"re-embedded now, {report.already_staged} by an earlier run, "
        f"{report.faces_failed} failed",
        highlight=False,
        soft_wrap=True,
    )
    for failure in report.failures:
        faces = ", ".join(map(str, failure.face_ids))
        out.print(
            f"  [red]failed[/] image {failure.image_id} ({failure.location}), faces {faces}: "
            f"{failure.reason}",
            highlight=False,
            soft_wrap=True,
        )
    if not report.switched:
        out.print(
            f"not switched: the data folder keeps {report.source_model}. Restore the sources "
            "(or delete their faces) and run the same command again: it resumes",
            highlight=False,
        )
        return
    settings = " ".join(f"{k}={v}" for k, v in report.open_with.items())
    out.print(
        f"switched from {report.source_model}; the index is rebuilt. Open this data folder "
        f"from now on with: {settings}",
        highlight=False,
        soft_wrap=True,
    )


def print_persons(persons: list[Person]) -> None:
    table = Table("id", "name", "faces", "face ids")
    for p in persons:
        table.add_row(str(p.id), p.name, str(len(p.face_ids)), ",".join(map(str, p.face_ids)))
    out.print(table)


def print_stats(stats: Stats, min_face_size_px: int | None = None) -> None:
    table = Table("what", "value")
    for key, value in to_jsonable(stats).items():
        if key in {"faces_indexed_by_size", "faces_rejected_by_size"}:
            continue  # the table of face sizes below
        if key == "model":
            value = value["id"]
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        table.add_row(key, str(value))
    out.print(table)
    sizes = face_size_table(
        stats.faces_indexed_by_size, stats.faces_rejected_by_size, min_face_size_px
    )
    if sizes is not None:
        out.print(sizes)


def print_doctor(report: DoctorReport, json_output: bool) -> None:
    if json_output:
        emit_json({"healthy": report.healthy, "findings": report.findings})
        return
    table = Table("check", "state", "finding")
    for f in report.findings:
        state = "repaired" if f.repaired else ("ok" if f.ok else "PROBLEM")
        table.add_row(f.check, state, f.detail)
    out.print(table)
    out.print("healthy" if report.healthy else f"{report.problems} problem(s) remain")


def print_audit_check(check: AuditCheck) -> None:
    if check.intact:
        matched = (
            f"; checkpoint at entry {check.checkpoint_last_id} matches"
            if check.checkpoint_last_id is not None
            else ""
        )
        out.print(
            f"audit log intact: {check.entries} entries, hash chain verified{matched}",
            highlight=False,
        )
    else:
        where = f"entry {check.first_bad_id}: " if check.first_bad_id is not None else ""
        err.print(
            f"[bold red]audit log tampered with:[/] {where}{check.problem}",
            highlight=False,
        )


# --- lawful processing --------------------------------------------------------------------


def print_collections(policies: dict[str, CollectionPolicy | None]) -> None:
    table = Table("name", "basis", "jurisdictions", "purpose", "retention days")
    for name, policy in policies.items():
        if policy is None:
            table.add_row(name, "[red]none: ingest refused[/]", "", "", "")
        else:
            basis = policy.basis.value + (f" ({policy.basis_text})" if policy.basis_text else "")
            table.add_row(
                name, basis, ",".join(policy.jurisdictions), policy.purpose,
                str(policy.retention_days),
            )  # fmt: skip
    out.print(table)


def print_consents(consents: list[Consent]) -> None:
    now = datetime.now(UTC)
    table = Table("id", "subject", "scope", "given", "expires", "person", "state")
    for c in consents:
        state = "withdrawn" if c.withdrawn_at else ("valid" if c.valid_at(now) else "lapsed")
        table.add_row(
            str(c.id), c.subject_ref, ",".join(c.scope), c.given_at.date().isoformat(),
            c.expires_at.date().isoformat() if c.expires_at else "-",
            str(c.person_id or "-"), state,
        )  # fmt: skip
    out.print(table)


def print_review(opened: RequestReview) -> None:
    request, rule = opened.request, opened.rule
    out.print(
        f"{request.kind} request {request.id} ({request.request_ref}): "
        f"{len(opened.candidates)} candidate face(s) to review",
        highlight=False,
    )
    if rule is not None:
        out.print(
            f"  rule: similarity >= {rule.threshold:.4f} to any of {rule.photos} photo(s); at "
            f"{rule.gallery_faces:,} faces held it is expected to propose "
            f"{rule.expected_false_candidates:.3g} stranger(s)",
            highlight=False,
        )
    for face in opened.candidates:
        out.print(
            f"  face {face.face_id} ({face.similarity:.3f}, {face.decision}) in "
            f"{face.collection} [{face.legal_basis}, {face.retention_days} days]: "
            f"{face.image_location}",
            highlight=False,
            soft_wrap=True,
        )
    if request.status == "pending":
        out.print(
            f"review each face (facelens subject review {request.id} --crops DIR), then confirm "
            f"those that are the requester's: facelens subject confirm {request.id} --face ID ..."
        )


def print_access_report(report: AccessReport) -> None:
    out.print(
        f"request {report.request.id} ({report.request.request_ref}): {len(report.faces)} "
        "face(s) held confirmed as the requester's",
        highlight=False,
    )
    for face in report.faces:
        out.print(
            f"  face {face.face_id} ({face.similarity:.3f}) in {face.collection} "
            f"[{face.legal_basis}, {face.retention_days} days]: {face.image_location}",
            highlight=False,
            soft_wrap=True,
        )


def print_subject_requests(requests: list[SubjectRequest]) -> None:
    table = Table("id", "kind", "ref", "status", "found", "erased", "by", "confirmed by")
    for r in requests:
        table.add_row(
            str(r.id), r.kind, r.request_ref, r.status, str(r.faces_found), str(r.faces_erased),
            r.created_by, r.confirmed_by or "-",
        )  # fmt: skip
    out.print(table)


def print_transparency(report: TransparencyReport, since: str) -> None:
    table = Table("what", "count")
    table.add_row("searches", str(report.searches))
    for purpose, n in report.searches_by_purpose.items():
        table.add_row(f"  purpose: {purpose}", str(n))
    for kind, outcomes in (
        ("access", report.access_requests),
        ("erasure", report.erasure_requests),
    ):
        for status, n in outcomes.items():
            table.add_row(f"{kind} requests {status}", str(n))
    table.add_row("faces erased on request", str(report.faces_erased_on_request))
    table.add_row("consent withdrawals", str(report.consent_withdrawals))
    table.add_row("retention images destroyed", str(report.retention_images_deleted))
    table.add_row("retention faces destroyed", str(report.retention_faces_deleted))
    for rule, n in report.refusals_by_rule.items():
        table.add_row(f"refused: {rule}", str(n))
    out.print(f"transparency report since {since}")
    out.print(table)


# --- evaluation ---------------------------------------------------------------------------
