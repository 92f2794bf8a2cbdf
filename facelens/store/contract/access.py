"""The access part of the store contract: accounts, the search log and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from facelens.privacy.audit import AuditEntry, AuditKey
from facelens.types import Account, SearchRecord


class AccessStore(Protocol):
    """Who may use the engine, what they searched for, and the tamper-evident audit log."""

    audit_key: AuditKey | None  # MACs audit entries; None: plain SHA-256 (a log not yet keyed)

    # --- accounts -----------------------------------------------------------------------------

    def create_account(
        self, name: str, role: str, key_hash: str, jurisdiction: str | None = None
    ) -> Account:
        """A new (enabled) account; ``ConflictError`` when the name is taken."""
        ...

    def account_with_key_hash(self, account_id: int) -> tuple[Account, str] | None:
        """The account and the hash of its API key, or ``None`` for an unknown id."""
        ...

    def accounts(self) -> list[Account]:
        """Every account, oldest first."""
        ...

    # --- the search log -----------------------------------------------------------------------

    def log_search(self, record: SearchRecord) -> int:
        """Append a search to the log (``record.id`` is ignored); returns its id."""
        ...

    def search_log(self, account_id: int | None = None, limit: int = 100) -> list[SearchRecord]:
        """Newest first, at most ``limit``; one account's searches, or everyone's."""
        ...

    def searches_by_purpose(self, since: datetime) -> dict[str, int]:
        """How many searches were made at or after ``since``, by declared purpose."""
        ...

    # --- the audit log ------------------------------------------------------------------------

    def append_audit(
        self, actor: str, action: str, subject: str, details: dict[str, Any]
    ) -> AuditEntry:
        """Append an entry chained to the last one (appends are serialised);
        ``ConflictError`` for a keyed log when this store holds no ``audit_key``."""
        ...

    def audit_entries(self, after_id: int = 0, limit: int | None = None) -> list[AuditEntry]:
        """Entries with ids above ``after_id``, oldest first, at most ``limit`` (``None``: all)."""
        ...

    def key_audit_chain(self, folder_id: str, key: AuditKey) -> None:
        """Record (once) that entries from the next one on are MACed with ``key``, and the
        head they continue from; sets ``audit_key``."""
        ...
