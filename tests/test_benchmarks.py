"""`make bench` cannot rot: its smoke version runs every section at tiny sizes and writes every output.

These tests check that outputs exist and hold numbers, never the numbers themselves (they come from a
loaded 2-core machine).
"""

import csv
import json
import shutil

import pytest

from benchmarks import __main__ as bench
from benchmarks import accuracy, notebook_code, report, seeds, speed
from benchmarks.options import Options
from benchmarks.sections import SECTIONS
from course.cifar_recipe import INGREDIENTS


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert bench.main(["--smoke", "--out", str(out)]) == 0
    return out


def _csv(path):
    return list(csv.DictReader(open(path, newline="")))


def _number(rows, section, metric):
    values = [r["value"] for r in rows if r["section"] == section and r["metric"] == metric]
    assert values, f"no {section}/{metric} in results.csv"
    return [float(v) for v in values]  # raises if not numeric


@pytest.mark.notebook
def test_smoke_run_writes_report_csv_and_plots(smoke_results):
    for name in ["results.md", "results.csv", "results.json", "accuracy.png", "speed.png", "budget.png", "ablation.png"]:
        assert (smoke_results / name).stat().st_size > 0, name
    rows = _csv(smoke_results / "results.csv")
    assert {r["section"] for r in rows} == set(SECTIONS)
    assert all(v > 0 for v in _number(rows, "accuracy", "measured"))
    _number(rows, "accuracy", "difference")
    assert all(v > 0 for v in _number(rows, "speed", "per_second"))
    assert all(v > 0 for v in _number(rows, "speed", "ratio"))
    assert all(v > 0 for v in _number(rows, "budget", "seconds"))
    grading = [r for r in rows if r["section"] == "grading"]
    assert all(v > 0 for v in _number(rows, "grading", "ratio"))
    full_marks = {(r["item"], r["name"]): r["value"] for r in grading if r["metric"] == "full_marks"}
    submitted = {(r["item"], r["name"]): r["value"] for r in grading if r["metric"] == "submissions"}
    assert full_marks and full_marks == submitted, (full_marks, submitted)
    assert all(0 <= v <= 1 for v in _number(rows, "seeds", "accuracy"))
    assert all(v > 0 for v in _number(rows, "seeds", "ratio"))
    assert {r["value"] for r in rows if r["section"] == "seeds" and r["metric"] == "status"} == {"ok"}
    assert {r["name"] for r in rows if r["section"] == "seeds"} >= {"seed", "ours", "ours, seed 1"}  # the spread
    text = (smoke_results / "results.md").read_text()
    assert all(f"benchmarks/seed_code/{pair.seed_file}" in text for pair in seeds.PAIRS)
    assert "ours over 2 seeds" in text
    ablation = {r["name"]: float(r["value"]) for r in rows if r["section"] == "ablation" and r["metric"] == "test_accuracy"}
    assert set(ablation) == {"recipe", *(f"without-{name}" for name in INGREDIENTS)}, sorted(ablation)
    assert all(0 <= v <= 1 for v in ablation.values())
    for module in SECTIONS.values():
        assert f"## {module.TITLE}" in text
    assert "cores" in text and "keras" in text and "SMOKE" in text


@pytest.mark.notebook
def test_partial_run_replaces_only_its_items(smoke_results, tmp_path):
    out = tmp_path / "partial"
    shutil.copytree(smoke_results, out)
    before = json.loads((out / "results.json").read_text())
    assert bench.main(["--smoke", "--out", str(out), "--only", "budget"]) == 0
    after = json.loads((out / "results.json").read_text())
    for section in ("accuracy", "speed", "grading"):
        assert after["sections"][section] == before["sections"][section]
    (item, entry), = after["sections"]["budget"].items()
    assert entry["run"] != before["sections"]["budget"][item]["run"]
    assert len(after["runs"]) == 2 and "**B**" in (out / "results.md").read_text()


@pytest.mark.notebook
def test_render_regenerates_every_file_from_the_store(smoke_results, tmp_path):
    out = tmp_path / "render"
    shutil.copytree(smoke_results, out)
    store = (out / "results.json").read_text()
    for name in ["results.md", "results.csv", "speed.png"]:
        (out / name).unlink()
    assert bench.main(["--smoke", "--out", str(out), "--render"]) == 0
    assert (out / "results.md").read_text() == (smoke_results / "results.md").read_text()
    assert (out / "results.csv").read_text() == (smoke_results / "results.csv").read_text()
    assert (out / "speed.png").stat().st_size > 0 and (out / "results.json").read_text() == store


