"""Where a batch's submissions are graded: this machine's process pool, or a Dask cluster.

:func:`autograder.pipeline.grade_batch` hands its jobs to an executor and records each result, in
its own process, as it arrives (only the coordinator writes the gradebook, results and feedback):

* :class:`LocalPool` (the default): ``workers`` long-lived ``python -m autograder.worker --serve``
  processes on this machine, each grading one job at a time from a shared queue, reading and writing
  the grading folder; a worker that dies is replaced and its job reported, the batch never stops.
* :class:`DaskCluster` (``--scheduler ADDRESS`` or ``$COURSE_DASK_SCHEDULER``): a running Dask
  cluster, through ``distributed.Client``. Each job becomes a :class:`Task` that carries bytes (the
  master notebook, the submission, the lab's files, the limits) and returns an :class:`Outcome` that
  carries bytes (the result, the autograded notebook, the feedback page): the workers share no
  filesystem with the coordinator. A task is keyed by (lab, student, submission sha256, master
  sha256) plus the batch, and submitted as not pure, so identical untouched releases of different
  students are never merged; a task that runs twice (its worker died) still yields one result, which
  the coordinator records once.

On a Dask worker, :func:`grade_task` writes the bytes into a temporary folder and runs the same
worker code as the local pool (one ``python -m autograder.worker JOB.json`` process per task), with a parent-death signal: the process runs in its own session,
so without it a killed Dask worker would leave its grading running. The worker process's kernel
dies with it (bwrap ``--die-with-parent``; without bwrap, ipykernel's parent poller).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import CancelledError
from dataclasses import asdict, dataclass, replace
from pathlib import Path

SCHEDULER_VARIABLE = "COURSE_DASK_SCHEDULER"
CONNECT_TIMEOUT = 30  # seconds to reach the scheduler
WORKER_WAIT = 600  # seconds to wait for a worker (SLURM jobs may queue) before the batch stops
AHEAD_CHECK = 10  # seconds between looks at the cluster's workers (tasks to submit ahead, threads, none left)
PR_SET_PDEATHSIG = 1


def scheduler_address(value: str | None = None) -> str | None:
    """The Dask scheduler to grade on: ``value`` (``--scheduler``), else ``$COURSE_DASK_SCHEDULER``, else None."""
    return value or os.environ.get(SCHEDULER_VARIABLE) or None


@functools.lru_cache(maxsize=1)
def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _die_with(parent: int) -> None:  # runs in the child between fork and exec
    if _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0 or os.getppid() != parent:
        os._exit(70)  # no parent-death signal, or the parent is already gone: do not grade


def parent_death_signal():
    """A ``preexec_fn`` giving the child SIGKILL when the process starting it dies (Linux), else None."""
    if not sys.platform.startswith("linux"):
        return None
    _libc()  # loaded here: the child of a threaded parent must not dlopen
    return functools.partial(_die_with, os.getpid())


def connect(scheduler: str | None, workers: int):
    """The executor for a batch: a Dask cluster when ``scheduler`` names one, else ``workers`` local processes."""
    address = scheduler_address(scheduler)
    return DaskCluster(address) if address else LocalPool(workers)


class LocalPool:
    """``workers`` long-lived worker processes on this machine (``python -m autograder.worker --serve``),
    each grading one job at a time from a shared queue and kept for the next: the grading side (and
    TensorFlow, once a lab imported it) starts once per worker, not once per submission. A worker that
    dies or overruns its job's time is killed and replaced; that job is reported, the batch goes on."""

    def __init__(self, workers: int):
        self.workers = workers
        self._processes: list[_Served] = []
        self._stop = threading.Event()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for process in list(self._processes):
            process.close(kill=exc[0] is not None)
        return False

    def grade(self, jobs, timeout: float):
        """Yield each job's :class:`~autograder.worker.Result` as it is done."""
        pending: queue.SimpleQueue = queue.SimpleQueue()
        for job in jobs:
            pending.put(job)
        done: queue.SimpleQueue = queue.SimpleQueue()

        def work():
            # Each thread owns its worker process, started by this thread: the process's parent-death
            # signal follows the thread that started it.
            served = None
            try:
                while not self._stop.is_set():
                    try:
                        job = pending.get_nowait()
                    except queue.Empty:
                        return
                    if served is None or not served.alive():
                        served = _Served(Path(job.work_root))
                        self._processes.append(served)
                    try:
                        result = served.grade(job, timeout)
                    except Exception as exc:  # noqa: BLE001 (this job is reported, the batch goes on)
                        result = _failed(job, f"grader-error:{type(exc).__name__}: {str(exc)[:200]}")
                    done.put(result)
            finally:
                if served is not None:
                    served.close()

        threads = [threading.Thread(target=work, name=f"grading-worker-{i}", daemon=True)
                   for i in range(min(self.workers, len(jobs)))]
        for thread in threads:
            thread.start()
        for _ in range(len(jobs)):
            yield done.get()
        for thread in threads:
            thread.join()

    def isolation(self, results) -> str:
        from autograder import sandbox

        return sandbox.sandbox_mode()


