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
