"""Where a submission's kernel runs: resource limits always, a bubblewrap sandbox where the OS allows.

The grading worker (trusted: it holds the hidden tests and never runs student code itself) starts
the kernel through :class:`SandboxKernelManager`. The kernel command becomes::

    python -c <join a pids cgroup, set rlimits, exec>  bwrap <namespaces, mounts>  python -m ipykernel_launcher

Every limit is declared once, with its help, in :class:`Limits` (the CLI builds its flags from it).

* **Limits** (everywhere): ``RLIMIT_DATA`` (heap and anonymous memory: a memory bomb gets
  ``MemoryError``), ``RLIMIT_FSIZE`` at the disk quota, no core dumps; processes: a pids cgroup per
  submission (:class:`ProcessLimit`), else ``RLIMIT_NPROC`` for a non-root grader, else the flag
  ``no-process-limit``.
* **bubblewrap** (Linux with ``bwrap``; Debian's ``bubblewrap`` package): new user, pid, network,
  ipc and uts namespaces; the sandbox sees only the system folders, the Python environment, the
  ``course`` package and the data mirror, all read-only. It may write only to a size-limited tmpfs
  ``/tmp`` (its working folder :data:`WORK`, HOME, caches: the disk quota, never the host's disk)
  and a small ``/dev/shm``; ``/tmp`` is mounted before the binds, so a repository under ``/tmp``
  stays visible, and the root and ``/dev`` are read-only. No network (not even loopback). The kernel
  runs as ``nobody`` with no capabilities, and every process it starts dies with it
  (``--die-with-parent`` and the pid namespace): nothing outlives the grading.
* Without bwrap (an instructor's laptop) only the limits apply, and the worker watches the scratch
  folder's size; :func:`sandbox_mode` says so and the batch report prints it. Leftover processes are
  then killed (the pids cgroup, or a token in their environment).

The kernel talks to the worker over Unix sockets (``transport="ipc"``) in a folder bound into the
sandbox, which works across network namespaces, and is interrupted by a control message (a signal
would reach bwrap, not the kernel).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from course.selfcheck import CELL_TIMEOUT

# Applied in the launched process before it execs bwrap (or the kernel): stdlib only, no repo import.
# argv: RLIMIT_DATA, RLIMIT_FSIZE, RLIMIT_NPROC (-1: leave as is), a cgroup.procs file to join ("": none), command.
_LIMITS_LAUNCHER = """\
import os, resource, sys
if sys.argv[4]:
    with open(sys.argv[4], "w") as handle:
        handle.write(str(os.getpid()))
limits = (("RLIMIT_DATA", sys.argv[1]), ("RLIMIT_FSIZE", sys.argv[2]), ("RLIMIT_NPROC", sys.argv[3]), ("RLIMIT_CORE", 0))
for name, value in limits:
    if int(value) >= 0 and hasattr(resource, name):
        resource.setrlimit(getattr(resource, name), (int(value), int(value)))
