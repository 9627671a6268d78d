"""What the pseudo-query says, and whether it expands BM25 (SciFact test; issue 26).

1. *Does it name the query?*  For every judged (claim, positive passage) pair of SciFact test (claims
   never trained on), the recall of the claim's content terms among the passage's top-k decoded terms
   (k = 10, 20, 50; ``I3Model.pseudo_queries(..., content_only=True)``), and the same for the claim terms
   that the passage itself lacks ("new" terms: what an expansion could add).  Terms are the model
   tokenizer's whole-word tokens that BM25 can use (no stop words, punctuation or word pieces).
   Baselines: the passage's own top-k TF-IDF terms (IDF over the 5,183 passages; it cannot name a new
   term), the most frequent terms of the training claims (the same for every passage: what a pseudo-query
   that ignores its passage can do at best), and an untrained I^3 (random heads).  Also each model's
   likelihood of the claim given its passage against given another pair's passage (equal: the
   pseudo-query ignores its passage), and a *probe*: the reconstructor and vocabulary head alone trained
   further on frozen passage states (``--probe-steps``), which tells whether the heads can learn to read
   the passage given more passes over the training claims, and what that does to the dense ranking.
2. *Does it expand BM25?*  ``python -m pyserini_i3 expand`` (top ``--terms`` terms after each passage),
   ``pyserini.index.lucene`` and BM25 ``pyserini.search.lucene`` on the expanded collection against plain
   BM25, and (``--hybrid``) in Pyserini's hybrid with the same dense I^3 run (``pyserini.search.hybrid``,
   alpha chosen on the train claims); paired t-tests on per-query nDCG@10.

3. *And on MS MARCO?*  (``--dl-pools``, or ``--only-dl``.)  The same expansion on the DL19 and DL20
   passage pools: a bag-target probe of the shipped ``i3`` (trained on SciFact and the 600 MS MARCO dev
   queries), its heads trained ``--probe-steps`` more batches on those 600 dev queries' judged passages
   (in-domain, as on SciFact; DL19/DL20 topics are never trained on), expands each pool; BM25 over it
   against plain BM25 on the pool's official topics and qrels (nDCG@10, R@100; paired t-tests); the
   shipped ``i3``'s own terms are the control.

Models are the SciFact benchmark's (``benchmarks/scifact.py``, 100 steps, trained there if missing):
``--rows`` picks them.  Writes ``runs/pseudo-query/``: results.md / results.json and, per model, a cell
(recall per pair) so that a report can be rebuilt without the models.  Usage: ``python
benchmarks/pseudo_query.py --help``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from pyserini_i3.utils import pyserini_commands as cmd
from pyserini_i3.utils import trec
from pyserini_i3.utils.files import write_atomic

REPO = Path(__file__).resolve().parent.parent
KS = (10, 20, 50)
UNTRAINED_SEED = 0
LABELS = {"probe-slots": "the slot-target probe's heads", "probe-bag": "the bag-target probe's heads",
          "full": "I^3 full (slot target, weight 0.1)", "full-rec1": "I^3 full, slot target, weight 1.0",
          "full-bag": "I^3 full, bag target, weight 0.1", "full-bag1": "I^3 full, bag target, weight 1.0"}


def scifact_benchmark():
    """``benchmarks/scifact.py`` as a module: its collection, models and Pyserini stages."""
    spec = importlib.util.spec_from_file_location("bench_scifact", Path(__file__).with_name("scifact.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- 1. term recall
class Terms:
    """Content terms of texts in a tokenizer's vocabulary (the space the pseudo-query's terms live in)."""

    def __init__(self, tokenizer):
        from pyserini_i3.modeling.pseudo_query import vocabulary

        self.tokenizer, self.vocab = tokenizer, vocabulary(tokenizer)

    def __call__(self, text: str) -> list[str]:
        ids = self.tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"]
        return [self.vocab.terms[i] for i in ids if self.vocab.content[i]]


def recall(claim: set[str], ranked: list[str], k: int) -> float | None:
    return len(claim & set(ranked[:k])) / len(claim) if claim else None


def pair_recalls(pairs, claims, passages, ranked_of) -> dict:
    """Per pair (``qid docid``): recall@k of the claim's terms, and of its terms absent from the passage."""
    out = {}
    for qid, docid in pairs:
        claim, ranked = set(claims[qid]), ranked_of(docid)
        new = claim - set(passages[docid])
        out[f"{qid} {docid}"] = {**{f"r@{k}": recall(claim, ranked, k) for k in KS},
                                 **{f"new@{k}": recall(new, ranked, k) for k in KS}}
    return out