class _Served:
    """One long-lived worker process: jobs go in on its stdin, one reply line per job comes back on
    its stdout; its stderr goes to a log whose tail explains a failure."""

    def __init__(self, work_root: Path):
        from autograder.pipeline import ROOT

        work_root.mkdir(parents=True, exist_ok=True)
        self.log = tempfile.NamedTemporaryFile(prefix="worker-", suffix=".log", dir=work_root, delete=False)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder.worker", "--serve"], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log, start_new_session=True,
            preexec_fn=parent_death_signal())  # dies with us (its kernel with it: bwrap --die-with-parent)

    def alive(self) -> bool:
        return self.process.poll() is None

    def grade(self, job, timeout: float):
        from autograder.worker import Result

        start = time.perf_counter()
        offset = os.path.getsize(self.log.name)
        Path(job.result).unlink(missing_ok=True)
        reply = None
        try:
            self.process.stdin.write((json.dumps(asdict(job)) + "\n").encode())
            self.process.stdin.flush()
            ready, _, _ = select.select([self.process.stdout], [], [], timeout)
            line = self.process.stdout.readline() if ready else None
            if line is None:
                problem = f"grader-timeout:{timeout:g}s"
            elif not line:
                problem = f"grader-error:worker died (exit {self.process.wait(timeout=10)})"
            else:
                reply = json.loads(line)
                problem = f"grader-error:{reply['error']}" if reply.get("error") else ""
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:  # a broken pipe: the worker is gone
            problem = f"grader-error:worker died ({type(exc).__name__})"
        if not problem and Path(job.result).is_file():
            return Result.from_dict(json.loads(Path(job.result).read_text()))
        with open(self.log.name, "rb") as log:
            log.seek(offset)
            tail = log.read().decode(errors="replace").strip().splitlines()[-1:]
        self.close(kill=True)
        return Result(job.lab, job.student, flags=job.intake_flags + [problem or "grader-error:no result"] + tail,
                      seconds=round(time.perf_counter() - start, 2))

    def close(self, kill: bool = False) -> None:
        """Stop the worker: end its input and let it finish, or kill its process group at once."""
        if self.process.poll() is None:
            if not kill:
                try:
                    self.process.stdin.close()
                    self.process.wait(timeout=30)
                except (OSError, subprocess.TimeoutExpired):
                    kill = True
            if kill:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)


@dataclass
class Task:
    """Everything a Dask worker needs to grade one submission, as bytes."""

    key: str
    job: object  # autograder.worker.Job with the coordinator's paths; the worker grades in a temporary folder
    master: bytes
    submission: bytes | None
    lab_files: dict  # file name -> bytes: the lab folder's files (the worker copies the non-notebook ones)
    timeout: float
    host_threads: dict  # host -> Dask worker threads there: each kernel gets that host's cores / its threads
    code: str  # the coordinator's code_version(): a worker running other grading code refuses the task


