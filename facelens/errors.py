"""One exception class per failure a user can act on.

Every error carries a message that says what went wrong and what to do about it. The CLI maps
them to exit codes in one place (``facelens.cli.exit_codes``); the HTTP API maps them to problem
details the same way, by class (``facelens.api.problems``).
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


class ImageChangedError(ImageError):
    """The file changed between being hashed and being analysed (a distributed ingest reads
    it twice: once to skip known content, once on the worker)."""

    code = "image_changed"


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


class MatchRejectedError(ConflictError):
    """A face a reviewer said is not this person ("not this person"): it is not assigned to
    them (nor merged into them) until the rejection is withdrawn."""

    code = "match_rejected"


class ModelConversionError(ModelNotAvailableError):
    """dlib's network file could not be read or converted to ONNX."""

    code = "model_conversion_failed"


class ExecutionProviderError(ModelNotAvailableError):
    """The chosen ONNX Runtime execution provider (``embed_provider``) is not available."""

    code = "execution_provider_unavailable"


class ModelDescriptionError(ModelNotAvailableError):
    """The description of an operator's ONNX model (``embed_model_path``'s ``.json``) is
    missing, not JSON, or has a field facelens cannot use."""

    code = "invalid_model_description"


class ModelDescriptionMismatchError(ModelDescriptionError):
    """The ONNX file's declared input or output shape or type disagrees with its description."""

    code = "model_description_mismatch"


class ModelDownloadError(ModelNotAvailableError):
    """Weights fetched at first use (MTCNN's, from the facenet-pytorch wheel on PyPI) could
    not be downloaded."""

    code = "model_download_failed"


class ModelIntegrityError(ModelNotAvailableError):
    """A downloaded or cached weights file does not match its pinned sha256, or is not the
    file it should be; it is refused and never read."""

    code = "model_integrity_failed"


class UnsafeModelFileError(ModelIntegrityError):
    """A torch weights file (a pickle) names a Python global other than the few that build
    tensors: it is refused before anything in it runs."""

    code = "unsafe_model_file"


# --- the data folder ----------------------------------------------------------------------


class ClusterUnavailableError(FacelensError):
    """The Ray cluster an ingest was to run on cannot be reached (``ingest --ray``)."""

    code = "cluster_unavailable"


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


class StoreUnreachableError(StoreError):
    """The PostgreSQL server named by ``store_url`` cannot be reached, or refuses the
    connection (wrong user, password or database)."""

    code = "store_unreachable"


class QuarantinedTemplatesError(FacelensError):
    """Some stored templates do not open (damaged bytes) and block an operation that must
    handle every template, such as re-sealing them with a new key."""

    code = "templates_quarantined"


# --- accounts and permissions -------------------------------------------------------------


class AuthenticationError(FacelensError):
    """No key, or a key that is malformed, unknown or disabled."""

    code = "unauthenticated"


class PermissionDeniedError(FacelensError):
    """The account's role does not allow this."""

    code = "forbidden"


class FolderNotAllowedError(PermissionDeniedError):
    """A server-side folder outside the allowed ingest roots."""

    code = "folder_not_allowed"


# --- template keys ------------------------------------------------------------------------


class TemplateKeyError(FacelensError):
    """Base of the template-key errors."""

    code = "template_key_error"


class TemplateKeyMissingError(TemplateKeyError):
    code = "template_key_missing"


class TemplateKeyMismatchError(TemplateKeyError):
    """The data was sealed with another key than the one configured."""

    code = "template_key_mismatch"


class TemplateKeyLocationError(TemplateKeyError):
    """A key file inside the data folder: a copy of the folder would carry its own key."""

    code = "template_key_location"


class DecryptionError(TemplateKeyError):
    """A blob that does not open with this key: another key, or tampered bytes."""

    code = "decryption_failed"


# --- lawful processing refusals -----------------------------------------------------------