def test_smoke_and_real_results_are_never_mixed(smoke_results, tmp_path):
    out = tmp_path / "mixed"
    shutil.copytree(smoke_results, out)
    with pytest.raises(SystemExit, match="smoke"):
        bench.run(["budget"], Options(out_dir=out))


AVAILABLE = {"accuracy": ["solutions/mnist-cnn/mnist-cnn.ipynb", "solutions/imdb/imdb.ipynb"],
             "speed": ["mnist/chollet", "mnist/adadelta"], "budget": ["lectures/convnets.ipynb"], "grading": []}


@pytest.mark.parametrize("selectors, expected", [
    ([], AVAILABLE),
    (["speed"], {"speed": ["mnist/chollet", "mnist/adadelta"]}),
    (["mnist"], {"accuracy": ["solutions/mnist-cnn/mnist-cnn.ipynb"], "speed": ["mnist/chollet", "mnist/adadelta"]}),
    (["speed:ADADELTA", "budget"], {"speed": ["mnist/adadelta"], "budget": ["lectures/convnets.ipynb"]}),
])
def test_selection(selectors, expected):
    assert bench.select(selectors, AVAILABLE) == expected


@pytest.mark.parametrize("selector, message", [("cifar", "matches nothing"), ("spede:x", "no section 'spede'")])
def test_selection_that_matches_nothing_is_an_error(selector, message):
    with pytest.raises(SystemExit, match=message):
        bench.select([selector], AVAILABLE)


def test_bad_sizes_are_refused(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--smoke", "--repeats", "0"])
    assert "--repeats must be at least 1" in capsys.readouterr().err


def test_grading_submissions_per_lab(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--smoke", "--list", "--submissions", "mnist-cnn=0"])
    assert "--submissions mnist-cnn=0: expected N or LAB=N" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="--submissions nolab=N: no such lab"):
        bench.main(["--list", "--submissions", "nolab=3"])


def test_ours_repeats_per_pair(capsys, monkeypatch):
    with pytest.raises(SystemExit):
        bench.main(["--list", "--ours-repeats", "keras-adadelta-mnist=0"])
    assert "--ours-repeats keras-adadelta-mnist=0: expected N or PAIR=N" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="--ours-repeats nopair=N: no such pair"):
        bench.main(["--list", "--ours-repeats", "nopair=3"])
    seen = []
    monkeypatch.setattr(seeds, "items", lambda options: seen.append(options) or [])
    bench.main(["--list", "--ours-repeats", "2", "--ours-repeats", "keras-adadelta-mnist=3"])
    assert seen[0].ours_repeats_of("keras-adadelta-mnist") == 3 and seen[0].ours_repeats_of("listing-6.7") == 2


def test_a_store_that_is_not_ours_is_refused(tmp_path):
    (tmp_path / report.STORE).write_text(json.dumps({"rows": []}))
    with pytest.raises(ValueError, match="not a benchmark results store"):
        report.load(tmp_path)


def test_record_rows_take_the_measured_metric_and_the_difference():
    row = accuracy.row_of({"experiment": "imdb/lstm", "mode": "full", "val_accuracy": 0.86, "reference": 0.85,
                           "epochs": 3, "seconds": 120.0})
    assert row["metric"] == "val_accuracy" and row["measured"] == 0.86
    assert row["difference"] == pytest.approx(0.01) and row["epochs"] == 3 and row["seconds"] == 120.0
    # A record whose seed reports validation accuracy compares that, and keeps its test accuracy as a detail.
    named = accuracy.row_of({"experiment": "lstm", "mode": "full", "test_accuracy": 0.84, "val_accuracy": 0.85,
                             "reference": 0.8352, "compared": "val_accuracy"})
    assert named["metric"] == "val_accuracy" and named["difference"] == pytest.approx(0.0148)
    assert named["test_accuracy"] == 0.84 and "compared" not in named
    bare = accuracy.row_of({"experiment": "x", "mode": "full", "perplexity": 3.0})
    assert bare["measured"] is None and bare["difference"] is None and bare["perplexity"] == 3.0


def test_notebook_functions_are_the_notebooks_own(tmp_path):
    builders = notebook_code.functions(speed.MNIST_LAB, "build_chollet_model", "prepare_images")
    assert builders["build_chollet_model"]().name == "chollet"
    from course.encoding import one_hot

    assert notebook_code.functions(speed.MNIST_LAB, "one_hot")["one_hot"] is one_hot  # imported, not defined
    with pytest.raises(LookupError, match="defines no build_missing"):
        notebook_code.functions(speed.MNIST_LAB, "build_missing")


