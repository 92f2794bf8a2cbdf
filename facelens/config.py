"""Settings: one pydantic-settings model, built at the entry point and passed down.

Every field can be set from the environment with the ``FACELENS_`` prefix (for example
``FACELENS_DETECT_UPSAMPLE_TIMES=2``). Units are in the names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from facelens.index_settings import MilvusSettings, milvus_lite_problem
from facelens.scoring.settings import ScoringSettings

# Cosine similarity of L2-normalised dlib ResNet embeddings at or above which two faces are
# called the same person. Derived on LFW View 1 with this package's own pipeline by
# `facelens eval lfw --root ../shared/datasets/lfw --protocol view1`: the lowest 4-decimal
# threshold at which at most 1 of the 1,100 different-person pairs of pairsDevTrain.txt matches
# (FMR <= 1e-3). Figures: docs/accuracy.md.
DEFAULT_MATCH_THRESHOLD = 0.93

#: 512 MiB: a 45-megapixel colour photo (11 bytes a pixel while decoding) fits; an
#: 8,900 x 8,900 PNG of a few hundred KB (the decompression bomb of issue 12) does not.
DEFAULT_MAX_DECODE_BYTES = 512 * 1024 * 1024


class Settings(BaseSettings, ScoringSettings, MilvusSettings):
    """Everything an engine needs to know; nothing is read from the environment elsewhere."""

    model_config = SettingsConfigDict(env_prefix="FACELENS_", extra="forbid")

    data_dir: Path = Field(
        default=Path("facelens-data"),
        description="Folder holding the store (SQLite) and the persisted index.",
    )

    # decode
    max_image_bytes: int = Field(default=50 * 1024 * 1024, gt=0, description="Largest file.")
    max_image_pixels: int = Field(
        default=80_000_000, gt=0, description="Largest width x height accepted."
    )
    max_decode_bytes: int = Field(
        default=DEFAULT_MAX_DECODE_BYTES,
        gt=0,
        description="Most memory decoding one image may take, estimated from its header "
        "(width x height x bytes a pixel, about 11 for a colour photo) before any pixel is "
        "decoded; larger images are refused as too large.",
    )

    # detect
    detector: Literal["mtcnn", "hog", "cnn"] = Field(
        default="mtcnn",
        description="Face detector: MTCNN on ONNX Runtime (faces from mtcnn_min_face_size_px; "
        "facenet-pytorch's weights, fetched from PyPI by scripts/setup.sh or at first use; "
        "boxes made to match dlib HOG's), dlib HOG (faces from about 37 px at one upsampling, "
        "half MTCNN's speed on large photos) or dlib CNN (MMOD, about 100 times HOG's time).",
    )
    detect_upsample_times: int = Field(
        default=1,
        ge=0,
        le=4,
        description="Image upsamplings before detection (hog and cnn); finds smaller faces.",
    )
    probe_detect_upsample_times: int = Field(
        default=0,
        ge=0,
        le=4,
        description="Upsamplings when finding faces in a search or verify photo, where the "
        "person is usually large (faces from about 70 px: a third of the time of one "
        "upsampling); a photo with no usable face is tried again at detect_upsample_times.",
    )
    ingest_try_turns: bool = Field(
        default=False,
        description="Ingest: an image without a usable face is tried again turned by 90, 270 "
        "and 180 degrees (sideways scans); up to three more detections for every face-free "
        "image. Search and verify photos are always tried turned.",
    )
    mtcnn_min_face_size_px: int = Field(
        default=20,
        ge=12,
        description="The mtcnn detector's smallest face (its image pyramid starts at 12 / this); "
        "smaller is slower. The upsampling settings do not apply to mtcnn.",
    )
    probe_mtcnn_min_face_size_px: int = Field(
        default=40,
        ge=12,
        description="Where the mtcnn detector's pyramid starts in a search or verify photo, "
        "where the person is usually large (it still finds faces down to about 23 px; search "
        "p50 159 ms against 287 ms from 20 px); a photo with no usable face is tried again "
        "from mtcnn_min_face_size_px.",
    )
    detect_max_side_px: int = Field(
        default=2000,
        gt=0,
        description="Images with a longer side are downscaled for detection only (speed).",
    )

    # align and embed
    chip_padding: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="Context around the aligned face chip, as a share of its size (the dlib "
        "ResNet was trained with 0.25).",
    )
    embed_flip_average: bool = Field(
        default=True,
        description="Average each face's embedding with that of its mirror image (twice the "
        "embedding time; +0.28 points of 10-fold accuracy on LFW View 1).",
    )
    embed_jitters: int = Field(
        default=0,
        ge=0,
        le=100,
        description="Randomly jittered copies of each chip averaged into its embedding "
        "(dlib's num_jitters; 0 or 1 means none; each copy costs a full embedding).",
    )
    probe_jitters: int = Field(
        default=0,
        ge=0,
        le=100,
        description="Jittered copies averaged into the embedding of a search or verify photo "
        "(0: as embed_jitters); the same photo always gives the same copies.",
    )

    embedder: Literal["dlib", "onnx", "onnx_file"] = Field(
        default="onnx",
        description="Embedder backend: dlib's network converted to ONNX and run by ONNX "
        "Runtime (the default: descriptors within 4.8e-7 of dlib's on 539 LFW faces, about 20 "
        "times faster a core, and it lets other threads run), dlib itself, or onnx_file: an "
        "ONNX face model the operator holds a licence for (embed_model_path).",
    )
    embed_model_path: Path | None = Field(
        default=None,
        description="The ONNX file of the onnx_file embedder (docs/models.md); its model id "
        "includes the file's sha256.",
    )
    embed_model_description_path: Path | None = Field(
        default=None,
        description="The JSON description of embed_model_path (input size, channel order, "
        "layout, dtype, normalisation, alignment template, output dimension); None means the "
        "file beside it with the suffix .json.",
    )
    embed_batch_size: int = Field(
        default=32,
        ge=1,
        le=4096,
        description="Ingest embeds the chips of this many faces together; and rows per ONNX "
        "Runtime call (a chip and its mirror image are two rows, in the same call).",
    )
    embed_provider: Literal["cpu", "cuda"] = Field(
        default="cpu",
        description="ONNX Runtime execution provider of the onnx embedder; cuda needs "
        "onnxruntime-gpu and a GPU.",
    )
    onnx_intra_op_threads: int = Field(
        default=0,
        ge=0,
        description="Threads of one ONNX Runtime call; 0: a thread a core, shared out among "
        "ingest worker processes.",
    )
    onnx_model_dir: Path | None = Field(
        default=None,
        description="Folder of the ONNX model converted from dlib's file at first use, and of "
        "MTCNN's fetched weights and graphs; None means ~/.cache/facelens/models.",
    )

    # quality
    min_face_size_px: int = Field(
        default=24,
        ge=0,
        description="Faces whose box is smaller on its short side are rejected (LFW pairs with "
        "one face at 24 px: 98.25% against 98.75% at full size; 40 suits hog, whose boxes "
        "stop at about 37 px; docs/accuracy.md).",
    )
    min_sharpness: float = Field(
        default=5.0,
        ge=0,
        description="Faces whose aligned chip has a lower variance of Laplacian are rejected "
        "(LFW's web photos: 1st percentile 8, median 49).",
    )
    min_detector_score: float = Field(
        default=0.2,
        description="Detections scored lower are rejected as unlikely faces (HOG false "
        "positives such as badges score about 0.1; 99% of LFW faces score over 0.28).",
    )
    max_faces_per_image: int = Field(
        default=100, gt=0, description="Faces beyond this many (largest first) are rejected."
    )

    # search
    match_threshold: float = Field(
        default=DEFAULT_MATCH_THRESHOLD,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity at or above which two faces are called the same person.",
    )
    default_top_k: int = Field(default=5, gt=0, le=1000)
    person_fusion: Literal["max", "quality_mean"] = Field(
        default="max",
        description="How a per-person search (search --per-person) scores a person from all "
        "their faces: the best of them (max), or the quality-weighted mean of their 3 best "
        "(quality_mean). Chosen on LFW (bench/person_fusion.py).",
    )

    # people (clustering unassigned faces into proposed persons)
    cluster_threshold: float = Field(
        default=0.95,
        ge=-1.0,
        le=1.0,
        description="Mean cosine similarity two unassigned faces need to be proposed as one "
        "person (facelens people cluster). Higher than match_threshold: a merged look-alike "
        "is worse than a split. Chosen on LFW's development people (bench/clustering.py).",
    )
    cluster_floor_threshold: float = Field(
        default=0.925,
        ge=-1.0,
        le=1.0,
        description="What larger groups need instead: the mean similarity over every pair of "
        "their faces, cluster_threshold lowered towards this as 1 / sqrt(size of the smaller "
        "group). At most cluster_threshold.",
    )

    opt_out_threshold: float = Field(
        default=0.94,
        ge=-1.0,
        le=1.0,
        description="Similarity to an opted-out person's fused template (the mean of the "
        "photos their erasure request gave) at or above which a face is theirs: skipped at "
        "ingest, hidden from search. Chosen on LFW (bench/subject_requests.py): with 3 photos "
        "it stops 273 of 275 of the person's later photos and 52 faces of others in 140 "
        "opt-outs, where one photo at 0.93 stopped 263 and 80.",
    )

    # subject requests (access and erasure by selfie)
    subject_request_false_candidates: float = Field(
        default=0.1,
        gt=0.0,
        le=10.0,
        description="Expected strangers proposed per subject request at the gallery's "
        "current size: the calibrated threshold is the lowest one that keeps this, by the "
        "LFW impostor table (worse gender group) shipped in facelens/data.",
    )
    subject_request_min_threshold: float = Field(
        default=0.90,
        ge=-1.0,
        le=1.0,
        description="The lowest similarity a subject-request candidate may have, however small "
        "the gallery.",
    )
    subject_request_max_threshold: float = Field(
        default=0.95,
        ge=-1.0,
        le=1.0,
        description="The strictest threshold the calibrated rule may choose: in a very large "
        "gallery a stricter one would miss the requester's own faces, so the rule stops here "
        "and states how many strangers the admin's review should expect.",
    )
    subject_request_max_photos: int = Field(
        default=10, ge=1, le=50, description="Photos of the requester one request may carry."
    )

    # backends
    store_backend: str = Field(
        default="sqlite",
        description="Metadata store backend: sqlite (facelens.db in data_dir) or postgresql.",
    )
    store_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL server for the store, as "
        "postgresql+psycopg://user:password@host:port/dbname; given, store_backend defaults "
        "to postgresql. Secret: it may hold a password.",
    )
    index_backend: str = Field(
        default="faiss-tiered",
        description="Vector index backend: faiss-tiered (exact, then approximate past "
        "ann_min_faces), faiss-flat (always exact) or milvus (a Milvus server or Milvus Lite "
        "file: index_url and the milvus_* settings).",
    )
    index_check_on_open: bool = Field(
        default=False,
        description="Check every face id against the store on open (seconds at 10M faces). "
        "Off: only when the index was not written at the store's gallery generation.",
    )

    # approximate search (faiss-tiered)
    ann_min_faces: int = Field(
        default=100_000,
        ge=1,
        description="Gallery size past which an approximate IVF-PQ index is trained and "
        "swapped in (searches stay exact, and go on, until it is ready).",
    )
    ann_nlist: int = Field(
        default=0, ge=0, description="Inverted lists; 0 chooses about 2.5 x sqrt(faces)."
    )
    ann_pq_subquantizers: int = Field(
        default=64,
        description="4-bit codes per face (code bytes = half this); must divide 128.",
    )
    ann_nprobe: int = Field(
        default=0,
        ge=0,
        description="Lists searched per query; 0 means a 16th of them, and at least 256.",
    )
    ann_rerank_candidates: int = Field(
        default=256,
        ge=1,
        description="Short list re-scored exactly with the full vectors (kept on disk).",
    )
    ann_train_faces: int = Field(
        default=400_000, ge=1000, description="Most faces sampled to train the quantizers."
    )
    ann_max_dead_share: float = Field(
        default=0.02,
        gt=0,
        le=1,
        description="Deleted faces' codes, as a share of the index, that trigger compacting it.",
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="WARNING", description="Logging level of the command line (stderr)."
    )

    @model_validator(mode="after")
    def _cluster_floor_at_most_threshold(self) -> Settings:
        if self.cluster_floor_threshold > self.cluster_threshold:
            raise ValueError(
                f"cluster_floor_threshold ({self.cluster_floor_threshold}) must be at most "
                f"cluster_threshold ({self.cluster_threshold})"
            )
        return self

    @model_validator(mode="after")
    def _store_url_means_postgresql(self) -> Settings:
        if self.store_url is not None and "store_backend" not in self.model_fields_set:
            self.store_backend = "postgresql"
        return self

    @model_validator(mode="after")
    def _milvus_index_buildable(self) -> Settings:
        problem = milvus_lite_problem(self.index_url, self.milvus_index_type)
        if self.index_backend == "milvus" and problem:
            raise ValueError(problem)
        return self

    @field_validator("ann_pq_subquantizers")
    @classmethod
    def _divides_embedding(cls, value: int) -> int:
        if value <= 0 or 128 % value:
            raise ValueError("must divide the embedding size 128 (for example 16, 32 or 64)")
        return value

    # service
    analysis_threads: int = Field(
        default=0,
        ge=0,
        description="Probes the server analyses at once (decode, detect, embed), each on its "
        "own copy of the models; 0 means one per CPU core.",
    )
    rate_limit_per_minute: int = Field(
        default=600, gt=0, description="Requests one API key may make a minute."
    )
    anonymous_rate_limit_per_minute: int = Field(
        default=60,
        gt=0,
        description="Requests without a valid key (none, a wrong one, a failed sign-in) one "
        "client address may make a minute; past it, every request from the address gets 429.",
    )
    ingest_allowed_roots: list[Path] = Field(
        default_factory=list,
        description="Server folders that POST /jobs/ingest and POST /jobs/search may read (and "
        "nothing outside).",
    )
    session_lifetime_s: int = Field(
        default=8 * 3600, gt=0, description="How long a web sign-in lasts."
    )

    # ingest
    ingest_workers: int = Field(
        default=0, ge=0, description="Worker processes for ingest; 0 means one per CPU core."
    )
    fetch_timeout_s: float = Field(
        default=20.0, gt=0, description="Longest time to fetch one image URL of a manifest."
    )
    fetch_allowed_networks: list[str] = Field(
        default_factory=list,
        description="Private networks (CIDR) an admin allows manifest URLs to point into; "
        "loopback, link-local and private addresses are refused otherwise.",
    )

    # privacy
    template_key_file: Path | None = Field(
        default=None,
        description="A template key file (base64 of 32 bytes) shared by the data folders "
        "that use it, outside them; None: each new folder gets its own key in key_dir (older "
        "folders keep using ~/.config/facelens/template.key until rotated).",
    )
    template_key: SecretStr | None = Field(
        default=None,
        description="The template key itself (base64), instead of a key file.",
    )
    key_dir: Path | None = Field(
        default=None,
        description="Folder of each data folder's own keys (<key_dir>/<folder id>/template.key "
        "and audit.key), outside every data folder; None means ~/.config/facelens/keys.",
    )
    jurisdiction_policy_file: Path | None = Field(
        default=None,
        description="TOML file of jurisdiction rules (consent_required_for, "
        "search_forbidden_in); None: no jurisdiction rules.",
    )
    retention_interval_s: int = Field(
        default=3600,
        gt=0,
        description="How often the server destroys data past its retention period.",
    )
