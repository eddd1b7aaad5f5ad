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

This module is the scalar rules: what a verifier of one proof recomputes, with
no numpy (so `por verify-inclusion` starts fast). `levels` is the same rules
over whole levels at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterator, Sequence

from por.amounts import AMOUNT_BYTES, MAX_UNITS

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


@dataclass(frozen=True)
class Node:
    """One node as a verifier sees it."""

    hash: bytes
    sums: tuple[int, ...]

    @classmethod
    def from_record(cls, record) -> "Node":   # bytes or a numpy record row
        raw = bytes(record)
        return cls(raw[:HASH_BYTES], tuple(decode_sums(raw[HASH_BYTES:])))