@dataclass
class Outcome:
    """What a Dask worker sends back: the result, the autograded notebook and the feedback page."""

    result: dict
    autograded: bytes | None
    feedback: bytes | None


def task_key(job, submission_sha: str, master_sha: str, batch: str) -> str:
    return f"grade-{job.lab}-{job.student}-{submission_sha[:16] or 'none'}-{master_sha[:16]}-{batch}"


def make_task(job, timeout: float, batch: str, host_threads: dict) -> Task:
    from autograder.worker import sha256

    master = Path(job.master).read_bytes()
    submission = Path(job.submission).read_bytes() if job.submission and Path(job.submission).is_file() else None
    folder = Path(job.lab_files) if job.lab_files else None
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} if folder and folder.is_dir() else {}
    key = task_key(job, sha256(submission) if submission is not None else "", sha256(master), batch)
    return Task(key, job, master, submission, files, timeout, host_threads, code_version())


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """sha256 of the grading code (the ``autograder`` and ``course`` packages' Python files)."""
    from autograder.pipeline import ROOT
    from autograder.worker import sha256

    files = sorted(p for package in ("autograder", "course") for p in (ROOT / package).rglob("*.py"))
    return sha256(b"".join(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes() for p in files))


def grade_task(task: Task) -> Outcome:
    """On a Dask worker: grade one task in a temporary folder, return the outputs as bytes."""
    from autograder import pipeline, sandbox

    lab = task.job.lab
    host = socket.gethostname()
    if task.code != code_version():  # another commit's grader could grade differently
        result = _failed(task.job, f"grader-error:worker-code-differs:{host}: deploy the coordinator's commit")
        return Outcome(asdict(result), None, None)
    with tempfile.TemporaryDirectory(prefix="course-grade-") as folder:
        root = Path(folder)
        master = root / "master" / f"{lab}.ipynb"
        master.parent.mkdir()
        master.write_bytes(task.master)
        submission = None
        if task.submission is not None:
            submission = root / "submitted" / f"{lab}.ipynb"
            submission.parent.mkdir()
            submission.write_bytes(task.submission)
        lab_files = root / "lab"
        lab_files.mkdir()
        for name, data in task.lab_files.items():
            (lab_files / Path(name).name).write_bytes(data)
        feedback = root / "feedback" / f"{lab}.html"
        data_dir = os.environ.get("COURSE_DATA_DIR")  # this worker's copy of the data mirror
        env = {k: v for k, v in task.job.env.items() if k != "COURSE_DATA_DIR"}
        threads = str(max(1, pipeline.default_workers() // _threads_here(task.host_threads)))
        env.update(TF_NUM_INTRAOP_THREADS=threads, OMP_NUM_THREADS=threads)
        if data_dir:
            env["COURSE_DATA_DIR"] = str(Path(data_dir).resolve())
        job = replace(task.job, submission=str(submission) if submission else None, master=str(master),
                      lab_files=str(lab_files), autograded=str(root / "autograded"),
                      feedback=str(feedback) if task.job.feedback else None, result=str(root / "result.json"),
                      work_root=str(root), readable=[env["COURSE_DATA_DIR"]] if data_dir else [], env=env)
        result = pipeline._job_result(job, task.timeout)
        problem = sandbox.bwrap_problem()
        if problem is not None:
            result.flags.append(f"worker-without-sandbox:{host}: {problem}")
        autograded = root / "autograded" / f"{lab}.ipynb"
        return Outcome(asdict(result), autograded.read_bytes() if autograded.is_file() else None,
                       feedback.read_bytes() if feedback.is_file() else None)


def _threads_here(host_threads: dict) -> int:
    """How many gradings this host runs at once: the threads of its Dask workers, as the scheduler counted them."""
    from distributed import get_worker

    worker = get_worker()
    return max(1, host_threads.get(worker.address.rsplit(":", 1)[0], worker.state.nthreads))


def _host_threads(client) -> dict:
    """Address host (e.g. tcp://10.0.0.7) -> threads of the Dask workers there."""
    threads: Counter = Counter()
    for address, info in client.scheduler_info(n_workers=-1)["workers"].items():
        threads[address.rsplit(":", 1)[0]] += info["nthreads"]
    return dict(threads)


class DaskCluster:
    """A running Dask cluster: one task per submission, results written here as they arrive."""

    def __init__(self, address: str):
        from distributed import Client

        from autograder.pipeline import GradingError

        self.address = address
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise GradingError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT)
        except TimeoutError:
            self.client.close()
            raise GradingError(f"no Dask worker joined the scheduler at {address} in {WORKER_WAIT} s") from None
        self.host_threads = _host_threads(self.client)
        self.workers = sum(self.host_threads.values())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.client.close(timeout=10)
        return False

    def grade(self, jobs, timeout: float):
        """Submit the jobs (a bounded number ahead of the cluster), yield each Result as it comes back."""
        from distributed import wait

        from autograder.pipeline import GradingError

        batch = uuid.uuid4().hex[:8]
        pending = list(reversed(jobs))
        running: dict = {}  # future -> job
        recorded, checked, host_threads, workerless = 0, time.monotonic(), self.host_threads, None

        def lost(why) -> GradingError:
            for future in running:
                future.release()
            return GradingError(
                f"lost the Dask scheduler at {self.address} ({why}): {recorded} of {len(jobs)} submissions were "
                "graded and recorded; run the same command again to grade the rest")

        while pending or running:
            try:
                if time.monotonic() - checked > AHEAD_CHECK:  # the cluster may have grown or shrunk
                    host_threads, checked = _host_threads(self.client), time.monotonic()
                    workerless = None if host_threads else workerless or time.monotonic()
                    if workerless and time.monotonic() - workerless > WORKER_WAIT:
                        raise GradingError(f"no Dask worker left at {self.address} for {WORKER_WAIT} s: {recorded} "
                                           f"of {len(jobs)} submissions were graded and recorded; start workers and "
                                           "run the same command again to grade the rest")
                while pending and len(running) < max(8, 2 * sum(host_threads.values())):
                    job = pending.pop()
                    task = make_task(job, timeout, batch, host_threads)
                    running[self.client.submit(grade_task, task, key=task.key, pure=False)] = job
                with self.client.as_current():  # distributed.wait uses the current client
                    done = wait(list(running), timeout=AHEAD_CHECK, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                continue
            except (OSError, CancelledError):  # CommClosedError; futures cancelled when the scheduler is lost
                raise lost("the connection closed") from None
            for future in done:
                job = running.pop(future)
                try:
                    outcome = future.result()
                except CancelledError:  # the client cancels every future when it loses the scheduler
                    raise lost(future.status) from None
                except Exception as exc:  # the task failed on every worker that tried it (e.g. KilledWorker)
                    result = _failed(job, f"grader-error:{type(exc).__name__}: {str(exc)[:200]}")
                else:
                    result = _write(job, outcome)
                future.release()
                yield result
                recorded += 1

    def isolation(self, results) -> str:
        modes = Counter(r.sandbox for r in results)
        return f"Dask cluster {self.address}: " + "; ".join(f"{mode} ({n} submissions)" for mode, n in modes.items())


def _failed(job, flag: str):
    from autograder.worker import Result

    return Result(job.lab, job.student, flags=job.intake_flags + [flag])


def _write(job, outcome: Outcome):
    """Write a worker's outputs where the local pool's worker process would have written them."""
    from autograder.worker import Result

    result = Result.from_dict(outcome.result)
    if outcome.autograded is not None:
        Path(job.autograded).mkdir(parents=True, exist_ok=True)
        (Path(job.autograded) / f"{job.lab}.ipynb").write_bytes(outcome.autograded)
    result.feedback = ""
    if job.feedback and outcome.feedback is not None:
        Path(job.feedback).parent.mkdir(parents=True, exist_ok=True)
        Path(job.feedback).write_bytes(outcome.feedback)
        result.feedback = job.feedback
    Path(job.result).write_text(result.to_json())
    return result
