"""Publishing: customer balances -> a commitment, the auditors' tree, and private secrets.

The folder a publication writes:
    commitment.json          public: root, totals, height, leaf count, snapshot
    tree.bin                 for auditors: every node (docs/formats/tree.md)
    private/secrets.jsonl    never published: each account's nonce and leaf indices
    private/index.bin        never published: where each account's line is (por.liabilities.secretsindex)
Everything is written into a staging folder and renamed into place at the
end, so a killed run never leaves a publication that looks complete.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from por.amounts import Asset
from por.atomic import atomic_directory
from por.errors import InputError
from por.liabilities.book import Liabilities
from por.liabilities.build import LeafMaker, LevelSink, Pieces, Shuffle, stream_levels, string_buffers, user_table
from por.liabilities.external import SpilledBook, check_disk, publication_bytes, write_tree_and_secrets
from por.liabilities.folder import COMMITMENT_FILE, INDEX_FILE, PAGE_FILE, SECRETS_FILE, TREE_FILE, not_a_publication
from por.liabilities.levels import build_levels, ints_to_limbs, root_record
from por.liabilities.parallel import jobs_wanted, workers
from por.liabilities.porjson import Commitment, dumps
from por.liabilities.secrets import set_root, write_secrets
from por.liabilities.secretsindex import write_index
from por.liabilities.tree import (
    AMOUNT_BYTES,
    HASH_BYTES,
    MAX_ASSETS,
    VERSION,
    Header,
    TreeError,
    check_snapshot_time,
    level_sizes,
    tree_height,
)
from por.liabilities.treefile import header_line

__all__ = [
    "BuiltTree",
    "build_tree",
    "publish",
    "split_amounts",
    "fixed_shuffle",
    "not_a_publication",
    "COMMITMENT_FILE",
    "TREE_FILE",
    "SECRETS_FILE",
    "INDEX_FILE",
    "PAGE_FILE",
]


@dataclass
class BuiltTree:
    """A tree in memory with what is needed to cut every customer's proof."""

    liabilities: Liabilities
    nonces: bytes  # 32 bytes per account, in account order
    leaf_index: list[list[int]]  # per account: leaf index of each piece, piece order
    levels: list[np.ndarray]  # leaves (padded) up to the top node

    @property
    def top(self) -> bytes:
        """The top node's hash; the root (format 2) is over it and the header: `root_of`."""
        return bytes(self.levels[-1][0, :HASH_BYTES])

    def root_of(self, header: Header) -> bytes:
        return bytes(root_record(header, self.levels[-1][0])[0, :HASH_BYTES])


def split_amounts(columns: list[list[int]], max_pieces: int, rng: random.Random) -> tuple[list[int], list[list[int]]]:
    """OKX-style balance splitting: each account spread over 1..max_pieces leaves.

    Returns the owner account of each piece and the per-asset columns of pieces.
    """
    owners: list[int] = []
    pieces: list[list[int]] = [[] for _ in columns]
    for account in range(len(columns[0]) if columns else 0):
        count = rng.randint(1, max_pieces)
        owners.extend([account] * count)
        for a, column in enumerate(columns):
            total = column[account]
            cuts = sorted(rng.randint(0, total) for _ in range(count - 1))
            bounds = [0, *cuts, total]
            pieces[a].extend(bounds[i + 1] - bounds[i] for i in range(count))
    return owners, pieces


def _pieces(liabilities: Liabilities, max_pieces: int, split: tuple[list[int], list[list[int]]] | None) -> Pieces:
    """The amounts the leaves hold: the book itself, or its OKX-style split (`split`, or drawn fresh)."""
    if max_pieces == 1 and split is None:
        hi, lo = liabilities.limbs()
        return Pieces(hi, lo)
    count = len(liabilities)
    owners_list, columns = split or split_amounts(liabilities.columns, max_pieces, random.SystemRandom())
    owners = np.asarray(owners_list, dtype=np.int64)
    if split is not None:
        _check_split(liabilities, owners, columns)
    starts = np.searchsorted(owners, np.arange(count))
    limbs = [ints_to_limbs(column) for column in columns]
    shape = (len(owners), len(columns))
    hi = np.stack([h for h, _ in limbs], axis=1) if limbs else np.zeros(shape, np.uint64)
    lo = np.stack([low for _, low in limbs], axis=1) if limbs else np.zeros(shape, np.uint64)
    counts = np.bincount(owners, minlength=count)
    return Pieces(hi, lo, owners, np.arange(len(owners)) - starts[owners], counts[owners])


