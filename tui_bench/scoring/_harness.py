"""The program the sandbox runs; it scores untrusted code against trusted tests.

It is started as ``python -I -B _harness.py <result fd>`` in a fresh folder that holds
``payload.json`` (the code and limits) and ``tests.json`` (the tests). It splits in two:

* the **solution's process** (a fork, dropped to its own unprivileged uid where we are root)
  runs the candidate code under an audit hook and answers requests: call this, get that
  attribute, iterate that;
* the **judge** (this process) reads the tests only after the fork, holds the result pipe,
  makes itself non-dumpable (so the solution's process cannot read or write its memory), and
  runs the tests against proxies of the solution's functions.

Values cross between the two as data: exact ``int``, ``float``, ``str``, ``list``, ``dict`` and
so on, decoded by the judge into its own objects, so a ``float`` subclass whose ``==`` always
holds arrives as a plain ``float``. Objects of the solution's own classes stay in its process
and compare by identity in the judge. The solution cannot reach the result pipe, patch the
judge's code or forge its comparisons; the worst it can do is answer wrongly, crash or hang.

Results go out as JSON lines on the result pipe, never on stdout, which the candidate owns.
Only the standard library is used, and nothing from ``tui_bench``: the parent runs this file by
path.
"""

from __future__ import annotations

import ast
import builtins
import json
import linecache
import os
import resource
import signal
import sys
import traceback
import types

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~20 ms to import, paid on every run
    from collections.abc import Callable
    from typing import Any, NoReturn

MAX_ERROR = 300
FILE_SIZE_BYTES = 32 * 1024 * 1024
OPEN_FILES = 128
SANDBOX_PROCESSES = 24  # for the solution's uid only: its process is one task
MAX_MESSAGE = 16 * 1024 * 1024  # one value crossing between the two processes
PR_SET_DUMPABLE = 4

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
# Exceptions the solution may raise into the tests as themselves; others become SolutionError.
PASSABLE_EXCEPTIONS = {
    name: value for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, Exception)
}


class SolutionError(Exception):
    """An exception from the solution's process that the judge does not re-create as itself."""


class SolutionGone(Exception):
    """The solution's process ended (or broke the protocol) while the judge waited on it."""


class Channel:
    """The result pipe, held by the judge only. ``os.write`` raises no audit event."""

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


def drop_privileges(uid: int, *, limit_processes: bool) -> None:
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
    if limit_processes:
        try:
            resource.setrlimit(resource.RLIMIT_NPROC, (SANDBOX_PROCESSES, SANDBOX_PROCESSES))
        except (ValueError, OSError):
            pass
    if not all(os.path.isdir(p) for p in handles.values()):
        return  # no /proc: later imports from unreadable folders will fail

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


class Guard:
    """The audit hook: refuses writes outside the folder, new processes and the network.

    Each refusal is reported at once through ``report`` (so it survives a later kill) and
    raised as ``PermissionError``. It is a tripwire that names what the code tried; the
    operating system (bwrap, uid, rlimits) is what actually holds.
    """

    def __init__(self, workdir: str, report: Callable[[str, str], None],
                 private_roots: list[str], readable_roots: list[str]) -> None:
        self.workdir = os.path.realpath(workdir)
        self.report = report
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
            self.report(reason, short(what, 200))
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


# ----------------------------------------------------------------------------- the wire


