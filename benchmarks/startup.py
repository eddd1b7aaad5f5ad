"""Start-up of the customer's command (issue 18 item 5), for `make bench`: `por verify-inclusion`
from the shell against a bare `python -c pass`, the two run alternately so load moves both alike;
and the support desk's `por prove DIR ID` (item 1: <= 50 ms), the same way.

- por's bytecode is compiled first, as `pip install` compiles it: this machine sets
  PYTHONDONTWRITEBYTECODE, and without .pyc files every run would compile por from source;
- piped (stdout to a pipe, as a script or `| less` runs it: por.cli.plain, no rich) and on a
  terminal (a pty: rich's console, colours), each with --commitment, --signer and --root.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POR = str(Path(sys.executable).with_name("por"))
RUNS = 21


def compile_por() -> None:
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "por")], check=True, capture_output=True)


def _once(args: list[str], tty: bool) -> float:
    if not tty:
        started = time.perf_counter()
        done = subprocess.run(args, capture_output=True)
        elapsed = time.perf_counter() - started
    else:
        leader, follower = os.openpty()
        started = time.perf_counter()
        done = subprocess.run(args, stdin=follower, stdout=follower, stderr=follower)
        elapsed = time.perf_counter() - started
        os.close(follower)
        os.close(leader)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode})")
    return elapsed * 1000


def alternating(command: list[str], *, tty: bool, runs: int = RUNS) -> tuple[float, float]:
    """(median ms of `command`, median ms of a bare interpreter), run in turn."""
    ours, bare = [], []
    for _ in range(runs):
        ours.append(_once(command, tty))
        bare.append(_once([sys.executable, "-c", "pass"], tty))
    return statistics.median(ours), statistics.median(bare)


def startup_rows(proof: Path, commitment: Path, root_hex: str, signer: str | None) -> list[tuple[str, str, str, str]]:
    compile_por()
    shapes = [("--commitment FILE", ["--commitment", str(commitment)])]
    if signer:
        shapes.append(("--commitment FILE --signer ADDRESS", ["--commitment", str(commitment), "--signer", signer]))
    shapes.append(("--root HEX", ["--root", root_hex]))
    rows = []
    for tty in (False, True):
        for label, extra in shapes:
            ours, bare = alternating([POR, "verify-inclusion", str(proof), *extra], tty=tty)
            rows.append(
                (
                    f"start-up: `por verify-inclusion PROOF {label}`, {'on a terminal (pty)' if tty else 'piped'}, "
                    f"against a bare `python -c pass` ({RUNS} runs each, alternating)",
                    f"{ours:.0f} ms median",
                    f"{bare:.0f} ms median",
                    f"**{ours / bare:.1f}x** (target <= 3x)",
                )
            )
    account = json.loads(proof.read_text(encoding="utf-8"))["account_id"]
    out = proof.with_name("startup-prove.json")
    ours, bare = alternating([POR, "prove", str(commitment.parent), account, "-o", str(out), "-q"], tty=False)
    rows.append(
        (
            f"`por prove DIR ID -o FILE` from the shell (through private/index.bin), against a bare "
            f"`python -c pass` ({RUNS} runs each, alternating)",
            f"{ours:.0f} ms median",
            f"{bare:.0f} ms median",
            f"**{ours:.0f} ms**, {ours / bare:.1f}x the bare interpreter (target <= 50 ms: "
            f"{'met' if ours <= 50 else 'missed'})",
        )
    )
    return rows
