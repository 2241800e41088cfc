"""Grade one submission in its own process: ``python -m autograder.worker JOB.json``.

The batch runs one worker per submission (``workers`` at a time), so a crash, a runaway output or a
leak stays inside one process. The worker is trusted code: it reads the master (hidden tests
included), assembles the notebook, starts a sandboxed kernel (:mod:`autograder.sandbox`), sends
the cells one by one with the guard around every test cell (:mod:`autograder.guard`), grades each
test from the kernel's execute reply, writes the executed notebook for the instructor, the HTML
feedback for the student and ``result.json``. It never writes to the gradebook: the batch does,
from one process.

A test earns its points only when it ran, its reply said ``ok``, it produced no error output and the
guard found nothing tampered with while it ran; like nbgrader, a numeric result of the test cell
gives partial credit.
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

from autograder import guard, integrity, sandbox


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


def _test_outcome(cell, reply: dict | None, tampered: list[str] | None) -> tuple[float, str, str]:
    """(points, status, message) for one test cell."""
    maximum = integrity.points(cell)
    if reply is None:
        return 0.0, "not-run", "the test did not run (the kernel stopped before it)"
    content = reply.get("content", {})
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if content.get("status") != "ok" or errors:
        source = content if content.get("status") != "ok" else errors[0]
        name, value = source.get("ename", "Error"), source.get("evalue", "")
        return 0.0, "failed", f"{name}: {value}".strip().rstrip(":")
    if tampered is None or tampered:
        what = ", ".join(tampered or ["the grader's guard was disabled"])
        return 0.0, "failed", f"the test machinery was tampered with while the test ran ({what})"
    for output in cell.get("outputs", []):
        if output.get("output_type") == "execute_result":
            try:
                partial = float(output.get("data", {}).get("text/plain", ""))
            except ValueError:
                break
            return max(0.0, min(maximum, partial)), "passed" if partial >= maximum else "failed", "partial credit"
    return maximum, "passed", ""


async def _execute(nb, job: Job, limits: sandbox.Limits, flags: list[str], scratch: Path, ipc: Path) -> dict:
    """Run the notebook; return {cell_index: (reply, tampered-findings)} for the test cells."""
    from jupyter_client.kernelspec import KernelSpecManager

    token = secrets.token_hex(8)
    key = "_course_guard_" + secrets.token_hex(8)
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
    spec_dir = sandbox.write_kernel_spec(ipc.parent / "spec")
    km = sandbox.SandboxKernelManager(
        kernel_name="sandboxed-python3", transport="ipc", connection_file=str(ipc / "kernel.json"),
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir)], ensure_native_kernel=False),
    )
    processes = sandbox.ProcessLimit(limits, token)
    km.sandbox = dict(limits=limits, scratch=scratch, ipc=ipc, readable=[Path(p) for p in job.readable], env=env,
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
    modules = integrity.test_imports(nb)
    outcomes: dict[int, tuple] = {}
    deadline = time.monotonic() + limits.notebook_timeout
    timeout_flag = f"notebook-timeout:{limits.notebook_timeout:g}s"

    async def silent(code: str = "", expressions: dict | None = None, wait: float = 120.0):
        msg_id = client.kc.execute(code, silent=True, store_history=False, user_expressions=expressions or {})
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

    async def run():
        nonlocal started, watch
        from nbclient.exceptions import DeadKernelError

        async with client.async_setup_kernel(env=env, cwd=str(scratch)):
            await client.async_wait_for_reply(client.kc.kernel_info())
            started = True
            if sandbox.bwrap_problem() is None:
                ipc.chmod(0o500)  # its sockets exist: the kernel may write nothing more on the host
            watch = sandbox.DiskWatch(km.provisioner.process.pid, limits, scratch)
            snapshot = guard.request("snapshot", key, modules)
            if guard.parse(await silent(expressions=snapshot, wait=limits.cell_timeout)) is None:
                flags.append("guard-snapshot-failed")
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                test = integrity.is_test(cell)
                try:
                    if test:
                        found = guard.parse(await silent(expressions=guard.request("before", key)))
                        found = ["guard disabled"] if found is None else found
                        flags.extend(f"tampering:{f}" for f in found if f"tampering:{f}" not in flags)
                    await client.async_execute_cell(cell, index)
                    reply = client.replies.get(index)
                    if reply and reply.get("content", {}).get("ename") == "CellTimeoutError":
                        flags.append(f"cell-timeout:{integrity.grade_id(cell) or f'cell {index}'}")
                        # An interrupt that the code ignores leaves the kernel busy: stop here.
                        if await silent("pass", wait=15) is None:
                            flags.append("kernel-unresponsive-killed")
                            return
                    if test:
                        after = guard.parse(await silent(expressions=guard.request("after", key)))
                        outcomes[index] = (reply, after)
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


def grade(job: Job) -> Result:
    start = time.perf_counter()
    limits = sandbox.Limits(**job.limits)
    master = nbformat.read(job.master, as_version=4)
    tests = [c for c in master.cells if integrity.is_test(c)]
    result = Result(job.lab, job.student, max_score=sum(integrity.points(c) for c in tests),
                    flags=list(job.intake_flags), sandbox=sandbox.sandbox_mode(),
                    master_sha256=sha256(Path(job.master).read_bytes()))
    data = Path(job.submission).read_bytes() if job.submission and Path(job.submission).is_file() else None
    result.submission_sha256 = sha256(data) if data is not None else ""
    submission = integrity.read_submission(data if job.submission else None)
    result.flags += submission.flags
    nb = None
    if submission.notebook is not None:
        nb, flags = integrity.assemble(master, submission.notebook)
        result.flags += flags
        if nb is not None:
            result.flags += integrity.scan(nb, master)
    outcomes: dict = {}
    if nb is not None:
        work = Path(tempfile.mkdtemp(prefix="g-", dir=job.work_root))
        scratch, ipc = work / "scratch", work / "ipc"
        scratch.mkdir(mode=0o700)
        ipc.mkdir(mode=0o700)
        if job.lab_files and Path(job.lab_files).is_dir():
            for item in Path(job.lab_files).iterdir():
                if item.suffix != ".ipynb" and item.is_file():
                    shutil.copy(item, scratch / item.name)
        try:
            outcomes = asyncio.run(_execute(nb, job, limits, result.flags, scratch, ipc))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    executed = nb if nb is not None else master
    by_id = {integrity.grade_id(c): (i, c) for i, c in enumerate(executed.cells) if integrity.is_test(c)}
    for cell in tests:
        cid = integrity.grade_id(cell)
        index, ran = by_id.get(cid, (None, cell))
        if nb is None:
            earned, status, message = 0.0, "not-run", "no gradable notebook: " + ", ".join(result.flags)
        else:
            reply, tampered = outcomes.get(index, (None, []))
            earned, status, message = _test_outcome(ran, reply, tampered)
        result.tests.append(TestResult(cid, earned, integrity.points(cell), status, message[:500]))
    result.score = sum(t.points for t in result.tests)
    Path(job.autograded).mkdir(parents=True, exist_ok=True)
    nbformat.write(executed, Path(job.autograded) / f"{job.lab}.ipynb")
    result.seconds = round(time.perf_counter() - start, 2)
    if job.feedback:
        from autograder import feedback

        result.feedback = str(feedback.write(executed, master, result, Path(job.feedback)))
    Path(job.result).write_text(result.to_json())
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    job = Job(**json.loads(Path(argv[0]).read_text()))
    os.umask(0o077)
    grade(job)
    return 0


if __name__ == "__main__":
    sys.exit(main())
