"""The trusted side of grading without a kernel: the lab/answer plan of every lab, and the strict
reading of values that cross from the student's kernel (hostile files must fail cleanly)."""

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder import boundary, pipeline, trusted, wire
from tests import grading_lab as lab


@pytest.mark.parametrize("name", pipeline.lab_names())
def test_every_lab_has_a_grading_plan_whose_lab_cells_read_no_answers(name):
    nb = nbformat.read(pipeline.SOLUTIONS / name / f"{name}.ipynb", as_version=4)
    plan = trusted.plan(nb)
    assert plan["tests"] and all(entry["answer"] for entry in plan["tests"].values()), plan
    for index in plan["lab_cells"]:
        assert not (trusted._bound_and_read(nb.cells[index].source)[1]
                    & {n for entry in plan["tests"].values() for n in entry["answer"]})


def test_plan_sorts_names_and_rejects_a_cell_that_mixes_lab_and_answer():
    nb = lab.solution_notebook()
    plan = trusted.plan(nb)
    assert plan["tests"]["test_double"] == {"answer": ["double"], "lab": [], "test": []}
    assert plan["tests"]["test_count"]["answer"] == ["count"]
    derived = lab.solution_notebook()  # a value a lab cell computes from answers is the student's
    derived.cells.insert(lab.cell_index(derived, "test_count"), nbformat.v4.new_code_cell("doubled = double([1])"))
    derived.cells[lab.cell_index(derived, "test_count")].source += "\nassert doubled is not None"
    assert trusted.plan(derived)["tests"]["test_count"]["answer"] == ["count", "doubled"]
    mixed = lab.solution_notebook()  # lab data a test needs next to a call of an answer
    mixed.cells.insert(lab.cell_index(mixed, "test_count"), nbformat.v4.new_code_cell("LIMIT = 4\ndoubled = double([1])"))
    mixed.cells[lab.cell_index(mixed, "test_count")].source += "\nassert count([1], 1) < LIMIT"
    with pytest.raises(trusted.LabPlanError, match="must not mix lab and answer"):
        trusted.plan(mixed)
    from_test = lab.solution_notebook()  # tests never run in the student's kernel
    from_test.cells[lab.cell_index(from_test, "test_double")].source += "\nfixture = 3"
    from_test.cells.insert(lab.cell_index(from_test, "count"), nbformat.v4.new_code_cell("print(fixture)"))
    with pytest.raises(trusted.LabPlanError, match="which only test"):
        trusted.plan(from_test)


def roundtrip(value, tmp_path):
    wire.encode(value, tmp_path)
    return wire.decode(tmp_path)


def test_values_cross_as_plain_data(tmp_path):
    class Sneaky(np.ndarray):
        def __eq__(self, other):
            return True

    value = {"a": [1, 2.5, None, True, "é", b"\x00"], (1, 2): {3, 4}, "big": 10**40, "c": 1 + 2j,
             "array": np.arange(6, dtype=np.int16).reshape(2, 3), "scalar": np.float32(1.5),
             "sneaky": np.zeros(3).view(Sneaky), "path": Path("/data/glove.txt")}
    back = roundtrip(value, tmp_path)
    assert back["a"] == value["a"] and back[(1, 2)] == {3, 4} and back["big"] == 10**40 and back["c"] == 1 + 2j
    assert back["array"].dtype == np.int16 and back["array"].shape == (2, 3)
    assert type(back["scalar"]) is np.float32 and type(back["sneaky"]) is np.ndarray
    assert back["path"] == Path("/data/glove.txt")
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = [1, 2, 3], [4]
    back = roundtrip(ragged, tmp_path)
    assert back.dtype == object and back.shape == (2,) and back.tolist() == [[1, 2, 3], [4]]


