"""Tree levels as numpy arrays of fixed-size records (hash || sums): the rules of
`tree`, applied to a whole level at once, so building and verifying never create
a Python object per node beyond the hash call itself.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

import numpy as np

from por.amounts import AMOUNT_BYTES
from por.liabilities.tree import (
    HASH_BYTES,
    MAX_HEIGHT,
    TAG_INNER,
    TAG_LEAF,
    Header,
    TreeError,
    padding_hash,
    record_size,
    root_hash,
)


def ints_to_limbs(values: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Python ints (already checked 0..2^128-1) -> (hi, lo) uint64 arrays."""
    mask = (1 << 64) - 1
    if not values or max(values) <= mask:  # max() runs in C: the common case is one pass
        lo = np.fromiter(values, dtype=np.uint64, count=len(values))
        return np.zeros(len(values), dtype=np.uint64), lo
    hi = np.fromiter((v >> 64 for v in values), dtype=np.uint64, count=len(values))
    lo = np.fromiter((v & mask for v in values), dtype=np.uint64, count=len(values))
    return hi, lo


def hash_rows(preimages: np.ndarray) -> np.ndarray:
    """SHA-256 of every row: the one loop the design cannot vectorise.

    struct.iter_unpack cuts the rows straight from the array's memory, so the
    only object per row is the bytes hashlib needs. (A list comprehension, not
    map(): it lets the writer thread in por/liabilities/build.py have the GIL now and then.)
    """
    n, width = preimages.shape
    if not n:
        return np.zeros((0, HASH_BYTES), dtype=np.uint8)
    rows = struct.Struct(f"{width}s").iter_unpack(np.ascontiguousarray(preimages).data.cast("B"))
    sha256 = hashlib.sha256
    digests = b"".join([sha256(row).digest() for (row,) in rows])
    return np.frombuffer(digests, dtype=np.uint8).reshape(n, HASH_BYTES)


def padding_record(height: int, index: int, asset_count: int) -> np.ndarray:
    rec = np.zeros((1, record_size(asset_count)), dtype=np.uint8)
    rec[0, :HASH_BYTES] = np.frombuffer(padding_hash(height, index), dtype=np.uint8)
    return rec


def parent_level(level: np.ndarray, height: int, asset_count: int) -> np.ndarray:
    """Records of the level above `level` (which must have even length).

    `height` is the height of the parents. Raises TreeError if a sum overflows.
    """
    n = len(level) // 2
    width = level.shape[1]
    pre = np.empty((n, 2 + 2 * width), dtype=np.uint8)
    pre[:, 0] = TAG_INNER
    pre[:, 1] = height
    pre[:, 2:] = level.reshape(n, 2 * width)
    out = np.empty((n, width), dtype=np.uint8)
    out[:, :HASH_BYTES] = hash_rows(pre)
    if asset_count:
        # 128-bit sums as (hi, lo) uint64 limbs, in place: lo + lo, carry into hi + hi
        limbs = level[:, HASH_BYTES:].view(">u8").reshape(n, 2, 2 * asset_count)
        left = limbs[:, 0].astype(np.uint64)
        total = limbs[:, 1].astype(np.uint64)
        total += left
        carry = total[:, 1::2] < left[:, 1::2]
        high = total[:, 0::2]
        overflow = high < left[:, 0::2]
        np.add(high, carry, out=high, casting="unsafe")
        overflow |= carry & (high == 0)
        if overflow.any():
            raise TreeError(f"a sum at height {height} exceeds 2^128-1 base units")
        out[:, HASH_BYTES:].view(">u8")[...] = total
    return out


def pad_level(level: np.ndarray, height: int, asset_count: int) -> np.ndarray:
    if len(level) % 2 == 0:
        return level
    return np.concatenate([level, padding_record(height, len(level), asset_count)])


def leaf_records(users: np.ndarray, pieces, counts, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Leaf records from user hashes (n, 32), piece numbers and piece counts ((n,) or one number for
    all) and sums as limbs (n, assets): `tree.leaf_hash` for every row at once."""
    n = len(users)
    asset_count = hi.shape[1]
    pre = np.empty((n, 2 + HASH_BYTES + 8 + AMOUNT_BYTES * asset_count), dtype=np.uint8)
    pre[:, 0] = TAG_LEAF
    pre[:, 1] = 0
    pre[:, 2 : 2 + HASH_BYTES] = users
    numbers = pre[:, 2 + HASH_BYTES : 10 + HASH_BYTES].view(">u4")
    numbers[:, 0] = pieces
    numbers[:, 1] = counts
    sums = pre[:, 10 + HASH_BYTES :]  # written once, big-endian, straight from the limbs
    limbs = sums.view(">u8").reshape(n, asset_count, 2)
    limbs[:, :, 0] = hi
    limbs[:, :, 1] = lo
    out = np.empty((n, record_size(asset_count)), dtype=np.uint8)
    out[:, :HASH_BYTES] = hash_rows(pre)
    out[:, HASH_BYTES:] = sums
    return out


def root_record(header: Header, top: np.ndarray) -> np.ndarray:
    """The format-2 root node over the top record: its hash (`tree.root_hash`) and the top's sums."""
    rec = np.array(top, dtype=np.uint8).reshape(1, -1)
    rec[0, :HASH_BYTES] = np.frombuffer(
        root_hash(header, bytes(rec[0, :HASH_BYTES]), bytes(rec[0, HASH_BYTES:])), dtype=np.uint8
    )
    return rec


def build_levels(leaves: np.ndarray, asset_count: int, progress=None) -> list[np.ndarray]:
    """Every level of the tree, leaves first (padded), root last.

    `progress(nodes_done)` is called after each level, for progress bars.
    """
    level = pad_level(leaves, 0, asset_count)
    levels = [level]
    height = 0
    while len(level) > 1:
        height += 1
        if height > MAX_HEIGHT:
            raise TreeError("tree too tall")
        level = parent_level(level, height, asset_count)
        if len(level) > 1:
            level = pad_level(level, height, asset_count)
        levels.append(level)
        if progress:
            progress(len(level))
    return levels
