"""The tamper-evident audit log: security-relevant events, each entry chained to the one before
by a SHA-256 hash, so that an edited, deleted or reordered entry is detected by ``verify``.

An entry's hash covers its id, time, actor, action, subject and details (canonical JSON) and
the previous entry's hash; the first entry's previous hash is 64 zeros. Entries hold ids,
names and counts, never images or embeddings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str  # "account:<id> <name>", or "cli" for the command line
    action: str  # for example "search", "ingest", "delete.image", "account.create"
    subject: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


def entry_hash(
    entry_id: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    if at.tzinfo is not None:  # the store keeps UTC without a zone: hash what it keeps
        at = at.astimezone(UTC).replace(tzinfo=None)
    body = json.dumps(
        {
            "id": entry_id,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": details,
            "prev": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditCheck:
    entries: int
    intact: bool
    first_bad_id: int | None = None
    problem: str | None = None


def verify(entries: list[AuditEntry]) -> AuditCheck:
    """Walk the chain in id order: every entry must hash to its stored hash, point at the
    previous entry's hash, and follow it without a gap in ids."""
    previous_hash, previous_id = GENESIS_HASH, 0
    for entry in entries:
        problem = None
        if entry.id != previous_id + 1:
            problem = f"entries {previous_id + 1} to {entry.id - 1} are missing"
        elif entry.prev_hash != previous_hash:
            problem = "it does not follow the entry before it (one was deleted or moved)"
        elif entry.hash != entry_hash(
            entry.id,
            entry.at,
            entry.actor,
            entry.action,
            entry.subject,
            entry.details,
            entry.prev_hash,
        ):
            problem = "its content was changed"
        if problem:
            return AuditCheck(len(entries), False, entry.id, problem)
        previous_hash, previous_id = entry.hash, entry.id
    return AuditCheck(len(entries), True)
