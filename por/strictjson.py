"""Strict JSON reading: one meaning per document, every error names its field.

Duplicate keys, NaN, `-0`, floats where strings are required and oversized
documents are refused, because two readers must never see two documents.
The layout is not the document: a UTF-8 byte order mark, CRLF line ends and
any JSON white space are read as the same value (a re-saved file is the same
file); what is judged is the parsed value.
"""

from __future__ import annotations

import builtins
import json
import math
import re
from pathlib import Path
from typing import Any, Literal, overload

from por.amounts import AmountError, parse_amount
from por.errors import InputError
from por.text import read_bounded  # noqa: F401  (the one bounded reader, used from here by most readers)

MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
_HEX_RE = re.compile(r"[0-9a-f]*\Z")


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json.loads(object_pairs_hook=...)`: an object, or bad input when it names a key twice (every
    reader of por, foreign formats too: one object, one value per key)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise InputError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise InputError(f"{name} is not allowed")


def _integer(text: str) -> int:
    if text == "-0":
        raise InputError("-0 is not a canonical integer (write 0)")
    return int(text)


def _number(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise InputError(f"number {text[:40]} is out of range")
    return value


def decode(raw: bytes, source: str | None) -> str:
    """UTF-8 text, a leading byte order mark dropped (editors on Windows add one)."""
    bom = 3 if raw[:3] == b"\xef\xbb\xbf" else 0
    try:
        return bytes(raw[bom:]).decode("utf-8")
    except UnicodeDecodeError as exc:  # the offset in the file, counted from 0
        raise InputError(f"not UTF-8 text (byte {exc.start + bom})", file=source) from None


def loads(text: str | bytes, source: str | None) -> Any:
    """One JSON value: bytes must be UTF-8 (a byte order mark allowed), as must a string's start."""
    text = decode(text, source) if isinstance(text, (bytes, bytearray)) else text.removeprefix("\ufeff")
    try:
        return json.loads(
            text, object_pairs_hook=unique_keys, parse_constant=_no_constant, parse_int=_integer, parse_float=_number
        )
    except InputError as exc:
        raise exc.at(file=source) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=source, line=exc.lineno) from None
    except (RecursionError, ValueError) as exc:
        raise InputError(f"invalid JSON: {exc}", file=source) from None


def load_file(path: str | Path, limit: int = MAX_DOCUMENT_BYTES, what: str = "") -> Any:
    path = Path(path)
    return loads(read_bounded(path, limit, what), str(path))


class Fields:
    """Typed access to a JSON object that reports `file: a.b[3].c: reason`.

    The methods `str` and `int` shadow the builtins inside the class: annotations here say `builtins.str`.
    With `optional=True` a missing field is None, so those calls are typed `... | None`."""

    def __init__(self, data: Any, source: builtins.str, path: builtins.str = "") -> None:
        if not isinstance(data, dict):
            raise InputError(f"expected an object, got {_kind(data)}", file=source, field=path or None)
        self.data = data
        self.source = source
        self.path = path

    def error(self, key: builtins.str | None, reason: builtins.str) -> InputError:
        return InputError(reason, file=self.source, field=self._at(key))

    @overload
    def _at(self, key: builtins.str | builtins.int) -> builtins.str: ...
    @overload
    def _at(self, key: None) -> builtins.str | None: ...
    def _at(self, key: builtins.str | builtins.int | None) -> builtins.str | None:
        if key is None:
            return self.path or None
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def only(self, *allowed: builtins.str) -> Fields:
        extra = sorted(set(self.data) - set(allowed))
        if extra:
            raise self.error(extra[0], "unknown field")
        return self

    def has(self, key: builtins.str) -> bool:
        return key in self.data

    def get(
        self, key: builtins.str, kind: type | tuple[type, ...], *, optional: bool = False, default: Any = None
    ) -> Any:
        if key not in self.data:
            if optional:
                return default
            raise self.error(key, "missing")
        value = self.data[key]
        if kind is int and isinstance(value, bool):
            raise self.error(key, "expected an integer, got a boolean")
        if not isinstance(value, kind):
            raise self.error(key, f"expected {_name(kind)}, got {_kind(value)}")
        return value

    @overload
    def str(
        self, key: builtins.str, *, optional: Literal[False] = False, max_len: builtins.int = 4096
    ) -> builtins.str: ...
    @overload
    def str(self, key: builtins.str, *, optional: bool, max_len: builtins.int = 4096) -> builtins.str | None: ...
    def str(self, key: builtins.str, *, optional: bool = False, max_len: builtins.int = 4096) -> builtins.str | None:
        value = self.get(key, str, optional=optional)
        if value is not None and len(value) > max_len:
            raise self.error(key, f"longer than {max_len} characters")
        if value is not None and not _encodable(value):
            raise self.error(key, "not valid Unicode text (a lone surrogate escape)")
        return value

    @overload
    def int(
        self,
        key: builtins.str,
        *,
        minimum: builtins.int = 0,
        maximum: builtins.int = 2**63,
        optional: Literal[False] = False,
    ) -> builtins.int: ...
    @overload
    def int(
        self, key: builtins.str, *, minimum: builtins.int = 0, maximum: builtins.int = 2**63, optional: bool
    ) -> builtins.int | None: ...
    def int(
        self, key: builtins.str, *, minimum: builtins.int = 0, maximum: builtins.int = 2**63, optional: bool = False
    ) -> builtins.int | None:
        value = self.get(key, int, optional=optional)
        if value is not None and not (minimum <= value <= maximum):
            raise self.error(key, f"{value} outside {minimum}..{maximum}")
        return value

    @overload
    def hex(self, key: builtins.str, nbytes: builtins.int, *, optional: Literal[False] = False) -> bytes: ...
    @overload
    def hex(self, key: builtins.str, nbytes: builtins.int, *, optional: bool) -> bytes | None: ...
    def hex(self, key: builtins.str, nbytes: builtins.int, *, optional: bool = False) -> bytes | None:
        value = self.str(key, optional=optional)
        if value is None:
            return None
        if len(value) != 2 * nbytes or not _HEX_RE.match(value):
            raise self.error(key, f"expected {2 * nbytes} lower-case hex digits")
        return bytes.fromhex(value)

    @overload
    def obj(self, key: builtins.str, *, optional: Literal[False] = False) -> Fields: ...
    @overload
    def obj(self, key: builtins.str, *, optional: bool) -> Fields | None: ...
    def obj(self, key: builtins.str, *, optional: bool = False) -> Fields | None:
        value = self.get(key, dict, optional=optional)
        return None if value is None else Fields(value, self.source, self._at(key))

    def objects(self, key: builtins.str, *, max_items: builtins.int = 10_000_000) -> list[Fields]:
        items = self.get(key, list)
        if len(items) > max_items:
            raise self.error(key, f"more than {max_items} items")
        return [Fields(item, self.source, self._at(key) + f"[{i}]") for i, item in enumerate(items)]

    def amount(self, key: builtins.str, decimals: builtins.int) -> builtins.int:
        """A canonical decimal string in base units (no floats, signs or exponents)."""
        value = self.get(key, str)
        try:
            return parse_amount(value, decimals, canonical=True)
        except AmountError as exc:
            raise self.error(key, exc.reason) from None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", dict: "an object", list: "an array", bool: "a boolean"}
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return _name(type(value)) if type(value) in (str, int, dict, list, bool) else type(value).__name__
