"""The text of inclusion proofs for many nodes at once: numpy over tree records.

`InclusionProof.to_json` spells one proof; `prove --all` must spell millions the same
way, parsed value for parsed value (compact separators). Every text here is built
as a byte matrix, one row per node, with a mask of the bytes that belong to the
row's text (leading zeros of an amount, its trailing zeros, its decimal point):
a `Texts` row is a node's JSON fragment, and one boolean gather turns a whole
level into an Arrow string array. No Python object per node or per amount.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from por.amounts import Asset
from por.liabilities.tree import HASH_BYTES

_HEX = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint8).reshape(256, 2)
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


class Texts:
    """Rows of text assembled from parts: constants, fixed-width byte matrices, masked matrices."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.chars: list[np.ndarray] = []
        self.masks: list[np.ndarray | None] = []

    def add(self, chars: np.ndarray | bytes | str, mask: np.ndarray | None = None) -> Texts:
        if isinstance(chars, (str, bytes)):
            raw = chars.encode() if isinstance(chars, str) else chars
            chars = np.broadcast_to(np.frombuffer(raw, np.uint8), (self.rows, len(raw)))
        self.chars.append(chars)
        self.masks.append(mask)
        return self

    def strings(self) -> pa.Array:
        chars = np.concatenate(self.chars, axis=1) if len(self.chars) > 1 else np.asarray(self.chars[0])
        if all(m is None for m in self.masks):
            return fixed_strings(chars)
        mask = np.concatenate(
            [np.ones(c.shape, bool) if m is None else m for c, m in zip(self.chars, self.masks)], axis=1
        )
        offsets = np.zeros(self.rows + 1, dtype=np.int64)
        np.cumsum(mask.sum(axis=1), out=offsets[1:])
        if offsets[-1] >= 2**31:
            raise ValueError("text block too large for one Arrow string array")
        data = chars[mask]
        return pa.Array.from_buffers(
            pa.string(), self.rows, [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
        )


def fixed_strings(raw: np.ndarray) -> pa.Array:
    """An Arrow string array over the rows of a (n, width) ASCII byte matrix."""
    count, width = raw.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(raw))]
    )


def hex_chars(raw: np.ndarray) -> np.ndarray:
    """Lower-case hex of every row of a (n, k) byte matrix, as a (n, 2k) byte matrix."""
    return _HEX[raw].reshape(len(raw), -1)


def hex_strings(raw: np.ndarray) -> pa.Array:
    return fixed_strings(hex_chars(raw))


def json_strings(values: pa.Array) -> pa.Array:
    """Each string as a JSON string literal, as `json.dumps(s, ensure_ascii=False)` writes it."""
    if len(values) and pc.any(pc.match_substring_regex(values, _NEEDS_ESCAPE)).as_py():
        return pa.array([json.dumps(v, ensure_ascii=False) for v in values.to_pylist()], pa.string())
    return pc.binary_join_element_wise('"', values, '"', "")


def decimal_digits(hi: np.ndarray, lo: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, width) ASCII digits of hi * 2^64 + lo, zero-padded (width >= 39: 2^128 has 39 digits),
    and each number's count of digits ("0" has one).

    Arrow's casts spell the integers in C: uint64 for the common amounts, decimal128 (38 digits,
    scale 0, so never an exponent) for larger ones; above 10^38 - 1, Python's int."""
    n = len(lo)
    out = np.empty((n, width), dtype=np.uint8)
    lengths = np.empty(n, dtype=np.int64)
    big = np.nonzero(hi)[0]
    if not len(big):
        out[:], lengths[:] = _padded(pc.cast(pa.array(lo), pa.string()), width)
        return out, lengths
    small = np.nonzero(hi == 0)[0]
    if len(small):
        out[small], lengths[small] = _padded(pc.cast(pa.array(lo[small]), pa.string()), width)
    huge = hi[big] >= _DECIMAL128_HI
    fits = big[~huge]
    raw = np.empty((len(fits), 2), dtype=np.uint64)  # little-endian two's complement, as Arrow stores it
    raw[:, 0], raw[:, 1] = lo[fits], hi[fits]
    decimals = pa.Array.from_buffers(pa.decimal128(38, 0), len(fits), [None, pa.py_buffer(raw)])
    out[fits], lengths[fits] = _padded(pc.cast(decimals, pa.string()), width)
    for i in big[huge].tolist():
        text = str((int(hi[i]) << 64) | int(lo[i]))
        out[i], lengths[i] = np.frombuffer(text.rjust(width, "0").encode(), np.uint8), len(text)
    return out, lengths


