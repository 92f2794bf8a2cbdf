"""The template key (sealing at rest, rotation) and the audit key (the chain, checkpoints)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facelens.engine.index_sync import IndexSync
from facelens.engine.state import log
from facelens.errors import (
    InvalidArgumentError,
    QuarantinedTemplatesError,
)
from facelens.privacy.audit import AUDIT_CHAIN_META, AuditCheck, Checkpoint
from facelens.privacy.audit import verify as verify_chain
from facelens.security.crypto import TemplateCipher, generate_key, write_key_file
from facelens.security.keys import (
    KEY_ID_META,
    KeySource,
    load_key,
    next_key_file,
    own_key_file,
    reconcile,
)


@dataclass(frozen=True, slots=True)
class KeyRotation:
    key_id: str  # the new key's fingerprint
    key_file: Path  # the folder's own key file, which now holds it
    shared_key_left: Path | None  # the shared key file the folder used before, left in place


class Keys(IndexSync):
    """The template and audit keys."""

    def _open_templates(self) -> TemplateCipher:
        """The cipher of this data folder's templates (see ``facelens.security.keys``)."""
        recorded = self.store.get_meta(KEY_ID_META)
        source, key = load_key(self.settings, self.folder_id, recorded)
        own = own_key_file(self.settings, self.folder_id)
        cipher, self.key_source = reconcile(source, key, recorded, own)
        self.store.cipher = cipher
        if recorded is None:
            # A new data folder, or one from before templates were sealed: seal what it holds
            # (and record the key's fingerprint) in one transaction.
            sealed = self.store.reseal_templates(None, cipher)
            if sealed:
                log.warning("sealed %d templates stored in the clear by an older version", sealed)
        # Names, landmarks and paths an older version (before 0007) kept in the clear.
        identifying = self.store.seal_identifying_data()
        if identifying:
            log.warning("sealed %d identifying values stored in the clear", identifying)
        return cipher

    def rotate_key(self) -> KeyRotation:
        """Seal every template (store and index) with a new key, written to this folder's own
        key file. The old key is destroyed when it was the folder's own; a shared key file
        (other folders may use it) is left in place, so the old key is only gone once no
        folder uses it."""
        if self.settings.template_key is not None:
            raise InvalidArgumentError(
                "the key comes from FACELENS_TEMPLATE_KEY; rotation writes a new key file, so "
                "configure template_key_file instead"
            )
        with self.folder_lock.exclusive("rotating the key"):
            return self._rotate_key()

    def _rotate_key(self) -> KeyRotation:
        # A template that does not open cannot be re-sealed: refuse before anything changes.
        quarantined = self.store.scan_templates(self.model)
        if quarantined:
            raise QuarantinedTemplatesError(
                f"the stored templates of faces {quarantined} do not open (damaged); they "
                "cannot be re-sealed with a new key. Delete them first (facelens doctor "
                "--repair --delete-quarantined, or facelens delete --face ID), then rotate"
            )
        old = self.key_source
        path = own_key_file(self.settings, self.folder_id)
        new_key = generate_key()
        new = TemplateCipher(new_key)
        pending = next_key_file(path)
        write_key_file(pending, new_key)
        self.index.wait_for_build()
        self.store.reseal_templates(self.cipher, new)
        self.index.rekey(new)
        pending.replace(path)
        self.cipher = new
        self.key_source = KeySource(new, path)
        self._suppressed = None
        left = old.path if old.shared and old.path is not None else None
        if left is not None:
            log.warning(
                "the shared key file %s is left in place for the data folders still using it; "
                "the old key is only erased once none does",
                left,
            )
        return KeyRotation(new.key_id, path, left)

    def verify_audit(self, checkpoint: Checkpoint | None = None) -> AuditCheck:
        """Check the keyed chain (and the log against ``checkpoint``, which is refused with
        ``AuditCheckpointError`` when altered or of another folder)."""
        if checkpoint is not None:
            checkpoint.check(self.audit_key, self.folder_id)
        return verify_chain(
            self.store.audit_entries(),
            self.audit_key,
            marker=self.store.get_meta(AUDIT_CHAIN_META),
            folder_id=self.folder_id,
            checkpoint=checkpoint,
        )

    def audit_checkpoint(self) -> Checkpoint:
        """The log's head now, MACed: save it apart from the data to verify against later."""
        return Checkpoint.make(self.audit_key, self.folder_id, self.store.audit_entries())
