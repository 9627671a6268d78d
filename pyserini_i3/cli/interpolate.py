"""``python -m pyserini_i3 interpolate MODEL --weight W --output DIR``.

Writes MODEL with its update over the base scaled by W (WiSE-FT): 0 gives the base's
vectors, 1 the model.  MODEL must start from its base: a DE, or an I^3 with an identity
start (``--interactor-gate``).  See :mod:`pyserini_i3.modeling.interpolate`.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyserini_i3 interpolate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="an I^3 model directory (DE or identity start)")
    parser.add_argument("--weight", type=float, required=True, help="0: the base, 1: the model")
    parser.add_argument("--output", required=True, help="the model directory to write")
    args = parser.parse_args(argv)

    from pyserini_i3.modeling.interpolate import interpolate

    try:
        interpolate(args.model, args.weight, args.output)
    except (OSError, ValueError) as exc:
        print(f"interpolate: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}: {args.model} at weight {args.weight}")
    return 0
