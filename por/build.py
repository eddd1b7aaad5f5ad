"""Building trees of any size: leaves made in chunks, levels streamed to disk,
or cut into power-of-two blocks that workers build independently.

Every function here yields exactly the records of `por.tree.build_levels` for
the same nonces and leaf order; only where nodes are computed and kept
differs. The hot path is numpy over fixed-size records plus the one hashlib
loop in `por.tree.hash_rows`: no Python object per node.

Why blocks are powers of two: a block of 2^k leaves that starts at a multiple
of 2^k is exactly one subtree of height k, and its padding (odd levels) can
only occur in the last block, at the same global index the whole-tree build
would give it. So block roots combine into the very same tree.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from por.tree import (
    HASH_BYTES,
    MAX_HEIGHT,
    TAG_USER,
    TreeError,
    hash_rows,
    leaf_records,
    level_sizes,
    padding_record,
    parent_level,
)

CHUNK_NODES = 1 << 17            # nodes per step: ~15 MB of records at 5 assets
MIN_BLOCK_LEAVES = 1 << 12       # smallest block worth a task on a worker
_GATHER_CELLS = 1 << 22          # bytes gathered at once when assembling user-hash preimages

Progress = Callable[[int], None]


@dataclass
class Shuffle:
    """The randomness of one publication: a fresh nonce per account and the leaf order.

    Passing the same Shuffle twice gives the same tree byte for byte, which is
    how a distributed build is checked against a single-process one.
    """

    nonces: bytes            # 32 bytes per account, in account order
    order: np.ndarray        # leaf position -> piece (a permutation)

    @classmethod
    def draw(cls, accounts: int, pieces: int) -> "Shuffle":
        nonces = os.urandom(32 * accounts)
        rng = np.random.default_rng(int.from_bytes(os.urandom(32), "big"))
        return cls(nonces, rng.permutation(pieces))

    def check(self, accounts: int, pieces: int) -> None:
        order = np.asarray(self.order)
        if len(self.nonces) != 32 * accounts:
            raise TreeError(f"need {accounts} nonces of 32 bytes")
        seen = np.zeros(pieces, dtype=bool)
        if len(order) != pieces or (pieces and (order.min() < 0 or order.max() >= pieces)):
            raise TreeError(f"leaf order must be a permutation of {pieces} pieces")
        seen[order] = True
        if not seen.all():
            raise TreeError(f"leaf order must be a permutation of {pieces} pieces")


@dataclass
class Pieces:
    """What the leaves hold before shuffling: one piece per account, or several when split."""

    hi: np.ndarray                       # (pieces, assets) uint64: high limbs of the amounts
    lo: np.ndarray                       # (pieces, assets) uint64: low limbs
    owners: np.ndarray | None = None     # piece -> account; None: piece i is account i
    numbers: np.ndarray | None = None    # piece number within its account; None: all 0

    def __len__(self) -> int:
        return len(self.hi)


def string_buffers(ids) -> tuple[np.ndarray, np.ndarray]:
    """(offsets[n+1] as int64, utf-8 bytes) of an Arrow string array, without copying the bytes."""
    import pyarrow as pa

    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    wide = pa.types.is_large_string(ids.type)
    _, offsets_buf, data_buf = ids.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64 if wide else np.int32)
    offsets = offsets[ids.offset:ids.offset + len(ids) + 1].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return offsets, data


def user_hashes(nonces: np.ndarray, starts: np.ndarray, lengths: np.ndarray, data: np.ndarray) -> np.ndarray:
    """H(0x03 || nonce || id) for rows of (nonce, id slice of `data`); grouped by id length
    so each group is a fixed-width matrix for `hash_rows`."""
    count = len(starts)
    out = np.empty((count, HASH_BYTES), dtype=np.uint8)
    if not count:
        return out
    distinct = np.unique(lengths)
    for length in distinct.tolist():
        rows = np.arange(count) if len(distinct) == 1 else np.nonzero(lengths == length)[0]
        step = max(1, _GATHER_CELLS // max(length, 1))
        for s in range(0, len(rows), step):
            r = rows[s:s + step]
            pre = np.empty((len(r), 1 + 32 + length), dtype=np.uint8)
            pre[:, 0] = TAG_USER
            pre[:, 1:33] = nonces[r]
            if length:
                pre[:, 33:] = data[starts[r, None] + np.arange(length)]
            out[r] = hash_rows(pre)
    return out


class LeafMaker:
    """Leaf records for any range of leaf positions, from ids, nonces, pieces and the order."""

    def __init__(self, ids, nonces: bytes | np.ndarray, pieces: Pieces, order: np.ndarray) -> None:
        self.ids = ids
        self.offsets, self.data = string_buffers(ids)
        self.nonces = np.frombuffer(nonces, dtype=np.uint8).reshape(-1, 32) if isinstance(nonces, bytes) \
            else nonces
        self.pieces = pieces
        self.order = np.asarray(order, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.order)

    def __reduce__(self):                # pickle the inputs, not the views derived from them
        return LeafMaker, (self.ids, self.nonces, self.pieces, self.order)

    def records(self, start: int, stop: int) -> np.ndarray:
        piece = self.order[start:stop]
        owners = self.pieces.owners
        account = piece if owners is None else owners[piece]
        starts = self.offsets[account]
        users = user_hashes(self.nonces[account], starts, self.offsets[account + 1] - starts, self.data)
        numbers = np.zeros(len(piece), np.int64) if self.pieces.numbers is None else self.pieces.numbers[piece]
        return leaf_records(users, numbers, self.pieces.hi[piece], self.pieces.lo[piece])

    def chunks(self, chunk: int = CHUNK_NODES) -> Iterator[np.ndarray]:
        for start in range(0, len(self), chunk):
            yield self.records(start, min(start + chunk, len(self)))

    def block(self, start: int, stop: int) -> "LeafMaker":
        """Only what leaves start..stop need (ids, nonces, amounts), in leaf order: a worker's input."""
        import pyarrow as pa

        piece = self.order[start:stop]
        owners = self.pieces.owners
        account = piece if owners is None else owners[piece]
        pieces = Pieces(self.pieces.hi[piece], self.pieces.lo[piece], None,
                        None if self.pieces.numbers is None else self.pieces.numbers[piece])
        ids = self.ids.take(pa.array(account))
        return LeafMaker(ids, np.ascontiguousarray(self.nonces[account]), pieces, np.arange(len(piece)))


