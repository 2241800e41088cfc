import numpy as np
import pytest

from course import runtime


@pytest.mark.parametrize(
    "argument, env, nbgrader, expected",
    [
        (True, None, None, True),
        (False, "1", "autograde", False),  # the explicit parameter wins
        (None, "1", None, True),
        (None, "0", "autograde", False),   # COURSE_FAST beats nbgrader's marker
        (None, None, "autograde", True),   # on by itself under nbgrader
        (None, None, None, False),
    ],
)
def test_fast_mode_resolution(monkeypatch, argument, env, nbgrader, expected):
    for name, value in [(runtime.FAST_VARIABLE, env), (runtime.NBGRADER_VARIABLE, nbgrader)]:
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert runtime.resolve_fast(argument) is expected


def test_bad_fast_value_is_reported(monkeypatch):
    monkeypatch.setenv(runtime.FAST_VARIABLE, "maybe")
    with pytest.raises(ValueError, match="COURSE_FAST"):
        runtime.resolve_fast(None)


def test_choose_and_subset():
    fast, full = runtime.Runtime(fast=True, seed=0), runtime.Runtime(fast=False, seed=0)
    assert fast.choose(fast=1, full=12) == 1 and full.choose(fast=1, full=12) == 12
    x, y = np.arange(10), np.arange(10) * 2
    assert [len(a) for a in fast.subset(x, y, size=3)] == [3, 3]
    assert len(full.subset(x, size=3)) == 10


def test_seeding_makes_runs_repeatable():
    runtime.seed_everything(5)
    first = np.random.rand(3)
    runtime.seed_everything(5)
    assert np.array_equal(first, np.random.rand(3))


def test_setup_prints_mode_and_device(capsys):
    rt = runtime.setup(fast=True, seed=1)
    out = capsys.readouterr().out
    assert rt.fast and "FAST" in out and ("CPU" in out or "GPU" in out)


def test_record_prints_and_appends_json_lines(tmp_path, monkeypatch, capsys):
    import json

    results = tmp_path / "results.jsonl"
    monkeypatch.setenv(runtime.RESULTS_VARIABLE, str(results))
    rt = runtime.Runtime(fast=False, seed=0)
    rt.record("demo", test_accuracy=np.float32(0.99), epochs=3)
    rt.record("demo2", seconds=1.5)
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert lines[0] == {"experiment": "demo", "mode": "full", "test_accuracy": 0.9900000095367432, "epochs": 3}
    assert lines[1]["experiment"] == "demo2" and "result: experiment=demo" in capsys.readouterr().out


def test_setup_without_keras_imports_no_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys; from course import runtime; rt = runtime.setup(fast=True, seed=3, keras=False); "
        "assert rt.fast; assert not {'keras', 'tensorflow'} & set(sys.modules), sorted(sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Mode: FAST" in result.stdout and "no accelerator needed" in result.stdout


def test_exact_float32_switches_off_tensorfloat32():
    import tensorflow as tf

    before = tf.config.experimental.tensor_float_32_execution_enabled()  # True unless a test before ran a notebook's set-up here
    tf.config.experimental.enable_tensor_float_32_execution(True)  # TensorFlow's default
    try:
        runtime.use_exact_float32()
        assert not tf.config.experimental.tensor_float_32_execution_enabled()
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(before)
