"""Batched SHA-256 of many short messages (issue 18 item 4): is there anything faster than one
hashlib call per node, giving the same digests?

    .venv/bin/python benchmarks/sha_batch.py [--count 200000] [--size 226]

Measured side by side in one run, CPU seconds per million messages of the real preimage sizes
(46 B user hash, 118 B leaf, 226 B inner node at 5 assets), every candidate checked digest for digest
against hashlib:
- hashlib, one call per message: por/liabilities/levels.py:hash_rows itself;
- hashlib in 2 threads (hashlib releases the GIL only for data of 2048 bytes or more, so short
  messages should not gain: measured, not assumed);
- pycryptodome's SHA256 (installed here through web3's dependencies), one call per message;
- SHA-256 vectorised over all messages with numpy (the compression function on uint32 columns,
  64 rounds per block for every message at once): no Python call per node;
- `openssl speed -evp sha256` on one CPU at the same size: the C limit, no Python at all.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import por.liabilities.levels  # noqa: E402,F401  (imported before anything is timed)

K = np.array(
    [
        0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
        0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
        0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
        0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
        0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
        0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
        0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
        0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
    ],
    dtype=np.uint32,
)  # fmt: skip
H0 = np.array(
    [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19], np.uint32
)


def _rotr(x: np.ndarray, n: int) -> np.ndarray:
    return (x >> np.uint32(n)) | (x << np.uint32(32 - n))


def numpy_sha256(rows: np.ndarray) -> np.ndarray:
    """SHA-256 of every row of an (n, width) uint8 matrix, all rows at once: (n, 32) digests."""
    n, width = rows.shape
    blocks = (width + 9 + 63) // 64
    padded = np.zeros((n, blocks * 64), dtype=np.uint8)
    padded[:, :width] = rows
    padded[:, width] = 0x80
    padded[:, -8:] = np.frombuffer((width * 8).to_bytes(8, "big"), dtype=np.uint8)
    words = padded.view(">u4").astype(np.uint32).reshape(n, blocks, 16)
    state = np.tile(H0, (n, 1)).T.copy()  # (8, n): one column per message
    for b in range(blocks):
        w = np.empty((64, n), dtype=np.uint32)
        w[:16] = words[:, b, :].T
        for t in range(16, 64):
            s0 = _rotr(w[t - 15], 7) ^ _rotr(w[t - 15], 18) ^ (w[t - 15] >> np.uint32(3))
            s1 = _rotr(w[t - 2], 17) ^ _rotr(w[t - 2], 19) ^ (w[t - 2] >> np.uint32(10))
            w[t] = w[t - 16] + s0 + w[t - 7] + s1
        a, b_, c, d, e, f, g, h = (state[i].copy() for i in range(8))
        for t in range(64):
            t1 = h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t]
            t2 = (_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b_) ^ (a & c) ^ (b_ & c))
            h, g, f, e, d, c, b_, a = g, f, e, d + t1, c, b_, a, t1 + t2
        state += np.stack([a, b_, c, d, e, f, g, h])
    return np.ascontiguousarray(state.T).astype(">u4").view(np.uint8).reshape(n, 32)


def hashlib_loop(rows: np.ndarray) -> bytes:
    """por's own loop (rows cut by struct.iter_unpack, one hashlib call each)."""
    from por.liabilities.levels import hash_rows

    return hash_rows(rows).tobytes()


def hashlib_threads(rows: np.ndarray, threads: int = 2) -> bytes:
    parts: list[bytes] = [b""] * threads
    cuts = np.linspace(0, len(rows), threads + 1).astype(int)

    def work(i: int) -> None:
        parts[i] = hashlib_loop(rows[cuts[i] : cuts[i + 1]])

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return b"".join(parts)


def pycryptodome_loop(rows: np.ndarray) -> bytes:
    from Crypto.Hash import SHA256

    return b"".join([SHA256.new(row).digest() for row in map(bytes, rows)])


def cpu_of(function, rows) -> tuple[float, float, object]:
    """(CPU s, wall s, result): threads can only show a gain in wall time."""
    started, wall = time.process_time(), time.perf_counter()
    result = function(rows)
    return time.process_time() - started, time.perf_counter() - wall, result


def openssl_one_cpu(size: int) -> float:
    done = subprocess.run(
        ["openssl", "speed", "-evp", "sha256", "-bytes", str(size), "-seconds", "2"], capture_output=True, text=True
    )
    return float(re.search(r"^sha256\s+([\d.]+)k", done.stdout, re.M).group(1)) * 1000 / size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--sizes", default="46,118,226")
    args = parser.parse_args()
    print(f"CPU seconds per million messages (load {' '.join(f'{x:.2f}' for x in os.getloadavg())}):")
    for size in map(int, args.sizes.split(",")):
        rows = np.frombuffer(os.urandom(args.count * size), dtype=np.uint8).reshape(args.count, size)
        base_s, base_wall, expected = cpu_of(hashlib_loop, rows)
        line = [f"{size} B: hashlib {base_s * 1e6 / args.count:.2f} s"]
        for name, function in (
            ("hashlib in 2 threads", hashlib_threads),
            ("pycryptodome", pycryptodome_loop),
            ("numpy vectorised", lambda r: numpy_sha256(r).tobytes()),
        ):
            try:
                spent, wall, got = cpu_of(function, rows)
            except ImportError:
                line.append(f"{name}: not installed")
                continue
            same = "same digests" if got == expected else "DIFFERENT DIGESTS"
            line.append(
                f"{name} {spent * 1e6 / args.count:.2f} s ({spent / base_s:.2f}x hashlib's CPU, "
                f"{wall / base_wall:.2f}x its wall, {same})"
            )
        line.append(f"openssl speed, 1 CPU: {1e6 / openssl_one_cpu(size):.2f} s")
        print("  " + "; ".join(line))


if __name__ == "__main__":
    main()
