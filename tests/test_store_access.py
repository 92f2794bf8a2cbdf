"""The store contract, access area: accounts, the search log and the audit log, run against
every registered backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from facelens.errors import ConflictError
from facelens.privacy.audit import AUDIT_CHAIN_META, GENESIS_HASH, AuditKey, verify
from facelens.store import MetadataStore, available_stores
from tests.store_support import open_store, search_record


@pytest.fixture(params=available_stores())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    yield from open_store(request, tmp_path)


def test_given_accounts_then_they_are_listed_with_their_key_hash(store: MetadataStore) -> None:
    admin = store.create_account("alice", "admin", "hash-a")
    analyst = store.create_account("bob", "analyst", "hash-b", jurisdiction="GB")
    assert (admin.name, admin.role, admin.disabled, admin.jurisdiction) == (
        "alice", "admin", False, None,
    )  # fmt: skip
    assert analyst.jurisdiction == "GB"
    assert store.accounts() == [admin, analyst]
    assert store.account_with_key_hash(analyst.id) == (analyst, "hash-b")
    assert store.account_with_key_hash(999) is None
    with pytest.raises(ConflictError, match="an account named 'alice' exists already"):
        store.create_account("alice", "analyst", "hash-c")
    assert len(store.accounts()) == 2


def test_given_searches_then_the_log_is_newest_first_and_counted_by_purpose(
    store: MetadataStore,
) -> None:
    alice = store.create_account("alice", "analyst", "h1")
    bob = store.create_account("bob", "analyst", "h2")
    now = datetime.now(UTC)
    old = store.log_search(search_record(alice.id, "audit", at=now - timedelta(days=10)))
    first = store.log_search(search_record(alice.id, "investigation", at=now))
    second = store.log_search(search_record(bob.id, "investigation", at=now))
    assert old < first < second
    entries = store.search_log()
    assert [e.id for e in entries] == [second, first, old]
    assert entries[0].account_name == "bob" and entries[1].account_name == "alice"
    latest = entries[0]
    assert (latest.case_ref, latest.collections, latest.probe_sha256) == (
        "CASE-1", ["c"], ["p" * 64],
    )  # fmt: skip
    assert (latest.results, latest.matches, latest.result_face_ids) == (2, 1, [3, 4])
    assert [e.id for e in store.search_log(account_id=alice.id)] == [first, old]
    assert [e.id for e in store.search_log(limit=1)] == [second]
    assert store.searches_by_purpose(now - timedelta(days=1)) == {"investigation": 2}
    assert store.searches_by_purpose(now - timedelta(days=30)) == {
        "investigation": 2,
        "audit": 1,
    }


def test_given_audit_entries_then_they_chain_and_page(store: MetadataStore) -> None:
    assert store.audit_entries() == []
    first = store.append_audit("alice", "ingest", "collection c", {"images": 3})
    second = store.append_audit("bob", "delete", "face 7", {"face_ids": [7]})
    assert (first.id, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.id, second.prev_hash) == (2, first.hash)
    entries = store.audit_entries()
    assert [(e.id, e.actor, e.action, e.subject, e.details) for e in entries] == [
        (1, "alice", "ingest", "collection c", {"images": 3}),
        (2, "bob", "delete", "face 7", {"face_ids": [7]}),
    ]
    assert [e.hash for e in entries] == [first.hash, second.hash]
    assert verify(entries).intact
    assert [e.id for e in store.audit_entries(after_id=1)] == [2]
    assert [e.id for e in store.audit_entries(limit=1)] == [1]


def test_given_a_keyed_audit_chain_then_entries_are_maced_and_plain_appends_refused(
    store: MetadataStore,
) -> None:
    store.append_audit("alice", "ingest", "collection c", {})
    key = AuditKey(bytes(range(32)))
    assert store.audit_key is None
    store.key_audit_chain("folder-1", key)
    assert store.audit_key is key
    marker = store.get_meta(AUDIT_CHAIN_META)
    assert marker is not None
    store.key_audit_chain("folder-1", key)  # recorded once: a second call changes nothing
    assert store.get_meta(AUDIT_CHAIN_META) == marker
    store.append_audit("bob", "search", "case 1", {"results": 2})
    entries = store.audit_entries()
    check = verify(entries, key, marker=marker, folder_id="folder-1")
    assert check.intact and check.keyed_from == 2
    assert not verify(entries).intact, "the keyed entry is a MAC, not a plain hash"
    store.audit_key = None
    with pytest.raises(ConflictError, match="this audit log is keyed"):
        store.append_audit("mallory", "delete", "face 1", {})
    assert len(store.audit_entries()) == 2
