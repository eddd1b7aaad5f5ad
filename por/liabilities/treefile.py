"""The full tree for auditors: compact, fixed-size records, streamable.

Layout (docs/formats/tree.md): one JSON header line, then every level from
the leaves (padding included) to the top node, each node `hash[32] || sums[16*A]`,
then (format 2) the root record: the root hash and the top node's sums.
Any node is one seek away, so proofs are cut from the file without loading
it, and verification reads two levels side by side in bounded chunks.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from por.errors import InputError
from por.liabilities.inclusion import against_commitment
from por.liabilities.porjson import Commitment, assets_json, sums_json
from por.liabilities.tree import (
    HASH_BYTES,
    HASH_NAME,
    MAX_HEIGHT,
    MAX_LEAVES,
    VERSION,
    VERSIONS,
    Header,
    Node,
    TreeError,
    check_snapshot_time,
    level_sizes,
    padding_hash,
    record_size,
)
from por.strictjson import Fields, loads
from por.text import is_regular_file
from por.verdict import Verdict

if TYPE_CHECKING:  # numpy loads only where levels are read or written: `prove DIR ID` seeks
    import numpy as np

TREE_FORMAT = "por-tree"
MAX_HEADER = 1 << 20
CHUNK_NODES = 1 << 13  # records per read: small enough to stay in the CPU caches


def header_json(header: Header) -> dict:
    """The header line's fields, in their one order (format 1 has no exchange and no snapshot time)."""
    doc: dict = {"format": TREE_FORMAT, "version": header.version, "hash": HASH_NAME}
    if header.version >= VERSION:
        doc["exchange"] = header.exchange
    doc["snapshot_id"] = header.snapshot_id
    if header.version >= VERSION:
        doc["snapshot_time"] = header.snapshot_time
    doc.update(
        assets=assets_json(list(header.assets)),
        leaf_count=header.leaf_count,
        height=header.height,
        level_sizes=level_sizes(header.leaf_count),
    )
    return doc


