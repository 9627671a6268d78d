"""The training entry point on transformers' Trainer: repeatability, multi-process equivalence, resume, the
Trainer's flags, outputs.

All runs use a tiny random BERT (hidden 32, 2 layers, no dropout) and a synthetic
Tevatron-shaped file.  ``run`` trains in this process through ``cli.train.main`` (about a
second); torchrun, accelerate launch and the SIGKILL test start real processes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

from helpers import TRAIN_ENV, base_args, log, max_diff, run, teacher_scores, write_training_file


@pytest.fixture
def train_file(tmp_path):
    return write_training_file(tmp_path / "train.jsonl")


def test_output_is_a_loadable_i3_model_with_log_and_args(tiny_backbone, train_file, tmp_path):
    from pyserini_i3.modeling.model import I3Model

    out = tmp_path / "out"
    run(base_args(tiny_backbone, train_file, out, "--max-steps", "3"))
    model = I3Model.from_pretrained(out)
    assert model.config.interaction and model.config.variant == "full"
    assert model.encode_passages(["a passage"]).shape == (1, 32)
    records = log(out)
    assert [r["step"] for r in records] == [1, 2, 3]
    for key in ("loss", "contrastive", "reconstruction", "distillation", "lr", "head_lr", "passages_per_s"):
        assert key in records[0]
    assert records[0]["reconstruction"] > 0  # positives have the query as target
    assert records[0]["head_lr"] > records[0]["lr"]  # heads get their own (larger) rate
    assert json.loads((out / "training_args.json").read_text())["max_steps"] == 3


def test_de_variant_from_the_same_entry_point(tiny_backbone, train_file, tmp_path):
    from pyserini_i3.modeling.storage import read_config_json

    out = tmp_path / "de"
    run(base_args(tiny_backbone, train_file, out, "--max-steps", "2", "--variant", "de"))
    config = read_config_json(out)
    assert config["interaction"] is False
    assert not any(k.startswith(("reconstructor", "interactor")) for k in load_file(str(out / "model.safetensors")))
    assert all(r["reconstruction"] == 0 for r in log(out))


def test_same_seed_same_weights_other_seed_differs(tiny_backbone, train_file, tmp_path):
    common = ["--max-steps", "3"]
    run(base_args(tiny_backbone, train_file, tmp_path / "a", *common))
    run(base_args(tiny_backbone, train_file, tmp_path / "b", *common))
    run(base_args(tiny_backbone, train_file, tmp_path / "c", *common, "--seed", "7"))
    assert max_diff(tmp_path / "a", tmp_path / "b") == 0.0
    assert max_diff(tmp_path / "a", tmp_path / "c") > 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["torchrun", "accelerate"])
def test_two_processes_equal_one_process_on_the_global_batch(tiny_backbone, train_file, tmp_path, launcher):
    """torchrun / accelerate launch, 2 gloo processes with half of each batch: the losses (in-batch negatives
    gathered across processes) and the final vectors of one process with the whole batch."""
    from pyserini_i3.modeling.model import I3Model

    # SGD: Adam's first step is lr * sign(g), which turns round-off in gradients that are
    # zero in theory (e.g. a bias shifting every passage vector) into lr-sized differences.
    common = ["--max-steps", "3", "--optimizer", "sgd", "--learning-rate", "0.1", "--head-learning-rate", "0.1",
              "--weight-decay", "0"]
    run(base_args(tiny_backbone, train_file, tmp_path / "one", *common))
    run(base_args(tiny_backbone, train_file, tmp_path / "two", *common), **{launcher: 2})
    one, two = log(tmp_path / "one"), log(tmp_path / "two")
    assert [r["step"] for r in two] == [1, 2, 3]  # one writer
    for a, b in zip(one, two, strict=True):
        for key in ("loss", "contrastive", "reconstruction"):
            assert abs(a[key] - b[key]) < 1e-5, (key, a, b)
    assert max_diff(tmp_path / "one", tmp_path / "two") < 1e-5
    texts = ["alpha beta gamma", "a passage about delta", "epsilon"]
    vectors = [I3Model.from_pretrained(tmp_path / name).encode_passages(texts) for name in ("one", "two")]
    assert abs(vectors[0] - vectors[1]).max() < 1e-4


@pytest.mark.slow
def test_two_processes_when_a_process_s_slice_has_no_reconstruction_target(tiny_backbone, tmp_path):
    """--rec-targets pseudo with few pseudo-queries: some steps give one process no target at all; both still
    count the batch's target tokens together (no mismatched collectives), and the run equals one process."""
    lines = write_training_file(tmp_path / "all.jsonl").read_text().splitlines()
    sparse = tmp_path / "sparse.jsonl"
    with open(sparse, "w") as f:
        for i, line in enumerate(lines):
            example = json.loads(line)
            if i % 4:
                del example["positive_passages"][0]["pseudo_query"]
            f.write(json.dumps(example) + "\n")
    common = ["--max-steps", "4", "--optimizer", "sgd", "--learning-rate", "0.1", "--head-learning-rate", "0.1",
              "--weight-decay", "0", "--rec-targets", "pseudo"]
    from pyserini_i3.training.batching import StepDataset, TrainGroups
    from pyserini_i3.training.examples import read_training_file

    data = StepDataset(TrainGroups(read_training_file(sparse), 3, 42, "pseudo"), 4, 4, 42)
    halves = [[any(data[4 * step + 2 * rank + i].rec_targets[0] for i in range(2)) for rank in range(2)]
              for step in range(4)]
    assert [True, False] in halves or [False, True] in halves  # a step where one process has no target
    run(base_args(tiny_backbone, sparse, tmp_path / "one", *common))
    run(base_args(tiny_backbone, sparse, tmp_path / "two", *common), torchrun=2)
    for a, b in zip(log(tmp_path / "one"), log(tmp_path / "two"), strict=True):
        assert abs(a["loss"] - b["loss"]) < 1e-5 and abs(a["reconstruction"] - b["reconstruction"]) < 1e-5
    assert max_diff(tmp_path / "one", tmp_path / "two") < 1e-5


