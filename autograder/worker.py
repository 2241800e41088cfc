"""Grade submissions in a worker process: ``python -m autograder.worker --serve`` (the local pool's
long-lived workers, one job per line of stdin) or ``python -m autograder.worker JOB.json`` (one job,
the Dask executor's way).

The batch runs ``workers`` worker processes, each grading one submission at a time and kept for the
next (the grading side starts once, TensorFlow stays imported), so a crash, a runaway output or a
leak stays inside one process: a worker that dies is replaced and only its job is reported.

The worker is trusted code: it reads the master (hidden tests included), assembles the notebook, runs
the student's cells (answers and the lab's own cells, in order) in a sandboxed kernel (:mod:`autograder.sandbox`) and every test cell in its own trusted
grading kernel (:mod:`autograder.trusted`), with the answers each test reads fetched from the
student's kernel as data or call proxies (:mod:`autograder.boundary`). It writes the executed
notebook for the instructor, the HTML feedback for the student and ``result.json``. It never writes
to the gradebook: the batch does, from one process.

No verdict comes from the student's process: a test earns its points when its code, run on the
trusted side, reaches its end; like nbgrader, a numeric last expression gives partial credit
(:mod:`course.testcells`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from autograder import boundary, integrity, sandbox, trusted


@dataclass
class TestResult:
    grade_id: str
    points: float
    max_points: float
    status: str  # passed, failed, not-run
    message: str = ""


@dataclass
class Result:
    lab: str
    student: str
    score: float = 0.0
    max_score: float = 0.0
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0
    tests: list[TestResult] = field(default_factory=list)
    sandbox: str = ""
    submission_sha256: str = ""
    master_sha256: str = ""
    feedback: str = ""
    answers: dict[str, str] = field(default_factory=dict)  # written answer grade_id -> sha256, "" if unanswered

    @classmethod
    def from_dict(cls, data: dict) -> "Result":
        data = dict(data)
        data["tests"] = [TestResult(**t) for t in data.get("tests", [])]
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


@dataclass
class Job:
    lab: str
    student: str
    submission: str | None  # path of the submitted bytes, None when missing
    intake_flags: list[str]
    master: str  # path of the master notebook (outside the sandbox)
    lab_files: str | None  # folder whose non-notebook files are copied into the scratch folder
    autograded: str  # folder for the executed notebook (instructor only)
    feedback: str | None  # HTML feedback path, or None
    result: str  # result.json path
    work_root: str  # where scratch folders are made
    limits: dict
    readable: list[str]  # extra read-only folders for the sandbox (data mirror)
    env: dict  # extra kernel environment


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Client:
    """nbclient's NotebookClient with capped outputs and the execute reply of each cell kept."""

    def __new__(cls, *args, **kwargs):
        from nbclient import NotebookClient

        class Capped(NotebookClient):
            def __init__(self, *a, cell_output: int, **k):
                super().__init__(*a, **k)
                self.cell_output = cell_output
                self.output_bytes: dict[int, int] = {}
                self.truncated: set[int] = set()
                self.replies: dict[int, dict] = {}
                self.on_cell_executed = self._keep_reply

            def _keep_reply(self, cell, cell_index, execute_reply):
                self.replies[cell_index] = execute_reply

            def output(self, outs, msg, display_id, cell_index):
                size = len(json.dumps(msg.get("content", {}), default=str))
                used = self.output_bytes.get(cell_index, 0) + size
                self.output_bytes[cell_index] = used
                if used > self.cell_output and msg["msg_type"] != "error":
                    if cell_index not in self.truncated:
                        self.truncated.add(cell_index)
                        outs.append(nbformat.v4.new_output(
                            "stream", name="stderr",
                            text=f"\n[output truncated by the grader after {self.cell_output:,} bytes]\n"))
                    return None
                return super().output(outs, msg, display_id, cell_index)

        return Capped(*args, **kwargs)