def header_line(header: Header) -> bytes:
    """The one spelling of a header: compact JSON and a newline, checked byte for byte on read."""
    return (json.dumps(header_json(header), separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def write_tree(handle: BinaryIO, header: Header, levels: list[np.ndarray]) -> bytes:
    """Writes header, levels and (format 2) the root record; returns the file's SHA-256 (pinned in the
    commitment)."""
    from por.liabilities.levels import root_record

    digest = hashlib.sha256()
    head = header_line(header)
    tail = [root_record(header, levels[-1][0]).tobytes()] if header.version >= VERSION else []
    for chunk in [head] + [level.tobytes() for level in levels] + tail:
        digest.update(chunk)
        handle.write(chunk)
    return digest.digest()


class TreeFile:
    """Random and sequential access to a tree file; validates the header on open."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not is_regular_file(self.path):
            raise InputError("not a regular file: a tree is read by seeking (save it to a file first)", file=str(path))
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
                raise InputError("header is not in canonical form (edited or re-formatted)", file=str(path), line=1)
        except BaseException:
            self.handle.close()
            raise
        self.record_size = record_size(len(self.header.assets))
        self.sizes = level_sizes(self.header.leaf_count)
        self.offsets = []
        offset = self.header_bytes
        for size in self.sizes:
            self.offsets.append(offset)
            offset += size * self.record_size
        self.root_offset = offset  # format 2: the root record follows the top
        self.expected_bytes = offset + (self.record_size if self.header.version >= VERSION else 0)

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

    def __enter__(self) -> TreeFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def node(self, height: int, index: int) -> Node:
        return Node.from_record(
            self._record(self.offsets[height] + index * self.record_size, f"height {height} node {index}")
        )

    def top(self) -> Node:
        """The node at the top of the levels (format 1 calls it the root)."""
        return self.node(self.header.height, 0)

    def root(self) -> Node:
        """The root the commitment and proofs carry: the stored root record (format 2), else the top."""
        if self.header.version < VERSION:
            return self.top()
        return Node.from_record(self._record(self.root_offset, "the root record"))

    def root_from_top(self) -> Node:
        """The root as it must be: over the header's labels and the stored top (format 2), else the top."""
        top = self.top()
        if self.header.version < VERSION:
            return top
        import numpy as np

        from por.liabilities.levels import root_record

        record = np.frombuffer(top.hash + b"".join(v.to_bytes(16, "big") for v in top.sums), np.uint8)
        return Node.from_record(root_record(self.header, record)[0])

    def _record(self, offset: int, what: str) -> bytes:
        self.handle.seek(offset)
        raw = self.handle.read(self.record_size)
        if len(raw) != self.record_size:
            raise InputError(f"truncated at {what}", file=str(self.path))
        return raw

    def chunks(self, height: int, chunk_nodes: int = CHUNK_NODES) -> Iterator[tuple[int, np.ndarray]]:
        """(first index, records) over one level, from an independent file handle."""
        import numpy as np

        width = self.record_size
        with open(self.path, "rb") as handle:
            handle.seek(self.offsets[height])
            done = 0
            while done < self.sizes[height]:
                count = min(chunk_nodes, self.sizes[height] - done)
                raw = handle.read(count * width)
                if len(raw) != count * width:
                    raise InputError(
                        f"truncated at height {height} node {done + len(raw) // width}", file=str(self.path)
                    )
                yield done, np.frombuffer(raw, dtype=np.uint8).reshape(count, width)
                done += count


def _parse_header(data, source: str) -> Header:
    from por.liabilities.porjson import _assets  # one definition of a valid asset list

    f = Fields(data, source, "header")
    version = f.int("version", maximum=255)
    if f.str("format") != TREE_FORMAT or version not in VERSIONS or f.str("hash") != HASH_NAME:
        raise f.error("format", "not a por-tree version 1 or 2 (sha256) file")
    exchange: str | None
    snapshot_time: str | None
    if version >= VERSION:
        f.only(
            "format",
            "version",
            "hash",
            "exchange",
            "snapshot_id",
            "snapshot_time",
            "assets",
            "leaf_count",
            "height",
            "level_sizes",
        )
        exchange, snapshot_time = f.str("exchange", max_len=200), f.str("snapshot_time", max_len=64)
        try:
            check_snapshot_time(snapshot_time)
        except TreeError as exc:
            raise f.error("snapshot_time", str(exc)) from None
    else:
        f.only("format", "version", "hash", "snapshot_id", "assets", "leaf_count", "height", "level_sizes")
        exchange, snapshot_time = None, None  # format 1 carries neither
    header = Header(
        version=version,
        exchange=exchange,
        snapshot_id=f.str("snapshot_id", max_len=200),
        snapshot_time=snapshot_time,
        leaf_count=f.int("leaf_count", minimum=1, maximum=MAX_LEAVES),
        height=f.int("height", minimum=1, maximum=MAX_HEIGHT),
        assets=tuple(_assets(f)),
    )
    if header.height != len(level_sizes(header.leaf_count)) - 1:
        raise f.error("height", f"does not match {header.leaf_count} leaves")
    if f.get("level_sizes", list) != level_sizes(header.leaf_count):
        raise f.error("level_sizes", f"do not match {header.leaf_count} leaves")
    return header


def verify_tree_file(
    path: str | Path, commitment: Commitment | None = None, progress: Callable[[int], None] | None = None
) -> Verdict:
    """Recomputes every inner node (hash and sums) level by level in bounded memory."""
    with TreeFile(path) as tree, _FileDigest(tree, commitment is not None) as file_digest:
        header = tree.header
        verdict = Verdict.start(
            format="por", version=header.version, leaf_count=header.leaf_count, height=header.height
        )
        actual = tree.path.stat().st_size
        if actual != tree.expected_bytes:
            return verdict.fail(
                f"{path}: file has {actual} bytes, the header implies {tree.expected_bytes} "
                f"({'truncated' if actual < tree.expected_bytes else 'trailing data'})"
            )
        last_leaf = tree.node(0, header.leaf_count - 1)
        if last_leaf.hash == padding_hash(0, header.leaf_count - 1) and not any(last_leaf.sums):
            # with an odd count n the file for n+1 leaves has the same size: the header lies
            return verdict.fail(f"leaf {header.leaf_count - 1} is a padding node: the leaf count is wrong")
        leaf_prefixes = _recompute_levels(tree, verdict, progress)
        if leaf_prefixes is None:
            return verdict
        duplicate = _first_duplicate_leaf(tree, leaf_prefixes)
        if duplicate is not None:
            verdict.fail(f"leaves {duplicate[0]} and {duplicate[1]} are the same leaf (one leaf for two customers)")
        root = _check_root(tree, verdict)
        verdict.checked("every node's hash and sums from its children, every padding node, no leaf twice")
        if header.version >= VERSION:
            verdict.checked("the root record from the header's labels and the top node")
        verdict.facts.update(
            root=root.hash.hex(),
            totals=sums_json(list(header.assets), list(root.sums)),
            assets=[a.symbol for a in header.assets],
            snapshot_id=header.snapshot_id,
        )
        if commitment is not None:
            _against_commitment(tree, root, commitment, verdict, file_digest.result())
            verdict.checked("the file's sha256, root, labels and totals against the pinned commitment")
        return verdict


def _recompute_levels(tree: TreeFile, verdict: Verdict, progress: Callable[[int], None] | None) -> np.ndarray | None:
    """Every inner node from its children and every padding node, level by level; returns the leaves'
    first 8 bytes (to find a leaf stored twice), or None when a node failed (the verdict says which)."""
    import numpy as np

    from por.liabilities.levels import padding_record, parent_level

    header = tree.header
    count = len(header.assets)
    leaf_prefixes = np.empty(header.leaf_count, dtype=np.uint64)
    real = header.leaf_count
    for height in range(header.height):
        parents = tree.chunks(height + 1, CHUNK_NODES // 2)
        for start, records in tree.chunks(height, CHUNK_NODES):
            if height == 0:
                upto = min(len(records), real - start)
                leaf_prefixes[start : start + upto] = records[:upto, :8].copy().view(">u8").ravel()
            if start + len(records) == tree.sizes[height] and tree.sizes[height] > real:
                pad = padding_record(height, real, count)
                if not np.array_equal(records[-1:], pad):
                    verdict.fail(f"height {height} node {real}: malformed padding node")
                    return None
            _, stored = next(parents)
            try:
                computed = parent_level(records, height + 1, count)
            except TreeError as exc:
                verdict.fail(f"height {height + 1} nodes {start // 2}..: {exc}")
                return None
            bad = _first_bad_parent(computed, stored[: len(computed)])
            if bad is not None:
                verdict.fail(
                    f"height {height + 1} node {start // 2 + bad[0]}: {bad[1]} does not recompute from its children"
                )
                return None
            if progress:
                progress(len(records))
        real = tree.sizes[height] // 2
    return leaf_prefixes


def _first_bad_parent(computed: np.ndarray, stored: np.ndarray) -> tuple[int, str] | None:
    """The first stored parent that differs from the one computed, and in what: "hash" or "sums"."""
    import numpy as np

    if np.array_equal(computed.view(np.uint64), stored.view(np.uint64)):  # 8 bytes at a time
        return None
    i = int(np.nonzero((computed != stored).any(axis=1))[0][0])
    return i, "hash" if not np.array_equal(computed[i, :HASH_BYTES], stored[i, :HASH_BYTES]) else "sums"


def _check_root(tree: TreeFile, verdict: Verdict) -> Node:
    """Format 2: the stored root record must be the root node over the header and the top."""
    expected = tree.root_from_top()
    stored = tree.root()
    if stored.hash != expected.hash:
        verdict.fail(
            "root record: hash does not recompute from the header and the top node (a label or the top was changed)"
        )
    elif stored.sums != expected.sums:
        verdict.fail("root record: sums differ from the top node's")
    return expected


def _first_duplicate_leaf(tree: TreeFile, prefixes: np.ndarray) -> tuple[int, int] | None:
    """Sorts `prefixes` (8 bytes of each leaf hash) in place: at 100M leaves a sorted copy would
    double the 800 MB this check costs. Only when two prefixes are equal (an attack, or 1 in ~3,000
    at 100M leaves by chance) are they read again in leaf order to name the leaves."""
    import numpy as np

    prefixes.sort()
    if not (prefixes[1:] == prefixes[:-1]).any():  # the common case: no two leaves share 8 bytes
        return None
    prefixes = np.concatenate(
        [records[:, :8].copy().view(">u8").ravel() for _, records in tree.chunks(0, CHUNK_NODES)]
    )[: tree.header.leaf_count]
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
        self.tree, self.path = tree, tree.path
        self._digest: bytes | None = None
        self._error: OSError | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree sha256", daemon=True) if wanted else None

    def __enter__(self) -> _FileDigest:
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
        if self._thread is None:
            raise RuntimeError("the file's digest was not asked for")
        self._thread.join()
        if self._error is not None:
            raise InputError(f"cannot read: {self._error.strerror}", file=str(self.path))
        if self._digest is None:  # the thread either set the digest or the error
            raise RuntimeError("the file's digest thread ended without a result")
        return self._digest


def _against_commitment(
    tree: TreeFile, root: Node, commitment: Commitment, verdict: Verdict, file_sha256: bytes
) -> None:
    """The file's SHA-256 (a tree's own pin), then the checks a proof gets too (`against_commitment`)."""
    if commitment.tree_sha256 is not None and file_sha256 != commitment.tree_sha256:
        verdict.fail("file's sha256 differs from the one the commitment pins (not the published tree)")
    against_commitment(tree.header, root.hash, list(root.sums), commitment, verdict, "snapshot id")


def nodes_to_check(path: str | Path) -> int | None:
    """What verify_tree_file's progress counts to (every record below the top); None when the header
    cannot be read (verifying says why)."""
    try:
        with TreeFile(path) as tree:
            return sum(tree.sizes[: tree.header.height])
    except (InputError, TreeError, OSError):
        return None
