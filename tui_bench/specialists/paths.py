"""Where specialist files go, and the guard that keeps every write inside its folder.

Names and versions come from template files a person may have downloaded. Before one becomes
part of a path it must be a single plain segment, and the finished path must resolve inside
the folder it was meant for; anything else is refused with a message that names the value.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath, PureWindowsPath

MAX_SEGMENT = 100
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_NUMBERED = r"^{stem}-(\d{{3,}})\.json5$"


class UnsafePathError(ValueError):
    """A name or version that could place a file outside the folder meant for it."""


def safe_segment(value: object, what: str = "name") -> str:
    """``value`` as one safe folder or file name, or ``UnsafePathError`` saying why not.

    Surrounding whitespace is trimmed (the only sanitising done); everything else that is not a
    plain segment of letters, digits, ``.``, ``_``, ``+`` and ``-`` is refused, not rewritten,
    so two different names can never end up in the same folder.
    """
    if not isinstance(value, str):
        raise UnsafePathError(f"{what} must be text, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise UnsafePathError(f"{what} is empty")
    if "\x00" in text or any(ord(ch) < 32 for ch in text):
        raise UnsafePathError(f"{what} {value!r} contains a control character (NUL or similar)")
    if "/" in text or "\\" in text:
        raise UnsafePathError(f"{what} {value!r} contains a path separator")
    if text in (".", "..") or ".." in text:
        raise UnsafePathError(f"{what} {value!r} contains '..'")
    if PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute() or ":" in text:
        raise UnsafePathError(f"{what} {value!r} is an absolute path or names a drive")
    if len(text) > MAX_SEGMENT:
        raise UnsafePathError(f"{what} is longer than {MAX_SEGMENT} characters")
    if not _SEGMENT.match(text):
        raise UnsafePathError(
            f"{what} {value!r} may hold only letters, digits, '.', '_', '+' and '-' "
            "and must start with a letter or digit")
    return text


def unscoped(name: str) -> str:
    """``@acme/python-backend`` -> ``python-backend``; a plain name is returned as it is."""
    if name.startswith("@") and name.count("/") == 1:
        return name.split("/", 1)[1]
    return name


def inside(base: Path, *segments: str) -> Path:
    """``base/segments...``, verified with ``resolve()`` to lie inside ``base``."""
    root = base.resolve()
    target = root.joinpath(*segments).resolve()
    if target != root and not target.is_relative_to(root):
        raise UnsafePathError(f"{'/'.join(segments)!r} would leave {base}")
    return target


def version_folder(base: Path, name: str, version: str) -> Path:
    """``base/<name without scope>/<version>``, both checked as safe segments."""
    return inside(base, safe_segment(unscoped(name), "template name"),
                  safe_segment(version, "template version"))


def numbered_files(folder: Path, stem: str) -> dict[int, Path]:
    """``stem-NNN.json5`` files in ``folder`` by number (none when the folder is missing)."""
    pattern = re.compile(_NUMBERED.format(stem=re.escape(stem)))
    found: dict[int, Path] = {}
    if folder.is_dir():
        for path in folder.iterdir():
            match = pattern.match(path.name)
            if match and path.is_file():
                found[int(match.group(1))] = path
    return found


def next_number(folder: Path, stem: str) -> int:
    """One more than the highest ``stem-NNN.json5`` in ``folder``; 1 in an empty folder."""
    return max(numbered_files(folder, stem), default=0) + 1


def write_numbered(folder: Path, stem: str, text: str) -> tuple[Path, int]:
    """Write ``text`` to the next free ``stem-NNN.json5``; never overwrites a file.

    The file is created exclusively, so two writers at once take two different numbers.
    """
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    for _ in range(1000):
        number = next_number(folder, stem)
        path = inside(root, f"{stem}-{number:03d}.json5")
        try:
            with open(path, "x", encoding="utf-8") as handle:
                handle.write(text)
        except FileExistsError:
            continue
        return path, number
    raise OSError(f"no free file number in {folder}")  # pragma: no cover


def version_key(version: str) -> tuple:
    """Order versions the way people read them: 1.10 > 1.9, and 1.0 > 1.0-beta."""
    main, _, pre = version.partition("-")
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                  for p in re.split(r"[.+_]", main) if p)
    return parts, (1,) if not pre else (0, pre)
