"""Building trees of any size: leaves made in chunks, levels streamed to disk,
or cut into power-of-two blocks that workers build independently.

Every function here yields exactly the records of `por.liabilities.levels.build_levels` for
the same nonces and leaf order; only where nodes are computed and kept
differs. The hot path is numpy over fixed-size records plus the one hashlib
loop in `por.liabilities.levels.hash_rows`: no Python object per node.

Why blocks are powers of two: a block of 2^k leaves that starts at a multiple
of 2^k is exactly one subtree of height k, and its padding (odd levels) can
only occur in the last block, at the same global index the whole-tree build
would give it. So block roots combine into the very same tree.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from por.liabilities.levels import hash_rows, leaf_records, padding_record, parent_level
from por.liabilities.tree import HASH_BYTES, MAX_HEIGHT, TAG_USER, TreeError, level_sizes

CHUNK_NODES = 1 << 15  # nodes per step: 3.7 MB of records at 5 assets, cache-friendly
MIN_BLOCK_LEAVES = 1 << 12  # smallest block worth a task on a worker
_GATHER_CELLS = 1 << 22  # bytes gathered at once when assembling user-hash preimages

Progress = Callable[[int], None]


@dataclass
class Shuffle:
    """The randomness of one publication: a fresh nonce per account and the leaf order.

    Passing the same Shuffle twice gives the same tree byte for byte, which is
    how a distributed build is checked against a single-process one.
    """

    nonces: bytes  # 32 bytes per account, in account order
    order: np.ndarray  # leaf position -> piece (a permutation)
    split: tuple[list[int], list[list[int]]] | None = None  # fixed balance split (owners, per-asset pieces):
    # see publish.split_amounts; None: drawn fresh

    @classmethod
    def draw(cls, accounts: int, pieces: int) -> Shuffle:
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

    hi: np.ndarray  # (pieces, assets) uint64: high limbs of the amounts
    lo: np.ndarray  # (pieces, assets) uint64: low limbs
    owners: np.ndarray | None = None  # piece -> account; None: piece i is account i
    numbers: np.ndarray | None = None  # piece number within its account; None: all 0
    counts: np.ndarray | None = None  # pieces of the piece's account (bound into its leaf); None: all 1

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
    offsets = offsets[ids.offset : ids.offset + len(ids) + 1].astype(np.int64)
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
    if len(distinct) == 1 and int(starts[-1] - starts[0]) == (count - 1) * int(distinct[0]):
        length, first = int(distinct[0]), int(starts[0])  # ids back to back: no gather
        pre = np.empty((count, 1 + 32 + length), dtype=np.uint8)
        pre[:, 0] = TAG_USER
        pre[:, 1:33] = nonces
        pre[:, 33:] = data[first : first + count * length].reshape(count, length)
        return hash_rows(pre)
    for length in distinct.tolist():
        rows = np.nonzero(lengths == length)[0]
        step = max(1, _GATHER_CELLS // max(length, 1))
        for s in range(0, len(rows), step):
            r = rows[s : s + step]
            pre = np.empty((len(r), 1 + 32 + length), dtype=np.uint8)
            pre[:, 0] = TAG_USER
            pre[:, 1:33] = nonces[r]
            if length:
                pre[:, 33:] = data[starts[r, None] + np.arange(length)]
            out[r] = hash_rows(pre)
    return out


def user_table(ids, nonces: bytes | np.ndarray, progress: Progress | None = None) -> np.ndarray:
    """Every account's user hash, in account order: (accounts, 32) bytes."""
    offsets, data = string_buffers(ids)
    nonce_rows = np.frombuffer(nonces, dtype=np.uint8).reshape(-1, 32)
    out = np.empty((len(offsets) - 1, HASH_BYTES), dtype=np.uint8)
    for start in range(0, len(out), CHUNK_NODES):
        stop = min(start + CHUNK_NODES, len(out))
        starts = offsets[start:stop]
        out[start:stop] = user_hashes(nonce_rows[start:stop], starts, offsets[start + 1 : stop + 1] - starts, data)
        if progress:
            progress(stop - start)
    return out


