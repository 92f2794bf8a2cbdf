"""Accounts, roles and API keys.

A key reads ``fl_<account id>_<secret>``. Only the sha256 of the secret is stored; a presented
key is checked by looking the account up by id and comparing hashes in constant time. Keys are
shown once, when made.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum

from facelens.errors import AuthenticationError, PermissionDeniedError
from facelens.privacy.policy import check_jurisdiction_code
from facelens.store import MetadataStore
from facelens.types import Account

KEY_PREFIX = "fl"


class Role(StrEnum):
    ADMIN = "admin"  # accounts, collections, settings
    ENROLLER = "enroller"  # ingest, persons, delete
    ANALYST = "analyst"  # search, verify, view results
    AUDITOR = "auditor"  # reads the search log; cannot search


class Action(StrEnum):
    MANAGE_ACCOUNTS = "manage_accounts"
    MANAGE_COLLECTIONS = "manage_collections"
    VIEW_COLLECTIONS = "view_collections"  # names, counts and legal basis
    #: List persons, a collection's images, faces; open an image or face record. Audited.
    #: Not analysts': they reach faces through searches, which need a purpose and a case
    #: and are logged with what they showed; browsing would be an unlogged search by eye.
    BROWSE = "browse"
    INGEST = "ingest"
    DELETE = "delete"
    SEARCH = "search"
    READ_OWN_SEARCHES = "read_own_searches"
    READ_ALL_SEARCHES = "read_all_searches"
    READ_AUDIT = "read_audit"
    MANAGE_CONSENT = "manage_consent"
    HANDLE_SUBJECT_REQUESTS = "handle_subject_requests"
    RUN_RETENTION = "run_retention"
    READ_REPORTS = "read_reports"


PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(
        {
            Action.MANAGE_ACCOUNTS,
            Action.MANAGE_COLLECTIONS,
            Action.VIEW_COLLECTIONS,
            Action.BROWSE,
            Action.READ_OWN_SEARCHES,
            Action.READ_ALL_SEARCHES,
            Action.READ_AUDIT,
            Action.MANAGE_CONSENT,
            Action.HANDLE_SUBJECT_REQUESTS,
            Action.RUN_RETENTION,
            Action.READ_REPORTS,
        }
    ),
    Role.ENROLLER: frozenset(
        {
            Action.VIEW_COLLECTIONS,
            Action.BROWSE,
            Action.INGEST,
            Action.DELETE,
            Action.MANAGE_CONSENT,
        }
    ),
    Role.ANALYST: frozenset({Action.VIEW_COLLECTIONS, Action.SEARCH, Action.READ_OWN_SEARCHES}),
    Role.AUDITOR: frozenset({Action.READ_ALL_SEARCHES, Action.READ_AUDIT, Action.READ_REPORTS}),
}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_account(
    store: MetadataStore, name: str, role: Role, jurisdiction: str | None = None
) -> tuple[Account, str]:
    """A new account and its key (returned once, never stored)."""
    secret = secrets.token_urlsafe(32)
    account = store.create_account(
        name.strip(), role.value, _hash(secret), check_jurisdiction_code(jurisdiction)
    )
    return account, f"{KEY_PREFIX}_{account.id}_{secret}"


def authenticate(store: MetadataStore, key: str | None) -> Account:
    if not key:
        raise AuthenticationError("an API key is required (header X-API-Key)")
    prefix, _, rest = key.partition("_")
    account_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not account_id.isdigit() or not secret:
        raise AuthenticationError("the API key is malformed")
    found = store.account_with_key_hash(int(account_id))
    # Compare even when the account is unknown, so timing says nothing about which ids exist.
    stored_hash = found[1] if found is not None else _hash("")
    if not hmac.compare_digest(stored_hash, _hash(secret)) or found is None:
        raise AuthenticationError("the API key is not valid")
    if found[0].disabled:
        raise AuthenticationError("this account is disabled")
    return found[0]


def may(account: Account, action: Action) -> bool:
    return action in PERMISSIONS[Role(account.role)]


def authorise(account: Account, action: Action) -> None:
    if not may(account, action):
        raise PermissionDeniedError(
            f"the {account.role} role may not {action.value.replace('_', ' ')}"
        )
