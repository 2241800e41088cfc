"""Helper library for the course notebooks: datasets, runtime switches and plots.

Notebooks import what they need, e.g. ``from course import runtime`` and
``from course.datasets import mnist``; nothing here is copied into notebooks.
"""

__version__ = "0.1.0"
