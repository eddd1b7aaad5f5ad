"""`make bench` runs end to end: every section of benchmarks/run.py, at a size the suite can afford.

Not a timing test (no number is asserted): it fails when the benchmark itself breaks, as it did when
an option was declared twice and `make bench` stopped before measuring anything.
"""

from __future__ import annotations

import re
import subprocess
import sys

from fixtures.terminal import ROOT

SECTIONS = (
    "publish 3,000 x 2",
    "verify-tree with --commitment",
    "the physical limit",
    "start-up",
    "start-up: `por verify-inclusion PROOF --commitment FILE --signer",
    "start-up: `por verify-inclusion PROOF --root HEX`, on a terminal",
    "`por prove DIR ID -o FILE` from the shell",
    "publish --jobs",
    "`por publish CSV` from the shell, 3,000 x 3",
    "`por prove --all --out-dir D` from the shell, 1,000 x 5",
    "publish on Dask",
)


def test_make_bench_measures_every_section_and_writes_its_results(tmp_path):
    out = tmp_path / "RESULTS.md"
    small = ["--accounts", "3000", "--assets", "2", "--whole-accounts", "3000", "--prove-accounts", "1000"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), *small, "--repeat", "1", "--no-reserves", "--out", out],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    ratios = done.stdout.split("ratios of this run:", 1)[1]
    for section in SECTIONS:
        assert re.search(r"\d[\d.]*(x| ms)\b.*<- " + re.escape(section[:60]), ratios), (section, ratios)
    written = out.read_text()
    assert written.startswith("# Benchmark results") and "| publish 3,000 x 2" in written
