"""The engine: the pipeline, the store and the index composed behind the public API.

``Engine`` (``core``) composes the engine's parts, each a module of this package with one job:
``index_sync`` (the index in step with the store), ``keys`` (template and audit keys),
``policy`` (legal basis, jurisdiction rules, consent), ``suppression`` (people who opted out),
``probe`` (analysing given images), ``ingest``, ``search``, ``batch_search`` (many probes
at once), ``person_search`` (answers per person, same-person probes, reference checks),
``persons``, ``erasure``, ``records`` (what the doors read and record) and
``reindex`` (switching the embedding model); ``state`` is what they share.
"""

from facelens.engine.core import Engine
from facelens.engine.index_sync import IndexRepair
from facelens.engine.keys import KeyRotation
from facelens.engine.reindex import ReindexFailure, ReindexReport
from facelens.engine.state import INDEX_MODEL_KEY, INDEX_PARAMS_KEY, SYSTEM_ACTOR, ImageInput

__all__ = [
    "INDEX_MODEL_KEY",
    "INDEX_PARAMS_KEY",
    "SYSTEM_ACTOR",
    "Engine",
    "ImageInput",
    "IndexRepair",
    "KeyRotation",
    "ReindexFailure",
    "ReindexReport",
]
