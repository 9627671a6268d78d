"""Evaluation with Pyserini's own commands: test collections, command runs, run records.

===============  ====================================================================
``collections``  Pyserini-ready SciFact (full test, the 50-query subset), the DL19 pool,
                 any BEIR dataset; the handwritten ``sample_collection/``
``commands``     the ``Runner`` of Pyserini commands, trec_eval, run records (runs/*/)
``pipelines``    the main job (``demo``) and the collection runs (``pyserini-runs``)
===============  ====================================================================

Everything runs Pyserini as subprocesses (``python -m pyserini....``); nothing here
imports the model or the plugin.
"""
