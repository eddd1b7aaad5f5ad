"""A book of N accounts through the shell: `por publish`, `por verify-tree` and `por prove --all --sample K`
under GNU `/usr/bin/time -v` (peak RSS, wall, CPU), with the sizes of what they write.

Not a test (minutes to an hour, tens of gigabytes). Run:
    .venv/bin/python benchmarks/scale.py --accounts 100000000 [--assets 5] [--format parquet]
        [--customers FILE] [--dir DIR] [--sample 20000] [--jobs N] [--max-memory GIB] [--dask local]
        [--steps publish,verify,prove] [--keep]
The customers file is generated in blocks by benchmarks/gen_customers.py (never whole in memory),
unless --customers names one. At 10M a proof for everyone is ~60 GB and at 100M ~600 GB, more than
this disk: `prove --all --sample K` cuts K proofs in the streaming pass, and bytes per proof and
proofs per second are measured on those. Checks publish <= 8 GiB peak RSS (issue 18), verify-tree
<= 1 GiB, and replaces the section for N accounts in benchmarks/SCALE.md. Run it with `nice` on a
shared machine, and check `df` first: 100M x 5 needs ~55 GB free (scale.md).
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


def timed(args: list[str]) -> dict:
    """Wall s, CPU s (user + system), peak RSS bytes and stdout of one command under /usr/bin/time -v."""
    done = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stdout[-500:]}{done.stderr[-2000:]}")

    def number(label: str) -> float:
        return float(re.search(rf"{re.escape(label)}: ([\d.:]+)", done.stderr).group(1).split(":")[-1])

    clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr).group(1)
    wall = sum(float(part) * 60**i for i, part in enumerate(reversed(clock.split(":"))))
    return {
        "wall": wall,
        "cpu": number("User time (seconds)") + number("System time (seconds)"),
        "rss": int(number("Maximum resident set size (kbytes)")) * 1024,
        "out": done.stdout,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000_000)
    parser.add_argument("--assets", type=int, default=5)
    parser.add_argument("--format", default="csv", choices=("csv", "parquet"))
    parser.add_argument("--customers", type=Path, help="an existing customers file (skips generating one)")
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one, removed after)")
    parser.add_argument("--sample", type=int, default=20_000, help="proofs cut by `prove --all --sample`")
    parser.add_argument("--jobs", type=int, help="`publish --jobs`")
    parser.add_argument("--max-memory", help="`publish --max-memory GIB`")
    parser.add_argument("--dask", help="publish with --dask ADDRESS (e.g. local) instead")
    parser.add_argument("--steps", default="publish,verify,prove")
    parser.add_argument("--keep", action="store_true", help="keep the publication")
    parser.add_argument("--out", type=Path, default=HERE / "SCALE.md")
    args = parser.parse_args()
    if not Path("/usr/bin/time").exists():
        raise SystemExit("needs GNU time: apt-get install time")
    work = args.dir or Path(tempfile.mkdtemp(prefix="por-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    customers = args.customers or work / f"customers-{args.accounts}.{args.format}"
    if not customers.exists():
        import gen_customers

        print(f"generating {args.accounts:,} accounts x {args.assets} assets -> {customers}", flush=True)
        started = time.perf_counter()
        gen_customers.write(customers, args.accounts, args.assets)
        print(f"  {time.perf_counter() - started:.0f} s", flush=True)
    load = os.getloadavg()
    try:
        rows = run_steps(work, customers, args)
    finally:
        if not args.keep:
            shutil.rmtree(work / "pub", ignore_errors=True)
            shutil.rmtree(work / "proofs", ignore_errors=True)
            if args.dir is None:
                shutil.rmtree(work, ignore_errors=True)
    write(args.out, args, customers, rows, load)


def run_steps(work: Path, customers: Path, args) -> list[tuple]:
    rows = Rows()
    pub = work / "pub"
    steps = args.steps.split(",")
    if "publish" in steps:
        shutil.rmtree(pub, ignore_errors=True)
        command = [POR, "publish", str(customers), "--exchange", "Ex", "--out", str(pub), "--snapshot-id", "scale-1"]
        command += ["--jobs", str(args.jobs)] if args.jobs else []
        command += ["--max-memory", args.max_memory] if args.max_memory else []
        command += ["--dask", args.dask] if args.dask else []
        print(" ".join(command[1:]), flush=True)
        run = timed(command)
        tree = (pub / "tree.bin").stat().st_size
        secrets = (pub / "private" / "secrets.jsonl").stat().st_size
        phases = re.search(r"wall time .*", run["out"]).group(0)
        what = f"`por publish` {customers.suffix[1:].upper()} {customers.stat().st_size / GIB:.2f} GiB"
        rows.append((what, run, 8 * GIB, f"{phases}; tree.bin {tree / GIB:.2f} GiB, secrets {secrets / GIB:.2f} GiB"))
    if "verify" in steps:
        print("verify-tree ...", flush=True)
        run = timed([POR, "verify-tree", str(pub / "tree.bin"), "--commitment", str(pub / "commitment.json")])
        assert "VERIFIED" in run["out"], run["out"]
        speed = (pub / "tree.bin").stat().st_size / GIB / run["wall"]
        rows.append(("`por verify-tree --commitment`", run, GIB, f"{speed * 1024:.0f} MiB/s of tree.bin"))
    if "prove" in steps:
        proofs = work / "proofs"
        shutil.rmtree(proofs, ignore_errors=True)
        print(f"prove --all --sample {args.sample} ...", flush=True)
        run = timed([POR, "prove", str(pub), "--all", "--sample", str(args.sample), "--out-dir", str(proofs), "-q"])
        size = sum(p.stat().st_size for p in proofs.glob("*.jsonl"))
        lines = sum(1 for p in proofs.glob("*.jsonl") for _ in open(p, "rb"))
        note = f"{lines:,} proofs, {size / max(lines, 1):,.0f} bytes per proof, "
        note += f"{lines / run['wall']:,.0f} proofs per second (wall), {lines / run['cpu']:,.0f} per CPU second"
        rows.append((f"`por prove --all --sample {args.sample}`", run, None, note))
    return rows


class Rows(list):
    """The rows of the table, each printed as soon as its step ends (a long run that dies later keeps it)."""

    def append(self, row: tuple) -> None:
        super().append(row)
        what, run, _, note = row
        print(
            f"  {what}: wall {run['wall']:.1f} s, CPU {run['cpu']:.1f} s, peak RSS {run['rss'] / GIB:.2f} GiB; {note}"
        )
        print(f"  load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


def write(path: Path, args, customers: Path, rows, load) -> None:
    cpu = next(
        (
            x.split(":", 1)[1].strip()
            for x in Path("/proc/cpuinfo").read_text().splitlines()
            if x.startswith("model name")
        ),
        "?",
    )
    mem = next(int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
    title = f"## {args.accounts:,} accounts x {args.assets} assets"
    lines = [
        f"{title} (benchmarks/scale.py, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"{os.cpu_count()} CPUs ({cpu}), {mem / 2**20:.1f} GiB RAM, Python {sys.version.split()[0]}; load average "
        f"{' '.join(f'{x:.2f}' for x in load)} at the start, {' '.join(f'{x:.2f}' for x in os.getloadavg())} at "
        f"the end (the machine is shared). {customers.name}; options: jobs {args.jobs or 'default'}, "
        f"max-memory {args.max_memory or 'default'}{', dask ' + args.dask if args.dask else ''}. "
        "Wall, CPU (user + system) and peak resident memory of the largest process from `/usr/bin/time -v`.",
        "",
        "| command | wall | CPU | peak RSS | limit | notes |",
        "|---|---|---|---|---|---|",
    ]
    for what, run, limit, note in rows:
        verdict = "" if limit is None else f"<= {limit / GIB:.0f} GiB: {'met' if run['rss'] <= limit else 'NOT MET'}"
        lines.append(
            f"| {what} | {run['wall']:.1f} s | {run['cpu']:.1f} s | {run['rss'] / GIB:.2f} GiB | {verdict} | {note} |"
        )
    section = "\n".join(lines) + "\n"
    print(section)
    old = path.read_text() if path.exists() else ""
    kept = [part for part in re.split(r"(?m)^(?=## )", old) if part.strip() and not part.startswith(title + " ")]
    path.write_text("".join(p if p.endswith("\n\n") else p.rstrip("\n") + "\n\n" for p in kept) + section)


if __name__ == "__main__":
    main()
