"""Run untrusted code (a model's answer, an agent's command) where it cannot hurt us or its score.

Layers, outermost first:

* OS isolation (``isolation.py``): Bubblewrap with no network, its own PID namespace, a
  read-only view of the system and the interpreter only, a private ``/tmp`` and one writable
  folder, dying with its parent; where the kernel refuses, the "fallback": the layers below;
* a fresh folder ``tui-bench-sandbox-<pid>-...`` as working directory and ``HOME``, removed
  afterwards (and at the next start if a killed run left it);
* a minimal environment (``PATH``, ``HOME``, ``LANG``): no inherited secrets;
* its own session, and the whole process group killed at the end, always, plus (as root)
  every process left under the sandbox uids;
* resource limits: CPU seconds, address space, file size, open files, processes, no core files;
* as root: throwaway unprivileged uids, so ``RLIMIT_NPROC`` stops fork bombs and the user's
  files are out of reach;
* the parent enforces a wall-clock timeout and a cap on printed output.

For code under test, the harness (``_harness.py``) runs the answer in one process and the tests
in another, the judge, which alone holds the result pipe; values cross as plain data. An
audit hook in both names what the code tried (a write outside, a process, the network) so the
failure reason is clear; it is a tripwire, not the wall.
"""

from __future__ import annotations

import ast
import json
import math
import os
import secrets
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_bench.scoring.isolation import (
    BWRAP,
    TOOLS_DIR,
    bwrap_argv,
    isolation,
    new_folder,
    remove_folder,
)
from tui_bench.scoring.pyparse import parse

HARNESS = Path(__file__).with_name("_harness.py")
LAUNCHER = Path(__file__).with_name("_launch.py")
COMMAND_FILE_BYTES = 64 * 1024 * 1024
MEMORY_SIGNS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")
TAIL_CHARS = 4_000
MAX_FAILURES = 50
RESULT_CHANNEL_CAP = 1_000_000
EXIT_GRACE_S = 0.2  # after the harness exits, how long to wait for pipes held by leftovers
SANDBOX_UID_RANGE = (1 << 30, (1 << 31) - 2)  # far above any real account
NOBODY = 65534


@dataclass
class SandboxResult:
    """What happened when the tests ran. ``reason`` is None when the run itself was clean."""

    passed: int
    total: int
    failures: list[dict[str, str]] = field(default_factory=list)
    reason: str | None = None
    duration_s: float = 0.0
    stdout: str = ""
    returncode: int | None = None
    workdir: str = ""
    isolation: str = ""

    @property
    def ok(self) -> bool:
        """Every test passed and nothing went wrong."""
        return self.reason is None and self.total > 0 and self.passed == self.total

    def as_detail(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "total": self.total,
            "failures": self.failures,
            "reason": self.reason,
            "duration_s": round(self.duration_s, 3),
            "stdout": self.stdout[-1000:],
            "isolation": self.isolation,
        }


def planned_tests(tests: str, entry_point: str | None) -> list[str]:
    """The tests the harness will run, known before anything runs: used when it dies early."""
    tree = parse(tests, "tests.py")
    names = [n.name for n in tree.body
             if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
             and n.name.startswith("test_")]
    names = list(dict.fromkeys(names))
    if entry_point and any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                           and n.name == "check" for n in tree.body):
        names.append("check")
    return names


def _minimal_env(home: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
    }


def _site_packages() -> list[str]:
    """The interpreter's package folders, for a harness started without ``site``."""
    return [p for p in sys.path if p.endswith("-packages") and os.path.isdir(p)
            and p.startswith((sys.prefix, sys.base_prefix))]


def _private_roots() -> list[str]:
    """Folders whose files the candidate must not read (the audit hook enforces it)."""
    roots = {str(Path.home())}
    if os.geteuid() == 0:
        roots.add("/root")
    return sorted(roots)


def _claim_uids(workdir: str) -> tuple[int | None, int | None]:
    """Pick the uids the judge and the solution will drop to; give the folder to the solution.

    Fresh uids far above real accounts, so concurrent sandboxes cannot signal or read each
    other, ``RLIMIT_NPROC`` counts only this run, and the solution cannot touch the judge.
    Where such a uid is not mapped (a user namespace), fall back to ``nobody`` for both; where
    even that fails, run without dropping (the judge is still undumpable).
    """
    fresh = SANDBOX_UID_RANGE[0] + secrets.randbelow(SANDBOX_UID_RANGE[1] - SANDBOX_UID_RANGE[0])
    for judge, solution in ((fresh, fresh + 1), (NOBODY, NOBODY)):
        try:
            os.chown(workdir, solution, solution)
        except OSError:
            continue
        return judge, solution
    return None, None


