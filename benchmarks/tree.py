"""Benchmark: publishing 1M accounts x 3 assets against hashing the same preimages with hashlib alone.

Not a test. Run: `.venv/bin/python benchmarks/tree.py [--accounts N] [--assets A] [--split K]`.

In one run it
1. generates the customer book in memory (numpy; not timed),
2. times `build_tree` alone, then `publish` (build again + write tree.bin, the private
   secrets and the commitment, with fsync) into a temporary folder,
3. rebuilds, from the published tree, every preimage the tree hashed (user hashes, leaves,
   inner nodes; padding is a handful), materialised as bytes objects, and times only the
   loop `sha256(p).digest()` over them, then checks those digests are the tree's,
4. times cutting a sample of proofs with `cut_proof`,
and prints wall times, peak memory (ru_maxrss) and the ratios. Targets: publish/hashlib <= 3
(issue 3) and <= 2 (issue 7); peak memory <= 2 GiB.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from por.amounts import Asset  # noqa: E402
from por.liabilities.book import Liabilities  # noqa: E402
from por.liabilities.prove import cut_proof  # noqa: E402
from por.liabilities.publish import SECRETS_FILE, TREE_FILE, build_tree, publish  # noqa: E402
from por.liabilities.tree import HASH_BYTES, TAG_INNER, TAG_LEAF, TAG_USER, level_sizes  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def generate(accounts: int, asset_count: int, seed: int = 1) -> Liabilities:
    """A book like an exchange's: a third of balances zero, the rest log-uniform up to ~1e15 units."""
    rng = np.random.default_rng(seed)
    symbols = ["BTC", "ETH", "USDT", "SOL", "XRP", "DOGE"][:asset_count]
    decimals = {"BTC": 8, "ETH": 18, "USDT": 6, "SOL": 9, "XRP": 6, "DOGE": 8}
    symbols = sorted(symbols)
    lo = np.empty((accounts, len(symbols)), dtype=np.uint64)
    for a in range(len(symbols)):
        digits = rng.integers(0, 16, size=accounts)
        values = (rng.random(accounts) * 10.0**digits).astype(np.uint64)
        values[rng.random(accounts) < 0.33] = 0
        lo[:, a] = values
    ids = [f"user-{i:08d}" for i in range(accounts)]
    assets = [Asset(s, decimals[s]) for s in symbols]
    if hasattr(Liabilities, "from_arrays"):  # the columnar form the file readers produce
        import pyarrow as pa

        return Liabilities.from_arrays(assets, pa.array(ids, pa.string()), np.zeros_like(lo), lo)
    return Liabilities(assets=assets, account_ids=ids, columns=[lo[:, a].tolist() for a in range(len(assets))])


