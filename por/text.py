"""Text at the edges: bounded line reading, the csv field limit, and escaping untrusted text for output.

One of each, so every reader refuses the same way and every writer escapes the same way.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import unicodedata
from html import escape as _html_escape
from typing import Any, BinaryIO, Iterator

from por.errors import InputError


def bounded_lines(handle: BinaryIO, source: str, limit: int) -> Iterator[str]:
    """Physical lines as text, decoded one by one so a bad byte names its own line,
    and bounded so a line of hundreds of megabytes is refused without being read."""
    number = 0
    while raw := handle.readline(limit + 1):
        number += 1
        if len(raw) > limit:
            raise InputError(f"line longer than {limit} bytes", file=source, line=number)
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {exc.start + 1} of the line)", file=source, line=number) from None


@contextlib.contextmanager
def csv_field_limit(limit: int) -> Iterator[None]:
    """`csv.field_size_limit` for one reader, restored after (it is process-wide)."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def html_text(value: Any) -> str:
    """Untrusted text for an HTML page (None shows as nothing)."""
    return _html_escape("" if value is None else str(value), quote=True)


# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties.txt), less what the categories
# below already catch: characters a terminal or a font draws as nothing at all.
_IGNORABLE = ((0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x3164, 0x3164),
              (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0100, 0xE01EF))
# control (C0, DEL, C1), format (bidi, zero-width, tags), surrogate, private use, unassigned, line/paragraph
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def is_hidden(char: str) -> bool:
    """A character that draws as nothing, moves the cursor, reorders text or passes for a space:
    terminals show it as an escape (`terminal_text`) and ids refuse it (`liabilities.rows`)."""
    code = ord(char)
    if 0x20 <= code < 0x7F:
        return False
    category = unicodedata.category(char)
    if category in _HIDDEN_CATEGORIES or (category == "Zs" and code != 0x20):
        return True
    return any(low <= code <= high for low, high in _IGNORABLE)


def visible_text(value: Any) -> str:
    """`value` with every hidden character spelled as a Python escape (`\\x1b`, `\\u202e`), so no
    input can repaint the terminal or pass one string off as another."""
    text = "" if value is None else str(value)
    if text.isascii() and text.isprintable():
        return text
    return "".join(_escape(c) if is_hidden(c) else c for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def terminal_text(value: Any, *, markup: bool = True) -> str:
    """Untrusted text for the terminal: hidden characters shown as escapes (`visible_text`) and,
    for a rich console (`markup=True`), markup in it shown, never interpreted."""
    text = visible_text(value)
    if not markup:
        return text
    from rich.markup import escape  # rich is imported by the commands that print, not by the library

    return escape(text)