def _test_outcome(cell, outcome: tuple | None) -> tuple[float, str, str]:
    """(points, status, message) for one test cell, from the trusted grading kernel's run of it."""
    if outcome is None:
        return 0.0, "not-run", "the test did not run (the kernel stopped before it)"
    return outcome[:3]


def _record(cell, outcome: tuple) -> None:
    """Show a test's output and verdict in the executed notebook (for the instructor and the feedback)."""
    points, status, message, output = outcome
    cell.outputs = []
    if output:
        cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=output[-20_000:]))
    if status == "failed" and message != "partial credit":
        name, _, value = message.partition(": ")
        cell.outputs.append(nbformat.v4.new_output("error", ename=name[:200], evalue=value[:2000], traceback=[]))


def kernel_env(job: Job, token: str, ipc: Path, scratch: Path) -> dict:
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8",
        "TMPDIR": "/tmp", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "agg", "TF_CPP_MIN_LOG_LEVEL": "2",
        "NBGRADER_EXECUTION": "autograde", "COURSE_CACHE_DIR": "/tmp/course-cache",
        "IPYTHONDIR": "/tmp/ipython", "MPLCONFIGDIR": "/tmp/matplotlib", "KERAS_HOME": "/tmp/keras",
        "JUPYTER_CONFIG_DIR": "/tmp/jupyter-config", "JUPYTER_DATA_DIR": "/tmp/jupyter-data",
        "JUPYTER_RUNTIME_DIR": str(ipc), sandbox.TOKEN_VARIABLE: token, **job.env,
    }
    if sandbox.bwrap_problem() is not None:  # no private /tmp: keep the kernel's state in its scratch folder
        for name in ("HOME", "TMPDIR", "IPYTHONDIR", "MPLCONFIGDIR", "KERAS_HOME", "JUPYTER_CONFIG_DIR",
                     "JUPYTER_DATA_DIR", "COURSE_CACHE_DIR"):
            env[name] = env[name].replace("/tmp", str(scratch / ".state"), 1)
    return env


