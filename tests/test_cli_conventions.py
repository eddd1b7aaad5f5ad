"""The conventions of tools people already trust, checked through a child process as a user runs them.

- every parse mistake is one line `por: usage: WHAT — try 'por CMD --help'`, exit 2, never
  "internal error" (typer raises its own copy of click's exceptions);
- `--version`, `-h`, completion, `-q`, `-j` / `--json-out`, clean metavars, one example per command;
- a folder that is not a publication is bad input (exit 2) for `por history`;
- `publish --exchange` is required and `--snapshot-time` is ISO 8601 UTC;
- the help is the same in a real 80-column terminal.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from fixtures.liabilities import run_por_process
from fixtures.terminal import ROOT, run_in_terminal

COMMANDS = ("publish", "prove", "verify-inclusion", "verify-tree", "reserves", "audit", "history", "demo")


def usage_line(err: str, command: str) -> None:
    assert err.count("\n") == 1 and err.startswith("por: usage: "), err
    assert err.rstrip().endswith(f"— try '{command} --help'"), err
    assert "internal error" not in err and "Traceback" not in err and "Error" not in err, err


@pytest.fixture(scope="module")
def publication(tmp_path_factory):
    folder = tmp_path_factory.mktemp("conv")
    customers = folder / "customers.csv"
    customers.write_text("account_id,asset,amount\nalice,BTC,1.5\nbob,BTC,2\nbob,ETH,1234567.123456789012345678\n")
    code, _, err = run_por_process(
        "publish",
        customers,
        "--exchange",
        "Conv Exchange",
        "-o",
        folder / "pub",
        "--snapshot-id",
        "s1",
        "--snapshot-time",
        "2024-06-01T00:00:00Z",
        "-q",
    )
    assert code == 0, err
    return folder


@pytest.mark.parametrize(
    "argv, command",
    [
        ([], "por"),
        (["verify-tre"], "por"),
        (["--no-such-flag"], "por"),
        (["publish"], "por publish"),
        (["publish", "c.csv", "--out"], "por publish"),
        (["publish", "c.csv", "-o", "x"], "por publish"),  # --exchange is required
        (["prove", "pub"], "por prove"),
        (["verify-inclusion"], "por verify-inclusion"),
        (["verify-inclusion", "p.json", "--format", "nope"], "por verify-inclusion"),
        (["verify-tree", "t", "--nope"], "por verify-tree"),
        (["publish", "c.csv", "-o", "x", "--exchange", "E", "--split", "two"], "por publish"),
        (["demo", "--accounts", "0"], "por demo"),
        (["audit", "--commitment", "c"], "por audit"),
        (["history"], "por history"),
        (["reserves", "w.csv"], "por reserves"),
    ],
)
def test_every_parse_mistake_is_one_usage_line(tmp_path, argv, command):
    code, out, err = run_por_process(*argv, cwd=tmp_path)
    assert code == 2 and out == "", (argv, out)
    usage_line(err, command)


def test_a_mistyped_command_says_what_was_meant(tmp_path):
    code, _, err = run_por_process("verify-tre", cwd=tmp_path)
    assert code == 2 and "did you mean 'verify-tree'" in err.lower()
    code, _, err = run_por_process(cwd=tmp_path)
    assert code == 2 and all(name in err for name in COMMANDS)


def test_version_and_short_help():
    from por import __version__

    code, out, err = run_por_process("--version")
    assert (code, out, err) == (0, f"por {__version__}\n", "")
    for argv in (["-h"], ["--help"], *([c, "-h"] for c in COMMANDS)):
        code, out, err = run_por_process(*argv)
        assert code == 0 and err == "" and out.startswith("usage: por"), argv


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_clean_metavars_and_one_example(command):
    code, out, _ = run_por_process(command, "--help")
    assert code == 0
    assert not re.search(r"<\w[^>]*>", out), out  # no <bool>, <str>, <path>, <list[Path]>
    assert "--no-force" not in out and "[default: False]" not in out
    example = out.split("\nExample:\n", 1)[1]
    assert example.lstrip().startswith(f"por {command}"), out


def test_short_flags_are_the_common_ones():
    helps = {c: run_por_process(c, "--help")[1] for c in COMMANDS}
    assert "-o, --out DIR" in helps["publish"] and "-o, --out FILE" in helps["prove"]
    for command in ("verify-inclusion", "verify-tree", "reserves", "audit", "history"):
        assert "-j, --json" in helps[command] and "-q, --quiet" in helps[command], command
    assert "--json-out FILE" in helps["audit"] and "--html FILE" in helps["audit"]


def test_help_fits_an_80_column_terminal():
    code, text = run_in_terminal("publish", "--help", columns=80)
    assert code == 0
    long = [line for line in text.splitlines() if len(line) > 80]
    assert not long, long
    assert "Example:" in text and "por publish customers.csv" in text


def test_completion_installs_and_completes(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), "SHELL": "/bin/bash", "PYTHONPATH": str(ROOT)}
    env.pop("POR_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "por", "--install-completion", "bash"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    installed = "\n".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert "_POR_COMPLETE" in installed
    complete = subprocess.run(
        [sys.executable, "-m", "por"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "_POR_COMPLETE": "complete_bash", "COMP_WORDS": "por verify-", "COMP_CWORD": "1"},
    )
    assert "verify-inclusion" in complete.stdout and "verify-tree" in complete.stdout, complete


def test_json_means_json_on_stdout_and_quiet_means_quiet(publication):
    pub = publication / "pub"
    code, out, err = run_por_process("verify-tree", pub / "tree.bin", "--commitment", pub / "commitment.json", "-j")
    assert code == 0 and err == "" and json.loads(out)["verified"] is True
    code, out, err = run_por_process("verify-tree", pub / "tree.bin", "--commitment", pub / "commitment.json", "-q")
    assert (code, out, err) == (0, "", "")
    code, out, err = run_por_process("history", pub, "-j")  # no key pinned: JSON all the same
    assert code == 1 and err == "" and json.loads(out)["state"] == "self-consistent"
    code, out, _ = run_por_process("prove", pub, "alice", "-o", publication / "alice.json", "-q")
    assert (code, out) == (0, "")
    code, out, _ = run_por_process(
        "verify-inclusion", publication / "alice.json", "--commitment", pub / "commitment.json", "-q"
    )
    assert (code, out) == (0, "")
    other = publication / "other.json"
    other.write_text(json.dumps({**json.loads(pub.joinpath("commitment.json").read_text()), "root": "00" * 32}))
    code, out, _ = run_por_process("verify-inclusion", publication / "alice.json", "--commitment", other, "-q")
    assert code != 0 and "NOT VERIFIED" in out + _, "a failure still says why under --quiet"


def test_history_of_a_folder_that_is_no_publication_is_bad_input(publication, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    code, out, err = run_por_process("history", tmp_path)
    assert code == 2 and out == "" and err.startswith("por: error: ") and "commitment.json" in err


@pytest.mark.parametrize(
    "given, error",
    [
        ("yesterday", "not an ISO 8601 UTC time"),
        ("2024-06-01", "not an ISO 8601 UTC time"),
        ("2024-02-30T00:00:00Z", "not a real date"),
        ("2024-06-01T09:00:00+09:00", "give it as 2024-06-01T00:00:00Z"),
    ],
)
def test_snapshot_time_is_iso_8601_utc(publication, tmp_path, given, error):
    code, _, err = run_por_process(
        "publish", publication / "customers.csv", "--exchange", "E", "-o", tmp_path / "pub", "--snapshot-time", given
    )
    assert code == 2 and error in err and err.count("\n") == 1, err
    assert not (tmp_path / "pub").exists()


def test_snapshot_time_with_offset_zero_is_written_as_z(publication, tmp_path):
    code, _, err = run_por_process(
        "publish",
        publication / "customers.csv",
        "--exchange",
        "E",
        "-o",
        tmp_path / "pub",
        "--snapshot-time",
        "2024-06-01T00:00:00+00:00",
        "-q",
    )
    assert code == 0, err
    assert json.loads((tmp_path / "pub" / "commitment.json").read_text())["snapshot_time"] == "2024-06-01T00:00:00Z"


def test_por_declares_every_library_it_imports():
    """`pip install .` must give a working por: every third-party import is a declared dependency."""
    import ast
    import tomllib
    from importlib.metadata import packages_distributions

    declared = {
        re.split(r"[<>=\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-")
        for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    owners = packages_distributions()
    stdlib = sys.stdlib_module_names
    missing = set()
    for path in [*(ROOT / "por").rglob("*.py"), *(ROOT / "chains").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                else []
            )
            for name in names:
                top = name.split(".")[0]
                if top in stdlib or top in ("por", "chains", "fixtures", "__future__"):
                    continue
                dists = {d.lower().replace("_", "-") for d in owners.get(top, [top])}
                if not dists & declared and top not in ("distributed", "dask"):  # dask: the optional extra
                    missing.add(f"{path.relative_to(ROOT)}: {name}")
    assert not missing, sorted(missing)
