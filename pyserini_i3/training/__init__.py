"""Training I^3 and its ablations: data preparation, batching, the loop.

=============  ======================================================================
``arguments``  the model / data / training option groups of ``train``
``examples``   training examples (Tevatron's JSONL shape) and training files
``prepare``    a training file from a collection, queries and qrels, with mined negatives
``mining``     BM25 (Lucene) and dense (FAISS) hard negatives through Pyserini
``teacher``    teacher scores on every pair of a training file (distillation)
``batching``   training groups (deterministic sampling) and their collation
``trainer``    the loop: losses, optimiser, schedule, checkpoints, resume
``distributed``  torch.distributed (gloo on CPU, NCCL on GPU)
=============  ======================================================================

Pyserini is imported only inside ``mining`` and ``teacher`` functions, when they search.
"""