@pytest.mark.parametrize("tree, files", [
    ('["pickle", "x"]', {}),
    ('["array", "../../etc/passwd"]', {}),
    ('["array", "a1.npy"]', {"a1.npy": "object"}),
    ('["array", "a1.npy"]', {"a1.npy": b"\x93NUMPY garbage"}),
    ('["int", "1e5"]', {}),
    ('["list", [' + ",".join(['["list", ['] * 40) + "]]" * 40 + "]]", {}),
    ('{"not": "a node"}', {}),
    ("[\"str\", 1]", {}),
    ("not json", {}),
])
def test_forged_or_garbled_values_raise_wire_errors(tmp_path, tree, files):
    (tmp_path / "value.json").write_text(tree)
    for name, content in files.items():
        if content == "object":
            np.save(tmp_path / name, np.array([{"x": 1}], dtype=object), allow_pickle=True)
        else:
            (tmp_path / name).write_bytes(content)
    with pytest.raises(wire.WireError):
        wire.decode(tmp_path)


def test_unsupported_types_name_the_type_and_what_is_accepted(tmp_path):
    wire.encode(object(), tmp_path)
    with pytest.raises(wire.Unsupported, match="builtins.object cannot be graded .accepted: None, bool"):
        wire.decode(tmp_path)


def test_sizes_are_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(wire, "MAX_BYTES", 1000)
    wire.encode(np.zeros(1000), tmp_path)
    with pytest.raises(wire.WireError, match="larger than"):
        wire.decode(tmp_path)


def test_keras_configs_are_checked_against_the_allow_list():
    good = {"module": "keras", "class_name": "Sequential", "registered_name": None, "config": {"layers": [
        {"module": "keras.layers", "class_name": "Dense", "registered_name": None, "config": {"units": 2}}]}}
    boundary.check_keras_config(good)
    lambda_layer = json.loads(json.dumps(good))
    lambda_layer["config"]["layers"][0].update(class_name="Lambda", config={"function": "bytecode"})
    custom = json.loads(json.dumps(good))
    custom["config"]["layers"][0]["registered_name"] = "evil>Dense"
    for config in (lambda_layer, custom):
        with pytest.raises(wire.Unsupported):
            boundary.check_keras_config(config)


def test_proxy_copies_mutated_arguments_back_and_replays_warnings_and_exceptions(tmp_path):
    """The student's side of a call, served in this process, as the kernel would."""
    import sys

    calls = []

    def runner(code, timeout):
        calls.append(code)
        namespace = {}
        exec(code, namespace)
        return True

    b = boundary.Boundary(runner, tmp_path, timeout=5)
    b.key = "_test_key"
    refs = sys.__dict__.setdefault(b.key, {"refs": {}})["refs"]

    def mutate(values):
        import warnings

        values *= 2
        warnings.warn("careful", RuntimeWarning)
        return values.sum()

    def fail():
        raise KeyError("missing")

    class OutOfVocabulary(KeyError):  # as course.embeddings raises
        pass

    def fail_subclass():
        raise OutOfVocabulary("no vector for 'zzz'")

    class Custom(Exception):
        pass

    def fail_custom():
        raise Custom("mine")

    refs[1], refs[2], refs[3], refs[4] = mutate, fail, fail_subclass, fail_custom
    data = np.ones(3)
    with pytest.warns(RuntimeWarning, match="careful"):
        assert boundary.CallProxy(b, 1, "function")(data) == 6.0
    np.testing.assert_array_equal(data, [2, 2, 2])
    with pytest.raises(KeyError, match="missing"):
        boundary.CallProxy(b, 2, "function")()
    with pytest.raises(KeyError, match="OutOfVocabulary: .*zzz"):  # `except KeyError` in a test catches it
        boundary.CallProxy(b, 3, "function")()
    with pytest.raises(boundary.StudentException, match="Custom: mine"):
        boundary.CallProxy(b, 4, "function")()
    sys.__dict__.pop(b.key)


