"""Which keys a data folder uses: its template key (loading it, making it on first use,
checking it is the one the data was sealed with, rotating it) and its audit key.

Every data folder has a stable id (``folder_id`` in the store's meta, made on first open), and
its own keys in ``<key_dir>/<folder_id>/``: ``template.key`` and ``audit.key``. A new folder
gets its own template key there, unless a key is configured explicitly (``template_key`` or
``template_key_file``: then that one, as before). Folders made before keys were per folder use
the one shared file (``template_key_file``, or ``~/.config/facelens/template.key``) until their
first rotation, which moves them to a key of their own and leaves the shared file alone, for
the other folders that still need it.

The store records the template key's fingerprint (``template_key_id``). Rotation writes the new
key to ``<own key file>.next``, re-seals every stored template and records the new fingerprint
in one transaction, re-seals the index, then moves the new key into place; a crash in between
is finished on the next open (the fingerprint says which key the data needs).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from facelens.config import Settings
from facelens.errors import AuditKeyMissingError, TemplateKeyMismatchError, TemplateKeyMissingError
from facelens.privacy.audit import AUDIT_CHAIN_META, AuditKey, ChainMarker
from facelens.security.crypto import (
    TemplateCipher,
    check_key_location,
    decode_key,
    generate_key,
    read_key_file,
    write_key_file,
)

if TYPE_CHECKING:
    from facelens.store.base import MetadataStore

log = logging.getLogger(__name__)

KEY_ID_META = "template_key_id"
FOLDER_ID_META = "folder_id"


def legacy_key_file() -> Path:
    """The one key file every data folder shared before keys were per folder."""
    return Path.home() / ".config" / "facelens" / "template.key"


def key_file_path(settings: Settings) -> Path:
    """The shared template key file: the configured one, else the legacy default."""
    if settings.template_key_file is not None:
        return settings.template_key_file
    return legacy_key_file()


def key_dir(settings: Settings) -> Path:
    if settings.key_dir is not None:
        return settings.key_dir
    return Path.home() / ".config" / "facelens" / "keys"


def folder_key_file(settings: Settings, folder_id: str, name: str) -> Path:
    path = key_dir(settings) / folder_id / name
    check_key_location(path, settings.data_dir)
    return path


def own_key_file(settings: Settings, folder_id: str) -> Path:
    return folder_key_file(settings, folder_id, "template.key")


def audit_key_file(settings: Settings, folder_id: str) -> Path:
    return folder_key_file(settings, folder_id, "audit.key")


#: In each folder's key folder: the data folder's path, so that a data folder whose store is
#: lost is still recognised as one that held data (its keys exist).
DATA_FOLDER_NOTE = "data-folder"


def note_data_folder(settings: Settings, folder: str) -> None:
    """Record which data folder the keys under ``folder`` belong to (where it is now)."""
    note = key_dir(settings) / folder / DATA_FOLDER_NOTE
    where = str(settings.data_dir.resolve())
    try:
        if not note.is_file() or note.read_text() != where:
            note.parent.mkdir(parents=True, exist_ok=True)
            note.write_text(where)
    except OSError as exc:  # a hint only: never a reason to refuse the open
        log.debug("could not note the data folder of %s: %s", folder, exc)


def keys_of_data_folder(settings: Settings) -> list[Path]:
    """Key folders whose note names ``settings.data_dir``."""
    where = str(settings.data_dir.resolve())
    found = []
    for note in sorted(key_dir(settings).glob(f"*/{DATA_FOLDER_NOTE}")):
        try:
            if note.read_text() == where and any(note.parent.glob("*.key")):
                found.append(note.parent)
        except OSError:
            continue
    return found


def next_key_file(path: Path) -> Path:
    return path.with_name(path.name + ".next")


def folder_id(store: MetadataStore) -> str:
    """The data folder's id, made on its first open (also for folders of older versions)."""
    recorded = store.get_meta(FOLDER_ID_META)
    if recorded is not None:
        return recorded
    made = str(uuid.uuid4())
    store.set_meta(FOLDER_ID_META, made)
    log.info("this data folder's id is %s (its keys live under it in the key folder)", made)
    return made


@dataclass(slots=True)
class KeySource:
    """The key found for the folder, or a new one not yet written (``created``)."""

    cipher: TemplateCipher
    path: Path | None  # None: the key came from the environment
    created: bool = False
    #: Used by other folders too: rotation never rewrites it.
    shared: bool = False

    def save_if_created(self, key: bytes) -> None:
        if self.created and self.path is not None:
            write_key_file(self.path, key)
            log.warning(
                "made a new template key at %s; back it up apart from the data: without it "
                "the stored templates cannot be read",
                self.path,
            )
            self.created = False