async def _execute(nb, master, job: Job, limits: sandbox.Limits, flags: list[str], work: Path) -> dict:
    """Run the student's cells in the sandboxed kernel and every test in the trusted grading kernel;
    return {cell_index: (points, status, message, output)} for the test cells that ran."""
    from jupyter_client.kernelspec import KernelSpecManager

    scratch, ipc = work / "scratch", work / "ipc"
    token = secrets.token_hex(8)
    env = kernel_env(job, token, ipc, scratch)
    spec_dir = sandbox.write_kernel_spec(ipc.parent / "spec")
    km = sandbox.SandboxKernelManager(
        kernel_name="sandboxed-python3", transport="ipc", connection_file=str(ipc / "kernel.json"),
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir)], ensure_native_kernel=False),
    )
    processes = sandbox.ProcessLimit(limits, token)
    # The tests' temporary files (a file handed to a student's function): the kernel reads them at the same
    # path, read-only, so the student cannot write through it to the host's disk.
    shared = work / "shared"
    shared.mkdir(mode=0o700)
    km.sandbox = dict(limits=limits, scratch=scratch, ipc=ipc, readable=[*map(Path, job.readable), shared], env=env,
                      processes=processes)
    started = False
    watch = None
    client = _Client(
        nb, km=km, timeout=int(limits.cell_timeout), interrupt_on_timeout=True, allow_errors=True,
        error_on_timeout={"ename": "CellTimeoutError", "evalue": f"the cell ran longer than {limits.cell_timeout:g} s",
                          "traceback": []},
        shutdown_kernel="immediate", cell_output=limits.cell_output, iopub_timeout=10,
        resources={"metadata": {"path": str(scratch)}},
    )
    grading = trusted.GradingKernel(work / "trusted", env={
        k: v for k, v in env.items() if k in ("NBGRADER_EXECUTION", "MPLBACKEND", "TF_CPP_MIN_LOG_LEVEL")
        or k in job.env}, shared=shared)
    lab_cells = [c for c in master.cells if trusted.is_trusted_lab_cell(c)]
    master_index = {integrity.grade_id(c): i for i, c in enumerate(master.cells)}
    outcomes: dict[int, tuple] = {}
    deadline = time.monotonic() + limits.notebook_timeout
    timeout_flag = f"notebook-timeout:{limits.notebook_timeout:g}s"
    loop = asyncio.get_running_loop()
    unresponsive = []

    async def silent(code: str = "", wait: float = 120.0):
        msg_id = client.kc.execute(code, silent=True, store_history=False)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                reply = await client.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            except Exception:  # queue.Empty: no reply yet
                if not await client.kc.is_alive():
                    return None
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply
        return None

    def limit_hits(cell) -> bool:
        """Flag the process and disk limits a cell hit; True when the grading must stop (no bwrap, disk full)."""
        seen = sandbox.limit_flags(cell.get("outputs", []), limits)
        if watch is not None and watch.full():
            seen.append(f"disk-quota:{limits.disk >> 20} MiB")
        for flag in seen:
            if not any(f.split(":")[0] == flag.split(":")[0] for f in flags):
                flags.append(flag)
        if sandbox.bwrap_problem() is not None and sandbox.folder_bytes(scratch) >= limits.disk:
            flags.append(f"disk-quota:{limits.disk >> 20} MiB, scratch folder full, grading stopped")
            return True
        return False

    async def request(code: str, wait: float) -> bool:
        """One boundary request: True when the kernel finished it in time (its reply says nothing else)."""
        if unresponsive:
            return False
        if await silent(code, wait) is not None:
            return True
        await km.interrupt_kernel()
        if await silent("pass", wait=15) is None:
            unresponsive.append(True)
        return False

    def runner(code: str, wait: float) -> bool:
        return asyncio.run_coroutine_threadsafe(request(code, wait), loop).result()

    boundary_: boundary.Boundary | None = None  # made once the kernel runs: its folder is in the sandbox

    def run_test(cell):
        gid = integrity.grade_id(cell)
        for lab_cell in [c for c in lab_cells if master.cells.index(c) < master_index[gid]]:
            lab_cells.remove(lab_cell)
            _, error, _ = grading.run(lab_cell.source, "<lab cell>")
            if error:
                flags.append(f"grader-error:lab cell before {gid}: {error[:200]}")
        return grading.run_test(master.cells[master_index[gid]], boundary_.fetch)

    async def run():
        nonlocal started, watch, boundary_
        from nbclient.exceptions import DeadKernelError

        async with client.async_setup_kernel(env=env, cwd=str(scratch)):
            await client.async_wait_for_reply(client.kc.kernel_info())
            started = True
            if sandbox.bwrap_problem() is None:
                ipc.chmod(0o500)  # its sockets exist: the kernel may write nothing more on the host
            watch = sandbox.DiskWatch(km.provisioner.process.pid, limits, scratch)
            host, inside = sandbox.exchange_folder(km.provisioner.process.pid, scratch)
            boundary_ = boundary.Boundary(runner, host, limits.cell_timeout, kernel_folder=inside)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                try:
                    if integrity.is_test(cell):
                        outcomes[index] = await asyncio.to_thread(run_test, cell)
                        _record(cell, outcomes[index])
                        if unresponsive:
                            flags.append("kernel-unresponsive-killed")
                            return
                        continue
                    await client.async_execute_cell(cell, index)
                    reply = client.replies.get(index)
                    if reply and reply.get("content", {}).get("ename") == "CellTimeoutError":
                        flags.append(f"cell-timeout:{integrity.grade_id(cell) or f'cell {index}'}")
                        # An interrupt that the code ignores leaves the kernel busy: stop here.
                        if await silent("pass", wait=15) is None:
                            flags.append("kernel-unresponsive-killed")
                            return
                except DeadKernelError:  # nbclient also reports our notebook deadline's cancellation so
                    if time.monotonic() >= deadline - 1:
                        flags.append(timeout_flag)
                    else:
                        flags.append(f"kernel-died:{integrity.grade_id(cell) or f'cell {index}'}")
                    return
                if index in client.truncated and "huge-output" not in flags:
                    flags.append("huge-output")
                if limit_hits(cell):
                    return
                if not await client.kc.is_alive():
                    flags.append(f"kernel-died:{integrity.grade_id(cell) or f'cell {index}'}")
                    return

    try:
        await asyncio.wait_for(run(), timeout=limits.notebook_timeout)
    except asyncio.TimeoutError:
        if timeout_flag not in flags:
            flags.append(timeout_flag)
    except Exception as exc:  # the kernel could not start or the connection broke
        if not started:
            flags.append(f"kernel-died-at-start: {km.stderr_tail() or f'{type(exc).__name__}: {exc}'}")
        else:
            flags.append(f"execution-error:{type(exc).__name__}: {str(exc)[:200]}")
    finally:
        try:
            if km.has_kernel:
                await km.shutdown_kernel(now=True)
        except Exception:
            pass
        ipc.chmod(0o700)
        if watch is not None:
            watch.stop()
        flags.extend(f for f in processes.finish() if f.split(":")[0] not in {g.split(":")[0] for g in flags})
        leftovers = sandbox.kill_tagged_processes(token)
        if leftovers:
            flags.append(f"processes-left-behind-killed:{leftovers}")
    return outcomes


