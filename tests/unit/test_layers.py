"""What the import-linter contracts cannot see: imports done when a module is imported.

``make lint`` checks the layers statically, and lets ``training.mining`` and
``training.teacher`` import Pyserini (inside the functions that search).  Here a
fresh interpreter imports every module of a layer and reports what got loaded.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import pyserini_i3

PROBE = """
import importlib, json, pkgutil, sys
import pyserini_i3.{layer} as layer
names = [m.name for m in pkgutil.walk_packages(layer.__path__, layer.__name__ + '.')]
for name in names:
    importlib.import_module(name)
print(json.dumps({{"modules": names, "loaded": sorted(m for m in ("pyserini", "jnius", "torch", "transformers")
                                                      if m in sys.modules)}}))
"""


def loaded_by(layer: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE.format(layer=layer)], capture_output=True, text=True,
                         timeout=300, env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("layer", ["modeling", "training", "utils", "eval"])
def test_importing_a_layer_below_the_plugin_never_loads_pyserini(layer):
    found = loaded_by(layer)
    assert found["modules"], layer
    assert "pyserini" not in found["loaded"] and "jnius" not in found["loaded"]


@pytest.mark.parametrize("layer", ["utils", "eval"])
def test_utils_and_eval_load_no_model_code(layer):
    """They run Pyserini's commands as subprocesses; torch stays out of the process."""
    assert loaded_by(layer)["loaded"] == []


def test_every_module_of_the_package_is_short():
    """No module over about 400 lines: each concern has its own file."""
    import pathlib

    sizes = {}
    for module in pkgutil.walk_packages(pyserini_i3.__path__, "pyserini_i3."):
        spec = module.module_finder.find_spec(module.name)
        if spec and spec.origin and spec.origin.endswith(".py"):
            sizes[module.name] = len(pathlib.Path(spec.origin).read_text().splitlines())
    assert len(sizes) > 30
    assert {name: n for name, n in sizes.items() if n > 420} == {}
