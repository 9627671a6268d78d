"""Server load: Pyserini's REST server with I^3 indexes under 1, 4 and 16 requests at once.

The server is started as a user would, ``python -m pyserini.server.rest --config FILE --host 127.0.0.1``
with its result caches off (``--search-cache-size 0 --document-cache-size 0``: every request searches),
serving SciFact's 5,183 passages three ways: ``scifact-i3`` (the FAISS flat index ``make demo``
builds with ``--encoder i3``), ``scifact-i3-hnsw`` (the same vectors in a Lucene HNSW int8 index,
``python -m pyserini_i3 index-dense``, efSearch 1000) and ``scifact-bm25`` (the demo's Lucene index,
also the documents of both).  A client on 127.0.0.1 (stdlib ``urllib`` in a thread pool) sends each
alias ``--requests`` searches (SciFact's 300 test claims in turn, 10 hits with their documents) at
each concurrency level, and records failures (any status but 200, or no answer), requests/s and
p50/p99 latency.  The whole grid runs twice: with the plugin's lock around the backend's JVM calls
(the default) and without it (``PYSERINI_I3_SERVER_LOCK=0``), which is Pyserini's own behaviour.

Writes runs/server-load/results.json and results.md.  Needs ``make demo`` first (its indexes in
.work/demo/).  Usage: ``make bench-server`` or ``python benchmarks/server_load.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from efficiency import load_average, provenance, run_record  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
ALIASES = ("scifact-i3", "scifact-i3-hnsw", "scifact-bm25")
JVM_ERRORS = ("IncompatibleClassChangeError", "NullPointerException", "Traceback")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str) -> tuple[int, float, str]:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            response.read()
            status, error = response.status, ""
    except urllib.error.HTTPError as exc:
        status, error = exc.code, exc.read().decode("utf-8", "replace")[:200]
    except OSError as exc:
        status, error = 0, f"{type(exc).__name__}: {exc}"[:200]
    return status, time.perf_counter() - start, error


def load(base: str, alias: str, queries: list[str], n: int, concurrency: int) -> dict:
    urls = [f"{base}/v1/{alias}/search?{urllib.parse.urlencode({'query': queries[i % len(queries)], 'hits': 10})}"
            for i in range(n)]
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(request, urls))
    wall = time.perf_counter() - start
    latencies = sorted(r[1] for r in results)
    failed = [r for r in results if r[0] != 200]
    return {"requests": n, "failed": len(failed), "requests_per_s": round(n / wall, 1),
            "p50_ms": round(1000 * statistics.median(latencies), 1),
            "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
            "errors": sorted({f"{s} {e}" for s, e in ((r[0], r[2]) for r in failed)})[:3]}


def serve(config: Path, env: dict, log: Path):
    port = free_port()
    proc = subprocess.Popen([PY, "-m", "pyserini.server.rest", "--config", str(config), "--host", "127.0.0.1",
                             "--port", str(port), "--search-cache-size", "0", "--document-cache-size", "0"],
                            env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"server_load: the REST server exited; see {log}")
        try:
            urllib.request.urlopen(base + "/docs", timeout=2).close()
            return proc, base
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"server_load: the REST server did not start; see {log}")


def write_report(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = ["# Server load: Pyserini's REST server with I^3 indexes", "",
             provenance(results), "",
             results["setup"], "",
             "| plugin lock | alias | at once | requests | failed | requests/s | p50 ms | p99 ms | first errors |",
             "|---|---|---|---|---|---|---|---|---|"]
    for lock, grid in results["grid"].items():
        for alias, levels in grid.items():
            for level, row in levels.items():
                errors = "; ".join(e.replace("|", "/") for e in row["errors"]) or "-"
                lines.append(f"| {lock} | {alias} | {level} | {row['requests']} | {row['failed']} | "
                             f"{row['requests_per_s']} | {row['p50_ms']} | {row['p99_ms']} | {errors} |")
    for lock, counts in results.get("server_log", {}).items():
        lines += ["", f"Server log, lock {lock}: " + ", ".join(f"{n} x {name}" for name, n in counts.items()) + "."]
    lines += ["", "Reproduce: `make demo` then `make bench-server` (or `python benchmarks/server_load.py --help`)."]
    (out / "results.md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", type=Path, default=REPO / ".work" / "demo", help="make demo's work folder")
    parser.add_argument("--work", type=Path, default=REPO / ".work" / "bench-server")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "server-load")
    parser.add_argument("--requests", type=int, default=300, help="requests per alias and level (default 300)")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--locks", nargs="+", default=["on", "off"], choices=["on", "off"])
    args = parser.parse_args(argv)
    faiss_index, bm25_index = args.demo / "indexes" / "faiss-i3", args.demo / "indexes" / "lucene"
    topics = args.demo / "topics.tsv"
    for path in (faiss_index / "index", bm25_index, topics):
        if not path.exists():
            raise SystemExit(f"server_load: {path} not found: run `make demo` first")
    started, load_start = time.time(), load_average()
    args.work.mkdir(parents=True, exist_ok=True)
    hnsw = args.work / "lucene-hnsw-int8-i3"
    if not any(hnsw.glob("segments_*")):
        subprocess.run([PY, "-m", "pyserini_i3", "index-dense", "--input", str(faiss_index), "--output", str(hnsw),
                        "--hnsw", "--int8", "--quiet"], check=True)
    config = args.work / "config.yaml"
    config.write_text("indexes:\n"
                      f"  scifact-bm25: {{path: {bm25_index.resolve()}, index_type: tf}}\n"
                      f"  scifact-i3: {{path: {faiss_index.resolve()}, index_type: faiss, encoder: i3, "
                      "base_index: scifact-bm25}\n"
                      f"  scifact-i3-hnsw: {{path: {hnsw.resolve()}, index_type: lucene_hnsw, encoder: i3, "
                      "ef_search: 1000, base_index: scifact-bm25}\n")
    queries = [line.split("\t", 1)[1] for line in topics.read_text().splitlines()]
    grid, jvm_errors = {}, {}
    for lock in args.locks:
        env = {**os.environ, "PYSERINI_I3_SERVER_LOCK": "1" if lock == "on" else "0"}
        proc, base = serve(config, env, args.work / f"server-lock-{lock}.log")
        try:
            for alias in ALIASES:  # warm: load the model and open the index before timing
                request(f"{base}/v1/{alias}/search?query=warm&hits=10")
            grid[lock] = {alias: {str(level): load(base, alias, queries, args.requests, level)
                                  for level in args.levels} for alias in ALIASES}
            print(json.dumps(grid[lock]), flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        text = (args.work / f"server-lock-{lock}.log").read_text(errors="replace")
        jvm_errors[lock] = {name: text.count(name) for name in JVM_ERRORS}
    results = {
        **run_record("server_load.py", argv, started, load_start),
        "setup": ("Config (paths shortened): `scifact-bm25: {path: .work/demo/indexes/lucene, index_type: tf}`, "
                  "`scifact-i3: {path: .work/demo/indexes/faiss-i3, index_type: faiss, encoder: i3, base_index: "
                  "scifact-bm25}`, `scifact-i3-hnsw: {path: .work/bench-server/lucene-hnsw-int8-i3, index_type: "
                  "lucene_hnsw, encoder: i3, ef_search: 1000, base_index: scifact-bm25}`; "
                  f"{args.requests} requests per alias and level, `GET /v1/ALIAS/search?query=CLAIM&hits=10` "
                  "(the 10 hits with their documents); a warm-up request per alias first."),
        "grid": grid, "server_log": jvm_errors,
    }
    write_report(results, args.out)
    print(f"server_load: {args.out}/results.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
