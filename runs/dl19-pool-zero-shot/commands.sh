#!/usr/bin/env bash
# dl19-pool: TREC DL19 passage pool (15939 passages: all judged-relevant, part of the judged non-relevant, the rest unjudged top-100 hits of six public systems); the official 43 topics and qrels by name; unjudged = non-relevant, so the numbers are comparable between systems here, not with full-corpus results.
# Run from the collection's scratch directory (corpus/, topics.tsv, qrels.txt),
# built by `python -m pyserini_i3 pyserini-runs`; seconds measured on: x86_64, 2 CPU cores, no GPU used (--device cpu)
set -euo pipefail
python -m pyserini.index.lucene --collection JsonCollection --input corpus --index indexes/lucene --generator DefaultLuceneDocumentGenerator --threads 2 --storeRaw  # 3s
python -m pyserini.encode input --corpus corpus output --embeddings indexes/faiss-i3 --to-faiss encoder --encoder .work/bench-scifact/models/base-zero-shot --batch-size 32 --dimension 384 --device cpu  # 395s
python -m pyserini.search.lucene --index indexes/lucene --topics dl19-passage --bm25 --hits 1000 --output runs/run.bm25.txt  # 9s
python -m pyserini.search.faiss --index indexes/faiss-i3 --topics dl19-passage --encoder .work/bench-scifact/models/base-zero-shot --hits 1000 --batch-size 32 --threads 2 --output runs/run.i3.txt  # 8s
python -m pyserini.search.hybrid dense --index indexes/faiss-i3 --encoder .work/bench-scifact/models/base-zero-shot sparse --index indexes/lucene fusion --alpha 0.5 --normalization run --topics dl19-passage --hits 1000 --batch-size 32 --threads 2 --output runs/run.hybrid.txt  # 10s
python -m pyserini.fusion --runs runs/run.bm25.txt runs/run.i3.txt --method rrf --output runs/run.rrf.txt  # 1s
python -m pyserini.eval.trec_eval -c -m ndcg_cut.10 dl19-passage runs/run.bm25.txt  # 1s
python -m pyserini.eval.trec_eval -c -m recall.100 dl19-passage runs/run.bm25.txt  # 1s
python -m pyserini.eval.trec_eval -c -M 10 -m recip_rank dl19-passage runs/run.bm25.txt  # 1s
python -m pyserini.eval.trec_eval -c -m ndcg_cut.10 dl19-passage runs/run.i3.txt  # 1s
python -m pyserini.eval.trec_eval -c -m recall.100 dl19-passage runs/run.i3.txt  # 1s
python -m pyserini.eval.trec_eval -c -M 10 -m recip_rank dl19-passage runs/run.i3.txt  # 1s
python -m pyserini.eval.trec_eval -c -m ndcg_cut.10 dl19-passage runs/run.hybrid.txt  # 1s
python -m pyserini.eval.trec_eval -c -m recall.100 dl19-passage runs/run.hybrid.txt  # 1s
python -m pyserini.eval.trec_eval -c -M 10 -m recip_rank dl19-passage runs/run.hybrid.txt  # 1s
python -m pyserini.eval.trec_eval -c -m ndcg_cut.10 dl19-passage runs/run.rrf.txt  # 1s
python -m pyserini.eval.trec_eval -c -m recall.100 dl19-passage runs/run.rrf.txt  # 1s
python -m pyserini.eval.trec_eval -c -M 10 -m recip_rank dl19-passage runs/run.rrf.txt  # 1s
