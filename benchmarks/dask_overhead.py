"""The Dask build measured against `--jobs` (issue 18 item 6): per-block overhead, same bytes.

    .venv/bin/python benchmarks/dask_overhead.py [--accounts 500000] [--assets 5] [--blocks 8,64]

One book, one fixed shuffle; each run best of --repeat by CPU seconds of everything taking part
(this process, the --jobs children, the Dask workers: on a shared machine wall time is noise):
- `publish(jobs=2)`: forked worker processes (por/liabilities/parallel.py), no Dask;
- `publish(dask=...)` on a LocalCluster of 2 worker processes, 1 thread each, each pinned to
  its own core (os.sched_setaffinity), as separate machines' workers would be;
each with about B blocks per worker for every B in --blocks. The per-block overhead of a kind is
the CPU slope between the fewest and the most blocks; Dask's cost over
`--jobs` at the same blocks is (CPU(dask) - CPU(jobs)) / blocks. Also the bytes a block moves
(inputs scattered, levels returned). Every run's tree.bin must have the same SHA-256.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def cpu_now(client=None) -> float:
    """CPU seconds of this process, its reaped children (--jobs workers) and, with `client`, every Dask worker."""
    times = os.times()
    total = times.user + times.system + times.children_user + times.children_system
    if client is not None:
        total += sum(client.run(_worker_cpu).values())
    return total


def _worker_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def best_of(repeat: int, run, client=None):
    """(wall, CPU of everything taking part, result) of the run with the least CPU."""
    best = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), cpu_now(client)
        result = run()
        got = (time.perf_counter() - wall, cpu_now(client) - cpu, result)
        best = got if best is None or got[1] < best[1] else best
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=500_000)
    parser.add_argument("--assets", type=int, default=5)
    parser.add_argument("--blocks", default="8,64", help="blocks per worker to try")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    import gen_customers
    from dask.distributed import LocalCluster

    from por.liabilities import distributed, parallel
    from por.liabilities.build import block_height
    from por.liabilities.ingest import load_customers
    from por.liabilities.publish import fixed_shuffle, publish

    tmp = Path(tempfile.mkdtemp(prefix="por-dask-"))
    try:
        book = load_customers(gen_customers.write(tmp / "c.csv", args.accounts, args.assets))
        shuffle = fixed_shuffle(book)
        snapshot = dict(exchange="bench", snapshot_id="b1", snapshot_time="2024-01-01T00:00:00Z", shuffle=shuffle)

        def run(**kwargs):
            shutil.rmtree(tmp / "pub", ignore_errors=True)
            return publish(book, tmp / "pub", **snapshot, **kwargs).tree_sha256

        load = os.getloadavg()
        results = {}
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster:
            from dask.distributed import Client

            with Client(cluster) as client:
                for number, worker in enumerate(sorted(client.scheduler_info()["workers"])):
                    client.run(os.sched_setaffinity, 0, {number % (os.cpu_count() or 1)}, workers=[worker])
                for per_worker in map(int, args.blocks.split(",")):
                    parallel.BLOCKS_PER_JOB = distributed.BLOCKS_PER_WORKER = per_worker
                    blocks = -(-args.accounts // (1 << block_height(args.accounts, per_worker * 2)))
                    results[("jobs", blocks)] = best_of(args.repeat, lambda: run(jobs=2))
                    results[("dask", blocks)] = best_of(
                        args.repeat, lambda: run(dask=cluster.scheduler_address), client
                    )
                results[("one", 0)] = best_of(args.repeat, lambda: run(jobs=1))
        report(args, book, results, load)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(args, book, results, load) -> None:
    from por.liabilities.tree import record_size

    one = results.pop(("one", 0))
    digests = {digest for _, _, digest in results.values()} | {one[2]}
    width = record_size(len(book.assets))
    print(
        f"{args.accounts:,} accounts x {args.assets} assets, 2 worker processes (1 thread, 1 core each); "
        f"load {' '.join(f'{x:.2f}' for x in load)} -> {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"same tree.bin sha256 in every run: {len(digests) == 1}; CPU = this process + --jobs children + "
        f"Dask workers; one process (--jobs 1): {one[0]:.2f} s wall, {one[1]:.2f} s CPU"
    )
    counts = sorted({blocks for _, blocks in results})
    for blocks in counts:
        jobs, dask = results[("jobs", blocks)], results[("dask", blocks)]
        leaves = args.accounts / blocks
        moved = leaves * (32 + 8 + 16 * args.assets + 16) + 2 * leaves * width  # ids ~16 B, nonces, limbs; levels
        print(
            f"  {blocks} blocks ({leaves:,.0f} leaves, ~{moved / 2**20:.1f} MiB moved per Dask block): "
            f"--jobs 2 {jobs[0]:.2f} s wall, {jobs[1]:.2f} s CPU; Dask {dask[0]:.2f} s wall, {dask[1]:.2f} s CPU; "
            f"Dask over --jobs: {(dask[1] - jobs[1]) * 1000 / blocks:.1f} ms CPU per block"
        )
    low, high = counts[0], counts[-1]
    for kind in ("jobs", "dask"):
        slope = (results[(kind, high)][1] - results[(kind, low)][1]) / (high - low)
        print(f"  per-block overhead of {kind} (CPU slope {low} -> {high} blocks): {slope * 1000:.1f} ms")


if __name__ == "__main__":
    main()