def _check_split(liabilities: Liabilities, owners: np.ndarray, columns: list[list[int]]) -> None:
    """A fixed split must cover every account, in account order, and add up to its balances exactly."""
    if len(owners) and (
        np.any(np.diff(owners) < 0)
        or owners[0] != 0
        or owners[-1] != len(liabilities) - 1
        or len(np.unique(owners)) != len(liabilities)
    ):
        raise TreeError("a split must give every account one or more pieces, in account order")
    for column, book_column in zip(columns, liabilities.columns, strict=True):
        sums = [0] * len(liabilities)
        for owner, amount in zip(owners.tolist(), column, strict=True):
            sums[owner] += amount
        if sums != book_column:
            raise TreeError("a split's pieces do not add up to the balances")


def fixed_shuffle(liabilities: Liabilities, max_pieces: int = 1) -> Shuffle:
    """Fresh randomness for one book (nonces, leaf order and, with max_pieces > 1, the split), fixed:
    publishing with it twice gives the same bytes, however the tree is built."""
    if max_pieces == 1:
        return Shuffle.draw(len(liabilities), len(liabilities))
    split = split_amounts(liabilities.columns, max_pieces, random.SystemRandom())
    drawn = Shuffle.draw(len(liabilities), len(split[0]))
    return Shuffle(drawn.nonces, drawn.order, split)


def _plan(liabilities: Liabilities, max_pieces: int, shuffle: Shuffle | None) -> tuple[Pieces, Shuffle]:
    pieces = _pieces(liabilities, max_pieces, shuffle.split if shuffle else None)
    shuffle = shuffle or Shuffle.draw(len(liabilities), len(pieces))
    shuffle.check(len(liabilities), len(pieces))
    return pieces, shuffle


def _write_secrets(
    path: Path, index: Path, ids, shuffle: Shuffle, snapshot_id: str, first_piece: np.ndarray | None
) -> None:
    """The secrets and their index (for `prove DIR ID` in milliseconds), beside the tree's hashing."""
    with open(path, "wb") as handle:
        starts, size = write_secrets(
            handle, ids, shuffle.nonces, _positions(shuffle), snapshot_id, bytes(HASH_BYTES), first_piece
        )
        handle.flush()
        os.fsync(handle.fileno())
    with open(index, "wb") as handle:
        write_index(handle, ids, starts, size)
        handle.flush()
        os.fsync(handle.fileno())


def _positions(shuffle: Shuffle) -> np.ndarray:
    """Leaf index of each piece: the inverse of the leaf order."""
    position = np.empty(len(shuffle.order), dtype=np.int64)
    position[shuffle.order] = np.arange(len(shuffle.order))
    return position


def build_tree(
    liabilities: Liabilities,
    *,
    max_pieces: int = 1,
    progress: Callable[[int], None] | None = None,
    shuffle: Shuffle | None = None,
) -> BuiltTree:
    """Nonces, (optional) splitting, random leaf order, then every level of the tree, in memory.

    `shuffle` fixes the nonces and leaf order (tests, distributed builds);
    by default both are fresh from the OS.
    """
    pieces, shuffle = _plan(liabilities, max_pieces, shuffle)
    maker = LeafMaker(user_table(liabilities.ids, shuffle.nonces), pieces, shuffle.order)
    leaf_total = len(maker)
    leaves = maker.records(0, leaf_total)
    if progress:
        progress(leaf_total)
    levels = build_levels(leaves, len(liabilities.assets), progress)
    positions = _positions(shuffle).tolist()  # pieces are grouped by owner, in piece order
    count = len(liabilities)
    owners = maker.pieces.owners  # None: piece i is account i
    if leaf_total == count or owners is None:
        leaf_index = [[p] for p in positions]
    else:
        bounds = np.searchsorted(owners, np.arange(count + 1)).tolist()
        leaf_index = [positions[bounds[a] : bounds[a + 1]] for a in range(count)]
    return BuiltTree(liabilities, shuffle.nonces, leaf_index, levels)


@dataclass(frozen=True)
class _TreePlan:
    """What each way of building the tree (here, in worker processes, on Dask) is given."""

    ids: Any  # the accounts' ids (Arrow strings)
    pieces: Pieces
    shuffle: Shuffle
    header: Header

    @property
    def asset_count(self) -> int:
        return len(self.header.assets)

    @property
    def line(self) -> bytes:
        return header_line(self.header)


