"""The settings of the ``milvus`` index backend (``facelens.index.milvus``), part of
``facelens.config.Settings`` (set them there, or as ``FACELENS_<NAME>``). Kept apart from
``facelens.index`` so that reading settings never imports pymilvus or FAISS."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

#: What Milvus Lite builds. It accepts other index types and silently leaves them unbuilt.
MILVUS_LITE_INDEX_TYPES = ("FLAT", "HNSW", "IVF_FLAT", "IVF_SQ8")
#: What a Milvus server or cluster builds, of the float-vector index types facelens offers.
MilvusIndexType = Literal["FLAT", "HNSW", "IVF_FLAT", "IVF_SQ8", "IVF_PQ", "DISKANN"]
#: Schemes of ``index_url`` naming a server (``milvus://`` is spelled ``http://`` to pymilvus).
SERVER_SCHEMES = ("milvus://", "http://", "https://")
_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def is_server_url(url: str) -> bool:
    return url.startswith(SERVER_SCHEMES)


def milvus_lite_problem(url: str, index_type: str) -> str | None:
    """Why ``index_type`` cannot be built where ``url`` points, or None when it can."""
    if is_server_url(url) or index_type in MILVUS_LITE_INDEX_TYPES:
        return None
    return (
        f"milvus_index_type {index_type} needs a Milvus server (index_url=milvus://host:19530): "
        f"Milvus Lite (index_url {url or 'empty'}: a local file) builds only "
        f"{', '.join(MILVUS_LITE_INDEX_TYPES)} and leaves other index types silently unbuilt"
    )


class MilvusSettings(BaseModel):
    """Where the ``milvus`` backend keeps the vectors and how Milvus indexes them."""

    index_url: str = Field(
        default="",
        description="index_backend milvus: milvus://host:19530 (or http(s)://...) for a Milvus "
        "server or cluster; a path ending in .db for a Milvus Lite file; empty: a Milvus Lite "
        "file milvus.db in the data folder's index folder.",
    )
    milvus_token: SecretStr | None = Field(
        default=None,
        description="Credentials of a Milvus server with authentication (user:password or an "
        "API key); None: none sent.",
    )
    milvus_collection_prefix: str = Field(
        default="facelens",
        description="Start of the Milvus collection names (one collection per model); data "
        "folders that share one Milvus server must each have their own.",
    )
    milvus_index_type: MilvusIndexType = Field(
        default="FLAT",
        description="Milvus index of the vectors (metric inner product): FLAT (exact), HNSW, "
        "IVF_FLAT, IVF_SQ8, and on a server only IVF_PQ, DISKANN (docs/scale-out.md).",
    )
    milvus_index_params: dict[str, Any] = Field(
        default_factory=dict,
        description='Build parameters of milvus_index_type, as JSON (e.g. {"M": 16, '
        '"efConstruction": 200} for HNSW, {"nlist": 4096} for IVF); {}: Milvus defaults.',
    )
    milvus_search_params: dict[str, Any] = Field(
        default_factory=dict,
        description='Search parameters, as JSON (e.g. {"ef": 128} for HNSW, {"nprobe": 32} '
        "for IVF); {}: Milvus defaults.",
    )

    @field_validator("index_url")
    @classmethod
    def _a_server_or_a_lite_file(cls, value: str) -> str:
        if value and not is_server_url(value) and not value.endswith(".db"):
            raise ValueError(
                "must be milvus://host:port, http(s)://host:port, a Milvus Lite file ending in "
                ".db, or empty (a Milvus Lite file in the index folder)"
            )
        return value

    @field_validator("milvus_collection_prefix")
    @classmethod
    def _a_collection_name(cls, value: str) -> str:
        if not _PREFIX.fullmatch(value):
            raise ValueError("must be a letter or _, then letters, digits or _ (at most 64)")
        return value
