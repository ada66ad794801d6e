"""The program the sandbox runs in a child process; it executes untrusted code and its tests.

It is started as ``python -I -B _harness.py <result fd>`` in a fresh folder that holds
``payload.json``. It reads the payload, removes it (so the candidate cannot read the tests),
lowers its resource limits, drops root privileges to the uid the parent chose, installs an
audit hook as a second line of defence, then runs the candidate code and the tests in one
namespace. Results go out as JSON lines on the result pipe, never on stdout, which the
candidate owns. Only the standard library is used, and nothing from ``tui_bench``.

This file must stay importable on its own: the parent runs it by path.
"""

from __future__ import annotations

import ast
import json
import linecache
import os
import resource
import sys
import traceback
import types

MAX_ERROR = 300
FILE_SIZE_BYTES = 32 * 1024 * 1024
OPEN_FILES = 128
SANDBOX_PROCESSES = 24  # for the sandbox uid only: the harness itself is one task

PROCESS_EVENTS = {
    "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
    "subprocess.Popen", "os.startfile", "pty.spawn",
}
NETWORK_EVENTS = {
    "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
}
# event name -> indexes of the arguments that name a path being changed
PATH_WRITE_EVENTS: dict[str, tuple[int, ...]] = {
    "os.remove": (0,), "os.rmdir": (0,), "os.rename": (0, 1), "os.mkdir": (0,),
    "os.symlink": (1,), "os.link": (0, 1), "os.chmod": (0,), "os.chown": (0,),
    "os.truncate": (0,), "os.utime": (0,), "os.chflags": (0,), "os.lchflags": (0,),
    "os.setxattr": (0,), "os.removexattr": (0,), "shutil.rmtree": (0,),
    "shutil.copyfile": (1,), "shutil.copytree": (1,), "shutil.move": (0, 1),
}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


