"""The tamper-evident audit log: security-relevant events, each entry chained to the one before,
so that an edited, deleted or reordered entry is detected by ``verify``.

An entry's hash covers its id, time, actor, action, subject and details (canonical JSON) and
the previous entry's hash; the first entry's previous hash is 64 zeros. Entries hold ids,
names and counts, never images or embeddings.

The hash is an HMAC-SHA256 under the data folder's audit key, kept outside the data folder
(``facelens.security.keys``): whoever can write to the database but lacks the key cannot
recompute the chain after editing or deleting an entry. Logs begun by an older version hold
plain SHA-256 entries; the store meta records, in a marker MACed with the key, from which entry
on the chain is keyed and the head it continued from, so that the unkeyed part is covered from
then on.

A chain cannot show that its newest entries were cut off: a *checkpoint* (the head, MACed,
saved elsewhere) can; ``verify`` checks the log against one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from facelens.errors import AuditCheckpointError, AuditKeyMissingError

GENESIS_HASH = "0" * 64
AUDIT_KEY_BYTES = 32
#: Store meta row: from which entry on the chain is keyed (``ChainMarker`` as JSON).
AUDIT_CHAIN_META = "audit_chain"
CHECKPOINT_KIND = "facelens-audit-checkpoint/1"


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


def _canonical(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def _entry_body(
    entry_id: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
    prev_hash: str,
) -> bytes:
    if at.tzinfo is not None:  # the store keeps UTC without a zone: hash what it keeps
        at = at.astimezone(UTC).replace(tzinfo=None)
    return _canonical(
        {
            "id": entry_id,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": details,
            "prev": prev_hash,
        }
    )


def entry_hash(
    entry_id: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """The unkeyed (legacy) rule: SHA-256 of the entry's canonical JSON."""
    body = _entry_body(entry_id, at, actor, action, subject, details, prev_hash)
    return hashlib.sha256(body).hexdigest()


class AuditKey:
    """The HMAC key of one data folder's audit chain. Its bytes are never shown or logged."""

    def __init__(self, key: bytes) -> None:
        if len(key) != AUDIT_KEY_BYTES:
            raise AuditKeyMissingError(
                f"an audit key is {AUDIT_KEY_BYTES} bytes, this one is {len(key)}"
            )
        self._key = key

    def __repr__(self) -> str:
        return "AuditKey(<hidden>)"

    def mac(self, purpose: str, body: bytes) -> str:
        # The purpose keeps a MAC of one kind (entry, marker, checkpoint) from passing as another.
        return hmac.new(self._key, purpose.encode() + b"\0" + body, hashlib.sha256).hexdigest()

    def entry_mac(
        self,
        entry_id: int,
        at: datetime,
        actor: str,
        action: str,
        subject: str,
        details: dict[str, Any],
        prev_hash: str,
    ) -> str:
        body = _entry_body(entry_id, at, actor, action, subject, details, prev_hash)
        return self.mac("facelens audit entry", body)


