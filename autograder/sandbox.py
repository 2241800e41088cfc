"""Where a submission's kernel runs: resource limits always, a bubblewrap sandbox where the OS allows.

The grading worker (trusted: it holds the hidden tests and never runs student code itself) starts
the kernel through :class:`SandboxKernelManager`. The kernel command becomes::

    python -c <set rlimits, exec>  bwrap <namespaces, read-only system>  python -m ipykernel_launcher

* **Limits** (everywhere): ``RLIMIT_DATA`` (heap and anonymous memory: a memory bomb gets
  ``MemoryError``), ``RLIMIT_FSIZE`` (no file larger than ``file_size``), no core dumps.
* **bubblewrap** (Linux with ``bwrap``; Debian's ``bubblewrap`` package): new user, pid, network,
  ipc and uts namespaces; the sandbox sees only the system folders, the Python environment, the
  ``course`` package and the data mirror, all read-only, a size-limited tmpfs ``/tmp``, and one
  writable scratch folder. No network (not even loopback). The kernel runs as ``nobody`` with no
  capabilities, and every process it starts dies with it (``--die-with-parent`` and the pid
  namespace): nothing outlives the grading.
* Without bwrap (an instructor's laptop) only the limits apply; :func:`sandbox_mode` says so and the
  batch report prints it. Leftover processes are then found by a token in their environment and killed.

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
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

# Applied in the launched process before it execs bwrap (or the kernel): stdlib only, no repo import.
_LIMITS_LAUNCHER = """\
import os, resource, sys
for name, value in (("RLIMIT_DATA", int(sys.argv[1])), ("RLIMIT_FSIZE", int(sys.argv[2])), ("RLIMIT_CORE", 0)):
    if value > 0 and hasattr(resource, name):
        resource.setrlimit(getattr(resource, name), (value, value))
os.execvp(sys.argv[3], sys.argv[3:])
"""

TOKEN_VARIABLE = "COURSE_GRADING_TOKEN"
SANDBOX_VARIABLE = "COURSE_GRADER_SANDBOX"  # "none": limits only, even where bwrap works
NOBODY = 65534


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Seconds and bytes."""

    cell_timeout: float = 600.0
    notebook_timeout: float = 1800.0
    memory: int = 4 << 30  # RLIMIT_DATA of the kernel and everything it starts
    file_size: int = 1 << 30  # largest file it may write
    tmp_size: int = 512 << 20  # the sandbox's tmpfs /tmp
    cell_output: int = 1 << 20  # output kept per cell; the rest is dropped and flagged
    network: bool = False


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
    problem = bwrap_problem()
    if problem is None:
        return "bubblewrap sandbox (no network, read-only system, scratch-only writes) + resource limits"
    return f"resource limits only, no filesystem/network isolation: {problem}"


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


def kernel_command(kernel_argv: list[str], limits: Limits, writable: list[Path], readable: list[Path],
                   env: dict[str, str]) -> list[str]:
    """The full command line: limits launcher, then bwrap (when usable), then the kernel."""
    command = [sys.executable, "-c", _LIMITS_LAUNCHER, str(limits.memory), str(limits.file_size)]
    if bwrap_problem() is not None:
        return command + kernel_argv
    sandbox = [shutil.which("bwrap"), *_namespace_args(limits.network), *_system_binds(),
               *_ro_binds(python_paths()), *_ro_binds(readable),
               "--proc", "/proc", "--dev", "/dev", "--size", str(limits.tmp_size), "--tmpfs", "/tmp"]
    for folder in writable:
        sandbox += ["--bind", str(folder), str(folder)]
    sandbox += ["--clearenv"]
    for name, value in env.items():
        sandbox += ["--setenv", name, value]
    sandbox += ["--chdir", str(writable[0]), "--"]
    return command + sandbox + kernel_argv


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel starts under :func:`kernel_command`.

    ``sandbox`` is set by the worker: ``dict(limits=Limits, scratch=Path, ipc=Path, readable=[...],
    env={...})``; the kernel's working folder is ``scratch`` (the only place it may write).
    """

    sandbox: dict = {}

    def format_kernel_cmd(self, extra_arguments=None):
        argv = super().format_kernel_cmd(extra_arguments)
        box = self.sandbox
        return kernel_command(argv, box["limits"], [box["scratch"], box["ipc"]], box["readable"], box["env"])


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
