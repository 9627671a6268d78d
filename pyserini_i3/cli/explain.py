"""``python -m pyserini_i3 explain --encoder NAME_OR_DIR (--input FILE | --index IDX --docid ID | --text TEXT)``.

What each passage's pseudo-query says: the top token of each of the reconstructor's slots read
as a query, and the top ``--k`` terms of the slots' pooled distribution with their probabilities
(:meth:`I3Model.pseudo_queries <pyserini_i3.modeling.model.I3Model.pseudo_queries>`).  Passages
come from a collection file (Pyserini JsonCollection ``id``/``contents``, BEIR ``_id``/``title``/
``text``, or TSV; ``--docid`` picks some, ``--limit`` the first N), from a Lucene index that stores
its documents (``--index`` with ``--docid``), or from the command line (``--text``).  ``--json``
writes one JSON object per passage.  A model without a vocabulary head (DE, de-layer) is refused.
"""

from __future__ import annotations

import argparse
import json
import sys


def _from_index(index: str, docids: list[str]) -> list[tuple[str, str, str | None]]:
    """(docid, text, title) of each docid, read from a Lucene index's stored documents (raw JSON or contents)."""
    from pathlib import Path

    from pyserini.search.lucene import LuceneSearcher

    searcher = LuceneSearcher(index) if Path(index).exists() else LuceneSearcher.from_prebuilt_index(index)
    if searcher is None:
        raise ValueError(f"--index {index}: not a Lucene index directory or a prebuilt index name")
    out = []
    for docid in docids:
        doc = searcher.doc(docid)
        if doc is None:
            raise ValueError(f"--docid {docid}: not in --index {index}")
        raw = doc.raw() or ""
        try:
            obj = json.loads(raw)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and isinstance(obj.get("text"), str):
            out.append((docid, obj["text"], obj.get("title") or None))
        elif isinstance(obj, dict) and isinstance(obj.get("contents"), str):
            out.append((docid, obj["contents"], None))
        elif doc.contents():
            out.append((docid, doc.contents(), None))
        else:
            raise ValueError(f"--docid {docid}: --index {index} stores no text for it (index with --storeRaw)")
    return out


def _from_file(path: str, docids: list[str] | None, limit: int | None) -> list[tuple[str, str, str | None]]:
    from pathlib import Path

    from pyserini_i3.utils.formats import MALFORMED, Problems, read_collection

    if not Path(path).is_file():
        raise ValueError(f"--input {path}: no such file")
    problems = Problems()
    docs = read_collection(path, problems=problems)
    if problems.count(MALFORMED):
        raise ValueError(f"--input {path}: {problems.describe(MALFORMED)}")
    if docids:
        missing = [d for d in docids if d not in docs]
        if missing:
            raise ValueError(f"--docid {missing[0]}: not in --input {path}")
        picked = docids
    else:
        picked = list(docs)[:limit] if limit else list(docs)
    return [(d, docs[d].text, docs[d].title or None) for d in picked]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyserini_i3 explain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="i3", help="i3, a released name, or an I^3 model directory")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="a collection file (JsonCollection, BEIR corpus.jsonl or TSV)")
    source.add_argument("--index", help="a Lucene index with stored documents (path or prebuilt name); "
                        "needs --docid")
    source.add_argument("--text", action="append", help="a passage on the command line (repeatable)")
    parser.add_argument("--docid", nargs="+", help="the passages to explain (with --input or --index)")
    parser.add_argument("--limit", type=int, help="with --input and no --docid: the first N passages")
    parser.add_argument("--k", type=int, default=20, help="terms of the pooled distribution to show (default 20)")
    parser.add_argument("--content-only", action="store_true",
                        help="only terms BM25 can use as words (no stop words, punctuation, word pieces)")
    parser.add_argument("--max-length", type=int, help="passage tokens (default: the model's passage length)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", action="store_true", help="one JSON object per passage (JSON Lines)")
    args = parser.parse_args(argv)
    if args.index and not args.docid:
        parser.error("--index needs --docid")

    from pyserini_i3.modeling.pseudo_query import check_decodable
    from pyserini_i3.plugin.resolve import load_model

    try:
        model = load_model(args.encoder)
        check_decodable(model)
    except (OSError, ValueError) as exc:
        print(f"explain: --encoder {args.encoder}: {exc}", file=sys.stderr)
        return 2
    try:
        if args.text:
            passages = [(f"text{i + 1}", text, None) for i, text in enumerate(args.text)]
        elif args.index:
            passages = _from_index(args.index, args.docid)
        else:
            passages = _from_file(args.input, args.docid, args.limit)
        decoded = model.pseudo_queries([p[1] for p in passages], [p[2] for p in passages], k=args.k,
                                       content_only=args.content_only, batch_size=args.batch_size,
                                       max_length=args.max_length, show_progress=len(passages) > 1000)
    except (OSError, ValueError, TypeError) as exc:
        print(f"explain: {exc}", file=sys.stderr)
        return 2
    for (docid, text, title), query in zip(passages, decoded):
        if args.json:
            print(json.dumps({"id": docid, **query.to_dict()}, ensure_ascii=False))
            continue
        head = f"{title}: {text}" if title else text
        print(f"{docid}\t{head[:100]}{'...' if len(head) > 100 else ''}")
        print(f"  pseudo-query: {query.text}")
        print("  terms: " + ", ".join(f"{t} {p:.3f}" for t, p in query.terms))
    return 0
