"""Customer balances in: the long `account_id,asset,amount` table, validated once.

Everything wrong with the file is reported as `file:line: field: reason` and
nothing downstream runs, so a publication never commits to a mistyped row.
"""

from __future__ import annotations

import codecs
import csv
import unicodedata
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np

from por.amounts import MAX_UNITS, AmountError, Asset, AssetTable, check_asset_symbol, parse_amount
from por.errors import InputError
from por.liabilities.tree import TreeError, ints_to_limbs

HEADER = ["account_id", "asset", "amount"]
MAX_ID_BYTES = 256
MAX_FIELD_CHARS = 4096
MAX_LINE_BYTES = 64 * 1024        # three fields of MAX_FIELD_CHARS in any UTF-8, with room to spare


class Liabilities:
    """Every customer's per-asset balance in base units, accounts in file order.

    Two views of the same book: lists (`account_ids`, `columns[a][i]`) for
    small callers and tests, and columns for millions of accounts (`ids`, an
    Arrow string array; `limbs()`, (hi, lo) uint64 arrays of shape
    (accounts, assets)). Whichever view it was made from is the truth; the
    other is derived on demand, so a book of lists can still be edited.
    """

    def __init__(self, assets: list[Asset], account_ids: list[str], columns: list[list[int]]) -> None:
        self.assets = list(assets)           # sorted by symbol: the order of sums in every node
        self._account_ids: list[str] | None = account_ids
        self._columns: list[list[int]] | None = columns
        self._ids = self._hi = self._lo = None
        self._lists = True                   # which view is the truth

    @classmethod
    def from_arrays(cls, assets: list[Asset], ids, hi: np.ndarray, lo: np.ndarray) -> "Liabilities":
        book = cls.__new__(cls)
        book.assets = list(assets)
        book._account_ids = book._columns = None
        book._ids, book._hi, book._lo = ids, hi, lo
        book._lists = False
        return book

    def __len__(self) -> int:
        return len(self._account_ids) if self._lists else len(self._ids)

    @property
    def account_ids(self) -> list[str]:
        if self._account_ids is None:
            self._account_ids = self._ids.to_pylist()
        return self._account_ids

    @account_ids.setter
    def account_ids(self, value: list[str]) -> None:
        self._to_lists()
        self._account_ids = value

    @property
    def columns(self) -> list[list[int]]:
        """columns[a][i]: account i's balance of assets[a]."""
        if self._columns is None:
            self._columns = [_ints(self._hi[:, a], self._lo[:, a]) for a in range(len(self.assets))]
        return self._columns

    @columns.setter
    def columns(self, value: list[list[int]]) -> None:
        self._to_lists()
        self._columns = value

    def _to_lists(self) -> None:
        if not self._lists:
            _ = self.account_ids, self.columns
            self._ids = self._hi = self._lo = None
            self._lists = True

    @property
    def ids(self):
        """Account ids as an Arrow string array, in account order."""
        if self._lists:
            import pyarrow as pa

            return pa.array(self._account_ids, pa.string())
        return self._ids

    def limbs(self) -> tuple[np.ndarray, np.ndarray]:
        """(hi, lo) uint64 arrays of shape (accounts, assets); refuses what a sum tree cannot hold."""
        if not self._lists:
            return self._hi, self._lo
        count = len(self._account_ids)
        hi = np.zeros((count, len(self.assets)), dtype=np.uint64)
        lo = np.zeros((count, len(self.assets)), dtype=np.uint64)
        for a, column in enumerate(self._columns):
            if len(column) != count or any(type(v) is not int or not 0 <= v <= MAX_UNITS for v in column):
                raise TreeError(f"balances of {self.assets[a].symbol} must be {count} integers 0..2^128-1")
            hi[:, a], lo[:, a] = ints_to_limbs(column)
        return hi, lo

    @property
    def totals(self) -> list[int]:
        if self._lists:
            return [sum(col) for col in self._columns]
        return [_exact_sum(self._hi[:, a], self._lo[:, a]) for a in range(len(self.assets))]

    def balances_of(self, index: int) -> dict[str, int]:
        if self._lists:
            return {asset.symbol: col[index] for asset, col in zip(self.assets, self._columns)}
        return {asset.symbol: (int(self._hi[index, a]) << 64) | int(self._lo[index, a])
                for a, asset in enumerate(self.assets)}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Liabilities):
            return NotImplemented
        return (self.assets, self.account_ids, self.columns) == (other.assets, other.account_ids, other.columns)

    def __repr__(self) -> str:
        return f"Liabilities({len(self)} accounts, assets={[a.symbol for a in self.assets]})"


def _ints(hi: np.ndarray, lo: np.ndarray) -> list[int]:
    if not hi.any():
        return lo.tolist()
    return [(h << 64) | low for h, low in zip(hi.tolist(), lo.tolist())]


def _exact_sum(hi: np.ndarray, lo: np.ndarray) -> int:
    """Sum of 128-bit values from limbs, in 32-bit quarters so no uint64 sum can wrap."""
    quarter = np.uint64(0xFFFFFFFF)
    shift = np.uint64(32)
    parts = (lo & quarter, lo >> shift, hi & quarter, hi >> shift)
    return sum(int(p.sum(dtype=np.uint64)) << (32 * k) for k, p in enumerate(parts))


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


def check_row(account_id: str | None, asset: str | None, amount: str | None, table: AssetTable) -> int:
    """Every rule one row must obey, in the order a reader applies them: the one
    place they are written. Returns the amount in base units or raises the
    InputError the user sees (the caller adds file and line)."""
    if account_id is None or asset is None or amount is None:
        raise InputError("null value")
    try:
        check_account_id(account_id)
        check_asset_symbol(asset)
        return parse_amount(amount.strip(), table.decimals(asset))
    except AmountError as exc:
        field = "asset" if "unknown asset" in exc.reason else "amount"
        raise exc.at(field=exc.field or field) from None


def load_customers(path: str | Path, table: AssetTable | None = None, *,
                   progress: Callable[[int], None] | None = None) -> Liabilities:
    """CSV or Parquet (by extension) -> validated Liabilities. `progress(rows)` as rows are read."""
    from por.liabilities.ingest import read_customers

    return read_customers(Path(path), table or AssetTable(), progress)


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
