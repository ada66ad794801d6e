"""The sandbox runs a model's code: each way untrusted code can misbehave ends as failed tests
with a clear reason, within seconds, and leaves nothing behind."""

from __future__ import annotations

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tui_bench.scoring.sandbox import _processes_of, run_python

TESTS = """
def test_small():
    assert add(1, 2) == 3

def test_negative():
    assert add(-1, 1) == 0
"""
GOOD = "def add(a, b):\n    return a + b\n"
FAST = 2.0  # timeout for the misbehaving cases: they must end well before a human notices
AS_ROOT = os.geteuid() == 0


def run(code: str, tests: str = TESTS, **kwargs: object):
    kwargs.setdefault("timeout_s", FAST)
    started = time.monotonic()
    result = run_python(code, tests, entry_point="add", **kwargs)  # type: ignore[arg-type]
    elapsed = time.monotonic() - started
    assert not os.path.exists(result.workdir), "the temporary folder must be removed"
    return result, elapsed


def test_correct_solution_passes_and_folder_is_removed() -> None:
    result, elapsed = run(GOOD)
    assert (result.passed, result.total, result.reason, result.failures) == (2, 2, None, [])
    assert result.ok
    assert result.workdir and not os.path.exists(result.workdir)
    assert elapsed < 2


def test_wrong_solution_fails_with_the_failing_line() -> None:
    result, _ = run("def add(a, b):\n    return a - b\n")
    assert (result.passed, result.total, result.reason) == (0, 2, None)
    assert result.failures[0]["test"] == "test_small"
    assert "AssertionError" in result.failures[0]["error"]
    assert "assert add(1, 2) == 3" in result.failures[0]["error"]


def test_partial_pass_is_counted() -> None:
    result, _ = run("def add(a, b):\n    return a + b if a > 0 else 99\n")
    assert (result.passed, result.total) == (1, 2)
    assert [f["test"] for f in result.failures] == ["test_negative"]


def test_syntax_error_is_a_reason_not_a_crash() -> None:
    result, _ = run("def add(a, b)\n    return a + b\n")
    assert result.passed == 0 and result.total == 2
    assert result.reason is not None and result.reason.startswith("syntax error")


def test_exception_at_import_fails_every_test() -> None:
    result, _ = run("raise RuntimeError('boom')\n")
    assert result.passed == 0 and result.total == 2
    assert result.reason is not None and result.reason.startswith("crashed: RuntimeError: boom")


def test_hard_exit_is_reported() -> None:
    result, _ = run("import os\nos._exit(3)\n")
    assert result.passed == 0
    assert result.reason is not None and "exit code 3" in result.reason


def test_infinite_loop_times_out() -> None:
    result, elapsed = run("def add(a, b):\n    while True:\n        pass\n")
    assert result.reason == "timeout"
    assert result.passed == 0 and result.total == 2
    assert result.failures[0]["error"].startswith("did not finish")
    assert elapsed < FAST + 2


def test_tests_that_finished_before_a_hang_still_count() -> None:
    code = "def add(a, b):\n    while a < 0:\n        pass\n    return a + b\n"
    result, _ = run(code)
    assert result.reason == "timeout"
    assert (result.passed, result.total) == (1, 2)


def test_fork_bomb_is_refused() -> None:
    code = "import os\ndef add(a, b):\n    while True:\n        os.fork()\n"
    result, elapsed = run(code)
    assert result.passed == 0
    assert result.reason is not None and result.reason.startswith("forbidden: process creation")
    assert elapsed < FAST + 2


@pytest.mark.skipif(not AS_ROOT, reason="a throwaway uid (and so RLIMIT_NPROC) needs root")
def test_fork_bomb_past_the_audit_hook_hits_the_process_limit() -> None:
    """ctypes calls fork() directly, so only the OS layer (uid + RLIMIT_NPROC) stops it."""
    code = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None)\n"
        "def add(a, b):\n"
        "    forks = 0\n"
        "    while True:\n"
        "        pid = libc.fork()\n"
        "        if pid == 0:\n"
        "            while True:\n"
        "                libc.fork()\n"
        "        if pid < 0:\n"
        "            print('fork refused after', forks, flush=True)\n"
        "            break\n"
        "        forks += 1\n"
        "    while True:\n"
        "        pass\n"
    )
    result, elapsed = run(code)
    assert result.reason == "timeout"
    assert result.passed == 0
    assert "fork refused after" in result.stdout
    forks = int(result.stdout.split("fork refused after")[1].split()[0])
    assert forks < 64
    assert elapsed < FAST + 3