def preimages(folder: Path, asset_count: int) -> tuple[list[bytes], list[bytes]]:
    """Every preimage the tree hashed, rebuilt from the publication, and the digests it stored."""
    width = HASH_BYTES + 16 * asset_count
    with open(folder / TREE_FILE, "rb") as handle:
        header = json.loads(handle.readline())
        body = np.frombuffer(handle.read(), dtype=np.uint8)
    sizes = level_sizes(header["leaf_count"])
    levels, offset = [], 0
    for size in sizes:
        levels.append(body[offset : offset + size * width].reshape(size, width))
        offset += size * width
    leaf_count = header["leaf_count"]
    user_pre, user_of_leaf, piece_of_leaf = [], [None] * leaf_count, [0] * leaf_count
    count_of_leaf = [1] * leaf_count
    with open(folder / SECRETS_FILE, encoding="utf-8") as handle:
        handle.readline()
        for line in handle:
            entry = json.loads(line)
            pre = bytes([TAG_USER]) + bytes.fromhex(entry["nonce"]) + entry["account_id"].encode("utf-8")
            user_pre.append(pre)
            digest = hashlib.sha256(pre).digest()
            for piece, index in enumerate(entry["leaves"]):
                user_of_leaf[index], piece_of_leaf[index] = digest, piece
                count_of_leaf[index] = len(entry["leaves"])
    leaves = levels[0]
    pre = [
        bytes([TAG_LEAF, 0])
        + user_of_leaf[i]
        + piece_of_leaf[i].to_bytes(4, "big")  # format 2: piece, count
        + count_of_leaf[i].to_bytes(4, "big")
        + leaves[i, HASH_BYTES:].tobytes()
        for i in range(leaf_count)
    ]
    expected = [leaves[i, :HASH_BYTES].tobytes() for i in range(leaf_count)]
    for height in range(1, len(sizes)):
        below = levels[height - 1]
        pairs = below.reshape(len(below) // 2, 2 * width)
        prefix = bytes([TAG_INNER, height])
        pre.extend(prefix + row.tobytes() for row in pairs)
        expected.extend(levels[height][i, :HASH_BYTES].tobytes() for i in range(len(pairs)))
    user_expected = [hashlib.sha256(p).digest() for p in user_pre]  # checked by the leaves' preimages
    return user_pre + pre, user_expected + expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--assets", type=int, default=3)
    parser.add_argument("--split", type=int, default=1)
    parser.add_argument("--proofs", type=int, default=20, help="proofs to cut, timed")
    parser.add_argument("--profile", action="store_true", help="cProfile the publish step")
    args = parser.parse_args()

    print(f"accounts {args.accounts:,} x assets {args.assets}, split {args.split}")
    t0 = time.perf_counter()
    book = generate(args.accounts, args.assets)
    print(f"generate (not timed in ratios)   {time.perf_counter() - t0:8.2f} s   peak {peak_mib():8.0f} MiB")

    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    built = build_tree(book, max_pieces=args.split)
    build_s, build_cpu = time.perf_counter() - t0, time.process_time() - c0
    leaf_total = sum(len(p) for p in built.leaf_index)
    del built
    gc.collect()
    print(f"build_tree                       {build_s:8.2f} s   cpu {build_cpu:6.2f} s   peak {peak_mib():6.0f} MiB")

    with tempfile.TemporaryDirectory(prefix="por-bench-") as tmp:
        folder = Path(tmp) / "pub"
        t0, c0 = time.perf_counter(), time.process_time()
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
        commitment = publish(
            book,
            folder,
            exchange="bench",
            snapshot_id="bench-1",
            snapshot_time="2024-01-01T00:00:00Z",
            max_pieces=args.split,
        )
        publish_s, publish_cpu = time.perf_counter() - t0, time.process_time() - c0
        if args.profile:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(18)
        publish_peak = peak_mib()
        tree_bytes = (folder / TREE_FILE).stat().st_size
        secrets_bytes = (folder / SECRETS_FILE).stat().st_size
        print(
            f"publish (build + write + fsync)  {publish_s:8.2f} s   cpu {publish_cpu:6.2f} s   "
            f"peak {publish_peak:6.0f} MiB   tree.bin {tree_bytes / 2**20:.0f} MiB, "
            f"secrets {secrets_bytes / 2**20:.0f} MiB"
        )

        t0 = time.perf_counter()
        sample = np.random.default_rng(2).choice(len(book.account_ids), size=args.proofs, replace=False)
        for i in sample.tolist():
            cut_proof(folder, book.account_ids[i])
        prove_s = (time.perf_counter() - t0) / max(args.proofs, 1)
        print(f"cut_proof, per proof (sample {args.proofs})  {prove_s * 1000:8.1f} ms")

        del book
        gc.collect()
        pre, expected = preimages(folder, len(commitment.assets))
    sha256 = hashlib.sha256
    t0, c0 = time.perf_counter(), time.process_time()
    digests = [sha256(p).digest() for p in pre]
    hash_s, hash_cpu = time.perf_counter() - t0, time.process_time() - c0
    assert digests == expected, "the baseline did not hash the tree's own preimages"
    print(
        f"hashlib alone: {len(pre):,} preimages ({leaf_total:,} leaves) "
        f"{hash_s:8.2f} s   cpu {hash_cpu:6.2f} s   ({hash_s / len(pre) * 1e9:.0f} ns each)"
    )
    print()
    print(f"ratio build_tree / hashlib  wall {build_s / hash_s:5.2f}   cpu {build_cpu / hash_cpu:5.2f}")
    print(
        f"ratio publish / hashlib     wall {publish_s / hash_s:5.2f}   cpu {publish_cpu / hash_cpu:5.2f}"
        f"   (targets: <= 3 issue 3, <= 2 issue 7)"
    )
    print(
        f"load average at the end     {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} cpus (wall ratios are only meaningful on an idle machine)"
    )
    print(
        f"peak memory through publish {publish_peak / 1024:5.2f} GiB (target <= 2 GiB); "
        f"whole run {peak_mib() / 1024:.2f} GiB (includes the baseline's materialised preimages)"
    )


if __name__ == "__main__":
    main()
