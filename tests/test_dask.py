"""Grading on a real Dask cluster on this machine: `dask scheduler` and two `dask worker` processes.

The tiny lab (tests/grading_lab.py) graded through the cluster must get the grades the local pool
gives; a worker killed while it grades must lose and duplicate nothing and leave no grading process
behind; a scheduler that goes away stops the batch with a clear error, and a re-run grades the rest.
"""

import json
import os
import re
import shutil
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest

from autograder import executors, pipeline, sandbox
from autograder.submissions import Incoming
from tests import grading_lab as lab

LIMITS = sandbox.Limits(cell_timeout=20, notebook_timeout=60, memory=1 << 30)
GOOD = {"double": "def double(values):\n    return np.asarray(values, dtype=float) * 2",
        "count": "def count(items, value):\n    return sum(1 for item in items if item == value)"}
BAD_COUNT = {**GOOD, "count": "def count(items, value):\n    return 0"}
AFTER_IMPORTS = 3  # index of the first answer cell in the release
GRADING_MARK = "course-grade-"  # executors.grade_task's temporary folders


class Cluster:
    """A scheduler and workers started as the README starts them, each worker with its own TMPDIR."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True)
        # Each worker's TMPDIR, short: the kernel's Unix sockets live below it (at most 107 bytes a path).
        self.tmp = Path(tempfile.mkdtemp(prefix="dask-"))
        self.processes: dict[str, subprocess.Popen] = {}
        self.env = {**os.environ, "PYTHONPATH": str(pipeline.ROOT)}
        scheduler_file = root / "scheduler.json"
        self._start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(scheduler_file)])
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file() and time.monotonic() < deadline:
            self._check_alive()
            time.sleep(0.1)
        self.address = json.loads(scheduler_file.read_text())["address"]

    def start_workers(self, names):
        from distributed import Client

        for name in names:
            (self.tmp / name).mkdir()
            self._start(name, ["worker", self.address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                               "--host", "127.0.0.1", "--name", name,
                               "--local-directory", str(self.root / f"space-{name}")],
                        TMPDIR=str(self.tmp / name))
        with Client(self.address, set_as_default=False, timeout=30) as client:
            client.wait_for_workers(len(names), timeout=90)

    def grading_processes(self, name: str) -> list[str]:
        """Processes grading on worker ``name``: the worker process, its sandbox and kernel."""
        return host_processes(f"{self.tmp / name}/{GRADING_MARK}")

    def kill(self, name: str) -> None:
        os.killpg(self.processes[name].pid, signal.SIGKILL)  # the nanny and its worker, like a lost node
        self.processes[name].wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _start(self, name: str, args: list[str], **env) -> None:
        log = open(self.root / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=self.root,
                                                env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"dask {name} exited: {(self.root / f'{name}.log').read_text()[-2000:]}")


def host_processes(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(entry.name)
            except OSError:
                pass
    return found


@pytest.fixture
def cluster(tmp_path):
    running = Cluster(tmp_path / "cluster")
    try:
        running.start_workers(["w0", "w1"])
        yield running
    finally:
        running.stop()


def tiny_course(root: Path):
    course = lab.make_course(root / "course")
    released = pipeline.release(lab.LAB, grading_dir=root / "release-grading", course_dir=course)
    return course, nbformat.read(released / f"{lab.LAB}.ipynb", as_version=4)


def grades(batch) -> dict:
    """student -> score, max score, each test's points and status, and the flags a submission earned."""
    return {r.student: (r.score, r.max_score, [(t.grade_id, t.points, t.status) for t in r.tests],
                        sorted(f for f in r.flags if not f.startswith("worker-without-sandbox")))
            for r in batch.results}


def recorded(grading: Path) -> dict:
    with pipeline.gradebook(grading) as book:
        return {s.student_id: s.score for s in book.find_assignment(lab.LAB).submissions}


