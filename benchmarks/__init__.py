"""Speed and memory benchmarks for tinygrad_mb, with committed results.

Run everything with ``python -m benchmarks`` (or ``python benchmarks/run.py``);
``--quick`` is a short smoke run, ``--only SECTION`` runs one section.
The full run writes ``benchmarks/RESULTS.md`` and ``benchmarks/throughput.png``.

What is measured, and against what:

* ``mlp``      one training step of a 784-128-10 MLP at several batch sizes, for a
               hand-written NumPy MLP (the practical limit of any NumPy engine),
               PyTorch CPU and tinygrad_mb, interleaved and repeated.
* ``overhead`` the cost of one tracked op on a tiny tensor against the bare NumPy call.
* ``compare``  the ``tinygrad-mb compare`` command end to end.
* ``memory``   peak RSS of a long batch-size-1 training run, and the cost of
               ``import tinygrad_mb``.
* ``gpu``      the same throughput curve on CuPy, when a GPU is usable.
"""