@pytest.mark.slow  # a real process, killed
def test_killed_run_resumes_to_the_same_valid_model(tiny_backbone, train_file, tmp_path):
    from pyserini_i3.modeling.model import I3Model

    common = ["--max-steps", "6", "--save-steps", "2"]
    run(base_args(tiny_backbone, train_file, tmp_path / "full", *common))
    cut = tmp_path / "cut"
    proc = subprocess.Popen([sys.executable, "-m", "pyserini_i3", "train",
                             *base_args(tiny_backbone, train_file, cut, *common)],
                            env=TRAIN_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (cut / "checkpoint-2" / "trainer_state.json").exists():
        assert proc.poll() is None, "training ended before its first checkpoint"
        assert time.time() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (cut / "model.safetensors").exists()
    run(base_args(tiny_backbone, train_file, cut, *common, "--resume", "true"))
    I3Model.from_pretrained(cut)  # valid
    assert max_diff(tmp_path / "full", cut) < 1e-6
    assert [r["step"] for r in log(cut)] == [1, 2, 3, 4, 5, 6]


def test_the_trainer_s_own_flags(tiny_backbone, train_file, tmp_path):
    """--logging_steps, --save_steps with rotation, --resume_from_checkpoint, --dataloader_num_workers,
    --gradient-checkpointing, --bf16."""
    common = ["--max-steps", "4", "--learning-rate", "1e-3"]
    run(base_args(tiny_backbone, train_file, tmp_path / "plain", *common))
    out = tmp_path / "flags"
    run(base_args(tiny_backbone, train_file, out, *common, "--logging_steps", "3", "--save_steps", "2",
                  "--save_total_limit", "1", "--dataloader_num_workers", "2"))
    assert [r["step"] for r in log(out)] == [3, 4]  # every third step, and the last
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-4"]  # rotated
    assert max_diff(tmp_path / "plain", out) == 0.0  # the data order does not depend on the loader's workers
    args = json.loads((out / "training_args.json").read_text())
    assert (args["logging_steps"], args["save_steps"], args["dataloader_num_workers"]) == (3, 2, 2)

    # resume from an explicit checkpoint folder of another run: the same model as the plain run
    again = tmp_path / "again"
    run(base_args(tiny_backbone, train_file, tmp_path / "half", *common, "--save_steps", "2", "--save_total_limit",
                  "5"))
    run(base_args(tiny_backbone, train_file, again, *common, "--resume_from_checkpoint",
                  str(tmp_path / "half" / "checkpoint-2")))
    assert [r["step"] for r in log(again)] == [3, 4]
    assert max_diff(tmp_path / "plain", again) < 1e-6

    checkpointed = tmp_path / "checkpointed"  # recomputes activations: the same weights
    run(base_args(tiny_backbone, train_file, checkpointed, *common, "--gradient-checkpointing", "true"))
    assert max_diff(tmp_path / "plain", checkpointed) < 1e-6

    bf16 = tmp_path / "bf16"  # the CPU's bf16 autocast (the same flag on a GPU)
    run(base_args(tiny_backbone, train_file, bf16, *common, "--bf16", "true"))
    assert 0.0 < max_diff(tmp_path / "plain", bf16) < 0.05


def test_help_lists_the_trainer_s_options(capsys):
    from pyserini_i3.cli.train import main

    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--bf16", "--deepspeed", "--report_to", "--save_steps", "--logging_steps",
                 "--dataloader_num_workers", "--gradient_checkpointing", "--resume_from_checkpoint", "--batch-size",
                 "--device", "--validation-significance"):
        assert flag in out, flag


