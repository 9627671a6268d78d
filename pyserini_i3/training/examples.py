"""Training examples in Tevatron's shape, and training files (JSONL) of them.

One JSON object per line::

    {"query_id": "1", "query": "...",
     "positive_passages": [{"docid": "7", "title": "...", "text": "..."}],
     "negative_passages": [{"docid": "9", "title": "...", "text": "...",
                            "score": 3.2, "pseudo_query": "..."}]}

``score`` (teacher score) and ``pseudo_query`` (reconstruction target) are optional
extra keys inside a passage object; other tools ignore them, and plain Tevatron
files (without them) load here.  Lines that are not examples are counted in a
:class:`~pyserini_i3.utils.formats.Problems` and skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pyserini_i3.utils.files import atomic_file
from pyserini_i3.utils.formats import MALFORMED, Problems, as_id, iter_lines, json_object


@dataclass
class Passage:
    docid: str
    title: str
    text: str
    score: float | None = None  # teacher score, for distillation
    pseudo_query: str | None = None  # reconstruction target

    def to_json(self) -> dict:
        obj: dict = {"docid": self.docid, "title": self.title, "text": self.text}
        if self.score is not None:
            obj["score"] = self.score
        if self.pseudo_query is not None:
            obj["pseudo_query"] = self.pseudo_query
        return obj

    @classmethod
    def from_json(cls, obj) -> Passage:
        """Raises ValueError when the object is not a passage."""
        if not isinstance(obj, dict):
            raise ValueError("passage is not an object")
        docid, text, title = as_id(obj.get("docid")), obj.get("text"), obj.get("title") or ""
        if docid is None or not isinstance(text, str) or not isinstance(title, str):
            raise ValueError("passage needs a docid and a text")
        score = obj.get("score")
        if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
            raise ValueError("passage score is not a number")
        pseudo = obj.get("pseudo_query")
        if pseudo is not None and not isinstance(pseudo, str):
            raise ValueError("pseudo_query is not a string")
        return cls(docid, title, text, None if score is None else float(score), pseudo)


@dataclass
class TrainingExample:
    query_id: str
    query: str
    positive_passages: list[Passage]
    negative_passages: list[Passage] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "query_id": self.query_id,
            "query": self.query,
            "positive_passages": [p.to_json() for p in self.positive_passages],
            "negative_passages": [p.to_json() for p in self.negative_passages],
        }

    def to_line(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, obj, default_id: str | None = None) -> TrainingExample:
        """Raises ValueError when the object is not a usable example (no query, no positive)."""
        if not isinstance(obj, dict):
            raise ValueError("line is not a JSON object")
        qid = as_id(obj["query_id"]) if "query_id" in obj else default_id
        query = obj.get("query")
        if qid is None or not isinstance(query, str):
            raise ValueError("example needs a query_id and a query")
        pos, neg = obj.get("positive_passages"), obj.get("negative_passages", [])
        if not isinstance(pos, list) or not pos or not isinstance(neg, list):
            raise ValueError("example needs a non-empty positive_passages list")
        return cls(qid, query, [Passage.from_json(p) for p in pos], [Passage.from_json(p) for p in neg])


def iter_training_file(path, problems: Problems | None = None) -> Iterator[TrainingExample]:
    """Examples of a Tevatron-shaped JSONL file; lines that are not examples are counted and skipped.

    A line without ``query_id`` (allowed by Tevatron) gets its line number as id.
    """
    problems = problems if problems is not None else Problems()
    for where, line in iter_lines(path, problems):
        obj = json_object(line)
        try:
            yield TrainingExample.from_json(obj, default_id=where.rsplit(":", 1)[1])
        except ValueError:
            problems.add(MALFORMED, where)


def read_training_file(path, problems: Problems | None = None) -> list[TrainingExample]:
    return list(iter_training_file(path, problems))


def write_training_file(path, examples: Iterable[TrainingExample]) -> int:
    """Write examples atomically (see :func:`~pyserini_i3.utils.files.atomic_file`); returns how many."""
    n = 0
    with atomic_file(path) as out:
        for example in examples:
            out.write(example.to_line())
            n += 1
    return n
