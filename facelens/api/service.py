"""The API's service object: one engine per process, its lock, and what the routes share
(settings, metrics, web sessions, request budgets, background jobs).

The engine is not thread-safe and FastAPI runs plain ``def`` routes in a thread pool, so
engine calls are serialised by ``Service.lock``. The costly, stateless part of a search
(decode, detect, align, embed) runs outside the lock, on a pipeline of its own
(``PipelinePool``): dlib releases the GIL there, so searches use every core.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from facelens.api.jobs import IngestJobs, SearchJobs
from facelens.api.limits import AnonymousTally, RateLimiter
from facelens.config import Settings
from facelens.engine import Engine
from facelens.pipeline.analyse import FacePipeline, PipelinePool
from facelens.privacy.retention import run_retention

#: Audit action of the per-address, per-minute tally of requests without an account.
ANONYMOUS_ACTION = "anonymous requests"
#: How often finished minutes of that tally are written to the audit log.
TALLY_FLUSH_S = 15.0
P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger(__name__)


class Metrics:
    """Prometheus metrics of one app (its own registry, so apps in one process never clash)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "facelens_http_requests", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "facelens_http_request_seconds", "HTTP request latency", ["route"],
            registry=self.registry,
        )  # fmt: skip
        self.search_latency = Histogram(
            "facelens_search_seconds", "Engine search latency", registry=self.registry
        )
        self.faces_indexed = Gauge(
            "facelens_faces_indexed", "Faces in the index", registry=self.registry
        )


@dataclass(frozen=True, slots=True)
class WebSession:
    """A signed-in browser: the account, and the token its forms must echo (CSRF)."""

    account_id: int
    csrf_token: str
    expires_at: float


class Service:
    def __init__(self, settings: Settings, pipeline: FacePipeline | None = None) -> None:
        self.settings = settings
        self.engine = Engine(settings, pipeline=pipeline)
        self.lock = threading.RLock()
        # Probes are analysed outside the lock, each on a pipeline of its own.
        self.pipelines = PipelinePool(self.engine.pipeline, settings.analysis_threads)
        self.metrics = Metrics()
        self.uploads = settings.data_dir / "uploads"
        # In memory: a restart signs everyone out, which is the safe failure.
        self.sessions: dict[str, WebSession] = {}
        self.rate_limiter = RateLimiter()
        # Requests without an account, per client address: budgeted, and audited as a tally.
        self.anonymous_limiter = RateLimiter()
        self.anonymous = AnonymousTally()
        self.jobs = IngestJobs()
        self.search_jobs = SearchJobs()
        self._stop = threading.Event()
        self._retention = threading.Thread(
            target=self._retention_loop, name="retention", daemon=True
        )
        self._retention.start()
        self._tally = threading.Thread(target=self._tally_loop, name="audit-tally", daemon=True)
        self._tally.start()

    def locked(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``call`` with the engine to itself (for ``run_in_threadpool``: never on the loop)."""
        with self.lock:
            return call(*args, **kwargs)

    def _tally_loop(self) -> None:
        while not self._stop.wait(TALLY_FLUSH_S):
            try:
                self.flush_anonymous()
            except Exception:  # kept in the tally: the next round tries again
                log.exception("writing the tally of anonymous requests failed")

    def flush_anonymous(self, *, everything: bool = False) -> None:
        """Write the tally of requests without an account: one audit entry per client address
        per minute, with its count (``everything``: the current minute too)."""
        for address, minute, counts in self.anonymous.take(everything=everything):
            self.engine.audit(
                "anonymous",
                ANONYMOUS_ACTION,
                address,
                {
                    "minute": datetime.fromtimestamp(minute, UTC).isoformat(),
                    "count": sum(counts.values()),
                    "requests": counts,
                },
            )

    def _retention_loop(self) -> None:
        """Destroy data past its retention period now and every ``retention_interval_s``."""
        while not self._stop.is_set():
            try:
                with self.lock:
                    run_retention(self.engine)
            except Exception:  # the next round tries again; the error is in the log
                log.exception("the periodic retention run failed")
            self._stop.wait(self.settings.retention_interval_s)

    def close(self) -> None:
        self._stop.set()
        self._retention.join()
        self._tally.join()
        self.flush_anonymous(everything=True)
        with self.lock:
            self.engine.close()
