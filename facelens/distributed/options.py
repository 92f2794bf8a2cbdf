"""How an ingest is spread over a Ray cluster (no import of Ray: the engine takes these
options whether or not Ray is installed)."""

from __future__ import annotations

from dataclasses import dataclass

#: ``RayOptions.address`` for a new one-machine cluster started by (and ending with) the ingest.
LOCAL_CLUSTER = "local"


@dataclass(frozen=True, slots=True)
class RayOptions:
    """``address``: ``auto`` (the cluster this machine belongs to), ``HOST:PORT`` of a head
    node's GCS, ``local`` (a new cluster on this machine, for trying it out), or ``""`` to use
    the Ray connection this process already has (``ray.init`` called by the caller).

    ``actors``: detection actors (one CPU each; 0: one per CPU of the cluster).
    ``embed_gpus``: GPUs given to the embedding actor (0: it runs on CPU; set
    ``FACELENS_EMBED_PROVIDER=cuda`` with the onnx embedder for the network to use the GPU).
    ``images_per_task``: images a detection actor takes per call.
    """

    address: str = "auto"
    actors: int = 0
    embed_gpus: float = 0.0
    images_per_task: int = 4

    def __post_init__(self) -> None:
        if self.actors < 0 or self.embed_gpus < 0 or self.images_per_task < 1:
            raise ValueError("actors and embed_gpus must be >= 0, images_per_task >= 1")
