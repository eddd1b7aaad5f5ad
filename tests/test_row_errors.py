"""Issue 13 item 8: a bad input file is reported in one run, row by row, with a hint for the
mistakes spreadsheets make; one asset limit for the writer and every reader; asset tables of
any size read in linear time.

Through a subprocess where it is what a user sees (exit 2, one line a row, no traceback).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from fixtures.liabilities import run_por, run_por_process
from por.amounts import AssetTable
from por.errors import MAX_REPORTED_ROWS, InputError, InputErrors
from por.liabilities.ingest import load_customers
from por.liabilities.porjson import parse_proof
from por.liabilities.tree import MAX_ASSETS

HEADER = "account_id,asset,amount\n"
ROW_LINE = re.compile(r"por: error: (?P<file>[^:]+):(?P<line>\d+): ((?P<field>[a-z_]+): )?(?P<reason>.+)")


def publish(tmp_path: Path, name: str, body: str | bytes, *extra: object, process: bool = True):
    path = tmp_path / name
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    out = tmp_path / f"out-{name}"
    runner = run_por_process if process else run_por
    code, stdout, stderr = runner("publish", path, "--exchange", "Ex", "--out", out, *extra)
    assert "Traceback" not in stdout + stderr and "internal error" not in stderr, stderr
    return code, stderr, path, out


@pytest.mark.parametrize("quoted", [False, True], ids=["plain-file", "quoted-file"])
def test_every_bad_row_up_to_20_is_named_in_one_run_then_how_many_more(tmp_path, quoted):
    """30 bad amounts among good rows: the first 20 by line, each `file:line: field: reason`,
    then `and 10 more`; exit 2; nothing written. (A quoted file takes the exact reader, a
    plain one the fast columnar reader: the same report.)"""
    rows = []
    for i in range(60):
        amount = "1 000" if i % 2 else "1.5"
        rows.append(f'"u{i}",BTC,{amount}\n' if quoted else f"u{i},BTC,{amount}\n")
    code, stderr, path, out = publish(tmp_path, "c.csv", HEADER + "".join(rows))
    lines = stderr.splitlines()
    assert code == 2 and len(lines) == MAX_REPORTED_ROWS + 1, stderr
    for number, line in zip(range(3, 200, 2), lines[:-1]):
        match = ROW_LINE.fullmatch(line)
        assert match and match["file"] == str(path) and int(match["line"]) == number, line
        assert match["field"] == "amount" and "thousands separators? write 1000" in match["reason"], line
    assert lines[-1] == "por: error: and 10 more bad rows (fix these and run again)"
    assert not out.exists()


def test_all_kinds_of_bad_rows_come_in_line_order(tmp_path):
    body = HEADER + (
        'alice,BTC,1.5\nbob,BTC,"1,5"\ncarol,BTC,1,000.50\ndave;BTC;1\nalice,BTC,2\neve,XYZ,1\nfrank,BTC,-1\n,BTC,1\n'
    )
    code, stderr, path, _ = publish(tmp_path, "c.csv", body)
    assert code == 2
    assert [line.removeprefix(f"por: error: {path}:") for line in stderr.splitlines()] == [
        "3: amount: '1,5' is not a plain decimal number (a decimal comma? write 1.5: amounts take a decimal point)",
        "4: expected 3 fields, got 4 (thousands separators? write 1000.50: digits and one decimal point, nothing else)",
        "5: expected 3 fields, got 1 (the file is separated by semicolons, as spreadsheets write CSV where the "
        "decimal mark is a comma: save it with commas between fields and a point in amounts)",
        "6: duplicate row for account and asset BTC (first on line 2)",
        "7: asset: unknown asset 'XYZ' (add it with --assets FILE)",
        "8: amount: negative amount '-1'",
        "9: account_id: empty account id",
    ]


@pytest.mark.parametrize(
    "header, shown, hint",
    [
        ("account_id;asset;amount\nalice;BTC;1,5\n", "account_id;asset;amount", "separated by semicolons"),
        ("account_id\tasset\tamount\nalice\tBTC\t1\n", "account_id\\tasset\\tamount", "separated by tabs"),
    ],
)
def test_a_spreadsheet_header_says_how_to_save_the_file(tmp_path, header, shown, hint):
    """The tab is shown as \\t, not collapsed into a space."""
    code, stderr, path, _ = publish(tmp_path, "c.csv", header)
    assert code == 2 and stderr.count("\n") == 1
    assert f"{path}:1: header must be `account_id,asset,amount`, got `{shown}`" in stderr and hint in stderr


@pytest.mark.parametrize(
    "amount, hint",
    [
        ("1,5", "a decimal comma? write 1.5"),
        ("0,00000001", "a decimal comma? write 0.00000001"),
        ("1.000,5", "thousands separators? write 1000.5"),
        ("1,000.50", "thousands separators? write 1000.50"),
        ("12 345", "thousands separators? write 12345"),
        ("1'000", "thousands separators? write 1000"),
        ("1.000.000", "thousands separators? write 1000000"),
    ],
)
def test_amount_hints(tmp_path, amount, hint):
    code, stderr, _, _ = publish(tmp_path, "c.csv", f'{HEADER}alice,BTC,"{amount}"\n', process=False)
    assert code == 2 and hint in stderr and stderr.count("\n") == 1, stderr


def test_the_library_reader_raises_one_error_that_reads_as_the_first(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "a,BTC,x\nb,BTC,1\nc,BTC,y\n")
    with pytest.raises(InputErrors) as caught:
        load_customers(path)
    assert (caught.value.line, caught.value.field) == (2, "amount") and caught.value.total == 2
    assert [e.line for e in caught.value.errors] == [2, 4]
    path.write_text(HEADER + "a,BTC,x\nb,BTC,1\n")
    with pytest.raises(InputError) as one:
        load_customers(path)
    assert not isinstance(one.value, InputErrors) and one.value.line == 2


# --- one asset limit, shared by the writer and every reader -----------------------------------------


def test_the_writer_refuses_the_asset_readers_would_refuse(tmp_path):
    """1001 assets used to publish, then fail their own `prove` and `verify-tree`. Now the row that
    would hold asset number MAX_ASSETS + 1 is refused (exit 2), and MAX_ASSETS assets go all the way."""
    symbols = [f"T{i:04d}" for i in range(MAX_ASSETS + 1)]
    (tmp_path / "assets.csv").write_text("asset,decimals\n" + "".join(f"{s},2\n" for s in symbols))
    body = HEADER + "".join(f"a{i % 3},{s},1\n" for i, s in enumerate(symbols))
    code, stderr, path, _ = publish(tmp_path, "c.csv", body, "--assets", tmp_path / "assets.csv", process=False)
    assert code == 2 and stderr.count("\n") == 1, stderr
    assert f"{path}:{MAX_ASSETS + 2}: asset: asset T{MAX_ASSETS:04d} would be asset number {MAX_ASSETS + 1}" in stderr
    body = HEADER + "".join(f"a{i % 3},{s},1\n" for i, s in enumerate(symbols[:MAX_ASSETS]))
    code, stderr, _, out = publish(tmp_path, "ok.csv", body, "--assets", tmp_path / "assets.csv", process=False)
    assert code == 0, stderr
    proof = tmp_path / "p.json"
    assert run_por("prove", out, "a1", "-o", proof)[0] == 0
    assert len(json.loads(proof.read_text())["assets"]) == MAX_ASSETS
    assert run_por("verify-inclusion", proof, "--commitment", out / "commitment.json")[0] == 0
    assert run_por("verify-tree", out / "tree.bin", "--commitment", out / "commitment.json")[0] == 0


def test_readers_share_the_limit():
    doc = {
        "format": "por-inclusion-proof",
        "version": 2,
        "hash": "sha256",
        "assets": [{"symbol": f"T{i:04d}", "decimals": 0} for i in range(MAX_ASSETS + 1)],
    }
    with pytest.raises(InputError, match=f"assets: more than {MAX_ASSETS} items"):
        parse_proof(doc, "p.json")


def test_the_page_reads_the_same_limit():
    """verify.html has no import: every asset-count limit it spells must be MAX_ASSETS."""
    page = (Path(__file__).resolve().parents[1] / "por" / "web" / "verifier.html").read_text()
    spelled = re.findall(r'MAX_ASSETS\s*=\s*(\d+)|objects\("assets",\s*(\d+)\)|more than (\d+) assets', page)
    values = {int(v) for group in spelled for v in group if v}
    assert values == {MAX_ASSETS}, values


# --- asset tables of any size, in linear time ---------------------------------------------------------


def test_an_asset_table_is_read_in_linear_time(tmp_path):
    """Two sizes in one run: four times the lines may take about four times as long, never sixteen."""

    def timed(count: int) -> float:
        path = tmp_path / f"assets-{count}.csv"
        path.write_text("asset,decimals\n" + "".join(f"A{i},8\n" for i in range(count)))
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            table = AssetTable().extend_from_file(path)
            best = min(best, time.perf_counter() - start)
        assert f"A{count - 1}" in table
        return best

    small, large = timed(25_000), timed(100_000)
    assert large / small < 8, (small, large)


def test_a_bad_asset_table_names_every_bad_line(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("asset;decimals\nFOO;2\nBAR,x\nBAZ,3\n" + "".join(f"Q{i},99\n" for i in range(30)))
    code, _, err = run_por(
        "publish", tmp_path / "none.csv", "--exchange", "Ex", "--out", tmp_path / "o", "--assets", path
    )
    lines = err.splitlines()
    assert code == 2 and len(lines) == MAX_REPORTED_ROWS + 1, err
    assert (
        lines[0] == f"por: error: {path}:1: expected `asset,decimals` (the table is separated by semicolons: "
        "use a comma)"
    )
    assert lines[2] == f"por: error: {path}:3: decimals: decimals 'x' must be an integer 0..36"
    assert lines[-1] == "por: error: and 13 more bad rows (fix these and run again)"
