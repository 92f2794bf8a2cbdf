"""Analysis spread over a cluster: the bulk ingest's decode, detection, alignment and
embedding run on Ray (``ray_ingest``), configured by ``options``; the store and the index are
written where they always are, by the engine, in the calling process."""
