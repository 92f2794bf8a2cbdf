"""Accounts, the search log and the hash-chained audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from facelens.errors import ConflictError
from facelens.privacy.audit import (
    AUDIT_CHAIN_META,
    GENESIS_HASH,
    AuditEntry,
    AuditKey,
    ChainMarker,
    entry_hash,
)
from facelens.store.schema import AccountRow, AuditRow, MetaRow, SearchLogRow
from facelens.store.sql.core import SqlCore
from facelens.store.sql.rows import _account
from facelens.types import Account, SearchRecord


class Access(SqlCore):
    """Accounts, searches made, and the audit log."""

    def create_account(
        self, name: str, role: str, key_hash: str, jurisdiction: str | None = None
    ) -> Account:
        try:
            with self._session.begin() as session:
                row = AccountRow(name=name, role=role, key_hash=key_hash, jurisdiction=jurisdiction)
                session.add(row)
                session.flush()
                return _account(row)
        except IntegrityError as exc:
            raise ConflictError(f"an account named {name!r} exists already") from exc

    def account_with_key_hash(self, account_id: int) -> tuple[Account, str] | None:
        with self._session() as session:
            row = session.get(AccountRow, account_id)
            return (_account(row), row.key_hash) if row is not None else None

    def accounts(self) -> list[Account]:
        with self._session() as session:
            return [
                _account(r) for r in session.scalars(select(AccountRow).order_by(AccountRow.id))
            ]

    def log_search(self, record: SearchRecord) -> int:
        with self._session.begin() as session:
            row = SearchLogRow(
                account_id=record.account_id,
                searched_at=record.searched_at,
                purpose=record.purpose,
                case_ref=record.case_ref,
                collections=list(record.collections),
                probe_faces=record.probe_faces,
                results=record.results,
                matches=record.matches,
                threshold=record.threshold,
                probe_sha256=list(record.probe_sha256),
                result_face_ids=list(record.result_face_ids),
            )
            session.add(row)
            session.flush()
            return row.id

    def search_log(self, account_id: int | None = None, limit: int = 100) -> list[SearchRecord]:
        query = (
            select(SearchLogRow, AccountRow.name)
            .join(AccountRow, AccountRow.id == SearchLogRow.account_id)
            .order_by(SearchLogRow.id.desc())
            .limit(limit)
        )
        if account_id is not None:
            query = query.where(SearchLogRow.account_id == account_id)
        with self._session() as session:
            return [
                SearchRecord(
                    id=row.id,
                    account_id=row.account_id,
                    account_name=name,
                    purpose=row.purpose,
                    case_ref=row.case_ref,
                    collections=list(row.collections),
                    probe_faces=row.probe_faces,
                    results=row.results,
                    matches=row.matches,
                    threshold=row.threshold,
                    searched_at=row.searched_at,
                    probe_sha256=list(row.probe_sha256),
                    result_face_ids=list(row.result_face_ids),
                )
                for row, name in session.execute(query).all()
            ]

    def searches_by_purpose(self, since: datetime) -> dict[str, int]:
        with self._session() as session:
            rows = session.execute(
                select(SearchLogRow.purpose, func.count())
                .where(SearchLogRow.searched_at >= since.astimezone(UTC).replace(tzinfo=None))
                .group_by(SearchLogRow.purpose)
            )
            return {purpose: count for purpose, count in rows}

    def append_audit(
        self, actor: str, action: str, subject: str, details: dict[str, Any]
    ) -> AuditEntry:
        with self._audit_lock, self._session.begin() as session:
            self._serialise(session, "audit")  # other processes append to the chain too
            last = session.execute(
                select(AuditRow.id, AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)
            ).first()
            entry_id, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
            at = datetime.now(UTC)  # stored as naive UTC, and hashed so (audit._entry_body)
            if self.audit_key is not None:
                digest = self.audit_key.entry_mac(
                    entry_id, at, actor, action, subject, details, prev_hash
                )
            elif session.get(MetaRow, AUDIT_CHAIN_META) is not None:
                # A plain entry would break a keyed chain for good: refuse instead.
                raise ConflictError(
                    "this audit log is keyed: append to it through an engine, which holds the "
                    "data folder's audit key"
                )
            else:
                digest = entry_hash(entry_id, at, actor, action, subject, details, prev_hash)
            session.add(
                AuditRow(
                    id=entry_id, at=at, actor=actor, action=action, subject=subject,
                    details=details, prev_hash=prev_hash, hash=digest,
                )
            )  # fmt: skip
        return AuditEntry(entry_id, at, actor, action, subject, details, prev_hash, digest)

    def audit_entries(self, after_id: int = 0, limit: int | None = None) -> list[AuditEntry]:
        query = select(AuditRow).where(AuditRow.id > after_id).order_by(AuditRow.id).limit(limit)
        with self._session() as session:
            return [
                AuditEntry(
                    r.id, r.at, r.actor, r.action, r.subject, dict(r.details), r.prev_hash, r.hash
                )
                for r in session.scalars(query)
            ]

    def key_audit_chain(self, folder_id: str, key: AuditKey) -> None:
        with self._audit_lock, self._session.begin() as session:
            self._serialise(session, "audit")
            if session.get(MetaRow, AUDIT_CHAIN_META) is None:
                last = session.execute(
                    select(AuditRow.id, AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)
                ).first()
                last_id, head = (last[0], last[1]) if last else (0, GENESIS_HASH)
                marker = ChainMarker.make(key, folder_id, last_id + 1, head)
                session.add(MetaRow(key=AUDIT_CHAIN_META, value=marker.to_json()))
        self.audit_key = key
