"""``python -m pyserini_i3 expand --encoder NAME_OR_DIR --input CORPUS --output DIR --terms K``.

Writes a Pyserini JsonCollection (``id``, ``contents``) in which each passage of CORPUS carries the
top-K terms of its decoded pseudo-query after its text (doc2query-style expansion from the dense
encoder itself; :meth:`I3Model.pseudo_queries <pyserini_i3.modeling.model.I3Model.pseudo_queries>`
with ``content_only``: no stop words, punctuation or word pieces).  ``--max-repeat R`` repeats each
term in proportion to its probability (the top term R times), so BM25's term frequency carries the
weight.  Index it unchanged::

    python -m pyserini.index.lucene --collection JsonCollection --input DIR --index IDX \\
        --generator DefaultLuceneDocumentGenerator --threads 2 --storeRaw

The output is written in parts of ``--chunk-size`` passages, each atomically: an interrupted run
leaves whole parts only, and the same command resumes after the last one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SETTINGS = "expand-settings.txt"  # not .json: JsonCollection reads every .json / .jsonl file in DIR


def _bool(value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, not {value!r}")
    return value.lower() == "true"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyserini_i3 expand", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="i3", help="i3, a released name, or an I^3 model directory")
    parser.add_argument("--input", required=True, help="a collection file (JsonCollection, BEIR corpus.jsonl, TSV)")
    parser.add_argument("--output", required=True, help="the JsonCollection directory to write")
    parser.add_argument("--terms", type=int, default=20, help="expansion terms per passage (default 20)")
    parser.add_argument("--max-repeat", type=int, default=1,
                        help="1: each term once; R > 1: the top term R times, the others in proportion")
    parser.add_argument("--max-length", type=int, help="passage tokens (default: the model's passage length)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--chunk-size", type=int, default=10000, help="passages per output part (default 10000)")
    parser.add_argument("--progress", type=_bool, default=True, help="a progress bar (default true)")
    args = parser.parse_args(argv)
    for name in ("terms", "max_repeat", "batch_size", "chunk_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    from pyserini_i3.modeling.pseudo_query import check_decodable, expansion
    from pyserini_i3.plugin.resolve import load_model, resolve
    from pyserini_i3.utils.files import write_atomic
    from pyserini_i3.utils.formats import MALFORMED, Problems, read_collection

    out = Path(args.output)
    try:
        if not Path(args.input).is_file():
            raise ValueError(f"--input {args.input}: no such file")
        problems = Problems()
        docs = read_collection(args.input, problems=problems)
        if problems.count(MALFORMED):
            raise ValueError(f"--input {args.input}: {problems.describe(MALFORMED)}")
        if not docs:
            raise ValueError(f"--input {args.input}: no passages")
        encoder = resolve(args.encoder)
        settings = {"encoder": str(encoder.resolve()) if encoder else args.encoder,
                    "input": str(Path(args.input).resolve()), "passages": len(docs), "terms": args.terms,
                    "max_repeat": args.max_repeat, "max_length": args.max_length, "chunk_size": args.chunk_size}
        recorded = out / SETTINGS
        if recorded.is_file():
            if json.loads(recorded.read_text()) != settings:
                raise ValueError(f"--output {out}: holds an expansion made with other settings ({recorded}); "
                                 "choose another --output or remove it")
        elif out.exists() and any(out.iterdir()):
            raise ValueError(f"--output {out}: exists and is not an expansion directory (no {SETTINGS})")
    except (OSError, ValueError) as exc:
        print(f"expand: {exc}", file=sys.stderr)
        return 2
    try:
        model = load_model(args.encoder)
        check_decodable(model)
    except (OSError, ValueError) as exc:
        print(f"expand: --encoder {args.encoder}: {exc}", file=sys.stderr)
        return 2
    write_atomic(recorded, json.dumps(settings, indent=1) + "\n")

    from tqdm.auto import tqdm

    ids = list(docs)
    chunks = range(0, len(ids), args.chunk_size)
    parts = [out / f"part-{c // args.chunk_size:05d}.jsonl" for c in chunks]
    resumed = sum(p.is_file() for p in parts)
    bar = tqdm(total=len(ids), unit="passage", desc="expand", disable=not args.progress)
    for start, part in zip(chunks, parts):
        chunk = ids[start:start + args.chunk_size]
        if not part.is_file():
            queries = model.pseudo_queries([docs[d].text for d in chunk], [docs[d].title or None for d in chunk],
                                           k=args.terms, content_only=True, batch_size=args.batch_size,
                                           max_length=args.max_length)
            lines = (json.dumps({"id": d, "contents": f"{docs[d].contents()}\n{expansion(q, args.max_repeat)}"},
                                ensure_ascii=False) for d, q in zip(chunk, queries))
            write_atomic(part, "".join(line + "\n" for line in lines))
        bar.update(len(chunk))
    bar.close()
    print(f"expand: {len(ids)} passages with {args.terms} pseudo-query terms each in {out} ({len(parts)} parts"
          + (f", {resumed} from an earlier run)" if resumed else ")"))
    return 0
