"""Search at scale: facelens's index against exact search, NumPy brute force and the
``face_recognition`` package's ``face_distance``, on a gallery made by ``bench/gallery.py``.

    .venv/bin/python bench/search.py --gallery /tmp/facelens-gallery --faces 1000000 \\
        --out bench/results/search-1m.json

The first ``--faces`` rows of the gallery are indexed by facelens's ``faiss-tiered`` index, the
same code the engine runs, built the way the engine builds it (exact first, the approximate
index trained and swapped in once the gallery passes ``ann_min_faces``). Measured, in one
process on the same data:

- exact top-10 of every query (FAISS ``knn``, inner product), the ground truth;
- facelens: build time, single-query latency p50/p99 over ``--latency-queries`` queries, batch
  throughput, recall@1 and recall@10 against exact search, the rank-1 hit rate of mated LFW
  queries, for each ``--nprobe`` (the latency/recall curve; the first is the default);
- memory: the index's bytes per face (its serialised size) and the process RSS before/after
  (anonymous and file-backed pages apart: the full vectors for re-ranking are a memory-mapped
  file, held as page cache);
- add and delete throughput on the built index (faces/s, batches of 1,000);
- baselines over ``--baseline-queries`` mated queries: ``face_recognition.face_distance`` over
  every known encoding then ``argmin`` (how its README searches), and ``gallery @ query`` then
  ``argmax`` in NumPy; their median latency, rank-1 hit rate, and the ratio to facelens's
  median on the same queries;
- with ``--sealed``: the same index built a second time with a template key (templates sealed at
  rest, ``facelens.security.crypto``) and compared with the plain one at the default parameters:
  single-query latency p50/p99 (the two indexes take turns on each query), batch throughput,
  exact search within a collection filter of 20,000 faces, add and delete throughput (batches
  taking turns), persist and reopen time, and the ratios sealed/plain.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import psutil

from facelens.index import IndexOptions, create_index
from facelens.index.faiss_tiered import EXACT_FILTER_MAX_FACES, FaissTieredIndex
from facelens.security.crypto import TemplateCipher, generate_key
from facelens.types import ModelId

MODEL = ModelId("dlib_face_recognition_resnet_model_v1", "bench", 128)
_CHUNK = 500_000


def exact_top(gallery: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top ``k`` over the gallery, a chunk at a time."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_ids = np.full((len(queries), k), -1, dtype=np.int64)
    for start in range(0, len(gallery), _CHUNK):
        chunk = np.ascontiguousarray(gallery[start : start + _CHUNK])
        scores, ids = faiss.knn(queries, chunk, k, metric=faiss.METRIC_INNER_PRODUCT)
        merged_scores = np.hstack([best_scores, scores])
        merged_ids = np.hstack([best_ids, ids + start])
        order = np.argsort(-merged_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(merged_scores, order, axis=1)
        best_ids = np.take_along_axis(merged_ids, order, axis=1)
    return best_scores, best_ids


def memory() -> dict[str, int]:
    info = psutil.Process().memory_info()
    return {"rss": info.rss, "file_backed": info.shared, "anonymous": info.rss - info.shared}


def latencies_ms(search_one: Callable[[np.ndarray], Any], queries: np.ndarray) -> list[float]:
    out = []
    for query in queries:
        started = time.perf_counter()
        search_one(query[None, :])
        out.append((time.perf_counter() - started) * 1000)
    return out


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


def evaluate(
    index: FaissTieredIndex,
    queries: np.ndarray,
    exact_ids: np.ndarray,
    exact_scores: np.ndarray,
    hit: Callable[[np.ndarray], float],
    latency_queries: int,
) -> dict[str, Any]:
    scores, ids = index.search(queries, 10)
    # A different id at an identical score is a tie, not a miss.
    top1 = (ids[:, 0] == exact_ids[:, 0]) | (np.abs(scores[:, 0] - exact_scores[:, 0]) < 1e-6)
    recall10 = np.mean(
        [len(np.intersect1d(a, b)) / 10 for a, b in zip(ids, exact_ids, strict=True)]
    )
    timed = latencies_ms(lambda q: index.search(q, 10), queries[:latency_queries])
    started = time.perf_counter()
    for start in range(0, len(queries), 256):
        index.search(queries[start : start + 256], 10)
    batch_qps = len(queries) / (time.perf_counter() - started)
    return {
        "recall_at_1": round(float(top1.mean()), 4),
        "recall_at_10": round(float(recall10), 4),
        "rank1_hit_rate_mated": round(float(hit(ids[:, 0])), 4),
        "latency_ms_p50": percentile(timed, 50),
        "latency_ms_p99": percentile(timed, 99),
        "batch_queries_per_s": round(batch_qps, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gallery", type=Path, required=True, help="from bench/gallery.py")
    parser.add_argument("--faces", type=int, required=True, help="gallery rows to index")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument(
        "--nprobe",
        type=int,
        nargs="*",
        default=[],
        help="lists probed, for the curve (default: facelens's choice, then nlist/64 to nlist/4)",
    )
    parser.add_argument("--rerank-candidates", type=int, default=256)
    parser.add_argument("--pq-subquantizers", type=int, default=64)
    parser.add_argument("--nlist", type=int, default=0, help="0: facelens's automatic choice")
    parser.add_argument("--latency-queries", type=int, default=1000)
    parser.add_argument("--baseline-queries", type=int, default=50)
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument(
        "--hnsw",
        type=int,
        default=0,
        metavar="M",
        help="also measure a FAISS HNSW index (M links a node) on the same data: the "
        "alternative to IVF-PQ (slow to build: minutes at 1M faces)",
    )
    parser.add_argument("--work-dir", type=Path, default=None, help="where the index files go")
    parser.add_argument(
        "--sealed",
        action="store_true",
        help="also build the index with a template key (encrypted at rest) and compare",
    )
    args = parser.parse_args()

    all_rows = np.load(args.gallery / "gallery.npy", mmap_mode="r")
    if args.faces > len(all_rows):
        parser.error(f"the gallery has {len(all_rows)} faces, fewer than --faces")
    gallery = all_rows[: args.faces]
    labels = np.load(args.gallery / "gallery_labels.npy")[: args.faces]
    queries = np.load(args.gallery / "queries.npy")
    query_labels = np.load(args.gallery / "query_labels.npy")
    mated = np.isin(query_labels, labels[labels >= 0])

    def hit(top_ids: np.ndarray) -> float:
        return float((labels[np.maximum(top_ids, 0)] == query_labels)[mated].mean())

    result: dict[str, Any] = {
        "command": " ".join(["python", *sys.argv]),
        "faces": args.faces,
        "queries": len(queries),
        "mated_queries": int(mated.sum()),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "faiss": faiss.__version__,
            "faiss_threads": faiss.omp_get_max_threads(),
        },
    }
    started = time.perf_counter()
    exact_scores, exact_ids = exact_top(gallery, queries, 10)
    result["exact"] = {
        "seconds_for_all_queries": round(time.perf_counter() - started, 1),
        "rank1_hit_rate_mated": round(float(hit(exact_ids[:, 0])), 4),
    }
    print(f"exact ground truth: {result['exact']}", flush=True)

    work = Path(tempfile.mkdtemp(prefix="facelens-bench-", dir=args.work_dir))
    options = IndexOptions(
        ann_min_faces=min(args.faces, 100_000),
        ann_nlist=args.nlist,
        ann_pq_subquantizers=args.pq_subquantizers,
        ann_nprobe=args.nprobe[0] if args.nprobe else 0,
        ann_rerank_candidates=args.rerank_candidates,
        build_in_background=False,
    )
    before = memory()
    index, build_s = build(gallery, work, options)
    after = memory()
    index_bytes = index.memory_bytes()
    result["facelens"] = {
        "index": index.params(),
        "build_seconds": round(build_s, 1),
        "of_which_approximate_build_seconds": round(index.build_seconds or 0.0, 1),
        "index_bytes_per_face": round(index_bytes / args.faces, 1),
        "rss_delta_bytes_per_face": {
            key: round((after[key] - before[key]) / args.faces, 1) for key in before
        },
        "vectors_file_bytes_on_disk": index._vectors.disk_bytes(),
    }
    print(f"built: {result['facelens']}", flush=True)

    default_nprobe = index.params()["nprobe"]
    nlist = index.params()["nlist"]
    sweep = args.nprobe or [default_nprobe, *(nlist // d for d in (64, 32, 16, 8, 4))]
    curve = []
    for nprobe in dict.fromkeys(max(1, p) for p in sweep):
        index.tune(nprobe=nprobe)
        point = {
            "nprobe": nprobe,
            **evaluate(index, queries, exact_ids, exact_scores, hit, args.latency_queries),
        }
        print(point, flush=True)
        curve.append(point)
    index.tune(nprobe=default_nprobe)
    result["facelens"]["default"] = curve[0]
    result["facelens"]["curve"] = sorted(curve, key=lambda p: p["nprobe"])

    indexes = [index]
    if args.sealed:
        sealed_work = Path(tempfile.mkdtemp(prefix="facelens-bench-sealed-", dir=args.work_dir))
        cipher = TemplateCipher(generate_key())
        sealed, sealed_build_s = build(gallery, sealed_work, replace(options, cipher=cipher))
        sealed.tune(nprobe=default_nprobe)
        print(f"built sealed: {sealed_build_s:.1f} s", flush=True)
        indexes.append(sealed)
    changed = np.arange(10_000, 20_000) if args.faces >= 20_000 else np.arange(args.faces // 2)
    if args.sealed:  # searched before the changes below, as the plain curve was
        result["encryption"] = compare_sealed(index, sealed, queries, args, build_s, sealed_build_s)
    for measured, (delete_per_s, add_per_s) in zip(
        indexes, changes(indexes, gallery, changed), strict=True
    ):
        target = result["facelens"] if measured is index else result["encryption"]["sealed"]
        target["delete_faces_per_s"] = delete_per_s
        target["add_faces_per_s"] = add_per_s
    if args.sealed:
        encryption = result["encryption"]
        encryption["plain"]["delete_faces_per_s"] = result["facelens"]["delete_faces_per_s"]
        encryption["plain"]["add_faces_per_s"] = result["facelens"]["add_faces_per_s"]
        for key in ("add_faces_per_s", "delete_faces_per_s"):
            encryption["sealed_over_plain"][key] = round(
                encryption["sealed"][key] / encryption["plain"][key], 3
            )
        persist_and_open(index, work, options, encryption["plain"])
        persist_and_open(sealed, sealed_work, sealed.options, encryption["sealed"])
        for key in ("persist_seconds", "open_seconds"):
            encryption["sealed_over_plain"][key] = round(
                encryption["sealed"][key] / max(encryption["plain"][key], 0.001), 3
            )

    if not args.skip_baselines:
        result["baselines"] = baselines(
            gallery,
            queries[mated][: args.baseline_queries],
            labels,
            query_labels[mated][: args.baseline_queries],
            index,
        )
    if args.hnsw:
        result["hnsw"] = hnsw(gallery, queries, exact_ids, exact_scores, hit, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print_table(result)


def build(gallery: np.ndarray, work: Path, options: IndexOptions) -> tuple[FaissTieredIndex, float]:
    """The faiss-tiered index over ``gallery``, built as ``facelens index rebuild`` builds it
    (one approximate build, at the final size); and the seconds it took."""
    index = create_index("faiss-tiered", MODEL, work, options)
    assert isinstance(index, FaissTieredIndex)
    started = time.perf_counter()
    with index.bulk_load():
        for start in range(0, len(gallery), _CHUNK):
            rows = np.arange(start, min(start + _CHUNK, len(gallery)))
            index.add(rows, np.ascontiguousarray(gallery[rows]))
    index.wait_for_build()
    return index, time.perf_counter() - started


def changes(
    indexes: list[FaissTieredIndex], gallery: np.ndarray, changed: np.ndarray
) -> list[tuple[float, float]]:
    """Delete then add back ``changed`` in batches of 1,000, the indexes taking turns batch by
    batch (so that other load on the machine falls on each alike); faces/s of each."""
    vectors = np.ascontiguousarray(gallery[changed])
    delete_s = [0.0] * len(indexes)
    add_s = [0.0] * len(indexes)
    for start in range(0, len(changed), 1000):
        for i, index in enumerate(indexes):
            started = time.perf_counter()
            index.remove(changed[start : start + 1000])
            delete_s[i] += time.perf_counter() - started
    for start in range(0, len(changed), 1000):
        for i, index in enumerate(indexes):
            started = time.perf_counter()
            index.add(changed[start : start + 1000], vectors[start : start + 1000])
            add_s[i] += time.perf_counter() - started
    return [
        (round(len(changed) / d, 1), round(len(changed) / a, 1))
        for d, a in zip(delete_s, add_s, strict=True)
    ]


def compare_sealed(
    plain: FaissTieredIndex,
    sealed: FaissTieredIndex,
    queries: np.ndarray,
    args: argparse.Namespace,
    plain_build_s: float,
    sealed_build_s: float,
) -> dict[str, Any]:
    """The plain and the sealed index at the same (default) parameters, on the same queries.
    Single queries alternate between the two (which goes first alternates too)."""
    single = queries[: args.latency_queries]
    times: dict[str, list[float]] = {"plain": [], "sealed": []}
    both = [("plain", plain), ("sealed", sealed)]
    for _, index in both:
        index.search(single[:1], 10)  # warm up
    for i, query in enumerate(single):
        for name, index in both if i % 2 == 0 else both[::-1]:
            started = time.perf_counter()
            index.search(query[None, :], 10)
            times[name].append((time.perf_counter() - started) * 1000)
    out: dict[str, Any] = {
        "cipher": "AES-256-GCM",
        "nprobe": plain.params()["nprobe"],
        "latency_queries": len(single),
    }
    # A collection small enough to be scanned exactly: every vector in it is read (decrypted).
    allowed = np.arange(EXACT_FILTER_MAX_FACES, dtype=np.int64)
    filtered = queries[:100]
    for name, index in both:
        started = time.perf_counter()
        for start in range(0, len(queries), 256):
            index.search(queries[start : start + 256], 10)
        batch_qps = len(queries) / (time.perf_counter() - started)
        filter_times = []
        for query in filtered:
            started = time.perf_counter()
            index.search(query[None, :], 10, allowed)
            filter_times.append((time.perf_counter() - started) * 1000)
        out[name] = {
            "build_seconds": round(plain_build_s if index is plain else sealed_build_s, 1),
            "latency_ms_p50": percentile(times[name], 50),
            "latency_ms_p99": percentile(times[name], 99),
            "batch_queries_per_s": round(batch_qps, 1),
            f"filter_{EXACT_FILTER_MAX_FACES}_latency_ms_p50": percentile(filter_times, 50),
            "vectors_file_bytes_on_disk": index._vectors.disk_bytes(),
        }
    _, plain_ids = plain.search(queries, 10)
    _, sealed_ids = sealed.search(queries, 10)
    out["same_top10_as_plain"] = round(float((plain_ids == sealed_ids).all(axis=1).mean()), 4)
    out["sealed_over_plain"] = {
        key: round(out["sealed"][key] / out["plain"][key], 3)
        for key in out["plain"]
        if key != "vectors_file_bytes_on_disk"
    }
    print(f"encryption: {out}", flush=True)
    return out


def persist_and_open(
    index: FaissTieredIndex, work: Path, options: IndexOptions, into: dict[str, Any]
) -> None:
    """Seconds to persist ``index`` and to open it again from its files."""
    started = time.perf_counter()
    index.persist()
    into["persist_seconds"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    reopened = create_index("faiss-tiered", MODEL, work, options)
    into["open_seconds"] = round(time.perf_counter() - started, 3)
    assert reopened.count() == index.count(), "reopened with fewer faces"


def hnsw(
    gallery: np.ndarray,
    queries: np.ndarray,
    exact_ids: np.ndarray,
    exact_scores: np.ndarray,
    hit: Callable[[np.ndarray], float],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """FAISS's HNSW over the full vectors, for the choice of index: recall and latency for a
    range of ``efSearch``, build time, bytes a face."""
    index = faiss.IndexHNSWFlat(gallery.shape[1], args.hnsw, faiss.METRIC_INNER_PRODUCT)
    started = time.perf_counter()
    for start in range(0, len(gallery), _CHUNK):
        index.add(np.ascontiguousarray(gallery[start : start + _CHUNK]))
    out: dict[str, Any] = {
        "M": args.hnsw,
        "build_seconds": round(time.perf_counter() - started, 1),
        "index_bytes_per_face": round(faiss.serialize_index(index).nbytes / len(gallery), 1),
        "curve": [],
    }
    for ef in (64, 128, 256, 512):
        index.hnsw.efSearch = ef
        scores, ids = index.search(queries, 10)
        top1 = (ids[:, 0] == exact_ids[:, 0]) | (np.abs(scores[:, 0] - exact_scores[:, 0]) < 1e-6)
        timed = latencies_ms(lambda q: index.search(q, 10), queries[: args.latency_queries])
        point = {
            "efSearch": ef,
            "recall_at_1": round(float(top1.mean()), 4),
            "rank1_hit_rate_mated": round(hit(ids[:, 0]), 4),
            "latency_ms_p50": percentile(timed, 50),
            "latency_ms_p99": percentile(timed, 99),
        }
        print(f"HNSW{args.hnsw} {point}", flush=True)
        out["curve"].append(point)
    return out


def baselines(
    gallery: np.ndarray,
    queries: np.ndarray,
    labels: np.ndarray,
    query_labels: np.ndarray,
    index: FaissTieredIndex,
) -> dict[str, Any]:
    import face_recognition  # imported here: the package loads dlib's models on import

    in_ram = np.ascontiguousarray(gallery)  # both baselines scan an in-memory array

    def run(top1: Callable[[np.ndarray], int]) -> dict[str, Any]:
        top1(queries[0])  # warm up
        found, times = [], []
        for query in queries:
            started = time.perf_counter()
            found.append(top1(query))
            times.append((time.perf_counter() - started) * 1000)
        hits = labels[np.array(found)] == query_labels
        return {
            "latency_ms_p50": round(statistics.median(times), 3),
            "rank1_hit_rate_mated": round(float(hits.mean()), 4),
        }

    measured = {
        "facelens": run(lambda q: int(index.search(q[None, :], 1)[1][0, 0])),
        "face_recognition.face_distance": run(
            lambda q: int(np.argmin(face_recognition.face_distance(in_ram, q)))
        ),
        "numpy brute force": run(lambda q: int(np.argmax(in_ram @ q))),
    }
    ours = measured["facelens"]["latency_ms_p50"]
    for row in measured.values():
        row["times_slower_than_facelens"] = round(row["latency_ms_p50"] / ours, 1)
    return {"queries": len(queries), **measured}


def print_table(result: dict[str, Any]) -> None:
    ours = result["facelens"]
    print(
        f"\n{result['faces']:,} faces; {ours['index'].get('kind')} "
        f"nlist={ours['index'].get('nlist')} PQ{ours['index'].get('pq_subquantizers')} "
        f"rerank={ours['index'].get('rerank_candidates')}; build {ours['build_seconds']} s; "
        f"index {ours['index_bytes_per_face']} B/face; "
        f"add {ours['add_faces_per_s']}/s, delete {ours['delete_faces_per_s']}/s"
    )
    print(
        f"{'nprobe':>6} {'p50 ms':>8} {'p99 ms':>8} {'batch q/s':>10} {'R@1':>7} {'R@10':>7} "
        f"{'rank-1':>7}"
    )
    for p in ours["curve"]:
        print(
            f"{p['nprobe']:>6} {p['latency_ms_p50']:>8} {p['latency_ms_p99']:>8} "
            f"{p['batch_queries_per_s']:>10} {p['recall_at_1']:>7} {p['recall_at_10']:>7} "
            f"{p['rank1_hit_rate_mated']:>7}"
        )
    print(f"exact search rank-1 hit rate (mated): {result['exact']['rank1_hit_rate_mated']}")
    if "hnsw" in result:
        h = result["hnsw"]
        print(
            f"\nFAISS HNSW{h['M']} (full vectors): build {h['build_seconds']} s, "
            f"{h['index_bytes_per_face']} B/face"
        )
        print(f"{'efSearch':>8} {'p50 ms':>8} {'p99 ms':>8} {'R@1':>7} {'rank-1':>7}")
        for p in h["curve"]:
            print(
                f"{p['efSearch']:>8} {p['latency_ms_p50']:>8} {p['latency_ms_p99']:>8} "
                f"{p['recall_at_1']:>7} {p['rank1_hit_rate_mated']:>7}"
            )
    if "encryption" in result:
        print_encryption(result["faces"], result["encryption"])
    if "baselines" in result:
        print(f"\nside by side, {result['baselines']['queries']} mated queries, one at a time:")
        print(f"{'method':<32} {'p50 ms':>9} {'rank-1':>7} {'x facelens':>11}")
        for name, row in result["baselines"].items():
            if isinstance(row, dict):
                print(
                    f"{name:<32} {row['latency_ms_p50']:>9} {row['rank1_hit_rate_mated']:>7} "
                    f"{row['times_slower_than_facelens']:>11}"
                )


def print_encryption(faces: int, encryption: dict[str, Any]) -> None:
    filtered = f"filter_{EXACT_FILTER_MAX_FACES}_latency_ms_p50"
    print(
        f"\nencryption at rest ({encryption['cipher']}), {faces:,} faces, nprobe "
        f"{encryption['nprobe']}, {encryption['latency_queries']} single queries taking turns; "
        f"same top-10 as plain: {encryption['same_top10_as_plain']}"
    )
    print(
        f"{'index':<12} {'p50 ms':>8} {'p99 ms':>8} {'batch q/s':>10} {'add/s':>10} "
        f"{'delete/s':>11} {'build s':>8} {'persist s':>9} {'open s':>7} "
        f"{'filter ' + format(EXACT_FILTER_MAX_FACES, ',') + ' p50 ms':>22}"
    )
    columns = (
        ("latency_ms_p50", 8),
        ("latency_ms_p99", 8),
        ("batch_queries_per_s", 10),
        ("add_faces_per_s", 10),
        ("delete_faces_per_s", 11),
        ("build_seconds", 8),
        ("persist_seconds", 9),
        ("open_seconds", 7),
        (filtered, 22),
    )
    for name in ("plain", "sealed", "sealed_over_plain"):
        row = encryption[name]
        label = "sealed/plain" if name == "sealed_over_plain" else name
        cells = " ".join(f"{row.get(key, ''):>{width}}" for key, width in columns)
        print(f"{label:<12} {cells}")


if __name__ == "__main__":
    main()
