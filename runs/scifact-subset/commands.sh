#!/usr/bin/env bash
# scifact-subset: SciFact test subset: the first 50 test queries (by id), every passage judged for them + 1,000 others drawn with seed 13 (1051 passages); passages are `title [SEP] text` (--fields title text --add-sep), BM25 on title + text.
# Run from the collection's scratch directory (corpus/, topics.tsv, qrels.txt),
# built by `python -m pyserini_i3 pyserini-runs`; seconds measured on: x86_64, 2 CPU cores, no GPU used (--device cpu)
set -euo pipefail
python -m pyserini.index.lucene --collection JsonCollection --input corpus --index indexes/lucene --generator DefaultLuceneDocumentGenerator --threads 2 --storeRaw  # 8s
python -m pyserini.encode input --corpus corpus --fields title text output --embeddings indexes/faiss-i3 --to-faiss encoder --encoder i3 --fields title text --add-sep --batch-size 32 --dimension 384 --device cpu  # 447s
python -m pyserini.search.lucene --index indexes/lucene --topics topics.tsv --bm25 --hits 100 --output runs/run.bm25.txt  # 28s
python -m pyserini.search.faiss --index indexes/faiss-i3 --topics topics.tsv --encoder i3 --hits 100 --batch-size 32 --threads 2 --output runs/run.i3.txt  # 31s
python -m pyserini.search.hybrid dense --index indexes/faiss-i3 --encoder i3 sparse --index indexes/lucene fusion --alpha 0.5 --normalization run --topics topics.tsv --hits 100 --batch-size 32 --threads 2 --output runs/run.hybrid.txt  # 38s
python -m pyserini.fusion --runs runs/run.bm25.txt runs/run.i3.txt --method rrf --output runs/run.rrf.txt  # 2s
python -m pyserini.eval.trec_eval -c -m ndcg_cut.10 qrels.txt runs/run.bm25.txt  # 4s
python -m pyserini.eval.trec_eval -c -m recall.100 qrels.txt runs/run.bm25.txt  # 5s
python -m pyserini.eval.trec_eval -c -M 10 -m recip_rank qrels.txt runs/run.bm25.txt  # 5s
python -m pyserini.eval.trec_eval -c -m ndcg_cut.10 qrels.txt runs/run.i3.txt  # 4s
python -m pyserini.eval.trec_eval -c -m recall.100 qrels.txt runs/run.i3.txt  # 5s
python -m pyserini.eval.trec_eval -c -M 10 -m recip_rank qrels.txt runs/run.i3.txt  # 3s
python -m pyserini.eval.trec_eval -c -m ndcg_cut.10 qrels.txt runs/run.hybrid.txt  # 5s
python -m pyserini.eval.trec_eval -c -m recall.100 qrels.txt runs/run.hybrid.txt  # 3s
python -m pyserini.eval.trec_eval -c -M 10 -m recip_rank qrels.txt runs/run.hybrid.txt  # 3s
python -m pyserini.eval.trec_eval -c -m ndcg_cut.10 qrels.txt runs/run.rrf.txt  # 5s
python -m pyserini.eval.trec_eval -c -m recall.100 qrels.txt runs/run.rrf.txt  # 4s
python -m pyserini.eval.trec_eval -c -M 10 -m recip_rank qrels.txt runs/run.rrf.txt  # 4s
