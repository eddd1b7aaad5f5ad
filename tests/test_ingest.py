"""The column-wise customer reader against a row-by-row oracle: same book, or the same error.

`oracle` is the straightforward reader (one row at a time, a dict per account)
that por used before the columnar one; it applies the same `check_row` rules,
so any difference in the first error, its line, or the book is a bug in the
vectorised filters, the batching, or the duplicate and total checks.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from por.amounts import MAX_UNITS, Asset, AssetTable
from por.errors import InputError
from por.liabilities import ingest
from por.liabilities.ingest import load_customers
from por.liabilities.rows import check_row, csv_rows

IDS = [
    "a",
    "b",
    "c",
    "user-001",
    "客户",
    "ü",
    " a",
    "a ",
    "",
    "a\x01",
    "a\u200bb",
    "x" * 257,
    "é" * 130,
    "a\x7fb",
    "tab\tin",
]
ASSETS = ["BTC", "ETH", "USDT", "NEAR", "FOO", "btc", "", "USDT "]
HUGE = "170141183460469231731.687303715884105728"  # 2^127 wei
AMOUNTS = [
    "0",
    "1",
    "7",
    "1.5",
    "0.00000001",
    "0.000000001",
    "1.50000000000",
    "-1",
    "1e-8",
    "+1",
    " 2 ",
    "1.",
    ".5",
    "",
    "NaN",
    "0001",
    "12.",
    "1" * 20,
    "9" * 38,
    "9" * 39,
    "1" * 20 + "." + "1" * 18,
    "340282366920938463463.374607431768211455",
    "340282366920938463463.374607431768211456",
    HUGE,
    "0." + "0" * 30,
    "1.000000000000000000000000000000",
    "٣",
    "1_000",
    "1,5",
]


def oracle(rows, source: str, table: AssetTable):
    """Row by row, as a reader without columns would do it."""
    index, balances, seen, totals, decimals = {}, [], {}, {}, {}
    for line, account_id, asset, amount in rows:
        try:
            units = check_row(account_id, asset, amount, table)
        except InputError as exc:
            raise exc.at(file=source, line=line) from None
        decimals[asset] = table.decimals(asset)
        slot = index.setdefault(account_id, len(balances))
        if slot == len(balances):
            balances.append({})
        if asset in balances[slot]:
            raise InputError(
                f"duplicate row for account and asset {asset} (first on line {seen[(slot, asset)]})",
                file=source,
                line=line,
            )
        seen[(slot, asset)] = line
        balances[slot][asset] = units
        totals[asset] = totals.get(asset, 0) + units
        if totals[asset] > MAX_UNITS:
            raise InputError(
                f"total of {asset} exceeds 2^128-1 base units here", file=source, line=line, field="amount"
            )
    if not balances:
        raise InputError("no customer rows", file=source, line=1)
    symbols = sorted(decimals)
    return ([Asset(s, decimals[s]) for s in symbols], list(index), [[b.get(s, 0) for b in balances] for s in symbols])


def outcome(read):
    try:
        book = read()
    except InputError as exc:
        return ("error", str(exc))
    if isinstance(book, tuple):
        return ("book", book)
    return ("book", (book.assets, book.account_ids, book.columns))


def parquet_rows(path: Path):
    table = pq.read_table(path)
    for number, row in enumerate(table.to_pylist(), 1):
        amount = row["amount"]
        text = format(amount, "f") if isinstance(amount, Decimal) else amount
        yield number, row["account_id"], row["asset"], text


any_row = st.tuples(st.sampled_from(IDS), st.sampled_from(ASSETS), st.sampled_from(AMOUNTS))
valid_row = st.tuples(
    st.sampled_from(IDS[:6]),
    st.sampled_from(ASSETS[:4]),
    st.sampled_from(AMOUNTS[:7] + [HUGE, "9" * 20, "1" * 20 + "." + "1" * 18]),
)


@st.composite
def rows_strategy(draw):
    """Mostly valid rows with a few from anywhere, so each defect gets to be the first one."""
    rows = draw(st.lists(valid_row, min_size=0, max_size=30))
    for _ in range(draw(st.integers(0, 2))):
        rows.insert(draw(st.integers(0, len(rows))), draw(any_row))
    return rows


SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def write_plain(path: Path, rows) -> Path:
    """Fields joined by commas with no quoting (the fast path), as long as that is still CSV."""
    path.write_bytes(("account_id,asset,amount\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)).encode())
    return path


def write_quoted(path: Path, rows) -> Path:
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(["account_id", "asset", "amount"])
    writer.writerows(rows)
    path.write_bytes(text.getvalue().encode())
    return path


@pytest.fixture(params=[3, ingest.BATCH_ROWS], ids=["tiny-batches", "default-batches"])
def batch_rows(request, monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_ROWS", request.param)
    return request.param


def compare_csv(tmp_path: Path, rows) -> None:
    table = AssetTable()
    for writer, name in ((write_plain, "plain.csv"), (write_quoted, "quoted.csv")):
        path = tmp_path / name
        writer(path, rows)
        expected = outcome(lambda path=path: oracle(csv_rows(path), str(path), table))
        assert outcome(lambda path=path: load_customers(path, table)) == expected, (name, rows)


SINGLE_DEFECTS = (
    [(v, "BTC", "1") for v in IDS]
    + [("b", v, "1") for v in ASSETS]
    + [("b", asset, v) for v in AMOUNTS for asset in ("BTC", "ETH", "USDT")]
)


@pytest.mark.parametrize("row", SINGLE_DEFECTS, ids=[repr(r)[:40] for r in SINGLE_DEFECTS])
def test_each_value_reads_like_the_oracle(tmp_path, row):
    compare_csv(tmp_path, [("a", "BTC", "1"), ("a", "ETH", "2"), row, ("c", "BTC", "3")])


@SETTINGS
@given(rows=rows_strategy())
def test_csv_reads_like_the_row_by_row_oracle(tmp_path, batch_rows, rows):
    compare_csv(tmp_path, rows)


@SETTINGS
@given(rows=rows_strategy(), nulls=st.sets(st.integers(0, 40), max_size=2))
def test_parquet_reads_like_the_row_by_row_oracle(tmp_path, batch_rows, rows, nulls):
    rows = [tuple(None if (i * 3 + k) in nulls else v for k, v in enumerate(r)) for i, r in enumerate(rows)]
    path = tmp_path / "c.parquet"
    pq.write_table(
        pa.table(
            {
                name: pa.array([r[k] for r in rows], pa.string())
                for k, name in enumerate(["account_id", "asset", "amount"])
            }
        ),
        path,
    )
    table = AssetTable()
    expected = outcome(lambda: oracle(parquet_rows(path), str(path), table))
    assert outcome(lambda: load_customers(path, table)) == expected, rows


@SETTINGS
@given(
    values=st.lists(
        st.tuples(st.integers(-(10**12), 10**20), st.sampled_from(["BTC", "USDT", "ETH"])), min_size=1, max_size=12
    ),
    scale=st.integers(0, 12),
)
def test_parquet_decimals_read_like_python_text(tmp_path, batch_rows, values, scale):
    """Arrow prints some decimals with an exponent ("1E-9"); the book must not care."""
    path = tmp_path / "d.parquet"
    amounts = [Decimal(v).scaleb(-scale) for v, _ in values]
    pq.write_table(
        pa.table(
            {
                "account_id": [f"u{i}" for i in range(len(values))],
                "asset": [a for _, a in values],
                "amount": pa.array(amounts, pa.decimal128(38, scale)),
            }
        ),
        path,
    )
    table = AssetTable()
    expected = outcome(lambda: oracle(parquet_rows(path), str(path), table))
    assert outcome(lambda: load_customers(path, table)) == expected


def test_quoted_and_blank_line_files_take_the_exact_reader(tmp_path):
    body = 'account_id,asset,amount\na,BTC,1\n\n"b",BTC,2\na,BTC,3\n'
    path = tmp_path / "c.csv"
    path.write_text(body)
    assert not ingest.is_plain_csv(path)
    with pytest.raises(InputError, match=r"c\.csv:5: duplicate row .*first on line 2"):
        load_customers(path)


def test_errors_after_many_batches_name_their_line(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_ROWS", 1000)
    rows = [(f"u{i}", "BTC", "1") for i in range(5000)] + [("u17", "BTC", "2")] + [("z", "BTC", "-1")]
    path = write_plain(tmp_path / "c.csv", rows)
    assert ingest.is_plain_csv(path)
    with pytest.raises(InputError, match=r"c\.csv:5002: duplicate row .*first on line 19"):
        load_customers(path)
    path = write_plain(tmp_path / "d.csv", rows[:4000] + [("u9", "BTC", "1e-8")] + rows[4000:])
    with pytest.raises(InputError, match=r"d\.csv:4002: amount: '1e-8' is not a plain decimal"):
        load_customers(path)


def test_book_is_columnar_and_exact(tmp_path):
    rows = [("a", "ETH", "9" * 20 + ".123456789012345678"), ("b", "BTC", "0.00000001"), ("a", "BTC", "21000000")]
    book = load_customers(write_plain(tmp_path / "c.csv", rows))
    hi, lo = book.limbs()
    assert hi.shape == (2, 2) and book.ids.to_pylist() == ["a", "b"]
    eth = int("9" * 20 + "123456789012345678")
    assert book.columns == [[21000000 * 10**8, 1], [eth, 0]]
    assert book.totals == [21000000 * 10**8 + 1, eth]
    assert book.balances_of(0) == {"BTC": 21000000 * 10**8, "ETH": eth}


def test_a_columnar_book_keeps_its_columns_after_list_views(tmp_path):
    book = load_customers(write_plain(tmp_path / "c.csv", [("a", "BTC", "1"), ("b", "BTC", "2")]))
    assert book.columns == [[100_000_000, 200_000_000]] and len(book) == 2
    assert book.ids.to_pylist() == ["a", "b"] and book.limbs()[1].tolist() == [[100_000_000], [200_000_000]]
    book.columns = [[5, 6]]  # an edited view becomes the truth
    assert book.limbs()[1].tolist() == [[5], [6]] and book.totals == [11]