class Wire:
    """JSON lines over a pair of pipes, one message per line, each at most MAX_MESSAGE."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.buffer = bytearray()

    def send(self, message: object) -> None:
        data = (json.dumps(message) + "\n").encode()
        while data:
            written = os.write(self.write_fd, data)
            data = data[written:]

    def recv(self) -> Any:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 1]
                return json.loads(line)
            if len(self.buffer) > MAX_MESSAGE:
                raise SolutionGone("a value from the solution was too large")
            chunk = os.read(self.read_fd, 1 << 16)
            if not chunk:
                raise EOFError
            self.buffer += chunk


_TAGGED_CONTAINERS = (tuple, set, frozenset, dict, bytes, bytearray, complex)


def encode(value: Any, other: Callable[[Any], Any]) -> Any:
    """A value as JSON-ready data: builtins by value, anything else through ``other``."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, list):
        return [encode(item, other) for item in list.__iter__(value)]
    if isinstance(value, tuple):
        return {"$": "tuple", "v": [encode(item, other) for item in tuple.__iter__(value)]}
    if isinstance(value, frozenset):
        return {"$": "frozenset", "v": [encode(item, other) for item in frozenset.__iter__(value)]}
    if isinstance(value, set):
        return {"$": "set", "v": [encode(item, other) for item in set.__iter__(value)]}
    if isinstance(value, dict):
        return {"$": "dict", "v": [[encode(k, other), encode(v, other)]
                                   for k, v in dict.items(value)]}
    if isinstance(value, (bytes, bytearray)):
        return {"$": "bytearray" if isinstance(value, bytearray) else "bytes",
                "v": bytes(value).hex()}
    if isinstance(value, complex):
        return {"$": "complex", "v": [float(value.real), float(value.imag)]}
    if isinstance(value, range):
        return {"$": "range", "v": [value.start, value.stop, value.step]}
    # A value of these types exists only if its module was imported: no import here.
    for module, name, tag in (("fractions", "Fraction", "fraction"),
                              ("decimal", "Decimal", "decimal"),
                              ("collections", "deque", "deque")):
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(value, getattr(loaded, name)):
            if tag == "fraction":
                return {"$": tag, "v": [int(value.numerator), int(value.denominator)]}
            if tag == "decimal":
                return {"$": tag, "v": str(value)}
            return {"$": tag, "v": [encode(item, other) for item in value]}
    return other(value)


def decode(data: Any, tagged: Callable[[dict], Any]) -> Any:
    """Data from the other process as plain objects; tags not known here go to ``tagged``."""
    kind = type(data)
    if data is None or kind in (bool, int, float, str):
        return data
    if kind is list:
        return [decode(item, tagged) for item in data]
    if kind is not dict:
        raise SolutionGone(f"unexpected data from the solution: {kind.__name__}")
    tag, items = data.get("$"), data.get("v")
    if tag in ("tuple", "set", "frozenset") and type(items) is list:
        values = [decode(item, tagged) for item in items]
        return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](values)
    if tag == "dict" and type(items) is list:
        return {decode(pair[0], tagged): decode(pair[1], tagged) for pair in items}
    if tag in ("bytes", "bytearray") and type(items) is str:
        raw = bytes.fromhex(items)
        return raw if tag == "bytes" else bytearray(raw)
    if tag == "complex" and type(items) is list and len(items) == 2:
        return complex(float(items[0]), float(items[1]))
    if tag in ("range", "fraction") and type(items) is list \
            and all(type(i) is int for i in items):
        if tag == "range":
            return range(*items)
        from fractions import Fraction

        return Fraction(*items)
    if tag == "decimal" and type(items) is str:
        from decimal import Decimal

        return Decimal(items)
    if tag == "deque" and type(items) is list:
        from collections import deque

        return deque(decode(item, tagged) for item in items)
    return tagged(data)


# ----------------------------------------------------------------------------- the solution


OPERATIONS: dict[str, Callable[..., Any]] = {
    "iter": iter, "next": next, "len": len, "repr": repr, "str": str,
    "getitem": lambda t, k: t[k], "contains": lambda t, k: k in t,
    "setitem": lambda t, k, v: t.__setitem__(k, v), "delitem": lambda t, k: t.__delitem__(k),
}


