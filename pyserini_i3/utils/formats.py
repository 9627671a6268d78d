"""Readers for the usual IR file formats (collections, queries, qrels, scores).

- collections: BEIR ``corpus.jsonl`` (``{"_id", "title", "text"}``; Pyserini's
  JsonCollection ``{"id", "contents"}`` is accepted too), MS MARCO
  ``collection.tsv`` (``pid<TAB>text``) and its ``pid<TAB>title<TAB>text`` variant;
- queries: BEIR ``queries.jsonl`` (``{"_id", "text"}``) and ``qid<TAB>text``;
- qrels: BEIR tsv (header ``query-id corpus-id score``), TREC ``qid 0 docid rel``
  and the 2-column MS MARCO ``qid docid`` (relevance 1);
- teacher scores: ``qid<TAB>docid<TAB>score`` or a TREC run (its score column);
- pseudo-queries: ``docid<TAB>text`` (reconstruction targets, e.g. doc2query output).

Bad input never stops a reader: each skipped line or id is counted in a
:class:`Problems` object, with the first place (``file:line``) it was seen.
Files are read as UTF-8 and split on ``\\n`` only, so a stray ``\\r`` inside an
MS MARCO passage does not cut it in two; ``.gz`` files are read transparently.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# kinds of problems, also the words used in the summary line
MALFORMED = "malformed lines"
DUPLICATE = "duplicate ids"

FORMATS = ("auto", "beir", "msmarco")


# --------------------------------------------------------------------------- problems


@dataclass
class Problems:
    """Counts of skipped input by kind, with the first place each kind was seen."""

    counts: dict[str, int] = field(default_factory=dict)
    first: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, where: str | None = None, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n
        if where is not None:
            self.first.setdefault(kind, where)

    def count(self, kind: str) -> int:
        return self.counts.get(kind, 0)

    def describe(self, kind: str, label: str | None = None) -> str:
        """``"3 malformed lines (queries.jsonl:17 first)"``."""
        n = self.count(kind)
        text = f"{n} {label or kind}"
        if n and kind in self.first:
            text += f" ({self.first[kind]} first)"
        return text


def natural_key(identifier: str) -> tuple:
    """Sort key that orders numeric ids numerically and puts them before the others."""
    return (0, int(identifier), identifier) if identifier.isdigit() else (1, 0, identifier)


# --------------------------------------------------------------------------- lines


def _open_binary(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def iter_lines(path: str | os.PathLike, problems: Problems, desc: str | None = None) -> Iterator[tuple[str, str]]:
    """Yield ``("name:lineno", line)`` for each non-blank line, without its line ending.

    Lines that are not valid UTF-8 are counted as malformed and skipped.  With
    ``desc``, a tqdm progress bar (in bytes) is shown on a terminal.
    """
    path = Path(path)
    with _open_binary(path) as raw, _progress(path, desc) as bar:
        for lineno, data in enumerate(raw, 1):
            bar.update(len(data))
            where = f"{path.name}:{lineno}"
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError:
                problems.add(MALFORMED, where)
                continue
            if lineno == 1:
                line = line.removeprefix("\ufeff")
            line = line.rstrip("\r\n")
            if line.strip():
                yield where, line


def _progress(path: Path, desc: str | None):
    if desc is None:
        return contextlib.nullcontext(_NoBar())
    from tqdm import tqdm

    total = None if path.suffix == ".gz" else path.stat().st_size
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, disable=None, leave=False)


class _NoBar:
    def update(self, n: int) -> None:
        pass


def detect_format(path: str | os.PathLike) -> str:
    """``"beir"`` when the first non-blank line is a JSON object, else ``"msmarco"``."""
    with _open_binary(Path(path)) as raw:
        for data in raw:
            stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
            if stripped:
                return "beir" if stripped.startswith(b"{") else "msmarco"
    return "msmarco"


def _resolve_format(path, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    return detect_format(path) if fmt == "auto" else fmt


def json_object(line: str) -> dict | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def as_id(value) -> str | None:
    """An id as a non-empty string (JSON ints are accepted), else None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value).strip()
    return text or None


def _first_key(obj: dict, keys: Iterable[str]):
    return next((obj[k] for k in keys if k in obj), None)


# --------------------------------------------------------------------------- collection


@dataclass(frozen=True, slots=True)
class Doc:
    title: str
    text: str

    def contents(self) -> str:
        """Title and text joined as Anserini's ``BeirFlatCollection`` does (``title\\ntext``)."""
        return f"{self.title}\n{self.text}" if self.title else self.text


def parse_beir_doc(line: str) -> tuple[str, Doc] | None:
    obj = json_object(line)
    if obj is None:
        return None
    docid = as_id(_first_key(obj, ("_id", "id", "docid")))
    text = _first_key(obj, ("text", "contents"))
    title = obj.get("title") or ""
    if docid is None or not isinstance(text, str) or not isinstance(title, str):
        return None
    return docid, Doc(title, text)


def parse_tsv_doc(line: str) -> tuple[str, Doc] | None:
    cols = line.split("\t")
    if len(cols) == 2:
        docid, title, text = cols[0], "", cols[1]
    elif len(cols) == 3:
        docid, title, text = cols
    else:
        return None
    docid = docid.strip()
    return (docid, Doc(title, text)) if docid else None


