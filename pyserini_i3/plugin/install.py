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
    from pyserini_i3.utils.files import write_atomic  # here: setup.py runs this file for its constants

    return write_atomic(pth_path(), PTH_LINE)