_DECIMAL128_HI = np.uint64((10**38 - 1) >> 64)  # hi limbs at or above this may pass 10^38 - 1


def _padded(text: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.asarray(pc.binary_length(text), dtype=np.int64)
    padded = pc.ascii_lpad(text, width, "0")
    data = np.frombuffer(padded.buffers()[2], dtype=np.uint8)
    first = np.frombuffer(padded.buffers()[1], dtype=np.int32)[padded.offset]
    return data[first : first + len(padded) * width].reshape(len(padded), width), lengths


def amount_chars(hi: np.ndarray, lo: np.ndarray, decimals: int) -> tuple[np.ndarray, np.ndarray]:
    """`format_amount(hi * 2^64 + lo, decimals)` of every element, as (chars, mask) matrices:
    whole digits without leading zeros (at least one), then `.` and the fraction without its
    trailing zeros when the fraction is not zero."""
    width = max(39, decimals + 1)
    digits, lengths = decimal_digits(hi, lo, width)
    split = width - decimals  # columns [0, split): whole, [split, width): fraction
    first = np.minimum(width - lengths, split - 1)
    n = len(lo)
    chars = np.empty((n, width + 1), dtype=np.uint8)
    mask = np.empty((n, width + 1), dtype=bool)
    chars[:, :split] = digits[:, :split]
    chars[:, split] = ord(".")
    chars[:, split + 1 :] = digits[:, split:]
    np.greater_equal(np.arange(split)[None, :], first[:, None], out=mask[:, :split])
    if decimals:
        frac = digits[:, split:] != ord("0")
        last = decimals - 1 - frac[:, ::-1].argmax(axis=1)  # last non-zero digit (any: else -1)
        last[~frac.any(axis=1)] = -1
        mask[:, split] = last >= 0
        np.less_equal(np.arange(decimals)[None, :], last[:, None], out=mask[:, split + 1 :])
    else:
        mask[:, split] = False
    return chars, mask


def amount_strings(hi: np.ndarray, lo: np.ndarray, decimals: int) -> pa.Array:
    chars, mask = amount_chars(np.asarray(hi, np.uint64), np.asarray(lo, np.uint64), decimals)
    return Texts(len(lo)).add(chars, mask).strings()


def add_sums(texts: Texts, records: np.ndarray, assets: Sequence[Asset]) -> Texts:
    """Appends `{"SYM":"amount",...}` (`sums_json`, compact) of every record's sums."""
    n = len(records)
    limbs = np.ascontiguousarray(records[:, HASH_BYTES:]).view(">u8").reshape(n, len(assets), 2)
    for a, asset in enumerate(assets):
        texts.add(("{" if a == 0 else ",") + json.dumps(asset.symbol, ensure_ascii=False) + ':"')
        texts.add(*amount_chars(limbs[:, a, 0].astype(np.uint64), limbs[:, a, 1].astype(np.uint64), asset.decimals))
        texts.add('"')
    return texts.add("}")


def sums_objects(records: np.ndarray, assets: Sequence[Asset]) -> pa.Array:
    return add_sums(Texts(len(records)), records, assets).strings()


def path_steps(
    records: np.ndarray, height: int, padding: np.ndarray, assets: Sequence[Asset], end: str = ""
) -> pa.Array:
    """`{"height":h,"hash":"..","sums":{..}[,"padding":true]}` + `end` of sibling records at one height."""
    n = len(records)
    texts = Texts(n).add(f'{{"height":{height},"hash":"').add(hex_chars(records[:, :HASH_BYTES])).add('","sums":')
    add_sums(texts, records, assets)
    pad = b',"padding":true'
    texts.add(pad, np.broadcast_to(np.asarray(padding, bool)[:, None], (n, len(pad))))
    return texts.add("}" + end).strings()


def join_lists(values: pa.Array, offsets: np.ndarray, separator: str = ",") -> pa.Array:
    """values[offsets[i]:offsets[i+1]] joined by `separator`, for every i."""
    lists = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values)
    return pc.binary_join(lists, separator)