class RefusedError(FacelensError):
    """A lawful-processing rule forbids this; ``rule`` names which."""

    code = "refused"
    rule = "policy"
    #: Set once the engine has written the refusal to the audit log, so no door logs it twice.
    audited = False

    def __init__(self, message: str, rule: str | None = None) -> None:
        super().__init__(message)
        if rule is not None:
            self.rule = rule


class NoLegalBasisError(RefusedError):
    code = "no_legal_basis"
    rule = "legal-basis"


class ConsentRequiredError(RefusedError):
    code = "consent_required"
    rule = "consent"


class JurisdictionRefusedError(RefusedError):
    code = "jurisdiction_refused"
    rule = "jurisdiction"


class PurposeRequiredError(RefusedError):
    """A search that does not say why: refused, and counted like every refusal."""

    code = "purpose_required"
    rule = "purpose"


class ReindexRefusedError(RefusedError):
    """A model switch that would break someone's rights: opt-out templates of the current
    model (they cannot be remade without photos facelens never keeps) or a pending subject
    request."""

    code = "reindex_refused"
    rule = "reindex"


# --- audit log ----------------------------------------------------------------------------


class AuditCheckpointError(FacelensError):
    """A checkpoint that cannot be trusted: not one, altered, or of another data folder."""

    code = "audit_checkpoint_invalid"


class AuditKeyMissingError(FacelensError):
    """The audit log is keyed, and its key is not where it should be."""

    code = "audit_key_missing"


# --- listed-URL fetching ------------------------------------------------------------------


class ManifestError(InvalidArgumentError):
    """The manifest file as a whole cannot be used (unreadable, not CSV, missing a column)."""

    code = "invalid_manifest"


class ManifestRowError(InvalidArgumentError):
    """One manifest row cannot be used; reported as a problem, the other rows still load."""

    code = "invalid_manifest_row"


class FetchError(FacelensError):
    """An image URL could not be fetched."""

    code = "fetch_error"


class FetchRefusedError(FetchError, RefusedError):
    """facelens refused to fetch a URL under one of its collection rules; ``rule`` names it
    (the transparency report counts refusals by rule)."""

    code = "fetch_refused"
    rule = "fetch"


class SchemeRefusedError(FetchRefusedError):
    code = "scheme_refused"
    rule = "fetch-scheme"


class AddressRefusedError(FetchRefusedError):
    """The host is (or resolved to, or connected to) an address that is not public."""

    code = "address_refused"
    rule = "fetch-address"


class RedirectRefusedError(FetchRefusedError):
    code = "redirect_refused"
    rule = "fetch-redirect"

    def __init__(self, message: str, *, status: int, location: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.location = location


class ResponseTooLargeError(FetchRefusedError, ImageTooLargeError):
    """Over ``max_bytes``; same code as a local file over the limit, it is the same fix."""

    code = "image_too_large"
    rule = "fetch-size"

    def __init__(self, message: str, *, max_bytes: int, size: int) -> None:
        super().__init__(message)
        self.max_bytes = max_bytes
        self.size = size  # the declared Content-Length, or the bytes received when refused


class ContentEncodingRefusedError(FetchRefusedError):
    code = "content_encoding_refused"
    rule = "fetch-encoding"


class HttpStatusError(FetchError):
    code = "http_status"

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class InvalidUrlError(FetchError, InvalidArgumentError):
    code = "invalid_url"


class FetchTimeoutError(FetchError):
    code = "fetch_timeout"


class FetchFailedError(FetchError):
    """The host could not be resolved or reached, or the connection broke."""

    code = "fetch_failed"


# --- rate limits --------------------------------------------------------------------------


class RateLimitedError(FacelensError):
    """Too many requests from one account or, without one, from one client address."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


# --- sample photos ------------------------------------------------------------------------


class SampleDownloadError(FacelensError):
    """The sample photos' package could not be fetched or does not match its pinned sha256."""

    code = "sample_download_failed"