def _disk_needed(liabilities, ids, leaf_count: int, asset_count: int, head: int) -> dict[str, int]:
    """What the publication will write (and, for a book on disk, its sorted runs): `check_disk`."""
    if isinstance(liabilities, SpilledBook):
        needs = publication_bytes(len(liabilities), leaf_count, asset_count, liabilities.id_bytes, head)
        return needs | {"sorted runs": leaf_count * (4 + HASH_BYTES + AMOUNT_BYTES * asset_count)}
    offsets, _ = string_buffers(ids)
    return publication_bytes(len(liabilities), leaf_count, asset_count, int(offsets[-1] - offsets[0]), head)


def publish(
    liabilities: Liabilities | SpilledBook,
    out: str | Path,
    *,
    exchange: str,
    snapshot_id: str,
    snapshot_time: str | None = None,
    max_pieces: int = 1,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
    extra_files: Callable[[Path, Commitment], None] | None = None,
    finish_files: Callable[[Path], None] | None = None,
    shuffle: Shuffle | None = None,
    dask: str | None = None,
    dask_workers: int | None = None,
    jobs: int | None = 1,
    expect: Callable[[int], None] | None = None,
) -> Commitment:
    """Builds the tree and writes the publication folder atomically, in bounded memory.

    Levels go to tree.bin as they are made (por/liabilities/build.py), so memory holds the
    book and a few chunks, never the tree. With `dask` (a scheduler address,
    or "local") the leaves and subtrees are built on Dask workers; the bytes
    written are the same. `jobs` processes (None: every CPU) build disjoint subtrees here
    (por/liabilities/parallel.py), again byte for byte the same tree. `progress` counts the records
    written to tree.bin (padding included, the root record not), and `expect` is told their number
    once the tree's shape is known.
    """
    snapshot_time = _check_publish(liabilities, max_pieces, snapshot_time)
    write: Callable[[contextlib.ExitStack, Path], tuple[Any, bytes]]
    if isinstance(liabilities, SpilledBook):  # larger than memory: por/liabilities/external.py
        if max_pieces != 1 or dask:
            raise InputError("a book built on disk (larger than --max-memory) takes neither --split nor --dask")
        header = _header(exchange, snapshot_id, snapshot_time, len(liabilities), liabilities.assets)
        ids = None
        write = partial(_write_spilled, liabilities, header, shuffle, jobs, progress)
    else:
        pieces, shuffle = _plan(liabilities, max_pieces, shuffle)
        header = _header(exchange, snapshot_id, snapshot_time, len(pieces), liabilities.assets)
        ids = liabilities.ids
        plan = _TreePlan(ids, pieces, shuffle, header)
        write = partial(_write_in_memory, plan, len(liabilities), jobs, (dask, dask_workers), progress)
    if expect:
        expect(sum(level_sizes(header.leaf_count)))
    with contextlib.ExitStack() as stack:
        staging = stack.enter_context(atomic_directory(out, replace=not_a_publication if force else False))
        (staging / "private").mkdir(mode=0o700)
        head = len(header_line(header))
        needs = _disk_needed(liabilities, ids, header.leaf_count, len(header.assets), head)
        check_disk(staging, needs, shown=Path(out))
        root, tree_digest = write(stack, staging)
        set_root(staging / SECRETS_FILE, snapshot_id, bytes(root[:HASH_BYTES]))
        commitment = _commitment(header, exchange, snapshot_time, liabilities.assets, root, tree_digest)
        if extra_files:
            extra_files(staging, commitment)
        (staging / COMMITMENT_FILE).write_text(dumps(commitment.to_json()), encoding="utf-8")
        if finish_files:  # after every public file is final (a manifest of their digests)
            finish_files(staging)
    return commitment


def _header(exchange: str, snapshot_id: str, snapshot_time: str, leaf_count: int, assets) -> Header:
    return Header(VERSION, exchange, snapshot_id, snapshot_time, leaf_count, tree_height(leaf_count), tuple(assets))


def _write_in_memory(
    plan: _TreePlan,
    accounts: int,
    jobs: int | None,
    dask: tuple[str | None, int | None],
    progress: Callable[[int], None] | None,
    stack: contextlib.ExitStack,
    staging: Path,
) -> tuple[Any, bytes]:
    """tree.bin (here, in worker processes or on Dask) and, beside it in a thread, the secrets and their index."""
    client = None
    if dask[0]:
        from por.liabilities.distributed import connect

        client = stack.enter_context(connect(dask[0], dask[1]))
    leaf_count = plan.header.leaf_count
    build = _workers(stack, plan, 1 if client is not None else jobs_wanted(jobs, leaf_count), staging / TREE_FILE)
    pieces, shuffle = plan.pieces, plan.shuffle
    first_piece = None if pieces.owners is None else np.searchsorted(pieces.owners, np.arange(accounts + 1))
    # the secrets do not depend on the tree (its root goes in last): written beside it, in a thread
    background = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="secrets"))
    secrets = background.submit(
        _write_secrets,
        staging / SECRETS_FILE,
        staging / INDEX_FILE,
        plan.ids,
        shuffle,
        plan.header.snapshot_id,
        first_piece,
    )
    with open(staging / TREE_FILE, "r+b" if build else "w+b") as handle:
        root, tree_digest = _write_tree(handle, plan, build, client, progress)
        os.fsync(handle.fileno())
    secrets.result()
    return root, tree_digest


