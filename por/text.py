"""Text at the edges: opening and reading input within a limit, bounded line reading, the csv
field limit, escaping untrusted text for output, and the one spelling of a UTC time we accept.

One of each, so every reader refuses the same way and every writer escapes the same way.
Every limit counts the bytes actually read: a pipe, `-` (standard input) or a device such as
/dev/zero has no size worth trusting, so each is read once, as it streams, up to the limit.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import os
import re
import stat
import sys
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from por.errors import InputError

STDIN = "-"
_CHUNK = 1 << 20


def is_regular_file(path: str | Path) -> bool:
    """A file with a size that means something, and that can be read twice; `-`, a pipe
    (`<(...)`) or a device is not (stat does not block on a FIFO, open would)."""
    if str(path) == STDIN:
        return False
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


@contextlib.contextmanager
def open_input(path: str | Path) -> Iterator[BinaryIO]:
    """The one way an input file is opened: `-` is standard input; anything that cannot be
    opened is one line of bad input. Opening a FIFO waits for its writer, as any Unix tool
    does; Ctrl-C ends the wait (KeyboardInterrupt, exit 130)."""
    if str(path) == STDIN:
        yield sys.stdin.buffer
        return
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    with handle:
        yield handle


class LineSource(Protocol):
    """What `bounded_lines` reads from: an open binary file, or a CappedReader around one."""

    def readline(self, size: int = -1, /) -> bytes: ...


class CappedReader:
    """A binary stream that yields at most `limit` bytes in all, then refuses: the bound is the
    count of bytes read, never a size the file claims."""

    def __init__(self, handle: BinaryIO, limit: int, source: str, what: str = "") -> None:
        self.handle, self.limit, self.source, self.what = handle, limit, source, what
        self.total = 0

    def _count(self, data: bytes) -> bytes:
        self.total += len(data)
        if self.total > self.limit:
            raise InputError(
                f"more than {self.limit} bytes read, over the {self.limit} limit{self.what}", file=self.source
            )
        return data

    def _room(self, size: int | None) -> int:
        room = self.limit + 1 - self.total  # one byte more than allowed shows the excess
        return room if size is None or size < 0 else min(size, room)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(_CHUNK), b""))
        try:
            return self._count(self.handle.read(self._room(size)))
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", file=self.source) from None

    def readline(self, size: int | None = -1) -> bytes:
        try:
            return self._count(self.handle.readline(self._room(size)))
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", file=self.source) from None


def read_bounded(path: str | Path, limit: int, what: str = "", *, empty_ok: bool = False) -> bytes:
    """The whole input, at most `limit` bytes. A regular file over the limit is refused before
    a byte is read; anything else (a pipe, `-`, a device, a file still growing) when the
    count of bytes read passes it."""
    source = str(path)
    with open_input(path) as handle:
        try:
            info = os.fstat(handle.fileno())
        except (OSError, ValueError, AttributeError):  # a stand-in stdin without a descriptor
            info = None
        if info is not None and stat.S_ISREG(info.st_mode) and info.st_size > limit:
            raise InputError(f"file is {info.st_size} bytes, over the {limit} limit{what}", file=source)
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise InputError("cannot read: Is a directory", file=source)
        raw = CappedReader(handle, limit, source, what).read()
    if not empty_ok and not raw.strip():
        raise InputError("empty file", file=source)
    return raw


def bounded_lines(handle: LineSource, source: str, limit: int) -> Iterator[str]:
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
    from html import escape  # its entity table is not for the terminal paths that import this module

    return escape("" if value is None else str(value), quote=True)


# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties.txt), less what the categories
# below already catch: characters a terminal or a font draws as nothing at all.
_IGNORABLE = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xE0100, 0xE01EF),
)
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
    return markup_escape(text) if markup else text


# What rich's console markup reads as a tag (rich.markup.RE_TAGS): `[` then a letter, `#`, `/` or
# `@`, up to the next `]`; groups: the backslashes before it, the tag, its text inside the brackets.
MARKUP_TAG = re.compile(r"(\\*)(\[([a-z#/@][^\[]*?)\])")


def markup_escape(text: str) -> str:
    """`text` inside rich markup, shown as written: each tag-like `[...]` gets one more backslash
    than the backslashes before it (so those stay literal too), and one trailing backslash one
    more, so it cannot escape a closing tag after it. `rich.markup.escape`'s rule exactly (held
    equal by tests/test_plain_output.py), without importing rich: the piped customer path never
    loads it, and what it prints must be what rich would have printed."""
    escaped = MARKUP_TAG.sub(lambda m: m.group(1) * 2 + "\\" + m.group(2), text)
    return escaped + "\\" if escaped.endswith("\\") and not escaped.endswith("\\\\") else escaped


_UTC_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(Z|[+-]\d{2}:\d{2})")


def utc_time(text: str, field: str) -> str:
    """An ISO 8601 UTC time (`2024-06-01T00:00:00Z` or `+00:00`), written back as `...Z`."""
    example = "such as 2024-06-01T00:00:00Z"
    match = _UTC_TIME.fullmatch(text.strip())
    if not match:
        raise InputError(f"{text[:40]!r} is not an ISO 8601 UTC time: give one {example}", field=field)
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{text[:40]!r} is not a real date and time: give one {example}", field=field) from None
    if when.utcoffset() != UTC.utcoffset(None):
        utc = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        raise InputError(f"{text!r} is not in UTC: give it as {utc}", field=field)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def csv_table(path: str | Path, columns: list[str], limit: int) -> Iterator[tuple[int, list[str]]]:
    """(line, stripped cells) of each non-blank row of a small CSV whose header is exactly `columns`.

    The one way the auditor's own small tables (custodian registry, insurance policies) are read:
    bounded, UTF-8 (a BOM allowed), every defect an InputError naming the file and line."""
    import io

    source = str(path)
    try:
        text = read_bounded(path, limit, empty_ok=True).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=source) from None
    with csv_field_limit(4096):
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        try:
            header = next(reader, None)
            if header is None or [h.strip() for h in header] != columns:
                raise InputError("header must be exactly " + ",".join(columns), file=source, line=1)
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != len(columns):
                    raise InputError(
                        f"expected {len(columns)} fields ({','.join(columns)}), got {len(row)}",
                        file=source,
                        line=reader.line_num,
                    )
                yield reader.line_num, [cell.strip() for cell in row]
        except csv.Error as exc:
            raise InputError(f"malformed CSV: {exc}", file=source, line=reader.line_num) from None


# --- hints for the mistakes spreadsheets make in a CSV export (every CSV reader gives the same) ---------------

_GROUPED = re.compile(r"[0-9][0-9,.' _\u00a0]*[0-9]\Z")


def separator_hint(text: str) -> str:
    """Why a header or a row did not split into three fields, when a spreadsheet's export is the cause."""
    if "\t" in text and "," not in text:
        return " (the file is separated by tabs: save it as comma-separated CSV)"
    if ";" in text and "," not in text:
        return (
            " (the file is separated by semicolons, as spreadsheets write CSV where the decimal mark is a"
            " comma: save it with commas between fields and a point in amounts)"
        )
    return ""


