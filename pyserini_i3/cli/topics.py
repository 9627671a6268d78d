"""``python -m pyserini_i3 topics {install,where,list}``: offline named topics and qrels.

  install SRC   copy SRC's topics.*/qrels.* files (official names) where the installed
                Pyserini looks (1.x: Anserini's <Java user.home>/.cache/pyserini/topics-and-qrels/;
                2.x: Pyserini's cache home, topics/ and qrels/), so that
                --topics dl19-passage and trec_eval's named qrels work offline;
                also seeds Pyserini's eval cache with an MS MARCO MRR@10 stand-in
  where         print that directory
  list          list the files installed there
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyserini_i3 topics", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    install = sub.add_parser("install", help="install official topic/qrels files for offline use")
    install.add_argument("source", metavar="SRC",
                         help="directory of topics.*/qrels.* files (e.g. ../shared/data/topics-and-qrels)")
    install.add_argument("--dest", help="install here instead of where the installed Pyserini looks (testing)")
    install.add_argument("--force", action="store_true", help="replace installed files whose content differs")
    install.add_argument("--no-eval-script", action="store_true",
                         help="do not seed Pyserini's cache with the msmarco_passage_eval.py stand-in")
    sub.add_parser("where", help="print where the installed Pyserini looks up named topics and qrels")
    listing = sub.add_parser("list", help="list installed topic/qrels files")
    listing.add_argument("--dest", help="look here instead of where the installed Pyserini looks")
    args = parser.parse_args(argv)

    from pyserini_i3.plugin import topics

    try:
        if args.action == "where":
            print(topics.anserini_cache_dir())
        elif args.action == "list":
            for path in topics.installed(args.dest):
                print(path)
        else:
            for _name, dest, status in topics.install(args.source, args.dest, args.force,
                                                      eval_script=not args.no_eval_script):
                print(f"{status:<28} {dest}")
    except (topics.TopicsError, OSError) as exc:
        print(f"pyserini_i3 topics {args.action}: error: {exc}", file=sys.stderr)
        return 1
    return 0
