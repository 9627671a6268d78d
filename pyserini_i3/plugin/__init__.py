"""The Pyserini plugin: ``--encoder i3`` in Pyserini's own commands, without editing Pyserini.

==================  ==================================================================
``encoders``        ``I3DocumentEncoder`` / ``I3QueryEncoder`` (Pyserini's interfaces);
                    importing it registers them in ``pyserini.encode``'s class maps
``resolve``         what an encoder name means (``i3``, a model directory)
``names``           ``I3_KEY``, ``DefaultInt``, ``EncoderName`` (a leaf module)
``argparse_patch``  ``--encoder`` / ``--dimension`` in Pyserini's parsers, scoped by file
``patches``         the callbacks :mod:`pyserini_i3._hook` runs as Pyserini's modules load
``java``            a Java 21+ runtime and JVM options it can honour
``topics``          offline named topics and qrels; the ``msmarco_eval`` stand-in
``install``         the ``pyserini_i3.pth`` start-up file
==================  ==================================================================

This package file imports nothing: the start-up hook stays free.
"""
