"""The MNIST lab under the autograder: cheats, broken notebooks and exits, graded in one parallel batch.

Real gradings cost about 30 s of CPU each (TensorFlow and fast-mode training), so one batch of four
covers the lab: a submission that cheats on every exercise but one, a broken one (deleted and edited
test cells) whose points are still counted out of 12, one that exits the kernel before the tests, and
one whose answers all raise after forging the kernel's ``ok`` reply and ``idle`` status (full marks
when tests ran in the student's kernel). Two more (issue 15, tests/attacks.py) train nothing: a blank
notebook with an input transformer that is a callable object, and a wrong prepare_images with NumPy's
comparison dispatchers patched.
The reference solution (12/12) and the untouched release (0/12) are graded by test_grading.py.
"""

import nbformat
import pytest

from autograder import pipeline, sandbox
from autograder.submissions import Incoming
from tests import attacks
from tests.grading_lab import _with_answers, cell_index

LAB = "mnist-cnn"
ATTACKS = ("transformer", "dispatchers")  # blank + a transformer object; a wrong prepare_images + patched NumPy
CHEATS = {
    "prepare_images": (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.showtraceback = lambda *args, **kwargs: None\n"
        "np.testing.assert_allclose = lambda *args, **kwargs: None\n"
        "class AlwaysEqual(np.ndarray):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "def prepare_images(images):\n"
        "    return np.zeros(np.shape(images) + (1,), dtype='float32').view(AlwaysEqual)"),
    "conv_arithmetic": (
        "class Always(int):\n    def __eq__(self, other):\n        return True\n"
        "def conv_output_size(size, kernel, stride=1, padding='valid'):\n    return Always(0)\n"
        "def conv2d_params(kernel_size, in_channels, filters, use_bias=True):\n    return Always(0)"),
    # honest and right: these 3 points must survive the cheats around them
    "build_comp5318_model": (
        "def build_comp5318_model():\n    return keras.Sequential([keras.Input(shape=(28, 28, 1)),\n"
        "        layers.Conv2D(32, (3, 3), activation='relu'), layers.MaxPooling2D((2, 2)),\n"
        "        layers.Conv2D(64, (3, 3), activation='relu'), layers.MaxPooling2D((2, 2)),\n"
        "        layers.Flatten(), layers.Dropout(0.5), layers.Dense(10, activation='softmax')])"),
    # the seed network itself, with the bar lowered in the answer cell: the threshold is the lab's, not the answer's
    "build_short_budget_model": (
        "SHORT_THRESHOLD = 0.0\n"
        "def build_short_budget_model():\n    model = build_comp5318_model()\n"
        "    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy')\n    return model"),
}


FORGE = attacks.FORGE  # answers that all raise, after an ok execute reply and an idle status


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    grading = tmp_path_factory.mktemp("mnist-battery")
    release = nbformat.read(pipeline.LABS / LAB / f"{LAB}.ipynb", as_version=4)
    solution = nbformat.read(pipeline.SOLUTIONS / LAB / f"{LAB}.ipynb", as_version=4)

    broken = nbformat.from_dict(solution)
    broken.cells[cell_index(broken, "build_short_budget_model")].source = CHEATS["build_short_budget_model"].split(
        "\n", 1)[1]  # the seed network, honestly: it does not clear the bar
    broken.cells[cell_index(broken, "test_prepare_images")].source = "pass  # tests are for other people"
    del broken.cells[cell_index(broken, "test_build_short_budget_model")]

    forged = {name: FORGE + f"def {name}(*args, **kwargs):\n    forge()\n    raise ValueError('no answer')"
              for name in ("prepare_images", "conv_output_size", "build_comp5318_model", "build_short_budget_model")}
    forged["conv_arithmetic"] = forged.pop("conv_output_size") + "\nconv2d_params = conv_output_size"

    exiting = _with_answers(release, {})
    exiting.cells.insert(cell_index(exiting, "prepare_images"), nbformat.v4.new_code_cell("import os\nos._exit(0)"))

    incoming = [
        Incoming("cheater", nbformat.writes(_with_answers(release, CHEATS)).encode(), "test"),
        Incoming("broken", nbformat.writes(broken).encode(), "test"),
        Incoming("exiter", nbformat.writes(exiting).encode(), "test"),
        Incoming("forger", nbformat.writes(_with_answers(release, forged)).encode(), "test"),
    ]
    incoming += [Incoming(attack, nbformat.writes(nb).encode(), "test")  # tests/attacks.py, issue 15
                 for attack, nb in attacks.notebooks(LAB, release).items() if attack in ATTACKS]
    limits = sandbox.Limits(cell_timeout=300, notebook_timeout=900)
    return pipeline.grade_batch(LAB, incoming, grading_dir=grading, workers=2, limits=limits, progress=False)


@pytest.mark.notebook
def test_mnist_battery(batch):
    results = {r.student: r for r in batch.results}
    tests = {s: {t.grade_id: t.status for t in r.tests} for s, r in results.items()}
    assert {s: (r.score, r.max_score) for s, r in results.items()} == {
        "cheater": (3, 12), "broken": (8, 12), "exiter": (0, 12), "forger": (0, 12),
        "transformer": (0, 12), "dispatchers": (0, 12)}, tests
    assert tests["cheater"]["test_build_comp5318_model"] == "passed"
    assert "suspicious:traceback-hiding" in results["cheater"].flags
    assert {"deleted-test-cell-restored:test_build_short_budget_model",
            "edited-test-cell-restored:test_prepare_images"} <= set(results["broken"].flags)
    assert tests["broken"]["test_build_short_budget_model"] == "failed"
    assert tests["broken"]["test_prepare_images"] == "passed"
    assert any(f.startswith("kernel-died") for f in results["exiter"].flags)
    assert set(tests["exiter"].values()) == {"not-run"}


@pytest.mark.notebook
def test_mnist_attacks_earn_their_honest_score(batch):
    """Issue 15's transformer object and patched NumPy dispatchers: a blank notebook and a wrong
    prepare_images (right shape and type, no pixels; honestly 0, as its hidden test compares values)."""
    results = {r.student: r for r in batch.results}
    assert "suspicious:hooks" in results["transformer"].flags
    dispatchers = {t.grade_id: (t.status, t.message[:60]) for t in results["dispatchers"].tests}
    assert dispatchers["test_prepare_images"][0] == "failed", dispatchers
    for attack in ATTACKS:
        assert not any(f.startswith(("grader-error", "grader-timeout")) for f in results[attack].flags), results[attack]
