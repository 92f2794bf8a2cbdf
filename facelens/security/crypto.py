"""Face templates encrypted at rest: AES-256-GCM (``cryptography``), one key per deployment.

An embedding is biometric data: anyone holding it can search for the person. So every template
written to disk (store rows, the persisted index, the suppression list) is sealed with the
template key, which lives in a key file or an environment variable, never in the data folder.
A data folder copied without its key holds no usable template.

A sealed blob reads ``nonce (12 bytes) | ciphertext | tag (16 bytes)``; each seal draws a fresh
random nonce. The associated data names what the blob is (a template, an index file), so a blob
cannot be passed off as another kind.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import unicodedata
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from facelens.errors import DecryptionError, TemplateKeyLocationError, TemplateKeyMissingError
from facelens.types import FloatArray

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
#: Bytes a sealed blob adds to its plaintext.
OVERHEAD_BYTES = NONCE_BYTES + TAG_BYTES
NOT_OPENED = (
    "a sealed template does not open with the configured key (another key, or the bytes were "
    "altered)"
)
TEMPLATE_AAD = b"facelens/template/v1"
#: HKDF ``info`` of the key of blind indexes (lookups of sealed names and paths by equality).
BLIND_INDEX_INFO = b"facelens/blind-index/v1"


def row_aad(kind: str, row_id: int) -> bytes:
    """Associated data binding a sealed field to its row: a blob moved to another row, or
    passed off as another field, does not open."""
    return f"facelens/{kind}/v1:".encode() + row_id.to_bytes(8, "little")


def normalise_name(name: str) -> str:
    """A person's name as compared for uniqueness: NFC, trimmed, case-folded."""
    return unicodedata.normalize("NFC", name).strip().casefold()


class TemplateCipher:
    """Seals and opens templates with one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise TemplateKeyMissingError(
                f"a template key is {KEY_BYTES} bytes, this one is {len(key)}"
            )
        self._aead = AESGCM(key)
        #: A public fingerprint of the key (recorded in the store to tell keys apart); it
        #: reveals nothing of the key.
        self.key_id = hashlib.sha256(b"facelens key id\0" + key).hexdigest()[:16]
        # A separate key for blind indexes (derived, so nothing more to keep): an index
        # reveals only equality, and changes with the template key on rotation.
        self._index_key = HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=BLIND_INDEX_INFO
        ).derive(key)

    def seal(self, plaintext: bytes, aad: bytes = TEMPLATE_AAD) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, aad: bytes = TEMPLATE_AAD) -> bytes:
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError(NOT_OPENED) from exc

    def open_into(self, blob: bytes | bytearray | memoryview, out: memoryview, aad: bytes) -> None:
        """``open`` written into ``out`` (``len(blob) - OVERHEAD_BYTES`` bytes), copying
        nothing: for the chunks of a sealed index, hundreds of MB at 10 million faces."""
        sealed = memoryview(blob)
        try:
            self._aead.decrypt_into(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad, out)
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError(NOT_OPENED) from exc

    def blind_index(self, kind: str, value: str) -> str:
        """HMAC-SHA256 (hex) of ``value`` under the blind-index key: equal values, equal
        indexes; nothing else can be learnt from it without the key."""
        message = kind.encode() + b"\0" + value.encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()

    def seal_text(self, text: str, aad: bytes) -> bytes:
        return self.seal(text.encode(), aad)

    def open_text(self, blob: bytes, aad: bytes) -> str:
        return self.open(blob, aad).decode()

    def seal_vector(self, vector: FloatArray) -> bytes:
        return self.seal(np.ascontiguousarray(vector, dtype="<f4").tobytes())

    def open_vector(self, blob: bytes) -> FloatArray:
        return np.frombuffer(self.open(blob), dtype="<f4").astype(np.float32)


class UnsetCipher(TemplateCipher):
    """Stands for the template key before it is chosen (the store opens first, to tell which
    key is the folder's): anything sealed or opened with it is an error, never a wrong key."""

    def __init__(self) -> None:
        super().__init__(bytes(KEY_BYTES))
        self.key_id = "unset"

    def seal(self, plaintext: bytes, aad: bytes = TEMPLATE_AAD) -> bytes:
        raise TemplateKeyMissingError("no template key is chosen yet for this data folder")

    def open(self, blob: bytes, aad: bytes = TEMPLATE_AAD) -> bytes:
        raise TemplateKeyMissingError("no template key is chosen yet for this data folder")


def generate_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TemplateKeyMissingError(f"{where}: the template key is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise TemplateKeyMissingError(
            f"{where}: the template key must be {KEY_BYTES} bytes (base64 of 32 random bytes), "
            f"got {len(key)}; make one with `facelens keys create`"
        )
    return key


def write_key_file(path: Path, key: bytes) -> None:
    """Write ``key`` (base64) to ``path``, readable by its owner only, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as sink:
        sink.write(encode_key(key) + "\n")
        sink.flush()
        os.fsync(sink.fileno())
    tmp.replace(path)


def read_key_file(path: Path) -> bytes:
    return decode_key(path.read_text(), str(path))


def check_key_location(key_file: Path, data_dir: Path) -> None:
    if key_file.resolve().is_relative_to(data_dir.resolve()):
        raise TemplateKeyLocationError(
            f"the template key file {key_file} lies inside the data folder {data_dir}; keep it "
            "elsewhere (a copy of the data must not carry its key)"
        )