os.execvp(sys.argv[5], sys.argv[5:])
"""

TOKEN_VARIABLE = "COURSE_GRADING_TOKEN"
SANDBOX_VARIABLE = "COURSE_GRADER_SANDBOX"  # "none": limits only, even where bwrap works
NOBODY = 65534
WORK = "/tmp/work"  # the kernel's working folder inside the sandbox (in the /tmp tmpfs)
UNITS = {"s": 1, "GiB": 1 << 30, "MiB": 1 << 20}


def _limit(default, unit: str | None, help: str):
    return field(default=default, metadata={"unit": unit, "help": help})


@dataclass(frozen=True)
class Limits:
    """What one submission may use: the one declaration of every limit (the CLI flags of
    ``python -m autograder batch`` are built from these fields and their help). Seconds and bytes."""

    cell_timeout: float = _limit(CELL_TIMEOUT, "s", "seconds one cell may run before it is interrupted "
                                 "(flag cell-timeout); also nbgrader's and the self-check's cell timeout")
    notebook_timeout: float = _limit(1800.0, "s", "seconds the whole notebook may run (flag notebook-timeout)")
    memory: int = _limit(4 << 30, "GiB", "RLIMIT_DATA of the kernel and every process it starts (heap and "
                         "anonymous memory: a memory bomb gets MemoryError). Files written to the tmpfs "
                         "(--disk, --shm) are shared memory, not counted here: a submission can hold up to "
                         "memory + disk + shm of RAM")
    disk: int = _limit(1 << 30, "GiB", "everything the kernel may write: with bubblewrap its /tmp (working folder, "
                       "HOME, caches) is a tmpfs of this size, so the host's disk is never written (its pages "
                       "are RAM, counted in the machine's shared memory, not in --memory); without bubblewrap "
                       "RLIMIT_FSIZE (no larger file) and a check of the scratch folder after each cell. "
                       "Flag disk-quota when hit")
    shm: int = _limit(64 << 20, "MiB", "size of the sandbox's /dev/shm tmpfs (shared memory, semaphores), "
                      "RAM like --disk")
    processes: int = _limit(1024, None, "tasks (processes and threads, TensorFlow's included) the kernel may run "
                            "at once: a pids cgroup per submission where one can be created, else RLIMIT_NPROC "
                            "for a non-root grader; flag process-limit when hit, no-process-limit when neither "
                            "is possible")
    cell_output: int = _limit(1 << 20, "MiB", "output kept per cell; the rest is dropped (flag huge-output)")
    network: bool = _limit(False, None, "let submissions reach the network (default: no network at all)")

    @classmethod
    def add_arguments(cls, parser) -> None:
        """One ``--name`` option per field, in the field's unit, its default and help from the declaration."""
        for spec in fields(cls):
            flag, unit = "--" + spec.name.replace("_", "-"), spec.metadata["unit"]
            if spec.type in (bool, "bool"):
                parser.add_argument(flag, action="store_true", default=spec.default, help=spec.metadata["help"])
                continue
            shown = spec.default / UNITS.get(unit, 1)
            parser.add_argument(flag, type=float, default=None, metavar=unit or "N",
                                help=f"{spec.metadata['help']} (default {shown:g}{' ' + unit if unit else ''})")

    @classmethod
    def from_arguments(cls, args) -> "Limits":
        values = {}
        for spec in fields(cls):
            value = getattr(args, spec.name, None)
            if value is None or spec.type in (bool, "bool"):
                values[spec.name] = bool(value) if spec.type in (bool, "bool") else spec.default
                continue
            if value <= 0:
                raise ValueError(f"--{spec.name.replace('_', '-')} must be positive, got {value:g}")
            scaled = value * UNITS.get(spec.metadata["unit"], 1)
            values[spec.name] = int(scaled) if isinstance(spec.default, int) else float(scaled)
        return cls(**values)


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """None when bubblewrap works here; otherwise why the sandbox cannot be used."""
    if os.environ.get(SANDBOX_VARIABLE, "").lower() == "none":
        return f"disabled by {SANDBOX_VARIABLE}=none"
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux (this is {sys.platform})"
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return "bwrap not found (install Debian's 'bubblewrap')"
    probe = [bwrap, *_namespace_args(network=False), "--ro-bind", "/", "/", "--", "true"]
    result = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        return f"bwrap cannot create namespaces here: {result.stderr.strip() or result.returncode}"
    return None


def sandbox_mode() -> str:
    """One line for reports: how submissions are isolated on this machine."""
    problem, pids = bwrap_problem(), process_limit_mode()
    if problem is None:
        return ("bubblewrap sandbox (no network, read-only system, writes only to a size-limited tmpfs) + "
                f"resource limits; {pids}")
    return f"resource limits only, no filesystem/network isolation: {problem}; {pids}"