class Channel:
    """The result pipe. ``os.write`` raises no audit event, so the hook never sees it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, **event: object) -> None:
        data = (json.dumps(event, default=repr) + "\n").encode()
        try:
            while data:
                written = os.write(self.fd, data)
                data = data[written:]
        except OSError:
            pass


def short(text: str, limit: int = MAX_ERROR) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(exc: BaseException) -> str:
    """``Type: message`` plus the failing line in the tests or the solution, for feedback."""
    head = type(exc).__name__
    message = str(exc)
    text = f"{head}: {message}" if message else head
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename in ("tests.py", "solution.py"):
            line = (frame.line or "").strip()
            where = f" at {frame.filename}:{frame.lineno}" + (f": {line}" if line else "")
            break
    return short(text + where)


def planned_tests(tree: ast.Module, entry_point: str | None) -> list[str]:
    """Names of the tests to run: top-level ``test_*`` functions, then ``check`` (HumanEval)."""
    names = [n.name for n in tree.body
             if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
             and n.name.startswith("test_")]
    names = list(dict.fromkeys(names))
    has_check = any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "check"
                    for n in tree.body)
    if has_check and entry_point:
        names.append("check")
    return names


def set_limits(limits: dict) -> None:
    """Lower the limits of this process; children inherit them."""
    cpu = int(limits["cpu_s"])
    memory = int(limits["memory_bytes"])
    for which, value in (
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_FSIZE, FILE_SIZE_BYTES),
        (resource.RLIMIT_NOFILE, OPEN_FILES),
    ):
        _soft, hard = resource.getrlimit(which)
        new_hard = value if hard == resource.RLIM_INFINITY else min(hard, value)
        if which == resource.RLIMIT_CPU and new_hard == value:
            new_hard = value + 1  # SIGXCPU at the soft limit, SIGKILL one second later
        try:
            resource.setrlimit(which, (min(value, new_hard), new_hard))
        except (ValueError, OSError):
            pass


def drop_privileges(uid: int) -> None:
    """Become ``uid``. Keep the interpreter's own folders reachable through open handles.

    The interpreter may live where the sandbox uid cannot look (``/root/.pyenv``); a directory
    handle opened now, and named as ``/proc/self/fd/N``, lets later imports of the standard
    library still work without giving the sandbox uid any access it did not already have.
    """
    handles: dict[str, str] = {}  # folder -> /proc/self/fd/N
    for entry in sys.path:
        if entry and entry not in handles and os.path.isdir(entry):
            try:
                fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                continue
            handles[entry] = f"/proc/self/fd/{fd}"
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.geteuid() == 0 or os.getuid() == 0:
        raise SystemExit("could not drop privileges")
    if not all(os.path.isdir(p) for p in handles.values()):
        return _limit_processes()  # no /proc: later imports from unreadable folders will fail

    def reroute(path: str) -> str:
        for folder, handle in handles.items():
            if path == folder or path.startswith(folder.rstrip("/") + "/"):
                return handle + path[len(folder):]
        return path

    sys.path[:] = [reroute(p) for p in sys.path]
    for module in list(sys.modules.values()):  # packages already imported, e.g. encodings
        search = getattr(module, "__path__", None)
        if isinstance(search, list):
            search[:] = [reroute(p) if isinstance(p, str) else p for p in search]
    sys.path_importer_cache.clear()
    _limit_processes()


def _limit_processes() -> None:
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (SANDBOX_PROCESSES, SANDBOX_PROCESSES))
    except (ValueError, OSError):
        pass


class Guard:
    """The audit hook: refuses writes outside the folder, new processes and the network.

    Each refusal is reported on the channel at once (so it survives a later kill) and raised
    as ``PermissionError`` inside the candidate code.
    """

    def __init__(self, workdir: str, channel: Channel, private_roots: list[str],
                 readable_roots: list[str]) -> None:
        self.workdir = os.path.realpath(workdir)
        self.channel = channel
        self.private_roots = [os.path.realpath(p) for p in private_roots if p]
        self.readable_roots = [os.path.realpath(p) for p in readable_roots if p]
        self.pid = os.getpid()
        self.busy = False
        self.reported: set[str] = set()

    @staticmethod
    def inside(path: str, root: str) -> bool:
        return path == root or path.startswith(root.rstrip("/") + "/")

    def resolve(self, path: object) -> str | None:
        if isinstance(path, int):
            return None
        try:
            raw = os.fsdecode(os.fspath(path))  # type: ignore[call-overload]
        except TypeError:
            return None
        return os.path.realpath(raw)

    def writable(self, path: str) -> bool:
        return self.inside(path, self.workdir) or path == os.devnull

    def refuse(self, kind: str, what: str) -> None:
        reason = f"forbidden: {kind}"
        key = f"{reason} {what}"
        if key not in self.reported:
            self.reported.add(key)
            self.channel.send(event="violation", reason=reason, what=short(what, 200))
        raise PermissionError(f"{reason}: {what}")

    def check_read(self, path: str) -> None:
        if self.inside(path, "/proc") and not self.inside(path, "/proc/self"):
            parts = path.split("/")
            if len(parts) > 2 and parts[2].isdigit() and int(parts[2]) != self.pid:
                self.refuse("read outside sandbox", path)
        for root in self.private_roots:
            if self.inside(path, root) and not any(self.inside(path, r)
                                                   for r in self.readable_roots):
                self.refuse("read outside sandbox", path)

    def __call__(self, event: str, args: tuple) -> None:
        if self.busy:
            return
        self.busy = True
        try:
            self.check(event, args)
        finally:
            self.busy = False

    def check(self, event: str, args: tuple) -> None:
        if event in PROCESS_EVENTS:
            self.refuse("process creation", event)
        if event in NETWORK_EVENTS:
            self.refuse("network", event)
        if event == "open":
            path = self.resolve(args[0])
            if path is None:
                return
            mode, flags = args[1], args[2] or 0
            writing = bool(flags & WRITE_FLAGS) or (
                isinstance(mode, str) and any(c in mode for c in "wax+"))
            if writing and not self.writable(path):
                self.refuse("write outside sandbox", path)
            if not writing:
                self.check_read(path)
                if mode is None and os.path.isdir(path) and not self.writable(path):
                    # os.open on a folder yields a dir_fd, which would let relative writes escape
                    self.refuse("write outside sandbox", path + " (directory handle)")
            return
        indexes = PATH_WRITE_EVENTS.get(event)
        if indexes:
            for index in indexes:
                if index < len(args):
                    path = self.resolve(args[index])
                    if path is not None and not self.writable(path):
                        self.refuse("write outside sandbox", path)


def main() -> int:
    channel = Channel(int(sys.argv[1]))
    workdir = os.getcwd()
    with open("payload.json", encoding="utf-8") as handle:
        payload = json.load(handle)
    os.remove("payload.json")
    code: str = payload["code"]
    tests: str = payload["tests"]
    entry_point: str | None = payload.get("entry_point")

    set_limits(payload["limits"])
    if payload.get("uid") is not None and os.geteuid() == 0:
        drop_privileges(int(payload["uid"]))
    os.environ["TMPDIR"] = workdir  # tempfile stays inside the folder

    try:
        tests_tree = ast.parse(tests, "tests.py")
        tests_code = compile(tests_tree, "tests.py", "exec")
    except SyntaxError as exc:
        channel.send(event="fatal",
                     reason=f"tests error: syntax error: line {exc.lineno}: {exc.msg}")
        return 0
    plan = planned_tests(tests_tree, entry_point)
    channel.send(event="plan", tests=plan)
    try:
        solution_code = compile(code, "solution.py", "exec")
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", str(exc))
        where = f"line {line}: " if line else ""
        channel.send(event="fatal", reason=short(f"syntax error: {where}{msg}"))
        return 0
    except MemoryError:
        channel.send(event="fatal", reason="memory")
        return 0
    for name, source in (("solution.py", code), ("tests.py", tests)):
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)

    private = payload.get("private_roots", [])
    readable = list(sys.path) + [sys.prefix, sys.base_prefix, sys.exec_prefix, workdir]
    sys.addaudithook(Guard(workdir, channel, private, readable))

    module = types.ModuleType("solution")
    module.__file__ = os.path.join(workdir, "solution.py")
    sys.modules["solution"] = module
    namespace = module.__dict__
    try:
        exec(solution_code, namespace)  # noqa: S102 - running it is the point of the sandbox
    except BaseException as exc:  # noqa: BLE001 - anything the candidate raises is its failure
        kind = "memory" if isinstance(exc, MemoryError) else f"crashed: {describe(exc)}"
        channel.send(event="fatal", reason=short(kind))
        return 0
    try:
        exec(tests_code, namespace)  # noqa: S102
    except BaseException as exc:  # noqa: BLE001
        channel.send(event="fatal", reason=short(f"tests error: {describe(exc)}"))
        return 0

    for name in plan:
        channel.send(event="start", test=name)
        try:
            if name == "check":
                if entry_point not in namespace:
                    raise NameError(f"entry point {entry_point!r} is not defined")
                namespace["check"](namespace[entry_point])
            else:
                namespace[name]()
        except BaseException as exc:  # noqa: BLE001
            channel.send(event="result", test=name, ok=False, error=describe(exc),
                         memory=isinstance(exc, MemoryError))
        else:
            channel.send(event="result", test=name, ok=True)
    flush()
    channel.send(event="done")
    return 0


def flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001, S110 - a closed or replaced stream is the candidate's
            pass


if __name__ == "__main__":
    try:
        status = main()
    finally:
        flush()
    os._exit(status)  # skip atexit handlers the candidate may have registered