@dataclass(frozen=True, slots=True)
class ChainMarker:
    """Entries from ``keyed_from`` on are keyed; ``legacy_head`` is the hash of the entry
    before (64 zeros for a log keyed from its start)."""

    folder_id: str
    keyed_from: int
    legacy_head: str
    mac: str

    @staticmethod
    def make(key: AuditKey, folder_id: str, keyed_from: int, legacy_head: str) -> ChainMarker:
        unsigned = ChainMarker(folder_id, keyed_from, legacy_head, "")
        return ChainMarker(folder_id, keyed_from, legacy_head, unsigned.expected_mac(key))

    def expected_mac(self, key: AuditKey) -> str:
        fields = {k: v for k, v in asdict(self).items() if k != "mac"}
        return key.mac("facelens audit chain marker", _canonical(fields))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> ChainMarker | None:
        """None when ``text`` is not a marker at all."""
        try:
            value = json.loads(text)
            return ChainMarker(
                str(value["folder_id"]),
                int(value["keyed_from"]),
                str(value["legacy_head"]),
                str(value["mac"]),
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The head of one data folder's log at a time, MACed with its audit key; keep it apart
    from the data (another machine, a ticket, print) and verify the log against it."""

    folder_id: str
    entries: int
    last_id: int
    last_mac: str
    at: datetime
    mac: str
    kind: str = CHECKPOINT_KIND

    @staticmethod
    def make(key: AuditKey, folder_id: str, entries: list[AuditEntry]) -> Checkpoint:
        last_id, last_mac = (entries[-1].id, entries[-1].hash) if entries else (0, GENESIS_HASH)
        at = datetime.now(UTC)
        unsigned = Checkpoint(folder_id, len(entries), last_id, last_mac, at, "")
        return Checkpoint(folder_id, len(entries), last_id, last_mac, at, unsigned.expected(key))

    def _fields(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "folder_id": self.folder_id,
            "entries": self.entries,
            "last_id": self.last_id,
            "last_mac": self.last_mac,
            "at": self.at.isoformat(),
        }

    def expected(self, key: AuditKey) -> str:
        return key.mac("facelens audit checkpoint", _canonical(self._fields()))

    def as_dict(self) -> dict[str, Any]:
        return {**self._fields(), "mac": self.mac}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    @staticmethod
    def from_json(text: str) -> Checkpoint:
        try:
            value = json.loads(text)
            checkpoint = Checkpoint(
                folder_id=str(value["folder_id"]),
                entries=int(value["entries"]),
                last_id=int(value["last_id"]),
                last_mac=str(value["last_mac"]),
                at=datetime.fromisoformat(str(value["at"])),
                mac=str(value["mac"]),
                kind=str(value["kind"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditCheckpointError(
                "this file is not an audit checkpoint (make one with `facelens audit checkpoint`)"
            ) from exc
        if checkpoint.kind != CHECKPOINT_KIND:
            raise AuditCheckpointError(f"not an audit checkpoint of this kind: {checkpoint.kind}")
        return checkpoint

    def check(self, key: AuditKey, folder_id: str) -> None:
        """Refuse a checkpoint that was altered or is of another data folder."""
        if self.folder_id != folder_id:
            raise AuditCheckpointError(
                f"the checkpoint is of data folder {self.folder_id}, this is {folder_id}: use "
                "this folder's checkpoint (or this folder's id was replaced)"
            )
        if not hmac.compare_digest(self.mac, self.expected(key)):
            raise AuditCheckpointError(
                "the checkpoint's MAC does not match: it was altered, or not made with this "
                "folder's audit key; it proves nothing"
            )


@dataclass(frozen=True, slots=True)
class AuditCheck:
    entries: int
    intact: bool
    first_bad_id: int | None = None
    problem: str | None = None
    #: The first entry of the keyed chain (None: verified by the unkeyed rule only).
    keyed_from: int | None = None
    #: The checkpoint's last entry, when the log was checked against one and matched it.
    checkpoint_last_id: int | None = None


def verify(
    entries: list[AuditEntry],
    key: AuditKey | None = None,
    *,
    marker: str | None = None,
    folder_id: str = "",
    checkpoint: Checkpoint | None = None,
) -> AuditCheck:
    """Walk the chain in id order: every entry must hash to its stored hash, point at the
    previous entry's hash, and follow it without a gap in ids.

    With ``key``, ``marker`` (the store's ``AUDIT_CHAIN_META``) must be this folder's and
    intact; entries from its ``keyed_from`` on must carry their HMAC, and the unkeyed ones
    before must end at the head it recorded. A ``checkpoint`` (already ``check``-ed) must
    be a prefix of the log."""
    keyed = None
    if key is not None:
        keyed = ChainMarker.from_json(marker) if marker is not None else None
        if marker is None:
            problem = (
                "the audit chain's marker is missing from the store (it was deleted): the log "
                "cannot be told from a rewritten one"
            )
            return AuditCheck(len(entries), False, None, problem)
        if (
            keyed is None
            or keyed.folder_id != folder_id
            or not hmac.compare_digest(keyed.mac, keyed.expected_mac(key))
        ):
            problem = "the audit chain's marker in the store was altered or moved from elsewhere"
            return AuditCheck(len(entries), False, None, problem)
    keyed_from = keyed.keyed_from if keyed is not None else None

    def bad(entry_id: int | None, problem: str) -> AuditCheck:
        return AuditCheck(len(entries), False, entry_id, problem, keyed_from)

    previous_hash, previous_id = GENESIS_HASH, 0
    for entry in entries:
        at_boundary = keyed is not None and entry.id == keyed.keyed_from == previous_id + 1
        if at_boundary and keyed is not None and previous_hash != keyed.legacy_head:
            return bad(previous_id, _REWRITTEN_HEAD)
        if entry.id != previous_id + 1:
            return bad(entry.id, f"entries {previous_id + 1} to {entry.id - 1} are missing")
        if entry.prev_hash != previous_hash:
            return bad(entry.id, _NOT_FOLLOWING)
        fields = (
            entry.id, entry.at, entry.actor, entry.action, entry.subject, entry.details,
            entry.prev_hash,
        )  # fmt: skip
        if key is not None and keyed_from is not None and entry.id >= keyed_from:
            expected = key.entry_mac(*fields)
        else:
            expected = entry_hash(*fields)
        if not hmac.compare_digest(entry.hash, expected):
            return bad(entry.id, "its content was changed")
        previous_hash, previous_id = entry.hash, entry.id
    if keyed is not None and previous_id < keyed.keyed_from:  # no keyed entry yet
        if previous_id < keyed.keyed_from - 1:
            first = previous_id + 1
            return bad(first, f"entries {first} to {keyed.keyed_from - 1} are missing")
        if previous_hash != keyed.legacy_head:
            return bad(previous_id, _REWRITTEN_HEAD)
    if checkpoint is not None:
        if checkpoint.last_id > previous_id:
            first = previous_id + 1
            return bad(
                first,
                f"entries {first} to {checkpoint.last_id} are missing: the log was cut short "
                f"after the checkpoint of {checkpoint.at.isoformat()}",
            )
        if checkpoint.last_id and entries[checkpoint.last_id - 1].hash != checkpoint.last_mac:
            return bad(checkpoint.last_id, "it is not the entry the checkpoint recorded")
    return AuditCheck(
        len(entries),
        True,
        keyed_from=keyed_from,
        checkpoint_last_id=checkpoint.last_id if checkpoint is not None else None,
    )


_NOT_FOLLOWING = "it does not follow the entry before it (one was deleted or moved)"
_REWRITTEN_HEAD = (
    "it is not the entry recorded when the chain was keyed (the entries up to it were rewritten)"
)
