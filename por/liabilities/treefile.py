"""The full tree for auditors: compact, fixed-size records, streamable.

Layout (docs/formats/tree.md): one JSON header line, then every level from
the leaves (padding included) to the root, each node `hash[32] || sums[16*A]`.
Any node is one seek away, so proofs are cut from the file without loading
it, and verification reads two levels side by side in bounded chunks.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np

from por.amounts import Asset
from por.errors import InputError
from por.liabilities.levels import padding_record, parent_level
from por.liabilities.porjson import Commitment, assets_json, sums_json
from por.liabilities.tree import (
    HASH_BYTES,
    HASH_NAME,
    MAX_HEIGHT,
    Node,
    TreeError,
    level_sizes,
    padding_hash,
    record_size,
)
from por.strictjson import Fields, loads
from por.text import is_regular_file
from por.verdict import Verdict

TREE_FORMAT = "por-tree"
MAX_HEADER = 1 << 20
CHUNK_NODES = 1 << 13            # records per read: small enough to stay in the CPU caches


@dataclass
class TreeHeader:
    assets: list[Asset]
    leaf_count: int
    height: int
    snapshot_id: str

    @property
    def record_size(self) -> int:
        return record_size(len(self.assets))

    def to_json(self) -> dict:
        return {"format": TREE_FORMAT, "version": 1, "hash": HASH_NAME, "snapshot_id": self.snapshot_id,
                "assets": assets_json(self.assets), "leaf_count": self.leaf_count, "height": self.height,
                "level_sizes": level_sizes(self.leaf_count)}


def header_line(header: TreeHeader) -> bytes:
    """The one spelling of a header: compact JSON and a newline, checked byte for byte on read."""
    return (json.dumps(header.to_json(), separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def write_tree(handle: BinaryIO, header: TreeHeader, levels: list[np.ndarray]) -> bytes:
    """Writes header and levels; returns the file's SHA-256 (pinned in the commitment)."""
    digest = hashlib.sha256()
    head = header_line(header)
    for chunk in [head] + [level.tobytes() for level in levels]:
        digest.update(chunk)
        handle.write(chunk)
    return digest.digest()


