"""Issue 13 finding: progress showed `2002/1000` and `400000/?`. On a real pseudo-terminal (where
the bars are drawn), reading the customers and verifying a tree count to a real total (the file's
rows, the tree's nodes), a count without one reads `12,345 nodes hashed`, and no fraction ever
passes its total."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from por.liabilities.tree import level_sizes


def on_a_terminal(*argv: object, cwd: Path) -> tuple[int, str]:
    """`python -m por ARGV` with stdout and stderr on a pseudo-terminal of 80 columns: (exit code, all it drew)."""
    main, child = pty.openpty()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("POR_DEBUG", "NO_COLOR")},
        "COLUMNS": "80",
        "TERM": "xterm",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "por", *map(str, argv)],
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=child,
        cwd=cwd,
        env=env,
        close_fds=True,
    )
    os.close(child)
    drawn = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the child closed its side
                break
            if not chunk:
                break
            drawn += chunk
        elif process.poll() is not None:
            break
    code = process.wait(timeout=60)
    os.close(main)
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn.decode("utf-8", "replace"))


def test_progress_counts_without_a_total_and_never_passes_one(tmp_path):
    rows = "".join(f"user{i},BTC,{i % 97}.5\nuser{i},ETH,1\n" for i in range(60_000))
    (tmp_path / "c.csv").write_text("account_id,asset,amount\n" + rows)
    code, drawn = on_a_terminal("publish", "c.csv", "--exchange", "Ex", "-o", "pub", cwd=tmp_path)
    assert code == 0, drawn
    code, more = on_a_terminal("verify-tree", "pub/tree.bin", "--commitment", "pub/commitment.json", cwd=tmp_path)
    assert code == 0, more
    drawn += more
    assert "/?" not in drawn and "Traceback" not in drawn
    for done, total in re.findall(r"\b(\d[\d,]*)/(\d[\d,]*)\b", drawn):
        assert int(done.replace(",", "")) <= int(total.replace(",", "")), (done, total)
    counted = r"building tree +\d{1,3}(,\d{3})+ nodes hashed"
    assert re.search(counted, drawn), drawn[-2000:]
    # 60,000 accounts x 2 rows; every record below the top of a 60,000-leaf tree
    assert re.search(r"reading customers\W+120000/120000\b", drawn), drawn[-2000:]
    nodes = sum(level_sizes(60_000)[:-1])
    assert re.search(rf"verifying tree\W+{nodes}/{nodes}\b", drawn), drawn[-2000:]


def test_a_total_that_was_an_upper_bound_grows_rather_than_overflows(tmp_path):
    """A blank line counts as a line but holds no row: the bar's total is then one more than the rows."""
    rows = "".join(f"user{i},BTC,1\n" for i in range(30_000))
    (tmp_path / "c.csv").write_text("account_id,asset,amount\n" + rows + "\n")
    code, drawn = on_a_terminal("publish", "c.csv", "--exchange", "Ex", "-o", "pub", cwd=tmp_path)
    assert code == 0, drawn
    fractions = re.findall(r"reading customers\W+(\d+)/(\d+)\b", drawn)
    assert fractions and {total for _, total in fractions} == {"30001"}, fractions
    assert all(int(done) <= int(total) for done, total in fractions)
