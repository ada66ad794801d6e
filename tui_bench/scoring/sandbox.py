"""Run untrusted Python (a model's answer) against tests, in a child process that cannot hurt us.

Layers, outermost first:

* a fresh temporary folder as working directory and ``HOME``, removed afterwards;
* a minimal environment (``PATH``, ``HOME``, ``LANG``): no inherited secrets;
* its own session (``start_new_session``), and the whole process group killed at the end,
  always, plus (as root) every process left under the sandbox uid;
* resource limits: CPU seconds, address space, file size, open files, no core files;
* as root: a throwaway unprivileged uid per run, so ``RLIMIT_NPROC`` stops fork bombs, the
  user's files are out of reach, and two sandboxes running at once cannot touch each other;
* inside the child, an audit hook that refuses writes outside the folder, process creation and
  network use (see ``_harness.py``);
* the parent enforces a wall-clock timeout and a cap on printed output.

Results come back as JSON lines on a dedicated pipe, not stdout. The candidate shares a process
with the harness, so a model deliberately built to forge results could do so; the sandbox
protects the machine, and the tests protect the score from honest mistakes.
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
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HARNESS = Path(__file__).with_name("_harness.py")
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
        }


def planned_tests(tests: str, entry_point: str | None) -> list[str]:
    """The tests the harness will run, known before anything runs: used when it dies early."""
    tree = ast.parse(tests, "tests.py")
    names = [n.name for n in tree.body
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test_")]
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


def _private_roots() -> list[str]:
    """Folders whose files the candidate must not read (the audit hook enforces it)."""
    roots = {str(Path.home())}
    if os.geteuid() == 0:
        roots.add("/root")
    return sorted(roots)


def _claim_folder(workdir: str) -> int | None:
    """Pick the uid the child will drop to and give it the folder.

    A fresh uid far above real accounts, so concurrent sandboxes cannot signal or read each
    other and ``RLIMIT_NPROC`` counts only this run. Where such a uid is not mapped (a user
    namespace), fall back to ``nobody``; where even that fails, run without dropping (the audit
    hook still guards).
    """
    fresh = SANDBOX_UID_RANGE[0] + secrets.randbelow(SANDBOX_UID_RANGE[1] - SANDBOX_UID_RANGE[0])
    for uid in (fresh, NOBODY):
        try:
            os.chown(workdir, uid, uid)
        except OSError:
            continue
        return uid
    return None


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


def _kill_everything(pgid: int, uid: int | None) -> None:
    """Kill the process group, then (as root) anything still running as the sandbox uid."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if uid is None or not os.path.isdir("/proc"):
        return
    for _ in range(50):  # a fork bomb that left the group refills while we sweep
        pids = _processes_of(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)