def summary(per_pair: dict) -> dict:
    keys = [f"r@{k}" for k in KS] + [f"new@{k}" for k in KS]
    return {key: round(statistics.fmean(v[key] for v in per_pair.values() if v[key] is not None), 4)
            for key in keys}


def decoded_terms(model, docs: dict, docids: list[str], max_length: int) -> dict[str, list[str]]:
    queries = model.pseudo_queries([docs[d].text for d in docids], [docs[d].title or None for d in docids],
                                   k=max(KS), content_only=True, max_length=max_length, show_progress=True)
    return {d: [t for t, _ in q.terms] for d, q in zip(docids, queries)}


def examples(model, docs: dict, docids: list[str], claims_text: dict, pairs, max_length: int) -> list[dict]:
    """The decoded pseudo-query of a few judged passages, beside the test claim each answers."""
    queries = model.pseudo_queries([docs[d].text for d in docids], [docs[d].title or None for d in docids],
                                   k=10, content_only=True, max_length=max_length)
    claim_of = {d: q for q, d in pairs}
    return [{"docid": d, "title": docs[d].title, "claim": claims_text[claim_of[d]], "pseudo_query": q.text,
             "terms": [t for t, _ in q.terms]} for d, q in zip(docids, queries)]


def claim_nll(model, docs: dict, pairs, claims_text: dict, max_length: int, batch_size: int = 16) -> dict:
    """Mean negative log-likelihood per token of each test claim given its judged passage, under the model's own
    reconstruction losses (``slots`` and ``bag``): how much of the claim the pseudo-query predicts."""
    import torch

    from pyserini_i3.modeling.losses import IGNORE_INDEX, reconstruction_nll

    totals, tokens = {"slots": 0.0, "bag": 0.0}, 0
    with torch.inference_mode():
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            texts = model.passage_texts([docs[d].text for _, d in chunk], [docs[d].title or None for _, d in chunk])
            _, pseudo = model.passage_vectors(model.tokenize(texts, max_length), return_pseudo_query=True)
            logits = model.reconstruction_logits(pseudo)
            labels = model.reconstruction_labels([claims_text[q] for q, _ in chunk])
            tokens += int((labels != IGNORE_INDEX).sum())
            for target in totals:
                totals[target] += float(reconstruction_nll(logits, labels, target))
    return {target: round(total / tokens, 4) for target, total in totals.items()}