class LeafMaker:
    """Leaf records for any range of leaf positions, from user hashes, pieces and the order."""

    def __init__(self, users: np.ndarray, pieces: Pieces, order: np.ndarray) -> None:
        self.users = users  # (accounts, 32): see user_table
        self.pieces = pieces
        self.order = np.asarray(order, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.order)

    def _gather(self, start: int, stop: int):
        piece = self.order[start:stop]
        owners = self.pieces.owners
        account = piece if owners is None else owners[piece]
        numbers = 0 if self.pieces.numbers is None else self.pieces.numbers[piece]
        counts = 1 if self.pieces.counts is None else self.pieces.counts[piece]
        return self.users[account], numbers, counts, self.pieces.hi[piece], self.pieces.lo[piece]

    def records(self, start: int, stop: int) -> np.ndarray:
        return leaf_records(*self._gather(start, stop))

    def chunks(self, chunk: int = CHUNK_NODES) -> Iterator[np.ndarray]:
        for start in range(0, len(self), chunk):
            yield self.records(start, min(start + chunk, len(self)))


# --- levels on disk ---------------------------------------------------------------


class LevelSink:
    """Appends records to an open tree file and reads back the level below.

    A writer thread does the pwrite and the running SHA-256 of the file (both
    release the GIL), so on a second core they overlap the hashing of nodes.
    Use as a context manager: leaving it waits for every byte to be written;
    `digest` is final after that. Reads come from the page cache, not our memory.
    """

    QUEUE_CHUNKS = 32

    def __init__(self, handle, head: bytes) -> None:
        self.fd = handle.fileno()
        self.digest = hashlib.sha256()
        self.size = 0  # bytes appended (queued or written)
        self._written = 0
        self._error: BaseException | None = None
        self._done = threading.Condition()
        self._queue: queue.Queue = queue.Queue(self.QUEUE_CHUNKS)
        self._thread = threading.Thread(target=self._write, name="tree.bin writer", daemon=True)
        self._thread.start()
        self.append(head)

    def __enter__(self) -> LevelSink:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:  # the producer's error is the one to report
            with contextlib.suppress(BaseException):
                self.close()

    def append(self, data) -> None:
        if self._error is not None:
            raise self._error
        item = np.ascontiguousarray(data) if isinstance(data, np.ndarray) else bytes(data)
        self.size += item.nbytes if isinstance(item, np.ndarray) else len(item)
        self._queue.put(item)

    def _write(self) -> None:
        offset = 0
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    view = memoryview(item).cast("B")
                    self.digest.update(view)
                    while view:
                        written = os.pwrite(self.fd, view, offset)
                        offset += written
                        view = view[written:]
                except BaseException as exc:  # reported to the producer on its next call
                    self._error = exc
            with self._done:
                self._written = offset
                self._done.notify_all()

    def read(self, offset: int, nbytes: int) -> bytes:
        with self._done:
            self._done.wait_for(lambda: self._written >= offset + nbytes or self._error is not None)
        if self._error is not None:
            raise self._error
        parts = []
        while nbytes:
            part = os.pread(self.fd, nbytes, offset)
            if not part:
                raise OSError("tree file shorter than written")
            parts.append(part)
            offset += len(part)
            nbytes -= len(part)
        return b"".join(parts) if len(parts) != 1 else parts[0]

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error


def stream_levels(
    sink: LevelSink,
    leaves: Iterator[np.ndarray],
    leaf_count: int,
    asset_count: int,
    width: int,
    progress: Progress | None = None,
) -> np.ndarray:
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
        if progress:
            progress(1)
    offset = start
    root: np.ndarray | None = None
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
            if progress:
                progress(1)
        offset += sizes[height] * width
    if root is None:  # level_sizes always has a root level above the leaves
        raise TreeError("no level above the leaves")
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
        if len(level) == 1 and height > 0:  # a single leaf still gets its padding sibling
            levels.append(level)
            return levels
        if len(level) % 2:
            level = np.concatenate([level, padding_record(height, len(level), asset_count)])
        levels.append(level)
        height += 1
        level = parent_level(level, height, asset_count)
