"""The text of inclusion proofs for many nodes at once: Arrow string kernels over tree records.

`InclusionProof.to_json` spells one proof; `prove --all` must spell millions the same
way, parsed value for parsed value (compact separators). Hashes become hex, sums
become `format_amount` text, and a path step becomes its JSON object, for whole
arrays of records at once; only amounts of 2^64 base units or more go through
Python (`format_amount` itself), and they are rare below the top of a tree.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from por.amounts import Asset, format_amount
from por.liabilities.tree import HASH_BYTES

_HEX = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint8).reshape(256, 2)
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


def fixed_strings(raw: np.ndarray) -> pa.Array:
    """An Arrow string array over the rows of a (n, width) ASCII byte matrix."""
    count, width = raw.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), count, [None, pa.py_buffer(offsets),
                                                      pa.py_buffer(np.ascontiguousarray(raw))])


def hex_strings(raw: np.ndarray) -> pa.Array:
    """Lower-case hex of every row of a (n, k) byte matrix."""
    return fixed_strings(_HEX[raw].reshape(len(raw), -1))


def json_strings(values: pa.Array) -> pa.Array:
    """Each string as a JSON string literal, as `json.dumps(s, ensure_ascii=False)` writes it."""
    if len(values) and pc.any(pc.match_substring_regex(values, _NEEDS_ESCAPE)).as_py():
        return pa.array([json.dumps(v, ensure_ascii=False) for v in values.to_pylist()], pa.string())
    return pc.binary_join_element_wise('"', values, '"', "")


def amount_strings(hi: np.ndarray, lo: np.ndarray, decimals: int) -> pa.Array:
    """`format_amount(hi * 2^64 + lo, decimals)` for every element (uint64 limbs)."""
    lo = np.ascontiguousarray(lo, dtype=np.uint64)
    if decimals == 0:
        text = pc.cast(pa.array(lo), pa.string())
    elif decimals < 20:                            # 10^19 < 2^64: whole and fraction in uint64
        scale = np.uint64(10 ** decimals)
        whole = pc.cast(pa.array(lo // scale), pa.string())
        frac = pc.ascii_rtrim(pc.ascii_lpad(pc.cast(pa.array(lo % scale), pa.string()), decimals, "0"), "0")
        text = pc.if_else(pc.equal(frac, ""), whole, pc.binary_join_element_wise(whole, frac, "."))
    else:
        text = None
    big = np.nonzero(hi)[0] if text is not None else np.arange(len(lo))
    if not len(big):
        return text
    values = (text.to_pylist() if text is not None else [None] * len(lo))
    for i, h, low in zip(big.tolist(), hi[big].tolist(), lo[big].tolist()):
        values[i] = format_amount((h << 64) | low, decimals)
    return pa.array(values, pa.string())


def sums_objects(records: np.ndarray, assets: list[Asset]) -> pa.Array:
    """`{"SYM":"amount",...}` (`sums_json`, compact) of every record's sums."""
    n = len(records)
    limbs = np.ascontiguousarray(records[:, HASH_BYTES:]).view(">u8").reshape(n, len(assets), 2)
    parts: list = []
    for a, asset in enumerate(assets):
        key = json.dumps(asset.symbol, ensure_ascii=False)
        parts += [("{" if a == 0 else ",") + key + ':"',
                  amount_strings(limbs[:, a, 0].astype(np.uint64), limbs[:, a, 1].astype(np.uint64), asset.decimals),
                  '"']
    parts.append("}")
    return pc.binary_join_element_wise(*parts, "")


def path_steps(records: np.ndarray, height: int, padding: np.ndarray, assets: list[Asset]) -> pa.Array:
    """`{"height":h,"hash":"..","sums":{..}[,"padding":true]}` of sibling records at one height."""
    closing = pc.if_else(pa.array(padding, pa.bool_()), ',"padding":true}', "}")
    return pc.binary_join_element_wise(f'{{"height":{height},"hash":"', hex_strings(records[:, :HASH_BYTES]),
                                       '","sums":', sums_objects(records, assets), closing, "")


def join_lists(values: pa.Array, offsets: np.ndarray, separator: str = ",") -> pa.Array:
    """values[offsets[i]:offsets[i+1]] joined by `separator`, for every i."""
    lists = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values)
    return pc.binary_join(lists, separator)


def is_plain(text: str) -> bool:
    return re.search(_NEEDS_ESCAPE, text) is None
