"""Issue 13 finding: progress showed `2002/1000` and `400000/?`. On a real pseudo-terminal (where
the bars are drawn), a count without a total reads `12,345 rows`, and no fraction ever passes its total."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path


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
    counted = r"(reading customers|building tree|verifying tree) +\d{1,3}(,\d{3})+ (rows|nodes)"
    assert re.search(counted, drawn), drawn[-2000:]