def _remove_tree(path: str) -> None:
    def retry(func: Any, target: str, _exc: Any) -> None:
        try:
            parent = os.path.dirname(target)
            os.chmod(parent, stat.S_IRWXU)
            if os.path.isdir(target) and not os.path.islink(target):
                os.chmod(target, stat.S_IRWXU)
            func(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=retry)
    if os.path.exists(path):
        shutil.rmtree(path, ignore_errors=True)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def run_python(code: str, tests: str, *, entry_point: str | None, timeout_s: float = 10,
               memory_mb: int = 512, output_cap: int = 64_000) -> SandboxResult:
    """Run ``code`` then ``tests`` in one namespace, in a sandbox; count passing tests.

    Every ``test_*`` function in ``tests`` is one test, and so is ``check(entry_point)`` when
    the tests define ``check`` (HumanEval style). Blocking: call it through
    ``asyncio.to_thread`` from async code.
    """
    started = time.monotonic()
    try:
        plan = planned_tests(tests, entry_point)
    except SyntaxError as exc:
        return SandboxResult(0, 0, reason=f"tests error: syntax error: line {exc.lineno}: {exc.msg}",
                             duration_s=time.monotonic() - started)
    workdir = tempfile.mkdtemp(prefix="tui-bench-sandbox-")
    uid: int | None = None
    sweep_uid: int | None = None  # only a uid of our own may have all its processes killed
    proc: subprocess.Popen[bytes] | None = None
    out_r = res_r = -1
    try:
        if os.geteuid() == 0:
            uid = _claim_folder(workdir)
            sweep_uid = uid if uid is not None and uid != NOBODY else None
        payload = {
            "code": code,
            "tests": tests,
            "entry_point": entry_point,
            "uid": uid,
            "private_roots": _private_roots(),
            "limits": {"cpu_s": math.ceil(timeout_s) + 1, "memory_bytes": int(memory_mb) << 20},
        }
        payload_path = os.path.join(workdir, "payload.json")
        fd = os.open(payload_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
        os.chmod(workdir, 0o700)

        out_r, out_w = os.pipe()
        res_r, res_w = os.pipe()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-B", str(HARNESS), str(res_w)],
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
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            _kill_everything(proc.pid, sweep_uid)
        for fd_ in (out_r, res_r):
            if fd_ >= 0:
                os.close(fd_)
        _remove_tree(workdir)
    assert proc is not None
    return _interpret(collected, plan, proc.returncode, time.monotonic() - started, workdir)


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
            reason = "timeout" if sig == signal.SIGXCPU else f"crashed: killed by {_signal_name(sig)}"
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


# run_command: provisional until the sandbox branch lands
# (a minimal stand-in with the agreed signature; the lead replaces this block at merge)


@dataclass
class CommandResult:
    """How one command ended in the sandbox; ``reason`` is None when it ran and exited."""

    exit_code: int | None
    output: str
    timed_out: bool
    truncated: bool
    duration_s: float
    reason: str | None
    isolation: str


PR_SET_PDEATHSIG = 1


def _command_limits(memory_mb: int, max_procs: int) -> Any:
    import ctypes
    import resource

    libc = ctypes.CDLL(None, use_errno=True)

    def apply() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with the runner, even on kill -9
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if memory_mb > 0:
            size = int(memory_mb) << 20
            resource.setrlimit(resource.RLIMIT_AS, (size, size))
        if max_procs > 0:
            resource.setrlimit(resource.RLIMIT_NPROC, (max_procs, max_procs))

    return apply


def run_command(argv: Sequence[str], workdir: Path, *, timeout_s: float = 30,
                memory_mb: int = 1024, max_procs: int = 64, output_bytes: int = 64_000,
                env: Mapping[str, str] | None = None) -> CommandResult:
    """Run ``argv`` in ``workdir`` with limits; never raises for what the command does.

    Its own session (the whole group is killed at the end), a minimal environment whose
    ``PATH`` starts with this Python's folder (``env`` adds to it), a wall-clock timeout and a
    cap on the output kept. Blocking: call through ``asyncio.to_thread`` from async code.
    """
    started = time.monotonic()
    base = {"PATH": os.pathsep.join([os.path.dirname(sys.executable),
                                     "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": str(workdir), "LANG": "C.UTF-8"}
    base.update(env or {})
    if not argv:
        return CommandResult(None, "", False, False, 0.0, "empty command", "rlimits")
    program = shutil.which(argv[0], path=base["PATH"]) if "/" not in argv[0] else argv[0]
    if program is None:
        return CommandResult(None, "", False, False, 0.0,
                             f"program not found: {argv[0]}", "rlimits")
    try:
        proc = subprocess.Popen(
            [program, *argv[1:]], cwd=str(workdir), env=base, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_command_limits(memory_mb, max_procs))  # noqa: PLW1509 - provisional
    except OSError as exc:
        return CommandResult(None, "", False, False, time.monotonic() - started,
                             f"cannot start {argv[0]}: {exc.strerror or exc}", "rlimits")
    assert proc.stdout is not None
    kept = bytearray()
    truncated = timed_out = False
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = started + timeout_s
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            events = selector.select(timeout=min(left, 0.25))
            if not events:
                continue
            data = os.read(proc.stdout.fileno(), 65536)
            if not data:
                break
            room = output_bytes - len(kept)
            if len(data) > room:
                kept += data[:max(room, 0)]
                truncated = True
                break
            kept += data
        if not timed_out and not truncated:
            try:  # the output closed; give the command what is left of its time to exit
                proc.wait(timeout=max(deadline - time.monotonic(), 0.05))
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        selector.close()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.stdout.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    code = None if timed_out or truncated else proc.returncode
    reason = "timeout" if timed_out else "output limit" if truncated else None
    if code is not None and code < 0:
        reason = f"killed by {_signal_name(-code)}"
    return CommandResult(code, kept.decode("utf-8", "replace"), timed_out, truncated,
                         time.monotonic() - started, reason, "rlimits")