def test_a_keras_model_can_be_handed_to_a_students_function(tmp_path):
    """cifar10's hidden test passes its own augmentation model to the student's builder."""
    import sys

    import keras

    def runner(code, timeout):
        exec(code, {})
        return True

    b = boundary.Boundary(runner, tmp_path, timeout=5)
    b.key = "_test_key_keras"
    refs = sys.__dict__.setdefault(b.key, {"refs": {}})["refs"]

    def build(augmentation):
        return keras.Sequential([keras.Input(shape=(4, 4, 3)), augmentation, keras.layers.Flatten(),
                                 keras.layers.Dense(2)], name="built")

    refs[1] = build
    marker = keras.Sequential([keras.layers.RandomFlip("horizontal")], name="augmentation")
    built = boundary.CallProxy(b, 1, "function")(marker)
    assert built.name == "built" and built.layers[0].name == "augmentation"
    assert [type(layer).__name__ for layer in built.layers[0].layers] == ["RandomFlip"]
    sys.__dict__.pop(b.key)


def test_a_compiled_keras_model_crosses_as_config_and_weights(tmp_path):
    import keras
    model = keras.Sequential([keras.Input(shape=(6, 6, 1)), keras.layers.Conv2D(2, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dropout(0.5), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    wire.encode(model, tmp_path)
    rebuilt = wire.decode(tmp_path, keras_model=boundary.rebuild_keras)
    assert rebuilt is not model and issubclass(type(rebuilt), keras.Model)
    x = np.random.default_rng(0).normal(size=(4, 6, 6, 1)).astype("float32")
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert [type(layer).__name__ for layer in rebuilt.layers] == ["Conv2D", "Flatten", "Dropout", "Dense"]


def test_the_optimizer_loss_and_metrics_a_builder_chose_cross_with_the_model(tmp_path):
    """A builder's compile() is part of the answer (word-embeddings Ex. 6: any optimizer, any step)."""
    import keras

    model = keras.Sequential([keras.Input(shape=(10,)), keras.layers.Embedding(50, 4),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, activation="sigmoid")])
    schedule = keras.optimizers.schedules.CosineDecay(3e-3, decay_steps=100)
    model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=0.9),
                  loss=keras.losses.BinaryCrossentropy(label_smoothing=0.1), metrics=["accuracy"])
    (tmp_path / "a").mkdir()
    wire.encode(model, tmp_path / "a")
    rebuilt = wire.decode(tmp_path / "a", keras_model=boundary.rebuild_keras)
    assert rebuilt.compiled and type(rebuilt.optimizer).__name__ == "SGD"
    assert rebuilt.optimizer.get_config()["momentum"] == pytest.approx(0.9)
    assert type(rebuilt.loss).__name__ == "BinaryCrossentropy" and rebuilt.loss.get_config()["label_smoothing"] == 0.1
    rebuilt.fit(np.zeros((4, 10), "int32"), np.array([0, 1, 0, 1]), epochs=1, verbose=0)  # trains as compiled

    class Sneaky(keras.optimizers.Adam):
        pass

    model.compile(optimizer=Sneaky(), loss="binary_crossentropy")
    (tmp_path / "b").mkdir()
    wire.encode(model, tmp_path / "b")
    with pytest.raises(wire.Unsupported):
        wire.decode(tmp_path / "b", keras_model=boundary.rebuild_keras)


def test_course_dataclasses_cross_field_by_field_and_nothing_else_is_rebuilt(tmp_path):
    """reuters-topics' tests hand Reuters stories to the student's functions."""
    import json

    from course.datasets.reuters import Story

    story = Story(newid=7, lewissplit="TRAIN", topics_attribute="YES", topics=("earn", "acq"), title="T",
                  dateline="", body="B")
    (tmp_path / "a").mkdir()
    assert roundtrip([story], tmp_path / "a") == [story]
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "value.json").write_text(json.dumps(["record", "subprocess:Popen", [["args", ["str", "true"]]]]))
    with pytest.raises(wire.WireError):
        wire.decode(tmp_path / "b")


def test_pandas_objects_cross_as_data(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"outlook": ["sunny", "rain"], "temp": [20.5, 11.0]}, index=["d1", "d2"])
    back = roundtrip({"frame": frame, "series": frame["temp"]}, tmp_path)
    pd.testing.assert_frame_equal(back["frame"], frame)
    pd.testing.assert_series_equal(back["series"], frame["temp"])