def test_layout_options_reach_the_model(tiny_backbone, train_file, tmp_path):
    """--interactor-input / --reconstructor-attends-to override the variant's layout (full by default)."""
    out = tmp_path / "compact"
    run(base_args(tiny_backbone, train_file, out, "--max-steps", "1", "--interactor-input", "cls+pseudo-mean",
                  "--reconstructor-attends-to", "cls"))
    config = json.loads((out / "config.json").read_text())
    assert (config["variant"], config["interactor_input"], config["reconstructor_attends_to"]) == \
        ("full", "cls+pseudo-mean", "cls")
    run(base_args(tiny_backbone, train_file, tmp_path / "default", "--max-steps", "1"))
    config = json.loads((tmp_path / "default" / "config.json").read_text())
    assert (config["interactor_input"], config["reconstructor_attends_to"]) == ("tokens+pseudo", "tokens")


def test_ablation_options_reach_the_model(tiny_backbone, train_file, tmp_path):
    """--variant de-layer (the capacity control) and --interactor-gate (the identity start)."""
    run(base_args(tiny_backbone, train_file, tmp_path / "layer", "--max-steps", "1", "--variant", "de-layer"))
    config = json.loads((tmp_path / "layer" / "config.json").read_text())
    assert (config["variant"], config["interaction"], config["interactor_input"]) == ("de-layer", True, "tokens")
    assert not any(k.startswith(("reconstructor.", "vocab_head."))
                   for k in load_file(str(tmp_path / "layer" / "model.safetensors")))
    assert log(tmp_path / "layer")[0]["reconstruction"] == 0.0
    run(base_args(tiny_backbone, train_file, tmp_path / "gate", "--max-steps", "2", "--interactor-gate", "true"))
    config = json.loads((tmp_path / "gate" / "config.json").read_text())
    assert config["interactor_gate"] == "scalar"  # "true", the earlier spelling
    gate = load_file(str(tmp_path / "gate" / "model.safetensors"))["interactor.gate"]
    assert gate.shape == () and float(gate) != 0.0  # learned away from its zero start
    run(base_args(tiny_backbone, train_file, tmp_path / "linear", "--max-steps", "2", "--interactor-gate", "linear"))
    assert json.loads((tmp_path / "linear" / "config.json").read_text())["interactor_gate"] == "linear"
    weight = load_file(str(tmp_path / "linear" / "model.safetensors"))["interactor.gate.weight"]
    assert weight.shape[0] == weight.shape[1] and weight.abs().max() > 0


