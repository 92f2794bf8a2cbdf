"""Health, web sessions, accounts, settings and the audit log."""

from __future__ import annotations

from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Field, SecretStr, create_model

from facelens.api.schemas.common import IsoTime, Out
from facelens.config import Settings
from facelens.security.accounts import Action, Role

# --- health -----------------------------------------------------------------------------------


class HealthOut(Out):
    status: Literal["ok"] = Field(description="Always ok: the process answers.")


class ReadyOut(Out):
    status: Literal["ready"]
    faces_indexed: int = Field(description="Faces in the index now.")


# --- accounts and sessions --------------------------------------------------------------------


class AccountOut(Out):
    """A user of the service (never its key)."""

    id: int
    name: str
    role: Role
    created_at: IsoTime = Field(description="When the account was made (UTC).")
    disabled: bool
    jurisdiction: str | None = Field(description="Where it operates (ISO 3166), or null.")


class NewAccountOut(Out):
    account: AccountOut
    key: str = Field(description="The account's API key: shown in this response only.")


class SignedInOut(Out):
    account: AccountOut
    csrf_token: str = Field(
        description="Send as X-CSRF-Token with every request that changes anything."
    )


class SessionOut(Out):
    account: AccountOut
    may: list[Action] = Field(description="What the account's role may do, sorted.")


class SignedOutOut(Out):
    status: Literal["signed out"]


# --- settings ---------------------------------------------------------------------------------


def _as_json(annotation: Any) -> Any:
    """The JSON type of a settings field: paths as text, secrets as their mask."""
    if annotation in (Path, SecretStr):
        return str
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, UnionType):
        converted = tuple(_as_json(a) for a in args)
        union = converted[0]
        for arg in converted[1:]:
            union = union | arg
        return union
    if origin is list:
        return list[_as_json(args[0])]  # type: ignore[misc]
    return annotation


def _settings_model() -> type[BaseModel]:
    fields: dict[str, Any] = {
        name: (_as_json(info.annotation), Field(description=info.description))
        for name, info in Settings.model_fields.items()
    }
    fields["template_key"] = (
        str | None,
        Field(description="********** when a template key is set (never the key), else null."),
    )
    model: type[BaseModel] = create_model(
        "SettingsOut",
        __base__=Out,
        __doc__="The settings the server runs with (Settings.model_dump(mode='json')).",
        **fields,
    )
    return model


#: One field per ``facelens.config.Settings`` field, in its JSON form (so never out of step).
SettingsOut = _settings_model()


# --- the audit log ----------------------------------------------------------------------------


class AuditEntryOut(Out):
    """One entry of the chained audit log."""

    id: int
    at: IsoTime = Field(description="When (UTC).")
    actor: str = Field(description='"account:<id> <name>", "cli", "system" or "anonymous".')
    action: str = Field(description='For example "search", "ingest", "POST /searches".')
    subject: str
    details: dict[str, Any] = Field(description="Ids, names and counts (never images).")
    prev_hash: str = Field(description="The previous entry's hash (64 zeros for the first).")
    hash: str = Field(description="HMAC-SHA256 (keyed chain) or SHA-256 of the entry, hex.")


class AuditCheckOut(Out):
    entries: int = Field(description="Entries checked.")
    intact: bool = Field(description="No entry edited, deleted or out of order.")
    first_bad_id: int | None = Field(description="The first entry that fails, or null.")
    problem: str | None = Field(description="What is wrong, or null.")
    keyed_from: int | None = Field(
        description="First entry of the keyed chain (null: verified by the unkeyed rule only)."
    )
    checkpoint_last_id: int | None = Field(
        description="The checkpoint's last entry, when checked against one that matched."
    )


class CheckpointOut(Out):
    """The log's head now, MACed with the audit key: keep it apart from the service."""

    kind: str = Field(description="facelens-audit-checkpoint/1.")
    folder_id: str = Field(description="The data folder's id.")
    entries: int = Field(description="Entries in the log.")
    last_id: int = Field(description="Id of the last entry (0: an empty log).")
    last_mac: str = Field(description="Hash of the last entry, hex.")
    at: IsoTime = Field(description="When the checkpoint was made (UTC).")
    mac: str = Field(description="HMAC-SHA256 of the fields above, hex.")
