"""The whole commands as a user runs them, from the shell (issue 18 items 1 and 7), for `make bench`.

- `por publish CSV` at 1M accounts x 3 assets (reading, validation, start-up and every file
  included) against hashlib alone over the tree's own preimages (benchmarks/tree.py rebuilds
  them from the publication and checks them against it);
- `por prove DIR --all --out-dir D` (every proof, written to disk) against `por publish` of
  the same book, both from the shell, run alternately, best of R; CPU seconds are those of
  the command and its worker processes (RUSAGE_CHILDREN). Beside it, the disk's own rate for
  the same bytes (written and fsync'd), since a proof folder is ~25x the publication.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

POR = [sys.executable, "-m", "por"]


def shell(args: list[str], *, discard: bool = False) -> tuple[float, float]:
    """(wall s, CPU s of the command and everything it waited for) of one run; `discard`:
    stdout to /dev/null (not through a pipe into this process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.DEVNULL if discard else subprocess.PIPE
    done = subprocess.run(args, stdout=out, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-1500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return min(runs)


def disk_rate(folder: Path, size: int) -> float:
    """Bytes per second this disk takes `size` bytes at (written in 4 MiB blocks, then fsync)."""
    block = b"\x01" * (4 << 20)
    path = folder / "disk-rate.bin"
    started = time.perf_counter()
    with open(path, "wb") as handle:
        for _ in range(max(1, size // len(block))):
            handle.write(block)
        handle.flush()
        os.fsync(handle.fileno())
    seconds = time.perf_counter() - started
    path.unlink()
    return max(1, size // len(block)) * len(block) / seconds


def whole_publish_rows(tmp: Path, accounts: int, assets: int, repeat: int, baseline) -> list[tuple[str, ...]]:
    """`por publish CSV -o D` from the shell against hashlib over the same tree's preimages."""
    import gen_customers

    csv_path = gen_customers.write(tmp / f"whole-{accounts}x{assets}.csv", accounts, assets)
    out = tmp / "whole-pub"
    runs = []
    for _ in range(repeat):
        shutil.rmtree(out, ignore_errors=True)
        runs.append(shell([*POR, "publish", str(csv_path), "--exchange", "bench", "-o", str(out), "-q"]))
    wall, cpu = best(runs)
    from por.liabilities.porjson import parse_commitment
    from por.strictjson import load_file

    commitment = parse_commitment(load_file(out / "commitment.json"), "commitment.json")
    (hash_s, hash_cpu, count), _ = baseline(out, assets, accounts + commitment.leaf_count, repeat)
    shutil.rmtree(out, ignore_errors=True)
    csv_bytes = csv_path.stat().st_size
    csv_path.unlink()
    return [
        (
            f"`por publish CSV` from the shell, {accounts:,} x {assets} ({csv_bytes / 2**20:.0f} MiB of CSV: "
            "start-up, reading, validation, tree, every file)",
            f"{wall:.2f} s (CPU {cpu:.2f})",
            f"hashlib alone over the tree's {count:,} preimages: {hash_s:.2f} s (CPU {hash_cpu:.2f})",
            f"**{wall / hash_s:.2f}x** wall, **{cpu / hash_cpu:.2f}x** CPU (target <= 3x; publish uses every CPU, "
            "hashlib one)",
        )
    ]


def prove_all_rows(tmp: Path, accounts: int, assets: int, repeat: int) -> list[tuple[str, ...]]:
    """`por prove --all` (to disk) against `por publish` of the same book, alternately."""
    import gen_customers

    csv_path = gen_customers.write(tmp / f"prove-{accounts}x{assets}.csv", accounts, assets)
    pub, proofs = tmp / "prove-pub", tmp / "proofs"
    publish, prove = [], []
    for _ in range(repeat):
        shutil.rmtree(pub, ignore_errors=True)
        publish.append(shell([*POR, "publish", str(csv_path), "--exchange", "bench", "-o", str(pub), "-q"]))
        shutil.rmtree(proofs, ignore_errors=True)
        prove.append(shell([*POR, "prove", str(pub), "--all", "--out-dir", str(proofs), "-q"]))
    size = sum(p.stat().st_size for p in proofs.glob("proofs-*.jsonl"))
    shutil.rmtree(proofs, ignore_errors=True)
    streamed = best([shell([*POR, "prove", str(pub), "--all", "--out-dir", "-", "-q", "--jobs", "1"], discard=True)])
    rate = disk_rate(tmp, size)
    shutil.rmtree(pub, ignore_errors=True)
    csv_path.unlink()
    (p_wall, p_cpu), (a_wall, a_cpu) = best(publish), best(prove)
    return [
        (
            f"`por prove --all --out-dir D` from the shell, {accounts:,} x {assets} ({accounts:,} proofs, "
            f"{size / 2**30:.2f} GiB to disk, {size / accounts:,.0f} B each)",
            f"{a_wall:.2f} s (CPU {a_cpu:.2f}); {accounts / a_wall:,.0f} proofs/s",
            f"`por publish CSV` of the same book: {p_wall:.2f} s (CPU {p_cpu:.2f})",
            f"**{a_wall / p_wall:.2f}x** wall, **{a_cpu / p_cpu:.2f}x** CPU (target <= 2x)",
        ),
        (
            "  the same proofs to /dev/null (`--out-dir -`, one process; no disk), and the disk alone",
            f"{streamed[0]:.2f} s (CPU {streamed[1]:.2f})",
            f"this disk: {rate / 2**20:,.0f} MiB/s written and fsync'd, so {size / rate:.2f} s for those bytes",
            f"{streamed[1] / p_cpu:.2f}x publish's CPU",
        ),
    ]