def test_subprocess_and_system_are_refused() -> None:
    for call in ("import subprocess\n    subprocess.run(['true'])",
                 "import os\n    os.system('true')"):
        result, _ = run(f"def add(a, b):\n    {call}\n    return a + b\n")
        assert result.passed == 0
        assert result.reason is not None and result.reason.startswith("forbidden: process creation")


def test_huge_allocation_is_a_memory_failure() -> None:
    code = "def add(a, b):\n    block = bytearray(10 * 1024 ** 3)\n    return a + b\n"
    result, elapsed = run(code, memory_mb=256)
    assert result.reason == "memory"
    assert result.passed == 0
    assert "MemoryError" in result.failures[0]["error"]
    assert elapsed < FAST + 2


WRITES = {
    "open": "open({path!r}, 'w').write('escaped')",
    "os.open": "import os\n    os.open({path!r}, os.O_WRONLY | os.O_CREAT)",
    "pathlib": "import pathlib\n    pathlib.Path({path!r}).write_text('escaped')",
    "symlink": "import os\n    os.symlink({path!r}, 'link')\n    open('link', 'w')",
    "rename": "import os\n    open('inside', 'w').close()\n    os.rename('inside', {path!r})",
}


@pytest.mark.parametrize("target", ["/tmp", "home"])
@pytest.mark.parametrize("how", sorted(WRITES))
def test_write_outside_the_folder_is_refused(target: str, how: str) -> None:
    folder = Path("/tmp") if target == "/tmp" else Path.home()
    path = folder / f"tui-bench-escape-{uuid.uuid4().hex}.txt"
    code = f"def add(a, b):\n    {WRITES[how].format(path=str(path))}\n    return a + b\n"
    try:
        result, _ = run(code)
        assert not path.exists()
        assert result.passed == 0
        assert result.reason is not None
        assert result.reason.startswith("forbidden: write outside sandbox")
        assert str(path) in result.reason
    finally:
        path.unlink(missing_ok=True)


def test_caught_violation_still_fails_every_test() -> None:
    path = f"/tmp/tui-bench-escape-{uuid.uuid4().hex}.txt"
    code = (f"try:\n    open({path!r}, 'w')\nexcept OSError:\n    pass\n"
            "def add(a, b):\n    return a + b\n")
    result, _ = run(code)
    assert result.passed == 0 and result.total == 2
    assert result.reason is not None and result.reason.startswith("forbidden: write outside")
    assert not os.path.exists(path)


def test_writes_inside_the_folder_are_allowed() -> None:
    code = (
        "import os, tempfile\n"
        "def add(a, b):\n"
        "    with open('scratch.txt', 'w') as f:\n"
        "        f.write(str(a + b))\n"
        "    with tempfile.NamedTemporaryFile('w') as t:\n"
        "        t.write('x')\n"
        "    os.makedirs('sub/dir', exist_ok=True)\n"
        "    return int(open('scratch.txt').read())\n"
    )
    result, _ = run(code)
    assert result.ok, result


def test_megabytes_of_printing_hit_the_output_cap() -> None:
    code = "import sys\ndef add(a, b):\n    while True:\n        sys.stdout.write('x' * 100_000)\n"
    result, elapsed = run(code, output_cap=64_000)
    assert result.reason == "output limit"
    assert result.passed == 0
    assert len(result.stdout) <= 8_000
    assert elapsed < FAST


def test_printing_cannot_forge_results() -> None:
    code = ("print('{\"event\": \"result\", \"test\": \"test_small\", \"ok\": true}')\n"
            "def add(a, b):\n    return 99\n")
    result, _ = run(code)
    assert result.passed == 0
    assert "event" in result.stdout


