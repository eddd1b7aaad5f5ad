"""The text of inclusion proofs for many nodes at once: Arrow string kernels over tree records.

`InclusionProof.to_json` spells one proof; `prove --all` must spell millions the same
way, parsed value for parsed value (compact separators). Every text here is a column:
amounts are cast to decimal text, padded, split at the decimal point and trimmed by
Arrow's kernels, hashes are hex'd in one call, and one `binary_join_element_wise`
lays out a whole level's JSON fragments. No Python object per node or per amount.
"""

from __future__ import annotations

import binascii
import functools
import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from por.amounts import Asset
from por.liabilities.tree import HASH_BYTES

_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


@functools.lru_cache(maxsize=None, typed=True)
def literal(value: str | int) -> pa.Scalar:
    """A constant argument of a compute kernel, converted once. A Python value is converted
    again at every call, and each conversion tries to import dateutil (pyarrow does not
    remember that it is absent): 0.2 ms a call, a tenth of `prove --all` at 1M accounts."""
    return pa.scalar(value)


def fixed_strings(raw: np.ndarray) -> pa.Array:
    """An Arrow string array over the rows of a (n, width) ASCII byte matrix."""
    count, width = raw.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(raw))]
    )


def hex_chars(raw: np.ndarray) -> np.ndarray:
    """Lower-case hex of every row of a (n, k) byte matrix, as a (n, 2k) byte matrix."""
    text = binascii.hexlify(np.ascontiguousarray(raw, dtype=np.uint8).tobytes())
    return np.frombuffer(text, np.uint8).reshape(len(raw), -1)


def hex_strings(raw: np.ndarray) -> pa.Array:
    return fixed_strings(hex_chars(raw))


def json_strings(values: pa.Array) -> pa.Array:
    """Each string as a JSON string literal, as `json.dumps(s, ensure_ascii=False)` writes it."""
    if len(values) and pc.any(pc.match_substring_regex(values, _NEEDS_ESCAPE)).as_py():
        return pa.array([json.dumps(v, ensure_ascii=False) for v in values.to_pylist()], pa.string())
    return pc.binary_join_element_wise(literal('"'), values, literal('"'), literal(""))


_DECIMAL128_HI = np.uint64((10**38 - 1) >> 64)  # hi limbs at or above this may pass 10^38 - 1


def _decimal128(hi: np.ndarray, lo: np.ndarray, scale: int) -> pa.Array:
    """hi * 2^64 + lo (each below 10^38) as Arrow decimal128 values of `scale` decimals."""
    raw = np.empty((len(lo), 2), dtype=np.uint64)  # little-endian two's complement, as Arrow stores it
    raw[:, 0], raw[:, 1] = lo, hi
    return pa.Array.from_buffers(pa.decimal128(38, scale), len(lo), [None, pa.py_buffer(raw)])


def integer_strings(hi: np.ndarray, lo: np.ndarray) -> pa.Array:
    """The decimal text of every hi * 2^64 + lo ("0" for zero), spelled in C by Arrow's casts:
    uint64 for the common amounts, decimal128 (38 digits, scale 0) for larger ones; above
    10^38 - 1, Python's int."""
    big = np.nonzero(hi)[0]
    if not len(big):
        return pc.cast(pa.array(lo), pa.string())
    huge = hi[big] >= _DECIMAL128_HI
    fits = big[~huge]
    decimals = _decimal128(hi[fits], lo[fits], 0)
    small = np.nonzero(hi == 0)[0]
    rest = big[huge]
    parts = [
        pc.cast(pa.array(lo[small]), pa.string()),
        pc.cast(decimals, pa.string()),
        pa.array([str((int(hi[i]) << 64) | int(lo[i])) for i in rest.tolist()], pa.string()),
    ]
    where = np.empty(len(lo), dtype=np.int64)
    where[np.concatenate([small, fits, rest])] = np.arange(len(lo))
    return pa.concat_arrays(parts).take(pa.array(where))


