"""Habits the code keeps (issue 14): no function over 60 lines in por/ and chains/, found by
tools/longest_functions.py run with its own default (the whole of both packages).
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "longest_functions.py"


def run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(TOOL), *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_no_function_in_por_or_chains_is_over_60_lines():
    done = run()
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done.stdout + done.stderr


def test_the_default_is_the_whole_of_por_and_chains(tmp_path):
    """The tool with no paths reads both packages: a long function anywhere in them is found (run on a copy)."""
    import shutil

    copy = tmp_path / "tree"
    (copy / "tools").mkdir(parents=True)
    shutil.copy(TOOL, copy / "tools" / TOOL.name)
    for package in ("por", "chains"):
        (copy / package / "deep").mkdir(parents=True)
        body = "".join(f"    x{i} = {i}\n" for i in range(60))
        (copy / package / "deep" / "long.py").write_text(f"def too_long():\n{body}")
    done = subprocess.run(
        [sys.executable, str(copy / "tools" / TOOL.name)], cwd=copy, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert sorted(line.split(":")[0] for line in done.stdout.splitlines()) == [
        "chains/deep/long.py",
        "por/deep/long.py",
    ]


def test_the_tool_counts_from_def_to_the_last_line_and_names_methods_and_nested_functions(tmp_path):
    def body(indent: int) -> str:  # 59 lines: with its def, a function of 60
        return "\n".join(" " * indent + f"x{i} = {i}" for i in range(59)) + "\n"

    source = (
        "def at_limit():\n" + body(4) + "\n\n"  # lines 1-60
        "class Book:\n    @property\n    def over(self):\n" + body(8) + "        return 1\n\n\n"
        "def outer():\n    def inner():\n" + body(8) + "        return 2\n    return inner\n"
    )
    file = tmp_path / "long.py"
    file.write_text(source)
    done = run(file)
    assert done.returncode == 1, done.stdout + done.stderr
    found = done.stdout.splitlines()
    assert len(found) == 3, found
    assert found[0].endswith(": outer (63 lines)") and f"{file}:" in found[0]
    assert any(":65: Book.over (61 lines)" in line for line in found)  # the decorator is not counted
    assert any(": outer.<locals>.inner (61 lines)" in line for line in found)
    assert not any("at_limit" in line for line in found)
    assert run("--limit", "70", file).returncode == 0


def test_a_file_that_does_not_parse_is_an_error_not_a_pass(tmp_path):
    file = tmp_path / "broken.py"
    file.write_text("def f(:\n")
    done = run(file)
    assert done.returncode == 2 and "broken.py" in done.stderr
