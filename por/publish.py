"""Publishing: customer balances -> a commitment, the auditors' tree, and private secrets.

The folder a publication writes:
    commitment.json          public: root, totals, height, leaf count, snapshot
    tree.bin                 for auditors: every node (docs/formats/tree.md)
    private/secrets.jsonl    never published: each account's nonce and leaf indices
Everything is written into a staging folder and renamed into place at the
end, so a killed run never leaves a publication that looks complete.
"""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from por.atomic import atomic_directory
from por.customers import Liabilities
from por.errors import InputError
from por.formats.porjson import Commitment, dumps
from por.formats.treefile import TreeHeader, write_tree
from por.tree import HASH_BYTES, TAG_USER, build_levels, ints_to_limbs, leaf_records, _sha256

SECRETS_FORMAT = "por-secrets"
COMMITMENT_FILE = "commitment.json"
TREE_FILE = "tree.bin"
SECRETS_FILE = "private/secrets.jsonl"


@dataclass
class BuiltTree:
    """A tree in memory with what is needed to cut every customer's proof."""

    liabilities: Liabilities
    nonces: bytes                 # 32 bytes per account, in account order
    leaf_index: list[list[int]]   # per account: leaf index of each piece, piece order
    levels: list[np.ndarray]

    @property
    def root(self) -> bytes:
        return bytes(self.levels[-1][0, :HASH_BYTES])


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


def build_tree(liabilities: Liabilities, *, max_pieces: int = 1,
               progress: Callable[[int], None] | None = None) -> BuiltTree:
    """Nonces, (optional) splitting, random leaf order, then every level of the tree."""
    count = len(liabilities.account_ids)
    nonces = os.urandom(32 * count)
    tag = bytes([TAG_USER])
    users = np.frombuffer(b"".join([
        _sha256(tag + nonces[offset:offset + 32] + account_id.encode("utf-8")).digest()
        for offset, account_id in zip(range(0, 32 * count, 32), liabilities.account_ids)]),
        dtype=np.uint8).reshape(count, HASH_BYTES)
    if max_pieces > 1:
        owners_list, columns = split_amounts(liabilities.columns, max_pieces, random.SystemRandom())
        owners = np.asarray(owners_list, dtype=np.int64)
        starts = np.searchsorted(owners, np.arange(count))
        piece_numbers = np.arange(len(owners)) - starts[owners]
    else:
        owners, columns = np.arange(count), liabilities.columns
        piece_numbers = np.zeros(count, dtype=np.int64)
    leaf_total = len(owners)
    rng = np.random.default_rng(int.from_bytes(os.urandom(32), "big"))
    order = rng.permutation(leaf_total)            # position -> piece
    limbs = [ints_to_limbs(col) for col in columns]
    hi = np.stack([h[order] for h, _ in limbs], axis=1) if limbs else np.zeros((leaf_total, 0), np.uint64)
    lo = np.stack([l[order] for _, l in limbs], axis=1) if limbs else np.zeros((leaf_total, 0), np.uint64)
    leaves = leaf_records(users[owners[order]], piece_numbers[order], hi, lo)
    if progress:
        progress(leaf_total)
    levels = build_levels(leaves, len(liabilities.assets), progress)
    position = np.empty(leaf_total, dtype=np.int64)
    position[order] = np.arange(leaf_total)
    positions = position.tolist()                   # pieces are grouped by owner, in piece order
    if leaf_total == count:
        leaf_index = [[p] for p in positions]
    else:
        bounds = np.searchsorted(owners, np.arange(count + 1)).tolist()
        leaf_index = [positions[bounds[a]:bounds[a + 1]] for a in range(count)]
    return BuiltTree(liabilities, nonces, leaf_index, levels)


def publish(liabilities: Liabilities, out: str | Path, *, exchange: str, snapshot_id: str,
            snapshot_time: str | None = None, max_pieces: int = 1, force: bool = False,
            progress: Callable[[int], None] | None = None,
            extra_files: Callable[[Path, Commitment], None] | None = None) -> Commitment:
    """Builds the tree and writes the publication folder atomically."""
    if max_pieces < 1 or max_pieces > 64:
        raise InputError("--split must be between 1 and 64", field="split")
    snapshot_time = snapshot_time or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    built = build_tree(liabilities, max_pieces=max_pieces, progress=progress)
    header = TreeHeader(liabilities.assets, len(built.levels[0]) - _padding_at_leaves(built),
                        len(built.levels) - 1, snapshot_id)
    root = built.levels[-1]
    with atomic_directory(out, replace=force) as staging:
        with open(staging / TREE_FILE, "wb") as handle:
            tree_digest = write_tree(handle, header, built.levels)
            handle.flush()
            os.fsync(handle.fileno())
        (staging / "private").mkdir(mode=0o700)
        _write_secrets(staging / SECRETS_FILE, built, snapshot_id)
        commitment = Commitment(
            exchange=exchange, snapshot_id=snapshot_id, snapshot_time=snapshot_time,
            root=built.root, height=header.height, leaf_count=header.leaf_count,
            assets=liabilities.assets,
            totals=[int.from_bytes(bytes(root[0, HASH_BYTES + 16 * a:HASH_BYTES + 16 * a + 16]), "big")
                    for a in range(len(liabilities.assets))],
            tree_file=TREE_FILE, tree_sha256=tree_digest)
        if extra_files:
            extra_files(staging, commitment)
        (staging / COMMITMENT_FILE).write_text(dumps(commitment.to_json()), encoding="utf-8")
    return commitment


def _padding_at_leaves(built: BuiltTree) -> int:
    return len(built.levels[0]) - sum(len(p) for p in built.leaf_index)


# what json.dumps(..., ensure_ascii=False) escapes: ids free of these are quoted as they are
_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f]')


def _write_secrets(path: Path, built: BuiltTree, snapshot_id: str) -> None:
    ids = built.liabilities.account_ids
    quote = _quote_plain if not _JSON_ESCAPED.search("".join(ids)) else _quote_json
    nonces = built.nonces.hex()
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"format": SECRETS_FORMAT, "version": 1, "snapshot_id": snapshot_id,
                                 "root": built.root.hex(), "warning": "private: never publish this file"}) + "\n")
        for start in range(0, len(ids), 65536):
            handle.write("".join([
                f'{{"account_id":{quote(ids[i])},"nonce":"{nonces[64 * i:64 * i + 64]}",'
                f'"leaves":{built.leaf_index[i]}}}\n'
                for i in range(start, min(start + 65536, len(ids)))]))
        handle.flush()
        os.fsync(handle.fileno())


def _quote_plain(text: str) -> str:
    return f'"{text}"'


def _quote_json(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
