"""The customer's `verify-inclusion` without typer (issue 18 item 5): por.cli.lean parses one
shape of command line and checks it with the same library calls as the full command.

Both paths run over the same command lines and must give the same exit code, stdout and
stderr; any line outside that shape (help, other options, repeats, `--`) goes to typer.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fixtures.liabilities import run_por
from fixtures.sample import write_customers
from por.cli import lean

KEY = "5a" * 32


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from eth_account import Account

    root = tmp_path_factory.mktemp("lean")
    (root / "key.hex").write_text(KEY + "\n")
    customers = write_customers(root / "c.csv", 30, seed=5)
    code, _, err = run_por(
        "publish", customers, "--exchange", "Ex", "-o", root / "pub", "-q", "--sign-key", root / "key.hex"
    )
    assert code == 0, err
    assert run_por("prove", root / "pub", "user-0000003", "-o", root / "proof.json", "-q")[0] == 0
    doc = json.loads((root / "proof.json").read_text())
    bad = dict(doc, balances={k: "1" + v for k, v in doc["balances"].items()})
    (root / "tampered.json").write_text(json.dumps(bad))
    return {
        "root": root,
        "hash": doc["root"]["hash"],
        "address": Account.from_key(bytes.fromhex(KEY)).address,
    }


def _lines(w) -> list[list[str]]:
    proof, commitment, r = str(w["root"] / "proof.json"), str(w["root"] / "pub" / "commitment.json"), w["hash"]
    tampered, missing = str(w["root"] / "tampered.json"), str(w["root"] / "nothing.json")
    return [
        [proof, "--root", r],
        [proof, "--root=" + r, "--json"],
        [proof, "--root", r, "-q"],
        [proof, "--root", "ab" * 32],
        [proof, "--root", "xyz"],
        [proof, "--commitment", commitment],
        [proof, "--commitment", commitment, "--signer", w["address"]],
        [proof, "--commitment", commitment, "--signer", "0x" + "11" * 20, "--json"],
        [proof, "--commitment", commitment, "--signer", "nonsense"],
        [proof, "--signer", w["address"], "--root", r],
        [proof, "--commitment", commitment, "--root", r],
        [proof, "--root", r, "--account", "user-0000003"],
        [proof, "--root", r, "--account", "user-0000004", "--json"],
        [proof, "--root", r, "--account", "bad\nid"],
        [proof, "--format", "por", "--quiet", "--json", "--root", r],
        [proof],
        [tampered, "--root", r],
        [tampered, "--root", r, "-q"],
        [missing, "--root", r],
    ]


def test_lean_and_full_paths_say_the_same(world, monkeypatch):
    for line in _lines(world):
        argv = ["verify-inclusion", *line]
        assert lean.parse(argv) is not None, line
        fast = run_por(*argv)
        with monkeypatch.context() as patched:
            patched.setattr(lean, "parse", lambda argv: None)
            full = run_por(*argv)
        assert fast == full, line
    assert run_por("verify-inclusion", world["root"] / "proof.json", "--root", world["hash"])[0] == 0


def test_every_other_line_goes_to_the_full_cli(world):
    proof = str(world["root"] / "proof.json")
    for line in (
        ["verify-inclusion", "--help"],
        ["verify-inclusion", proof, "-h"],
        ["verify-inclusion"],
        ["verify-inclusion", proof, proof],
        ["verify-inclusion", proof, "--root"],
        ["verify-inclusion", proof, "--root", "a", "--root", "b"],
        ["verify-inclusion", proof, "--commitment", "a", "--commitment", "b"],
        ["verify-inclusion", proof, "--format", "okx-v1"],
        ["verify-inclusion", proof, "--batch", "x"],
        ["verify-inclusion", proof, "--tree", "x"],
        ["verify-inclusion", proof, "--rot", "x"],
        ["verify-inclusion", proof, "-qj"],
        ["verify-inclusion", "--", proof],
        ["verify-inclusion", proof, "--json=yes"],
        ["prove", proof],
        [],
    ):
        assert lean.parse(line) is None, line
    code, out, err = run_por("verify-inclusion", proof, "--rot", "x")
    assert code == 2 and err.startswith("por: usage: no such option: --rot") and out == "", err
    code, out, _ = run_por("verify-inclusion", "--help")
    assert code == 0 and out.startswith("usage: por verify-inclusion")


def test_the_lean_path_loads_no_cli_framework(world):
    """What a customer's shell runs imports neither typer (nor pydantic) nor the foreign formats;
    rich only to print the human summary (not for --json or -q)."""
    script = (
        "import sys\nfrom por.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
        "top = {m.split('.')[0] for m in sys.modules}\n"
        "heavy = sorted(top & {'typer', 'pydantic', 'click', 'rich', 'numpy', 'pyarrow'})\n"
        "foreign = [m for m in sys.modules if m.startswith('por.liabilities.foreign.') and m.count('.') == 3\n"
        "           and m.rsplit('.', 1)[1] not in ('base', 'common', 'detect')]\n"
        "print(code, heavy, foreign, file=sys.stderr)\n"
    )
    base = [sys.executable, "-c", script, "verify-inclusion", str(world["root"] / "proof.json"), "--root"]
    for extra, expected in ((["--json"], "0 [] []"), (["-q"], "0 [] []"), ([], "0 ['rich'] []")):
        done = subprocess.run([*base, world["hash"], *extra], capture_output=True, text=True, timeout=60)
        assert done.stderr.strip().endswith(expected), (extra, done.stderr)


def _prove_lines(w, out: str) -> list[list[str]]:
    folder = str(w["root"] / "pub")
    return [
        [folder, "user-0000003"],
        [folder, "user-0000003", "-o", out],
        [folder, "user-0000003", "-o", "DIR/./NAME"],  # printed as a Path prints it, on both paths
        [folder, "user-0000003", "--out=OUT", "-q"],
        [folder, "user-0000003", "--out", "-"],
        [folder, "user-0000003", "user-0000004", "-o", out],
        [folder, "user-0000003", "user-0000004"],
        [folder, "nobody"],
        [folder, "user-0000003", "nobody"],
        [str(w["root"] / "nothing"), "user-0000003"],
        [folder, "user-0000003", "-o", str(w["root"] / "no-such-dir" / "p.json")],
    ]


def test_lean_and_full_prove_say_and_write_the_same(world, monkeypatch):
    """`por prove DIR ID`, one customer's proof for the support desk, without typer or numpy."""
    for line in _prove_lines(world, "OUT"):
        results = []
        for lean_path in (True, False):
            out = world["root"] / f"out-{lean_path}.json"
            out.unlink(missing_ok=True)
            spelled = {"OUT": str(out), "DIR/./NAME": f"{out.parent}/./{out.name}"}
            argv = ["prove", *(spelled.get(word, word).replace("=OUT", "=" + str(out)) for word in line)]
            if lean_path:
                assert lean.parse_prove(argv) is not None, line
            with monkeypatch.context() as patched:
                if not lean_path:
                    patched.setattr(lean, "parse_prove", lambda argv: None)
                code, stdout, stderr = run_por(*argv)
            written = out.read_text() if out.exists() else None
            results.append((code, stdout.replace(out.name, "NAME"), stderr.replace(out.name, "NAME"), written))
        assert results[0] == results[1], line
    assert results[0][0] == 2  # the last line: a folder that does not exist