def amount_hint(text: str) -> str:
    """A hint for an amount written with thousands separators or a decimal comma ("" if neither)."""
    text = text.strip()
    if not _GROUPED.match(text):
        return ""
    marks = [c for c in text if not "0" <= c <= "9"]
    decimal = None
    if "," in marks and "." in marks:  # 1.000,5 or 1,000.5: the last mark is the decimal one
        decimal = text[max(text.rfind(","), text.rfind("."))]
    elif marks == [","] and len(text.rsplit(",", 1)[1]) != 3:
        decimal = ","
    whole, frac = text.rsplit(decimal, 1) if decimal else (text, "")
    if not re.fullmatch(r"[0-9]*", frac):
        return ""
    plain = re.sub(r"[^0-9]", "", whole) + ("." + frac if frac else "")
    if marks == [","] and decimal:
        return f" (a decimal comma? write {plain}: amounts take a decimal point)"
    return f" (thousands separators? write {plain}: digits and one decimal point, nothing else)"


def csv_syntax_error(exc: Exception, source: str, last_row_line: int, line_num: int) -> InputError:
    """A csv.Error placed where a user looks: a quote never closed is reported on the line after the
    last row read (where it opens), not at the end of the file the csv module ran to."""
    if "unexpected end of data" in str(exc):
        return InputError(
            "malformed CSV: a double quote opened on this line is never closed", file=source, line=last_row_line + 1
        )
    return InputError(f"malformed CSV: {exc}", file=source, line=line_num)
