"""Customer balances in: every defect is `file:line: field: reason`, exit 2, nothing written."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fixtures.liabilities import run_por, run_por_process
from por.amounts import AssetTable
from por.errors import InputError
from por.liabilities.ingest import load_customers

HEADER = "account_id,asset,amount\n"
HUGE_ETH = "170141183460469231731.687303715884105728"  # 2^127 wei

BAD_CSV = [
    # name, file body after the header, line, what the reason says
    ("duplicate", "a,BTC,1\nb,BTC,1\na,BTC,2\n", 4, "duplicate row"),
    ("negative", "a,BTC,-1\n", 2, "negative"),
    ("too many decimals", "a,BTC,0.000000001\n", 2, "more than 8 decimals"),
    ("empty id", ",BTC,1\n", 2, "empty account id"),
    ("non-number", "a,BTC,abc\n", 2, "not a plain decimal"),
    ("unknown asset", "a,BTC,1\na,FOO,1\n", 3, "unknown asset"),
    ("lower-case asset", "a,btc,1\n", 2, "asset symbol"),
    ("exponent", "a,BTC,1e-8\n", 2, "not a plain decimal"),
    ("plus sign", "a,BTC,+1\n", 2, "not a plain decimal"),
    ("comma decimal", 'a,BTC,"1,5"\n', 2, "not a plain decimal"),
    ("bare point", "a,BTC,.5\n", 2, "not a plain decimal"),
    ("empty amount", "a,BTC,\n", 2, "not a plain decimal"),
    ("NaN", "a,BTC,NaN\n", 2, "not a plain decimal"),
    ("too large", "a,ETH,1" + "0" * 30 + "\n", 2, "too large"),
    ("total overflows", f"a,ETH,{HUGE_ETH}\nb,ETH,{HUGE_ETH}\n", 3, "exceeds 2^128-1"),
    ("control char in id", "a\x01b,BTC,1\n", 2, "U+0001"),
    ("newline in quoted id", '"a\nb",BTC,1\n', 3, "U+000A"),
    ("zero-width space in id", "a\u200bb,BTC,1\n", 2, "U+200B"),
    ("bidi override in id", "a\u202eb,BTC,1\n", 2, "U+202E"),
    ("id with outer space", " a,BTC,1\n", 2, "whitespace"),
    ("id too long", "x" * 300 + ",BTC,1\n", 2, "longer than 256 bytes"),
    ("two fields", "a,BTC\n", 2, "expected 3 fields"),
    ("four fields", "a,BTC,1,2\n", 2, "expected 3 fields"),
    ("stray quote", 'a,BTC,1"2"\n', 2, "not a plain decimal"),
    ("unterminated quote", 'a,BTC,"1\n', 2, "malformed CSV"),
    ("very long field", "a,BTC," + "1" * 5000 + "\n", 2, "field larger than field limit"),
    ("very long line", "a,BTC," + "1" * 100_000 + "\n", 2, "line longer than 65536 bytes"),
    ("header only", "", 2, "no customer rows"),
]


def write(path: Path, body: str | bytes) -> Path:
    path.write_bytes(body.encode("utf-8") if isinstance(body, str) else body)
    return path


def assert_refused(tmp_path: Path, path: Path, line: int | None, reason: str, *, process: bool = False) -> str:
    out = tmp_path / "pub"
    code, stdout, stderr = (run_por_process if process else run_por)(
        "publish", path, "--exchange", "Ex", "--out", out, "--snapshot-id", "s1"
    )
    assert code == 2, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    where = f"{re.escape(str(path))}:{line}: " if line else f"{re.escape(str(path))}(:\\d+)?: "
    assert re.match(f"por: error: {where}", stderr), stderr
    assert reason in stderr, stderr
    assert not out.exists() and not list(tmp_path.glob(".pub*")), "something was written"
    return stderr


@pytest.mark.parametrize("name, body, line, reason", BAD_CSV, ids=[c[0] for c in BAD_CSV])
def test_bad_csv_rows_are_refused_with_their_line(tmp_path, name, body, line, reason):
    path = write(tmp_path / "customers.csv", HEADER + body)
    with pytest.raises(InputError) as caught:
        load_customers(path)
    assert caught.value.file == str(path) and caught.value.line == line
    assert_refused(tmp_path, path, line, reason)


@pytest.mark.parametrize(
    "body, line, reason",
    [
        (b"", 1, "empty file"),
        (b"id,asset,amount\na,BTC,1\n", 1, "header must be"),
        (b"account_id,asset,amount\na,BTC,1\n\xff\xfe,BTC,1\n", 3, "not UTF-8"),
        (b"\xef\xbb\xbf\xef\xbb\xbfaccount_id,asset,amount\n", 1, "header must be"),  # BOM twice
    ],
)
def test_bad_files_are_refused_with_a_line(tmp_path, body, line, reason):
    assert_refused(tmp_path, write(tmp_path / "c.csv", body), line, reason)


def test_line_of_many_megabytes_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "c.csv"
    with open(path, "wb") as handle:
        handle.write(b"account_id,asset,amount\na,BTC,1\nb,BTC,")
        handle.write(b"9" * (64 << 20))
    assert_refused(tmp_path, path, 3, "line longer than")


def test_missing_file_and_folder_are_refused(tmp_path):
    assert_refused(tmp_path, tmp_path / "absent.csv", None, "cannot read")
    (tmp_path / "dir.csv").mkdir()
    assert_refused(tmp_path, tmp_path / "dir.csv", None, "cannot read")


def test_refusals_through_the_console_script_are_one_line(tmp_path):
    path = write(tmp_path / "c.csv", HEADER + "a,BTC,1\na,BTC,2\n")
    assert_refused(tmp_path, path, 3, "duplicate row", process=True)
    assert_refused(tmp_path, write(tmp_path / "e.csv", ""), 1, "empty file", process=True)


def test_bom_crlf_quotes_and_trailing_zeros_are_read_exactly(tmp_path):
    body = (
        '\ufeffaccount_id,asset,amount\r\n"a,1",BTC,"1.50000000"\r\n'
        '客户-ü,ETH,0.000000000000000001\r\n\r\n"a,1",USDT,  7.25 \r\nb,BTC,0\r\n'
    )
    book = load_customers(write(tmp_path / "c.csv", body))
    assert book.account_ids == ["a,1", "客户-ü", "b"]
    assert [a.symbol for a in book.assets] == ["BTC", "ETH", "USDT"]
    assert book.columns == [[150_000_000, 0, 0], [0, 1, 0], [7_250_000, 0, 0]]


def test_asset_table_can_be_extended(tmp_path):
    table = AssetTable().extend_from_file(write(tmp_path / "a.csv", "asset,decimals\nFOO,2\n"))
    book = load_customers(write(tmp_path / "c.csv", HEADER + "a,FOO,1.25\n"), table)
    assert book.columns == [[125]]
    with pytest.raises(InputError, match=r"a2\.csv:2: decimals"):
        AssetTable().extend_from_file(write(tmp_path / "a2.csv", "asset,decimals\nFOO,x\n"))


# --- Parquet ------------------------------------------------------------------------


def write_parquet(path: Path, columns: dict[str, list], types: dict[str, pa.DataType] | None = None) -> Path:
    types = types or {}
    table = pa.table({name: pa.array(values, type=types.get(name, pa.string())) for name, values in columns.items()})
    pq.write_table(table, path)
    return path


def test_parquet_reads_like_csv(tmp_path):
    path = write_parquet(
        tmp_path / "c.parquet",
        {"account_id": ["a", "b", "a"], "asset": ["BTC", "BTC", "ETH"], "amount": ["1.5", "0.00000001", "2"]},
    )
    book = load_customers(path)
    assert book.account_ids == ["a", "b"]
    assert book.columns == [[150_000_000, 1], [2 * 10**18, 0]]
    decimal = write_parquet(
        tmp_path / "d.parquet",
        {"account_id": ["a"], "asset": ["BTC"], "amount": [Decimal("1.23000000")]},
        {"amount": pa.decimal128(20, 8)},
    )
    assert load_customers(decimal).columns == [[123_000_000]]


@pytest.mark.parametrize(
    "columns, types, line, reason",
    [
        ({"account_id": ["a", "a"], "asset": ["BTC", "BTC"], "amount": ["1", "2"]}, None, 2, "duplicate row"),
        ({"account_id": ["a", "b"], "asset": ["BTC", "BTC"], "amount": ["1", "-2"]}, None, 2, "negative"),
        ({"account_id": ["a", None], "asset": ["BTC", "BTC"], "amount": ["1", "2"]}, None, 2, "null value"),
        ({"account_id": ["a"], "asset": ["BTC"], "amount": ["1e-8"]}, None, 1, "not a plain decimal"),
        ({"account_id": ["a\x00"], "asset": ["BTC"], "amount": ["1"]}, None, 1, "U+0000"),
        (
            {"account_id": ["a"], "asset": ["BTC"], "amount": [Decimal("-1.5")]},
            {"amount": pa.decimal128(10, 2)},
            1,
            "negative",
        ),
        (
            {"account_id": ["a"], "asset": ["BTC"], "amount": [Decimal("0.000000001")]},
            {"amount": pa.decimal128(12, 9)},
            1,
            "more than 8 decimals",
        ),
        ({"account_id": [], "asset": [], "amount": []}, None, 1, "no customer rows"),
    ],
)
def test_bad_parquet_rows_are_refused(tmp_path, columns, types, line, reason):
    assert_refused(tmp_path, write_parquet(tmp_path / "c.parquet", columns, types), line, reason)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_bytes(b"PAR1 this is not parquet PAR1"), "cannot read Parquet"),
        (lambda p: p.write_bytes(b""), "cannot read Parquet"),
        (lambda p: write_parquet(p, {"account_id": ["a"], "asset": ["BTC"]}), "lacks column(s) amount"),
        (
            lambda p: write_parquet(
                p, {"account_id": ["a"], "asset": ["BTC"], "amount": [1.5]}, {"amount": pa.float64()}
            ),
            "amount: column must hold strings",
        ),
        (
            lambda p: write_parquet(
                p, {"account_id": [1], "asset": ["BTC"], "amount": ["1"]}, {"account_id": pa.int64()}
            ),
            "account_id: column must hold strings",
        ),
    ],
)
def test_bad_parquet_files_are_refused(tmp_path, make, reason):
    path = tmp_path / "c.parquet"
    make(path)
    assert_refused(tmp_path, path, None, reason)


def test_truncated_parquet_is_refused(tmp_path):
    path = write_parquet(
        tmp_path / "c.parquet",
        {"account_id": [f"u{i}" for i in range(5000)], "asset": ["BTC"] * 5000, "amount": ["1"] * 5000},
    )
    raw = path.read_bytes()
    for cut in (len(raw) // 2, len(raw) - 9, 8):
        path.write_bytes(raw[:cut])
        assert_refused(tmp_path, path, None, "Parquet")
    corrupt = bytearray(raw)
    corrupt[len(raw) // 3 : len(raw) // 3 + 64] = b"\xff" * 64  # damage inside the data pages
    path.write_bytes(bytes(corrupt))
    code, _, stderr = run_por("publish", path, "--exchange", "Ex", "--out", tmp_path / "pub")
    assert code == 2 and stderr.count("\n") == 1 and "internal error" not in stderr, stderr
