"""What the benchmark scripts share (``benchmarks/README.md``, "Layout").

- ``cli``: argument-parser patterns (``--pg-url`` / ``--sqlite``, comma lists, bounds, BLAS threads);
- ``db``: a temporary migrated-to-be database, PostgreSQL (created and dropped) or SQLite (a file);
- ``tracks``: the seeded synthetic track generators;
- ``timing``: best/median of repeated calls, wall + CPU stopwatch;
- ``report``: tables (rich, or pipe-separated text), number formats, the machine, load and summary lines;
- ``cpu``, ``server``, ``load``: the HTTP load-test framework of ``bench_api.py`` (CPU accounting
  from /proc, ``argus serve`` as a subprocess, the serial / closed / open-loop drivers).

The scripts run as ``python benchmarks/<script>.py``, so ``benchmarks/`` is on ``sys.path`` and
they import ``_common.<module>``; inside the package imports are relative, so the tests can import
it as ``benchmarks._common``.
"""