def _namespace_args(network: bool) -> list[str]:
    args = ["--unshare-all", "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY),
            "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--hostname", "grading"]
    if network:
        args.insert(1, "--share-net")
    return args


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def python_paths() -> list[Path]:
    """Folders the kernel's Python needs: the environment, the base installation, editable packages."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.executable).resolve().parent.parent}
    import course  # editable install: the package lives in the repository, next to solutions/

    paths.add(Path(course.__file__).resolve().parent)
    return sorted(p for p in paths if not str(p).startswith("/usr/"))


def _ro_binds(paths) -> list[str]:
    args: list[str] = []
    for path in paths:
        path = Path(path)
        if path.exists():
            for shown in dict.fromkeys([path, path.resolve()]):
                args += ["--ro-bind", str(path.resolve()), str(shown)]
    return args


def kernel_command(kernel_argv: list[str], limits: Limits, scratch: Path, ipc: Path, readable: list[Path],
                   env: dict[str, str], processes: "ProcessLimit | None" = None) -> list[str]:
    """The full command line: limits launcher, then bwrap (when usable), then the kernel.

    In the sandbox the kernel works in :data:`WORK`, inside the size-limited tmpfs ``/tmp``; the
    files of ``scratch`` (the lab's data files) appear there read-only. bwrap applies its arguments
    in order, so ``/tmp`` is mounted *before* the binds (a repository or venv under ``/tmp`` stays
    visible), and the root and ``/dev`` are remounted read-only at the end (bwrap makes the parent
    folders of binds in its root tmpfs, writable and unlimited otherwise).
    """
    nproc, procs = processes.launcher_args() if processes else ("-1", "")
    command = [sys.executable, "-c", _LIMITS_LAUNCHER, str(limits.memory), str(limits.disk), nproc, procs]
    if bwrap_problem() is not None:
        return command + kernel_argv
    sandbox = [shutil.which("bwrap"), *_namespace_args(limits.network),
               "--size", str(limits.disk), "--tmpfs", "/tmp", "--dir", WORK,
               "--proc", "/proc", "--dev", "/dev", "--size", str(limits.shm), "--tmpfs", "/dev/shm",
               *_system_binds(), *_ro_binds(python_paths()), *_ro_binds(readable)]
    for item in sorted(Path(scratch).iterdir()):
        sandbox += ["--ro-bind", str(item), f"{WORK}/{item.name}"]
    sandbox += ["--bind", str(ipc), str(ipc), "--remount-ro", "/", "--remount-ro", "/dev", "--clearenv"]
    for name, value in env.items():
        sandbox += ["--setenv", name, value]
    sandbox += ["--chdir", WORK, "--"]
    return command + sandbox + kernel_argv


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel starts under :func:`kernel_command`.

    ``sandbox`` is set by the worker: ``dict(limits=Limits, scratch=Path, ipc=Path, readable=[...],
    env={...}, processes=ProcessLimit)``. Without bwrap the kernel works in ``scratch``. The end of
    the kernel's standard error (what a kernel that dies at start said) is kept in :attr:`stderr_tail`
    (a pipe drained by a thread: the kernel cannot fill a disk or the worker's memory through it).
    """

    sandbox: dict = {}
    stderr_keep = 4096

    def format_kernel_cmd(self, extra_arguments=None):
        argv = super().format_kernel_cmd(extra_arguments)
        box = self.sandbox
        return kernel_command(argv, box["limits"], box["scratch"], box["ipc"], box["readable"], box["env"],
                              box.get("processes"))

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        import threading

        kw["stderr"] = subprocess.PIPE
        self._stderr = b""
        result = await super()._async_launch_kernel(kernel_cmd, **kw)
        stream = self.provisioner.process.stderr

        def drain():
            for chunk in iter(lambda: stream.read1(65536), b""):
                self._stderr = (self._stderr + chunk)[-self.stderr_keep:]

        self._drain = threading.Thread(target=drain, daemon=True)
        self._drain.start()
        return result

    def stderr_tail(self, limit: int = 600) -> str:
        """The end of what the kernel wrote to standard error, on one line (for a flag)."""
        drain = getattr(self, "_drain", None)
        if drain is not None:
            drain.join(timeout=2)
        text = getattr(self, "_stderr", b"").decode(errors="replace")
        return " | ".join(line.strip() for line in text.splitlines() if line.strip())[-limit:]


# --- limits that hold for a whole grading: processes, disk ------------------------------------------


def _cgroup_candidates():
    """(folder under which this process may make child cgroups, version) for the pids controller."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        own = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return
    for line in mounts:
        parts = line.split()
        if len(parts) < 4:
            continue
        mount, kind, options = parts[1], parts[2], parts[3].split(",")
        if kind == "cgroup2":
            path = next((entry.split(":", 2)[2] for entry in own if entry.startswith("0::")), None)
            if path is not None:
                yield Path(mount + path.rstrip("/")), 2
        elif kind == "cgroup" and "pids" in options:
            path = next((entry.split(":", 2)[2] for entry in own
                         if "pids" in entry.split(":", 2)[1].split(",")), None)
            if path is not None:
                yield Path(mount + path.rstrip("/")), 1


def _make_pids_cgroup(name: str, tasks: int) -> tuple[Path | None, str]:
    reasons = []
    for base, version in _cgroup_candidates():
        group = base / name
        try:
            if version == 2:
                if "pids" not in (base / "cgroup.controllers").read_text().split():
                    reasons.append(f"{base}: no pids controller")
                    continue
                if "pids" not in (base / "cgroup.subtree_control").read_text().split():
                    (base / "cgroup.subtree_control").write_text("+pids")  # EBUSY when base holds processes
            group.mkdir()
            (group / "pids.max").write_text(str(tasks))
            return group, ""
        except OSError as exc:
            reasons.append(f"{base}: {exc.strerror or exc}")
            try:
                group.rmdir()
            except OSError:
                pass
    return None, "; ".join(reasons) or "no cgroup file system with the pids controller"


@functools.lru_cache(maxsize=1)
def process_limit_mode() -> str:
    """One line: how this machine limits a submission's processes."""
    group, why = _make_pids_cgroup(f"course-grading-probe-{os.getpid()}", 1)
    if group is not None:
        group.rmdir()
        return "process limit: a pids cgroup per submission"
    if os.getuid() != 0:
        return f"process limit: RLIMIT_NPROC (no pids cgroup: {why})"
    return f"no process limit (root ignores RLIMIT_NPROC, and no pids cgroup: {why})"


def _tasks_of_user(uid: int) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            fields_ = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if int(fields_.get("Uid", "-1 0").split()[0]) == uid:
                count += int(fields_.get("Threads", "1").strip() or 1)
    return count


class ProcessLimit:
    """The process limit of one grading: a pids cgroup, RLIMIT_NPROC, or none (said in a flag)."""

    def __init__(self, limits: Limits, token: str):
        self.limits, self.cgroup, self.nproc = limits, None, -1
        self.cgroup, why = _make_pids_cgroup(f"course-grading-{token}", limits.processes)
        if self.cgroup is None and os.getuid() != 0:
            # RLIMIT_NPROC counts every task of this user: allow what runs now plus the limit
            self.nproc = _tasks_of_user(os.getuid()) + limits.processes
        self.flags = [] if self.cgroup or self.nproc >= 0 else ["no-process-limit"]

    def launcher_args(self) -> tuple[str, str]:
        return str(self.nproc), str(self.cgroup / "cgroup.procs") if self.cgroup else ""

    def finish(self) -> list[str]:
        """Kill what is left in the cgroup and remove it; flags: the limit was hit, processes were left behind."""
        flags = list(self.flags)
        if self.cgroup is None:
            return flags
        try:
            events = dict(line.split() for line in (self.cgroup / "pids.events").read_text().splitlines())
            if int(events.get("max", 0)):
                flags.append(f"process-limit:{self.limits.processes} tasks, {events['max']} forks refused")
        except (OSError, ValueError):
            pass
        procs = self.cgroup / "cgroup.procs"
        deadline = time.monotonic() + 3  # what the kernel's shutdown takes down (bwrap's pid namespace)
        while time.monotonic() < deadline and procs.read_text().split():
            time.sleep(0.05)
        left = procs.read_text().split()
        if left:  # detached from the kernel (no pid namespace without bwrap): killed here
            flags.append(f"processes-left-behind-killed:{len(left)}")
        for _ in range(100):
            for pid in procs.read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.cgroup.rmdir()
                break
            except OSError:
                time.sleep(0.05)
        return flags


# What a cell's output shows when a limit was hit although no process reported it to the grader.
LIMIT_SIGNS = {
    "disk-quota": ("No space left on device", "[Errno 28]", "File too large", "[Errno 27]"),
    "process-limit": ("Resource temporarily unavailable", "BlockingIOError", "Cannot fork",
                      "can't start new thread"),
}


def limit_flags(outputs, limits: Limits) -> list[str]:
    """Flags for the limits a cell's outputs show were hit."""
    text = "\n".join(str(o.get("text", "")) + str(o.get("ename", "")) + str(o.get("evalue", ""))
                     + "\n".join(o.get("traceback", []) or []) for o in outputs)
    found = []
    for flag, signs in LIMIT_SIGNS.items():
        if any(sign in text for sign in signs):
            found.append(f"disk-quota:{limits.disk >> 20} MiB" if flag == "disk-quota"
                         else f"process-limit:{limits.processes} tasks")
    return found


def sandbox_root(launcher_pid: int) -> str | None:
    """The sandbox's root folder seen from the host, ``/proc/<pid>/root`` of bwrap's child (the launcher
    exec'd bwrap, whose child is the sandbox, in its mount namespace); None when it cannot be reached."""
    try:
        children = Path(f"/proc/{launcher_pid}/task/{launcher_pid}/children").read_text().split()
    except OSError:
        return None
    for child in children:
        try:
            os.statvfs(f"/proc/{child}/root/tmp")
            return f"/proc/{child}/root"
        except OSError:
            continue
    return None


def exchange_folder(launcher_pid: int, scratch: Path) -> tuple[Path, Path]:
    """Where the trusted side and the kernel exchange values (:mod:`autograder.boundary`), as (host path,
    kernel path): inside the sandbox's size-limited tmpfs with bwrap (so it counts against the disk quota
    and never touches the host's disk), else the scratch folder."""
    root = sandbox_root(launcher_pid) if bwrap_problem() is None else None
    if root is None:
        return scratch / ".boundary", scratch / ".boundary"
    return Path(f"{root}{WORK}/.boundary"), Path(f"{WORK}/.boundary")


class DiskWatch:
    """Samples what the kernel has written while it runs and keeps the peak, so that a submission that
    fills its quota and deletes the file in one cell, or hides the error it got, is still seen at the
    limit: with bwrap the sandbox's /tmp tmpfs, from the host through ``/proc/<pid>/root``; without,
    the size of the scratch folder."""

    def __init__(self, launcher_pid: int, limits: Limits, scratch: Path, interval: float = 0.05):
        import threading

        self.limits, self.interval, self.peak, self.path, self.scratch = limits, interval, 0, None, None
        if bwrap_problem() is not None:
            self.scratch = scratch
        if self.scratch is None:
            root = sandbox_root(launcher_pid)
            self.path = f"{root}/tmp" if root else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        if self.path or self.scratch:
            self._thread.start()

    def _run(self):
        while not self._stop.wait(self.interval):
            if self.scratch:
                used = folder_bytes(self.scratch)
            else:
                try:
                    stats = os.statvfs(self.path)
                except OSError:
                    return
                used = (stats.f_blocks - stats.f_bfree) * stats.f_frsize
            self.peak = max(self.peak, used)

    def full(self) -> bool:
        """The tmpfs was (within 1 MiB) full at some point."""
        return self.peak >= self.limits.disk - (1 << 20)

    def stop(self):
        self._stop.set()


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder`` (without following links)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


def write_kernel_spec(folder: Path) -> Path:
    """A kernelspec for the sandbox: this Python, interrupted by message (signals would hit bwrap)."""
    spec = folder / "kernels" / "sandboxed-python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (grading sandbox)",
        "language": "python",
        "interrupt_mode": "message",
    }))
    return spec.parent


def kill_tagged_processes(token: str) -> int:
    """SIGKILL every process whose environment carries ``token``; return how many there were.

    Inside bwrap the pid namespace already took them down; this is the fallback without it, and a
    check that nothing escaped either way.
    """
    needle = f"{TOKEN_VARIABLE}={token}".encode()
    killed = 0
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    return killed
