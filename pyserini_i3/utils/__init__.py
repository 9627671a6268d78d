"""Helpers shared by every layer; nothing here imports torch, transformers or Pyserini.

* :mod:`~pyserini_i3.utils.files`: files and directories written atomically;
* :mod:`~pyserini_i3.utils.formats`: readers of collections, queries, qrels, scores;
* :mod:`~pyserini_i3.utils.pyserini_commands`: the command lines of Pyserini's commands.
"""

from pyserini_i3.utils.files import atomic_dir, atomic_file, copy_atomic, write_atomic

__all__ = ["atomic_dir", "atomic_file", "copy_atomic", "write_atomic"]
