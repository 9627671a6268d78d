"""Training I^3 and its ablations on transformers' Trainer: data preparation, batching, the Trainer.

=============  ======================================================================
``arguments``  the model / data / training option groups of ``train``
``examples``   training examples (Tevatron's JSONL shape) and training files
``prepare``    a training file from a collection, queries and qrels, with mined negatives
``mining``     BM25 (Lucene) and dense (FAISS) hard negatives through Pyserini
``teacher``    teacher scores on every pair of a training file (distillation)
``batching``   training groups (deterministic sampling), the run's data order, collation
``trainer``    ``I3Trainer``, transformers' Trainer for I^3: loss, optimizer groups, checkpoints
``validation`` held-out queries, their evaluation, the best step and its paired test
``callbacks``  the guard (validation), train_log.jsonl, the progress bar, the seeded start
``run``        ``train(args)``: a run from its arguments to a model directory
=============  ======================================================================

Pyserini is imported only inside ``mining`` and ``teacher`` functions, when they search.
"""
