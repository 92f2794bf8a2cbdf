"""How the command line shows persons: per-person and same-person searches, and the checks
of a person's reference faces."""

from __future__ import annotations

from facelens.cli.render import out, print_search_result, turn_note
from facelens.person_fusion import PersonReferences
from facelens.types import SearchResult


def print_person_search(result: SearchResult) -> None:
    """A per-person search (candidates: persons and lone faces) or a same-person one."""
    if result.fused_probe_sha256:
        out.print(
            f"{len(result.fused_probe_sha256)} photos of one person, searched as one probe",
            highlight=False,
        )
    if result.person_fusion is None:
        print_search_result(result)
        return
    if result.probe_turned_degrees:
        out.print(turn_note("the probe photo", result.probe_turned_degrees))
    for n, face in enumerate(result.faces, start=1):
        box = ",".join(map(str, face.probe_box.as_tuple()))
        out.print(
            f"[bold]probe face {n}[/] (box {box}, {face.probe_size_px} px): "
            f"{len(face.candidates)} candidates, persons scored by {result.person_fusion} of "
            f"their faces, threshold {result.threshold:.4f}",
            highlight=False,
        )
        if not face.candidates:
            out.print("  no faces in the gallery to compare with")
        for rank, c in enumerate(face.candidates, start=1):
            verdict = "[green]MATCH[/]" if c.is_match else "[dim]below[/]"
            who = (
                f"{c.person_name} (person {c.person_id}, {c.faces_compared} faces)"
                if c.person_id is not None
                else "(unnamed face)"
            )
            m = c.best
            out.print(
                f"  {rank:>2}. {c.similarity:.3f} {verdict}  {who}; best face {m.face_id} "
                f"({m.similarity:.3f}) in {m.collection}: {m.image_location}",
                highlight=False,
                soft_wrap=True,
            )
    if result.faces_rejected:
        out.print(f"{len(result.faces_rejected)} probe face(s) not searched")


def print_references(report: PersonReferences) -> None:
    """Each of the person's faces against the others, flagged ones marked."""
    person = report.person
    out.print(
        f"[bold]person {person.id}[/] {person.name!r}: {len(report.faces)} face(s), "
        f"threshold {report.threshold:.4f}",
        highlight=False,
    )
    for c in report.faces:
        agree = (
            f"self-similarity {c.self_similarity:.3f}, matches {c.matches_others} of "
            f"{c.others} others"
            if c.self_similarity is not None
            else "the person's only face"
        )
        flags = [f for f, on in (("OUTLIER", c.outlier), ("LOW QUALITY", c.low_quality)) if on]
        flag = f" [red]{' '.join(flags)}[/]: {'; '.join(c.reasons)}" if flags else ""
        out.print(
            f"  face {c.face_id}: {agree}; {c.size_px} px, sharpness {c.sharpness:.1f}{flag}",
            highlight=False,
            soft_wrap=True,
        )
    if not report.outliers and not report.low_quality:
        out.print("no face flagged")