def test_a_dask_cluster_grades_like_the_local_pool(tmp_path, cluster):
    course, release = tiny_course(tmp_path)
    untouched = nbformat.writes(release).encode()
    incoming = [Incoming("reference", lab.answered(release, GOOD), "t"),
                Incoming("partial", lab.answered(release, BAD_COUNT), "t"),
                Incoming("untouched-a", untouched, "t"), Incoming("untouched-b", untouched, "t"),
                Incoming("corrupt", b"{ not a notebook", "t"), Incoming("nothing", None, "t", ["no-notebook"])]
    local = pipeline.grade_batch(lab.LAB, incoming, grading_dir=tmp_path / "local", course_dir=course, workers=2,
                                 limits=LIMITS, progress=False)
    remote = pipeline.grade_batch(lab.LAB, incoming, grading_dir=tmp_path / "dask", course_dir=course,
                                  limits=LIMITS, progress=False, scheduler=cluster.address)
    assert grades(remote) == grades(local)
    assert [grades(local)[s][0] for s in ("reference", "partial", "untouched-a", "corrupt")] == [3, 2, 0, 0]
    assert remote.workers == 2 and remote.graded == len(incoming)
    # each worker says how it isolated each submission: the report's line, and a flag where bwrap did not work
    assert remote.sandbox == f"Dask cluster {cluster.address}: {sandbox.sandbox_mode()} ({len(incoming)} submissions)"
    unsandboxed = {r.student for r in remote.results if any(f.startswith("worker-without-sandbox:") for f in r.flags)}
    assert unsandboxed == (set() if sandbox.bwrap_problem() is None else {i.student for i in incoming})
    assert recorded(tmp_path / "dask") == recorded(tmp_path / "local")
    for student in ("reference", "partial", "untouched-a", "corrupt"):  # written here from the returned bytes
        assert (tmp_path / "dask" / "feedback" / student / lab.LAB / f"{lab.LAB}.html").is_file()
        assert (tmp_path / "dask" / "autograded" / student / lab.LAB / f"{lab.LAB}.ipynb").is_file()
    result = pipeline.result_of(lab.LAB, "reference", tmp_path / "dask")
    assert result.feedback == str(tmp_path / "dask" / "feedback" / "reference" / lab.LAB / f"{lab.LAB}.html")
    assert not list((cluster.tmp / "w0").iterdir()) and not list((cluster.tmp / "w1").iterdir())
    again = pipeline.grade_batch(lab.LAB, incoming, grading_dir=tmp_path / "dask", course_dir=course,
                                 limits=LIMITS, progress=False, scheduler=cluster.address)
    assert again.graded == 0 and grades(again) == grades(remote), "a re-run on the cluster reuses every result"


def test_a_killed_worker_loses_nothing_duplicates_nothing_and_leaves_no_grading_process(tmp_path, cluster):
    from distributed import Client

    course, release = tiny_course(tmp_path)
    slow = lab.answered(release, GOOD, [(AFTER_IMPORTS, "import time\ntime.sleep(3)")])
    incoming = [Incoming(f"student{i}", slow, "t") for i in range(4)]
    outcome: dict = {}

    def grade():
        try:
            outcome["batch"] = pipeline.grade_batch(lab.LAB, incoming, grading_dir=tmp_path / "grading",
                                                    course_dir=course, limits=LIMITS, progress=False,
                                                    scheduler=cluster.address)
        except BaseException as exc:  # reported by the assertion below
            outcome["error"] = exc

    thread = threading.Thread(target=grade)
    thread.start()
    victim, deadline = None, time.monotonic() + 120
    with Client(cluster.address, set_as_default=False, timeout=30) as client:
        names = {address: info["name"] for address, info in client.scheduler_info()["workers"].items()}
        while victim is None and time.monotonic() < deadline and thread.is_alive():
            for address, keys in client.processing().items():
                # the scheduler shows the worker holding a task, and its grading process runs
                if keys and cluster.grading_processes(names[address]):
                    victim = names[address]
                    break
            time.sleep(0.05)
    assert victim is not None, f"no worker was seen grading: {outcome}"
    cluster.kill(victim)
    deadline = time.monotonic() + 15
    while cluster.grading_processes(victim) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert cluster.grading_processes(victim) == [], "a grading process outlived its Dask worker"
    thread.join(timeout=180)
    assert not thread.is_alive() and "error" not in outcome, outcome
    batch = outcome["batch"]
    assert sorted(r.student for r in batch.results) == [i.student for i in incoming]
    assert all(r.score == 3 and not [f for f in r.flags if f.startswith("grader-")] for r in batch.results), \
        grades(batch)
    assert recorded(tmp_path / "grading") == {i.student: 3 for i in incoming}