def test_every_other_prove_line_goes_to_the_full_cli(world):
    folder = str(world["root"] / "pub")
    for line in (
        ["prove", folder],
        ["prove", "--help"],
        ["prove", folder, "x", "-h"],
        ["prove", folder, "--all", "--out-dir", "x"],
        ["prove", folder, "x", "--jobs", "2"],
        ["prove", folder, "x", "--sample", "2"],
        ["prove", folder, "x", "-o"],
        ["prove", folder, "x", "-o", "a", "-o", "b"],
        ["prove", folder, "x", "-qo", "a"],
        ["prove", folder, "x", "--out"],
        ["prove", folder, "-x"],
        ["prove", "--", folder, "x"],
        ["verify-inclusion", folder, "x"],
    ):
        assert lean.parse_prove(line) is None, line


def test_lean_prove_loads_no_framework_nor_numpy(world, tmp_path):
    script = (
        "import sys\nfrom por.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
        "top = {m.split('.')[0] for m in sys.modules}\n"
        "print(code, sorted(top & {'typer', 'pydantic', 'click', 'rich', 'numpy', 'pyarrow'}), file=sys.stderr)\n"
    )
    argv = ["prove", str(world["root"] / "pub"), "user-0000003", "-o", str(tmp_path / "p.json")]
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=60)
    assert done.stderr.strip().endswith("0 []"), done.stderr
    assert json.loads((tmp_path / "p.json").read_text())["account_id"] == "user-0000003"
