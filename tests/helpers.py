"""Helpers the tests import (``import helpers``: setup.cfg puts tests/ on pytest's path).

* a tiny BERT backbone written to disk, its vocabulary, sample passages and queries;
* ``official_state_dict``: a random checkpoint of those shapes in the authors' released layout;
* ``load_offline``: call with ``HF_HUB_OFFLINE=1`` (no network here);
* ``make_minimal_env`` / ``run_python``: ``env -i PATH=/usr/bin:/bin`` with Java's
  user.home and Pyserini's cache redirected, and ``python ARGS`` run in it;
* ``write_training_file`` / ``run`` / ``base_args`` / ``log``: tiny training runs of
  ``python -m pyserini_i3 train`` on a synthetic Tevatron file.

Fixtures live in ``conftest.py``.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PYTHON = sys.executable
MINIMAL_PATH = "/usr/bin:/bin"

MINILM = "sentence-transformers/all-MiniLM-L6-v2"

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = (
    "the a of and to in is was for on with as by at from that this it be are or "
    "what who when where how why which do does did can will not no yes one two three "
    "cat dog bird fish tree river city country king queen war peace music art science "
    "water fire earth air sun moon star light dark red green blue big small old new "
    "first last house car road book paper language people born died capital president "
    "france paris germany berlin ocean mountain computer retrieval passage query dense"
).split()
LETTERS = list("abcdefghijklmnopqrstuvwxyz0123456789.,?!-")
PIECES = ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"] + ["##s", "##ed", "##ing", "##er"]


def vocab_tokens() -> list[str]:
    seen, out = set(), []
    for t in SPECIAL + WORDS + LETTERS + PIECES:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def tiny_bert_config(vocab_size: int, **overrides):
    from transformers import BertConfig

    kwargs = dict(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=512, type_vocab_size=2,
        hidden_act="gelu", layer_norm_eps=1e-12, initializer_range=0.02,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=0,
    )
    kwargs.update(overrides)
    return BertConfig(**kwargs)


def write_tiny_bert(directory: Path, seed: int = 0, **config_overrides) -> Path:
    """A random tiny BertModel + BertTokenizerFast (vocab.txt) saved in ``directory``."""
    from transformers import BertModel, BertTokenizerFast

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokens = vocab_tokens()
    (directory / "vocab.txt").write_text("\n".join(tokens) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(directory / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(directory)
    torch.manual_seed(seed)
    model = BertModel(tiny_bert_config(len(tokens), **config_overrides))
    model.save_pretrained(directory)
    return directory


# --------------------------------------------------------------------------- the authors' released layout
# (random tensors of the tiny BERT's shapes; tests/unit/test_convert.py checks the converter against a
# reference forward written from the design page, tests/unit/test_released.py serves them as a stand-in hub)
OFFICIAL_SHAPES = (32, 4, 64, 2, 512, 1e-12)  # hidden, heads, intermediate, layers, positions, LayerNorm eps
D, _HEADS, FFN, LAYERS, MAX_POS, _EPS = OFFICIAL_SHAPES


def vocab_size(backbone: Path) -> int:
    return len((backbone / "vocab.txt").read_text().split("\n")) - 1


def _linear(state, gen, name, out_dim, in_dim):
    state[f"{name}.weight"] = torch.randn(out_dim, in_dim, generator=gen) * (1.0 / math.sqrt(in_dim))
    state[f"{name}.bias"] = torch.randn(out_dim, generator=gen) * 0.1


def _layer_norm(state, gen, name):
    state[f"{name}.weight"] = 1.0 + 0.1 * torch.randn(D, generator=gen)
    state[f"{name}.bias"] = 0.1 * torch.randn(D, generator=gen)


def _bert_layer(state, gen, prefix, cross: bool):
    for block in ("attention", "crossattention") if cross else ("attention",):
        for proj in ("query", "key", "value"):
            _linear(state, gen, f"{prefix}.{block}.self.{proj}", D, D)
        _linear(state, gen, f"{prefix}.{block}.output.dense", D, D)
        _layer_norm(state, gen, f"{prefix}.{block}.output.LayerNorm")
    _linear(state, gen, f"{prefix}.intermediate.dense", FFN, D)
    _linear(state, gen, f"{prefix}.output.dense", D, FFN)
    _layer_norm(state, gen, f"{prefix}.output.LayerNorm")


def _bert_model(state, gen, prefix, vocab):
    state[f"{prefix}.embeddings.word_embeddings.weight"] = torch.randn(vocab, D, generator=gen) * 0.5
    state[f"{prefix}.embeddings.position_embeddings.weight"] = torch.randn(MAX_POS, D, generator=gen) * 0.5
    state[f"{prefix}.embeddings.token_type_embeddings.weight"] = torch.randn(2, D, generator=gen) * 0.5
    _layer_norm(state, gen, f"{prefix}.embeddings.LayerNorm")
    state[f"{prefix}.embeddings.position_ids"] = torch.arange(MAX_POS).unsqueeze(0)  # old checkpoints carry it
    for i in range(LAYERS):
        _bert_layer(state, gen, f"{prefix}.encoder.layer.{i}", cross=False)


def official_state_dict(vocab: int, c_layers: int = 1, d_layers: int = 1, prefix: str = "", seed: int = 0):
    """A state dict in the layout of III_finetuned.p / III_distilled.p (lm_q, lm_p, c_head, d_head, cls)."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    _bert_model(state, gen, "lm_q", vocab)
    _bert_model(state, gen, "lm_p", vocab)
    for i in range(c_layers):
        _bert_layer(state, gen, f"c_head.{i}", cross=True)
    for i in range(d_layers):
        _bert_layer(state, gen, f"d_head.{i}", cross=False)
    _linear(state, gen, "cls.predictions.transform.dense", D, D)
    _layer_norm(state, gen, "cls.predictions.transform.LayerNorm")
    state["cls.predictions.decoder.weight"] = torch.randn(vocab, D, generator=gen) * 0.2
    state["cls.predictions.bias"] = torch.randn(vocab, generator=gen) * 0.1
    state["cls.predictions.decoder.bias"] = state["cls.predictions.bias"]  # tied in BertLMPredictionHead
    return {prefix + k: v for k, v in state.items()}


