"""The layout of docs/architecture.md holds: no import circles, imports only point down, four wings over
a core of at most ten files, chain libraries only in chains/. Checked by the project's shared tool."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT.parent / "shared" / "tools" / "import_graph.py"


def test_import_graph_has_no_problem():
    if not TOOL.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{TOOL} is missing: CI lays shared/ beside the repository")
        pytest.skip("../shared/tools/import_graph.py is not beside this checkout")
    done = subprocess.run([sys.executable, str(TOOL)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 circles, 0 problems" in done.stdout


def test_the_wheel_ships_only_por_and_chains():
    """fixtures/ is test tooling (PyPI has distributions named `fixtures`): never a top-level package."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert sorted({name.split(".")[0] for name in include}) == ["chains", "por"]
