"""The sections of the report, in the order they appear in results.md. Each module provides:

    NAME, TITLE, INTRO                      its key, heading and a paragraph saying how it is measured
    items(options) -> [str]                 what it can measure (notebooks, models, labs): the units of --only
    measure(items, options)                 yields (item, {"rows": [{"name": ..., ...}], "meta": {...}})
    markdown(entries) -> str                its part of results.md, from the stored entries
    plot(entries, path) -> bool             its figure (False: nothing to plot)

To add a section, write such a module and list it here.
"""

from benchmarks import ablation, accuracy, budget, grading, seeds, speed

SECTIONS = {module.NAME: module for module in (accuracy, ablation, seeds, speed, budget, grading)}
# Cheapest first, so that an interrupted `make bench` has already written the quick sections.
RUN_ORDER = ["budget", "grading", "speed", "seeds", "ablation", "accuracy"]
