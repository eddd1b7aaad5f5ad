"""Text at the edges: bounded line reading, the csv field limit, escaping untrusted text for output,
and the one spelling of a UTC time we accept.

One of each, so every reader refuses the same way and every writer escapes the same way.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import re
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


def terminal_text(value: Any) -> str:
    """Untrusted text for a rich console: markup in it is shown, never interpreted."""
    from rich.markup import escape  # rich is imported by the commands that print, not by the library

    return escape(str(value))


_UTC_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(Z|[+-]\d{2}:\d{2})")


def utc_time(text: str, field: str) -> str:
    """An ISO 8601 UTC time (`2024-06-01T00:00:00Z` or `+00:00`), written back as `...Z`."""
    from datetime import datetime, timezone

    example = "such as 2024-06-01T00:00:00Z"
    match = _UTC_TIME.fullmatch(text.strip())
    if not match:
        raise InputError(f"{text[:40]!r} is not an ISO 8601 UTC time: give one {example}", field=field)
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{text[:40]!r} is not a real date and time: give one {example}", field=field) from None
    if when.utcoffset() != timezone.utc.utcoffset(None):
        utc = when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        raise InputError(f"{text!r} is not in UTC: give it as {utc}", field=field)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