class TreeFile:
    """Random and sequential access to a tree file; validates the header on open."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not is_regular_file(self.path):
            raise InputError("not a regular file: a tree is read by seeking (save it to a file first)",
                             file=str(path))
        try:
            self.handle = open(self.path, "rb")
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
        first = self.handle.readline(MAX_HEADER)
        if not first.endswith(b"\n"):
            self.handle.close()
            raise InputError("not a por tree file (no header line)", file=str(path), line=1)
        self.header_bytes = len(first)
        try:
            self.header = _parse_header(loads(first, str(path)), str(path))
            if first != header_line(self.header):
                raise InputError("header is not in canonical form (edited or re-formatted)",
                                 file=str(path), line=1)
        except BaseException:
            self.handle.close()
            raise
        self.sizes = level_sizes(self.header.leaf_count)
        self.offsets = []
        offset = self.header_bytes
        for size in self.sizes:
            self.offsets.append(offset)
            offset += size * self.header.record_size
        self.expected_bytes = offset

    def close(self) -> None:
        self.handle.close()

    def sha256(self, stop: threading.Event | None = None) -> bytes:
        """The file's SHA-256, reading no more than the size its header declares and one byte
        (so a file with trailing data, or a link to an endless device, differs and ends)."""
        digest = hashlib.sha256()
        left = self.expected_bytes + 1
        with open(self.path, "rb") as handle:
            while left and (chunk := handle.read(min(1 << 22, left))) and not (stop and stop.is_set()):
                digest.update(chunk)
                left -= len(chunk)
        return digest.digest()

    def __enter__(self) -> "TreeFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def node(self, height: int, index: int) -> Node:
        width = self.header.record_size
        self.handle.seek(self.offsets[height] + index * width)
        raw = self.handle.read(width)
        if len(raw) != width:
            raise InputError(f"truncated at height {height} node {index}", file=str(self.path))
        return Node.from_record(raw)

    def chunks(self, height: int, chunk_nodes: int = CHUNK_NODES) -> Iterator[tuple[int, np.ndarray]]:
        """(first index, records) over one level, from an independent file handle."""
        width = self.header.record_size
        with open(self.path, "rb") as handle:
            handle.seek(self.offsets[height])
            done = 0
            while done < self.sizes[height]:
                count = min(chunk_nodes, self.sizes[height] - done)
                raw = handle.read(count * width)
                if len(raw) != count * width:
                    raise InputError(f"truncated at height {height} node {done + len(raw) // width}",
                                     file=str(self.path))
                yield done, np.frombuffer(raw, dtype=np.uint8).reshape(count, width)
                done += count


def _parse_header(data, source: str) -> TreeHeader:
    from por.liabilities.porjson import _assets  # one definition of a valid asset list

    f = Fields(data, source, "header")
    f.only("format", "version", "hash", "snapshot_id", "assets", "leaf_count", "height", "level_sizes")
    if f.str("format") != TREE_FORMAT or f.int("version") != 1 or f.str("hash") != HASH_NAME:
        raise f.error("format", "not a por-tree version 1 (sha256) file")
    header = TreeHeader(assets=_assets(f), leaf_count=f.int("leaf_count", minimum=1, maximum=2**MAX_HEIGHT),
                        height=f.int("height", minimum=1, maximum=MAX_HEIGHT),
                        snapshot_id=f.str("snapshot_id", max_len=200))
    if header.height != len(level_sizes(header.leaf_count)) - 1:
        raise f.error("height", f"does not match {header.leaf_count} leaves")
    if f.get("level_sizes", list) != level_sizes(header.leaf_count):
        raise f.error("level_sizes", f"do not match {header.leaf_count} leaves")
    return header


def verify_tree_file(path: str | Path, commitment: Commitment | None = None,
                     progress: Callable[[int], None] | None = None) -> Verdict:
    """Recomputes every inner node (hash and sums) level by level in bounded memory."""
    with TreeFile(path) as tree, _FileDigest(tree, commitment is not None) as file_digest:
        header = tree.header
        count = len(header.assets)
        verdict = Verdict.start(format="por", leaf_count=header.leaf_count, height=header.height)
        actual = tree.path.stat().st_size
        if actual != tree.expected_bytes:
            return verdict.fail(f"{path}: file has {actual} bytes, the header implies {tree.expected_bytes} "
                                f"({'truncated' if actual < tree.expected_bytes else 'trailing data'})")
        last_leaf = tree.node(0, header.leaf_count - 1)
        if last_leaf.hash == padding_hash(0, header.leaf_count - 1) and not any(last_leaf.sums):
            # with an odd count n the file for n+1 leaves has the same size: the header lies
            return verdict.fail(f"leaf {header.leaf_count - 1} is a padding node: the leaf count is wrong")
        leaf_prefixes = np.empty(header.leaf_count, dtype=np.uint64)
        real = header.leaf_count
        for height in range(header.height):
            parents = tree.chunks(height + 1, CHUNK_NODES // 2)
            for start, records in tree.chunks(height, CHUNK_NODES):
                if height == 0:
                    upto = min(len(records), real - start)
                    leaf_prefixes[start:start + upto] = records[:upto, :8].copy().view(">u8").ravel()
                if start + len(records) == tree.sizes[height] and tree.sizes[height] > real:
                    pad = padding_record(height, real, count)
                    if not np.array_equal(records[-1:], pad):
                        return verdict.fail(f"height {height} node {real}: malformed padding node")
                _, stored = next(parents)
                try:
                    computed = parent_level(records, height + 1, count)
                except TreeError as exc:
                    return verdict.fail(f"height {height + 1} nodes {start // 2}..: {exc}")
                stored = stored[:len(computed)]
                if np.array_equal(computed.view(np.uint64), stored.view(np.uint64)):    # 8 bytes at a time
                    bad = ()
                else:
                    bad = np.nonzero((computed != stored).any(axis=1))[0]
                if len(bad):
                    i = int(bad[0])
                    what = "hash" if not np.array_equal(computed[i, :HASH_BYTES], stored[i, :HASH_BYTES]) else "sums"
                    return verdict.fail(f"height {height + 1} node {start // 2 + i}: {what} does not recompute "
                                        f"from its children")
                if progress:
                    progress(len(records))
            real = tree.sizes[height] // 2
        duplicate = _first_duplicate_leaf(tree, leaf_prefixes)
        if duplicate is not None:
            verdict.fail(f"leaves {duplicate[0]} and {duplicate[1]} are the same leaf (one leaf for two customers)")
        root = tree.node(header.height, 0)
        verdict.facts.update(root=root.hash.hex(), totals=sums_json(header.assets, list(root.sums)),
                             assets=[a.symbol for a in header.assets], snapshot_id=header.snapshot_id)
        if commitment is not None:
            _against_commitment(tree, root, commitment, verdict, file_digest.result())
        return verdict


def _first_duplicate_leaf(tree: TreeFile, prefixes: np.ndarray) -> tuple[int, int] | None:
    ranked = np.sort(prefixes)
    if not (ranked[1:] == ranked[:-1]).any():          # the common case: no two leaves share 8 bytes
        return None
    order = np.argsort(prefixes, kind="stable")
    ranked = prefixes[order]
    candidates = np.nonzero(ranked[1:] == ranked[:-1])[0]
    for c in candidates:
        a, b = int(order[c]), int(order[c + 1])
        if tree.node(0, a).hash == tree.node(0, b).hash:
            return min(a, b), max(a, b)
    return None


class _FileDigest:
    """The file's SHA-256, read in a thread while the nodes are recomputed (reading and
    hashing large blocks release the GIL, so it costs a second core, not time)."""

    def __init__(self, tree: TreeFile, wanted: bool) -> None:
        self.tree, self.path, self._digest, self._error = tree, tree.path, None, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree sha256", daemon=True) if wanted else None

    def __enter__(self) -> "_FileDigest":
        if self._thread:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()

    def _run(self) -> None:
        try:
            self._digest = self.tree.sha256(self._stop)
        except OSError as exc:
            self._error = exc

    def result(self) -> bytes:
        self._thread.join()
        if self._error is not None:
            raise InputError(f"cannot read: {self._error.strerror}", file=str(self.path))
        return self._digest


def _against_commitment(tree: TreeFile, root: Node, commitment: Commitment, verdict: Verdict,
                        file_sha256: bytes) -> None:
    header = tree.header
    if commitment.tree_sha256 is not None and file_sha256 != commitment.tree_sha256:
        verdict.fail("file's sha256 differs from the one the commitment pins (not the published tree)")
    checks = [
        (root.hash == commitment.root, f"root {root.hash.hex()} is not the commitment's root {commitment.root.hex()}"),
        (list(root.sums) == commitment.totals, "root sums differ from the commitment's totals"),
        (header.assets == commitment.assets, "asset list differs from the commitment's"),
        (header.leaf_count == commitment.leaf_count, "leaf count differs from the commitment's"),
        (header.height == commitment.height, "height differs from the commitment's"),
        (header.snapshot_id == commitment.snapshot_id, "snapshot id differs from the commitment's"),
    ]
    for ok, reason in checks:
        if not ok:
            verdict.fail(reason)