@pytest.mark.parametrize("spec", speed.MODELS, ids=lambda s: s.name)
def test_every_speed_model_builds_and_gets_matching_data(spec):
    model = spec.build()
    x, y = spec.data(8)
    assert len(x) == len(y) == 8
    assert all(want in (None, got) for want, got in zip(model.input_shape[1:], x.shape[1:], strict=True))
    model.compile(**spec.compile_args())
    assert model.predict(x, verbose=0).shape[0] == 8


def _store(path, run_id, gpus, rows_by_item, section="speed"):
    run = {"date": run_id, "cpu": "cpu", "cores": 2, "gpus": gpus, "versions": {"keras": "3"}, "smoke": False}
    store = {"runs": {run_id: run}, "sections": {section: {item: {"run": run_id, "rows": rows}
                                                           for item, rows in rows_by_item.items()}}}
    path.mkdir(parents=True, exist_ok=True)
    (path / report.STORE).write_text(json.dumps(store))
    return store


SPEED_ROW = {"name": "numpy", "per_second": 100.0, "slowest": 90.0, "fastest": 110.0, "spread_percent": 20.0,
             "unit": "images", "examples": 10, "repeats": 2, "xla": False, "precision": "float32", "device": "CPU"}


def test_merged_gpu_results_sit_beside_this_machines_rows_and_survive_a_rerun(tmp_path):
    here, there = tmp_path / "here", tmp_path / "gpu"
    _store(here, "2026-11-23 10:00 aaaaaa", [], {"mnist/chollet": [SPEED_ROW]})
    _store(there, "2026-11-23 11:00 bbbbbb", ["NVIDIA H100 80GB HBM3, 81559 MiB"],
           {"mnist/chollet": [{**SPEED_ROW, "per_second": 5000.0, "device": "NVIDIA H100 80GB HBM3"}]})
    assert bench.main(["--out", str(here), "--merge", str(there / report.STORE)]) == 0
    merged = report.load(here)
    assert set(merged["sections"]["speed"]) == {"mnist/chollet", "mnist/chollet @ NVIDIA H100 80GB HBM3"}
    assert merged["sections"]["speed"]["mnist/chollet"]["rows"][0]["per_second"] == 100.0
    assert len(merged["runs"]) == 2
    text = (here / "results.md").read_text()
    assert "mnist/chollet @ NVIDIA H100 80GB HBM3" in text and "5,000 images/s" in text and "NVIDIA H100" in text
    # A whole-section rerun here forgets what no longer exists, but not what another machine measured.
    report.retain(merged, "speed", ["mnist/comp5318"])
    assert list(merged["sections"]["speed"]) == ["mnist/chollet @ NVIDIA H100 80GB HBM3"]


def test_merge_refuses_smoke_results_and_missing_files(tmp_path):
    there = tmp_path / "gpu"
    store = _store(there, "r", [], {"mnist/chollet": [SPEED_ROW]})
    store["runs"]["r"]["smoke"] = True
    (there / report.STORE).write_text(json.dumps(store))
    with pytest.raises(SystemExit, match="smoke"):
        bench.main(["--out", str(tmp_path / "here"), "--merge", str(there / report.STORE)])
    with pytest.raises(SystemExit, match="no such file"):
        bench.main(["--out", str(tmp_path / "here"), "--merge", str(tmp_path / "nothing" / report.STORE)])


def test_without_tensorflow_the_gpu_variants_are_fed_numpy_arrays():
    with_gpu = [v.name for v in speed.variants_for(["H100"], Options(), pipelines=False)]
    assert with_gpu == ["numpy", "numpy, XLA off", "numpy, XLA on", "numpy, mixed precision, XLA off",
                        "numpy, mixed precision, XLA on"]
    assert not any(v.pipeline for v in speed.variants_for(["H100"], Options(), pipelines=False))
    assert [v.name for v in speed.variants_for([], Options(), pipelines=True)] == ["numpy", "tf.data"]
    assert len(speed.variants_for(["H100"], Options(), pipelines=True)) == len(speed.VARIANTS)


@pytest.mark.parametrize("pair", seeds.PAIRS, ids=lambda p: p.name)
def test_seed_code_is_the_seed_text_but_for_its_listed_edits(pair):
    text = (seeds.seeds_dir() / pair.seed_text).read_text()
    code = (seeds.SEED_CODE / pair.seed_file).read_text()
    assert seeds.unlisted_changes(code, text) == []
    assert seeds.edits(seeds.SEED_CODE / pair.seed_file), "the header lists the edits"
    # An unmarked change, a line out of the seed's order, an edit the header does not list: each is caught.
    lines = code.splitlines()
    last = max(i for i, line in enumerate(lines) if line.strip() and not seeds.EDIT.search(line))
    changed = [*lines[:last], lines[last] + "  # changed", *lines[last + 1:]]
    assert len(seeds.unlisted_changes("\n".join(changed), text)) == 1
    assert seeds.unlisted_changes("\n".join(lines + [lines[last], "x = 1  # edit 99"]), text)[-1].endswith(
        "edit 99 is not listed in the header")