def another_passage(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each claim with the passage of the pair half the list away (deterministic): the claim's likelihood given a
    passage that does not answer it.  A pseudo-query that ignores its passage predicts both equally well."""
    half = len(pairs) // 2
    return [(q, pairs[(i + half) % len(pairs)][1]) for i, (q, _) in enumerate(pairs)]


def passage_dependence(decoded: dict[str, list[str]], k: int = 20) -> float:
    """The mean share of a passage's top-k terms that are NOT among the k terms most often in the passages'
    top-k lists: 0 when every passage gets the same terms (a pseudo-query that ignores its passage)."""
    common = {t for t, _ in Counter(t for terms in decoded.values() for t in terms[:k]).most_common(k)}
    return round(statistics.fmean(len(set(terms[:k]) - common) / k for terms in decoded.values()), 4)


def head_probe(model, examples, target: str, steps: int, batch_size: int = 16, lr: float = 1e-3, seed: int = 0):
    """A copy of ``model`` whose reconstructor and vocabulary head alone are trained further on its
    reconstruction loss (``target``: slots or bag), over the frozen passage states of ``examples``' first
    positives, ``steps`` batches drawn with ``seed``: can the heads learn to read the passage at all, given
    many more passes over the training claims than a 100-step run makes?  (A diagnostic on cached encoder
    states, not a training recipe: ``train`` is the project's training.)"""
    import copy

    import torch

    from pyserini_i3.modeling.losses import IGNORE_INDEX, reconstruction_nll

    probe = copy.deepcopy(model).eval()
    for name, param in probe.named_parameters():
        param.requires_grad_(name.startswith(("reconstructor.", "vocab_head.")))
    texts = probe.passage_texts([e.positive_passages[0].text for e in examples],
                                [e.positive_passages[0].title or None for e in examples])
    inputs = probe.tokenize(texts, 128)
    with torch.inference_mode():
        hidden = probe.passage_encoder(**inputs).last_hidden_state
        pooled = probe._pool(hidden, inputs["attention_mask"])  # the model's own pooling and memory (private: a probe)
    hidden, pooled, padding = hidden.clone(), pooled.clone(), inputs["attention_mask"] == 0
    labels = probe.reconstruction_labels([e.query for e in examples])
    params = [p for p in probe.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=lr)
    generator = torch.Generator().manual_seed(seed)
    probe.reconstructor.train()
    for _ in range(steps):
        idx = torch.randint(len(examples), (batch_size,), generator=generator)
        memory, memory_padding = probe._memory(hidden[idx], pooled[idx], padding[idx])
        pseudo = probe.reconstructor(probe._slots(len(idx)), memory, memory_padding)
        loss = reconstruction_nll(probe.reconstruction_logits(pseudo), labels[idx], target)
        optimizer.zero_grad()
        (loss / (labels[idx] != IGNORE_INDEX).sum().clamp(min=1)).backward()
        optimizer.step()
    return probe.eval()


# --------------------------------------------------------------------------- 2. expansion
def expanded_bm25(bench, name: str, model: Path, col: dict, work: Path, log: Path, terms: int) -> Path:
    """The Lucene index of the collection expanded by ``model``'s pseudo-query terms."""
    folder, index = work / "expanded" / f"{name}-t{terms}", work / "expanded-index" / f"{name}-t{terms}"
    if not any(index.glob("segments_*")):
        bench.sh([bench.PY, "-m", "pyserini_i3", "expand", "--encoder", model, "--input", col["corpus"],
                  "--output", folder, "--terms", str(terms), "--max-length", "256", "--progress", "false"], log)
        bench.sh([bench.PY, *cmd.lucene_index(folder, index)], log)
    return index


def sparse_run(bench, index: Path, topics: Path, work: Path, log: Path, name: str, remove_query: bool = True) -> Path:
    """BM25 (Pyserini's defaults); ``remove_query``: BEIR's rule that a query's own id is not a hit."""
    run = work / "runs" / f"{name}.trec"
    if not bench.done(run):
        run.parent.mkdir(parents=True, exist_ok=True)
        bench.sh([bench.PY, *cmd.search_lucene(index, topics, run, hits=1000, threads=2, batch_size=64,
                                               remove_query=remove_query)], log)
    return run


def hybrid(bench, dense: Path, dense_index: Path, sparse: Path, col: dict, work: Path, log: Path, name: str,
           alphas) -> tuple[Path, dict]:
    """Pyserini's hybrid of the dense model and the sparse index; alpha chosen on the train claims."""
    tuning = {}
    for alpha in alphas:
        run = work / "runs" / f"hybrid-{name}-train-a{alpha}.trec"
        if not bench.done(run):
            bench.sh([bench.PY, *cmd.search_hybrid(dense_index, dense, sparse, col["train_topics"], run, alpha=alpha,
                                                   hits=1000, batch_size=64, threads=2)], log)
        tuning[alpha] = bench.scores(col["train_qrels"], run)["ndcg_cut_10"]
    alpha = max(tuning, key=tuning.get)
    run = work / "runs" / f"hybrid-{name}-a{alpha}.trec"
    if not bench.done(run):
        bench.sh([bench.PY, *cmd.search_hybrid(dense_index, dense, sparse, col["topics"], run, alpha=alpha,
                                               hits=1000, batch_size=64, threads=2)], log)
    return run, {"tried": tuning, "chosen": alpha}


# --------------------------------------------------------------------------- 3. the DL19 / DL20 pools
def dev600_examples(shared: Path) -> list:
    """(query, judged passage) training examples of the 600 MS MARCO dev queries of the shared pools."""
    from pyserini_i3.training.examples import Passage, TrainingExample

    pool = shared / "msmarco-pools" / "dev600"
    def pairs(name: str) -> dict[str, str]:
        with open(pool / name, encoding="utf-8") as f:
            return dict(line.rstrip("\n").split("\t", 1) for line in f)

    passages, queries, judged = pairs("collection.tsv"), pairs("queries.tsv"), trec.read_qrels(pool / "qrels.txt")
    return [TrainingExample(q, queries[q], [Passage(d, "", passages[d])]) for q in sorted(judged) if q in queries
            for d, rel in sorted(judged[q].items()) if rel > 0 and d in passages]


def dl_expansion(bench, args, log: Path) -> dict:
    """BM25 over each DL pool expanded by the shipped ``i3``'s dev600 probe, and by ``i3`` itself (control)."""
    from pyserini_i3.eval.collections import msmarco_pool
    from pyserini_i3.plugin.resolve import load_model, resolve

    work = args.work / "dl"
    probe_dir = work / "probe-models" / f"i3-probe-bag-dev600-{args.probe_steps}"
    if not (probe_dir / "config.json").is_file():  # seeded: the same model every time
        probe = head_probe(load_model("i3"), dev600_examples(args.shared), "bag", args.probe_steps)
        probe.save_pretrained(probe_dir)
    expanders = {"its dev600 bag-target probe": ("probe", probe_dir), "the shipped i3 (control)": ("i3", resolve("i3"))}
    out = {}
    for pool in args.dl_pools:
        col_dir = work / pool
        coll = msmarco_pool(args.shared, col_dir, pool)
        col = {"corpus": coll.corpus / "corpus.jsonl"}
        plain_index = work / "indexes" / f"{pool}-bm25"
        if not any(plain_index.glob("segments_*")):
            bench.sh([bench.PY, *cmd.lucene_index(coll.corpus, plain_index)], log)
        plain = sparse_run(bench, plain_index, coll.topics, work, log, f"{pool}-bm25", remove_query=False)
        qrels = trec.read_qrels(coll.qrels)
        base = trec.evaluate(qrels, trec.read_run(plain), ["ndcg_cut_10", "recall_100"])
        rows = {"BM25": trec.means(base, 4)}
        for label, (name, model) in expanders.items():
            index = expanded_bm25(bench, f"{pool}-{name}", model, col, work, log, args.terms)
            run = sparse_run(bench, index, coll.topics, work, log, f"{pool}-bm25-expanded-{name}-t{args.terms}",
                             remove_query=False)
            per = trec.evaluate(qrels, trec.read_run(run), ["ndcg_cut_10", "recall_100"])
            rows[f"BM25 over the pool expanded by {label}, {args.terms} terms"] = {
                **trec.means(per, 4), "test": {m: trec.paired_t(per[m], base[m]) for m in per}}
        out[pool] = {"passages": coll.num_docs, "queries": len(qrels), "rows": rows}
        print(json.dumps({pool: out[pool]}, indent=1), flush=True)
    return out


# --------------------------------------------------------------------------- report
def p_value(test: dict) -> str:
    return "identical" if test["p"] is None else f"{test['p']:.2g}"


def write_report(results: dict, out: Path) -> None:
    lines = ["# What the pseudo-query says, and whether it expands BM25 (SciFact test)", "",
             f"`{results['command']}` ({results['machine']}, {results['date']}). "
             f"{results['pairs']} judged (claim, passage) pairs of SciFact test; terms: the MiniLM tokenizer's "
             "whole-word tokens BM25 can use (no stop words, punctuation, word pieces). Recall of the claim's "
             "terms among each passage's top-k terms; *new*: of the claim's terms that its passage lacks "
             f"({results['pairs_with_new']} pairs have one).", "",
             "| terms from | " + " | ".join(f"R@{k}" for k in KS) + " | " + " | ".join(f"new@{k}" for k in KS) + " |",
             "|---|" + "---:|" * (2 * len(KS))]
    for name, row in results["recall"].items():
        lines.append(f"| {name} | " + " | ".join(f"{row[f'r@{k}']:.4f}" for k in KS) + " | "
                     + " | ".join(f"{row[f'new@{k}']:.4f}" for k in KS) + " |")
    if results.get("fit"):
        lines += ["", "How well each predicts the test claim from its judged passage, and from a passage that does not "
                  "answer it (another pair's): negative log-likelihood per claim token in nats under the slot-aligned "
                  "and the bag-of-words target (lower is better; equal with either passage: the pseudo-query ignores "
                  "its passage), and how much the top-20 terms depend on the passage (the share not among the 20 "
                  "terms most passages get; 0: the same terms for every passage):", "",
                  "| model | slots, own passage | slots, another | bag, own passage | bag, another | "
                  "passage-dependent terms |", "|---|---:|---:|---:|---:|---:|"]
        for name, fit in results["fit"].items():
            own, other = fit["own"], fit["another"]
            lines.append(f"| {name} | {own['slots']:.3f} | {other['slots']:.3f} | {own['bag']:.3f} | "
                         f"{other['bag']:.3f} | {results['passage_dependence'][name]:.2f} |")
    if results.get("recall_tests"):
        lines += ["", "Paired t-tests on per-pair R@20:", ""]
        lines += [f"- {t['system']} vs {t['against']}: {t['mean_diff']:+.4f} (p {p_value(t)})"
                  for t in results["recall_tests"]]
    if results.get("probe_dense"):
        lines += ["", "The dense ranking with the probe's heads (they feed the interactor, so the passage vectors "
                  "change; SciFact test, 300 claims):", "", "| model | nDCG@10 | R@100 | MRR@10 | vs | diff | p |",
                  "|---|---:|---:|---:|---|---:|---:|"]
        for name, row in results["probe_dense"].items():
            t = row.get("test")
            tail = f"{t['against']} | {t['mean_diff']:+.4f} | {p_value(t)}" if t else " | | "
            lines.append(f"| {name} | {row['ndcg_cut_10']:.4f} | {row['recall_100']:.4f} | {row['recip_rank']:.4f} | "
                         f"{tail} |")
    if results.get("bm25"):
        lines += ["", f"## BM25 over the expanded collection (top {results['terms']} terms per passage)", "",
                  "| run | nDCG@10 | R@100 | MRR@10 | vs | diff nDCG@10 | p |", "|---|---:|---:|---:|---|---:|---:|"]
        for name, row in results["bm25"].items():
            s, t = row["scores"], row.get("test")
            tail = f"{t['against']} | {t['mean_diff']:+.4f} | {p_value(t)}" if t else " | | "
            lines.append(f"| {name} | {s['ndcg_cut_10']:.4f} | {s['recall_100']:.4f} | {s['recip_rank']:.4f} | "
                         f"{tail} |")
    if results.get("examples"):
        lines += ["", "## Three SciFact test passages, their pseudo-queries and the claims they answer", ""]
        for model, rows in results["examples"].items():
            lines += [f"{model}:", ""]
            for e in rows:
                lines += [f"- **{e['docid']}** ({e['title'][:80]}). Claim: \"{e['claim']}\". Decoded slots: "
                          f"\"{e['pseudo_query']}\". Top terms: {', '.join(e['terms'])}."]
            lines.append("")
    write_atomic(out / "results.md", "\n".join(lines).rstrip() + "\n")
    write_atomic(out / "results.json", json.dumps(results, indent=1) + "\n")


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=REPO / ".work" / "bench-scifact",
                        help="the SciFact benchmark's work folder (its models, indexes and runs are reused)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "pseudo-query")
    parser.add_argument("--rows", nargs="+", default=["full", "full-rec1", "full-bag"],
                        help="the SciFact benchmark's rows whose seed-1 models are decoded")
    parser.add_argument("--rows-200", nargs="*", default=["full"],
                        help="rows whose seed-1 models trained for 200 steps are decoded too")
    parser.add_argument("--probe-steps", type=int, default=300,
                        help="the heads-alone probe: batches of 16 training pairs (0: skip it)")
    parser.add_argument("--probe-row", default="full", help="the row whose seed-1 model the probe starts from")
    parser.add_argument("--expand", nargs="*", default=["full", "probe-bag"],
                        help="rows whose pseudo-query terms expand BM25 (none: skip part 2)")
    parser.add_argument("--hybrid", nargs="*", default=["probe-bag"],
                        help="expanded rows also fused with the dense run (BM25's hybrid always is)")
    parser.add_argument("--dense", default="full", help="the row whose dense run is fused with BM25 (hybrid)")
    parser.add_argument("--terms", type=int, default=20, help="expansion terms per passage")
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.1, 0.3, 0.5, 1.0, 2.0])
    parser.add_argument("--examples", nargs="*", default=["full", "probe-bag"], help="rows shown with three passages")
    parser.add_argument("--dl-pools", nargs="*", default=["dl19", "dl20"], help="part 3: MS MARCO pools expanded")
    parser.add_argument("--only-dl", action="store_true", help="part 3 alone (writes OUT/dl-pools.json)")
    args = parser.parse_args(argv)
    if args.only_dl:
        bench = scifact_benchmark()
        args.work.mkdir(parents=True, exist_ok=True)
        result = {"command": " ".join(["python", "benchmarks/pseudo_query.py", *(argv or sys.argv[1:])]),
                  "date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                  "probe_steps": args.probe_steps, "terms": args.terms,
                  "pools": dl_expansion(bench, args, args.work / "pseudo-query.log")}
        write_atomic(args.out / "dl-pools.json", json.dumps(result, indent=1) + "\n")
        return 0
    if not (args.shared / "scifact" / "corpus.jsonl").is_file():
        print(f"bench-pseudo-query: skipped: {args.shared}/scifact not found (the shared data is not beside this "
              "checkout)")
        return 0

    import torch

    from pyserini_i3.modeling.backbone import DEFAULT_BACKBONE
    from pyserini_i3.modeling.model import I3Model
    from pyserini_i3.plugin.resolve import load_model
    from pyserini_i3.utils.formats import read_collection, read_queries

    bench = scifact_benchmark()
    sizing = bench.build_parser().parse_args([])  # the benchmark's default sizing: 100 steps
    work, out = args.work, args.out
    work.mkdir(parents=True, exist_ok=True)
    log = work / "pseudo-query.log"
    col = bench.write_collection(args.shared, work)
    docs = read_collection(col["corpus"])
    qrels = trec.read_qrels(col["qrels"])
    claims_text = read_queries(col["topics"])
    pairs = sorted((q, d) for q, judged in qrels.items() for d, rel in judged.items() if rel > 0 and q in claims_text)
    train_file = work / "scifact-train.jsonl"

    def model_dir(row: str, steps: int = 100) -> Path:
        if row.startswith("probe-"):  # a probe's model (part 1 saves it): probe-slots, probe-bag
            return work / "probe-models" / f"{args.probe_row}-{row}-{args.probe_steps}"
        sized = bench.build_parser().parse_args(["--steps", str(steps)])
        path, _ = bench.train(row, 1, train_file, work, log, sized)  # from the cache, or trained now (seeded)
        return path

    tokenizer = load_model("i3").tokenizer
    terms = Terms(tokenizer)
    claims = {q: terms(t) for q, t in claims_text.items()}
    passages = {d: terms(docs[d].contents()) for d in docs}
    judged_docs = sorted({d for _, d in pairs})
    results: dict = {"command": "python benchmarks/pseudo_query.py " + " ".join(sys.argv[1:] if argv is None
                                                                              else argv),
                     "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch CPU",
                     "date": time.strftime("%Y-%m-%d"), "pairs": len(pairs),
                     "pairs_with_new": sum(bool(set(claims[q]) - set(passages[d])) for q, d in pairs),
                     "recall": {}, "terms": args.terms}
    per_pair: dict[str, dict] = {}

    # baselines
    df = Counter(t for d in docs for t in set(passages[d]))
    idf = {t: math.log(len(docs) / n) for t, n in df.items()}

    def tfidf(docid: str) -> list[str]:
        tf = Counter(passages[docid])
        return sorted(tf, key=lambda t: (-tf[t] * idf[t], t))

    train_claims = read_queries(col["train_topics"])
    prior = [t for t, _ in Counter(t for q in train_claims.values() for t in terms(q)).most_common(max(KS))]
    per_pair["TF-IDF of the passage"] = pair_recalls(pairs, claims, passages, tfidf)
    per_pair["training claims' most frequent terms (one list for all)"] = pair_recalls(pairs, claims, passages,
                                                                                        lambda d: prior)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        untrained = I3Model.from_backbone(DEFAULT_BACKBONE)
    models = [("untrained I^3 (random heads)", lambda: untrained), ("shipped `i3`", lambda: load_model("i3"))]
    models += [(f"{LABELS.get(row, row)}, 100 steps, seed 1", lambda row=row: I3Model.from_pretrained(model_dir(row)))
               for row in args.rows]
    models += [(f"{LABELS.get(row, row)}, 200 steps, seed 1",
                lambda row=row: I3Model.from_pretrained(model_dir(row, 200))) for row in args.rows_200]
    results["fit"] = {}
    results["passage_dependence"] = {}
    for name, load in models:
        model = load()
        decoded = decoded_terms(model, docs, judged_docs, 256)
        per_pair[name] = pair_recalls(pairs, claims, passages, decoded.get)
        results["fit"][name] = {"own": claim_nll(model, docs, pairs, claims_text, 256),
                                "another": claim_nll(model, docs, another_passage(pairs), claims_text, 256)}
        results["passage_dependence"][name] = passage_dependence(decoded)
    if args.probe_steps:
        from pyserini_i3.training.examples import read_training_file

        examples_ = read_training_file(train_file)
        for target in ("slots", "bag"):
            name = (f"probe: {LABELS.get(args.probe_row, args.probe_row)}, 100 steps, then its heads alone "
                    f"{args.probe_steps} more steps of 16 pairs on the {target} target")
            saved = model_dir(f"probe-{target}")
            if (saved / "config.json").is_file():
                model = I3Model.from_pretrained(saved)
            else:  # seeded: the same model every time
                model = head_probe(I3Model.from_pretrained(model_dir(args.probe_row)), examples_, target,
                                   args.probe_steps)
                model.save_pretrained(saved)
            decoded = decoded_terms(model, docs, judged_docs, 256)
            per_pair[name] = pair_recalls(pairs, claims, passages, decoded.get)
            results["fit"][name] = {"own": claim_nll(model, docs, pairs, claims_text, 256),
                                "another": claim_nll(model, docs, another_passage(pairs), claims_text, 256)}
            results["passage_dependence"][name] = passage_dependence(decoded)
    results["recall"] = {name: summary(rows) for name, rows in per_pair.items()}
    if args.probe_steps:  # what the probe's heads do to the dense ranking (they feed the interactor)
        start = model_dir(args.probe_row)
        reference = bench.dense_run(start, bench.dense_index(start, col, work, log, sizing)[0], col["topics"], work,
                                    log, start.name)
        results["probe_dense"] = {LABELS.get(args.probe_row, args.probe_row): bench.scores(col["qrels"], reference)}
        for target in ("slots", "bag"):
            probe = model_dir(f"probe-{target}")
            index, _ = bench.dense_index(probe, col, work, log, sizing)
            run = bench.dense_run(probe, index, col["topics"], work, log, probe.name)
            results["probe_dense"][LABELS[f"probe-{target}"]] = {
                **bench.scores(col["qrels"], run),
                "test": {"against": LABELS.get(args.probe_row, args.probe_row),
                         **trec.paired_t(bench.per_query(col["qrels"], run), bench.per_query(col["qrels"], reference))}}
    tests = []
    for name in per_pair:
        if name != "TF-IDF of the passage":
            a = {p: v["r@20"] for p, v in per_pair[name].items() if v["r@20"] is not None}
            b = {p: v["r@20"] for p, v in per_pair["TF-IDF of the passage"].items() if v["r@20"] is not None}
            tests.append({"system": name, "against": "TF-IDF of the passage", **trec.paired_t(a, b)})
    results["recall_tests"] = tests
    results["per_pair"] = per_pair
    chosen = judged_docs[:: max(1, len(judged_docs) // 3)][:3]  # evenly spaced, not picked by what they show
    results["examples"] = {}
    for row in args.examples:
        model = I3Model.from_pretrained(model_dir(row))
        results["examples"][LABELS.get(row, row)] = examples(model, docs, chosen, claims_text, pairs, 256)

    # 2. expansion
    if args.expand:
        plain = {"test": bench.bm25(col, work, log, col["topics"], "bm25")[0]}
        per_query = {"BM25": bench.per_query(col["qrels"], plain["test"])}
        rows = {"BM25": {"scores": bench.scores(col["qrels"], plain["test"])}}
        dense = model_dir(args.dense)
        dense_index, _ = bench.dense_index(dense, col, work, log, sizing)
        sparse = {"BM25": work / "bm25-index"}
        for row in args.expand:
            index = expanded_bm25(bench, row, model_dir(row), col, work, log, args.terms)
            name = f"BM25, expanded by {LABELS.get(row, row)}"
            run = sparse_run(bench, index, col["topics"], work, log, f"bm25-expanded-{row}-t{args.terms}")
            per_query[name] = bench.per_query(col["qrels"], run)
            rows[name] = {"scores": bench.scores(col["qrels"], run),
                          "test": {"against": "BM25", **trec.paired_t(per_query[name], per_query["BM25"])}}
            sparse[name] = index
        for name, index in sparse.items():
            if name != "BM25" and not any(name == f"BM25, expanded by {LABELS.get(r, r)}" for r in args.hybrid):
                continue
            label = f"hybrid: {LABELS.get(args.dense, args.dense)} (dense) + {name}"
            tag = f"{dense.name}-{index.name}"
            run, tuning = hybrid(bench, dense, dense_index, index, col, work, log, tag, args.alphas)
            per_query[label] = bench.per_query(col["qrels"], run)
            rows[label] = {"scores": bench.scores(col["qrels"], run), "alpha": tuning}
            if name != "BM25":
                base = f"hybrid: {LABELS.get(args.dense, args.dense)} (dense) + BM25"
                rows[label]["test"] = {"against": base, **trec.paired_t(per_query[label], per_query[base])}
        results["bm25"] = rows
    out.mkdir(parents=True, exist_ok=True)
    write_report(results, out)
    print((out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
