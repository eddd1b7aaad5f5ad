"""Customer balances in: the long `account_id,asset,amount` table, validated once.

Everything wrong with the file is reported as `file:line: field: reason` and
nothing downstream runs, so a publication never commits to a mistyped row.
"""

from __future__ import annotations

import codecs
import csv
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from por.amounts import MAX_UNITS, AmountError, Asset, AssetTable, check_asset_symbol, parse_amount
from por.errors import InputError

HEADER = ["account_id", "asset", "amount"]
MAX_ID_BYTES = 256
MAX_FIELD_CHARS = 4096
MAX_LINE_BYTES = 64 * 1024        # three fields of MAX_FIELD_CHARS in any UTF-8, with room to spare


@dataclass
class Liabilities:
    """Every customer's per-asset balance in base units, accounts in file order."""

    assets: list[Asset]              # sorted by symbol: the order of sums in every node
    account_ids: list[str]
    columns: list[list[int]]         # columns[a][i]: account i's balance of assets[a]

    @property
    def totals(self) -> list[int]:
        return [sum(col) for col in self.columns]

    def balances_of(self, index: int) -> dict[str, int]:
        return {asset.symbol: col[index] for asset, col in zip(self.assets, self.columns)}


def check_account_id(account_id: str) -> str:
    """Ids are bytes-exact: no trimming or normalisation, so reject what would be ambiguous."""
    if not account_id:
        raise InputError("empty account id", field="account_id")
    if account_id != account_id.strip():
        raise InputError("account id has leading or trailing whitespace", field="account_id")
    if len(account_id.encode("utf-8")) > MAX_ID_BYTES:
        raise InputError(f"account id longer than {MAX_ID_BYTES} bytes", field="account_id")
    for char in account_id:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise InputError(f"account id contains control or invisible character U+{ord(char):04X}",
                             field="account_id")
    return account_id


def load_customers(path: str | Path, table: AssetTable | None = None) -> Liabilities:
    """CSV or Parquet (by extension) -> validated Liabilities."""
    path = Path(path)
    table = table or AssetTable()
    if path.suffix.lower() in (".parquet", ".pq"):
        rows = _parquet_rows(path)
    else:
        rows = _csv_rows(path)
    return _collect(rows, table, str(path))


def _csv_rows(path: Path) -> Iterator[tuple[int, str, str, str]]:
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    csv.field_size_limit(MAX_FIELD_CHARS)
    with handle:
        reader = csv.reader(_text_lines(handle, str(path)), strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise InputError("empty file: expected header `account_id,asset,amount`", file=str(path), line=1)
            if [h.strip() for h in header] != HEADER:
                raise InputError(f"header must be `account_id,asset,amount`, got `{','.join(header)[:80]}`",
                                 file=str(path), line=1)
            rows = 0
            for row in reader:
                if not row:
                    continue
                if len(row) != 3:
                    raise InputError(f"expected 3 fields, got {len(row)}", file=str(path), line=reader.line_num)
                rows += 1
                yield reader.line_num, row[0], row[1], row[2]
            if not rows:
                raise InputError("no customer rows after the header", file=str(path), line=reader.line_num + 1)
        except csv.Error as exc:
            raise InputError(f"malformed CSV: {exc}", file=str(path), line=reader.line_num) from None


def _text_lines(handle: BinaryIO, source: str) -> Iterator[str]:
    """Physical lines as text, decoded one by one so a bad byte names its own line,
    and bounded so a line of hundreds of megabytes is refused without being read."""
    number = 0
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise InputError(f"line longer than {MAX_LINE_BYTES} bytes", file=source, line=number)
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {exc.start + 1} of the line)", file=source, line=number) from None


def _parquet_rows(path: Path) -> Iterator[tuple[int, str, str, str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read Parquet: {exc}", file=str(path)) from None
    names = parquet.schema_arrow.names
    missing = [c for c in HEADER if c not in names]
    if missing:
        raise InputError(f"Parquet file lacks column(s) {', '.join(missing)}", file=str(path))
    for column in HEADER:
        kind = parquet.schema_arrow.field(column).type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or (column == "amount" and pa.types.is_decimal(kind))):
            raise InputError(f"column must hold strings (or decimals for amount), not {kind}",
                             file=str(path), field=column)
    row_number = 0
    batches = parquet.iter_batches(columns=HEADER, batch_size=65536)
    while True:
        try:
            batch = next(batches, None)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"cannot read Parquet: {exc}", file=str(path), line=row_number + 1) from None
        if batch is None:
            break
        ids, assets, amounts = (batch.column(i).to_pylist() for i in range(3))
        for account_id, asset, amount in zip(ids, assets, amounts):
            row_number += 1
            if account_id is None or asset is None or amount is None:
                raise InputError("null value", file=str(path), line=row_number)
            yield row_number, account_id, asset, amount if isinstance(amount, str) else format(amount, "f")


def _collect(rows: Iterable[tuple[int, str, str, str]], table: AssetTable, source: str) -> Liabilities:
    index: dict[str, int] = {}
    balances: list[dict[str, int]] = []
    seen_line: dict[tuple[int, str], int] = {}
    decimals_cache: dict[str, int] = {}
    totals: dict[str, int] = {}
    for line, account_id, asset, amount in rows:
        try:
            check_account_id(account_id)
            if asset not in decimals_cache:
                check_asset_symbol(asset)
                decimals_cache[asset] = table.decimals(asset)
            units = parse_amount(amount.strip(), decimals_cache[asset])
        except AmountError as exc:
            field = "asset" if "unknown asset" in exc.reason else "amount"
            raise exc.at(file=source, line=line, field=exc.field or field) from None
        except InputError as exc:
            raise exc.at(file=source, line=line) from None
        slot = index.get(account_id)
        if slot is None:
            slot = index[account_id] = len(balances)
            balances.append({})
        if asset in balances[slot]:
            first = seen_line.get((slot, asset), "?")
            raise InputError(f"duplicate row for account and asset {asset} (first on line {first})",
                             file=source, line=line)
        seen_line[(slot, asset)] = line
        balances[slot][asset] = units
        running = totals.get(asset, 0) + units
        if running > MAX_UNITS:
            raise InputError(f"total of {asset} exceeds 2^128-1 base units here", file=source, line=line,
                             field="amount")
        totals[asset] = running
    if not balances:
        raise InputError("no customer rows", file=source, line=1)
    symbols = sorted(decimals_cache)
    assets = [Asset(s, decimals_cache[s]) for s in symbols]
    columns = [[b.get(s, 0) for b in balances] for s in symbols]
    return Liabilities(assets=assets, account_ids=list(index), columns=columns)
