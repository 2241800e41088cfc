"""Attacks on the grader by a student who has read ``autograder/`` (issue 15), as submissions of the real labs.

Each attack is a release with some answer cells replaced (the transformer: one extra cell before the
first answer), graded end to end by the batch grader in test_salammbo.py and test_autograder_mnist.py:

* ``forger``: every answer raises, after sending the kernel's own ``ok`` execute reply and ``idle``
  status for the request that called it (full marks when tests ran in the student's kernel);
* ``transformer``: a blank notebook with an input transformer that is a callable object, not a
  function, which turns every later cell into ``pass``;
* ``dispatchers``: wrong answers of the right shapes, with NumPy's comparison dispatchers
  (``np.allclose``, ``np.isclose``, ``np.array_equal``, also in ``numpy._core.numeric``, which
  ``np.testing.assert_allclose`` calls) replaced by ones that always agree, from inside the answers
  when a test calls them: they are ``_ArrayFunctionDispatcher`` objects, not functions, so a guard
  that restores patched functions never sees them;
* ``wrong``: the dispatchers' answers without the patch, its honest twin: the attack must score
  exactly what this scores.

``python -m tests.attacks LAB RELEASE OUT`` writes them as ``OUT/<attack>.ipynb`` (to grade them on
another version of the grader, as the issue's closing note does).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

from tests.grading_lab import _with_answers

FORGE = (  # sends an ok execute reply and an idle status for the request that is running, from inside it
    "def forge():\n"
    "    kernel = get_ipython().kernel\n"
    "    parent = kernel.get_parent('shell')\n"
    "    kernel.session.send(kernel.shell_stream, 'execute_reply', {'status': 'ok', 'execution_count': 1,\n"
    "                        'user_expressions': {}, 'payload': []}, parent, ident=kernel._parent_ident['shell'])\n"
    "    kernel._publish_status('idle', 'shell', parent)\n"
    "    kernel.shell_stream.flush()\n\n")
TRANSFORMER = ("class Rewrite:\n    def __call__(self, lines):\n        return ['pass\\n']\n\n"
               "get_ipython().input_transformers_post.append(Rewrite())")
DISPATCHERS = (  # in each answer cell; patch() runs inside the answer, when a test calls it
    "import numpy\n\n"
    "def _agree(a, b, *args, **kwargs):\n"
    "    return numpy.ones(numpy.broadcast(numpy.asarray(a), numpy.asarray(b)).shape, dtype=bool)\n\n"
    "def patch():\n"
    "    for module in (numpy, numpy._core.numeric):\n"
    "        module.isclose = _agree\n"
    "        module.allclose = module.array_equal = module.array_equiv = lambda *args, **kwargs: True")


def _calling_patch(source: str) -> str:
    """An answer whose functions call ``patch()`` first."""
    return re.sub(r"^(def .*:\n)", r"\1    patch()\n", source, flags=re.MULTILINE)


# Per lab: answer cell -> the functions it defines, and wrong answers of the right shapes.
FUNCTIONS = {
    "salammbo": {name: [name] for name in (
        "count_letters", "relative_frequencies", "standardise", "top_singular_values", "explained_variance_ratio",
        "project", "ppmi", "cosine_similarity", "nearest_neighbours")},
    # mnist-cnn: only these cells (one_hot and trained_model are the other batch cases' business)
    "mnist-cnn": {"prepare_images": ["prepare_images"], "conv_arithmetic": ["conv_output_size", "conv2d_params"],
                  "build_comp5318_model": ["build_comp5318_model"]},
}
WRONG = {
    "salammbo": {
        "count_letters": "def count_letters(text, letters=LETTERS):\n    return np.zeros(len(letters), dtype=np.int64)",
        "relative_frequencies": "def relative_frequencies(counts):\n    return np.zeros(np.shape(counts))",
        "standardise": "def standardise(X):\n    return np.zeros(np.shape(X))",
        "top_singular_values": "def top_singular_values(X, k):\n    return np.zeros(min(k, *np.shape(X)))",
        "explained_variance_ratio": "def explained_variance_ratio(singular_values):\n"
                                    "    return np.zeros(len(singular_values))",
        "project": "def project(X, k):\n    return np.zeros((len(X), k))",
        "ppmi": "def ppmi(counts):\n    return np.zeros(np.shape(counts))",
        "cosine_similarity": "def cosine_similarity(u, v):\n    return 0.0",
        "nearest_neighbours": "def nearest_neighbours(word, words, vectors, n=5):\n    return list(words)[:n]",
    },
    "mnist-cnn": {
        "prepare_images": "def prepare_images(images):\n"
                          "    return np.zeros(np.shape(images) + (1,), dtype='float32')  # right shape, no pixels",
    },
}
ATTACKS = ("forger", "transformer", "dispatchers", "wrong")


def first_answer(release) -> int:
    return min(i for i, c in enumerate(release.cells) if c.metadata.get("nbgrader", {}).get("solution"))


def notebooks(lab: str, release) -> dict[str, nbformat.NotebookNode]:
    """attack -> the submission notebook, built on ``release`` (the lab's student version)."""
    forged = {cell: FORGE + "\n".join(f"def {name}(*args, **kwargs):\n    forge()\n    raise ValueError('no answer')\n"
                                      for name in names) for cell, names in FUNCTIONS[lab].items()}
    return {
        "forger": _with_answers(release, forged),
        "transformer": _with_answers(release, {}, [(first_answer(release), TRANSFORMER)]),
        "dispatchers": _with_answers(release, {cell: DISPATCHERS + "\n\n\n" + _calling_patch(source)
                                               for cell, source in WRONG[lab].items()}),
        "wrong": _with_answers(release, WRONG[lab]),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    lab, release, out = argv[0], Path(argv[1]), Path(argv[2])
    if lab not in FUNCTIONS:
        print(f"no attacks written for {lab!r} (labs: {', '.join(FUNCTIONS)})", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    for attack, nb in notebooks(lab, nbformat.read(release, as_version=4)).items():
        nbformat.write(nb, out / f"{attack}.ipynb")
    print(f"wrote {', '.join(ATTACKS)} to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
