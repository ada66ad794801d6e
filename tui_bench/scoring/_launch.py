"""Start one command under limits: ``python -I -S _launch.py CONFIG -- ARGV...``.

The sandbox runs agent tools and validation commands through this launcher: it lowers the
resource limits, drops to the unprivileged uid the parent chose (when started as root), and
replaces itself with the command. Only the standard library; the parent runs it by path.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import warnings  # noqa: F401 - os.execvp imports it, after the uid can no longer read the stdlib

NOT_FOUND_EXIT = 127


def main() -> None:
    config = json.loads(sys.argv[1])
    argv = sys.argv[3:]
    limits = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, int(config["cpu_s"])),
        (resource.RLIMIT_AS, int(config["memory_bytes"])),
        (resource.RLIMIT_FSIZE, int(config["file_bytes"])),
    ]
    uid = config.get("uid")
    if uid is not None:
        limits.append((resource.RLIMIT_NPROC, int(config["max_procs"])))
    for which, value in limits:
        _soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(hard, value)
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass
    if uid is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setresgid(int(uid), int(uid), int(uid))
        os.setresuid(int(uid), int(uid), int(uid))
        if os.geteuid() == 0:
            sys.stderr.write("could not drop privileges\n")
            os._exit(NOT_FOUND_EXIT)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"{argv[0]}: {exc.strerror}\n")
        os._exit(NOT_FOUND_EXIT)


if __name__ == "__main__":
    main()
