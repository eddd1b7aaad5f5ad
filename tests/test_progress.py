"""Issue 13 finding: progress showed `2002/1000` and `400000/?`. On a real pseudo-terminal (where
the bars are drawn), reading the customers and verifying a tree count to a real total (the file's
rows, the tree's nodes), a count without one reads `12,345 nodes hashed`, and no fraction ever
passes its total."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from por.amounts import AssetTable
from por.liabilities import external
from por.liabilities.ingest import load_customers
from por.liabilities.publish import publish
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
    # 60,000 accounts x 2 rows; the tree's records (every level, padding included); all below its top
    assert re.search(r"reading customers\W+120,000/120,000\b", drawn), drawn[-2000:]
    records = f"{sum(level_sizes(60_000)):,}"
    assert re.search(rf"building tree\W+{records}/{records}\b", drawn), drawn[-2000:]
    nodes = f"{sum(level_sizes(60_000)[:-1]):,}"
    assert re.search(rf"verifying tree\W+{nodes}/{nodes}\b", drawn), drawn[-2000:]


def test_a_total_that_was_an_upper_bound_grows_rather_than_overflows(tmp_path):
    """A blank line counts as a line but holds no row: the bar's total is then one more than the rows."""
    rows = "".join(f"user{i},BTC,1\n" for i in range(30_000))
    (tmp_path / "c.csv").write_text("account_id,asset,amount\n" + rows + "\n")
    code, drawn = on_a_terminal("publish", "c.csv", "--exchange", "Ex", "-o", "pub", cwd=tmp_path)
    assert code == 0, drawn
    fractions = re.findall(r"reading customers\W+([\d,]+)/([\d,]+)\b", drawn)
    assert fractions and {total for _, total in fractions} == {"30,001"}, fractions
    assert all(int(done.replace(",", "")) <= int(total.replace(",", "")) for done, total in fractions)


@pytest.mark.parametrize("accounts", [1, 2, 3, 1000, 4097, 9001])
@pytest.mark.parametrize(
    "build", ["one process", "two processes", "split", "split, two processes", "on disk", "on disk, two processes"]
)
def test_every_build_counts_exactly_the_records_it_announces(tmp_path, accounts, build):
    """The building bar's total (publish's `expect`) is what every build path then counts."""
    customers = tmp_path / "c.csv"
    customers.write_text(
        "account_id,asset,amount\n" + "".join(f"u{i},BTC,{i % 7}.5\nu{i},ETH,1\n" for i in range(accounts))
    )
    counted, expected = [], []
    jobs = 2 if "two" in build else 1
    with contextlib.ExitStack() as stack:
        if "disk" in build:
            book = stack.enter_context(external.spilled(customers, AssetTable(), tmp_path / "pub", 1 << 16))
            assert isinstance(book, external.SpilledBook)
        else:
            book = load_customers(customers)
        commitment = publish(
            book,
            tmp_path / "pub",
            exchange="E",
            snapshot_id="s",
            max_pieces=3 if "split" in build else 1,
            jobs=jobs,
            progress=counted.append,
            expect=expected.append,
        )
    assert expected == [sum(level_sizes(commitment.leaf_count))]
    assert sum(counted) == expected[0]
