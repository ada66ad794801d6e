"""Text from people and paths, made safe for a ``//`` comment line in a JSON5 file.

A comment ends at any JSON5 line terminator (LF, CR, U+2028, U+2029), so a user name or a
folder holding one would spill the rest of the comment into the data and break every parser.
Such characters (and other control characters) are written as ``\\uXXXX`` escapes instead.
"""

from __future__ import annotations

import unicodedata


def comment_safe(text: object) -> str:
    """``text`` with line terminators and control characters escaped, for one comment line."""
    return "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cf") else ch
        for ch in str(text))
