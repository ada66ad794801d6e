"""The sandbox holds at the operating-system level, and its verdicts cannot be forged.

Every hostile payload is a file under ``tests/hostile/``: model-written code that got past the
old audit hook (ctypes ``open``/``connect``/``system``, ``_posixsubprocess.fork_exec``, an
orphan left behind) and three answers that forged a 5/5 score. Each must now fail to reach
outside, and each forgery must score 0/5 while the honest answer scores 5/5.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_bench.scoring import isolation as iso
from tui_bench.scoring.sandbox import run_command, run_python

HOSTILE = Path(__file__).parent / "hostile"
ROOT = Path(__file__).resolve().parents[1]
ADD_TESTS = "def test_add():\n    assert add(1, 2) == 3\n"
MEAN_TESTS = (HOSTILE / "forge_tests.py").read_text()
HONEST_MEAN = "def mean(values):\n    return sum(values) / len(values)\n"
FORGERIES = ["forge_result_pipe", "forge_channel_send", "forge_float_eq"]
needs_bwrap = pytest.mark.skipif(iso.isolation() != iso.BWRAP,
                                 reason="bwrap cannot make namespaces on this machine")


def hostile(name: str, **fill: object) -> str:
    text = (HOSTILE / f"{name}.py").read_text()
    for key, value in fill.items():
        text = text.replace(f"__{key.upper()}__", str(value))
    return text


class Listener:
    """A loopback TCP listener that records whatever reaches it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.received.append(conn.recv(100) or b"(connected)")
                except OSError:
                    self.received.append(b"(connected)")

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def outside_targets() -> Iterator[list[Path]]:
    """Paths outside the sandbox, in /tmp and in the home folder, that must never appear."""
    tag = uuid.uuid4().hex
    paths = [Path("/tmp") / f"tui-bench-escape-{tag}", Path.home() / f".tui-bench-escape-{tag}"]
    yield paths
    for path in paths:
        path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- escapes


@needs_bwrap
@pytest.mark.parametrize("payload", ["ctypes_open", "ctypes_system"])
def test_files_outside_are_not_created(payload: str, outside_targets: list[Path]) -> None:
    for target in outside_targets:
        result = run_python(hostile(payload, target=target), ADD_TESTS, entry_point="add",
                            timeout_s=5)
        assert result.isolation == "bwrap"
        assert not target.exists(), f"{payload} created {target}"


@needs_bwrap
def test_network_is_unreachable_past_the_hook(listener: Listener) -> None:
    result = run_python(hostile("ctypes_connect", port=listener.port), ADD_TESTS,
                        entry_point="add", timeout_s=5)
    assert result.ok  # its answer is right; it simply had no network
    time.sleep(0.3)  # the listener is polled: give a connection that got through time to land
    assert listener.received == []


@needs_bwrap
def test_an_unhooked_child_interpreter_cannot_write_or_connect(
        listener: Listener, outside_targets: list[Path]) -> None:
    target = outside_targets[0]
    result = run_python(hostile("fork_exec_child", target=target, port=listener.port),
                        ADD_TESTS, entry_point="add", timeout_s=8)
    assert result.isolation == "bwrap"
    time.sleep(0.3)
    assert not target.exists()
    assert listener.received == []


def _processes_with(argv: list[bytes]) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if cmdline[: len(argv)] == argv and state not in ("Z", "X"):
            found.append(int(entry))
    return found