def load_offline(fn, *args, **kwargs):
    """Call ``fn`` with HF_HUB_OFFLINE=1 (no network here: never wait on the hub)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return fn(*args, **kwargs)


PASSAGES = [
    "Paris is the capital of France.",
    "The cat sat on the old red book.",
    "Berlin is a big city in Germany and the capital of the country.",
    "Dense retrieval uses one vector per passage.",
    "",
    "A river runs to the ocean from the mountain; the water is blue and the sun is bright.",
    "Who was the first president?",
]
QUERIES = [
    "capital of france",
    "what is dense retrieval",
    "who was born in berlin",
    "cat",
    "",
    "how big is the ocean",
]


def make_minimal_env(java_user_home: Path, pyserini_cache: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": MINIMAL_PATH,
        "JAVA_TOOL_OPTIONS": f"-Duser.home={java_user_home}",
        "PYSERINI_CACHE": str(pyserini_cache),
        "HOME": str(java_user_home),  # Python-side ~ (tqdm, HF) stays in tmp too
    }
    # the model settings of this process (e.g. $PYSERINI_I3_FAST_PATH, $PYSERINI_I3_ENCODER), so that
    # in-process expectations and the commands use the same model; the Java switch stays out
    env.update({k: v for k, v in os.environ.items() if k.startswith("PYSERINI_I3_") and k != "PYSERINI_I3_JAVA"})
    env.update(extra)
    return env


class CliResult:
    def __init__(self, args, proc, seconds):
        self.args = args
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.seconds = seconds

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


# what the running test may cost (tests/conftest.py's cost_guard): only ``slow`` tests start the expensive kinds
COST: dict = {"slow": True, "test": None}
EXPENSIVE = ("pyserini.", "build", "pip")  # python -m ...: Pyserini's commands (JVM, FAISS), the wheel


def check_cost(what: str) -> None:
    if not COST["slow"]:
        pytest.fail(f"{COST['test']} runs {what}: mark it slow (tests/conftest.py)", pytrace=False)


def run_python(args, env, cwd=None, check=True, timeout=900) -> CliResult:
    """``python ARGS`` with the venv's interpreter in ``env``."""
    cmd = [PYTHON, *map(str, args)]
    module = cmd[cmd.index("-m") + 1] if "-m" in cmd[:-1] else ""
    code = cmd[cmd.index("-c") + 1] if "-c" in cmd[:-1] else ""
    if module.startswith(EXPENSIVE):
        check_cost(f"python -m {module}")
    elif re.search(r"\bpyserini\.(search|encode|index|eval)|\bjnius\b", code):
        check_cost("python -c with Pyserini's commands or the JVM")
    start = time.time()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    result = CliResult(cmd, proc, time.time() - start)
    if check and proc.returncode != 0:
        tail = (proc.stdout[-2000:] + "\n" + proc.stderr[-4000:]).strip()
        pytest.fail(f"exit {proc.returncode}: {shlex.join(cmd)}\n{tail}", pytrace=False)
    return result


