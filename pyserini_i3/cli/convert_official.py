"""``python -m pyserini_i3 convert-official CKPT --base BERT_DIR --output DIR``.

Imports the authors' III_finetuned.p / III_distilled.p into an I^3 model
directory usable as ``--encoder DIR`` in Pyserini.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyserini_i3 convert-official", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="III_finetuned.p or III_distilled.p (a torch state dict)")
    parser.add_argument("--base", required=True,
                        help="the BERT model it was fine-tuned from (directory or hub id; RetroMAE MS MARCO for the "
                             "released checkpoints): supplies the backbone config and tokenizer (not its weights)")
    parser.add_argument("--output", required=True, help="the I^3 model directory to write")
    parser.add_argument("--slots", type=int, default=32, help="pseudo-query slots (authors' default: 32)")
    parser.add_argument("--query-max-length", type=int, default=32)
    parser.add_argument("--passage-max-length", type=int, default=140)
    args = parser.parse_args(argv)

    from pyserini_i3.modeling.convert import convert_official

    try:
        model = convert_official(args.checkpoint, args.base, args.output, num_slots=args.slots,
                                 query_max_length=args.query_max_length,
                                 passage_max_length=args.passage_max_length)
    except (ValueError, TypeError) as exc:
        print(f"convert-official: {exc}", file=sys.stderr)
        return 1
    c = model.config
    print(f"wrote {args.output}: official variant, {c.reconstructor_layers} reconstructor / "
          f"{c.interactor_layers} interactor layer(s), {c.num_slots} slots, dim {c.dim}")
    return 0
