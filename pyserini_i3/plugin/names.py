"""The names the plugin shares with Pyserini's argument parsing (a leaf: no package imports).

* ``I3_KEY``: ``"i3"``, our key in Pyserini's encoder class maps and ``--encoder-class`` choices.
* ``DefaultInt``: an argparse default that means "the user did not give this option".
* ``EncoderName``: the value of ``--encoder``, a ``str`` that knows whether it names an
  I^3 encoder, so that Pyserini's substring match of class-map keys (``"i3" in
  encoder.lower()``) picks our classes for I^3 names only (``Tevatron/dse-phi3-v1.0``
  contains "i3" too).
"""

from __future__ import annotations

I3_KEY = "i3"


class DefaultInt(int):
    """An int used as an argparse default, meaning "the user did not give this option".

    Every other encoder sees a plain 256 / 768; I^3 takes the value from the model.
    """

    def __repr__(self):
        return f"{int(self)} (default)"


class _LoweredName(str):
    """``encoder.lower()`` for Pyserini's class-map loop: ``"i3" in it`` only for I^3."""

    is_i3 = False

    def __contains__(self, key):
        if key == I3_KEY:
            return self.is_i3
        return str.__contains__(self, key)


class EncoderName(str):
    """The value of ``--encoder``: a str that knows whether it names an I^3 encoder."""

    is_i3 = False

    @classmethod
    def of(cls, value: str, is_i3: bool) -> EncoderName:
        name = cls(value)
        name.is_i3 = bool(is_i3)
        return name

    def lower(self):
        lowered = _LoweredName(str.lower(self))
        lowered.is_i3 = self.is_i3
        return lowered
