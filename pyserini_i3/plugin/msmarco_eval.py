"""MS MARCO passage MRR@10, an offline stand-in for anserini-tools' msmarco_passage_eval.py.

``python -m pyserini.eval.msmarco_passage_eval QRELS RUN`` downloads the official
script from GitHub into Pyserini's cache (``$PYSERINI_CACHE`` or
``~/.cache/pyserini``)/eval/ on first use.  Offline there is nothing to download,
so ``python -m pyserini_i3 topics install`` places this file there under the
official name (only if no script is there yet: a real copy is never replaced).

It is written from the metric's definition, not copied: MRR@10 over the queries
of the qrels that have at least one judgment with relevance > 0 (unretrieved
queries count 0), the first relevant passage within the top 10 by rank.  The run
is ``qid<TAB>docid<TAB>rank`` (Pyserini's ``--output-format msmarco``); qrels are
TREC format.  The output has the official layout (``MRR @10: x`` and
``QueriesRanked: n`` between rows of #).  Standard library only: Pyserini runs it
with whatever ``python`` is on PATH.
"""

import sys

CUTOFF = 10


def load_qrels(path):
    relevant = {}
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 4:
                raise SystemExit(f"{path}:{line_no}: expected 'qid 0 docid relevance', got {line.strip()!r}")
            qid, _, docid, rel = parts
            try:
                rel = int(rel)
            except ValueError:
                raise SystemExit(f"{path}:{line_no}: relevance {rel!r} is not an integer") from None
            if rel > 0:
                relevant.setdefault(qid, set()).add(docid)
    return relevant


def load_run(path):
    ranked = {}
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3:
                raise SystemExit(f"{path}:{line_no}: expected 'qid<TAB>docid<TAB>rank' (msmarco format), "
                                 f"got {line.strip()!r}")
            qid, docid, rank = parts
            try:
                rank = int(rank)
            except ValueError:
                raise SystemExit(f"{path}:{line_no}: rank {rank!r} is not an integer") from None
            hits = ranked.setdefault(qid, {})
            if docid in hits:
                raise SystemExit(f"{path}:{line_no}: passage {docid} is ranked twice for query {qid}")
            hits[docid] = rank
    return ranked


def mrr_at_10(relevant, ranked):
    total = 0.0
    for qid, docs in relevant.items():
        hits = sorted(ranked.get(qid, {}).items(), key=lambda kv: kv[1])[:CUTOFF]
        for position, (docid, _) in enumerate(hits, 1):
            if docid in docs:
                total += 1.0 / position
                break
    return total / len(relevant)


def main(argv):
    if len(argv) != 2:
        print("usage: msmarco_passage_eval.py QRELS RUN", file=sys.stderr)
        return 2
    relevant = load_qrels(argv[0])
    if not relevant:
        raise SystemExit(f"{argv[0]}: no judgment with relevance > 0")
    ranked = load_run(argv[1])
    if not set(ranked) & set(relevant):
        raise SystemExit(f"{argv[1]}: none of its queries is in {argv[0]}")
    print("(pyserini-i3 offline stand-in for msmarco_passage_eval.py: relevance > 0 counts)", file=sys.stderr)
    print("#####################")
    print(f"MRR @10: {mrr_at_10(relevant, ranked)}")
    print(f"QueriesRanked: {len(ranked)}")
    print("#####################")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