class Host:
    """The solution's side: runs the candidate code and answers the judge's requests."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self.objects: dict[int, Any] = {}
        self.ids: dict[int, int] = {}  # id(obj) -> handle, so one object keeps one handle

    def handle(self, value: Any) -> int:
        key = id(value)
        if key not in self.ids:
            self.ids[key] = len(self.objects) + 1
            self.objects[self.ids[key]] = value
        return self.ids[key]

    def reference(self, value: Any) -> dict:
        if isinstance(value, types.ModuleType):
            return {"$": "module", "name": value.__name__, "id": self.handle(value)}
        if isinstance(value, type) and issubclass(value, BaseException):
            base = next((c.__name__ for c in value.__mro__ if c.__name__ in PASSABLE_EXCEPTIONS
                         and PASSABLE_EXCEPTIONS[c.__name__] is c), "Exception")
            return {"$": "exception", "name": value.__name__, "base": base,
                    "id": self.handle(value)}
        return {"$": "ref", "id": self.handle(value), "type": type(value).__name__}

    def encode(self, value: Any) -> Any:
        try:
            return encode(value, self.reference)
        except RecursionError:
            return self.reference(value)

    def resolve(self, data: dict) -> Any:
        if data.get("$") == "ref" and data.get("id") in self.objects:
            return self.objects[data["id"]]
        if data.get("$") == "callback" and type(data.get("id")) is int:
            return Callback(self, data["id"])
        raise ValueError("unknown value from the tests")

    def call_back(self, handle: int, args: tuple, kwargs: dict) -> Any:
        """Call a function of the tests (a decorator's argument, a key function) in the judge,
        answering the judge's own requests meanwhile, until its result comes back."""
        self.wire.send({"callback": handle, "args": [self.encode(a) for a in args],
                        "kwargs": [[k, self.encode(v)] for k, v in kwargs.items()]})
        while True:
            try:
                message = self.wire.recv()
            except (EOFError, ValueError, OSError):
                flush()
                os._exit(0)
            if type(message) is dict and "op" in message:
                self.wire.send(self.handle_request(message))
            elif type(message) is dict and "ok" in message:
                return decode(message["ok"], self.resolve)
            else:
                info = message.get("raise") if type(message) is dict else None
                info = info if type(info) is dict else {}
                kind = PASSABLE_EXCEPTIONS.get(str(info.get("type")), RuntimeError)
                raise kind(str(info.get("msg", "the tests' function failed")))

    def answer(self, request: dict) -> dict:
        op = request.get("op")
        target = self.objects[request["id"]]
        args = [decode(a, self.resolve) for a in request.get("args", [])]
        if op == "call":
            kwargs = {str(k): decode(v, self.resolve) for k, v in request.get("kwargs", [])}
            result = target(*args, **kwargs)
            after = [self.encode(a) if isinstance(a, (list, dict, set, bytearray)) else None
                     for a in args]
            return {"ok": self.encode(result), "after": after}
        if op == "getattr":
            return {"ok": self.encode(getattr(target, str(request["name"])))}
        if op == "setattr":
            setattr(target, str(request["name"]), args[0])
            return {"ok": None}
        function = OPERATIONS.get(str(op))
        if function is not None:
            return {"ok": self.encode(function(target, *args))}
        raise ValueError(f"unknown request {op!r}")

    def handle_request(self, request: dict) -> dict:
        """The reply to one request: its result, or the exception the solution raised."""
        try:
            reply = self.answer(request)
            json.dumps(reply)  # an unsendable answer is the solution's failure, said here
            return reply
        except BaseException as exc:  # noqa: BLE001 - the solution's failure, sent back
            kind = type(exc)
            reply = {"raise": {"type": kind.__name__, "msg": short(str(exc), 1000),
                               "where": where_in_solution(exc)}}
            if kind.__name__ not in PASSABLE_EXCEPTIONS \
                    or PASSABLE_EXCEPTIONS[kind.__name__] is not kind:
                reply["raise"]["class"] = self.reference(kind)
            return reply

    def serve(self) -> None:
        while True:
            try:
                request = self.wire.recv()
            except (EOFError, ValueError, OSError):
                return
            if type(request) is dict:
                self.wire.send(self.handle_request(request))


class Callback:
    """The solution's stand-in for a function of the tests: calling it asks the judge."""

    def __init__(self, host: Host, handle: int) -> None:
        self._host = host
        self._handle = handle

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._host.call_back(self._handle, args, kwargs)


def where_in_solution(exc: BaseException) -> str:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == "solution.py":
            return f"solution.py:{frame.lineno}: {(frame.line or '').strip()}"
    return ""


def run_solution(payload: dict, wire: Wire, workdir: str) -> NoReturn:
    """The solution's process: run the code, report its names, answer requests, exit."""
    code: str = payload["code"]
    os.environ["TMPDIR"] = workdir  # tempfile stays inside the folder
    try:
        solution_code = compile(code, "solution.py", "exec")
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", str(exc))
        where = f"line {line}: " if line else ""
        wire.send({"fatal": short(f"syntax error: {where}{msg}")})
        os._exit(0)
    except MemoryError:
        wire.send({"fatal": "memory"})
        os._exit(0)
    linecache.cache["solution.py"] = (len(code), None, code.splitlines(True), "solution.py")

    def report(reason: str, what: str) -> None:
        try:
            wire.send({"violation": {"reason": reason, "what": what}})
        except OSError:
            pass

    readable = list(sys.path) + [sys.prefix, sys.base_prefix, sys.exec_prefix, workdir]
    sys.addaudithook(Guard(workdir, report, payload.get("private_roots", []), readable))
    module = types.ModuleType("solution")
    module.__file__ = os.path.join(workdir, "solution.py")
    sys.modules["solution"] = module
    host = Host(wire)
    try:
        exec(solution_code, module.__dict__)  # noqa: S102 - running it is the point of the sandbox
        names = [[name, host.encode(value)] for name, value in list(module.__dict__.items())
                 if not (name.startswith("__") and name.endswith("__"))]
        wire.send({"ready": names})
    except BaseException as exc:  # noqa: BLE001 - anything the candidate raises is its failure
        kind = "memory" if isinstance(exc, MemoryError) else f"crashed: {describe(exc)}"
        try:
            wire.send({"fatal": short(kind)})
        except BaseException:  # noqa: BLE001, S110 - the judge will see the process end
            pass
        flush()
        os._exit(0)
    host.serve()
    flush()
    os._exit(0)


# ----------------------------------------------------------------------------- the judge


class Remote:
    """The judge's stand-in for an object that lives in the solution's process.

    Calls, attributes, iteration, indexing, ``len``, ``in``, ``repr`` and ``str`` are asked of
    the solution; equality, hashing and truth are the judge's own (identity), so an object
    cannot vouch for itself.
    """

    __slots__ = ("_id", "_link", "_type")

    def __init__(self, link: Link, handle: int, type_name: str) -> None:
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_id", handle)
        object.__setattr__(self, "_type", type_name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._link.call(self, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._link.ask("getattr", self, name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._link.ask("setattr", self, value, name=name)

    def __iter__(self) -> Any:
        found = self._link.ask("iter", self)
        return found if isinstance(found, Remote) else iter(found)

    def __next__(self) -> Any:
        return self._link.ask("next", self)

    def __len__(self) -> int:
        return self._link.ask("len", self)

    def __getitem__(self, key: Any) -> Any:
        return self._link.ask("getitem", self, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._link.ask("setitem", self, key, value)

    def __delitem__(self, key: Any) -> None:
        self._link.ask("delitem", self, key)

    def __bool__(self) -> bool:
        return True  # never the solution's own __len__ or __bool__: `assert not x` stays honest

    def __contains__(self, key: Any) -> bool:
        return self._link.ask("contains", self, key) is True

    def __repr__(self) -> str:
        text = self._link.ask("repr", self)
        return text if type(text) is str else f"<{self._type} from the solution>"

    def __str__(self) -> str:
        text = self._link.ask("str", self)
        return text if type(text) is str else repr(self)


class Link:
    """The judge's end of the wire: asks, waits, decodes, re-raises."""

    def __init__(self, wire: Wire, on_violation: Callable[[Any], None]) -> None:
        self.wire = wire
        self.on_violation = on_violation
        self.exceptions: dict[int, type] = {}
        self.callbacks: list[Callable[..., Any]] = []

    def remote_handle(self, value: Any) -> Any:
        if isinstance(value, Remote):
            return {"$": "ref", "id": value._id}
        for handle, kind in self.exceptions.items():
            if value is kind:
                return {"$": "ref", "id": handle}
        if callable(value):  # a key function, a decorator's target: called back in the judge
            self.callbacks.append(value)
            return {"$": "callback", "id": len(self.callbacks) - 1}
        raise TypeError(f"a {type(value).__name__} cannot be passed to the solution")

    def run_callback(self, message: dict) -> None:
        """The solution calls a function of the tests: run it here, send back its result."""
        try:
            function = self.callbacks[int(message["callback"])]
            args = [decode(a, self.tagged) for a in message.get("args", [])]
            kwargs = {str(k): decode(v, self.tagged) for k, v in message.get("kwargs", [])}
        except (TypeError, ValueError, KeyError, IndexError, RecursionError):
            raise SolutionGone("the solution broke the protocol") from None
        try:
            reply: dict[str, Any] = {"ok": encode(function(*args, **kwargs), self.remote_handle)}
        except SolutionGone:
            raise
        except Exception as exc:  # noqa: BLE001 - the tests' function failed: the solution sees it
            reply = {"raise": {"type": type(exc).__name__, "msg": short(str(exc), 1000)}}
        self.wire.send(reply)

    def tagged(self, data: dict) -> Any:
        tag, handle = data.get("$"), data.get("id")
        if type(handle) is not int:
            raise SolutionGone("unexpected data from the solution")
        if tag == "module":
            name = str(data.get("name"))
            if name.split(".")[0] in sys.stdlib_module_names:
                try:
                    return __import__(name, fromlist=["_"])
                except ImportError:
                    pass
            return Remote(self, handle, "module")
        if tag == "exception":
            if handle not in self.exceptions:
                base = PASSABLE_EXCEPTIONS.get(str(data.get("base")), Exception)
                name = str(data.get("name"))
                self.exceptions[handle] = type(name if name.isidentifier() else "SolutionError",
                                               (base,), {"__module__": "solution"})
            return self.exceptions[handle]
        if tag == "ref":
            return Remote(self, handle, short(str(data.get("type")), 60))
        raise SolutionGone("unexpected data from the solution")

    def receive(self) -> Any:
        while True:
            try:
                message = self.wire.recv()
            except EOFError:
                raise SolutionGone("") from None
            except (ValueError, RecursionError):
                raise SolutionGone("the solution broke the protocol") from None
            if type(message) is dict and "violation" in message:
                self.on_violation(message["violation"])
                continue
            if type(message) is dict and "callback" in message:
                self.run_callback(message)
                continue
            if type(message) is not dict:
                raise SolutionGone("the solution broke the protocol")
            return message

    def ask(self, op: str, target: Remote, *args: Any, **fields: Any) -> Any:
        reply = self.request(op, target, args, fields)
        return reply

    def call(self, target: Remote, args: tuple, kwargs: dict) -> Any:
        return self.request("call", target, args, {}, kwargs)

    def request(self, op: str, target: Remote, args: tuple, fields: dict,
                kwargs: dict | None = None) -> Any:
        message: dict[str, Any] = {"op": op, "id": target._id, **fields,
                                   "args": [encode(a, self.remote_handle) for a in args]}
        if kwargs:
            message["kwargs"] = [[k, encode(v, self.remote_handle)] for k, v in kwargs.items()]
        self.wire.send(message)
        reply = self.receive()
        if "ok" in reply:
            try:
                value = decode(reply["ok"], self.tagged)
                after = reply.get("after")
                if type(after) is list:
                    for arg, new in zip(args, after, strict=False):
                        if new is not None:
                            update_in_place(arg, decode(new, self.tagged))
            except (TypeError, ValueError, RecursionError) as exc:
                raise SolutionGone(f"unreadable value from the solution: {exc}") from None
            return value
        if "raise" in reply and type(reply["raise"]) is dict:
            raise self.exception(reply["raise"])
        raise SolutionGone("the solution broke the protocol")

    def exception(self, info: dict) -> BaseException:
        name, message = str(info.get("type")), short(str(info.get("msg", "")), 1000)
        where = str(info.get("where") or "")
        if where:
            message = f"{message} (at {short(where, 200)})" if message else f"at {where}"
        kind: type = PASSABLE_EXCEPTIONS.get(name, SolutionError)
        if type(info.get("class")) is dict:
            try:
                found = self.tagged(info["class"])
                if isinstance(found, type) and issubclass(found, Exception):
                    kind = found
            except SolutionGone:
                pass
        if kind is SolutionError:
            message = f"{name}: {message}"
        return kind(message)


def update_in_place(original: Any, new: Any) -> None:
    """Let the tests see what the solution did to a list, dict, set or bytearray it was given."""
    if type(original) is list and type(new) is list:
        original[:] = new
    elif type(original) is dict and type(new) is dict or type(original) is set and type(new) is set:
        original.clear()
        original.update(new)
    elif type(original) is bytearray and type(new) is bytearray:
        original[:] = new


def make_undumpable() -> None:
    """Refuse ptrace and /proc/PID/mem to processes of the same uid (the solution's)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def ended(pid: int) -> str:
    """Why the solution's process is gone, in the words the parent uses."""
    try:
        _pid, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "crashed: the solution's process ended"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == signal.SIGXCPU:
            return "timeout"
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"crashed: killed by {name}"
    return f"crashed: exit code {os.WEXITSTATUS(status)} before the tests finished"


def main() -> int:
    channel = Channel(int(sys.argv[1]))
    workdir = os.getcwd()
    with open("payload.json", encoding="utf-8") as handle:
        payload = json.load(handle)
    os.remove("payload.json")
    set_limits(payload["limits"])
    # started with -S (no site: its .pth hooks cost tens of ms); the packages stay importable
    sys.path.extend(p for p in payload.get("site_packages", []) if p not in sys.path)

    to_solution_r, to_solution_w = os.pipe()
    to_judge_r, to_judge_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the solution's process: no result pipe, no tests, its own uid
        for fd in (channel.fd, to_solution_w, to_judge_r):
            os.close(fd)
        try:
            if payload.get("solution_uid") is not None and os.geteuid() == 0:
                drop_privileges(int(payload["solution_uid"]), limit_processes=True)
            run_solution(payload, Wire(to_solution_r, to_judge_w), workdir)
        finally:
            os._exit(1)
    os.close(to_solution_r)
    os.close(to_judge_w)
    return judge(channel, payload, Wire(to_judge_r, to_solution_w), pid, workdir)


def judge(channel: Channel, payload: dict, wire: Wire, pid: int, workdir: str) -> int:
    """Read the tests, become unprivileged and undumpable, run every test, report."""
    try:
        with open("tests.json", encoding="utf-8") as handle:
            tests_payload = json.load(handle)
        os.remove("tests.json")
    except OSError as exc:
        channel.send(event="fatal", reason=short(f"tests error: could not read them: {exc}"))
        return 0
    if payload.get("judge_uid") is not None and os.geteuid() == 0:
        drop_privileges(int(payload["judge_uid"]), limit_processes=False)
    make_undumpable()
    tests: str = tests_payload["tests"]
    entry_point: str | None = tests_payload.get("entry_point")
    try:
        tests_tree = ast.parse(tests, "tests.py")
        tests_code = compile(tests_tree, "tests.py", "exec")
    except SyntaxError as exc:
        channel.send(event="fatal",
                     reason=f"tests error: syntax error: line {exc.lineno}: {exc.msg}")
        return 0
    plan = planned_tests(tests_tree, entry_point)
    channel.send(event="plan", tests=plan)
    linecache.cache["tests.py"] = (len(tests), None, tests.splitlines(True), "tests.py")

    def forward(violation: Any) -> None:
        if type(violation) is dict:
            channel.send(event="violation", reason=short(str(violation.get("reason")), 100),
                         what=short(str(violation.get("what")), 200))

    link = Link(wire, forward)
    try:
        ready = link.receive()
        if "fatal" in ready:
            channel.send(event="fatal", reason=short(str(ready["fatal"])))
            return 0
        names = ready.get("ready")
        if type(names) is not list:
            raise SolutionGone("the solution broke the protocol")
        namespace = solution_namespace(link, names, entry_point)
    except SolutionGone as exc:
        channel.send(event="fatal", reason=str(exc) or ended(pid))
        return 0

    def report(reason: str, what: str) -> None:
        channel.send(event="violation", reason=reason, what=what)

    readable = list(sys.path) + [sys.prefix, sys.base_prefix, sys.exec_prefix, workdir]
    sys.addaudithook(Guard(workdir, report, payload.get("private_roots", []), readable))
    try:
        exec(tests_code, namespace)  # noqa: S102 - the scenario's own tests
    except SolutionGone as exc:
        channel.send(event="fatal", reason=str(exc) or ended(pid))
        return 0
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
        except SolutionGone as exc:
            reason = str(exc) or ended(pid)
            channel.send(event="result", test=name, ok=False,
                         error=short(f"the solution's process ended ({reason})"))
            channel.send(event="fatal", reason=reason)
            return 0
        except BaseException as exc:  # noqa: BLE001
            channel.send(event="result", test=name, ok=False, error=describe(exc),
                         memory=isinstance(exc, MemoryError))
        else:
            channel.send(event="result", test=name, ok=True)
    channel.send(event="done")
    return 0


def solution_namespace(link: Link, names: list, entry_point: str | None) -> dict[str, Any]:
    """The tests' globals: the solution's names, but never one that shadows a builtin."""
    module = types.ModuleType("solution")
    sys.modules["solution"] = module
    namespace = module.__dict__
    for pair in names:
        if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
            raise SolutionGone("the solution broke the protocol")
        name = pair[0]
        if name.startswith("__") or (hasattr(builtins, name) and name != entry_point):
            continue  # a solution's own `all` or `isinstance` must not judge the tests
        try:
            namespace[name] = decode(pair[1], link.tagged)
        except (TypeError, ValueError, RecursionError):
            raise SolutionGone("unreadable value from the solution") from None
    return namespace


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