@pytest.mark.parametrize("side", seeds.SIDES)
@pytest.mark.parametrize("pair", seeds.PAIRS, ids=lambda p: p.name)
def test_every_seed_pair_runs_both_sides_on_a_few_examples(pair, side):
    measured = seeds.run_side(pair, side, examples=32)
    assert 0 <= measured["accuracy"] <= 1 and measured["fit_seconds"] > 0
    assert measured["epochs"] == 1 and measured["examples"] == 32


def test_a_builder_the_notebook_lost_fails_naming_it(monkeypatch):
    monkeypatch.setattr(seeds, "MNIST_LAB", speed.SEQUENCE_LAB)
    with pytest.raises(LookupError, match="sequence-models.ipynb defines no build_chollet_model"):
        seeds.run_side(seeds.PAIRS[2], "ours", examples=8)


def test_a_seed_side_refuses_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        seeds.main(["listing-6.7", "seed", str(tmp_path / "result.json"), "--examples", "0"])
    assert "--examples must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        seeds.main(["no-such-pair", "seed", str(tmp_path / "result.json")])
    assert "invalid choice: 'no-such-pair'" in capsys.readouterr().err


def test_notebooks_cite_benchmark_runs_that_exist_by_date():
    """A run's letter in results.md changes when older runs drop out, its date does not: notebooks cite
    "the run of <date> UTC", and that run must be in results.json."""
    import re

    from ci.env import ROOT

    runs = {run_id.rsplit(" ", 1)[0] for run_id in json.loads((ROOT / "benchmarks" / "results.json").read_text())["runs"]}
    for notebook in sorted((ROOT / "lectures").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*/*.ipynb")):
        text = notebook.read_text()
        assert not re.search(r"\brun [A-Z]\b", text), f"{notebook.name}: cite a benchmark run by its date, not its letter"
        for cited in re.findall(r"the run of (\d{4}-\d\d-\d\d \d\d:\d\d UTC)", text):
            assert cited in runs, f"{notebook.name} cites the run of {cited}, which benchmarks/results.json does not hold"


def test_spread_of_ours_gives_each_seed_the_mean_the_sd_and_where_the_seed_lies():
    runs = [{"name": "ours", "status": "ok", "accuracy": 0.9894},
            {"name": "ours, seed 1", "status": "ok", "accuracy": 0.9904},
            {"name": "ours, seed 2", "status": "failed", "error": "exit 1"}]
    line = seeds._spread("keras-adadelta-mnist", runs, 0.9922)
    assert "ours over 2 seeds: 0.9894 (seed: the notebook's), 0.9904 (seed: 1)" in line
    assert "mean 0.9899, sd 0.0007" in line and "+3.3 sd from our mean" in line
    assert "no run succeeded" in seeds._spread("x", runs[2:], 0.9)


def test_ours_trains_from_the_seed_it_is_given(tmp_path):
    result = tmp_path / "result.json"
    assert seeds.main(["chollet-5.1-mnist", "ours", str(result), "--examples", "16", "--seed", "3"]) == 0
    assert json.loads(result.read_text())["examples"] == 16


def test_ablation_rows_are_compared_with_the_recipe_seed_by_seed():
    from benchmarks import ablation

    common = {"seconds": 300.0, "parameters": 414074, "epochs": 60, "train_images": 4000, "test_images": 1000}
    entries = {
        "recipe": {"run": "B", "rows": [ablation._row("recipe", {1: 0.740, 2: 0.760}, common),
                                        ablation._row("without-test_time_flips", {1: 0.700, 2: 0.730}, common)]},
        # a row stored before --ablation-seeds: one seed, the recipe's first
        "without-residual": {"run": "A", "rows": [{"name": "without-residual", "test_accuracy": 0.764, "seed": 1,
                                                   **common}]},
        "without-schedule": {"run": "C", "rows": [ablation._row("without-schedule", {3: 0.5}, common)]},
    }
    lines = {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[1:-1]]
             for line in ablation.markdown(entries).splitlines()[2:]}
    assert lines["`recipe`"][2:4] == ["0.7500 ± 0.014", "1: 0.740, 2: 0.760"]
    assert lines["`without-test_time_flips`"][4:6] == ["-0.0350", "**yes**"]  # (-0.04 - 0.03) / 2
    assert lines["`without-residual`"][4:6] == ["+0.0240", "no: better without"]  # against the recipe's seed 1 only
    assert lines["`without-schedule`"][4] == "no common seed"
