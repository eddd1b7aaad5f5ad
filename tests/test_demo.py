"""`por demo`, what `make demo` runs: the whole job on real local chains, as a user sees it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.nodes  # `por demo` starts real nodes

ROOT = Path(__file__).resolve().parent.parent


def run_demo(tmp_path, *extra):
    done = subprocess.run(
        [sys.executable, "-m", "por", "demo", "--out", str(tmp_path / "demo"), "--accounts", "200", *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert "Traceback" not in done.stdout + done.stderr
    return done


def test_demo_passes_and_names_every_report(tmp_path):
    done = run_demo(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    verdict = done.stdout.split("== verdict", 1)[1]
    for check in ("jp-fsa", "full-reserve", "history", "inclusion"):
        assert f"{check}" in verdict and "FAIL" not in verdict
    demo = tmp_path / "demo"
    for report in ("audit-jp-fsa.html", "audit-full-reserve.html", "history.html", "publication/verify.html"):
        assert (demo / report).stat().st_size > 1000
    audit = json.loads((demo / "audit-jp-fsa.json").read_text())
    assert audit["verdict"] == "pass" and audit["liabilities"]["tree_verified"] is True
    assert not (demo / "publication" / "private").stat().st_mode & 0o077  # secrets are not world-readable


def test_insolvent_demo_fails_with_reasons(tmp_path):
    done = run_demo(tmp_path, "--insolvent")
    assert done.returncode == 1
    assert "cold wallets hold" in done.stdout and "not matched by own coins" in done.stdout
    audit = json.loads((tmp_path / "demo" / "audit-jp-fsa.json").read_text())
    assert audit["verdict"] == "fail" and len(audit["reasons"]) >= 3
