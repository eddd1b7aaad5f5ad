"""cProfile of read -> publish -> verify-tree, to see where the time goes.

Not a test. Run:
    .venv/bin/python benchmarks/cpu_profile.py CUSTOMERS.csv [--top 15] [--code DIR]
`--code DIR` profiles another checkout of por (e.g. `git archive a2cc414 | tar -x -C /tmp/before`),
which is how docs/scale.md compares before and after on the same machine and file.
Prints wall time per step (unprofiled, then profiled) and the top functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("customers", type=Path)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--code", type=Path, help="a por checkout to import instead of this one")
    args = parser.parse_args()
    sys.path.insert(0, str(args.code.resolve() if args.code else Path(__file__).resolve().parents[1]))

    from por.liabilities.ingest import load_customers
    from por.liabilities.publish import publish
    from por.liabilities.treefile import verify_tree_file

    print(f"por from {sys.modules['por'].__file__}")
    tmp = Path(tempfile.mkdtemp(prefix="por-profile-"))
    try:
        for profiled in (False, True):

            def step(name, run, profiled=profiled):
                profiler = cProfile.Profile() if profiled else None
                started = time.perf_counter()
                if profiler:
                    profiler.enable()
                result = run()
                if profiler:
                    profiler.disable()
                print(f"{'profiled ' if profiled else ''}{name}: {time.perf_counter() - started:.2f} s")
                if profiler:
                    text = io.StringIO()
                    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(args.top)
                    print("\n".join(line for line in text.getvalue().splitlines()[4:] if line.strip()))
                return result

            book = step("read", lambda: load_customers(args.customers))
            step("publish", lambda book=book: publish(book, tmp / "pub", exchange="x", snapshot_id="s", force=True))
            step("verify-tree", lambda: verify_tree_file(tmp / "pub" / "tree.bin"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
