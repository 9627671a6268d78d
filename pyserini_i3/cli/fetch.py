"""``python -m pyserini_i3 fetch [NAME ...] [--list]``: the released encoders, ahead of use.

Downloads and converts ``i3-msmarco`` / ``i3-msmarco-distilled`` into the cache
(``$PYSERINI_I3_CACHE``, default ``~/.cache/pyserini_i3``; see
``pyserini_i3.modeling.released``) and prints each converted directory, so that a
cluster job can fetch once on a node with the hub and run offline after
(``HF_HUB_OFFLINE=1``).  ``--list`` shows the names, their files and whether they
are converted, without any network.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> int:
    from pyserini_i3.modeling import released

    parser = argparse.ArgumentParser(prog="python -m pyserini_i3 fetch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(released.RELEASED)}")
    parser.add_argument("--list", action="store_true", help="list the released encoders and their cache state")
    args = parser.parse_args(argv)
    if not args.names and not args.list:
        parser.error("name a released encoder (or --list)")
    if args.list:
        for spec in released.RELEASED.values():
            entry = released.cached_entry(spec)
            state = f"converted in {entry}" if entry else f"not converted yet (would go to {released.entry_dir(spec)})"
            print(f"{spec.name}: {spec.description}; {spec.repo_id}/{spec.filename} ({spec.repo_type}, revision "
                  f"{spec.revision[:12]}), base {spec.base}; {state}")
    status = 0
    for name in args.names:
        try:
            print(released.ensure(name))
        except ValueError as exc:
            print(f"fetch: {exc}", file=sys.stderr)
            status = 1
    return status