def test_a_lost_scheduler_stops_the_batch_and_a_rerun_grades_the_rest(tmp_path, cluster):
    course, release = tiny_course(tmp_path)
    slow = lab.answered(release, GOOD, [(AFTER_IMPORTS, "import time\ntime.sleep(2)")])
    incoming = [Incoming(f"student{i}", slow, "t") for i in range(6)]
    grading = tmp_path / "grading"
    results = grading / "results" / lab.LAB

    def kill_scheduler_after_two_results():
        deadline = time.monotonic() + 120
        while len(list(results.glob("*.json"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        cluster.kill("scheduler")

    killer = threading.Thread(target=kill_scheduler_after_two_results)
    killer.start()
    with pytest.raises(pipeline.GradingError, match="lost the Dask scheduler .*run the same command again"):
        pipeline.grade_batch(lab.LAB, incoming, grading_dir=grading, course_dir=course, limits=LIMITS,
                             progress=False, scheduler=cluster.address)
    killer.join()
    done = recorded(grading)
    assert 2 <= len(done) < len(incoming) and set(done.values()) == {3}
    rerun = pipeline.grade_batch(lab.LAB, incoming, grading_dir=grading, course_dir=course, workers=2,
                                 limits=LIMITS, progress=False)
    assert rerun.graded == len(incoming) - len(done), "the re-run grades only what is missing"
    assert recorded(grading) == {i.student: 3 for i in incoming}


def test_scheduler_setting_and_an_unreachable_scheduler(monkeypatch):
    monkeypatch.setenv(executors.SCHEDULER_VARIABLE, "tcp://127.0.0.1:9")
    assert executors.scheduler_address(None) == "tcp://127.0.0.1:9"
    assert executors.scheduler_address("tcp://head:8786") == "tcp://head:8786"
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 2)
    with pytest.raises(pipeline.GradingError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        executors.connect(None, workers=1)
    monkeypatch.delenv(executors.SCHEDULER_VARIABLE)
    assert isinstance(executors.connect(None, workers=3), executors.LocalPool)


def readme_commands(tool: str) -> list[list[str]]:
    """The README's `python -m autograder.cluster <tool> ...` command lines, as argument lists."""
    section = (pipeline.ROOT / "README.md").read_text().split("## Grading on a cluster\n")[1].split("\n## ")[0]
    lines = re.findall(rf"^\.venv/bin/python -m autograder\.cluster ({tool} .*?)(?: \| .*)?$", section, re.MULTILINE)
    return [shlex.split(line) for line in lines]


def test_the_readme_slurm_job_script_and_kubernetes_cluster_render_offline(capsys):
    from autograder import cluster

    slurm = readme_commands("slurm")
    assert len(slurm) == 2 and slurm[0] == [*slurm[1], "--print"]
    assert cluster.main(slurm[0]) == 0
    script = capsys.readouterr().out
    for line in ("#SBATCH -p cpu", "#SBATCH -A ml-course", "#SBATCH --cpus-per-task=8", f"cd {pipeline.ROOT}",
                 f"export PYTHONPATH={pipeline.ROOT}", "export COURSE_DATA_DIR=/proj/ml-course/data"):
        assert line in script.splitlines(), (line, script)
    worker = script.strip().splitlines()[-1].split()
    assert worker[:3] == [str(pipeline.ROOT / ".venv" / "bin" / "python"), "-m", "distributed.cli.dask_worker"]
    assert " --nthreads 1 " in " ".join(worker) and " --nworkers 8 " in " ".join(worker)

    import yaml

    (kubernetes,) = readme_commands("kubernetes")
    assert cluster.main(kubernetes) == 0
    spec = yaml.safe_load(capsys.readouterr().out)
    assert (spec["kind"], spec["metadata"]["name"], spec["spec"]["worker"]["replicas"]) == \
        ("DaskCluster", "course-grading", 16)
    pod = spec["spec"]["worker"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "registry.example.org/course-grader:2026" and container["workingDir"] == "/course"
    assert container["args"][:4] == ["/course/.venv/bin/dask", "worker", "--nthreads", "1"]
    assert {"name": "COURSE_DATA_DIR", "value": "/data"} in container["env"]
    assert container["volumeMounts"] == [{"name": "course-data", "mountPath": "/data", "readOnly": True}]
    assert pod["volumes"][0]["persistentVolumeClaim"] == {"claimName": "course-data", "readOnly": True}
    assert spec["spec"]["scheduler"]["spec"]["containers"][0]["args"][:2] == ["/course/.venv/bin/dask", "scheduler"]


def test_a_worker_running_other_grading_code_refuses_the_task(tmp_path):
    from dataclasses import replace

    from autograder.worker import Job

    job = Job(lab=lab.LAB, student="alice", submission=None, intake_flags=[], master=str(tmp_path / "master.ipynb"),
              lab_files=None, autograded=str(tmp_path / "autograded"), feedback=None,
              result=str(tmp_path / "alice.json"), work_root=str(tmp_path), limits={}, readable=[], env={})
    (tmp_path / "master.ipynb").write_bytes(b"{}")
    task = executors.make_task(job, timeout=60, batch="b", host_threads={})
    assert task.code == executors.code_version() and task.master == b"{}" and task.submission is None
    outcome = executors.grade_task(replace(task, code="0" * 64))
    assert outcome.result["flags"][0].startswith("grader-error:worker-code-differs:")
    assert outcome.autograded is None and not (tmp_path / "autograded").exists()
