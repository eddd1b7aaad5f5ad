"""10M accounts in bounded memory: `por publish` and `por verify-tree` under GNU `/usr/bin/time -v`.

Not a test (minutes, gigabytes). Run:
    .venv/bin/python benchmarks/scale.py [--accounts 10000000] [--assets 5] [--format csv,parquet]
                                         [--dir DIR] [--dask local] [--keep]
It generates the customers file with benchmarks/gen_customers.py, runs the commands as a user
would (`por publish`, `por verify-tree --commitment`, `por prove`, `por verify-inclusion`), reads
wall time and peak resident memory from GNU time, checks the limits (publish <= 4 GiB,
verify-tree <= 1 GiB) and writes benchmarks/SCALE.md, which benchmarks/run.py copies into
RESULTS.md. Needs GNU time: `apt-get install time`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
POR = str(Path(sys.executable).with_name("por"))
GIB = 1 << 30


def timed(args: list[str]) -> tuple[float, int, str]:
    """(wall s, peak RSS bytes, stdout) of one command under /usr/bin/time -v."""
    done = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stdout[-500:]}{done.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1)) * 1024
    clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr).group(1)
    wall = sum(float(part) * 60**i for i, part in enumerate(reversed(clock.split(":"))))
    return wall, rss, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000_000)
    parser.add_argument("--assets", type=int, default=5)
    parser.add_argument("--format", default="csv", help="csv, parquet, or both: csv,parquet")
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one, removed after)")
    parser.add_argument("--dask", help="also publish with --dask ADDRESS (e.g. local)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--out", type=Path, default=HERE / "SCALE.md")
    args = parser.parse_args()
    if not Path("/usr/bin/time").exists():
        raise SystemExit("needs GNU time: apt-get install time")

    import gen_customers

    formats = args.format.split(",")
    if not set(formats) <= {"csv", "parquet"}:
        raise SystemExit("--format: csv, parquet or csv,parquet")
    work = args.dir or Path(tempfile.mkdtemp(prefix="por-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for number, kind in enumerate(formats):
            customers = work / f"customers.{kind}"
            if not customers.exists():
                print(f"generating {args.accounts:,} accounts x {args.assets} assets -> {customers}", flush=True)
                gen_customers.write(customers, args.accounts, args.assets)
            rows += run_commands(work, customers, args, full=number == 0)
    finally:
        if not args.keep:  # with --dir, the generated customers files stay for the next run
            shutil.rmtree(work if args.dir is None else work / "pub", ignore_errors=True)
    write(args.out, args, rows)


def run_commands(work: Path, customers: Path, args, full: bool) -> list:
    rows = []
    size = customers.stat().st_size / 2**20
    kind = customers.suffix[1:].upper()
    pub = work / "pub"
    shutil.rmtree(pub, ignore_errors=True)
    print(f"por publish {customers.name} ...", flush=True)
    wall, rss, out = timed(
        [POR, "publish", str(customers), "--exchange", "Ex", "--out", str(pub), "--snapshot-id", "scale-1"]
    )
    phases = re.search(r"wall time .*", out).group(0)
    tree_size = (pub / "tree.bin").stat().st_size / 2**30
    secrets_size = (pub / "private" / "secrets.jsonl").stat().st_size / 2**30
    rows.append(
        (
            f"`por publish` {kind} ({size:,.0f} MiB) -> tree.bin {tree_size:.2f} GiB, secrets {secrets_size:.2f} GiB",
            f"{wall:.1f} s ({phases})",
            rss,
            4 * GIB,
        )
    )
    if args.dask and full:
        shutil.rmtree(work / "pub-dask", ignore_errors=True)
        print(f"por publish --dask {args.dask} ...", flush=True)
        d_wall, d_rss, d_out = timed(
            [
                POR,
                "publish",
                str(customers),
                "--exchange",
                "Ex",
                "--out",
                str(work / "pub-dask"),
                "--snapshot-id",
                "scale-1",
                "--dask",
                args.dask,
            ]
        )
        rows.append(
            (
                f"`por publish --dask {args.dask}` {kind} (peak of the client process)",
                f"{d_wall:.1f} s ({re.search(r'wall time .*', d_out).group(0)})",
                d_rss,
                4 * GIB,
            )
        )
        shutil.rmtree(work / "pub-dask", ignore_errors=True)
    if not full:
        return rows
    print("por verify-tree ...", flush=True)
    wall, rss, out = timed([POR, "verify-tree", str(pub / "tree.bin"), "--commitment", str(pub / "commitment.json")])
    assert "VERIFIED" in out, out
    rows.append(
        (
            "`por verify-tree tree.bin --commitment commitment.json`",
            f"{wall:.1f} s ({tree_size * 1024 / wall:.0f} MiB/s)",
            rss,
            GIB,
        )
    )
    account = f"user-{args.accounts - 1:08d}"  # the last line of the secrets file
    wall, rss, _ = timed([POR, "prove", str(pub), account, "--out", str(work / "proof.json")])
    rows.append((f"`por prove` (last account of {args.accounts:,})", f"{wall:.2f} s", rss, None))
    wall, rss, _ = timed(
        [POR, "verify-inclusion", str(work / "proof.json"), "--commitment", str(pub / "commitment.json")]
    )
    rows.append(("`por verify-inclusion` of that proof", f"{wall:.2f} s", rss, None))
    return rows


def write(path: Path, args, rows) -> None:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    mem = (
        int(
            next(
                line.split()[1]
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            )
        )
        / 2**20
    )
    lines = [
        f"## {args.accounts:,} accounts x {args.assets} assets (benchmarks/scale.py, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"{os.cpu_count()} CPUs ({cpu}), {mem:.1f} GiB RAM, Python {sys.version.split()[0]}; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end. "
        "Wall time and peak resident memory from `/usr/bin/time -v`.",
        "",
        "| command | wall time | peak memory (max RSS) | limit |",
        "|---|---|---|---|",
    ]
    for what, wall, rss, limit in rows:
        verdict = "" if limit is None else (f"<= {limit / GIB:.0f} GiB: {'met' if rss <= limit else 'NOT MET'}")
        lines.append(f"| {what} | {wall} | {rss / GIB:.2f} GiB | {verdict} |")
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