def amount_strings(hi: np.ndarray, lo: np.ndarray, decimals: int) -> pa.Array:
    """`format_amount(hi * 2^64 + lo, decimals)` of every element: whole digits without leading
    zeros (at least one), then `.` and the fraction without its trailing zeros, when not zero.

    The base units, read as a decimal128 of scale `decimals`, are spelled by one cast, then
    trimmed. Arrow writes a value under 10^-6 in exponent form ("1E-8"), and decimal128 holds
    38 digits: those values (zero among them) are spelled digit by digit instead."""
    hi, lo = np.asarray(hi, np.uint64), np.asarray(lo, np.uint64)
    if decimals == 0 or decimals > 38:
        return _amount_strings_by_digits(hi, lo, decimals)
    scaled = _decimal128(hi, lo, decimals)
    other = hi >= _DECIMAL128_HI
    if decimals > 6:
        line_hi, line_lo = np.uint64(10 ** (decimals - 6) >> 64), np.uint64(10 ** (decimals - 6) & (2**64 - 1))
        other |= (hi < line_hi) | ((hi == line_hi) & (lo < line_lo))
    if other.all():
        return _amount_strings_by_digits(hi, lo, decimals)
    text = pc.utf8_rtrim(pc.utf8_rtrim(pc.cast(scaled, pa.string()), "0"), ".")
    if not other.any():
        return text
    return pc.replace_with_mask(text, pa.array(other), _amount_strings_by_digits(hi[other], lo[other], decimals))


def _amount_strings_by_digits(hi: np.ndarray, lo: np.ndarray, decimals: int) -> pa.Array:
    digits = integer_strings(hi, lo)
    if decimals == 0:
        return digits
    padded = pc.utf8_lpad(digits, decimals + 1, "0")
    whole = pc.utf8_slice_codeunits(padded, 0, -decimals)
    fraction = pc.utf8_rtrim(pc.utf8_slice_codeunits(padded, -decimals), "0")
    dot = pc.if_else(pc.greater(pc.binary_length(fraction), literal(0)), literal("."), literal(""))
    return pc.binary_join_element_wise(whole, dot, fraction, literal(""))


def sums_parts(records: np.ndarray, assets: Sequence[Asset]) -> list:
    """The pieces of `{"SYM":"amount",...}` (`sums_json`, compact) of every record's sums,
    for one `binary_join_element_wise`."""
    n = len(records)
    limbs = np.ascontiguousarray(records[:, HASH_BYTES:]).view(">u8").reshape(n, len(assets), 2)
    parts: list = []
    for a, asset in enumerate(assets):
        key = ("{" if a == 0 else '",') + json.dumps(asset.symbol, ensure_ascii=False) + ':"'
        parts += [literal(key), amount_strings(limbs[:, a, 0], limbs[:, a, 1], asset.decimals)]
    return parts + [literal('"}')]


def sums_objects(records: np.ndarray, assets: Sequence[Asset]) -> pa.Array:
    return pc.binary_join_element_wise(*sums_parts(records, assets), literal(""))


def path_steps(
    records: np.ndarray, height: int, padding: np.ndarray, assets: Sequence[Asset], end: str = ""
) -> pa.Array:
    """`{"height":h,"hash":"..","sums":{..}[,"padding":true]}` + `end` of sibling records at one height."""
    pad = pc.if_else(pa.array(np.asarray(padding, bool)), literal(',"padding":true'), literal(""))
    return pc.binary_join_element_wise(
        literal(f'{{"height":{height},"hash":"'),
        hex_strings(records[:, :HASH_BYTES]),
        literal('","sums":'),
        *sums_parts(records, assets),
        pad,
        literal("}" + end),
        literal(""),
    )


def join_lists(values: pa.Array, offsets: np.ndarray, separator: str = ",") -> pa.Array:
    """values[offsets[i]:offsets[i+1]] joined by `separator`, for every i."""
    lists = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values)
    return pc.binary_join(lists, literal(separator))