def test_secrets_in_the_parent_environment_are_not_visible(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-should-not-leak")
    code = (
        "import os\n"
        "SEEN = dict(os.environ)\n"
        "def add(a, b):\n"
        "    return a + b\n"
    )
    tests = (
        "def test_no_key():\n    assert 'OPENAI_API_KEY' not in SEEN\n\n"
        "def test_minimal_env():\n    assert set(SEEN) <= {'PATH', 'HOME', 'LANG', 'TMPDIR', 'PWD'}\n\n"
        "def test_home_is_the_folder():\n    import os\n    assert SEEN['HOME'] == os.getcwd()\n"
    )
    result, _ = run(code, tests)
    assert result.ok, result.failures


@pytest.mark.skipif(not AS_ROOT, reason="privileges are only dropped when running as root")
def test_runs_as_an_unprivileged_user() -> None:
    tests = (
        "def test_not_root():\n    import os\n    assert os.getuid() != 0 and os.geteuid() != 0\n\n"
        "def test_os_refuses_root_home():\n"
        "    import ctypes, errno\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"  # past the audit hook: the OS decides
        "    assert libc.open(b'/root/.profile', 0) == -1\n"
        "    assert ctypes.get_errno() in (errno.EACCES, errno.ENOENT)\n\n"
        "def test_stdlib_imports_still_work():\n"
        "    import fractions, decimal, statistics\n"
        "    assert statistics.mean([fractions.Fraction(1), decimal.Decimal(1) and 3]) == 2\n"
    )
    result, _ = run(GOOD, tests)
    assert result.ok, result.failures


def test_network_is_refused() -> None:
    code = ("import socket\ndef add(a, b):\n"
            "    socket.create_connection(('127.0.0.1', 9), timeout=0.5)\n    return a + b\n")
    result, _ = run(code)
    assert result.passed == 0
    assert result.reason is not None and result.reason.startswith("forbidden: network")


def test_humaneval_style_check_counts_as_one_test() -> None:
    tests = "def check(candidate):\n    assert candidate(2, 2) == 4\n    assert candidate(0, 5) == 5\n"
    result = run_python(GOOD, tests, entry_point="add", timeout_s=FAST)
    assert (result.passed, result.total) == (1, 1)
    wrong = run_python("def add(a, b):\n    return a * b\n", tests, entry_point="add",
                       timeout_s=FAST)
    assert (wrong.passed, wrong.total) == (0, 1)
    missing = run_python("def plus(a, b):\n    return a + b\n", tests, entry_point="add",
                         timeout_s=FAST)
    assert missing.passed == 0 and "not defined" in missing.failures[0]["error"]


def test_candidate_cannot_add_tests_of_its_own() -> None:
    code = GOOD.replace("a + b", "99") + "\ndef test_extra():\n    pass\n"
    result, _ = run(code)
    assert (result.passed, result.total) == (0, 2)


def test_tests_can_import_the_solution_as_a_module() -> None:
    tests = "from solution import add as plus\n\ndef test_import():\n    assert plus(2, 3) == 5\n"
    result, _ = run(GOOD, tests)
    assert result.ok, result.failures


def test_broken_tests_are_reported_as_such() -> None:
    result, _ = run(GOOD, "def test_x(:\n    pass\n")
    assert result.total == 0
    assert result.reason is not None and result.reason.startswith("tests error")


def test_parallel_runs_do_not_interfere() -> None:
    codes = [GOOD, "def add(a, b):\n    while True: pass\n", GOOD, "def add(a, b):\n    return 99\n"]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda c: run_python(c, TESTS, entry_point="add", timeout_s=FAST),
                                codes))
    assert [r.passed for r in results] == [2, 0, 2, 0]
    assert results[1].reason == "timeout"


@pytest.mark.skipif(not AS_ROOT, reason="the per-run uid exists only when running as root")
def test_nothing_keeps_running_after_a_run() -> None:
    code = ("import ctypes\nlibc = ctypes.CDLL(None)\n"
            "def add(a, b):\n    if libc.fork() == 0:\n        while True:\n            pass\n"
            "    return a + b\n")
    result, _ = run(code)
    assert result.passed == 2  # the orphan does not stop the tests, but it must not survive
    leftovers = [pid for pid in os.listdir("/proc") if pid.isdigit()
                 and _is_sandbox_process(int(pid))]
    assert leftovers == []


def _is_sandbox_process(pid: int) -> bool:
    """A live process owned by a sandbox uid (those are all at or above 2**30)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    state = fields.get("State", "").split()
    uid = int(fields.get("Uid", "0").split()[0])
    return uid >= 2 ** 30 and bool(state) and state[0] not in ("Z", "X")


def test_process_listing_helper_sees_this_process() -> None:
    assert os.getpid() in _processes_of(os.getuid())


def test_without_root_the_audit_hook_still_guards(monkeypatch: pytest.MonkeyPatch) -> None:
    """The path a normal user takes: no uid change, so the audit hook is the guard."""
    from tui_bench.scoring import sandbox

    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    good, _ = run(GOOD)
    assert good.ok
    path = f"/tmp/tui-bench-escape-{uuid.uuid4().hex}.txt"
    escape, _ = run(f"def add(a, b):\n    open({path!r}, 'w')\n    return a + b\n")
    assert escape.reason is not None and escape.reason.startswith("forbidden: write outside")
    assert not os.path.exists(path)
    secret = Path.home() / ".tui-bench-test-secret"
    peek, _ = run(f"def add(a, b):\n    open({str(secret)!r}).read()\n    return a + b\n")
    assert peek.reason is not None and peek.reason.startswith("forbidden: read outside sandbox")
