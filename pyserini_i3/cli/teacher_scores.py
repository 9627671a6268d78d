"""``python -m pyserini_i3 teacher-scores --train-file IN --teacher MODEL --output OUT``.

Copies a training file with a teacher's score on every passage (the ``score`` key
that ``train`` distils from, ``--kd-weight``).  The teacher is an I^3 model
directory, ``i3``, or any Hugging Face encoder (used as a plain dual encoder with
its sentence-transformers pooling).  Passages are joined as in training
(``title [SEP] text``) and cut at ``--passage-max-length``.
"""

from __future__ import annotations

import argparse
import sys
import time

from pyserini_i3.modeling.backbone import DEFAULT_BACKBONE


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyserini_i3 teacher-scores", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-file", required=True, help="Tevatron-shaped JSONL (python -m pyserini_i3 prepare)")
    parser.add_argument("--teacher", default=DEFAULT_BACKBONE,
                        help=f"i3, an I^3 model directory, or a Hugging Face encoder (default: {DEFAULT_BACKBONE})")
    parser.add_argument("--output", required=True, help="the training file to write, with scores")
    parser.add_argument("--query-max-length", type=int, default=64)
    parser.add_argument("--passage-max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--bm25-index", help="a Pyserini Lucene index of the file's collection: the teacher becomes "
                        "the hybrid of the dense teacher and BM25, fused per query as pyserini.search.hybrid "
                        "--normalization does")
    parser.add_argument("--bm25-alpha", type=float, default=0.5,
                        help="weight of BM25 in the hybrid teacher (pyserini.search.hybrid's --alpha; default 0.5)")
    parser.add_argument("--denoise", action="store_true",
                        help="drop each negative the teacher scores above every positive of its query (likely an "
                             "unjudged relevant passage: RocketQA's denoising)")
    args = parser.parse_args(argv)

    from pathlib import Path

    from pyserini_i3.plugin.resolve import load_encoder
    from pyserini_i3.training.examples import read_training_file, write_training_file
    from pyserini_i3.training.teacher import LuceneBM25, add_teacher_scores, drop_false_negatives, fuse_bm25
    from pyserini_i3.utils.formats import Problems

    if not Path(args.train_file).is_file():
        print(f"teacher-scores: --train-file {args.train_file}: no such file", file=sys.stderr)
        return 1
    if args.bm25_index and not any(Path(args.bm25_index).glob("segments_*")):
        print(f"teacher-scores: --bm25-index {args.bm25_index}: not a Lucene index (no segments file)", file=sys.stderr)
        return 1
    start = time.time()
    problems = Problems()
    examples = read_training_file(args.train_file, problems)
    if not examples:
        print(f"teacher-scores: --train-file {args.train_file}: no usable training example", file=sys.stderr)
        return 1
    try:
        teacher = load_encoder(args.teacher)
    except (OSError, ValueError) as exc:
        print(f"teacher-scores: --teacher {args.teacher}: {exc}", file=sys.stderr)
        return 1
    pairs = add_teacher_scores(examples, teacher, args.query_max_length, args.passage_max_length, args.batch_size)
    what = args.teacher
    if args.bm25_index:
        fuse_bm25(examples, LuceneBM25(args.bm25_index), args.bm25_alpha)
        what = f"{args.teacher} + BM25 (alpha {args.bm25_alpha})"
    denoised = ""
    if args.denoise:
        denoised = f", {drop_false_negatives(examples)} negatives scored above every positive dropped"
    write_training_file(args.output, examples)
    skipped = ", ".join(problems.describe(kind) for kind in sorted(problems.counts))
    print(f"teacher-scores: {len(examples)} queries, {pairs} pairs scored by {what}"
          f"{f' ({skipped} skipped)' if skipped else ''}{denoised}; {args.output} in {time.time() - start:.0f}s",
          file=sys.stderr)
    return 0
