"""``python -m pyserini_i3 index-dense --input ENCODED --output IDX (--hnsw | --flat) [--int8]``.

Anserini's Lucene dense indexes from ``pyserini.encode`` output (its jsonl directory, or a flat
FAISS index), for the searches Pyserini runs with Anserini's HNSW and flat searchers.  The options
read as ``python -m pyserini.index.faiss``'s (``--M``, ``--efC``) and map to Anserini's
``IndexHnswDenseVectors`` / ``IndexFlatDenseVectors`` (``-M``, ``-efC``, ``-quantize.sqv`` or, in
Anserini 1.x, ``-quantize.int8``).  Search it unchanged::

    python -m pyserini.search.lucene --dense --hnsw --index IDX --ef-search 1000 \\
        --topics TOPICS --encoder i3 --output run.txt

The index appears whole or not at all.  Vectors that are not unit length are refused (Lucene's
DOT_PRODUCT assumes them): index such a model with FAISS.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyserini_i3 index-dense", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True,
                        help="pyserini.encode output: a directory of jsonl files, or a flat FAISS index directory")
    parser.add_argument("--output", required=True, help="the Lucene index directory to write")
    kind = parser.add_mutually_exclusive_group(required=True)
    kind.add_argument("--hnsw", action="store_true", help="an HNSW graph (searched with --ef-search)")
    kind.add_argument("--flat", action="store_true", help="no graph: every query scores every vector")
    parser.add_argument("--M", type=int, default=16, help="HNSW: links per node (default 16, as Anserini's)")
    parser.add_argument("--efC", type=int, default=100,
                        help="HNSW: candidate list while building (default 100, Anserini's BEIR regressions)")
    parser.add_argument("--int8", action="store_true", help="quantize the vectors to int8 (Lucene scalar quantization)")
    parser.add_argument("--threads", type=int, default=4, help="indexing threads (default 4)")
    parser.add_argument("--optimize", action="store_true",
                        help="merge into one segment (slower to build, faster to search)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no Anserini log")
    args = parser.parse_args(argv)
    for name in ("M", "efC", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")

    from pyserini_i3.plugin.lucene_dense import build_index

    start = time.time()
    try:
        built = build_index(args.input, args.output, kind="hnsw" if args.hnsw else "flat", M=args.M,
                            ef_construction=args.efC, int8=args.int8, threads=args.threads, optimize=args.optimize,
                            progress=not args.quiet)
    except (OSError, ValueError) as exc:
        print(f"index-dense: {exc}", file=sys.stderr)
        return 2
    print(f"index-dense: {args.output}: {json.dumps(built)} in {time.time() - start:.1f} s")
    return 0
