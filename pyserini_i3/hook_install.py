"""Install the ``pyserini_i3.pth`` start-up file into site-packages.

``pip install`` of a built wheel ships the file itself; editable installs do not,
so ``make`` (and users of ``pip install -e``) run ``python -m pyserini_i3 install-hook``.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

PTH_NAME = "pyserini_i3.pth"
PTH_LINE = "import pyserini_i3._hook\n"


def pth_path() -> Path:
    return Path(sysconfig.get_paths()["purelib"]) / PTH_NAME


def install_hook() -> Path:
    target = pth_path()
    tmp = target.with_suffix(".pth.tmp")
    tmp.write_text(PTH_LINE)
    tmp.replace(target)
    return target