@dataclass
class Grading:
    """What the steps of one grading share."""

    job: Job
    limits: sandbox.Limits
    master: nbformat.NotebookNode
    result: Result
    submission: integrity.Submission | None = None
    nb: nbformat.NotebookNode | None = None  # the assembled notebook, None when there is nothing to grade
    outcomes: dict = field(default_factory=dict)  # test cell index -> (points, status, message, output)


def read(g: Grading) -> None:
    """The submitted bytes, as a notebook or the reason why there is none."""
    job = g.job
    data = Path(job.submission).read_bytes() if job.submission and Path(job.submission).is_file() else None
    g.result.submission_sha256 = sha256(data) if data is not None else ""
    g.submission = integrity.read_submission(data if job.submission else None)
    g.result.flags += g.submission.flags


def assemble(g: Grading) -> None:
    """Locked cells from the master, answers from the student (:func:`integrity.assemble`)."""
    if g.submission.notebook is not None:
        g.nb, flags = integrity.assemble(g.master, g.submission.notebook)
        g.result.flags += flags


def scan(g: Grading) -> None:
    """Suspicious code, flagged for the instructor (it changes no verdict)."""
    if g.nb is not None:
        g.result.flags += integrity.scan(g.nb, g.master)


def run(g: Grading) -> None:
    """Run the student's cells in the sandboxed kernel and, in between, each test in the trusted kernel."""
    if g.nb is None:
        return
    job = g.job
    work = Path(tempfile.mkdtemp(prefix="g-", dir=job.work_root))
    for folder in ("scratch", "ipc", "trusted"):
        (work / folder).mkdir(mode=0o700)
    if job.lab_files and Path(job.lab_files).is_dir():
        for item in Path(job.lab_files).iterdir():
            if item.suffix != ".ipynb" and item.is_file():
                for folder in ("scratch", "trusted"):  # the trusted side never reads the student's copies
                    shutil.copy(item, work / folder / item.name)
    try:
        g.outcomes = asyncio.run(_execute(g.nb, g.master, job, g.limits, g.result.flags, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def score(g: Grading) -> None:
    """One TestResult per test of the master, in its order."""
    executed = g.nb if g.nb is not None else g.master
    by_id = {integrity.grade_id(c): (i, c) for i, c in enumerate(executed.cells) if integrity.is_test(c)}
    for cell in [c for c in g.master.cells if integrity.is_test(c)]:
        cid = integrity.grade_id(cell)
        index, ran = by_id.get(cid, (None, cell))
        if g.nb is None:
            earned, status, message = 0.0, "not-run", "no gradable notebook: " + ", ".join(g.result.flags)
        else:
            earned, status, message = _test_outcome(ran, g.outcomes.get(index))
        g.result.tests.append(TestResult(cid, earned, integrity.points(cell), status, message[:500]))
    g.result.score = sum(t.points for t in g.result.tests)
    g.result.answers = integrity.written_answers(g.nb, g.master) if g.nb is not None else {}


def write(g: Grading) -> None:
    """The executed notebook (instructor), the HTML feedback (student) and result.json."""
    job, executed = g.job, g.nb if g.nb is not None else g.master
    Path(job.autograded).mkdir(parents=True, exist_ok=True)
    nbformat.write(executed, Path(job.autograded) / f"{job.lab}.ipynb")
    if job.feedback:
        from autograder import feedback

        g.result.feedback = str(feedback.write(executed, g.master, g.result, Path(job.feedback)))
    Path(job.result).write_text(g.result.to_json())


STEPS = (read, assemble, scan, run, score, write)


def grade(job: Job) -> Result:
    start = time.perf_counter()
    master = nbformat.read(job.master, as_version=4)
    result = Result(job.lab, job.student, max_score=sum(integrity.points(c) for c in master.cells if integrity.is_test(c)),
                    flags=list(job.intake_flags), sandbox=sandbox.sandbox_mode(),
                    master_sha256=sha256(Path(job.master).read_bytes()))
    g = Grading(job, sandbox.Limits(**job.limits), master, result)
    for step in STEPS:
        if step is write:
            result.seconds = round(time.perf_counter() - start, 2)
        step(g)
    return result


def _fresh_state(job: Job, path: list[str], environ: dict) -> None:
    """Between two gradings in one long-lived worker: forget what the last one left in this process
    (Keras's session and layer-name counters, open figures, modules imported from its work folder,
    ``sys.path`` and environment changes), so that each submission is graded as by a new process."""
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.backend.clear_session()
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
    work = str(Path(job.work_root).resolve()) + os.sep
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(work):
            del sys.modules[name]  # imported from a lab's files in the last job's folder
    sys.path[:] = path
    for key in set(os.environ) - set(environ):
        del os.environ[key]
    os.environ.update(environ)
    import gc

    gc.collect()


def serve(replies) -> None:
    """The long-lived worker of the local pool (:class:`autograder.executors.LocalPool`): one job (its
    JSON) per line of stdin, one reply line per job on ``replies``: ``{}`` once its result.json is
    written, or ``{"error": ...}`` when the grading itself failed (the worker then exits, and the pool
    starts a fresh one). TensorFlow and the grading code stay imported from one job to the next."""
    path, environ = list(sys.path), dict(os.environ)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            job = Job(**json.loads(line))
            grade(job)
        except Exception as exc:  # noqa: BLE001 (reported for this job; a fresh worker takes the next)
            import traceback

            traceback.print_exc()
            replies.write(json.dumps({"error": f"{type(exc).__name__}: {str(exc)[:300]}"}) + "\n")
            replies.flush()
            return
        _fresh_state(job, path, environ)
        replies.write("{}\n")
        replies.flush()


def main(argv: list[str] | None = None) -> int:
    """``JOB.json``: grade one job (the Dask executor's way); ``--serve``: grade the jobs sent on stdin."""
    argv = sys.argv[1:] if argv is None else argv
    os.umask(0o077)
    if argv == ["--serve"]:
        # The replies get the real stdout; whatever else prints (a library, a lab cell) goes to stderr.
        replies = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)
        serve(replies)
        return 0
    job = Job(**json.loads(Path(argv[0]).read_text()))
    grade(job)
    return 0


if __name__ == "__main__":
    sys.exit(main())
