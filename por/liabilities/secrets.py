"""The exchange-private secrets file, written column-wise so ten million lines take seconds.

One JSON header line, then one line per account in account order:
    {"account_id":"<id>","nonce":"<64 hex>","leaves":[<leaf index>, ...]}
The text is byte for byte what a `json.dumps`-per-line writer produces: ids
that JSON must escape (quote, backslash, control characters) go through
`json.dumps` itself; every other line is assembled by Arrow string kernels.
"""

from __future__ import annotations

import json
import os
from typing import BinaryIO

import numpy as np

from por.errors import InputError

SECRETS_FORMAT = "por-secrets"
CHUNK_ACCOUNTS = 1 << 18
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


def header_line(snapshot_id: str, root: bytes) -> str:
    return (
        json.dumps(
            {
                "format": SECRETS_FORMAT,
                "version": 1,
                "snapshot_id": snapshot_id,
                "root": root.hex(),
                "warning": "private: never publish this file",
            }
        )
        + "\n"
    )


def read_header(line: bytes, source: str, snapshot_id: str, root: bytes) -> None:
    """The secrets' header line must name this snapshot and this root: secrets of another
    publication would cut proofs that fail (or, worse, belong to someone else's tree)."""
    try:
        doc = json.loads(line)
        ok = doc["format"] == SECRETS_FORMAT and doc["version"] == 1
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise InputError("not a por secrets file (no por-secrets header line)", file=source, line=1)
    if doc.get("snapshot_id") != snapshot_id or doc.get("root") != root.hex():
        raise InputError("these secrets belong to another snapshot or root than tree.bin", file=source, line=1)


def set_root(path, snapshot_id: str, root: bytes) -> None:
    """Writes the real root into a secrets file written with a placeholder (same length:
    the root is always 64 hex digits), so the file can be written before the tree is done."""
    line = header_line(snapshot_id, root).encode()
    with open(path, "r+b") as handle:
        if len(handle.readline()) != len(line):
            raise ValueError("secrets header changed length")
        handle.seek(0)
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def write_secrets(
    handle: BinaryIO,
    ids,
    nonces: bytes,
    positions: np.ndarray,
    snapshot_id: str,
    root: bytes,
    first_piece: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """`positions[piece]` is the leaf index of each piece; pieces of account i are
    first_piece[i]..first_piece[i+1] (one piece per account when None).

    Returns where each account's line starts and the file's size (for the index)."""
    head = header_line(snapshot_id, root).encode()
    handle.write(head)
    return write_secret_lines(handle, ids, nonces, positions, len(head), first_piece)


def write_secret_lines(
    handle: BinaryIO, ids, nonces: bytes, positions: np.ndarray, written: int, first_piece: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """The account lines of `write_secrets` after `written` bytes (a header, or earlier accounts'
    lines: the external-memory build writes the book chunk by chunk). `positions[piece]` and
    `first_piece` as there, for these accounts only. Returns the line starts and the new size."""
    starts = np.empty(len(ids), dtype=np.int64)
    for start in range(0, len(ids), CHUNK_ACCOUNTS):
        stop = min(start + CHUNK_ACCOUNTS, len(ids))
        lines = _lines(
            ids.slice(start, stop - start),
            nonces[32 * start : 32 * stop],
            _leaves_text(positions, first_piece, start, stop),
        )
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
        handle.write(memoryview(lines.buffers()[2])[int(offsets[0]) : int(offsets[-1])])
        starts[start:stop] = written + (offsets[:-1] - offsets[0]).astype(np.int64)  # int32 + 2 GiB overflows
        written += int(offsets[-1] - offsets[0])
    return starts, written


def _lines(ids, nonces: bytes, leaves):
    import pyarrow as pa
    import pyarrow.compute as pc

    hexes = _fixed_strings(np.frombuffer(nonces.hex().encode(), dtype=np.uint8).reshape(len(ids), 64))
    if pc.any(pc.match_substring_regex(ids, _NEEDS_ESCAPE)).as_py():
        quoted = pa.array([json.dumps(i, ensure_ascii=False) for i in ids.to_pylist()], pa.string())
        return pc.binary_join_element_wise(
            '{"account_id":', quoted, ',"nonce":"', hexes, '","leaves":[', leaves, "]}\n", ""
        )
    return pc.binary_join_element_wise('{"account_id":"', ids, '","nonce":"', hexes, '","leaves":[', leaves, "]}\n", "")


def _leaves_text(positions: np.ndarray, first_piece: np.ndarray | None, start: int, stop: int):
    import pyarrow as pa
    import pyarrow.compute as pc

    if first_piece is None:
        return pc.cast(pa.array(positions[start:stop]), pa.string())
    lo, hi = int(first_piece[start]), int(first_piece[stop])
    values = pc.cast(pa.array(positions[lo:hi]), pa.string())
    offsets = pa.array((first_piece[start : stop + 1] - lo).astype(np.int32))
    return pc.binary_join(pa.ListArray.from_arrays(offsets, values), ", ")


def _fixed_strings(raw: np.ndarray):
    """An Arrow string array over the rows of a (n, width) ASCII byte matrix."""
    import pyarrow as pa

    count, width = raw.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(raw))]
    )
