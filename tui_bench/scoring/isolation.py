"""Operating-system isolation for untrusted code: Bubblewrap when the kernel allows it.

``bwrap`` gives the sandboxed process its own network namespace (no network at all), its own
PID namespace (it sees only its own processes, and they all die with it), a read-only view of
the system folders and of the Python interpreter only (no home, no working folder, no
``bench.db``), a private ``/tmp`` and one writable folder. ``--die-with-parent`` ties the whole
tree to the process that started it, so a SIGKILL of tui-bench leaves nothing running.

Whether ``bwrap`` works is probed once per process (kernels and containers may refuse user
namespaces); where it does not, :func:`isolation` says ``"fallback"`` and the sandbox relies on
its older layers (rlimits, a throwaway uid, an audit hook). That is logged once, and every
evaluation records which isolation it ran under.

Sandbox folders are named ``tui-bench-sandbox-<pid>-...`` so that folders left by a killed run
can be recognised and removed at the next start (:func:`sweep_stale_folders`).
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tui_bench.leftovers import orphaned

log = logging.getLogger(__name__)

BWRAP = "bwrap"
FALLBACK = "fallback"
FOLDER_PREFIX = "tui-bench-sandbox-"
TOOLS_DIR = "/run/tui-bench"  # where the harness and launcher appear inside the sandbox
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
PRIVATE_TMP_BYTES = 256 << 20
PROBE_TIMEOUT_S = 10

_lock = threading.Lock()
_isolation: str | None = None


def _is_inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def interpreter_roots() -> list[str]:
    """The folders the interpreter needs: its prefixes and the folder of the real executable."""
    roots: list[str] = []
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                  os.path.dirname(sys.executable),
                  os.path.dirname(os.path.realpath(sys.executable))]
    for folder in candidates:
        for path in (folder, os.path.realpath(folder)):
            if path and path != "/" and os.path.isdir(path) and path not in roots \
                    and not any(_is_inside(path, d) for d in SYSTEM_DIRS):
                roots.append(path)
    return roots


def _parents(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def bwrap_argv(workdir: str, *, files: dict[str, str] | None = None,
               keep_capabilities: Sequence[str] = ()) -> list[str]:
    """The ``bwrap`` command line (up to ``--``) that isolates a process in ``workdir``.

    ``files`` maps a host file to the path it takes inside (read-only). As root no user
    namespace is made, so the process can still drop to an unprivileged uid of its own
    (``keep_capabilities`` lists the capabilities it needs for that; all others are dropped).
    """
    argv = [BWRAP, "--die-with-parent", "--new-session",
            "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try"]
    if os.geteuid() != 0:
        argv.append("--unshare-user")
    else:
        argv += ["--cap-drop", "ALL"]
        for cap in keep_capabilities:
            argv += ["--cap-add", cap]
    made: set[str] = set()

    def make_parents(path: str) -> None:
        for parent in _parents(path):
            if parent not in made:
                made.add(parent)
                argv.extend(["--perms", "0755", "--dir", parent])

    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            argv += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            argv += ["--ro-bind", folder, folder]
    # The private /tmp first: mounts apply in order, so an interpreter, file or folder that
    # lives under /tmp (a venv in a CI clone there) is bound on top of it, not hidden by it.
    argv += ["--dev", "/dev", "--proc", "/proc",
             "--perms", "1777", "--size", str(PRIVATE_TMP_BYTES), "--tmpfs", "/tmp"]
    for root in interpreter_roots():
        make_parents(root)
        argv += ["--ro-bind", root, root]
    for host, inside in (files or {}).items():
        make_parents(inside)
        argv += ["--ro-bind", host, inside]
    make_parents(workdir)
    argv += ["--bind", workdir, workdir, "--chdir", workdir, "--"]
    return argv


def _probe() -> tuple[bool, str]:
    """Run the interpreter under the same isolation once; say why not when it fails."""
    if shutil.which(BWRAP) is None:
        return False, "bwrap is not installed"
    folder = new_folder()
    try:
        result = subprocess.run(
            bwrap_argv(folder) + [sys.executable, "-I", "-S", "-c", "pass"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            timeout=PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap could not start: {exc}"
    finally:
        remove_folder(folder)
    if result.returncode != 0:
        first = result.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        return False, "bwrap refused: " + (first[0] if first else f"exit {result.returncode}")
    return True, ""


def isolation() -> str:
    """``"bwrap"`` or ``"fallback"``, decided once per process (and logged once).

    The first call also removes sandbox folders that killed runs left behind.
    ``TUI_BENCH_SANDBOX=fallback`` forces the fallback (to compare, or where bwrap misbehaves).
    """
    global _isolation
    with _lock:
        if _isolation is None:
            sweep_stale_folders()
            if os.environ.get("TUI_BENCH_SANDBOX") == FALLBACK:
                works, why = False, "TUI_BENCH_SANDBOX=fallback"
            else:
                works, why = _probe()
            _isolation = BWRAP if works else FALLBACK
            if works:
                log.info("sandbox isolation: bwrap (no network, own PID namespace, "
                         "read-only system, private /tmp)")
            else:
                log.warning("sandbox isolation: fallback (%s); generated code runs with "
                            "rlimits, a throwaway uid and an audit hook only", why)
        return _isolation


def reset_isolation_probe() -> None:
    """Forget the probe's answer (tests switch between the two isolations)."""
    global _isolation
    with _lock:
        _isolation = None


def new_folder() -> str:
    """A fresh private folder whose name carries this process's pid."""
    return tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-")


def sweep_stale_folders(parent: str | None = None) -> list[str]:
    """Remove sandbox folders whose owning process is gone (a killed run); return them."""
    removed: list[str] = []
    for entry in orphaned(Path(parent or tempfile.gettempdir()), FOLDER_PREFIX):
        remove_folder(str(entry))
        if not entry.exists():
            removed.append(str(entry))
    if removed:
        log.info("removed %d stale sandbox folder(s) left by killed runs", len(removed))
    return removed


def remove_folder(path: str) -> None:
    """Remove a sandbox folder even where the candidate took away its own permissions."""
    def retry(func: Any, target: str, _exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            if os.path.isdir(target) and not os.path.islink(target):
                os.chmod(target, stat.S_IRWXU)
            func(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=retry)
    if os.path.exists(path):
        shutil.rmtree(path, ignore_errors=True)