def _write_spilled(
    book: SpilledBook,
    header: Header,
    shuffle: Shuffle | None,
    jobs: int | None,
    progress: Callable[[int], None] | None,
    stack: contextlib.ExitStack,
    staging: Path,
) -> tuple[Any, bytes]:
    """tree.bin, the secrets and their index from the sorted runs on disk (por/liabilities/external.py)."""
    files = (staging / TREE_FILE, staging / SECRETS_FILE, staging / INDEX_FILE)
    with open(staging / TREE_FILE, "w+b") as handle:
        root, tree_digest = write_tree_and_secrets(
            book, header, header_line(header), files, shuffle, jobs_wanted(jobs, header.leaf_count), None, progress
        )
        os.fsync(handle.fileno())
    return root, tree_digest


def _workers(stack: contextlib.ExitStack, plan: _TreePlan, processes: int, tree_path: Path):
    """Worker processes building disjoint subtrees (None for one process); forked before the secrets thread
    starts, and stopped with the stack."""
    if processes <= 1:
        return None
    shuffle = plan.shuffle
    return stack.enter_context(
        workers(
            processes,
            plan.ids,
            shuffle.nonces,
            plan.pieces,
            shuffle.order,
            tree_path,
            len(plan.line),
            plan.asset_count,
        )
    )


def _check_publish(liabilities: Liabilities | SpilledBook, max_pieces: int, snapshot_time: str | None) -> str:
    """The split and the asset count a publication allows; returns the snapshot time (default: now)."""
    if max_pieces < 1 or max_pieces > 64:
        raise InputError("--split must be between 1 and 64", field="split")
    if len(liabilities.assets) > MAX_ASSETS:  # what every reader of the publication accepts
        raise InputError(f"{len(liabilities.assets)} assets: a publication holds at most {MAX_ASSETS}")
    snapshot_time = snapshot_time or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        check_snapshot_time(snapshot_time)
    except TreeError as exc:
        raise InputError(f"{exc}: write it as e.g. 2026-06-30T23:59:59Z", field="--snapshot-time") from None
    return snapshot_time


def _write_tree(handle, plan: _TreePlan, build, client, progress: Callable[[int], None] | None) -> tuple[Any, bytes]:
    """tree.bin, by the worker processes, on Dask, or here level by level; returns (root record, file SHA-256)."""
    if build is not None:
        return build.write_tree(handle, plan.header, plan.line, progress)
    shuffle = plan.shuffle
    if client is not None:
        from por.liabilities.distributed import write_tree_dask

        return write_tree_dask(
            client,
            handle,
            plan.header,
            plan.line,
            plan.ids,
            shuffle.nonces,
            plan.pieces,
            shuffle.order,
            plan.asset_count,
            progress,
        )
    width = HASH_BYTES + AMOUNT_BYTES * plan.asset_count
    with LevelSink(handle, plan.line) as sink:
        maker = LeafMaker(user_table(plan.ids, shuffle.nonces), plan.pieces, shuffle.order)
        top = stream_levels(sink, maker.chunks(), plan.header.leaf_count, plan.asset_count, width, progress)
        del maker
        root = root_record(plan.header, top)[0]
        sink.append(root.reshape(1, -1))
    return root, sink.digest.digest()


def _commitment(
    header: Header, exchange: str, snapshot_time: str, assets: list[Asset], root, tree_digest: bytes
) -> Commitment:
    """The commitment to the tree just written: its root record (hash and totals) and the file's digest."""
    sums = bytes(root[HASH_BYTES:])
    return Commitment(
        exchange=exchange,
        snapshot_id=header.snapshot_id,
        snapshot_time=snapshot_time,
        root=bytes(root[:HASH_BYTES]),
        height=header.height,
        leaf_count=header.leaf_count,
        assets=assets,
        totals=[
            int.from_bytes(sums[AMOUNT_BYTES * a : AMOUNT_BYTES * (a + 1)], "big") for a in range(len(header.assets))
        ],
        tree_file=TREE_FILE,
        tree_sha256=tree_digest,
    )
