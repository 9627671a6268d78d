"""The pseudo-query, decoded: the bag-of-words reconstruction loss, ``I3Model.pseudo_queries`` and the
``explain`` / ``expand`` commands (in process, on a tiny random BERT; the Lucene side is in
tests/e2e/test_expand_e2e.py)."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from helpers import BAG_PASSAGES, BAG_QUERY, train_bag, write_bag_model
from pyserini_i3.cli import expand as expand_cli
from pyserini_i3.cli import explain as explain_cli
from pyserini_i3.modeling.losses import IGNORE_INDEX, reconstruction_nll
from pyserini_i3.modeling.model import I3Model
from pyserini_i3.modeling.pseudo_query import PseudoQuery, expansion, read_slots, vocabulary

PASSAGES, QUERY = BAG_PASSAGES, BAG_QUERY


# --------------------------------------------------------------------------- the losses
def test_slots_is_cross_entropy_per_slot_and_bag_ignores_order():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 7)
    labels = torch.tensor([[3, 1, IGNORE_INDEX], [2, IGNORE_INDEX, IGNORE_INDEX]])
    expected = F.cross_entropy(logits.reshape(-1, 7), labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum")
    torch.testing.assert_close(reconstruction_nll(logits, labels, "slots"), expected)
    bag = reconstruction_nll(logits, labels, "bag")
    torch.testing.assert_close(bag, reconstruction_nll(logits, labels[:, [1, 0, 2]], "bag"))  # order-free
    assert not torch.isclose(reconstruction_nll(logits, labels[:, [1, 0, 2]], "slots"), expected)
    # by hand: -log of the mean of the slots' probabilities of each target token
    pooled = logits.softmax(-1).mean(1)
    by_hand = -(pooled[0, 3].log() + pooled[0, 1].log() + pooled[1, 2].log())
    torch.testing.assert_close(bag, by_hand)
    # one slot: both targets are the same cross-entropy
    torch.testing.assert_close(reconstruction_nll(logits[:, :1], labels[:, :1], "bag"),
                               reconstruction_nll(logits[:, :1], labels[:, :1], "slots"))
    with pytest.raises(ValueError, match="must be one of slots, bag"):
        reconstruction_nll(logits, labels, "words")


@pytest.fixture(scope="module")
def tiny_i3(tiny_backbone):
    torch.manual_seed(0)
    return I3Model.from_backbone(str(tiny_backbone), variant="full").eval()


def test_forward_takes_the_bag_target(tiny_i3):
    inputs = dict(query_inputs=tiny_i3.tokenize([QUERY], 32), passage_inputs=tiny_i3.tokenize(PASSAGES[:2], 64),
                  reconstruction_labels=tiny_i3.reconstruction_labels([QUERY, None]))
    with torch.no_grad():
        slots, bag = (tiny_i3(**inputs, reconstruction_target=t) for t in ("slots", "bag"))
    assert float(bag.reconstruction_loss) > 0 and float(bag.reconstruction_loss) != float(slots.reconstruction_loss)
    torch.testing.assert_close(bag.contrastive_loss, slots.contrastive_loss)


# --------------------------------------------------------------------------- decoding
def test_pseudo_queries_read_the_model_s_own_vocabulary_head(tiny_i3):
    decoded = tiny_i3.pseudo_queries(PASSAGES, k=5)
    with torch.no_grad():
        _, pseudo = tiny_i3.passage_vectors(tiny_i3.tokenize(PASSAGES, tiny_i3.config.passage_max_length),
                                            return_pseudo_query=True)
        probs = tiny_i3.reconstruction_logits(pseudo).softmax(-1)
    vocab = vocabulary(tiny_i3.tokenizer)
    for row, query in enumerate(decoded):
        assert query.slots == tiny_i3.tokenizer.convert_ids_to_tokens(probs[row].argmax(-1).tolist())
        pooled = probs[row].mean(0).masked_fill(vocab.special, -1)
        top = pooled.topk(5)
        assert [t for t, _ in query.terms] == [vocab.terms[i] for i in top.indices.tolist()]
        assert [p for _, p in query.terms] == pytest.approx(top.values.tolist(), abs=1e-6)
    content = tiny_i3.pseudo_queries(PASSAGES, k=5, content_only=True)
    assert all(len(t) > 1 and not t.startswith("##") and t not in ("the", "of", "is") and any(c.isalnum() for c in t)
               for q in content for t, _ in q.terms)


def test_the_bag_target_makes_the_pseudo_query_name_its_query(tiny_backbone):
    torch.manual_seed(0)
    model = I3Model.from_backbone(str(tiny_backbone), variant="full").eval()
    before = {t for t, _ in model.pseudo_queries(PASSAGES[:1], k=3, content_only=True)[0].terms}
    train_bag(model)
    after = {t for t, _ in model.pseudo_queries(PASSAGES[:1], k=3, content_only=True)[0].terms}
    assert after == {"capital", "city", "france"} != before


def test_vocabulary_and_reading_the_slots(tiny_i3):
    tokenizer = tiny_i3.tokenizer
    vocab = vocabulary(tokenizer)
    ids = tokenizer.convert_tokens_to_ids
    assert vocab.special[ids("[CLS]")] and vocab.special[ids("[MASK]")] and not vocab.special[ids("paris")]
    assert vocab.content[ids("paris")] and vocab.content[ids("capital")]
    for token in ("the", "of", "##ing", ".", "a", "[SEP]", "x"):
        assert not vocab.content[ids(token)], token
    assert read_slots(tokenizer, ["[CLS]", "what", "what", "is", "capital", "##s", "[PAD]", "[PAD]"]) == \
        "what is capitals"


def test_expansion_repeats_terms_by_weight():
    query = PseudoQuery([], "", [("paris", 0.4), ("france", 0.2), ("city", 0.01)])
    assert expansion(query) == "paris france city"
    assert expansion(query, max_repeat=4) == "paris paris paris paris france france city"
    with pytest.raises(ValueError):
        expansion(query, 0)


def test_models_without_a_vocabulary_head_are_refused(tiny_backbone):
    for variant in ("de", "de-layer"):
        model = I3Model.from_backbone(str(tiny_backbone), variant=variant)
        with pytest.raises(ValueError, match="no reconstructor and vocabulary head"):
            model.pseudo_queries(PASSAGES)


# --------------------------------------------------------------------------- the commands
@pytest.fixture(scope="module")
def model_dir(tiny_backbone, tmp_path_factory):
    return write_bag_model(tiny_backbone, tmp_path_factory.mktemp("bag") / "model")


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps({"id": f"d{i}", "contents": p}) + "\n" for i, p in enumerate(PASSAGES)))
    return path


def test_explain_prints_each_passage_s_pseudo_query(model_dir, corpus, capsys):
    assert explain_cli.main(["--encoder", str(model_dir), "--input", str(corpus), "--docid", "d0", "--k", "3",
                             "--content-only", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["id"] == "d0" and {t["term"] for t in record["terms"]} == {"capital", "city", "france"}
    assert len(record["slots"]) == I3Model.from_pretrained(model_dir).config.num_slots
    assert explain_cli.main(["--encoder", str(model_dir), "--text", PASSAGES[0], "--text", PASSAGES[2]]) == 0
    out = capsys.readouterr().out
    assert out.count("pseudo-query: ") == 2 and out.startswith("text1\t")


def test_explain_refuses_in_one_line(tiny_backbone, model_dir, corpus, tmp_path, capsys):
    de = I3Model.from_backbone(str(tiny_backbone), variant="de").save_pretrained(tmp_path / "de")
    cases = [(["--encoder", str(de), "--text", "x"], f"explain: --encoder {de}: this model (DE) has no"),
             (["--encoder", str(model_dir), "--input", str(corpus), "--docid", "d9"], "--docid d9: not in --input"),
             (["--encoder", str(model_dir), "--input", str(tmp_path / "none.jsonl")], "none.jsonl: no such file")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "contents": "x"}\nnot json\n')
    cases.append((["--encoder", str(model_dir), "--input", str(bad)], "bad.jsonl:2"))
    for argv, message in cases:
        assert explain_cli.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err


def test_expand_writes_a_resumable_json_collection(model_dir, corpus, tmp_path, capsys):
    out = tmp_path / "expanded"
    argv = ["--encoder", str(model_dir), "--input", str(corpus), "--output", str(out), "--terms", "3",
            "--chunk-size", "2", "--progress", "false"]
    assert expand_cli.main(argv) == 0
    parts = sorted(out.glob("*.jsonl"))
    assert [p.name for p in parts] == ["part-00000.jsonl", "part-00001.jsonl"]
    docs = [json.loads(line) for p in parts for line in p.read_text().splitlines()]
    assert [d["id"] for d in docs] == ["d0", "d1", "d2"]
    text, terms = docs[0]["contents"].split("\n")
    assert text == PASSAGES[0] and set(terms.split()) == {"capital", "city", "france"}
    first = parts[1].read_text()
    parts[1].unlink()  # as if interrupted after the first part
    assert expand_cli.main(argv) == 0
    assert parts[1].read_text() == first and "1 from an earlier run" in capsys.readouterr().out
    assert expand_cli.main([*argv[:-4], "--terms", "5", "--progress", "false"]) == 2  # other settings, same output
    assert "holds an expansion made with other settings" in capsys.readouterr().err


def test_expand_refuses_bad_input_and_writes_nothing(tiny_backbone, model_dir, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "contents": "x"}\n{"id": "b"\n')
    de = I3Model.from_backbone(str(tiny_backbone), variant="de").save_pretrained(tmp_path / "de")
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": "a", "contents": "x"}\n')
    for encoder, corpus, message in [(model_dir, bad, "bad.jsonl:2"), (de, good, "it computes no pseudo-query")]:
        out = tmp_path / "out"
        assert expand_cli.main(["--encoder", str(encoder), "--input", str(corpus), "--output", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0] and not out.exists(), err
