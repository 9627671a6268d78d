"""Patches applied to Pyserini modules as they are imported (see ``_hook``)."""

from __future__ import annotations

import functools


def patch_setup(module) -> None:
    """After ``pyserini.setup`` loads: drop JVM options the runtime cannot honour."""
    original = module.configure_classpath

    @functools.wraps(original)
    def configure_classpath(*args, **kwargs):
        result = original(*args, **kwargs)
        from pyserini_i3.java import drop_unsupported_jvm_options

        drop_unsupported_jvm_options()
        return result

    module.configure_classpath = configure_classpath
