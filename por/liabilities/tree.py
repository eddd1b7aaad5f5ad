"""The Merkle sum tree: the primitive every proof in `por` rests on.

One binary tree over all assets at once. A node is a 32-byte hash plus a
vector of per-asset sums (unsigned 128-bit, big-endian). The byte layout of
every preimage is fixed here and documented in docs/design.md:

    user   = H(0x03 || nonce[32] || utf8(account_id))
    leaf   = H(0x00 || height=0 || user[32] || piece[4] || sums)
    inner  = H(0x01 || height || left.hash || left.sums || right.hash || right.sums)
    pad    = H(0x02 || height || index[8])              (sums all zero)

Child sums go into the parent hash (Hu, Zhang and Guo 2018), the height and a
node-kind tag separate domains, and unsigned fixed-width sums make negative
amounts unrepresentable. A padding node stands for an empty subtree, so a
level of odd length gets one padding node and the tree stays "full".

Levels are numpy arrays of fixed-size records (hash || sums) so building and
verifying never create a Python object per node beyond the hash call itself.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Iterator, Sequence

from por.amounts import AMOUNT_BYTES, MAX_UNITS


class _LazyNumpy:
    """numpy, imported on first use. Checking one proof needs only the scalar functions
    below, so `por verify-inclusion` starts without paying ~100 ms for numpy."""

    def __getattr__(self, name: str):
        import numpy

        globals()["np"] = numpy
        return getattr(numpy, name)


np = _LazyNumpy()

HASH_NAME = "sha256"
HASH_BYTES = 32
TAG_LEAF, TAG_INNER, TAG_PAD, TAG_USER = 0, 1, 2, 3
MAX_HEIGHT = 64

_sha256 = hashlib.sha256


class TreeError(ValueError):
    """Amounts or shapes that a sum tree cannot commit to (overflow, bad width)."""


def record_size(asset_count: int) -> int:
    return HASH_BYTES + AMOUNT_BYTES * asset_count


# --- scalar hashing: what a verifier of one proof recomputes -----------------

def encode_sums(amounts: Sequence[int]) -> bytes:
    """Fixed-width big-endian sums; rejects what the tree cannot hold."""
    out = bytearray()
    for value in amounts:
        if not isinstance(value, int) or value < 0:
            raise TreeError(f"amount {value!r} is negative or not an integer")
        if value > MAX_UNITS:
            raise TreeError(f"amount {value} exceeds 2^128-1 base units")
        out += value.to_bytes(AMOUNT_BYTES, "big")
    return bytes(out)


def decode_sums(raw: bytes) -> list[int]:
    return [int.from_bytes(raw[i:i + AMOUNT_BYTES], "big") for i in range(0, len(raw), AMOUNT_BYTES)]


def user_hash(nonce: bytes, account_id: str) -> bytes:
    """Hides the account id: only someone with the nonce can link a leaf to it."""
    if len(nonce) != 32:
        raise TreeError("nonce must be 32 bytes")
    return _sha256(bytes([TAG_USER]) + nonce + account_id.encode("utf-8")).digest()


def leaf_hash(user: bytes, piece: int, sums: bytes) -> bytes:
    return _sha256(bytes([TAG_LEAF, 0]) + user + piece.to_bytes(4, "big") + sums).digest()


def inner_hash(height: int, left_hash: bytes, left_sums: bytes, right_hash: bytes, right_sums: bytes) -> bytes:
    return _sha256(bytes([TAG_INNER, height]) + left_hash + left_sums + right_hash + right_sums).digest()


def padding_hash(height: int, index: int) -> bytes:
    """Deterministic, so anyone can tell real padding from a disguised node."""
    return _sha256(bytes([TAG_PAD, height]) + index.to_bytes(8, "big")).digest()


def add_sums(left: Sequence[int], right: Sequence[int]) -> list[int]:
    total = [a + b for a, b in zip(left, right)]
    if any(t > MAX_UNITS for t in total):
        raise TreeError("sum exceeds 2^128-1 base units")
    return total


def level_sizes(leaf_count: int) -> list[int]:
    """Node count of every level, padding included, leaves first, root last."""
    if leaf_count < 1:
        raise TreeError("a tree needs at least one leaf")
    sizes = []
    n = leaf_count
    while True:
        if n % 2:
            n += 1
        sizes.append(n)
        n //= 2
        if n == 1:
            sizes.append(1)
            return sizes


def tree_height(leaf_count: int) -> int:
    return len(level_sizes(leaf_count)) - 1


def sibling_positions(index: int, leaf_count: int) -> Iterator[tuple[int, int, bool]]:
    """(height, sibling index, sibling is padding) for each level of a leaf's path."""
    sizes = level_sizes(leaf_count)
    real = leaf_count
    for height in range(len(sizes) - 1):
        sib = index ^ 1
        yield height, sib, sib >= real
        index //= 2
        real = sizes[height] // 2


# --- vectorised levels: what publish and verify-tree run ---------------------

def sums_to_limbs(records: np.ndarray, asset_count: int) -> tuple[np.ndarray, np.ndarray]:
    """(hi, lo) uint64 arrays of shape (n, assets) from big-endian record sums."""
    limbs = records[:, HASH_BYTES:].view(">u8").reshape(len(records), asset_count, 2)
    return limbs[:, :, 0].astype(np.uint64), limbs[:, :, 1].astype(np.uint64)


def limbs_to_bytes(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    n, assets = hi.shape
    out = np.empty((n, assets, 2), dtype=">u8")
    out[:, :, 0] = hi
    out[:, :, 1] = lo
    return out.view(np.uint8).reshape(n, assets * AMOUNT_BYTES)


def ints_to_limbs(values: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Python ints (already checked 0..2^128-1) -> (hi, lo) uint64 arrays."""
    mask = (1 << 64) - 1
    if not values or max(values) <= mask:          # max() runs in C: the common case is one pass
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
    rows = struct.Struct(f"{width}s").iter_unpack(memoryview(np.ascontiguousarray(preimages)).cast("B"))
    sha256 = _sha256
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


def leaf_records(users: np.ndarray, pieces: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Leaf records from user hashes (n, 32), piece numbers (n,) and sums as limbs (n, assets)."""
    n = len(users)
    asset_count = hi.shape[1]
    pre = np.empty((n, 2 + HASH_BYTES + 4 + AMOUNT_BYTES * asset_count), dtype=np.uint8)
    pre[:, 0] = TAG_LEAF
    pre[:, 1] = 0
    pre[:, 2:2 + HASH_BYTES] = users
    pre[:, 2 + HASH_BYTES:6 + HASH_BYTES].view(">u4")[:, 0] = pieces
    sums = pre[:, 6 + HASH_BYTES:]                 # written once, big-endian, straight from the limbs
    limbs = sums.view(">u8").reshape(n, asset_count, 2)
    limbs[:, :, 0] = hi
    limbs[:, :, 1] = lo
    out = np.empty((n, record_size(asset_count)), dtype=np.uint8)
    out[:, :HASH_BYTES] = hash_rows(pre)
    out[:, HASH_BYTES:] = sums
    return out


@dataclass(frozen=True)
class Node:
    """One node as a verifier sees it."""

    hash: bytes
    sums: tuple[int, ...]

    @classmethod
    def from_record(cls, record: bytes | np.ndarray) -> "Node":
        raw = bytes(record)
        return cls(raw[:HASH_BYTES], tuple(decode_sums(raw[HASH_BYTES:])))


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
