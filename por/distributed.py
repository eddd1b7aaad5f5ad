"""The tree on a Dask cluster: leaves and subtrees on the workers, the top and the file here.

First the user hashes: account ranges (ids and nonces) go to the workers and
their hashes come back. Then the shuffled leaves are cut into blocks of 2^k
consecutive positions (see por/build.py for why that gives the very same
tree). Each worker gets only what its block needs (user hashes and amounts
of those leaves, in leaf order), hashes the leaves and builds the block's
subtree up to its root.
The client writes tree.bin level by level as the blocks' levels arrive (so its
memory holds one block level at a time) and builds the few levels above the
block roots itself.

`address` is a scheduler address ("tcp://host:8786") or "local" for a
LocalCluster of worker processes on this machine.
"""

from __future__ import annotations

import contextlib
import operator
import os
from typing import Iterator

import numpy as np

from por import build
from por.build import LeafMaker, LevelSink, Progress, block_height, block_levels, upper_levels, user_table
from por.errors import InputError

BLOCKS_PER_WORKER = 4
CONNECT_TIMEOUT = "20s"


@contextlib.contextmanager
def connect(address: str, workers: int | None = None) -> Iterator:
    """A Dask client for `address`; "local" starts (and stops) a LocalCluster of processes."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise InputError("Dask is not installed: pip install 'por[dask]'", field="--dask") from None
    if address == "local":
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        with cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address}: {exc}", field="--dask") from None
    with client:
        yield client


def _user_block(part) -> np.ndarray:
    ids, nonces = part
    return user_table(ids, nonces)


def user_table_dask(client, ids, nonces: bytes, progress: Progress | None = None) -> np.ndarray:
    """por.build.user_table with account ranges hashed on the workers."""
    count = len(ids)
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    step = max(build.MIN_BLOCK_LEAVES, -(-count // (BLOCKS_PER_WORKER * workers)))
    parts = []
    for start in range(0, count, step):
        stop = min(start + step, count)
        data = client.scatter((ids.slice(start, stop - start), nonces[32 * start:32 * stop]), hash=False)
        parts.append((start, client.submit(_user_block, data, pure=False)))
    out = np.empty((count, 32), dtype=np.uint8)
    for start, future in parts:
        users = future.result()
        out[start:start + len(users)] = users
        future.release()
        if progress:
            progress(len(users))
    return out


def _build_block(maker: LeafMaker, first_leaf: int, top: int, asset_count: int) -> list[np.ndarray]:
    """On a worker: the block's leaves, then its levels 0..top."""
    return block_levels(maker.records(0, len(maker)), first_leaf, top, asset_count)


def stream_levels_dask(client, sink: LevelSink, maker: LeafMaker, leaf_count: int, asset_count: int,
                       progress: Progress | None = None) -> np.ndarray:
    """Same bytes into `sink` as por.build.stream_levels; returns the root record."""
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    top = block_height(leaf_count, BLOCKS_PER_WORKER * workers)
    size = 1 << top
    blocks = []
    for first in range(0, leaf_count, size):
        part = client.scatter(maker.block(first, min(first + size, leaf_count)), hash=False)
        built = client.submit(_build_block, part, first, top, asset_count, pure=False)
        blocks.append([client.submit(operator.getitem, built, h, pure=False) for h in range(top + 1)])
        del part, built
    for height in range(top):
        for levels in blocks:
            records = levels[height].result()
            levels[height].release()
            sink.append(records)
            if progress:
                progress(len(records))
    roots = np.concatenate([levels[top].result() for levels in blocks])
    del blocks
    upper = upper_levels(roots, top, asset_count)
    for level in upper:
        sink.append(level)
        if progress:
            progress(len(level))
    return upper[-1][0]
