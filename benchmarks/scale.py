"""Scale benchmark: what the released I^3 (BERT-base, official layout) costs at MS MARCO scale.

The architecture of ``i3-msmarco`` / ``i3-msmarco-distilled`` is built without any
download: a BERT-base config in code (hidden 768, 12 layers, 12 heads, intermediate
3072, vocabulary 30522; the bert-base-uncased vocabulary of the installed
all-MiniLM-L6-v2 copy), a random state dict in the authors' released layout (lm_q,
lm_p, c_head, d_head, cls; transformers' BERT modules, seed 0) imported with
``convert_official``, exactly as the released files are.  DE is the same query and
passage encoders (checked tensor by tensor) with the reconstructor and interactor
off (``interaction=False``).

Measured, I^3 against DE side by side (configurations in turn, the order rotating
from round to round, the median over rounds):

* passage encoding: ``I3Model.encode_passages`` (tokenisation included), batch 32,
  passages of exactly 140 tokens (the released setting; MS MARCO passages are shorter
  on average, see the length note), I^3 on the ``exact`` fast path and on the
  reference ``off`` path, DE;
* training: one forward + backward (no optimizer step) of the training loss at batch
  8 queries x group 4 passages, 140 / 32 tokens, dropout on; I^3 with reconstruction
  targets for every passage (as the official code trains), DE without;
* FLOPs per 140-token passage (``torch.utils.flop_counter``);
* the time to encode MS MARCO's 8,841,823 passages at the measured rate, and, where
  ``torch.cuda.is_available()``, the same in bf16 autocast at the batch size that
  fills the GPU, with the estimate for 1 and 8 GPUs (``--shard-id/--shard-num``).

Writes runs/scale/results.json and results.md.  ``--tiny`` runs a 2-layer model in
seconds (a check of the script; its report stays in the work folder).  Usage:
``make bench-scale`` or ``python benchmarks/scale.py --help``.
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from efficiency import cpu_details, flops_per_passage, load_average, register_cpu_attention_flops  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MSMARCO_PASSAGES = 8_841_823
PASSAGE_LENGTH, QUERY_LENGTH = 140, 32
ENCODE_BATCH = 32
TRAIN_QUERIES, TRAIN_GROUP = 8, 4
BERT_BASE = dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2, hidden_act="gelu",
                 layer_norm_eps=1e-12, initializer_range=0.02, hidden_dropout_prob=0.1,
                 attention_probs_dropout_prob=0.1, pad_token_id=0, model_type="bert")
TINY = dict(BERT_BASE, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
GPU_BATCHES = (64, 128, 256, 512, 1024, 2048)


# --------------------------------------------------------------------------- the released architecture
def write_base(folder: Path, config: dict) -> Path:
    """A base directory: the BERT config (from code) and the bert-base-uncased tokenizer files (no weights)."""
    from transformers import AutoTokenizer, BertConfig

    from pyserini_i3.modeling.backbone import DEFAULT_BACKBONE, resolve_model_path

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(DEFAULT_BACKBONE))
    assert tokenizer.vocab_size == config["vocab_size"], tokenizer.vocab_size
    tokenizer.save_pretrained(folder)
    BertConfig(**{k: v for k, v in config.items() if k != "model_type"}).save_pretrained(folder)
    return folder


def official_state_dict(config: dict, seed: int = 0) -> dict:
    """Random weights in the layout of III_finetuned.p: lm_q / lm_p (BERT, no pooler), c_head (a BERT
    layer with cross-attention), d_head (a BERT layer), cls (the MLM head)."""
    import torch
    from transformers import BertConfig
    from transformers.models.bert.modeling_bert import BertLayer, BertModel, BertOnlyMLMHead

    bert = BertConfig(**{k: v for k, v in config.items() if k != "model_type"})
    decoder = BertConfig(**{k: v for k, v in config.items() if k != "model_type"}, is_decoder=True,
                         add_cross_attention=True)
    torch.manual_seed(seed)
    state = {}
    for prefix, module in (("lm_q", BertModel(bert, add_pooling_layer=False)),
                           ("lm_p", BertModel(bert, add_pooling_layer=False)),
                           ("c_head.0", BertLayer(decoder)), ("d_head.0", BertLayer(bert)),
                           ("cls", BertOnlyMLMHead(bert))):
        state.update({f"{prefix}.{k}": v for k, v in module.state_dict().items()})
    return state


def build_models(work: Path, config: dict):
    """(I^3 as convert_official imports the released files, DE on the same encoders, parameter counts)."""
    import torch

    from pyserini_i3.modeling.config import I3Config
    from pyserini_i3.modeling.convert import convert_official
    from pyserini_i3.modeling.model import I3Model

    base = write_base(work / "base", config)
    state = official_state_dict(config)
    i3 = convert_official(state, str(base), base_name="BERT-base (random, official layout)")
    del state
    de_config = I3Config.from_dict({**i3.config.to_dict(), "interaction": False})
    de = I3Model(de_config, i3.tokenizer)
    shared = {k: v for k, v in i3.state_dict().items() if k.startswith(("query_encoder.", "passage_encoder."))}
    de.load_weights(shared, source="I^3's encoders")
    de.eval()
    for side in ("passage_encoder", "query_encoder"):
        a, b = getattr(i3, side).state_dict(), getattr(de, side).state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), side

    def count(module) -> int:
        return sum(p.numel() for p in module.parameters()) if module is not None else 0

    params = {"i3_total": count(i3), "de_total": count(de), "query_encoder": count(i3.query_encoder),
              "passage_encoder": count(i3.passage_encoder), "reconstructor": count(i3.reconstructor),
              "interactor": count(i3.interactor), "vocab_head": count(i3.vocab_head)}
    return i3, de, params


# --------------------------------------------------------------------------- inputs
def synthetic_texts(tokenizer, n: int, words: int, seed: int) -> list[str]:
    """``n`` texts of ``words`` whole-word vocabulary entries each (long enough to fill the length)."""
    vocab = sorted(t for t in tokenizer.get_vocab() if t.isalpha() and len(t) >= 3 and not t.startswith("#"))
    rng = random.Random(seed)
    return [" ".join(rng.choices(vocab, k=words)) for _ in range(n)]


def msmarco_length_note(tokenizer) -> dict | None:
    """Token lengths of the MS MARCO passages in the shared pools (if present): how far 140 is above the mean."""
    pool = REPO.parent / "shared" / "data" / "msmarco-pools" / "dev600" / "collection.tsv"
    if not pool.is_file():
        return None
    with open(pool, encoding="utf-8") as f:
        texts = [line.rstrip("\n").split("\t", 1)[-1] for line in f if line.strip()]
    lengths = sorted(len(ids) for ids in tokenizer(texts, truncation=True, max_length=512)["input_ids"])
    return {"source": str(pool.relative_to(REPO.parent)), "passages": len(lengths),
            "mean_tokens": statistics.fmean(lengths), "median_tokens": lengths[len(lengths) // 2],
            "share_over_140": sum(n > PASSAGE_LENGTH for n in lengths) / len(lengths),
            "mean_tokens_capped_140": statistics.fmean(min(n, PASSAGE_LENGTH) for n in lengths)}


def training_batch(model, queries: list[str], passages: list[str], targets: list[str]):
    q = model.tokenize(queries, QUERY_LENGTH)
    p = model.tokenize(passages, PASSAGE_LENGTH)
    labels = model.reconstruction_labels(targets) if model.config.interaction else None
    return q, p, labels


# --------------------------------------------------------------------------- timing
def sync(device) -> None:
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def time_encode(model, texts: list[str], mode: str, batch: int) -> float:
    sync(model.device)
    start = time.perf_counter()
    model.encode_passages(texts, batch_size=batch, max_length=PASSAGE_LENGTH, fast_path=mode)
    sync(model.device)
    return time.perf_counter() - start


def time_train_step(model, batch, autocast=None) -> float:
    import contextlib

    q, p, labels = batch
    device = model.device
    q = {k: v.to(device) for k, v in q.items()}
    p = {k: v.to(device) for k, v in p.items()}
    model.train()
    sync(device)
    start = time.perf_counter()
    with autocast or contextlib.nullcontext():
        out = model(q, p, reconstruction_labels=labels)
    out.loss.backward()
    sync(device)
    seconds = time.perf_counter() - start
    model.zero_grad(set_to_none=True)
    model.eval()
    return seconds


def rounds(configs: dict, run, repeats: int, log, what: str) -> dict[str, list[float]]:
    """Each configuration once per round, the order rotating; seconds per configuration and round."""
    seconds = {name: [] for name in configs}
    names = list(configs)
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            seconds[name].append(run(name))
        log(f"{what} round {r + 1}/{repeats}: " + ", ".join(f"{n} {seconds[n][-1]:.2f}s" for n in names)
            + f"; load {load_average()[0]}")
    return seconds


def summary(seconds: list[float], items: int) -> dict:
    median = statistics.median(seconds)
    return {"seconds": [round(s, 3) for s in seconds], "median_s": median, "per_s": items / median,
            "spread_per_s": [items / max(seconds), items / min(seconds)]}


# --------------------------------------------------------------------------- GPU (where there is one)
def fill_batch_size(model, texts_for, sizes, device, log) -> dict:
    """Passages/s of encode_passages in bf16 autocast at each batch size until memory runs out; the best."""
    import torch

    results = {}
    for size in sizes:
        texts = texts_for(size * 3)
        try:
            time_encode(model, texts[:size], "exact", size)  # warm-up at this size
            spent = time_encode(model, texts, "exact", size)
        except torch.cuda.OutOfMemoryError:
            log(f"batch {size}: out of memory")
            torch.cuda.empty_cache()
            break
        results[size] = len(texts) / spent
        log(f"batch {size}: {results[size]:.0f} passages/s")
    best = max(results, key=results.get)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if str(device).startswith("cuda") else None
    return {"passages_per_s_by_batch": results, "best_batch": best, "best_passages_per_s": results[best],
            "peak_memory_gib": peak}


def gpu_section(i3, de, texts_for, train_batch, repeats, log) -> dict:
    import torch

    device = torch.device("cuda")
    props = torch.cuda.get_device_properties(device)
    out = {"device": props.name, "memory_gib": props.total_memory / 2**30, "dtype": "bfloat16 autocast"
           if torch.cuda.is_bf16_supported() else "float16 autocast"}
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    encode = {}
    for name, model in (("I3 exact", i3), ("DE", de)):
        model.to(device)
        torch.cuda.reset_peak_memory_stats(device)
        encode[name] = fill_batch_size(model, texts_for, GPU_BATCHES, device, lambda m, n=name: log(f"{n}: {m}"))
        model.to("cpu")
        torch.cuda.empty_cache()
    out["encode"] = encode
    train = {}
    for name, model in (("I3", i3), ("DE", de)):
        model.to(device)
        autocast = torch.autocast("cuda", dtype=dtype)
        time_train_step(model, train_batch(model), autocast)
        seconds = [time_train_step(model, train_batch(model), autocast) for _ in range(repeats)]
        train[name] = summary(seconds, TRAIN_QUERIES * TRAIN_GROUP)
        model.to("cpu")
        torch.cuda.empty_cache()
    out["train"] = train
    return out


def estimates(per_s: float, gpus: int | None = None) -> dict:
    hours = MSMARCO_PASSAGES / per_s / 3600
    if gpus is None:
        return {"hours": hours}
    return {f"hours_{g}_gpu": MSMARCO_PASSAGES / (g * per_s) / 3600 for g in (1, 8)}


# --------------------------------------------------------------------------- report
def fmt_h(hours: float) -> str:
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def write_report(r: dict, out: Path) -> None:
    from pyserini_i3.utils.files import write_atomic

    m, p, e, t = r["machine"], r["params"], r["encode"], r["train"]
    lines = [
        "# Scale: the released I^3 architecture (BERT-base, official layout) against DE",
        "",
        f"Produced by `{r['command']}` on {r['date']} in {r['wall_minutes']:.1f} min, every figure from this one run.",
        f"Machine: {m['cpu']['model']}, {m['cpu']['usable_cpus']} usable CPUs, {m['cpu'].get('memory_gib', '?')} GiB; "
        f"torch {m['torch']} ({m['torch_threads']} threads), transformers {m['transformers']}. Load average "
        f"(1/5/15 min) at start {m['load_start']}, at end {m['load_end']}: other jobs shared the cores, so absolute "
        "times are noisy; I^3 and DE ran in turn, the order rotating, so their ratios share the noise.",
        "",
        f"Model: {r['model']['note']} Parameters: I^3 {p['i3_total']:,} (query encoder {p['query_encoder']:,}, "
        f"passage encoder {p['passage_encoder']:,}, reconstructor {p['reconstructor']:,}, interactor "
        f"{p['interactor']:,}, vocabulary head {p['vocab_head']:,}); DE {p['de_total']:,}.",
        "",
        "## Passage encoding (CPU)",
        "",
        f"`I3Model.encode_passages`, tokenisation included, batch {ENCODE_BATCH}, {e['passages_per_call']} passages "
        f"of exactly {PASSAGE_LENGTH} tokens per call, {e['repeats']} rounds after a warm-up; median over rounds "
        "(range: the slowest and the fastest round).",
        "",
        "| configuration | passages/s | range | s per batch of 32 | / DE time | GFLOP per passage | MS MARCO "
        f"({MSMARCO_PASSAGES:,} passages), this machine |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in e["configs"].items():
        lo, hi = row["spread_per_s"]
        lines.append(f"| {name} | {row['per_s']:.2f} | {lo:.2f}-{hi:.2f} | "
                     f"{row['median_s'] / e['batches_per_call']:.2f} | {row['vs_de']:.3f} | "
                     f"{row['gflop_per_passage']:.2f} | {fmt_h(row['msmarco']['hours'])} |")
    lines += ["", f"Time ratio to DE per round (I^3 `exact`): {', '.join(f'{x:.3f}' for x in e['ratio_rounds'])}."]
    note = r.get("msmarco_lengths")
    if note:
        lines += ["", f"Length note: the {note['passages']:,} MS MARCO passages of `{note['source']}` have "
                  f"{note['mean_tokens']:.1f} tokens on average (median {note['median_tokens']}; "
                  f"{note['share_over_140'] * 100:.1f}% over 140), so a {PASSAGE_LENGTH}-token passage is an upper "
                  "bound: the MS MARCO estimates above are upper bounds too (batches of real passages are padded to "
                  "their longest, less than 140 mostly)."]
    lines += [
        "",
        "## Training step (CPU)",
        "",
        f"One forward + backward of the training loss (no optimizer step), {TRAIN_QUERIES} queries x "
        f"{TRAIN_GROUP} passages ({TRAIN_QUERIES * TRAIN_GROUP} passages of {PASSAGE_LENGTH} tokens, queries of "
        f"{QUERY_LENGTH}), dropout on; I^3 with a reconstruction target for every passage, DE without. "
        f"{t['repeats']} rounds after a warm-up at batch 2 x 2; median.",
        "",
        "| configuration | steps/s | passages/s | s per step | range s | / DE time |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in t["configs"].items():
        lines.append(f"| {name} | {1 / row['median_s']:.4f} | {row['per_s']:.3f} | {row['median_s']:.1f} | "
                     f"{min(row['seconds']):.1f}-{max(row['seconds']):.1f} | {row['vs_de']:.3f} |")
    g = r["gpu"]
    lines += ["", "## GPU", ""]
    if g.get("measured"):
        lines += [f"{g['device']} ({g['memory_gib']:.0f} GiB), {g['dtype']}.", "",
                  "| configuration | best batch | passages/s | MS MARCO, 1 GPU | MS MARCO, 8 GPUs |",
                  "|---|---|---|---|---|"]
        for name, row in g["encode"].items():
            est = estimates(row["best_passages_per_s"], gpus=8)
            lines.append(f"| {name} | {row['best_batch']} | {row['best_passages_per_s']:.0f} | "
                         f"{fmt_h(est['hours_1_gpu'])} | {fmt_h(est['hours_8_gpu'])} |")
        lines += ["", "Training step (bf16 autocast, 8 x 4): " + ", ".join(
            f"{n} {row['median_s'] * 1000:.0f} ms" for n, row in g["train"].items())]
    else:
        lines += [f"Not measured: {g['reason']}. Run `make bench-scale` on a machine with a GPU to fill this in "
                  "(bf16 autocast; the batch size that gives the most passages/s before memory runs out)."]
    lines += [
        "",
        "Estimate from a measured rate r (passages/s per GPU at that batch size): with `pyserini.encode ... "
        "--shard-id i --shard-num S` on S GPUs (one process each, `--device cuda:i`) and "
        "`pyserini.index.merge_faiss_indexes --prefix DIR --shard-num S`, encoding takes about "
        f"{MSMARCO_PASSAGES:,} / (S x r) seconds, plus reading the corpus and the merge (minutes); "
        "Pyserini's encode tokenises in the same process, so r is measured with tokenisation included.",
        "",
        "Reproduce: `make bench-scale` (or `python benchmarks/scale.py --help`). Results: runs/scale/results.json.",
    ]
    write_atomic(out / "results.md", "\n".join(lines) + "\n")
    write_atomic(out / "results.json", json.dumps(r, indent=2) + "\n")


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "scale")
    parser.add_argument("--work", type=Path, default=REPO / ".work" / "bench-scale")
    parser.add_argument("--encode-repeats", type=int, default=3, help="rounds of the encoding measurement")
    parser.add_argument("--encode-batches", type=int, default=1, help="batches of 32 per configuration and round")
    parser.add_argument("--train-repeats", type=int, default=3, help="rounds of the training-step measurement")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer, 64-d model: checks the script in seconds "
                        "(its report goes to the work folder)")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU section even where CUDA is available")
    args = parser.parse_args(argv)
    for name in ("encode_repeats", "encode_batches", "train_repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    import torch
    import transformers

    from pyserini_i3.utils.memory import keep_freed_memory

    keep_freed_memory()  # as the fast path did, process-wide, before this benchmark's figures were taken
    wall = time.time()
    out = args.work / "results-tiny" if args.tiny else args.out
    out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    log_file = args.work / ("bench-tiny.log" if args.tiny else "bench.log")
    log_file.write_text("")

    def log(message: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {message}"
        print(line, flush=True)
        with open(log_file, "a") as f:
            f.write(line + "\n")

    machine = {"cpu": cpu_details(), "torch": torch.__version__, "transformers": transformers.__version__,
               "torch_threads": torch.get_num_threads(), "load_start": load_average()}
    log(f"{machine['cpu']['model']}, {machine['torch_threads']} torch threads, load {machine['load_start']}")
    config = TINY if args.tiny else BERT_BASE
    i3, de, params = build_models(args.work / ("tiny" if args.tiny else "bert-base"), config)
    log(f"built: I^3 {params['i3_total']:,} parameters, DE {params['de_total']:,} (the same encoders)")
    tok = i3.tokenizer

    # ---- passage encoding
    per_call = ENCODE_BATCH * args.encode_batches
    pool = synthetic_texts(tok, per_call * (args.encode_repeats + 1), 200, seed=1)
    assert all(len(ids) == PASSAGE_LENGTH for ids in tok(pool[:8], truncation=True,
                                                          max_length=PASSAGE_LENGTH)["input_ids"])
    configs = {"DE": (de, "exact"), "I3 exact": (i3, "exact"), "I3 off": (i3, "off")}
    for model, mode in configs.values():  # warm-up: allocations, one-time set-up, at a quarter batch
        time_encode(model, pool[:ENCODE_BATCH // 4], mode, ENCODE_BATCH)
    call = {"n": 0}

    def encode_once(name: str) -> float:
        model, mode = configs[name]
        r = call["n"] // len(configs)
        call["n"] += 1
        return time_encode(model, pool[r * per_call:(r + 1) * per_call], mode, ENCODE_BATCH)

    enc_seconds = rounds(configs, encode_once, args.encode_repeats, log, "encode")
    register_cpu_attention_flops()
    enc = {"passages_per_call": per_call, "batches_per_call": args.encode_batches, "repeats": args.encode_repeats,
           "configs": {}}
    for name, (model, mode) in configs.items():
        row = summary(enc_seconds[name], per_call)
        row["vs_de"] = statistics.median(enc_seconds[name]) / statistics.median(enc_seconds["DE"])
        row["gflop_per_passage"] = flops_per_passage(model, mode, PASSAGE_LENGTH) / 1e9
        row["msmarco"] = estimates(row["per_s"])
        enc["configs"][name] = row
    enc["ratio_rounds"] = [a / b for a, b in zip(enc_seconds["I3 exact"], enc_seconds["DE"])]

    # ---- training step
    n_p = TRAIN_QUERIES * TRAIN_GROUP
    queries = synthetic_texts(tok, TRAIN_QUERIES, 40, seed=2)
    passages = synthetic_texts(tok, n_p, 200, seed=3)
    targets = synthetic_texts(tok, n_p, 10, seed=4)
    batches = {"I3": training_batch(i3, queries, passages, targets), "DE": training_batch(de, queries, passages,
                                                                                         targets)}
    models = {"I3": i3, "DE": de}
    for model in models.values():  # warm-up at 2 x 2
        time_train_step(model, training_batch(model, queries[:2], passages[:4], targets[:4]))
    train_seconds = rounds(models, lambda name: time_train_step(models[name], batches[name]), args.train_repeats,
                           log, "train")
    train = {"repeats": args.train_repeats, "configs": {}}
    for name in models:
        row = summary(train_seconds[name], n_p)
        row["vs_de"] = statistics.median(train_seconds[name]) / statistics.median(train_seconds["DE"])
        train["configs"][name] = row

    # ---- GPU
    if args.no_gpu or not torch.cuda.is_available():
        gpu = {"measured": False, "reason": "--no-gpu" if args.no_gpu else
               "torch.cuda.is_available() is False on this machine"}
    else:
        def texts_for(n):
            return synthetic_texts(tok, n, 200, seed=5)

        gpu = {"measured": True, **gpu_section(
            i3, de, texts_for, lambda model: training_batch(model, queries, passages, targets),
            args.train_repeats, log)}

    record = {
        "command": shlex.join(["python", "benchmarks/scale.py", *(argv if argv is not None else sys.argv[1:])]),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {**machine, "load_end": load_average()},
        "model": {"config": config, "note": (
            ("TINY test model (2 layers, 64-d): not the released architecture. " if args.tiny else "")
            + ("A BERT" if args.tiny else "BERT-base")
            + f" config in code ({config['num_hidden_layers']} layers, hidden {config['hidden_size']}, "
            f"{config['num_attention_heads']} heads, intermediate {config['intermediate_size']}, vocabulary "
            f"{config['vocab_size']}), random weights in the authors' released layout (lm_q, lm_p, c_head.0, "
            "d_head.0, cls; seed 0) imported with `convert_official` (official variant: 32 slots, the "
            "reconstructor attends to the passage CLS, the interactor runs over [CLS ; mean(pseudo-query)]); DE = "
            "the same two encoders, interaction off.")},
        "params": params,
        "msmarco_passages": MSMARCO_PASSAGES,
        "msmarco_lengths": msmarco_length_note(tok),
        "encode": enc,
        "train": train,
        "gpu": gpu,
        "wall_minutes": (time.time() - wall) / 60,
    }
    write_report(record, out)
    log(f"wrote {out / 'results.md'} ({record['wall_minutes']:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
