"""``make bench``: measured results against the seeds, training speed, the fast-mode budget and
grading throughput, written to ``benchmarks/results.md`` (with ``results.csv``, ``results.json`` and
plots).

    python -m benchmarks                       # every section (up to about an hour on 2 cores)
    python -m benchmarks --only speed          # one section
    python -m benchmarks --only mnist          # every section, only the items naming "mnist"
    python -m benchmarks --only accuracy:mnist # one section, some items
    python -m benchmarks --smoke               # tiny sizes, into build/bench-smoke (CI)

Each section is a module with the same four functions (see :mod:`benchmarks.sections`): the items
it can measure, ``measure`` (returns rows per item), ``markdown`` and ``plot``. Results are kept
per item in ``results.json``: a partial run replaces the items it measured and keeps the others,
with the date and machine of the run that measured each.
"""
