"""Every customer's proof vs publishing the book, and single lookups through the index (issue 18).

Not a test (minutes, gigabytes). Run:
    .venv/bin/python benchmarks/prove_all.py [--accounts 1000000] [--assets 5] [--dir DIR] [--sample N]
Through the shell, under GNU `/usr/bin/time -v`: `por publish` then `por prove DIR --all --out-dir D`
(written to disk; with --sample N only N proofs, for books whose proofs do not fit the disk), and
`por prove DIR ID` for random accounts (in-process lookup time and whole-command time). Prints a
markdown table with the load average beside every number (the machine is shared) and appends it to
benchmarks/PROVE_ALL.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
POR = [sys.executable, "-m", "por"]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(args: list[str]) -> tuple[float, float, int, str]:
    """(wall s, CPU s, peak RSS bytes, stdout) of one command under /usr/bin/time -v."""
    done = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    err = done.stderr
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1)) * 1024
    cpu = float(re.search(r"User time \(seconds\): ([\d.]+)", err).group(1)) + float(
        re.search(r"System time \(seconds\): ([\d.]+)", err).group(1)
    )
    clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", err).group(1)
    wall = sum(float(part) * 60**i for i, part in enumerate(reversed(clock.split(":"))))
    return wall, cpu, rss, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--assets", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/por-prove-all"))
    parser.add_argument("--sample", type=int, help="cut only N proofs (books whose proofs exceed the disk)")
    parser.add_argument("--lookups", type=int, default=30)
    parser.add_argument("--out", type=Path, default=HERE / "PROVE_ALL.md")
    args = parser.parse_args()
    import gen_customers

    work = args.dir
    work.mkdir(parents=True, exist_ok=True)
    customers = work / f"customers-{args.accounts}x{args.assets}.csv"
    if not customers.exists():
        gen_customers.write(customers, args.accounts, args.assets)
    pub, proofs = work / "pub", work / "proofs"
    shutil.rmtree(pub, ignore_errors=True)
    shutil.rmtree(proofs, ignore_errors=True)
    rows = []
    before = load()
    p_wall, p_cpu, p_rss, _ = timed([*POR, "publish", str(customers), "--exchange", "Ex", "-o", str(pub), "-q"])
    rows.append(("`por publish` (CSV in, every file out)", f"{p_wall:.1f} s", f"{p_cpu:.1f} s", p_rss, before, load()))
    before = load()
    sample = ["--sample", str(args.sample)] if args.sample else []
    a_wall, a_cpu, a_rss, _ = timed([*POR, "prove", str(pub), "--all", "--out-dir", str(proofs), "-q", *sample])
    manifest = json.loads((proofs / "manifest.json").read_text())
    count, size = manifest["proofs"], sum(p.stat().st_size for p in proofs.glob("proofs-*.jsonl"))
    rows.append(
        (
            f"`por prove --all` ({count:,} proofs to disk, {size / 2**30:.2f} GiB)",
            f"{a_wall:.1f} s",
            f"{a_cpu:.1f} s",
            a_rss,
            before,
            load(),
        )
    )
    shutil.rmtree(proofs, ignore_errors=True)
    ids = [f"user-{i:08d}" for i in random.Random(1).sample(range(args.accounts), args.lookups)]
    from por.liabilities.prove import cut_proof

    before = load()
    inside = []
    for account in ids:
        started = time.perf_counter()
        cut_proof(pub, account)
        inside.append(time.perf_counter() - started)
    shell = []
    for account in ids[:10]:
        started = time.perf_counter()
        subprocess.run([*POR, "prove", str(pub), account, "-o", str(work / "one.json"), "-q"], check=True)
        shell.append(time.perf_counter() - started)
    bare = []
    for _ in range(10):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - started)
    after = load()
    lines = [
        f"## {args.accounts:,} accounts x {args.assets} assets ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} CPUs shared with other engineers)",
        "",
        "| what | wall | CPU (user+sys) | peak RSS | load avg before | load avg after |",
        "|---|---|---|---|---|---|",
    ]
    for what, wall, cpu, rss, b, a in rows:
        lines.append(f"| {what} | {wall} | {cpu} | {rss / 2**30:.2f} GiB | {b} | {a} |")
    per = size / max(count, 1)
    lines += [
        "",
        f"- prove --all / publish: **{a_wall / p_wall:.2f}x** wall, **{a_cpu / p_cpu:.2f}x** CPU "
        f"(target <= 2x); {per:,.0f} bytes per proof; {count / a_wall:,.0f} proofs/s wall, "
        f"{count / a_cpu:,.0f} proofs/s per CPU second",
        f"- `cut_proof(DIR, ID)` through private/index.bin, in process: median "
        f"{statistics.median(inside) * 1000:.1f} ms, max {max(inside) * 1000:.1f} ms over {len(inside)} "
        f"random accounts (load {before} -> {after})",
        f"- `por prove DIR ID -o FILE` from the shell: median {statistics.median(shell) * 1000:.0f} ms; "
        f"bare `python -c pass`: median {statistics.median(bare) * 1000:.0f} ms (same run)",
        "",
    ]
    text = "\n".join(lines)
    with open(args.out, "a", encoding="utf-8") as handle:
        handle.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
