"""The Merkle sum tree: the primitive every proof in `por` rests on.

One binary tree over all assets at once. A node is a 32-byte hash plus a
vector of per-asset sums (unsigned 128-bit, big-endian). The byte layout of
every preimage is fixed here and documented in docs/design.md (format 2):

    user   = H(0x03 || nonce[32] || utf8(account_id))
    leaf   = H(0x00 || height=0 || user[32] || piece[4] || count[4] || sums)
    inner  = H(0x01 || height || left.hash || left.sums || right.hash || right.sums)
    pad    = H(0x02 || height || index[8])              (sums all zero)
    root   = H(0x04 || H(canonical header) || top.hash || top.sums)

Child sums go into the parent hash (Hu, Zhang and Guo 2018), the height and a
node-kind tag separate domains, and unsigned fixed-width sums make negative
amounts unrepresentable. A padding node stands for an empty subtree, so a
level of odd length gets one padding node and the tree stays "full". The root
is a node of its own kind over the top of the tree and the canonical header
(`Header`): a bare root hash binds every label (asset symbols and decimals,
exchange, snapshot, leaf count, height), not only the balances by position.
Format 1 (no piece count, no root node) is still read, as a legacy format.

This module is the scalar rules: what a verifier of one proof recomputes, with
no numpy (so `por verify-inclusion` starts fast). `levels` is the same rules
over whole levels at once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from por.amounts import AMOUNT_BYTES, MAX_UNITS, Asset

HASH_NAME = "sha256"
HASH_BYTES = 32
TAG_LEAF, TAG_INNER, TAG_PAD, TAG_USER, TAG_ROOT = 0, 1, 2, 3, 4
MAX_HEIGHT = 64
MAX_ASSETS = 1000  # assets in one publication: what publish writes and every reader accepts
MAX_LEAVES = 2**64 - 1  # the header holds the leaf count in 8 bytes
VERSION = 2  # what `por publish` writes
LEGACY_VERSION = 1  # still read: no piece count in the leaf, no root node
VERSIONS = (LEGACY_VERSION, VERSION)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")

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
    return [int.from_bytes(raw[i : i + AMOUNT_BYTES], "big") for i in range(0, len(raw), AMOUNT_BYTES)]


def user_hash(nonce: bytes, account_id: str) -> bytes:
    """Hides the account id: only someone with the nonce can link a leaf to it."""
    if len(nonce) != 32:
        raise TreeError("nonce must be 32 bytes")
    return _sha256(bytes([TAG_USER]) + nonce + account_id.encode("utf-8")).digest()


def leaf_hash(user: bytes, piece: int, count: int, sums: bytes) -> bytes:
    """Piece `piece` of `count`: the count is bound, so no piece can be left out of a proof."""
    if not 0 <= piece < count <= 2**32 - 1:
        raise TreeError(f"piece {piece} of {count} pieces")
    return _sha256(bytes([TAG_LEAF, 0]) + user + piece.to_bytes(4, "big") + count.to_bytes(4, "big") + sums).digest()


def legacy_leaf_hash(user: bytes, piece: int, sums: bytes) -> bytes:
    """Format 1's leaf: no piece count (a proof could leave out a last piece)."""
    return _sha256(bytes([TAG_LEAF, 0]) + user + piece.to_bytes(4, "big") + sums).digest()


def inner_hash(height: int, left_hash: bytes, left_sums: bytes, right_hash: bytes, right_sums: bytes) -> bytes:
    return _sha256(bytes([TAG_INNER, height]) + left_hash + left_sums + right_hash + right_sums).digest()


def padding_hash(height: int, index: int) -> bytes:
    """Deterministic, so anyone can tell real padding from a disguised node."""
    return _sha256(bytes([TAG_PAD, height]) + index.to_bytes(8, "big")).digest()


def check_snapshot_time(text: str) -> str:
    """The one spelling of a snapshot time the header binds: YYYY-MM-DDTHH:MM:SSZ, a real UTC time."""
    if not isinstance(text, str) or not _TIME_RE.match(text):
        raise TreeError(f"snapshot time {str(text)[:40]!r} is not YYYY-MM-DDTHH:MM:SSZ (UTC)")
    try:  # by position (the pattern fixed them): strptime costs the customer's start-up a locale import
        year, month, day = (int(part) for part in text[:10].split("-"))
        hour, minute, second = (int(part) for part in text[11:19].split(":"))
        when = datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise TreeError(f"snapshot time {text!r} is not a real time") from None
    if when.year < 1970 or when.strftime(TIME_FORMAT) != text:
        raise TreeError(f"snapshot time {text!r} is not a real time after 1970")
    return text


@dataclass(frozen=True)
class Header:
    """The labels of a tree: what a format-2 root binds besides the top node's hash and sums.

    The commitment, the tree file's header line and every proof each carry these
    fields; `canonical_header` is their one byte form (docs/design.md).
    `exchange` and `snapshot_time` are None in a legacy (format 1) document.
    """

    version: int
    exchange: str | None
    snapshot_id: str
    snapshot_time: str | None
    leaf_count: int
    height: int
    assets: tuple[Asset, ...]


def _text_field(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise TreeError("a header text is longer than 65535 bytes")
    return len(raw).to_bytes(2, "big") + raw


def canonical_header(header: Header) -> bytes:
    """The exact bytes H(canonical header) covers; every length is explicit, so no two headers share them.

    version[1] || text(hash name) || text(exchange) || text(snapshot id) || text(snapshot time)
    || leaf_count[8] || height[1] || asset_count[2] || (text(symbol) || decimals[1]) per asset
    text(s) = byte length of UTF-8(s) [2] || UTF-8(s); integers unsigned big-endian
    """
    if header.version != VERSION or header.exchange is None or header.snapshot_time is None:
        raise TreeError("only a format-2 header has a canonical form")
    check_snapshot_time(header.snapshot_time)
    if not 1 <= header.leaf_count <= MAX_LEAVES or not 1 <= header.height <= MAX_HEIGHT:
        raise TreeError("leaf count or height out of range")
    if not 1 <= len(header.assets) <= 0xFFFF:
        raise TreeError("a tree needs 1 to 65535 assets")
    out = bytearray([header.version])
    for text in (HASH_NAME, header.exchange, header.snapshot_id, header.snapshot_time):
        out += _text_field(text)
    out += header.leaf_count.to_bytes(8, "big") + bytes([header.height]) + len(header.assets).to_bytes(2, "big")
    for asset in header.assets:
        if not 0 <= asset.decimals <= 255:
            raise TreeError(f"{asset.symbol}: decimals out of range")
        out += _text_field(asset.symbol) + bytes([asset.decimals])
    return bytes(out)


def root_hash(header: Header, top_hash: bytes, top_sums: bytes) -> bytes:
    """The format-2 root: the top node bound to every label of the tree."""
    header_hash = _sha256(canonical_header(header)).digest()
    return _sha256(bytes([TAG_ROOT]) + header_hash + top_hash + top_sums).digest()


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
    def from_record(cls, record) -> Node:  # bytes or a numpy record row
        raw = bytes(record)
        return cls(raw[:HASH_BYTES], tuple(decode_sums(raw[HASH_BYTES:])))
