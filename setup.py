"""Build hook only: the project's metadata is declarative, in setup.cfg.

``build_py`` additionally places

* ``pyserini_i3.pth`` at the root of the build (so a wheel installs it straight into
  site-packages, where it registers the plugin with Pyserini at start-up; its one
  line comes from ``pyserini_i3/plugin/install.py``, the same as
  ``python -m pyserini_i3 install-hook`` writes for editable installs), and
* the shipped encoders (``encoders/DEFAULT`` and the I^3 model directories in
  ``encoders/``) as ``pyserini_i3/encoders/``, where ``--encoder i3`` looks for
  them in an installed copy (see ``pyserini_i3/plugin/resolve.py``); what counts as an
  I^3 model directory is decided by ``pyserini_i3/modeling/storage.py``.
"""

import runpy
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


# standard-library-only modules of the package, run as files (the build may lack torch and transformers)
_is_i3_dir = runpy.run_path(str(HERE / "pyserini_i3" / "modeling" / "storage.py"))["is_i3_model_dir"]


class BuildPyWithHook(build_py):
    def run(self):
        super().run()
        hook = runpy.run_path(str(HERE / "pyserini_i3" / "plugin" / "install.py"))
        build_lib = Path(self.build_lib)
        (build_lib / hook["PTH_NAME"]).write_text(hook["PTH_LINE"])
        encoders = HERE / "encoders"
        if encoders.is_dir():
            target = build_lib / "pyserini_i3" / "encoders"
            for item in sorted(encoders.iterdir()):
                if item.name == "DEFAULT" and item.is_file():
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(item, target / item.name)
                elif item.is_dir() and _is_i3_dir(item):
                    shutil.copytree(item, target / item.name, dirs_exist_ok=True)

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + [str(Path(self.build_lib) / "pyserini_i3.pth")]


setup(cmdclass={"build_py": BuildPyWithHook})