def read_collection(path, fmt: str = "auto", problems: Problems | None = None,
                    desc: str | None = None) -> dict[str, Doc]:
    """docid -> :class:`Doc`; the first of duplicate ids is kept."""
    problems = problems if problems is not None else Problems()
    parse = parse_beir_doc if _resolve_format(path, fmt) == "beir" else parse_tsv_doc
    return _read_pairs(path, parse, problems, desc)


# --------------------------------------------------------------------------- queries


def parse_beir_query(line: str) -> tuple[str, str] | None:
    obj = json_object(line)
    if obj is None:
        return None
    qid = as_id(_first_key(obj, ("_id", "id", "query_id", "qid")))
    text = _first_key(obj, ("text", "query", "title"))
    if qid is None or not isinstance(text, str) or not text.strip():
        return None
    return qid, text


def parse_tsv_query(line: str) -> tuple[str, str] | None:
    cols = line.split("\t")
    if len(cols) != 2 or not cols[0].strip() or not cols[1].strip():
        return None
    return cols[0].strip(), cols[1]


def read_queries(path, fmt: str = "auto", problems: Problems | None = None) -> dict[str, str]:
    """qid -> query text; the first of duplicate ids is kept."""
    problems = problems if problems is not None else Problems()
    parse = parse_beir_query if _resolve_format(path, fmt) == "beir" else parse_tsv_query
    return _read_pairs(path, parse, problems)


def _read_pairs(path, parse, problems: Problems, desc: str | None = None) -> dict:
    """id -> parsed value of each line; malformed lines and repeated ids are counted, not kept."""
    pairs: dict = {}
    for where, line in iter_lines(path, problems, desc):
        parsed = parse(line)
        if parsed is None:
            problems.add(MALFORMED, where)
        elif parsed[0] in pairs:
            problems.add(DUPLICATE, where)
        else:
            pairs[parsed[0]] = parsed[1]
    return pairs


# --------------------------------------------------------------------------- qrels


HEADER_WORDS = {"query-id", "query_id", "qid", "query", "topic"}


def _is_header(cols: list[str]) -> bool:
    """BEIR's ``query-id corpus-id score`` (and similar named columns)."""
    return len(cols) >= 2 and cols[0].lower() in HEADER_WORDS


def parse_qrel(cols: list[str]) -> tuple[str, str, int] | None:
    """``qid 0 docid rel`` (TREC), ``qid docid rel`` (BEIR) or ``qid docid`` (MS MARCO)."""
    if len(cols) == 4:
        qid, _, docid, rel = cols
    elif len(cols) == 3:
        qid, docid, rel = cols
    elif len(cols) == 2:
        (qid, docid), rel = cols, "1"
    else:
        return None
    try:
        value = float(rel)
    except ValueError:
        return None
    if not math.isfinite(value) or value != int(value):
        return None
    return qid, docid, int(value)


def read_qrels(path, problems: Problems | None = None) -> dict[str, dict[str, int]]:
    """qid -> {docid: relevance}; a header line (BEIR's ``query-id corpus-id score``) is skipped."""
    problems = problems if problems is not None else Problems()
    qrels: dict[str, dict[str, int]] = {}
    first = True
    for where, line in iter_lines(path, problems):
        cols = line.split()
        if first and _is_header(cols):
            first = False
            continue
        first = False
        parsed = parse_qrel(cols)
        if parsed is None:
            problems.add(MALFORMED, where)
            continue
        qid, docid, rel = parsed
        qrels.setdefault(qid, {})[docid] = rel
    return qrels


def positives(judgments: dict[str, int]) -> list[str]:
    """Judged-relevant docids (relevance > 0), most relevant first, then by id."""
    relevant = [d for d, rel in judgments.items() if rel > 0]
    return sorted(relevant, key=lambda d: (-judgments[d], natural_key(d)))


# --------------------------------------------------------------------------- teacher scores, pseudo-queries


def parse_score_line(cols: list[str]) -> tuple[str, str, float] | None:
    """``qid docid score`` or a TREC run line ``qid Q0 docid rank score tag``."""
    if len(cols) == 3:
        qid, docid, score = cols
    elif len(cols) == 6:
        qid, _, docid, _, score, _ = cols
    else:
        return None
    try:
        value = float(score)
    except ValueError:
        return None
    return (qid, docid, value) if math.isfinite(value) else None


def read_teacher_scores(path, problems: Problems | None = None,
                        qids: set[str] | None = None) -> dict[str, dict[str, float]]:
    """qid -> {docid: teacher score}; with ``qids``, other queries are not kept in memory."""
    problems = problems if problems is not None else Problems()
    scores: dict[str, dict[str, float]] = {}
    for where, line in iter_lines(path, problems, desc="teacher scores"):
        parsed = parse_score_line(line.split())
        if parsed is None:
            problems.add(MALFORMED, where)
        elif qids is None or parsed[0] in qids:
            scores.setdefault(parsed[0], {})[parsed[1]] = parsed[2]
    return scores


def parse_pseudo_query(line: str) -> tuple[str, str] | None:
    docid, sep, text = line.partition("\t")
    if not sep or not docid.strip() or not text.strip():
        return None
    return docid.strip(), text


def read_pseudo_queries(path, problems: Problems | None = None) -> dict[str, str]:
    """docid -> pseudo-query text; for a docid given twice the first line is kept."""
    problems = problems if problems is not None else Problems()
    return _read_pairs(path, parse_pseudo_query, problems)