def _processes_of(uid: int) -> list[int]:
    """Live (not zombie) processes whose real uid is ``uid``."""
    pids: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as handle:
                zombie = False
                for line in handle:
                    if line.startswith(b"State:"):
                        zombie = line.split()[1] in (b"Z", b"X")
                    elif line.startswith(b"Uid:"):
                        if not zombie and int(line.split()[1]) == uid:
                            pids.append(int(entry.name))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _kill_everything(pgid: int, uids: Sequence[int]) -> None:
    """Kill the process group, then (as root) anything still running as a sandbox uid."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if not uids or not os.path.isdir("/proc"):
        return
    for _ in range(50):  # a fork bomb that left the group refills while we sweep
        pids = [pid for uid in uids for pid in _processes_of(uid)]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)


def _remove_tree(path: str) -> None:
    remove_folder(path)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _write_private(path: str, data: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)


def run_python(code: str, tests: str, *, entry_point: str | None, timeout_s: float = 10,
               memory_mb: int = 512, output_cap: int = 64_000) -> SandboxResult:
    """Run ``code`` and score it with ``tests`` in the sandbox; count passing tests.

    Every ``test_*`` function in ``tests`` is one test, and so is ``check(entry_point)`` when
    the tests define ``check`` (HumanEval style). The tests see the answer's names (not one
    that shadows a builtin) as in one module. Blocking: call it through ``asyncio.to_thread``.
    """
    mode = isolation()
    started = time.monotonic()
    try:
        plan = planned_tests(tests, entry_point)
    except SyntaxError as exc:
        return SandboxResult(0, 0,
                             reason=f"tests error: syntax error: line {exc.lineno}: {exc.msg}",
                             duration_s=time.monotonic() - started, isolation=mode)
    workdir = new_folder()
    judge_uid: int | None = None
    solution_uid: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    out_r = res_r = -1
    try:
        if os.geteuid() == 0:
            judge_uid, solution_uid = _claim_uids(workdir)
        _write_private(os.path.join(workdir, "payload.json"), {
            "code": code,
            "judge_uid": judge_uid,
            "solution_uid": solution_uid,
            "private_roots": _private_roots(),
            "site_packages": _site_packages(),
            "limits": {"cpu_s": math.ceil(timeout_s) + 1, "memory_bytes": int(memory_mb) << 20},
        })
        _write_private(os.path.join(workdir, "tests.json"),
                       {"tests": tests, "entry_point": entry_point})
        os.chmod(workdir, 0o700)

        out_r, out_w = os.pipe()
        res_r, res_w = os.pipe()
        harness = str(HARNESS)
        prefix: list[str] = []
        if mode == BWRAP:
            harness = f"{TOOLS_DIR}/_harness.py"
            prefix = bwrap_argv(workdir, files={str(HARNESS): harness},
                                keep_capabilities=("CAP_SETUID", "CAP_SETGID",
                                                   "CAP_DAC_OVERRIDE"))
        try:
            proc = subprocess.Popen(
                [*prefix, sys.executable, "-I", "-S", "-B", harness, str(res_w)],
                cwd=workdir, env=_minimal_env(workdir), stdin=subprocess.DEVNULL,
                stdout=out_w, stderr=out_w, pass_fds=(res_w,), close_fds=True,
                start_new_session=True,
            )
        finally:
            os.close(out_w)
            os.close(res_w)
        collected = _collect(proc, out_r, res_r, deadline=started + timeout_s,
                             output_cap=output_cap)
    finally:
        if proc is not None:
            _stop(proc, [u for u in (judge_uid, solution_uid) if u is not None and u != NOBODY])
        for fd_ in (out_r, res_r):
            if fd_ >= 0:
                os.close(fd_)
        _remove_tree(workdir)
    assert proc is not None
    result = _interpret(collected, plan, proc.returncode, time.monotonic() - started, workdir)
    result.isolation = mode
    return result


def _stop(proc: subprocess.Popen[bytes], uids: Sequence[int]) -> None:
    """Kill the sandbox's process group, reap it, and sweep its uids (only uids of our own)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    _kill_everything(proc.pid, uids)


@dataclass
class _Collected:
    events: list[dict[str, Any]]
    output: bytes
    output_total: int
    killed: str | None  # "timeout" or "output limit" when the parent stopped the run


