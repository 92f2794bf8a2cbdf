"""Which template key a data folder uses: loading it, making it on first use, checking it is
the one the data was sealed with, and rotating it.

The store records the key's fingerprint (``template_key_id``). Rotation writes the new key to
``<key file>.next``, re-seals every stored template and records the new fingerprint in one
transaction, re-seals the index, then moves the new key over the old one; a crash in between
is finished on the next open (the fingerprint says which key the data needs).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from facelens.config import Settings
from facelens.crypto import (
    TemplateCipher,
    TemplateKeyMismatchError,
    TemplateKeyMissingError,
    check_key_location,
    decode_key,
    generate_key,
    read_key_file,
    write_key_file,
)

log = logging.getLogger(__name__)

KEY_ID_META = "template_key_id"


def key_file_path(settings: Settings) -> Path:
    if settings.template_key_file is not None:
        return settings.template_key_file
    return Path.home() / ".config" / "facelens" / "template.key"


def next_key_file(path: Path) -> Path:
    return path.with_name(path.name + ".next")


@dataclass(slots=True)
class KeySource:
    """The configured key, or a new one not yet written (``created``)."""

    cipher: TemplateCipher
    path: Path | None  # None: the key came from the environment
    created: bool = False

    def save_if_created(self, key: bytes) -> None:
        if self.created and self.path is not None:
            write_key_file(self.path, key)
            log.warning(
                "made a new template key at %s; back it up apart from the data: without it "
                "the stored templates cannot be read",
                self.path,
            )
            self.created = False


def load_key(settings: Settings) -> tuple[KeySource, bytes]:
    if settings.template_key is not None:
        key = decode_key(settings.template_key.get_secret_value(), "FACELENS_TEMPLATE_KEY")
        return KeySource(TemplateCipher(key), None), key
    path = key_file_path(settings)
    check_key_location(path, settings.data_dir)
    if path.is_file():
        key = read_key_file(path)
        return KeySource(TemplateCipher(key), path), key
    key = generate_key()
    return KeySource(TemplateCipher(key), path, created=True), key


def reconcile(source: KeySource, key: bytes, recorded_id: str | None) -> TemplateCipher:
    """The cipher that opens the data whose key fingerprint is ``recorded_id``."""
    if recorded_id is None or recorded_id == source.cipher.key_id:
        source.save_if_created(key)
        return source.cipher
    if source.path is not None:
        pending = next_key_file(source.path)
        if pending.is_file():
            next_key = read_key_file(pending)
            cipher = TemplateCipher(next_key)
            if cipher.key_id == recorded_id:  # a rotation that stopped before its last step
                pending.replace(source.path)
                log.warning("finished an interrupted key rotation: %s is the new key", source.path)
                return cipher
    where = "FACELENS_TEMPLATE_KEY" if source.path is None else str(source.path)
    if source.created:
        raise TemplateKeyMissingError(
            f"this data folder's templates are sealed with key {recorded_id}, and there is no "
            f"key file at {where}; set FACELENS_TEMPLATE_KEY_FILE to the key it was made with"
        )
    raise TemplateKeyMismatchError(
        f"this data folder's templates are sealed with key {recorded_id}, but {where} holds "
        f"key {source.cipher.key_id}; configure the key the data was made with"
    )
