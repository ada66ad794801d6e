"""A damaged ``bench.db``: say so in one line, check it, and copy out what is still readable.

Damaged pages surface as ``sqlite3.DatabaseError`` from whichever query first touches them.
Commands turn any such error into one line naming the file and pointing here
(:func:`database_error_line`); ``tui-bench doctor`` runs SQLite's integrity check
(:func:`integrity_problems`) and ``--recover OUT`` writes a new database with every row that
can still be read (:func:`recover_copy`): SQLite's own ``.recover`` when the ``sqlite3``
command is installed, else a table-by-table copy that steps over unreadable stretches.
"""

from __future__ import annotations

import shutil
import sqlite3
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tui_bench.store.core import CoreStore, StoreError

SKIP_AHEAD = (1, 2, 4, 8, 16, 64, 256, 1024, 4096, 16384, 65536)
"""Rowid gaps tried, in turn, to step past a damaged stretch of a table in the row copy."""


def is_database_error(exc: BaseException) -> bool:
    """An error from SQLite itself (damaged, not a database, locked, disk full, read-only)."""
    return isinstance(exc, sqlite3.DatabaseError)


def database_error_line(exc: BaseException | str, path: str | Path) -> str:
    """The one line a command prints for a database error."""
    return (f"database {path}: {exc}; nothing more was written. Check it with "
            f"`tui-bench doctor --db {path}` (and `--recover NEW.db` to copy out what is "
            "readable)")


def _open_read_only(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise StoreError(f"{path}: no such database file")
    try:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open {path}: {exc}") from None


def integrity_problems(path: Path, *, limit: int = 20) -> list[str]:
    """What ``PRAGMA integrity_check`` finds (at most ``limit`` lines); empty means sound."""
    conn = _open_read_only(path)
    try:
        rows = conn.execute(f"PRAGMA integrity_check({int(limit)})").fetchall()
    except sqlite3.DatabaseError as exc:
        return [f"the check itself failed: {exc}"]
    finally:
        conn.close()
    lines = [str(row[0]) for row in rows]
    return [] if lines == ["ok"] else lines


def readable_run_ids(store: CoreStore, batch_id: str) -> set[str]:
    """The batch's runs whose rows read back whole (``length(output)`` reads the row itself,
    not only an index), so a batch's success is claimed for what is really in the file."""
    rows = store.query("SELECT run_id, length(output) AS n FROM runs WHERE batch_id = ?",
                       (batch_id,))
    return {str(r["run_id"]) for r in rows}


def quick_problems(path: Path) -> list[str]:
    """``PRAGMA quick_check`` (tens of milliseconds for a big file): what a batch checks
    before it writes, so it never adds runs to a damaged file. Empty: sound or not there."""
    if not path.is_file() or path.stat().st_size == 0:
        return []
    conn = _open_read_only(path)
    try:
        lines = [str(row[0]) for row in conn.execute("PRAGMA quick_check(5)").fetchall()]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.close()
    return [] if lines == ["ok"] else lines


@dataclass
class Recovery:
    """What a recovery copied: rows per table, tables it could not read, and how."""

    method: str
    rows: dict[str, int] = field(default_factory=dict)
    lost_tables: list[str] = field(default_factory=list)
    skipped_stretches: int = 0


def _user_version(path: Path) -> int:
    """The schema step from the file header (bytes 60-63), readable even when pages are not."""
    with open(path, "rb") as handle:
        header = handle.read(100)
    return struct.unpack(">I", header[60:64])[0] if len(header) >= 64 else 0


def recover_copy(path: Path, out: Path, *, method: str = "auto") -> Recovery:
    """Write ``out``, a new database holding every readable row of ``path``.

    ``method``: ``auto`` (SQLite's ``.recover`` if the ``sqlite3`` command exists, else the
    row copy), ``cli`` or ``rows``. ``out`` must not exist; ``path`` is only read.
    """
    if out.exists():
        raise StoreError(f"{out} exists; recover into a new file")
    if path.resolve() == out.resolve():
        raise StoreError("the recovered copy must be a different file")
    _open_read_only(path).close()
    use_cli = method == "cli" or (method == "auto" and shutil.which("sqlite3") is not None)
    if use_cli:
        try:
            recovery = _recover_cli(path, out)
        except StoreError:
            if method == "cli":
                raise
            out.unlink(missing_ok=True)  # some builds' .recover refuses some schemas
            recovery = _recover_rows(path, out)
            recovery.method += " (sqlite3 .recover failed)"
    else:
        recovery = _recover_rows(path, out)
    conn = sqlite3.connect(out)
    try:
        conn.execute(f"PRAGMA user_version = {_user_version(path)}")
        conn.commit()
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        recovery.rows = {n: int(conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0])
                         for n in names}
    finally:
        conn.close()
    return recovery


