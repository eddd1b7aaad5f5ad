"""The tree on every CPU of this machine: worker processes over disjoint subtrees, no Dask.

The shuffled leaves are cut into blocks of 2^k consecutive positions (por/liabilities/build.py
says why that gives the very same tree). The workers are forked before any thread
of the publication starts, so they inherit the book, the nonces and the leaf order
instead of receiving them, and use only numpy and hashlib (no Arrow, no threads
in a forked child). Each worker hashes its block's user ids, leaves and levels up
to the block root, writes the levels straight into their places in tree.bin (every
offset follows from the leaf count) and sends back only the block root. The parent
builds the few levels above the block roots, writes the root record and reads the
file once for its SHA-256. The bytes are those of the single-process build.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

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

BLOCKS_PER_JOB = 8
MIN_PARALLEL_LEAVES = 1 << 16  # below this, forking costs more than it saves


@dataclass
class _Inputs:
    """What every worker inherits (set before the fork)."""

    offsets: np.ndarray  # account id offsets into `data` (string_buffers)
    data: np.ndarray
    nonces: np.ndarray  # (accounts, 32)
    pieces: Pieces
    order: np.ndarray
    path: str  # tree.bin, written by the workers at known offsets
    level_offsets: np.ndarray  # byte offset of each level in the file
    width: int
    asset_count: int
    top: int  # block height


_INPUTS: _Inputs | None = None
_PARENT = 0  # the pid that forked the workers


def jobs_wanted(jobs: int | None, leaf_count: int) -> int:
    """The processes to use: `jobs` as asked, or by default every CPU (one for a small tree)."""
    if jobs is not None:
        return max(1, jobs)
    return 1 if leaf_count < MIN_PARALLEL_LEAVES else max(1, os.cpu_count() or 1)


@contextmanager
def workers(
    jobs: int, ids, nonces: bytes, pieces: Pieces, order: np.ndarray, path, head_bytes: int, asset_count: int
) -> Iterator[ParallelBuild]:
    """Forks `jobs` workers holding the inputs; call it before starting any thread."""
    global _INPUTS, _PARENT
    leaf_count = len(order)
    width = record_size(asset_count)
    sizes = level_sizes(leaf_count)
    offsets, data = string_buffers(ids)
    _INPUTS = _Inputs(
        offsets,
        data,
        np.frombuffer(nonces, dtype=np.uint8).reshape(-1, 32),
        pieces,
        np.asarray(order, dtype=np.int64),
        str(path),
        np.concatenate([[0], np.cumsum(sizes)]) * width + head_bytes,
        width,
        asset_count,
        block_height(leaf_count, BLOCKS_PER_JOB * jobs),
    )
    open(path, "wb").close()  # the workers write into it at their offsets
    _PARENT = os.getpid()
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"), initializer=_quiet_worker)
    try:
        pool.submit(_started).result()  # forks every worker now, before any thread of ours starts
        yield ParallelBuild(pool, _INPUTS)
    except BrokenProcessPool:
        raise OSError("a tree worker process died (out of memory?): publish again, or with --jobs 1") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _INPUTS = None


class ParallelBuild:
    """The forked workers of one publication, ready to build its tree."""

    def __init__(self, pool, inputs: _Inputs) -> None:
        self.pool, self.inputs = pool, inputs

    def write_tree(
        self, handle, header: Header, head: bytes, progress: Progress | None = None
    ) -> tuple[np.ndarray, bytes]:
        """tree.bin, byte for byte as por.liabilities.build.stream_levels writes it, and the root record
        after the levels; returns (root record, file SHA-256)."""
        inputs = self.inputs
        fd = handle.fileno()
        _pwrite(fd, head, 0)
        size = 1 << inputs.top
        roots = {}
        futures = [self.pool.submit(_build_block, first) for first in range(0, len(inputs.order), size)]
        for future in as_completed(futures):
            first, root, nodes = future.result()
            roots[first] = root
            if progress:
                progress(nodes)
        upper = upper_levels(np.concatenate([roots[first] for first in sorted(roots)]), inputs.top, inputs.asset_count)
        for height, level in enumerate(upper, inputs.top):
            _pwrite(fd, level, int(inputs.level_offsets[height]))
            if progress:
                progress(len(level))
        root = root_record(header, upper[-1][0])
        _pwrite(fd, root, int(inputs.level_offsets[-1]))
        digest = hashlib.sha256()
        position = 0
        while chunk := os.pread(fd, 1 << 22, position):
            digest.update(chunk)
            position += len(chunk)
        return root[0], digest.digest()


def _quiet_worker() -> None:
    """Ctrl-C and SIGTERM reach the whole process group: the parent reports them (`por: interrupted`)
    and ends the pool; a worker ignores Ctrl-C and dies silently on SIGTERM (not por's handlers,
    which would print a traceback from each worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()


def _die_with_parent() -> None:
    """A worker must not outlive a killed parent: it would hold the output folder's lock (an
    inherited descriptor) and keep writing. Linux: PR_SET_PDEATHSIG; then check the parent is
    still the one that forked us (it may have died before the call)."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != _PARENT:
        os._exit(1)


def _started() -> None:
    return None


def _build_block(first: int) -> tuple[int, np.ndarray, int]:
    """In a worker: the block's leaves and levels 0..top-1 written to tree.bin; returns its root."""
    inputs = _INPUTS
    if inputs is None:
        raise RuntimeError("a block is built in a worker of parallel_build, which sets its inputs")
    pieces = inputs.pieces
    piece = inputs.order[first : first + (1 << inputs.top)]
    account = piece if pieces.owners is None else pieces.owners[piece]
    starts, data = _gather_ids(inputs.offsets, inputs.data, account)
    users = user_hashes(inputs.nonces[account], starts[:-1], np.diff(starts), data)
    leaves = leaf_records(
        users,
        0 if pieces.numbers is None else pieces.numbers[piece],
        1 if pieces.counts is None else pieces.counts[piece],
        pieces.hi[piece],
        pieces.lo[piece],
    )
    levels = block_levels(leaves, first, inputs.top, inputs.asset_count)
    fd = os.open(inputs.path, os.O_WRONLY)
    try:
        for height in range(inputs.top):
            _pwrite(fd, levels[height], int(inputs.level_offsets[height]) + (first >> height) * inputs.width)
    finally:
        os.close(fd)
    return first, levels[inputs.top], sum(len(level) for level in levels[: inputs.top])  # records written


def _gather_ids(offsets: np.ndarray, data: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ids of `rows` packed back to back: (offsets[len(rows) + 1], bytes), as string_buffers gives."""
    starts = offsets[rows]
    lengths = offsets[rows + 1] - starts
    packed = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=packed[1:])
    source = np.repeat(starts - packed[:-1], lengths) + np.arange(int(packed[-1]), dtype=np.int64)
    return packed, data[source]


def _pwrite(fd: int, data, offset: int) -> None:
    view = (np.ascontiguousarray(data).data if isinstance(data, np.ndarray) else memoryview(data)).cast("B")
    while view:
        written = os.pwrite(fd, view, offset)
        offset += written
        view = view[written:]
