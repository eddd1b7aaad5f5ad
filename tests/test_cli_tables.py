"""Terminal tables never cut an amount, a hash or an address, in a real 80-column terminal.

The audit report is the case a user met: at 80 columns amounts folded over 3-4 lines, headers broke
mid-word, and every row said `pass` while the verdict was FAIL because of the liability-reserve
rule, which had no row. Now: amounts whole, right-aligned, with thousands separators and every
digit; a table too wide for the terminal becomes one record per block; every policy rule has a
row; a failing rule says which option would change it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.liabilities import run_por_process
from fixtures.reports import jp_fsa_report
from fixtures.terminal import ROOT, run_in_terminal
from por.cli.output import Column, group_amount, table_lines

SHOW_AUDIT = (
    "import json, sys; from por.cli.audit import print_audit; "
    "print_audit(json.load(open(sys.argv[1], encoding='utf-8')))"
)


def cells(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def amounts_of(doc: dict) -> list[str]:
    keys = ("liabilities", "cold", "hot", "own", "surplus", "shortfall")
    values = [a[k] for a in doc["assets"] for k in keys]
    values += [c[k] for a in doc["assets"] for c in a["checks"] for k in ("required", "actual")]
    return values + [c[k] for c in doc["checks"] for k in ("required", "actual")]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tables")
    doc = jp_fsa_report(folder)
    path = folder / "report.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return doc, path


def show(path: Path, columns: int) -> str:
    code, text = run_in_terminal("-c", SHOW_AUDIT, path, columns=columns, command=[sys.executable])
    assert code == 0, text
    return text


def test_audit_at_80_columns_keeps_every_amount_whole(report):
    doc, path = report
    assert doc["verdict"] == "fail" and all(a["verdict"] == "pass" for a in doc["assets"])
    text = show(path, 80)
    for line in text.splitlines():
        assert cells(line) <= 80 or " " not in line.strip(), line  # only an unbreakable word may be longer
    for amount in amounts_of(doc):
        assert group_amount(amount) in text.split(), amount  # whole, on one line, every digit
    assert "98,765,432.123456789012345678" in text
    for header in ("liabilities", "shortfall", "coverage", "required"):
        assert any(line.split()[:1] == [header] for line in text.splitlines()), header  # never broken mid-word


def test_every_policy_rule_has_a_row_and_a_failing_one_says_what_changes_it(report):
    doc, path = report
    text = show(path, 80)
    checks = [c for a in doc["assets"] for c in a["checks"]] + doc["checks"]
    rows = [line.split()[1] for line in text.splitlines() if line.startswith("rule ")]
    assert rows == [c["rule"] for c in checks]
    assert "liability_reserve" in rows
    block = text.split("liability_reserve", 1)[1].split("\n\n", 1)[0]
    assert "verdict   fail" in block and "40,000,000,000" in block
    hint = " ".join(text.split("to change it:", 1)[1].split())
    assert "--reserve-deposits-jpy" in hint and "--insurance-jpy" in hint


def test_a_wide_terminal_shows_one_line_per_row(report):
    doc, path = report
    text = show(path, 220)
    lines = text.splitlines()
    eth = [line for line in lines if line.startswith("ETH ")]
    assert len(eth) == 1 and "98,765,432.123456789012345678" in eth[0] and eth[0].rstrip().endswith("pass")
    header = next(line for line in lines if line.startswith("asset "))
    assert header.split() == [
        "asset",
        "liabilities",
        "cold",
        "hot",
        "own",
        "coverage",
        "surplus",
        "shortfall",
        "verdict",
    ]
    first_amount_end = eth[0].index("98,765,432.123456789012345678") + len("98,765,432.123456789012345678")
    assert header.index("liabilities") + len("liabilities") == first_amount_end  # right-aligned


def test_piped_output_ignores_nothing_and_cuts_nothing(report, tmp_path):
    doc, path = report
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("COLUMNS", None)
    piped = subprocess.run(
        [sys.executable, "-c", SHOW_AUDIT, str(path)], capture_output=True, text=True, env=env, timeout=60
    )
    assert piped.returncode == 0
    assert len([line for line in piped.stdout.splitlines() if line.startswith(("BTC ", "ETH "))]) == 2
    narrow = subprocess.run(
        [sys.executable, "-c", SHOW_AUDIT, str(path)],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "80"},
        timeout=60,
    )
    assert "asset        ETH" in narrow.stdout  # COLUMNS is honoured when piped


def test_verify_inclusion_at_80_columns(tmp_path):
    customers = tmp_path / "c.csv"
    customers.write_text(
        "account_id,asset,amount\nalice,ETH,98765432.123456789012345678\nalice,BTC,0.00000001\nbob,BTC,21000000\n"
    )
    assert run_por_process("publish", customers, "--exchange", "E", "-o", tmp_path / "pub", "-q")[0] == 0
    assert run_por_process("prove", tmp_path / "pub", "alice", "-o", tmp_path / "p.json", "-q")[0] == 0
    code, text = run_in_terminal(
        "verify-inclusion", tmp_path / "p.json", "--commitment", tmp_path / "pub" / "commitment.json", columns=80
    )
    assert code == 0, text
    root = json.loads((tmp_path / "pub" / "commitment.json").read_text())["root"]
    assert root in text.split() and "98,765,432.123456789012345678" in text.split() and "0.00000001" in text


def test_an_account_id_with_an_emoji_code_is_shown_as_written(tmp_path):
    """rich turns `:warning:` into a symbol unless told not to; an id must be shown as the exchange wrote it."""
    customers = tmp_path / "c.csv"
    customers.write_text("account_id,asset,amount\nann:warning:,BTC,1\nbob:smile:,BTC,2\n")
    assert run_por_process("publish", customers, "--exchange", "E", "-o", tmp_path / "pub", "-q")[0] == 0
    assert run_por_process("prove", tmp_path / "pub", "ann:warning:", "-o", tmp_path / "p.json", "-q")[0] == 0
    proof, commitment = tmp_path / "p.json", tmp_path / "pub" / "commitment.json"
    code, text = run_in_terminal("verify-inclusion", proof, "--commitment", commitment, columns=80)
    assert code == 0, text
    assert "ann:warning:" in text and "\u26a0" not in text, text
    code, out, _ = run_por_process("verify-inclusion", proof, "--commitment", commitment)
    assert code == 0 and "ann:warning:" in out and "\u26a0" not in out, out


def test_group_amount_keeps_every_digit():
    assert group_amount("1234567.000012") == "1,234,567.000012"
    assert group_amount("999") == "999" and group_amount("1000") == "1,000" and group_amount("0.1234567") == "0.1234567"
    assert group_amount("-1234.5") == "-1,234.5"
    for text in ("—", "100.00%", "", "-", "1e5"):
        assert group_amount(text) == text


def test_text_folds_on_whole_words_and_atoms_never_fold():
    columns = [Column("address", "atom"), Column("balance", "amount"), Column("reason")]
    address = "bcrt1q" + "x" * 56
    rows = [[address, "123456789.123456789", "signature is by another key than the declared address says"]]
    lines = ["".join(t for t, _ in line).rstrip() for line in table_lines(columns, rows, 100)]
    assert lines[1].startswith(address) and "123,456,789.123456789" in lines[1]
    words = "signature is by another key than the declared address says".split()
    shown = " ".join(" ".join(lines[1:]).replace(address, "").replace("123,456,789.123456789", "").split())
    assert shown == " ".join(words)  # folded, but every word whole, in order
    blocks = ["".join(t for t, _ in line).rstrip() for line in table_lines(columns, rows, 40)]
    assert f"address  {address}" in blocks and "balance  123,456,789.123456789" in blocks
