"""``facelens doctor``: check a data folder and repair what can be repaired.

The store is the source of truth; everything derived from it (the index) can be rebuilt, and
is, with ``repair``. Nothing stored is dropped unless asked: templates that do not open are
only deleted with ``delete_quarantined``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facelens.engine import SYSTEM_ACTOR, Engine
from facelens.errors import FacelensError
from facelens.security.keys import KEY_ID_META, audit_key_file


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    ok: bool
    detail: str
    repaired: bool = False


@dataclass(slots=True)
class DoctorReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(f.ok for f in self.findings)

    @property
    def problems(self) -> int:
        return sum(not f.ok for f in self.findings)


def examine(
    engine: Engine,
    *,
    repair: bool = False,
    delete_quarantined: bool = False,
    actor: str = SYSTEM_ACTOR,
) -> DoctorReport:
    """Check the store, the keys, the audit chain, the templates and the index (in that
    order: the index is judged against what the store can open)."""
    report = DoctorReport()
    add = report.findings.append
    store = engine.store
    add(Finding("store", True, f"{store.backend} store opens; schema up to date"))
    problems = store.integrity_problems()
    healthy = (
        "integrity_check ok"
        if store.backend == "sqlite"
        else "kept by the database server (check its files with pg_amcheck)"
    )
    add(Finding("store integrity", not problems, "; ".join(problems[:5]) or healthy))

    recorded = store.get_meta(KEY_ID_META)
    add(
        Finding(
            "template key",
            recorded == engine.cipher.key_id,
            f"fingerprint {engine.cipher.key_id} matches the store's"
            if recorded == engine.cipher.key_id
            else f"the store records key {recorded}, the configured key is {engine.cipher.key_id}",
        )
    )
    audit_key = audit_key_file(engine.settings, engine.folder_id)
    add(
        Finding(
            "audit key",
            audit_key.is_file(),
            f"present at {audit_key}" if audit_key.is_file() else f"missing: {audit_key}",
        )
    )
    check = engine.verify_audit()
    add(
        Finding(
            "audit chain",
            check.intact,
            f"{check.entries} entries verified"
            if check.intact
            else f"entry {check.first_bad_id}: {check.problem}",
        )
    )

    quarantined = store.scan_templates(engine.model)
    if quarantined and delete_quarantined:
        erased = engine.erase(quarantined)
        store.append_audit(
            actor,
            "doctor delete quarantined",
            "faces",
            {"face_ids": erased.face_ids.tolist(), "image_ids": erased.image_ids},
        )
        add(
            Finding(
                "templates",
                True,
                f"deleted {len(quarantined)} face(s) whose template did not open: {quarantined}",
                repaired=True,
            )
        )
    elif quarantined:
        add(
            Finding(
                "templates",
                False,
                f"{len(quarantined)} quarantined face(s) whose stored template does not open "
                f"(damaged): {quarantined}; out of the index and search. Delete them with "
                "--repair --delete-quarantined (or facelens delete --face ID)",
            )
        )
    else:
        add(Finding("templates", True, "every stored template opens"))

    if engine.last_repair.added or engine.last_repair.removed:
        add(
            Finding(
                "index at open",
                True,
                f"was out of line with the store and repaired on open "
                f"({engine.last_repair.added} added, {engine.last_repair.removed} removed)",
                repaired=True,
            )
        )
    report.findings.append(_index_finding(engine, repair))
    return report


def _index_finding(engine: Engine, repair: bool) -> Finding:
    def compare() -> tuple[bool, str]:
        stored = engine.store.indexed_face_ids(engine.model)
        indexed = engine.index.ids()
        if np.array_equal(np.sort(stored), np.sort(indexed)):
            return True, f"holds exactly the store's {len(stored)} accepted faces"
        missing = len(np.setdiff1d(stored, indexed))
        extra = len(np.setdiff1d(indexed, stored))
        return False, f"{missing} stored face(s) missing, {extra} id(s) the store does not hold"

    ok, detail = compare()
    if ok or not repair:
        return Finding("index", ok, detail if ok else detail + "; --repair rebuilds it")
    try:
        count = engine.rebuild_index()
    except FacelensError as exc:  # in use by a server, say: the finding says so
        return Finding("index", False, f"{detail}; not rebuilt: {exc}")
    ok, after = compare()
    return Finding("index", ok, f"{detail}; rebuilt from the store ({count} faces): {after}", ok)


def examine_unopenable(data_dir: Path, error: FacelensError) -> DoctorReport:
    """What can be said of a folder whose engine does not open."""
    report = DoctorReport([Finding("store", False, str(error))])
    db = data_dir / "facelens.db"
    if db.is_file() and db.stat().st_size:
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
                rows = connection.execute("PRAGMA integrity_check").fetchall()
            found = [str(r[0]) for r in rows]
            ok = found == ["ok"]
            detail = "integrity_check ok" if ok else "; ".join(found[:5])
        except sqlite3.DatabaseError as exc:
            ok, detail = False, f"not a readable SQLite database: {exc}"
        report.findings.append(Finding("store integrity", ok, detail))
    return report