def test_the_bag_reconstruction_loss_from_the_command_line(tiny_backbone, train_file, tmp_path):
    run(base_args(tiny_backbone, train_file, tmp_path / "slots", "--max-steps", "1"))
    run(base_args(tiny_backbone, train_file, tmp_path / "bag", "--max-steps", "1", "--rec-loss", "bag"))
    slots, bag = log(tmp_path / "slots")[0], log(tmp_path / "bag")[0]
    assert bag["reconstruction"] > 0 and bag["reconstruction"] != slots["reconstruction"]
    assert bag["contrastive"] == slots["contrastive"]  # the same first batch, the same start
    assert json.loads((tmp_path / "bag" / "training_args.json").read_text())["rec_loss"] == "bag"


def test_teacher_scores_add_a_distillation_loss(tiny_backbone, tmp_path):
    data = write_training_file(tmp_path / "kd.jsonl", scores=True)
    out = tmp_path / "kd"
    run(base_args(tiny_backbone, data, out, "--max-steps", "1"))
    assert log(out)[0]["distillation"] > 0


def test_kd_from_base_distils_from_the_base_s_own_scores_of_each_group(tiny_backbone, train_file, tmp_path):
    """On the fly, the same training as on the file teacher-scores writes with the base as teacher."""
    scored = tmp_path / "scored.jsonl"
    proc = teacher_scores("--train-file", train_file, "--teacher", tiny_backbone, "--output", scored,
                          "--query-max-length", "32", "--passage-max-length", "192")
    assert proc.returncode == 0, proc.stderr[-2000:]
    common = ["--max-steps", "4", "--variant", "de", "--optimizer", "sgd", "--learning-rate", "0.1",
              "--kd-weight", "20"]
    run(base_args(tiny_backbone, scored, tmp_path / "file", *common))
    run(base_args(tiny_backbone, train_file, tmp_path / "fly", *common, "--kd-from-base", "true"))
    from_file, on_the_fly = log(tmp_path / "file"), log(tmp_path / "fly")
    # the DE starts as the base (and the tiny backbone has no dropout): nothing to distil at step 1, then there is
    assert on_the_fly[0]["distillation"] < 1e-6 and all(r["distillation"] > 1e-6 for r in on_the_fly[1:])
    for a, b in zip(from_file, on_the_fly):  # the file's scores are rounded to 1e-5
        assert a["distillation"] == pytest.approx(b["distillation"], abs=1e-4)
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-3)
    run(base_args(tiny_backbone, train_file, tmp_path / "none", *common))
    moved = max_diff(tmp_path / "file", tmp_path / "none")  # what the distillation term changed
    assert moved > 1e-3 and max_diff(tmp_path / "file", tmp_path / "fly") < moved / 50

    proc = run(base_args(tiny_backbone, scored, tmp_path / "both", *common, "--kd-from-base", "true"), check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("train: --kd-from-base: --train-file ")
    assert not (tmp_path / "both" / "model.safetensors").exists()


@pytest.mark.parametrize("extra, message", [
    (["--variant", "colbert"], "--variant must be"),
    (["--batch-size", "64"], "larger than the 16 training examples"),
    (["--batch-size", "4", "--gradient-accumulation-steps", "3"], "not divisible"),
    (["--interactor-input", "pseudo"], "--interactor-input must be one of tokens+pseudo, cls+pseudo-mean, tokens"),
    (["--reconstructor-attends-to", "pseudo"], "--reconstructor-attends-to must be tokens or cls"),
    (["--rec-loss", "words"], "--rec-loss must be one of slots, bag, not 'words'"),
])
def test_bad_options_fail_with_one_line(tiny_backbone, train_file, tmp_path, extra, message):
    proc = run(base_args(tiny_backbone, train_file, tmp_path / "x", *extra), check=False)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("train: ") and message in last
    assert not (tmp_path / "x" / "model.safetensors").exists()


def test_missing_training_file(tiny_backbone, tmp_path):
    proc = run(base_args(tiny_backbone, tmp_path / "nope.jsonl", tmp_path / "x"), check=False)
    assert proc.returncode == 1 and "nope.jsonl: no such file" in proc.stderr