# --- levels on disk ---------------------------------------------------------------

class LevelSink:
    """Appends records to an open tree file, hashing exactly what it writes, and reads
    back the level below (the page cache holds it; our memory does not)."""

    def __init__(self, handle, head: bytes) -> None:
        self.fd = handle.fileno()
        self.digest = hashlib.sha256()
        self.size = 0
        self.append(head)

    def append(self, data) -> None:
        view = memoryview(np.ascontiguousarray(data) if isinstance(data, np.ndarray) else data).cast("B")
        self.digest.update(view)
        while view:
            written = os.pwrite(self.fd, view, self.size)
            self.size += written
            view = view[written:]

    def read(self, offset: int, nbytes: int) -> bytes:
        parts = []
        while nbytes:
            part = os.pread(self.fd, nbytes, offset)
            if not part:
                raise OSError("tree file shorter than written")
            parts.append(part)
            offset += len(part)
            nbytes -= len(part)
        return b"".join(parts) if len(parts) != 1 else parts[0]


def stream_levels(sink: LevelSink, leaves: Iterator[np.ndarray], leaf_count: int, asset_count: int,
                  width: int, progress: Progress | None = None) -> np.ndarray:
    """Writes every level, leaves first, in `CHUNK_NODES` steps; returns the root record.

    Memory stays at a few chunks whatever the tree size: the level below is
    read back from the file as the level above is written.
    """
    sizes = level_sizes(leaf_count)
    if len(sizes) - 1 > MAX_HEIGHT:
        raise TreeError("tree too tall")
    start = sink.size
    written = 0
    for chunk in leaves:
        sink.append(chunk)
        written += len(chunk)
        if progress:
            progress(len(chunk))
    if written != leaf_count:
        raise TreeError(f"expected {leaf_count} leaves, got {written}")
    if sizes[0] > leaf_count:
        sink.append(padding_record(0, leaf_count, asset_count))
    offset = start
    root = None
    for height in range(len(sizes) - 1):
        for first in range(0, sizes[height], CHUNK_NODES):
            count = min(CHUNK_NODES, sizes[height] - first)
            raw = sink.read(offset + first * width, count * width)
            records = np.frombuffer(raw, dtype=np.uint8).reshape(count, width)
            root = parent_level(records, height + 1, asset_count)
            sink.append(root)
            if progress:
                progress(len(root))
        real = sizes[height] // 2
        if sizes[height + 1] > real:
            sink.append(padding_record(height + 1, real, asset_count))
        offset += sizes[height] * width
    return root[0]


# --- levels in power-of-two blocks ------------------------------------------------

def block_height(leaf_count: int, blocks_wanted: int) -> int:
    """Height k of the blocks (2^k leaves each) for about `blocks_wanted` blocks."""
    height = len(level_sizes(leaf_count)) - 1
    per_block = max(-(-leaf_count // max(1, blocks_wanted)), MIN_BLOCK_LEAVES, 1)
    return min((per_block - 1).bit_length(), height)


def block_levels(leaves: np.ndarray, first_leaf: int, top: int, asset_count: int) -> list[np.ndarray]:
    """Levels 0..top of the subtree over leaves first_leaf.. (first_leaf a multiple of 2^top).

    Pads an odd level exactly as the whole tree would: only the last block can
    be odd below `top`, and its padding index is the global one.
    """
    if first_leaf % (1 << top):
        raise TreeError("a block must start at a multiple of its size")
    levels = []
    level = leaves
    for height in range(top):
        if len(level) % 2:
            pad = padding_record(height, (first_leaf >> height) + len(level), asset_count)
            level = np.concatenate([level, pad])
        levels.append(level)
        level = parent_level(level, height + 1, asset_count)
    levels.append(level)
    return levels


def upper_levels(roots: np.ndarray, top: int, asset_count: int) -> list[np.ndarray]:
    """Levels top..root over the block roots (which are level `top` of the whole tree)."""
    level = roots
    levels = []
    height = top
    while True:
        if len(level) == 1 and height > 0:       # a single leaf still gets its padding sibling
            levels.append(level)
            return levels
        if len(level) % 2:
            level = np.concatenate([level, padding_record(height, len(level), asset_count)])
        levels.append(level)
        height += 1
        level = parent_level(level, height, asset_count)
