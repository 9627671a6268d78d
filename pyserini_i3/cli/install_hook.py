"""``python -m pyserini_i3 install-hook``: write pyserini_i3.pth into site-packages."""

from __future__ import annotations

import argparse


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyserini_i3 install-hook", description=__doc__)
    parser.parse_args(argv)
    from pyserini_i3.plugin.install import install_hook

    print(f"installed {install_hook()}")
    return 0