def _wait_for(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


PARENTS = {
    "run_python": (
        "import sys\nfrom tui_bench.scoring.sandbox import run_python\n"
        "code = open(sys.argv[1]).read() + '\\nimport time\\ntime.sleep(120)\\n'\n"
        "run_python(code, 'def test_add():\\n    assert add(1, 2) == 3\\n', entry_point='add',"
        " timeout_s=120)\n"),
    "run_command": (
        "import sys\nfrom pathlib import Path\nfrom tui_bench.scoring.sandbox import run_command\n"
        "run_command([sys.executable, sys.argv[1]], Path(sys.argv[2]), timeout_s=120)\n"),
}


@needs_bwrap
@pytest.mark.parametrize("runner", sorted(PARENTS))
def test_sigkill_of_tui_bench_leaves_nothing_running_and_the_folder_goes_next_start(
        runner: str, tmp_path: Path) -> None:
    """tui-bench is SIGKILLed while the sandbox holds an orphan (a setsid'd ``sleep``): the
    orphan dies with it, and the sandbox folder it left is removed at the next start."""
    seconds = f"{700 + uuid.uuid4().int % 200}.{os.getpid()}"
    workdir = tmp_path / "work"
    workdir.mkdir()
    orphan = workdir / "orphan.py"  # the command's folder is all it can see
    orphan.write_text(hostile("orphan_sleeper", seconds=seconds)
                      + "\nimport time\ntime.sleep(120)\n")
    args = [str(orphan)] if runner == "run_python" else [str(orphan), str(workdir)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-c", PARENTS[runner], *args], env=env)
    argv = [b"sleep", seconds.encode()]
    try:
        assert _wait_for(lambda: _processes_with(argv), 30), "the orphan never started"
        folders = [p for p in Path("/tmp").glob(f"{iso.FOLDER_PREFIX}{parent.pid}-*")]
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert _wait_for(lambda: not _processes_with(argv), 10), "the orphan survived"
    finally:
        if parent.poll() is None:
            parent.kill()
        for pid in _processes_with(argv):
            os.kill(pid, signal.SIGKILL)
    if runner == "run_python":
        assert folders and all(p.exists() for p in folders)
        removed = iso.sweep_stale_folders()
        assert set(map(str, folders)) <= set(removed)
        assert not any(p.exists() for p in folders)


def test_a_live_process_keeps_its_sandbox_folder() -> None:
    mine = iso.new_folder()
    try:
        assert mine not in iso.sweep_stale_folders()
        assert os.path.isdir(mine)
    finally:
        iso.remove_folder(mine)


# ----------------------------------------------------------------------------- forgeries


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_pass_scores_nothing(forgery: str) -> None:
    honest = run_python(HONEST_MEAN, MEAN_TESTS, entry_point="mean", timeout_s=5)
    assert (honest.passed, honest.total, honest.reason) == (5, 5, None)
    forged = run_python(hostile(forgery), MEAN_TESTS, entry_point="mean", timeout_s=5)
    assert (forged.passed, forged.total) == (0, 5), forged


def test_objects_and_builtins_of_the_answer_cannot_vouch_for_themselves() -> None:
    """An object whose == is always true stays in the answer's process (compared by identity),
    and an answer's own ``all`` or ``abs`` never replaces the builtins the tests call."""
    code = (
        "class Yes:\n    def __eq__(self, other):\n        return True\n"
        "    def __len__(self):\n        return 0\n"
        "def mean(values):\n    return Yes()\n"
        "def abs(x):\n    return 0\n"
        "def all(x):\n    return True\n"
    )
    tests = MEAN_TESTS + (
        "\n\ndef test_not_falsy():\n    assert not (not mean([1]))\n"
        "\n\ndef test_abs_is_the_builtin():\n    assert abs(mean([1, 2]) - 1.5) < 1e-9\n"
        "\n\ndef test_all_is_the_builtin():\n    assert all(x == 1 for x in [mean([2])])\n"
    )
    result = run_python(code, tests, entry_point="mean", timeout_s=5)
    assert result.total == 8
    assert result.passed == 1  # only `not not obj`, which is True for any object
    assert [f["test"] for f in result.failures][:5] == [
        "test_one", "test_two", "test_three", "test_four", "test_five"]


def test_classes_generators_and_in_place_changes_still_work_across_processes() -> None:
    code = (
        "class Stack:\n    def __init__(self):\n        self.items = []\n"
        "    def push(self, x):\n        self.items.append(x)\n"
        "    def pop(self):\n        return self.items.pop()\n"
        "    def __len__(self):\n        return len(self.items)\n"
        "class EmptyError(ValueError):\n    pass\n"
        "def evens(n):\n    yield from range(0, n, 2)\n"
        "def sort_in_place(xs):\n    xs.sort()\n"
        "def fail():\n    raise EmptyError('nothing')\n"
        "LIMIT = (1, 2.5, 'x', None, {'k': {1, 2}}, b'ab', 3j)\n"
        "from fractions import Fraction\nfrom collections import deque\n"
        "def numbers():\n    return Fraction(1, 2), range(3), deque([1]), float('nan')\n"
        "def memoize(fn):\n    cache = {}\n    def wrapper(x):\n"
        "        if x not in cache:\n            cache[x] = fn(x)\n        return cache[x]\n"
        "    return wrapper\n"
        "def sort_by(items, key):\n    return sorted(items, key=key)\n"
    )
    tests = (
        "def test_class():\n    s = Stack()\n    s.push(3)\n    s.push(4)\n"
        "    assert len(s) == 2 and s.pop() == 4 and s.items == [3]\n"
        "def test_generator():\n    assert list(evens(7)) == [0, 2, 4, 6]\n"
        "def test_in_place():\n    data = [3, 1, 2]\n    sort_in_place(data)\n"
        "    assert data == [1, 2, 3]\n"
        "def test_custom_exception():\n    try:\n        fail()\n    except EmptyError as e:\n"
        "        assert isinstance(e, ValueError) and 'nothing' in str(e)\n    else:\n"
        "        raise AssertionError('no exception')\n"
        "def test_constants():\n    assert LIMIT == (1, 2.5, 'x', None, {'k': {1, 2}}, b'ab', 3j)\n"
        "    assert type(LIMIT[0]) is int and type(LIMIT[1]) is float\n"
        "def test_numbers():\n    half, three, queue, nan = numbers()\n"
        "    assert half == 0.5 and three == range(3) and list(queue) == [1] and nan != nan\n"
        "def test_functions_of_the_tests_are_called_back():\n    calls = []\n"
        "    @memoize\n    def square(x):\n        calls.append(x)\n        return x * x\n"
        "    assert [square(3), square(3), square(4)] == [9, 9, 16] and calls == [3, 4]\n"
        "    assert sort_by(['bb', 'a', 'ccc'], key=lambda s: -len(s)) == ['ccc', 'bb', 'a']\n"
    )
    result = run_python(code, tests, entry_point=None, timeout_s=5)
    assert result.ok, result.failures


# ----------------------------------------------------------------------------- commands


def test_command_runs_in_the_folder_with_tui_benchs_python(tmp_path: Path) -> None:
    (tmp_path / "test_it.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    script = "import sys; print(sys.executable); open('made.txt', 'w').write('hi')"
    result = run_command(["python", "-c", script], tmp_path, timeout_s=20)
    assert (result.exit_code, result.reason, result.timed_out) == (0, None, False)
    # the venv's python (the same interpreter as python3.11 beside it)
    assert os.path.samefile(result.output.strip(), sys.executable)
    assert (tmp_path / "made.txt").read_text() == "hi"
    assert (tmp_path / "made.txt").stat().st_uid == os.geteuid()  # given back to the caller
    tests = run_command(["python", "-m", "pytest", "-q", "-p", "no:cacheprovider"], tmp_path,
                        timeout_s=60)
    assert tests.exit_code == 0 and "1 passed" in tests.output, tests.output


@needs_bwrap
def test_command_sees_no_network_no_home_and_a_read_only_system(
        tmp_path: Path, listener: Listener) -> None:
    secret = Path.home() / f".tui-bench-secret-{uuid.uuid4().hex}"
    secret.write_text("secret")
    try:
        project_file = str(Path.cwd() / "pyproject.toml")
        script = (
            "import socket, os\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {listener.port}), timeout=2)\n"
            "    print('NET OPEN')\nexcept OSError as e:\n    print('net refused')\n"
            f"print('home visible' if os.path.exists({str(secret)!r}) else 'home hidden')\n"
            f"print('cwd hidden' if not os.path.exists({project_file!r}) else 'cwd visible')\n"
            "try:\n    open('/usr/escape', 'w')\nexcept OSError as e:\n    print('ro', e.errno)\n"
        )
        result = run_command(["python", "-c", script], tmp_path, timeout_s=20)
    finally:
        secret.unlink()
    assert result.isolation == "bwrap"
    assert "net refused" in result.output and "home hidden" in result.output, result.output
    assert "cwd hidden" in result.output and "ro 30" in result.output, result.output
    time.sleep(0.3)
    assert listener.received == []


def test_command_limits_end_cleanly(tmp_path: Path) -> None:
    missing = run_command(["no-such-tool-xyz"], tmp_path)
    assert missing.reason == "not found: no-such-tool-xyz" and missing.exit_code is None
    assert run_command([], tmp_path).reason == "empty command"
    slow = run_command(["sleep", "30"], tmp_path, timeout_s=1)
    assert (slow.exit_code, slow.timed_out, slow.reason) == (None, True, "timeout")
    assert slow.duration_s < 5
    flood = run_command(["yes"], tmp_path, output_bytes=10_000)
    assert flood.truncated and flood.reason == "output limit" and len(flood.output) <= 10_000
    hog = run_command(["python", "-c", "b = bytearray(3 * 1024 ** 3)"], tmp_path, memory_mb=256)
    assert hog.reason == "memory" and hog.exit_code not in (0, None)
    bomb = run_command(["python", "-c", "import os\nwhile True:\n    os.fork()\n"], tmp_path,
                       timeout_s=3, max_procs=16)
    assert bomb.exit_code is None or bomb.exit_code != 0
    assert bomb.duration_s < 10


# ----------------------------------------------------------------------------- fallback


def test_fallback_is_said_once_and_still_scores_honestly(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        tmp_path: Path) -> None:
    real_which = iso.shutil.which
    monkeypatch.setattr(iso.shutil, "which",  # as if bwrap were not installed
                        lambda name, *a, **k: None if name == "bwrap" else real_which(name, *a, **k))
    iso.reset_isolation_probe()
    try:
        with caplog.at_level(logging.INFO, logger="tui_bench.scoring.isolation"):
            honest = run_python(HONEST_MEAN, MEAN_TESTS, entry_point="mean", timeout_s=5)
            forged = [run_python(hostile(f), MEAN_TESTS, entry_point="mean", timeout_s=5)
                      for f in FORGERIES]
            command = run_command(["python", "-c", "print(6 * 7)"], tmp_path, timeout_s=20)
        said = [r.message for r in caplog.records if "sandbox isolation" in r.message]
        assert len(said) == 1 and "fallback" in said[0] and "bwrap is not installed" in said[0]
        assert honest.isolation == "fallback" and honest.ok
        assert [(r.passed, r.isolation) for r in forged] == [(0, "fallback")] * 3
        assert (command.exit_code, command.output.strip(), command.isolation) == (
            0, "42", "fallback")
    finally:
        iso.reset_isolation_probe()


@pytest.mark.skipif(not iso.shutil.which(iso.BWRAP), reason="bwrap is not installed")
def test_what_lives_under_tmp_is_bound_over_the_private_tmp(tmp_path: Path) -> None:
    # A venv in a clone under /tmp (as CI makes them) used to be hidden by the sandbox's own
    # /tmp, mounted after it: the probe failed and every run fell back to the weaker sandbox.
    assert str(tmp_path).startswith("/tmp/")
    script = tmp_path / "lives-in-tmp" / "hello.py"
    script.parent.mkdir()
    script.write_text("print('seen from inside')\n")
    folder = iso.new_folder()
    try:
        done = subprocess.run(
            iso.bwrap_argv(folder, files={str(script): str(script)})
            + [sys.executable, "-I", "-S", str(script)],
            capture_output=True, text=True, timeout=30, check=False)
    finally:
        iso.remove_folder(folder)
    assert (done.returncode, done.stdout.strip()) == (0, "seen from inside"), done.stderr