def _collect(proc: subprocess.Popen[bytes], out_fd: int, res_fd: int, *, deadline: float,
             output_cap: int) -> _Collected:
    """Read output and results until the harness is done, the deadline passes or a cap is hit."""
    selector = selectors.DefaultSelector()
    selector.register(out_fd, selectors.EVENT_READ)
    selector.register(res_fd, selectors.EVENT_READ)
    open_fds = {out_fd, res_fd}
    tail = bytearray()
    total = 0
    results = bytearray()
    killed: str | None = None
    exited_at: float | None = None
    try:
        while open_fds:
            now = time.monotonic()
            if now >= deadline:
                killed = "timeout"
                break
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > EXIT_GRACE_S:
                break
            wait = deadline - now
            if exited_at is not None:
                wait = min(wait, EXIT_GRACE_S)
            for key, _ in selector.select(timeout=min(wait, 0.25)):
                fd = key.fd
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    selector.unregister(fd)
                    open_fds.discard(fd)
                    continue
                if fd == out_fd:
                    total += len(data)
                    tail += data
                    if len(tail) > TAIL_CHARS * 2:
                        del tail[: len(tail) - TAIL_CHARS]
                    if total > output_cap:
                        killed = "output limit"
                else:
                    results += data
                    if len(results) > RESULT_CHANNEL_CAP:
                        killed = "output limit"
            if killed:
                break
    finally:
        selector.close()
    if killed:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    events: list[dict[str, Any]] = []
    for line in bytes(results).splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return _Collected(events, bytes(tail[-TAIL_CHARS:]), total, killed)


def _interpret(collected: _Collected, plan: list[str], returncode: int | None,
               duration: float, workdir: str) -> SandboxResult:
    """Turn the event stream and the way the child ended into passed/total/failures/reason."""
    outcomes: dict[str, tuple[bool, str]] = {}
    started: list[str] = []
    fatal: str | None = None
    violation: str | None = None
    done = False
    memory = False
    for event in collected.events:
        kind = event.get("event")
        if kind == "start":  # the plan is the parent's own: the candidate cannot widen it
            started.append(str(event.get("test")))
        elif kind == "result":
            name = str(event.get("test"))
            outcomes[name] = (bool(event.get("ok")), str(event.get("error") or ""))
            memory = memory or bool(event.get("memory"))
        elif kind == "fatal":
            fatal = str(event.get("reason"))
        elif kind == "violation" and violation is None:
            what = event.get("what")
            violation = f"{event.get('reason')}: {what}" if what else str(event.get("reason"))
        elif kind == "done":
            done = True

    reason: str | None
    if violation:
        reason = violation
    elif collected.killed:
        reason = collected.killed
    elif fatal:
        reason = fatal
    elif memory:
        reason = "memory"
    elif not done:
        if returncode is not None and returncode < 0:
            sig = -returncode
            reason = ("timeout" if sig == signal.SIGXCPU
                      else f"crashed: killed by {_signal_name(sig)}")
        else:
            reason = f"crashed: exit code {returncode} before the tests finished"
    else:
        reason = None

    failures: list[dict[str, str]] = []
    passed = 0
    for name in plan:
        ok, error = outcomes.get(name, (False, ""))
        if ok and not violation:
            passed += 1
            continue
        if ok:
            error = f"passed, but not counted ({violation})"
        elif name not in outcomes:
            if name in started:
                error = "did not finish" + (f" ({reason})" if reason else "")
            else:
                error = "not run" + (f" ({reason})" if reason else "")
        failures.append({"test": name, "error": error})
    return SandboxResult(
        passed=passed,
        total=len(plan),
        failures=failures[:MAX_FAILURES],
        reason=reason,
        duration_s=duration,
        stdout=collected.output.decode("utf-8", "replace"),
        returncode=returncode,
        workdir=workdir,
    )


# ----------------------------------------------------------------------------- commands


@dataclass
class CommandResult:
    """How one sandboxed command ended, for an agent's tool or a validation step."""

    exit_code: int | None  # None when killed (timeout, output limit)
    output: str  # stdout and stderr interleaved, at most output_bytes
    timed_out: bool
    truncated: bool
    duration_s: float
    reason: str | None  # "timeout", "output limit", "memory", "not found: NAME", None
    isolation: str  # "bwrap" or "fallback"


def command_path() -> str:
    """``PATH`` inside the sandbox: tui-bench's own interpreter first, then the system's."""
    return f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin"


def _find_program(name: str, workdir: Path, path: str) -> bool:
    if "/" in name:
        target = Path(name) if os.path.isabs(name) else workdir / name
        return target.is_file() and os.access(target, os.X_OK)
    return shutil.which(name, path=path) is not None


def _others_can_run(program: str) -> bool:
    """Whether an unprivileged uid could start ``program`` (every folder on its way searchable).

    In the fallback an interpreter under ``/root`` is out of a throwaway uid's reach (bwrap
    makes its folders reachable); there the command keeps our uid and only its rlimits.
    """
    path = Path(os.path.realpath(program))
    try:
        if not path.stat().st_mode & stat.S_IXOTH:
            return False
        return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)
    except OSError:
        return False


