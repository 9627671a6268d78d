#!/usr/bin/env bash
# demo: scifact: BEIR SciFact test (from ../shared/data/scifact): 5,183 passages, 300 queries
# Run from the collection's scratch directory (corpus/, topics.tsv, qrels.txt),
# built by `python -m pyserini_i3 demo`; seconds measured on: x86_64, 2 CPU cores, no GPU used (--device cpu)
set -euo pipefail
python -m pyserini.encode input --corpus corpus --fields title text output --embeddings indexes/faiss-i3 --to-faiss encoder --encoder i3 --fields title text --add-sep --batch-size 32 --device cpu  # 810s
python -m pyserini.index.lucene --collection JsonCollection --input corpus --index indexes/lucene --generator DefaultLuceneDocumentGenerator --threads 2 --storeRaw  # 9s
python -m pyserini.search.faiss --index indexes/faiss-i3 --topics topics.tsv --encoder i3 --device cpu --hits 100 --batch-size 32 --threads 2 --output runs/run.i3.trec  # 41s
python -m pyserini.search.lucene --index indexes/lucene --topics topics.tsv --bm25 --hits 100 --threads 2 --batch-size 32 --output runs/run.bm25.trec  # 23s
python -m pyserini.search.hybrid dense --index indexes/faiss-i3 --encoder i3 --device cpu sparse --index indexes/lucene fusion --alpha 0.5 --normalization run --topics topics.tsv --hits 100 --batch-size 32 --threads 2 --output runs/run.hybrid.trec  # 59s
python -m pyserini.search.faiss --index indexes/faiss-i3 --topics topics.tsv --encoder i3 --device cpu --hits 100 --batch-size 32 --threads 2 --output-format msmarco --output runs/run.i3.msmarco.tsv  # 33s
python -m pyserini.eval.trec_eval -c -m ndcg_cut.10 qrels.txt runs/run.bm25.trec  # 4s
python -m pyserini.eval.trec_eval -c -m recall.100 qrels.txt runs/run.bm25.trec  # 3s
python -m pyserini.eval.trec_eval -c -M 10 -m recip_rank qrels.txt runs/run.bm25.trec  # 4s
python -m pyserini.eval.trec_eval -c -m ndcg_cut.10 qrels.txt runs/run.i3.trec  # 4s
python -m pyserini.eval.trec_eval -c -m recall.100 qrels.txt runs/run.i3.trec  # 5s
python -m pyserini.eval.trec_eval -c -M 10 -m recip_rank qrels.txt runs/run.i3.trec  # 4s
python -m pyserini.eval.trec_eval -c -m ndcg_cut.10 qrels.txt runs/run.hybrid.trec  # 4s
python -m pyserini.eval.trec_eval -c -m recall.100 qrels.txt runs/run.hybrid.trec  # 4s
python -m pyserini.eval.trec_eval -c -M 10 -m recip_rank qrels.txt runs/run.hybrid.trec  # 4s