def _recover_cli(path: Path, out: Path) -> Recovery:
    binary = shutil.which("sqlite3")
    if binary is None:
        raise StoreError("the sqlite3 command is not installed; use the row copy")
    dump = subprocess.Popen([binary, "-readonly", str(path), ".recover"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    load = subprocess.run([binary, str(out)], stdin=dump.stdout, capture_output=True,
                          check=False)
    assert dump.stdout is not None
    dump.stdout.close()
    dump_err = dump.stderr.read().decode(errors="replace") if dump.stderr else ""
    dump.wait()
    if dump.returncode != 0 or not out.exists():
        raise StoreError(f"sqlite3 .recover failed: {(dump_err or load.stderr.decode())[:300]}")
    return Recovery(method="sqlite3 .recover")


def _recover_rows(path: Path, out: Path) -> Recovery:
    """Copy table by table, rowid order; where a read fails, try again further on."""
    recovery = Recovery(method="row copy")
    src = _open_read_only(path)
    dst = sqlite3.connect(out)
    try:
        try:
            schema = src.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: its table of tables is unreadable ({exc}); "
                             "try the sqlite3 command's .recover") from None
        tables = [(n, s) for t, n, s in schema if t == "table" and not n.startswith("sqlite_")]
        for name, sql in tables:
            dst.execute(sql)
            if not _copy_table(src, dst, name, recovery):
                recovery.lost_tables.append(name)
            dst.commit()
        for kind in ("index", "view", "trigger"):  # after the rows: triggers must not fire
            for t, _name, sql in schema:
                if t == kind:
                    try:
                        dst.execute(sql)
                    except sqlite3.DatabaseError:  # e.g. a unique index the damage broke
                        pass
        dst.commit()
    finally:
        src.close()
        dst.close()
    return recovery


def _copy_table(src: sqlite3.Connection, dst: sqlite3.Connection, name: str,
                recovery: Recovery) -> bool:
    """Every readable row of one table; False if none of it could be read at all."""
    try:
        columns = [r[1] for r in src.execute(f'PRAGMA table_info("{name}")')]
    except sqlite3.DatabaseError:
        return False
    marks = ", ".join("?" for _ in columns)
    quoted = ", ".join(f'"{c}"' for c in columns)
    insert = f'INSERT OR IGNORE INTO "{name}" ({quoted}) VALUES ({marks})'
    last: int | None = None  # the last rowid copied (or skipped to)
    stuck: tuple[int | None, int] = (None, -1)  # where the last failure was, and its gap
    read_any = False
    while True:
        params: tuple[int, ...] = () if last is None else (last,)
        where = "" if last is None else "WHERE rowid > ?"
        try:
            cur = src.execute(f'SELECT rowid, {quoted} FROM "{name}" {where} ORDER BY rowid',
                              params)
            for row in cur:
                last = row[0]
                read_any = True
                dst.execute(insert, row[1:])
            return True
        except sqlite3.DatabaseError:
            recovery.skipped_stretches += 1
            # Failing again at the same place: try a longer jump than last time.
            gap_index = stuck[1] + 1 if stuck[0] == last else 0
            found = None
            for index in range(gap_index, len(SKIP_AHEAD)):
                found = _first_rowid_from(src, name, (last or 0) + SKIP_AHEAD[index])
                if found is not None:
                    stuck = (last, index)
                    break
            if found is None:
                return read_any
            last = found - 1


def _first_rowid_from(src: sqlite3.Connection, name: str, start: int) -> int | None:
    """The first rowid at or after ``start`` that an index seek can reach, or None."""
    try:
        row = src.execute(f'SELECT rowid FROM "{name}" WHERE rowid >= ? ORDER BY rowid LIMIT 1',
                          (start,)).fetchone()
    except sqlite3.DatabaseError:
        return None
    return None if row is None else int(row[0])