def load_key(settings: Settings, folder: str, recorded_id: str | None) -> tuple[KeySource, bytes]:
    """The folder's own key if it has one; else the configured one (``template_key``,
    ``template_key_file``); else the legacy shared file if it holds the recorded key; else a
    new key of the folder's own."""
    own = own_key_file(settings, folder)
    if own.is_file():
        key = read_key_file(own)
        return KeySource(TemplateCipher(key), own), key
    if settings.template_key is not None:
        key = decode_key(settings.template_key.get_secret_value(), "FACELENS_TEMPLATE_KEY")
        return KeySource(TemplateCipher(key), None, shared=True), key
    shared = key_file_path(settings)
    check_key_location(shared, settings.data_dir)
    if settings.template_key_file is not None:  # explicit: used (or made there), as before
        if shared.is_file():
            key = read_key_file(shared)
            return KeySource(TemplateCipher(key), shared, shared=True), key
        key = generate_key()
        return KeySource(TemplateCipher(key), shared, created=True, shared=True), key
    if recorded_id is not None and shared.is_file():
        key = read_key_file(shared)
        if TemplateCipher(key).key_id == recorded_id:  # a folder from before per-folder keys
            return KeySource(TemplateCipher(key), shared, shared=True), key
    key = generate_key()
    return KeySource(TemplateCipher(key), own, created=True), key


def reconcile(
    source: KeySource, key: bytes, recorded_id: str | None, own: Path
) -> tuple[TemplateCipher, KeySource]:
    """The cipher that opens the data whose key fingerprint is ``recorded_id``, and where its
    key now lives."""
    if recorded_id is None or recorded_id == source.cipher.key_id:
        source.save_if_created(key)
        return source.cipher, source
    # A rotation that stopped before its last step: the new key waits in a .next file (the
    # folder's own; or the shared one's, from a version that rotated the shared file). It
    # goes to the folder's own key file: the shared one may still be other folders' key.
    candidates = [next_key_file(own)]
    if source.path is not None and source.path != own:
        candidates.append(next_key_file(source.path))
    for pending in candidates:
        if pending.is_file():
            next_key = read_key_file(pending)
            cipher = TemplateCipher(next_key)
            if cipher.key_id == recorded_id:
                pending.replace(own)
                log.warning("finished an interrupted key rotation: %s is the new key", own)
                return cipher, KeySource(cipher, own)
    where = "FACELENS_TEMPLATE_KEY" if source.path is None else str(source.path)
    if source.created:
        also = "" if source.path == own else f" or {own}"
        raise TemplateKeyMissingError(
            f"this data folder's templates are sealed with key {recorded_id}, and there is no "
            f"key file at {where}{also}; restore this folder's key file, or set "
            "FACELENS_TEMPLATE_KEY_FILE to the key it was made with"
        )
    raise TemplateKeyMismatchError(
        f"this data folder's templates are sealed with key {recorded_id}, but {where} holds "
        f"key {source.cipher.key_id}; configure the key the data was made with"
    )


def load_audit_key(settings: Settings, folder: str, store: MetadataStore) -> AuditKey:
    """The folder's audit key, made on first open together with the store's chain marker.

    The key goes to ``audit.key.new`` first and is moved into place only once the marker is
    committed, so a crash in between is finished on the next open. An existing key is never
    replaced, nor a missing marker re-made: either would let a rewritten log pass."""
    path = audit_key_file(settings, folder)
    if path.is_file():
        return AuditKey(read_key_file(path))
    pending = path.with_name(path.name + ".new")
    if pending.is_file():
        key = AuditKey(read_key_file(pending))
    else:
        text = store.get_meta(AUDIT_CHAIN_META)
        marker = ChainMarker.from_json(text) if text is not None else None
        if marker is not None and marker.folder_id == folder:
            raise AuditKeyMissingError(
                f"this data folder's audit log is keyed, and its audit key {path} is missing; "
                "restore it from your backup of the key folder (FACELENS_KEY_DIR)"
            )
        raw = generate_key()
        write_key_file(pending, raw)
        key = AuditKey(raw)
    store.key_audit_chain(folder, key)
    pending.replace(path)
    log.warning(
        "made the audit key of this data folder at %s; back it up apart from the data: it "
        "proves the audit log unaltered",
        path,
    )
    return key