# --------------------------------------------------------------------------- training runs (tiny, seconds)
TOPICAL = WORDS[40:90]
# one thread: the same float reduction order in every run (compared runs must match bit for bit)
TRAIN_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def write_training_file(path: Path, n: int = 16, negatives: int = 5, scores: bool = False, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n):
            query = " ".join(rng.sample(TOPICAL, 3))
            pos = {"docid": f"p{i}", "title": "title", "text": query + " " + " ".join(rng.sample(TOPICAL, 6)),
                   "pseudo_query": query}
            negs = [{"docid": f"n{i}-{j}", "title": "", "text": " ".join(rng.sample(TOPICAL, 8))}
                    for j in range(negatives)]
            if scores:
                pos["score"] = 5.0
                for j, neg in enumerate(negs):
                    neg["score"] = float(-j)
            f.write(json.dumps({"query_id": str(i), "query": query, "positive_passages": [pos],
                                "negative_passages": negs}) + "\n")
    return path


def run(args: list[str], torchrun: int = 0, check: bool = True, accelerate: int = 0,
        **kwargs) -> subprocess.CompletedProcess:
    """``python -m pyserini_i3 train ARGS``: in this process (``cli.train.main``, one torch thread, stderr
    captured), or under ``torchrun`` / ``accelerate launch`` with that many processes."""
    if not (torchrun or accelerate or kwargs):
        return train_in_process(args, check)
    if torchrun or accelerate:
        check_cost("torchrun / accelerate launch")
    prefix = [sys.executable, "-m"]
    if torchrun:
        prefix += ["torch.distributed.run", "--standalone", "--nproc-per-node", str(torchrun), "-m"]
    if accelerate:
        prefix += ["accelerate.commands.launch", "--num_processes", str(accelerate), "--num_machines", "1",
                   "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0", "-m"]
    proc = subprocess.run(prefix + ["pyserini_i3", "train", *args], capture_output=True, text=True, env=TRAIN_ENV,
                          timeout=180, **kwargs)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def command(name: str, *args, check: bool = False) -> subprocess.CompletedProcess:
    """``python -m pyserini_i3 NAME ARGS`` in this process (its ``main(argv)``, one torch thread, stdout and
    stderr captured): what the subprocess gives, without starting Python and importing torch again.  The
    entry point, the start-up hook and the launchers are tested with real subprocesses elsewhere."""
    import contextlib
    import io

    import torch

    from pyserini_i3.__main__ import main

    out, err, threads = io.StringIO(), io.StringIO(), torch.get_num_threads()
    torch.set_num_threads(1)  # as OMP_NUM_THREADS=1 in TRAIN_ENV: the same reduction order in every run
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([name, *map(str, args)])
            except SystemExit as exit_:  # argparse's usage errors
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        torch.set_num_threads(threads)
    proc = subprocess.CompletedProcess(["pyserini_i3", name, *map(str, args)], code, out.getvalue(), err.getvalue())
    if check:
        assert code == 0, proc.stderr[-3000:]
    return proc


def train_in_process(args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    return command("train", *args, check=check)


def base_args(backbone, train_file, output, *extra) -> list[str]:
    return ["--train-file", str(train_file), "--base", str(backbone), "--output-dir", str(output),
            "--batch-size", "4", "--group-size", "3", "--progress", "false", *extra]


def max_diff(a: Path, b: Path) -> float:
    x, y = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert x.keys() == y.keys()
    return max((x[k] - y[k]).abs().max().item() for k in x)


def log(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "train_log.jsonl").read_text().splitlines()]




def teacher_scores(*args) -> subprocess.CompletedProcess:
    return command("teacher-scores", *args)


def load_benchmark(name: str):
    """``benchmarks/NAME.py`` as a module (the benchmarks are scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- a pseudo-query that names its query
BAG_PASSAGES = ["paris is the capital of france", "berlin is the capital of germany", "the cat sat on the red book"]
BAG_QUERY = "capital city of france"  # "city" is in no passage: only the pseudo-query can name it
BAG_QUERY_2 = "dog and bird"  # for passage 2, the cat's


def train_bag(model, steps: int = 60):
    """``model`` (an untrained tiny I^3) trained on the bag reconstruction loss alone, passage 0 -> BAG_QUERY and
    passage 2 -> BAG_QUERY_2: passage 0's top three content terms become capital, city, france."""
    import torch

    from pyserini_i3.modeling.losses import reconstruction_nll

    labels = model.reconstruction_labels([BAG_QUERY, BAG_QUERY_2])
    inputs = model.tokenize([BAG_PASSAGES[0], BAG_PASSAGES[2]], 64)
    optimizer = torch.optim.Adam([p for n, p in model.named_parameters() if not n.startswith("query_")], lr=3e-3)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        _, pseudo = model.passage_vectors(inputs, return_pseudo_query=True, fast_path="off")
        reconstruction_nll(model.reconstruction_logits(pseudo), labels, "bag").backward()
        optimizer.step()
    return model.eval()


def write_bag_model(backbone: Path, directory: Path) -> Path:
    import torch

    from pyserini_i3.modeling.model import I3Model

    torch.manual_seed(0)
    return train_bag(I3Model.from_backbone(str(backbone), variant="full")).save_pretrained(directory)

