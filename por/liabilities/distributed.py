"""The tree on a Dask cluster: leaves and subtrees on the workers, the top and the file here.

The shuffled leaves are cut into blocks of 2^k consecutive positions (see
por/liabilities/build.py for why that gives the very same tree). Each worker gets only
what its block needs (owner ids, nonces and amounts of those leaves, in leaf
order), hashes the user ids and the leaves, and builds the block's subtree up
to its root. Workers see customer ids and nonces: the cluster must be the
exchange's own (see docs/scale.md).
The client writes each block's levels into their places in tree.bin as the
block comes back (its memory holds one block at a time), builds the few
levels above the block roots itself, and reads the file once for its SHA-256.

`address` is a scheduler address ("tcp://host:8786") or "local" for a
LocalCluster of worker processes on this machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from por.errors import InputError
from por.liabilities.build import (
    Pieces,
    Progress,
    block_height,
    block_levels,
    string_buffers,
    upper_levels,
    user_hashes,
)
from por.liabilities.levels import leaf_records, root_record
from por.liabilities.tree import Header, level_sizes, record_size

BLOCKS_PER_WORKER = 8
CONNECT_TIMEOUT = "20s"


@contextlib.contextmanager
def connect(address: str, workers: int | None = None) -> Iterator:
    """A Dask client for `address`; "local" starts (and stops) a LocalCluster of processes."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise InputError("Dask is not installed: pip install 'por[dask]'", field="--dask") from None
    if address == "local":
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        with cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address}: {exc}", field="--dask") from None
    with client:
        yield client


@dataclass
class Block:
    """What one worker needs for leaves first..first+len: ids, nonces and amounts in leaf order."""

    first: int
    ids: object  # Arrow string array: the owner of each leaf
    nonces: np.ndarray  # (leaves, 32)
    numbers: np.ndarray | None  # piece numbers (None: all 0)
    counts: np.ndarray | None  # pieces of each leaf's account (None: all 1)
    hi: np.ndarray
    lo: np.ndarray

    def records(self) -> np.ndarray:
        offsets, data = string_buffers(self.ids)
        users = user_hashes(self.nonces, offsets[:-1], np.diff(offsets), data)
        numbers = 0 if self.numbers is None else self.numbers
        counts = 1 if self.counts is None else self.counts
        return leaf_records(users, numbers, counts, self.hi, self.lo)


def blocks(ids, nonces: bytes, pieces: Pieces, order: np.ndarray, size: int) -> Iterator[Block]:
    """The leaf order cut into blocks of `size` positions, each with only its own inputs."""
    import pyarrow as pa

    nonce_rows = np.frombuffer(nonces, dtype=np.uint8).reshape(-1, 32)
    for first in range(0, len(order), size):
        piece = order[first : first + size]
        account = piece if pieces.owners is None else pieces.owners[piece]
        yield Block(
            first,
            ids.take(pa.array(account)),
            nonce_rows[account],
            None if pieces.numbers is None else pieces.numbers[piece],
            None if pieces.counts is None else pieces.counts[piece],
            pieces.hi[piece],
            pieces.lo[piece],
        )


def _build_block(block: Block, top: int, asset_count: int) -> list[np.ndarray]:
    """On a worker: user hashes and leaves of the block, then its levels 0..top."""
    return block_levels(block.records(), block.first, top, asset_count)


def write_tree_dask(
    client,
    handle,
    header: Header,
    head: bytes,
    ids,
    nonces: bytes,
    pieces: Pieces,
    order: np.ndarray,
    asset_count: int,
    progress: Progress | None = None,
) -> tuple[np.ndarray, bytes]:
    """Writes the same tree.bin as por.liabilities.build.stream_levels and the root record after the
    levels; returns (root record, file SHA-256).

    Each block's levels are written straight to their places in the file (every
    offset is known from the leaf count) as the block comes back, in whatever
    order blocks finish; one round trip per block. The SHA-256 is then read
    back in file order.
    """
    from dask.distributed import as_completed

    leaf_count = len(order)
    width = record_size(asset_count)
    sizes = level_sizes(leaf_count)
    offsets = np.concatenate([[0], np.cumsum(sizes)]) * width + len(head)
    fd = handle.fileno()
    _pwrite(fd, head, 0)
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    top = block_height(leaf_count, BLOCKS_PER_WORKER * workers)
    first_of = {}
    for block in blocks(ids, nonces, pieces, order, 1 << top):
        future = client.submit(_build_block, client.scatter(block, hash=False), top, asset_count, pure=False)
        first_of[future] = block.first
    roots = {}
    for future in as_completed(list(first_of)):
        levels = future.result()
        first = first_of.pop(future)
        future.release()
        for height in range(top):
            _pwrite(fd, levels[height], int(offsets[height]) + (first >> height) * width)
        roots[first] = levels[top]
        if progress:
            progress(sum(len(level) for level in levels[:top]))  # records written
        del levels
    upper = upper_levels(np.concatenate([roots[first] for first in sorted(roots)]), top, asset_count)
    for height, level in enumerate(upper, top):
        _pwrite(fd, level, int(offsets[height]))
        if progress:
            progress(len(level))
    root = root_record(header, upper[-1][0])
    _pwrite(fd, root, int(offsets[len(sizes)]))
    digest = hashlib.sha256()
    position = 0
    while chunk := os.pread(fd, 1 << 22, position):
        digest.update(chunk)
        position += len(chunk)
    return root[0], digest.digest()


def _pwrite(fd: int, data: np.ndarray | bytes, offset: int) -> None:
    view = (np.ascontiguousarray(data).data if isinstance(data, np.ndarray) else memoryview(data)).cast("B")
    while view:
        written = os.pwrite(fd, view, offset)
        offset += written
        view = view[written:]
