"""One exception class per failure a user can act on.

Every error carries a message that says what went wrong and what to do about it. The CLI maps
them to exit codes in one place (``facelens.cli.main``); a future HTTP layer maps them to
problem details the same way, by class.
"""

from __future__ import annotations


class FacelensError(Exception):
    """Base class of every error facelens raises on purpose."""

    #: Short machine-readable code, stable across releases (used in ``--json`` output).
    code = "facelens_error"


# --- input images -------------------------------------------------------------------------


class ImageError(FacelensError):
    """An input image cannot be used."""

    code = "image_error"


class ImageNotFoundError(ImageError):
    code = "image_not_found"


class ImageTooLargeError(ImageError):
    """The file is over ``max_image_bytes`` or the picture over ``max_image_pixels``."""

    code = "image_too_large"


class UnsupportedImageError(ImageError):
    """The bytes are not an image format Pillow can read."""

    code = "unsupported_image"


class CorruptImageError(ImageError):
    """The format is recognised but the data is truncated or damaged."""

    code = "corrupt_image"


class NoFaceFoundError(FacelensError):
    code = "no_face_found"


# --- models and embeddings ----------------------------------------------------------------


class ModelNotAvailableError(FacelensError):
    code = "model_not_available"


class ModelMismatchError(FacelensError):
    """Embeddings of different models were about to be compared or indexed together."""

    code = "model_mismatch"


class UnknownBackendError(FacelensError):
    code = "unknown_backend"


# --- store --------------------------------------------------------------------------------


class NotFoundError(FacelensError):
    """A collection, image, face or person id that does not exist."""

    code = "not_found"


class ConflictError(FacelensError):
    code = "conflict"


class InvalidArgumentError(FacelensError):
    code = "invalid_argument"


class ModelConversionError(ModelNotAvailableError):
    """dlib's network file could not be read or converted to ONNX."""

    code = "model_conversion_failed"


class ExecutionProviderError(ModelNotAvailableError):
    """The chosen ONNX Runtime execution provider (``embed_provider``) is not available."""

    code = "execution_provider_unavailable"


# --- the data folder ----------------------------------------------------------------------


class DataFolderInUseError(FacelensError):
    """Another process holds the data folder (see ``facelens.store.lock``) in a way that excludes
    what was asked: rotating the key or rebuilding the index while a server runs."""

    code = "data_folder_in_use"


class StoreError(FacelensError):
    """The store (``facelens.db``), the source of truth, cannot be used."""

    code = "store_error"


class StoreMissingError(StoreError):
    """The store file is gone or empty while the folder shows it held data (index files,
    keys): opening it as a new, empty store would lose everything the index points to."""

    code = "store_missing"


class StoreDamagedError(StoreError):
    """The store file is not a readable SQLite database, or fails its integrity check."""

    code = "store_damaged"


class QuarantinedTemplatesError(FacelensError):
    """Some stored templates do not open (damaged bytes) and block an operation that must
    handle every template, such as re-sealing them with a new key."""

    code = "templates_quarantined"
