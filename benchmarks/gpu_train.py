"""GPU training check: 50 steps of the released-size I^3 (BERT-base, official layout) in bf16 on one GPU.

The model is the architecture of ``i3-msmarco`` with random weights, imported with
``convert_official`` as the released files are (``benchmarks/scale.py`` builds it; no
download).  The training file is synthetic: queries of 32 tokens, 1 positive + 15 hard
negatives of 140 tokens each (the paper's group and lengths), reconstruction targets on
the positives.  Training runs through ``python -m pyserini_i3 train``'s own entry point
(in this process, so that the peak memory can be read) at the paper's per-GPU batch, 64
queries, with ``--bf16 true``.

Prints and writes (``runs/gpu-train/results.json`` and ``.md``): steps/s and queries/s
after the first 5 steps, the peak GPU memory, and the time of one epoch of MS MARCO's
502,939 training queries at 64 queries per GPU, on this one GPU and (ideal scaling) on
the paper's 8.  ``--tiny`` runs a 2-layer model for 3 steps anywhere, CPU included (a check
of the script; its report stays in the work folder).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import BERT_BASE, TINY, build_models, synthetic_texts  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MSMARCO_TRAIN_QUERIES = 502_939  # qrels.train.tsv's distinct queries
PAPER_GPUS, PAPER_BATCH, PAPER_GROUP = 8, 64, 16
QUERY_LENGTH, PASSAGE_LENGTH = 32, 140


def write_training_file(path: Path, tokenizer, queries: int, group: int, seed: int = 0) -> Path:
    """Tevatron-shaped examples: each query's positive starts with the query's words."""
    texts = synthetic_texts(tokenizer, queries * group, 150, seed)
    rng = random.Random(seed)
    with open(path, "w") as f:
        for i in range(queries):
            passages = texts[i * group:(i + 1) * group]
            query = " ".join(passages[0].split()[:rng.randint(6, 30)])
            f.write(json.dumps({
                "query_id": str(i), "query": query,
                "positive_passages": [{"docid": f"d{i}-0", "title": "", "text": passages[0]}],
                "negative_passages": [{"docid": f"d{i}-{j}", "title": "", "text": t}
                                      for j, t in enumerate(passages[1:], start=1)]}) + "\n")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=REPO / ".work" / "gpu-train")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "gpu-train")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=PAPER_BATCH, help="queries per step (the paper: 64/GPU)")
    parser.add_argument("--group-size", type=int, default=PAPER_GROUP)
    parser.add_argument("--tiny", action="store_true", help="2 layers, 3 steps, batch 4: a check of the script")
    args = parser.parse_args(argv)

    import torch

    from pyserini_i3.cli.train import main as train_main

    config = TINY if args.tiny else BERT_BASE
    steps, batch = (3, 4) if args.tiny else (args.steps, args.batch_size)
    out = args.work / "report" if args.tiny else args.out
    cuda = torch.cuda.is_available()
    if not cuda and not args.tiny:
        print("gpu-train: no CUDA device here (use --tiny for a check of the script on the CPU)")
        return 1
    args.work.mkdir(parents=True, exist_ok=True)
    i3, _, params = build_models(args.work, config)
    start_dir = i3.save_pretrained(args.work / "i3-official-random")
    data = write_training_file(args.work / "train.jsonl", i3.tokenizer, batch * steps, args.group_size)
    del i3
    flags = ["--base", str(start_dir), "--train-file", str(data), "--output-dir", str(args.work / "model"),
             "--batch-size", str(batch), "--group-size", str(args.group_size), "--max-steps", str(steps),
             "--query-max-length", str(QUERY_LENGTH), "--passage-max-length", str(PASSAGE_LENGTH),
             "--learning-rate", "2e-5", "--head-learning-rate", "1e-3", "--rec-weight", "0.1", "--seed", "1",
             "--validation-queries", "0", "--validation-significance", "0", "--save_steps", "0",
             "--dataloader_num_workers", "2", "--progress", "true"]
    if cuda:
        flags += ["--bf16", "true"]
        torch.cuda.reset_peak_memory_stats()
    started = time.time()
    if train_main(flags) != 0:
        return 1
    wall = time.time() - started
    log = [json.loads(line) for line in (args.work / "model" / "train_log.jsonl").read_text().splitlines()]
    skip = min(5, len(log) - 1)
    seconds_per_step = (log[-1]["elapsed_s"] - log[skip - 1]["elapsed_s"]) / (len(log) - skip) if skip else \
        log[-1]["elapsed_s"] / len(log)
    epoch_steps = MSMARCO_TRAIN_QUERIES / batch
    result = {
        "device": torch.cuda.get_device_name() if cuda else "cpu", "torch": torch.__version__,
        "model": "tiny (2 layers)" if args.tiny else "BERT-base, official layout (random weights)",
        "parameters": params["i3_total"], "steps": steps, "queries_per_step": batch, "group_size": args.group_size,
        "query_length": QUERY_LENGTH, "passage_length": PASSAGE_LENGTH, "precision": "bf16" if cuda else "fp32",
        "steps_per_s": round(1 / seconds_per_step, 3), "queries_per_s": round(batch / seconds_per_step, 1),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "wall_s": round(wall, 1), "first_loss": log[0]["loss"], "last_loss": log[-1]["loss"],
        "msmarco_epoch_hours_1_gpu": round(epoch_steps * seconds_per_step / 3600, 2),
        "msmarco_epoch_hours_8_gpus_ideal": round(epoch_steps * seconds_per_step / PAPER_GPUS / 3600, 2),
        "command": "python benchmarks/gpu_train.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "results.md").write_text(
        "# Training the released-size I^3 on one GPU\n\n"
        f"`{result['command']}` on {result['device']} ({result['date']}, torch {result['torch']}): "
        f"{result['model']}, {result['parameters']:,} parameters, {steps} steps of {batch} queries x "
        f"{args.group_size} passages ({QUERY_LENGTH} / {PASSAGE_LENGTH} tokens), {result['precision']}.\n\n"
        "| steps/s | queries/s | peak GPU memory | one MS MARCO epoch (502,939 queries), 1 GPU | 8 GPUs (ideal) |\n"
        "|---:|---:|---:|---:|---:|\n"
        f"| {result['steps_per_s']} | {result['queries_per_s']} | {result['peak_memory_gib']} GiB | "
        f"{result['msmarco_epoch_hours_1_gpu']} h | {result['msmarco_epoch_hours_8_gpus_ideal']} h |\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
