"""``python -m pyserini_i3 prepare``: build a Tevatron-shaped training file with mined hard negatives.

Reads a collection, queries and qrels (BEIR layout or MS MARCO TSVs), keeps every
judged-positive passage found in the collection, mines hard negatives with BM25
through Pyserini (or from a FAISS index of a dense model), attaches optional
teacher scores and pseudo-queries, and writes one JSON object per query.

Skipped input (malformed lines, ids the other files do not know, queries left
without a positive) is counted and reported in one summary line on stderr.  The
output file appears only when everything succeeded.  Library: :mod:`pyserini_i3.training.prepare`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pyserini_i3.training.prepare import PrepareConfig, prepare
from pyserini_i3.utils.formats import FORMATS

PROG = "python -m pyserini_i3 prepare"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    src = parser.add_argument_group("input")
    src.add_argument("--beir-dir", type=Path,
                     help="a BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)")
    src.add_argument("--split", default="train", help="qrels split with --beir-dir (default: train)")
    src.add_argument("--collection", type=Path,
                     help="corpus.jsonl or collection.tsv (pid<TAB>text or pid<TAB>title<TAB>text)")
    src.add_argument("--queries", type=Path, help="queries.jsonl or queries.tsv (qid<TAB>text)")
    src.add_argument("--qrels", type=Path, help="qrels: BEIR tsv, TREC 'qid 0 docid rel' or 'qid docid'")
    src.add_argument("--format", choices=FORMATS, default="auto", help="collection and queries format (default: auto)")
    src.add_argument("--output", type=Path, required=True, help="training file to write (Tevatron JSONL)")
    mine = parser.add_argument_group("hard negatives")
    mine.add_argument("--bm25-index", type=Path,
                      help="an existing Lucene index (default: build one from the collection)")
    mine.add_argument("--keep-bm25-index", type=Path, metavar="DIR",
                      help="keep the BM25 index built from the collection in DIR/index (e.g. for teacher-scores "
                           "--bm25-index); default: a temporary directory")
    mine.add_argument("--dense-index", type=Path,
                      help="a Pyserini FAISS index folder (index + docid) to mine from instead of BM25")
    mine.add_argument("--dense-encoder",
                      help="query encoder for --dense-index: an I3 encoder folder, or see --dense-encoder-type")
    mine.add_argument("--dense-encoder-type", choices=("i3", "pyserini"), default="i3",
                      help="i3: our I3QueryEncoder; pyserini: let FaissSearcher pick its encoder from the name")
    mine.add_argument("--depth", type=int, default=100, help="search depth K (default: 100)")
    mine.add_argument("--negatives", type=int, default=15,
                      help="negatives N drawn from the top K, positives excluded (default: 15; 0: none)")
    mine.add_argument("--seed", type=int, default=42, help="seed for drawing negatives (default: 42)")
    mine.add_argument("--threads", type=int, default=2, help="indexing and search threads (default: 2)")
    mine.add_argument("--bm25-k1", type=float, default=0.9, help="BM25 k1 (default: 0.9, Anserini's)")
    mine.add_argument("--bm25-b", type=float, default=0.4, help="BM25 b (default: 0.4, Anserini's)")
    extra = parser.add_argument_group("optional extras")
    extra.add_argument("--teacher-scores", type=Path,
                       help="qid<TAB>docid<TAB>score or a TREC run: a 'score' per passage")
    extra.add_argument("--pseudo-queries", type=Path,
                       help="docid<TAB>text: a 'pseudo_query' per passage (reconstruction target)")
    return parser


def config_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> PrepareConfig:
    if args.beir_dir is not None:
        args.collection = args.collection or args.beir_dir / "corpus.jsonl"
        args.queries = args.queries or args.beir_dir / "queries.jsonl"
        args.qrels = args.qrels or args.beir_dir / "qrels" / f"{args.split}.tsv"
    missing = [f"--{n}" for n in ("collection", "queries", "qrels") if getattr(args, n) is None]
    if missing:
        parser.error(f"give --beir-dir or {', '.join(missing)}")
    names = [f.name for f in PrepareConfig.__dataclass_fields__.values()]
    return PrepareConfig(**{n: getattr(args, n) for n in names if hasattr(args, n)})


def load_query_encoder(spec: str, kind: str = "i3"):
    """The query encoder for ``--dense-encoder``: our I3QueryEncoder (an I^3 model folder, or
    ``i3`` for the shipped default), or ``spec`` itself, for FaissSearcher to resolve."""
    if kind == "pyserini":
        return spec
    if kind != "i3":
        raise ValueError(f"unknown dense encoder type {kind!r}; choose i3 or pyserini")
    try:
        from pyserini_i3.plugin.encoders import I3QueryEncoder
    except ImportError as error:
        raise RuntimeError(f"the I3 query encoder is not available ({error}); "
                           "try --dense-encoder-type pyserini") from error
    return I3QueryEncoder(spec)


def main(argv: list[str]) -> int:
    parser = build_parser()
    cfg = config_from_args(parser.parse_args(argv), parser)
    try:
        cfg.check()
        encoder = load_query_encoder(cfg.dense_encoder, cfg.dense_encoder_type) if cfg.dense_index else None
        result = prepare(cfg, query_encoder=encoder)
    except (OSError, ValueError, RuntimeError) as error:
        print(f"prepare: error: {error}; no output written", file=sys.stderr)
        return 1
    print(result.summary_line(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