@contextmanager
def _lent_to(workdir: Path, uid: int | None) -> Iterator[None]:
    """Hand the caller's folder to the sandbox uid for the run, and every file back after."""
    if uid is None:
        yield
        return
    owner = workdir.stat()
    _chown_tree(workdir, uid, uid)
    try:
        yield
    finally:
        _chown_tree(workdir, owner.st_uid, owner.st_gid)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid, follow_symlinks=False)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            try:
                os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)
            except OSError:
                continue


def run_command(argv: Sequence[str], workdir: Path, *, timeout_s: float = 30,
                memory_mb: int = 1024, max_procs: int = 64, output_bytes: int = 64_000,
                env: Mapping[str, str] | None = None) -> CommandResult:
    """Run one command in the sandbox with ``workdir`` (the caller's folder) as its only
    writable place and working folder; no network; output capped; killed at the deadline.

    ``python`` and ``python -m pytest`` resolve to tui-bench's interpreter. As root the
    command runs as a throwaway uid (the folder is lent to it and given back). Blocking:
    callers use ``asyncio.to_thread``.
    """
    mode = isolation()
    started = time.monotonic()
    workdir = Path(workdir).resolve()
    environment = {"PATH": command_path(), "HOME": str(workdir), "LANG": "C.UTF-8",
                   "TMPDIR": "/tmp" if mode == BWRAP else str(workdir)}
    environment.update(env or {})
    if not argv or not argv[0]:
        return CommandResult(None, "", False, False, 0.0, "empty command", mode)
    if not _find_program(argv[0], workdir, environment["PATH"]):
        return CommandResult(None, "", False, False, time.monotonic() - started,
                             f"not found: {argv[0]}", mode)
    uid: int | None = None
    if os.geteuid() == 0 and (mode == BWRAP or _others_can_run(sys.executable)):
        uid = SANDBOX_UID_RANGE[0] + secrets.randbelow(SANDBOX_UID_RANGE[1] - SANDBOX_UID_RANGE[0])
    config = {"cpu_s": math.ceil(timeout_s) + 1, "memory_bytes": int(memory_mb) << 20,
              "file_bytes": COMMAND_FILE_BYTES, "max_procs": int(max_procs), "uid": uid}
    launcher = str(LAUNCHER)
    prefix: list[str] = []
    if mode == BWRAP:
        launcher = f"{TOOLS_DIR}/_launch.py"
        prefix = bwrap_argv(str(workdir), files={str(LAUNCHER): launcher},
                            keep_capabilities=("CAP_SETUID", "CAP_SETGID", "CAP_DAC_OVERRIDE"))
    command = [*prefix, sys.executable, "-I", "-S", "-B", launcher, json.dumps(config), "--",
               *argv]
    proc: subprocess.Popen[bytes] | None = None
    out_r = -1
    with _lent_to(workdir, uid):
        try:
            out_r, out_w = os.pipe()
            try:
                proc = subprocess.Popen(command, cwd=workdir, env=environment,
                                        stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w,
                                        close_fds=True, start_new_session=True)
            finally:
                os.close(out_w)
            output, killed = _pump(proc, out_r, deadline=started + timeout_s, cap=output_bytes)
        finally:
            if proc is not None:
                _stop(proc, [uid] if uid is not None else [])
            if out_r >= 0:
                os.close(out_r)
    assert proc is not None
    text = output.decode("utf-8", "replace")
    exit_code = None if killed else proc.returncode
    reason = killed
    if reason is None and exit_code not in (0, None) \
            and any(sign in text for sign in MEMORY_SIGNS):
        reason = "memory"
    return CommandResult(exit_code=exit_code, output=text, timed_out=killed == "timeout",
                         truncated=killed == "output limit", duration_s=time.monotonic() - started,
                         reason=reason, isolation=mode)


def _pump(proc: subprocess.Popen[bytes], fd: int, *, deadline: float,
          cap: int) -> tuple[bytes, str | None]:
    """Read a command's output until it ends, the deadline passes or the cap is reached."""
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    output = bytearray()
    killed: str | None = None
    exited_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                killed = "timeout"
                break
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > EXIT_GRACE_S:
                break
            wait = min(deadline - now, EXIT_GRACE_S if exited_at is not None else 0.25)
            events = selector.select(timeout=wait)
            if not events:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                break
            output += data
            if len(output) > cap:
                del output[cap:]
                killed = "output limit"
                break
    finally:
        selector.close()
    if killed:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return bytes(output), killed
