"""Reading ``pyserini.encode`` output for Anserini's dense indexes (the JVM part: tests/e2e/test_pyserini_e2e.py)."""

import json

import faiss
import numpy as np
import pytest

from pyserini_i3.plugin.lucene_dense import encoded_records, write_anserini_collection


def unit(*values):
    v = np.asarray(values, dtype=np.float32)
    return (v / np.linalg.norm(v)).tolist()


def test_jsonl_and_flat_faiss_output_give_the_same_records(tmp_path):
    rows = [{"id": "a", "contents": "x", "vector": unit(1, 2, 2)},
            {"id": "b", "contents": "y", "vector": unit(0, 3, 4)}]
    jsonl = tmp_path / "jsonl"
    jsonl.mkdir()
    (jsonl / "embeddings.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    flat = tmp_path / "flat"
    flat.mkdir()
    index = faiss.IndexFlatIP(3)
    index.add(np.asarray([r["vector"] for r in rows], dtype=np.float32))
    faiss.write_index(index, str(flat / "index"))
    (flat / "docid").write_text("a\nb\n")
    for source in (jsonl, jsonl / "embeddings.jsonl", flat):
        records = list(encoded_records(source))
        assert [docid for _, docid, _ in records] == ["a", "b"]
        np.testing.assert_allclose(np.stack([v for _, _, v in records]), [r["vector"] for r in rows], rtol=1e-6)
    out = tmp_path / "collection"
    out.mkdir()
    assert write_anserini_collection(encoded_records(flat), out, progress=False) == (2, 3)
    lines = [json.loads(line) for line in (out / "vectors.jsonl").read_text().splitlines()]
    assert [line["docid"] for line in lines] == ["a", "b"] and set(lines[0]) == {"docid", "vector"}


@pytest.mark.parametrize(("line", "message"), [
    ("not json", "embeddings.jsonl:2: not a JSON object"),
    ('{"contents": "x", "vector": [1.0]}', "embeddings.jsonl:2: expected pyserini.encode's"),
    ('{"id": "c", "vector": ["a"]}', 'embeddings.jsonl:2: "vector" is not a list of numbers'),
])
def test_malformed_lines_name_their_file_and_line(tmp_path, line, message):
    path = tmp_path / "embeddings.jsonl"
    path.write_text(json.dumps({"id": "a", "vector": unit(1, 0)}) + "\n" + line + "\n")
    with pytest.raises(ValueError, match=message):
        list(encoded_records(path))


def test_vectors_must_be_unit_length_and_of_one_dimension(tmp_path):
    out = tmp_path / "collection"
    out.mkdir()
    records = [("f:1", "a", np.asarray(unit(1, 0), np.float32)), ("f:2", "b", np.asarray([3, 4], np.float32))]
    with pytest.raises(ValueError, match="f:2: the vector of b has length 5, not 1: .*DOT_PRODUCT"):
        write_anserini_collection(iter(records), out, progress=False)
    records[1] = ("f:2", "b", np.asarray(unit(1, 0, 0), np.float32))
    with pytest.raises(ValueError, match="f:2: a 3-d vector after 2-d ones"):
        write_anserini_collection(iter(records), out, progress=False)
    with pytest.raises(ValueError, match="no pyserini.encode output"):
        list(encoded_records(tmp_path / "nowhere"))
