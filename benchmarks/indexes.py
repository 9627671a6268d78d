"""Index benchmark: what each index Pyserini and Anserini offer costs and loses with I^3, as corpora grow.

Part 1, real collections: SciFact (5,183 passages, the 300 test claims) and the union of the MS MARCO
pools in ../shared/data/msmarco-pools (43,076 passages; DL19's 43 and DL20's 54 topics scored on their
pool qrels).  Two models side by side: I^3 (``i3``, the shipped encoder) and DE (the same
all-MiniLM-L6-v2 backbone zero-shot: ``I3Model.from_backbone(variant="de")``), each collection encoded
once per model (``I3Model.encode_passages``, batch 32) into a Pyserini flat FAISS index
(``index`` + ``docid``), kept as a cell in the work folder.  From it, with the projects' own commands:

* FAISS flat (that index), FAISS HNSW (``python -m pyserini.index.faiss --hnsw --M 32 --efC 200``,
  efSearch 256, docs/pyserini.md's settings) and FAISS PQ (``--pq --pq-m 96``: 96 one-byte codes);
* Lucene flat, flat int8, HNSW and HNSW int8 (``python -m pyserini_i3 index-dense``, M 16, efC 100,
  efSearch 1000: Anserini's BEIR regression settings).

For each: build time (the command's wall time, start-up included), size on disk (for Lucene, also the
part a search reads: the quantized vectors and the graph), query latency p50/p99 with the query vectors
computed beforehand (index only, top 100, one thread; FAISS also batched: all queries in one call,
2 threads), nDCG@10 and R@100 with the paired t-test against flat, and recall@100 against flat's top 100.

Part 2, synthetic: vectors drawn around the real I^3 vectors (each a real passage vector plus Gaussian
noise, ``--noise`` of its length, renormalised) at 10k ... ``--synthetic-max`` (1M), searched by the
collections' real query vectors, for index-only costs: build time, size, latency, recall@100 against
exact search; FAISS at every size, Lucene up to ``--synthetic-lucene-max``.  Then the fit of each cost
against the size and its extrapolation to MS MARCO's 8,841,823 passages (384-d here; size and flat
latency double at 768-d), and the index this recommends there.

Each (collection, model) and each synthetic size is a cell in runs/indexes/cells/ (committed: a later
run skips it; the vectors and indexes stay in the work folder); writes runs/indexes/results.json and
results.md from the cells.
Usage: ``make bench-indexes`` or ``python benchmarks/indexes.py --help``.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from efficiency import load_average, provenance, run_record  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
MSMARCO_PASSAGES = 8_841_823
EXTRAPOLATE_FROM = 1_000_000  # the report extrapolates only from synthetic sizes up to this
K = 100
FAISS_HNSW = ["--hnsw", "--M", "32", "--efC", "200"]
FAISS_EF, LUCENE_EF = 256, 1000
INDEXES = {  # name -> (kind, build options, efSearch)
    "faiss-flat": ("faiss", None, None),
    "faiss-hnsw": ("faiss", FAISS_HNSW, FAISS_EF),
    "faiss-pq": ("faiss", ["--pq", "--pq-m", "96"], None),
    "lucene-flat": ("lucene", ["--flat"], None),
    "lucene-flat-int8": ("lucene", ["--flat", "--int8"], None),
    "lucene-hnsw": ("lucene", ["--hnsw", "--M", "16", "--efC", "100"], LUCENE_EF),
    "lucene-hnsw-int8": ("lucene", ["--hnsw", "--M", "16", "--efC", "100", "--int8"], LUCENE_EF),
}
SYNTHETIC_INDEXES = ("faiss-flat", "faiss-hnsw", "faiss-pq", "lucene-hnsw-int8", "lucene-flat-int8")


# --------------------------------------------------------------------------- collections and vectors
def collections(shared: Path, which: list[str]) -> dict:
    """name -> {passages: [(id, title, text)], topics: {set: {qid: text}}, qrels: {set: path}}."""
    out = {}
    if "scifact" in which:
        beir = shared / "scifact"
        passages = []
        with open(beir / "corpus.jsonl", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                passages.append((d["_id"], d.get("title") or None, d["text"]))
        with open(beir / "queries.jsonl", encoding="utf-8") as f:
            queries = {row["_id"]: row["text"] for row in map(json.loads, f)}
        qrels_path = beir / "qrels" / "test.tsv"
        judged = {line.split("\t")[0] for line in qrels_path.read_text().splitlines()[1:] if line.strip()}
        out["scifact"] = {"passages": passages, "topics": {"test": {q: queries[q] for q in sorted(judged)}},
                          "qrels": {"test": qrels_path}}
    if "msmarco" in which:
        pools = shared / "msmarco-pools"
        seen, passages = set(), []
        for name in ("dl19", "dl20", "dev600"):
            with open(pools / name / "collection.tsv", encoding="utf-8") as f:
                for line in f:
                    pid, _, text = line.rstrip("\n").partition("\t")
                    if pid not in seen:
                        seen.add(pid)
                        passages.append((pid, None, text))
        topics = {name: dict(line.split("\t", 1) for line in (pools / name / "queries.tsv").read_text().splitlines())
                  for name in ("dl19", "dl20")}
        out["msmarco"] = {"passages": passages, "topics": topics,
                          "qrels": {name: pools / name / "qrels.txt" for name in ("dl19", "dl20")}}
    return out


def load_system(name: str):
    from pyserini_i3.modeling.model import I3Model
    from pyserini_i3.plugin.resolve import load_model

    return load_model("i3") if name == "i3" else I3Model.from_backbone(variant="de")


def encode_cell(work: Path, collection: str, system: str, col: dict) -> tuple[Path, float]:
    """The flat FAISS index of ``collection`` under ``system`` (a cell), and the seconds it took."""
    import faiss

    from pyserini_i3.utils.files import atomic_dir

    out = work / "vectors" / f"{collection}-{system}"
    record = out / "encode.json"
    if record.is_file():
        return out, json.loads(record.read_text())["seconds"]
    model = load_system(system)
    start = time.time()
    ids, titles, texts = zip(*col["passages"])
    vectors = model.encode_passages(list(texts), list(titles), batch_size=32, show_progress=True)
    seconds = time.time() - start
    with atomic_dir(out) as tmp:
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        faiss.write_index(index, str(tmp / "index"))
        (tmp / "docid").write_text("".join(f"{i}\n" for i in ids))
        for name, topics in col["topics"].items():
            q = model.encode_queries(list(topics.values()), batch_size=64)
            np.save(tmp / f"queries-{name}.npy", q)
            (tmp / f"queries-{name}.txt").write_text("".join(f"{qid}\n" for qid in topics))
        (tmp / "encode.json").write_text(json.dumps({"seconds": seconds, "passages": len(ids)}))
    return out, seconds


# --------------------------------------------------------------------------- building and measuring
def sh(cmd: list[str], log: Path) -> float:
    start = time.time()
    with open(log, "a") as f:
        f.write("$ " + shlex.join(cmd) + "\n")
        f.flush()
        result = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if result.returncode:
        raise SystemExit(f"indexes: command failed (exit {result.returncode}), see {log}: {shlex.join(cmd)}")
    return time.time() - start


def build(flat: Path, name: str, out: Path, log: Path) -> float:
    """Build index ``name`` from the flat FAISS index ``flat`` into ``out`` (unless there); its seconds."""
    kind, options, _ = INDEXES[name]
    done = out / "build.json"
    if done.is_file():
        return json.loads(done.read_text())["seconds"]
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)  # pyserini.index.faiss makes only the last folder
    if kind == "faiss":
        cmd = [PY, "-m", "pyserini.index.faiss", "--input", str(flat), "--output", str(out), "--threads", "2",
               *options]
    else:
        cmd = [PY, "-m", "pyserini_i3", "index-dense", "--input", str(flat), "--output", str(out), "--threads", "2",
               "--quiet", *options]
    seconds = sh(cmd, log)
    done.write_text(json.dumps({"seconds": seconds, "command": shlex.join(cmd[1:])}))
    return seconds


def sizes(index: Path, kind: str) -> dict:
    files = [p for p in index.iterdir() if p.is_file() and p.name != "build.json"]
    total = sum(p.stat().st_size for p in files)
    out = {"bytes": total}
    if kind == "lucene":  # .vec raw float vectors, .veq int8 vectors, .vex the HNSW graph
        by_ext = {}
        for p in files:
            by_ext[p.suffix] = by_ext.get(p.suffix, 0) + p.stat().st_size
        if ".cfs" in by_ext:  # small segments go into compound files: the parts are not told apart here
            out["searched_bytes"] = out["float_vector_bytes"] = None
        else:
            out["searched_bytes"] = by_ext.get(".veq", by_ext.get(".vec", 0)) + by_ext.get(".vex", 0)
            out["float_vector_bytes"] = by_ext.get(".vec", 0)
    return out


class Searcher:
    """Top-k by query vector on one index, FAISS or Lucene, timed per query."""

    def __init__(self, index: Path, name: str):
        kind, _, ef = INDEXES[name]
        self.kind = kind
        if kind == "faiss":
            import faiss

            self.index = faiss.read_index(str(index / "index"))
            if ef is not None:
                self.index.hnsw.efSearch = ef
            self.ids = (index / "docid").read_text().splitlines()
        else:
            from pyserini_i3.plugin.lucene_dense import LuceneVectorSearcher

            self.lucene = LuceneVectorSearcher(index, ef_search=ef)

    def search(self, vectors: np.ndarray) -> tuple[list[dict[str, float]], list[float]]:
        import faiss

        runs, seconds = [], []
        faiss.omp_set_num_threads(1)
        for v in vectors:
            start = time.perf_counter()
            if self.kind == "faiss":
                scores, rows = self.index.search(v[None, :].astype(np.float32), K)
                hits = {self.ids[r]: float(s) for s, r in zip(scores[0], rows[0]) if r >= 0}
            else:
                hits = {h.docid: h.score for h in self.lucene.search_vector(v, K)}
            seconds.append(time.perf_counter() - start)
            runs.append(hits)
        return runs, seconds

    def batched_ms(self, vectors: np.ndarray) -> float | None:
        if self.kind != "faiss":
            return None
        import faiss

        faiss.omp_set_num_threads(2)
        start = time.perf_counter()
        self.index.search(vectors.astype(np.float32), K)
        return 1000 * (time.perf_counter() - start) / len(vectors)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(index: Path, name: str, vectors: np.ndarray, qids: list[str]) -> tuple[dict, dict]:
    searcher = Searcher(index, name)
    searcher.search(vectors[: min(10, len(vectors))])  # warm
    hits, seconds = searcher.search(vectors)
    timing = {"p50_ms": round(1000 * percentile(seconds, 0.5), 3), "p99_ms": round(1000 * percentile(seconds, 0.99), 3),
              "batched_ms_per_query": searcher.batched_ms(vectors)}
    return timing, dict(zip(qids, hits))


def effectiveness(run: dict, flat: dict, qrels_path: Path) -> dict:
    from pyserini_i3.utils import trec

    qrels = trec.read_qrels(qrels_path)
    per = trec.evaluate(qrels, run, ["ndcg_cut_10", "recall_100"])
    base = trec.evaluate(qrels, flat, ["ndcg_cut_10", "recall_100"])
    overlap = float(np.mean([len(set(run[q]) & set(flat[q])) / max(1, len(flat[q])) for q in flat]))
    out = {**trec.means(per, 4), "recall_vs_flat_100": round(overlap, 4)}
    if run != flat:
        test = trec.paired_t(per["ndcg_cut_10"], base["ndcg_cut_10"])
        out["ndcg_cut_10_vs_flat"] = {"diff": round(test["mean_diff"], 4), "p": test["p"]}
    return out


def real_part(args, work: Path, log: Path) -> dict:
    results = {}
    for collection, col in collections(args.shared, args.collections).items():
        for system in args.systems:
            cell = args.out / "cells" / f"{collection}-{system}.json"
            if cell.is_file():
                results[f"{collection}/{system}"] = json.loads(cell.read_text())
                continue
            if args.report_only:
                continue
            flat, encode_seconds = encode_cell(work, collection, system, col)
            rows = {}
            flat_runs = {}
            for name in INDEXES:
                index = flat if name == "faiss-flat" else work / "indexes" / f"{collection}-{system}" / name
                seconds = 0.0 if name == "faiss-flat" else build(flat, name, index, log)
                row = {"build_s": round(seconds, 1), **sizes(index, INDEXES[name][0]), "topics": {}}
                for topic_set, qrels in col["qrels"].items():
                    vectors = np.load(flat / f"queries-{topic_set}.npy")
                    qids = (flat / f"queries-{topic_set}.txt").read_text().split()
                    timing, run = measure(index, name, vectors, qids)
                    if name == "faiss-flat":
                        flat_runs[topic_set] = run
                    row["topics"][topic_set] = {**timing, **effectiveness(run, flat_runs[topic_set], qrels)}
                rows[name] = row
                print(collection, system, name, json.dumps(row), flush=True)
            entry = {"passages": len(col["passages"]), "encode_s": round(encode_seconds, 1), "indexes": rows}
            cell.parent.mkdir(parents=True, exist_ok=True)
            cell.write_text(json.dumps(entry, indent=1))
            results[f"{collection}/{system}"] = entry
    return results


# --------------------------------------------------------------------------- synthetic
def synthetic_part(args, work: Path, log: Path) -> dict:
    import faiss

    sources = [p for p in sorted((work / "vectors").glob("*-i3")) if (p / "index").is_file()]
    if not sources:
        return {}
    indexes = [faiss.read_index(str(p / "index")) for p in sources]
    base = np.vstack([index.reconstruct_n(0, index.ntotal) for index in indexes])
    queries = np.vstack([np.load(q) for p in sources for q in sorted(p.glob("queries-*.npy"))])
    rng = np.random.default_rng(0)
    out = {}
    sizes_ = [n for n in (10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000) if n <= args.synthetic_max]
    for n in sizes_:
        cell = args.out / "cells" / f"synthetic-{n}.json"
        if cell.is_file():
            out[str(n)] = json.loads(cell.read_text())
            continue
        if args.report_only:
            continue
        flat = work / "synthetic" / f"{n}" / "faiss-flat"
        if not (flat / "index").is_file():
            pick = rng.integers(0, len(base), n)
            noise = rng.standard_normal((n, base.shape[1])).astype(np.float32) * (args.noise / math.sqrt(base.shape[1]))
            vectors = base[pick] + noise
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            flat.mkdir(parents=True, exist_ok=True)
            index = faiss.IndexFlatIP(vectors.shape[1])
            index.add(vectors)
            faiss.write_index(index, str(flat / "index"))
            (flat / "docid").write_text("".join(f"s{i}\n" for i in range(n)))
        qids = [f"q{i}" for i in range(len(queries))]
        rows = {}
        exact = None
        for name in SYNTHETIC_INDEXES:
            if INDEXES[name][0] == "lucene" and n > args.synthetic_lucene_max:
                continue
            index = flat if name == "faiss-flat" else work / "synthetic" / f"{n}" / name
            seconds = 0.0 if name == "faiss-flat" else build(flat, name, index, log)
            timing, run = measure(index, name, queries, qids)
            if name == "faiss-flat":
                exact = run
            recall = float(np.mean([len(set(run[q]) & set(exact[q])) / K for q in qids]))
            rows[name] = {"build_s": round(seconds, 1), **sizes(index, INDEXES[name][0]), **timing,
                          "recall_vs_exact_100": round(recall, 4)}
            print("synthetic", n, name, json.dumps(rows[name]), flush=True)
        cell.parent.mkdir(parents=True, exist_ok=True)
        cell.write_text(json.dumps(rows, indent=1))
        out[str(n)] = rows
    return out


def extrapolate(synthetic: dict) -> dict:
    """Per index: size, build time and p50 latency fitted against N (size and build linear through
    the largest two sizes, flat latency linear, HNSW latency linear in log N), at 8,841,823 vectors."""
    out = {}
    ns = sorted(int(n) for n in synthetic)
    if len(ns) < 2:
        return out
    for name in SYNTHETIC_INDEXES:
        points = [(n, synthetic[str(n)][name]) for n in ns if name in synthetic[str(n)]]
        if len(points) < 2:
            continue
        (n1, a), (n2, b) = points[-2], points[-1]

        def linear(key, a=a, b=b, n1=n1, n2=n2):
            slope = (b[key] - a[key]) / (n2 - n1)
            return b[key] + slope * (MSMARCO_PASSAGES - n2)

        if "hnsw" in name:
            slope = (b["p50_ms"] - a["p50_ms"]) / (math.log(n2) - math.log(n1))
            latency = b["p50_ms"] + slope * (math.log(MSMARCO_PASSAGES) - math.log(n2))
        else:
            latency = linear("p50_ms")
        out[name] = {"from_sizes": [n1, n2], "bytes": round(linear("bytes")), "build_s": round(linear("build_s")),
                     "p50_ms": round(latency, 2), "recall_vs_exact_100_at_largest": b["recall_vs_exact_100"]}
    return out


# --------------------------------------------------------------------------- report
def mb(n: float) -> str:
    return f"{n / 2**20:,.1f}"


def write_report(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = ["# Indexes: what each costs and loses with I^3, as the corpus grows", "",
             provenance(results) + " Cells from earlier runs are reused.", "",
             "Settings: FAISS HNSW M 32, efC 200, efSearch 256; FAISS PQ 96 one-byte codes; Lucene (Anserini) HNSW "
             "M 16, efC 100, efSearch 1000. Latency: index only (query vectors computed beforehand), top 100, one "
             "thread; FAISS batched: all queries in one call, 2 threads. Lucene sizes: total on disk / the part a "
             "search reads (int8 vectors + graph, or float vectors + graph).", ""]
    for key, entry in results["real"].items():
        collection, system = key.split("/")
        lines += [f"## {collection} ({entry['passages']:,} passages), {system}: encoded in {entry['encode_s']} s",
                  "",
                  "| index | build s | MiB on disk | MiB searched | topics | nDCG@10 | vs flat (p) | R@100 | "
                  "recall@100 vs flat | p50 ms | p99 ms | batched ms/q |", "|---" * 12 + "|"]
        for name, row in entry["indexes"].items():
            for topic_set, t in row["topics"].items():
                vs = t.get("ndcg_cut_10_vs_flat")
                vs_text = ("-" if not vs else "same per query" if vs["p"] is None
                           else f"{vs['diff']:+.4f} ({vs['p']:.2g})")
                batched = f"{t['batched_ms_per_query']:.3f}" if t["batched_ms_per_query"] else "-"
                searched = mb(row["searched_bytes"]) if row.get("searched_bytes") is not None else "-"
                lines.append(f"| {name} | {row['build_s']} | {mb(row['bytes'])} | {searched} | {topic_set} | "
                             f"{t['ndcg_cut_10']:.4f} | {vs_text} | {t['recall_100']:.4f} | "
                             f"{t['recall_vs_flat_100']:.4f} | {t['p50_ms']} | {t['p99_ms']} | {batched} |")
        lines.append("")
    if results["synthetic"]:
        lines += ["## Synthetic vectors (index-only costs)", "", results["synthetic_note"], "",
                  "| vectors | index | build s | MiB on disk | MiB searched | p50 ms | p99 ms | batched ms/q | "
                  "recall@100 vs exact |", "|---|---|---|---|---|---|---|---|---|"]
        for n, rows in results["synthetic"].items():
            for name, row in rows.items():
                searched = mb(row["searched_bytes"]) if row.get("searched_bytes") is not None else "-"
                batched = f"{row['batched_ms_per_query']:.3f}" if row["batched_ms_per_query"] else "-"
                lines.append(f"| {int(n):,} | {name} | {row['build_s']} | {mb(row['bytes'])} | {searched} | "
                             f"{row['p50_ms']} | {row['p99_ms']} | {batched} | "
                             f"{row['recall_vs_exact_100']:.4f} |")
        if not results["extrapolation"]:
            largest = max(int(n) for n in results["synthetic"])
            lines += ["", f"Not extrapolated to {MSMARCO_PASSAGES:,} vectors: the largest size measured is "
                      f"{largest:,}; the fit waits for sizes up to {EXTRAPOLATE_FROM:,} (below that, build time and "
                      "latency are too noisy here to carry a line 90x past them)."]
        else:
            lines += ["", f"### Extrapolated to {MSMARCO_PASSAGES:,} vectors (384-d)", "",
                      "| index | from sizes | GiB | build h | p50 ms | recall@100 at the largest size |",
                      "|---|---|---|---|---|---|"]
        for name, row in results["extrapolation"].items():
            lines.append(f"| {name} | {row['from_sizes'][0]:,}, {row['from_sizes'][1]:,} | "
                         f"{row['bytes'] / 2**30:.1f} | "
                         f"{row['build_s'] / 3600:.1f} | {row['p50_ms']} | {row['recall_vs_exact_100_at_largest']} |")
    lines += ["", "Reproduce: `make bench-indexes` (or `python benchmarks/indexes.py --help`)."]
    (out / "results.md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=REPO / ".work" / "bench-indexes")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "indexes")
    parser.add_argument("--collections", nargs="+", default=["scifact", "msmarco"], choices=["scifact", "msmarco"])
    parser.add_argument("--systems", nargs="+", default=["i3", "de"], choices=["i3", "de"])
    parser.add_argument("--synthetic-max", type=int, default=1_000_000)
    parser.add_argument("--synthetic-lucene-max", type=int, default=300_000)
    parser.add_argument("--noise", type=float, default=0.6, help="synthetic: noise length against the unit vector")
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument("--report-only", action="store_true", help="the report from the cells there are; no measuring")
    args = parser.parse_args(argv)
    if not args.shared.is_dir():
        raise SystemExit(f"indexes: shared data not found at {args.shared} (expected ../shared/data)")
    started, load_start = time.time(), load_average()
    args.work.mkdir(parents=True, exist_ok=True)
    log = args.work / "bench.log"
    real = real_part(args, args.work, log)
    synthetic = {} if args.no_synthetic else synthetic_part(args, args.work, log)
    results = {
        **run_record("indexes.py", argv, started, load_start),
        "real": real, "synthetic": synthetic,
        "extrapolation": extrapolate(synthetic) if max(map(int, synthetic), default=0) >= EXTRAPOLATE_FROM else {},
        "synthetic_note": (f"Each vector: a real I^3 passage vector (the collections above) plus Gaussian noise of "
                           f"length about {args.noise}, renormalised (seed 0); queries: the collections' real I^3 "
                           "query vectors; recall against exact (flat) search."),
    }
    write_report(results, args.out)
    print(f"indexes: {args.out}/results.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
